//! QUANTIZE (float32 -> int8, or int8 -> int8 requantization) and
//! DEQUANTIZE (int8 -> float32; int32 -> float32 for QDQ biases).

use super::activation::int8_elementwise_in_place;
use super::{InPlace, OpDef};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Quantize;

impl OpDef for Quantize {
    fn name(&self) -> &'static str {
        "QUANTIZE"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 input, got {}", inputs.len()));
        };
        Ok(vec![(x.shape.clone(), DType::Int8)])
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        if let (Some(i), Some(o)) = (inputs.first(), outputs.first()) {
            if !matches!(i.fact.dtype, DType::Float32 | DType::Int8) {
                e.push(format!(
                    "input must be float32 or int8, is {}",
                    i.fact.dtype
                ));
            }
            if i.fact.dtype == DType::Int8 && i.fact.quant.is_none() {
                e.push("int8 input has no quantization".into());
            }
            if !o.fact.quant.as_ref().is_some_and(|q| q.is_per_tensor()) {
                e.push("output must be quantized per tensor".into());
            }
        }
        e
    }
    /// int8 -> int8 requantization runs in place.
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        int8_elementwise_in_place(inputs, outputs)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dequantize;

impl OpDef for Dequantize {
    fn name(&self) -> &'static str {
        "DEQUANTIZE"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 input, got {}", inputs.len()));
        };
        Ok(vec![(x.shape.clone(), DType::Float32)])
    }
    fn check(&self, inputs: &[&Value], _outputs: &[&Value]) -> Vec<String> {
        match inputs.first() {
            // int32 inputs are biases of QDQ graphs (`DequantizeLinear` of
            // an int32 initializer), folded into their op by `fuse_qdq`.
            Some(i)
                if !matches!(i.fact.dtype, DType::Int8 | DType::Int32)
                    || i.fact.quant.is_none() =>
            {
                vec![format!(
                    "input must be quantized int8 (or int32), is {}",
                    i.fact.dtype
                )]
            }
            _ => Vec::new(),
        }
    }
}
