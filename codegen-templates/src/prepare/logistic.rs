//! LOGISTIC prepare (TFLM `logistic_common.cc`
//! `CalculateArithmeticOpDataLogistic`, int8 branch).

use super::{Quant, Result, calculate_input_radius, check_scale, check_zero_point, err, frexp};
use crate::logistic::LogisticParams;

/// `frexp((double)s_in * 2^27)` with the mantissa rounded to Q31 (no
/// renormalization or flush, unlike `QuantizeMultiplier`), and the input
/// radius `CalculateInputRadius(4, shift, 31)`. Shared with TANH.
pub(crate) fn q4_input_scaling(input_scale: f32) -> Result<(i32, i32, i32)> {
    check_scale(input_scale, "input")?;
    let real = input_scale as f64 * (1i64 << (31 - 4)) as f64;
    let (q, shift) = frexp(real);
    // static_cast<int32_t>(double) of a mantissa rounding to 2^31 wraps to
    // INT32_MIN on the x86 reference host; keep that behaviour.
    let multiplier = (q * (1u64 << 31) as f64).round() as i64 as i32;
    let radius = calculate_input_radius(4, shift, 31);
    Ok((multiplier, shift, radius))
}

/// Prepares LOGISTIC on `len` int8 elements. TFLM requires output zero point
/// -128; it does not check the output scale, but the kernel's output is in
/// units of `1/256` regardless.
pub fn logistic(len: usize, input: Quant, output: Quant) -> Result<LogisticParams> {
    check_zero_point(input.zero_point, "input")?;
    if output.zero_point != -128 {
        return err(format!(
            "LOGISTIC int8 output zero point must be -128, is {}",
            output.zero_point
        ));
    }
    let (input_multiplier, input_left_shift, input_range_radius) = q4_input_scaling(input.scale)?;
    Ok(LogisticParams {
        len,
        in_zp: input.zero_point,
        input_range_radius,
        input_multiplier,
        input_left_shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_uses_raw_frexp() {
        // s = 1/16: 2^23 = 0.5 * 2^24.
        let p = logistic(4, Quant::new(1.0 / 16.0, 3), Quant::new(1.0 / 256.0, -128)).unwrap();
        assert_eq!(
            (p.input_multiplier, p.input_left_shift, p.input_range_radius),
            (1 << 30, 24, 120)
        );
        // op_logistic: s = 0.0470559
        let s = 0.047_055_9_f32;
        let (q, e) = frexp(s as f64 * 134_217_728.0);
        let p = logistic(4, Quant::new(s, -1), Quant::new(1.0 / 256.0, -128)).unwrap();
        assert_eq!(p.input_multiplier as i64, (q * 2147483648.0).round() as i64);
        assert_eq!(p.input_left_shift, e);
        assert_eq!(
            p.input_range_radius,
            (15.0 * 134_217_728.0 / 2f64.powi(e)).floor() as i32
        );
        assert!(logistic(4, Quant::new(s, 0), Quant::new(1.0 / 256.0, 0)).is_err());
    }
}
