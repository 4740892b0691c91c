//! Activations: the fused-activation attribute shared by many ops, and the
//! standalone elementwise activation operators (RELU/RELU6, LOGISTIC, TANH).

use super::{InPlace, OpDef, expect_float, expect_float_or_int8};
use crate::ir::{DType, Fact, Value};

/// A clamp fused into the producing op (TFLite `fused_activation_function`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    None,
    Relu,
    Relu6,
    ReluN1To1,
}

impl Activation {
    pub fn suffix(self) -> &'static str {
        match self {
            Activation::None => "",
            Activation::Relu => " relu",
            Activation::Relu6 => " relu6",
            Activation::ReluN1To1 => " relu_n1_to_1",
        }
    }

    /// The real-valued clamp interval of this activation.
    pub fn range(self) -> (Option<f32>, Option<f32>) {
        match self {
            Activation::None => (None, None),
            Activation::Relu => (Some(0.0), None),
            Activation::Relu6 => (Some(0.0), Some(6.0)),
            Activation::ReluN1To1 => (Some(-1.0), Some(1.0)),
        }
    }
}

fn same_shape(inputs: &[&Fact], name: &str) -> Result<Vec<(Vec<usize>, DType)>, String> {
    match inputs {
        [x] => Ok(vec![(x.shape.clone(), x.dtype)]),
        _ => Err(format!("{name} takes 1 input, got {}", inputs.len())),
    }
}

/// An int8 -> int8 elementwise op may write its output over its input.
pub(super) fn int8_elementwise_in_place(inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
    match (inputs, outputs) {
        ([x], [y])
            if x.dtype == DType::Int8 && y.dtype == DType::Int8 && x.elements() == y.elements() =>
        {
            vec![InPlace::elementwise(0)]
        }
        _ => Vec::new(),
    }
}

/// int8 (per-tensor) in and out, or float32 in and out before quantization.
fn int8_io(inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
    let mut e = Vec::new();
    expect_float_or_int8(inputs, outputs, &mut e);
    e
}

/// RELU / RELU6 / RELU_N1_TO_1 as a standalone op (requantizes, as TFLite's
/// int8 kernels do when input and output scales differ).
#[derive(Clone, Debug, PartialEq)]
pub struct Relu {
    pub act: Activation,
}

impl OpDef for Relu {
    fn name(&self) -> &'static str {
        match self.act {
            Activation::Relu6 => "RELU6",
            Activation::ReluN1To1 => "RELU_N1_TO_1",
            _ => "RELU",
        }
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        same_shape(inputs, self.name())
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = int8_io(inputs, outputs);
        if self.act == Activation::None {
            e.push("RELU without an activation kind".into());
        }
        e
    }
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        int8_elementwise_in_place(inputs, outputs)
    }
}

/// LOGISTIC (sigmoid). int8 output must use scale 1/256, zero point -128.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic;

impl OpDef for Logistic {
    fn name(&self) -> &'static str {
        "LOGISTIC"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        same_shape(inputs, self.name())
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        int8_io(inputs, outputs)
    }
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        int8_elementwise_in_place(inputs, outputs)
    }
}

/// TANH. int8 output must use scale 1/128, zero point 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Tanh;

impl OpDef for Tanh {
    fn name(&self) -> &'static str {
        "TANH"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        same_shape(inputs, self.name())
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        int8_io(inputs, outputs)
    }
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        int8_elementwise_in_place(inputs, outputs)
    }
}

/// LEAKY_RELU: `x >= 0 ? x : alpha * x`. Float only: mcuc has no int8
/// kernel for it, so a quantized graph cannot contain it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakyRelu {
    pub alpha: f32,
}

impl OpDef for LeakyRelu {
    fn name(&self) -> &'static str {
        "LEAKY_RELU"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        same_shape(inputs, self.name())
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        for v in inputs {
            expect_float(v, "input", &mut e);
        }
        for v in outputs {
            expect_float(v, "output", &mut e);
        }
        if !self.alpha.is_finite() {
            e.push(format!("alpha {} is not finite", self.alpha));
        }
        e
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        format!("alpha={}", self.alpha)
    }
}
