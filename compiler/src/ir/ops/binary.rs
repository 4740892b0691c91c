//! Elementwise ADD and MUL of two int8 (or, before quantization, float32) tensors, with numpy-style broadcasting
//! of either operand.

use super::{Activation, InPlace, OpDef, expect_float_or_int8};
use crate::ir::{DType, Fact, Value};

/// Broadcast shape of two shapes (right-aligned, dims equal or 1).
pub(crate) fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    Ok(out)
}

fn infer_binary(inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
    let [a, b] = inputs else {
        return Err(format!("takes 2 inputs, got {}", inputs.len()));
    };
    if a.dtype != b.dtype {
        return Err(format!("input dtypes differ: {} and {}", a.dtype, b.dtype));
    }
    Ok(vec![(broadcast(&a.shape, &b.shape)?, a.dtype)])
}

/// The output may overwrite an int8 operand that is not broadcast (it has
/// the output's element count, so element `i` of both sit at byte `i`).
fn in_place_binary(inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
    let [y] = outputs else { return Vec::new() };
    if inputs.len() != 2 || y.dtype != DType::Int8 {
        return Vec::new();
    }
    (0..2)
        .filter(|&k| inputs[k].dtype == DType::Int8 && inputs[k].elements() == y.elements())
        .map(InPlace::elementwise)
        .collect()
}

fn check_binary(inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
    let mut e = Vec::new();
    expect_float_or_int8(inputs, outputs, &mut e);
    e
}

#[derive(Clone, Debug, PartialEq)]
pub struct Add {
    pub act: Activation,
}

impl OpDef for Add {
    fn name(&self) -> &'static str {
        "ADD"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        infer_binary(inputs)
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        check_binary(inputs, outputs)
    }
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        in_place_binary(inputs, outputs)
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        self.act.suffix().trim_start().to_string()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mul {
    pub act: Activation,
}

impl OpDef for Mul {
    fn name(&self) -> &'static str {
        "MUL"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        infer_binary(inputs)
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        check_binary(inputs, outputs)
    }
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        in_place_binary(inputs, outputs)
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        self.act.suffix().trim_start().to_string()
    }
}
