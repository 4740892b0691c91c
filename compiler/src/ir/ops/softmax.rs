//! SOFTMAX over the last axis, int8 in and out.

use super::{OpDef, expect_float_or_int8};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Softmax {
    pub beta: f32,
}

impl OpDef for Softmax {
    fn name(&self) -> &'static str {
        "SOFTMAX"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 input, got {}", inputs.len()));
        };
        if x.rank() == 0 {
            return Err("input must have at least one dimension".into());
        }
        Ok(vec![(x.shape.clone(), x.dtype)])
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        expect_float_or_int8(inputs, outputs, &mut e);
        e
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        if self.beta == 1.0 {
            String::new()
        } else {
            format!("beta={}", self.beta)
        }
    }
}
