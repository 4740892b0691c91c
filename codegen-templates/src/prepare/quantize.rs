//! QUANTIZE prepare (TFLM `quantize_common.cc` `PrepareQuantizeReference`).

use super::{Quant, Result, check_scale, check_zero_point, quantize_multiplier};
use crate::quantize::{QuantizeParams, RequantizeParams};

/// float32 -> int8 with the output's per-tensor quantization.
pub fn quantize(len: usize, output: Quant) -> Result<QuantizeParams> {
    check_scale(output.scale, "output")?;
    check_zero_point(output.zero_point, "output")?;
    Ok(QuantizeParams {
        len,
        scale: output.scale,
        zero_point: output.zero_point,
    })
}

/// int8 -> int8: `QuantizeMultiplier((double)s_in / (double)s_out)`.
pub fn requantize(len: usize, input: Quant, output: Quant) -> Result<RequantizeParams> {
    check_scale(input.scale, "input")?;
    check_scale(output.scale, "output")?;
    check_zero_point(input.zero_point, "input")?;
    check_zero_point(output.zero_point, "output")?;
    let (multiplier, shift) = quantize_multiplier(input.scale as f64 / output.scale as f64);
    Ok(RequantizeParams {
        len,
        in_zp: input.zero_point,
        out_zp: output.zero_point,
        multiplier,
        shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantize_multiplier() {
        let p = requantize(5, Quant::new(0.2, 1), Quant::new(0.1, -2)).unwrap();
        assert_eq!((p.multiplier, p.shift), (1 << 30, 2));
        assert_eq!(quantize(5, Quant::new(0.1, 3)).unwrap().scale, 0.1);
        assert!(quantize(5, Quant::new(0.0, 3)).is_err());
    }
}
