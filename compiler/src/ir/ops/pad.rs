//! PAD with the zero point (the quantized 0.0), any rank.

use super::OpDef;
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Pad {
    /// `[before, after]` per input dimension.
    pub pads: Vec<[usize; 2]>,
}

impl OpDef for Pad {
    fn name(&self) -> &'static str {
        "PAD"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 data input, got {}", inputs.len()));
        };
        if self.pads.len() != x.rank() {
            return Err(format!(
                "{} padding pairs for a rank-{} input",
                self.pads.len(),
                x.rank()
            ));
        }
        let shape = x
            .shape
            .iter()
            .zip(&self.pads)
            .map(|(d, [a, b])| d + a + b)
            .collect();
        Ok(vec![(shape, x.dtype)])
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        match (inputs.first(), outputs.first()) {
            (Some(i), Some(o)) if i.fact.quant != o.fact.quant => {
                vec!["input and output quantization must be equal".into()]
            }
            _ => Vec::new(),
        }
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        let p: Vec<String> = self.pads.iter().map(|[a, b]| format!("{a}/{b}")).collect();
        format!("pads={}", p.join(","))
    }
}
