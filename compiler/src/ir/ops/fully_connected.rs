//! FULLY_CONNECTED: `[.., K] x [N, K]^T + bias -> [.., N]` (batch 1: input
//! is flattened to `[rows, K]` where `rows = elements / K`).

use super::conv2d::conv_like_check;
use super::{Activation, OpDef};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct FullyConnected {
    pub act: Activation,
    pub keep_num_dims: bool,
}

impl OpDef for FullyConnected {
    fn name(&self) -> &'static str {
        "FULLY_CONNECTED"
    }

    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let (x, w) = match inputs {
            [x, w] | [x, w, _] => (x, w),
            _ => return Err(format!("takes 2 or 3 inputs, got {}", inputs.len())),
        };
        let [n, k] = w.shape[..] else {
            return Err(format!("weights must be [N, K], got {:?}", w.shape));
        };
        let elements = x.elements();
        if k == 0 || elements % k != 0 {
            return Err(format!(
                "input of {elements} elements is not a multiple of K={k}"
            ));
        }
        if let Some(b) = inputs.get(2)
            && b.shape != [n]
        {
            return Err(format!("bias shape {:?}, expected [{n}]", b.shape));
        }
        let shape = if self.keep_num_dims {
            let mut s = x.shape.clone();
            if let Some(last) = s.last_mut() {
                *last = n;
            }
            s
        } else {
            vec![elements / k, n]
        };
        Ok(vec![(shape, x.dtype)])
    }

    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        conv_like_check(inputs, outputs, 0)
    }

    fn macs(&self, inputs: &[&Fact], outputs: &[&Fact]) -> u64 {
        (outputs[0].elements() * inputs[1].shape[1]) as u64
    }

    fn summary(&self, inputs: &[&Fact]) -> String {
        let w = &inputs[1].shape;
        format!("{}->{}{}", w[1], w[0], self.act.suffix())
    }
}
