//! CLIP to `[min, max]` (float only). Clamps that TFLite can fuse (0..6,
//! 0..inf, -1..1) are imported as RELU/RELU6/RELU_N1_TO_1 instead; this op
//! holds any other interval, which mcuc runs on the host float path but has
//! no int8 kernel for.

use super::{OpDef, expect_float};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    pub min: f32,
    pub max: f32,
}

impl OpDef for Clip {
    fn name(&self) -> &'static str {
        "CLIP"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        match inputs {
            [x] => Ok(vec![(x.shape.clone(), x.dtype)]),
            _ => Err(format!("takes 1 input, got {}", inputs.len())),
        }
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        for v in inputs {
            expect_float(v, "input", &mut e);
        }
        for v in outputs {
            expect_float(v, "output", &mut e);
        }
        if self.min.is_nan() || self.max.is_nan() {
            e.push("min and max must not be NaN".into());
        }
        e
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        format!("min={} max={}", self.min, self.max)
    }
}
