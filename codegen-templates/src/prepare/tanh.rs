//! TANH prepare (TFLM `tanh.cc` `CalculateArithmeticOpData`, int8 branch).

use super::logistic::q4_input_scaling;
use super::{Quant, Result, check_zero_point};
use crate::tanh::TanhParams;

/// Prepares TANH on `len` int8 elements: same input scaling as LOGISTIC.
/// TFLM checks nothing about the output; the kernel writes `128 * tanh(x)`
/// with zero point 0, so only an output quantized `(1/128, 0)` means what
/// the model says.
pub fn tanh(len: usize, input: Quant, _output: Quant) -> Result<TanhParams> {
    check_zero_point(input.zero_point, "input")?;
    let (input_multiplier, input_left_shift, input_range_radius) = q4_input_scaling(input.scale)?;
    Ok(TanhParams {
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
    fn same_scaling_as_logistic() {
        let p = tanh(3, Quant::new(1.0 / 32.0, 0), Quant::new(1.0 / 128.0, 0)).unwrap();
        // 2^22 = 0.5 * 2^23; radius floor(15 * 2^27 / 2^23) = 240
        assert_eq!(
            (p.input_multiplier, p.input_left_shift, p.input_range_radius),
            (1 << 30, 23, 240)
        );
    }
}
