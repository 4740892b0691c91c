//! CONCATENATION along one axis.

use super::{Activation, OpDef};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Concat {
    pub axis: usize,
    pub act: Activation,
}

impl OpDef for Concat {
    fn name(&self) -> &'static str {
        "CONCATENATION"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let Some(first) = inputs.first() else {
            return Err("takes at least 1 input".into());
        };
        if self.axis >= first.rank() {
            return Err(format!(
                "axis {} out of range for rank {}",
                self.axis,
                first.rank()
            ));
        }
        let mut shape = first.shape.clone();
        shape[self.axis] = 0;
        for x in inputs {
            if x.rank() != shape.len() || x.dtype != first.dtype {
                return Err("inputs differ in rank or dtype".into());
            }
            for (i, (&d, &s)) in x.shape.iter().zip(&first.shape).enumerate() {
                if i != self.axis && d != s {
                    return Err(format!(
                        "inputs differ on axis {i}: {:?} vs {:?}",
                        x.shape, first.shape
                    ));
                }
            }
            shape[self.axis] += x.shape[self.axis];
        }
        Ok(vec![(shape, first.dtype)])
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        if self.act != Activation::None {
            e.push("fused activation on CONCATENATION is not supported".into());
        }
        if let Some(o) = outputs.first() {
            for i in inputs {
                if i.fact.dtype == DType::Int8 && i.fact.quant.is_none() {
                    e.push(format!("input `{}` has no quantization", i.name));
                }
            }
            if o.fact.dtype == DType::Int8 && o.fact.quant.is_none() {
                e.push("output has no quantization".into());
            }
        }
        e
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        format!("axis={}", self.axis)
    }
}
