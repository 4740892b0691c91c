//! BATCH_NORM in inference form: `y = x * mul[c] + add[c]` over the last
//! axis (the channels of an NHWC tensor). Float only: the ONNX importer
//! computes `mul = scale / sqrt(var + eps)` and `add = bias - mean * mul`,
//! and `fold_batchnorm` folds it into the preceding convolution or turns
//! it into a 1x1 depthwise convolution before quantization.

use super::{OpDef, expect_float};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm;

impl OpDef for BatchNorm {
    fn name(&self) -> &'static str {
        "BATCH_NORM"
    }

    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x, m, a] = inputs else {
            return Err(format!(
                "takes 3 inputs (x, mul, add), got {}",
                inputs.len()
            ));
        };
        let Some(&c) = x.shape.last() else {
            return Err("input must have at least one dimension".into());
        };
        if m.shape != [c] || a.shape != [c] {
            return Err(format!(
                "mul {:?} and add {:?} must be [{c}] (the last axis of {:?})",
                m.shape, a.shape, x.shape
            ));
        }
        Ok(vec![(x.shape.clone(), x.dtype)])
    }

    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        for (v, role) in inputs.iter().zip(["input", "mul", "add"]) {
            expect_float(v, role, &mut e);
        }
        for v in inputs.iter().skip(1) {
            if !v.is_const() {
                e.push(format!("`{}` must be constant", v.name));
            }
        }
        for v in outputs {
            expect_float(v, "output", &mut e);
        }
        e
    }
}
