//! RESHAPE / SQUEEZE / FLATTEN: the same bytes under a new shape.

use super::OpDef;
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Reshape {
    pub shape: Vec<usize>,
}

impl OpDef for Reshape {
    fn name(&self) -> &'static str {
        "RESHAPE"
    }

    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 data input, got {}", inputs.len()));
        };
        let n: usize = self.shape.iter().product();
        if n != x.elements() {
            return Err(format!(
                "cannot reshape {:?} ({} elements) to {:?} ({n} elements)",
                x.shape,
                x.elements(),
                self.shape
            ));
        }
        Ok(vec![(self.shape.clone(), x.dtype)])
    }

    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        match (inputs.first(), outputs.first()) {
            (Some(i), Some(o)) if i.fact.quant != o.fact.quant => {
                vec!["input and output quantization must be equal".into()]
            }
            _ => Vec::new(),
        }
    }

    fn is_alias(&self) -> bool {
        true
    }
}
