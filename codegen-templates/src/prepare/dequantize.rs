//! DEQUANTIZE prepare (TFLM `dequantize_common.cc`).

use super::{Quant, Result, check_scale, check_zero_point};
use crate::dequantize::DequantizeParams;

/// int8 -> float32 with the input's per-tensor quantization.
pub fn dequantize(len: usize, input: Quant) -> Result<DequantizeParams> {
    check_scale(input.scale, "input")?;
    check_zero_point(input.zero_point, "input")?;
    Ok(DequantizeParams {
        len,
        scale: input.scale,
        zero_point: input.zero_point,
    })
}
