//! RELU / RELU6 / RELU_N1_TO_1 prepare (TFLM `activations_common.cc`).

use super::{Activation, Quant, Result, check_scale, check_zero_point, err, quantize_multiplier};
use crate::relu::ReluParams;

/// Prepares a standalone ReLU-family op on `len` int8 elements.
///
/// - `Relu` (`CalculateReluOpData`): multiplier from
///   `(double)(s_in / s_out)` (**float** division), `act_min = max(-128,
///   out_zp + (int)roundf(0 / s_out))`, `act_max = 127`.
/// - `Relu6` (`Relu6Prepare`): no requantization; clamp to
///   `[in_zp, clamp_int8(round(6 / s_in) + in_zp)]` in the input scale.
/// - `ReluN1To1`: TFLM micro has no kernel for it; this gives TFLite's
///   `ReluX` form (requantize as RELU, clamp to the output-quantized
///   `[-1, 1]`).
pub fn relu(act: Activation, len: usize, input: Quant, output: Quant) -> Result<ReluParams> {
    check_scale(input.scale, "input")?;
    check_zero_point(input.zero_point, "input")?;
    match act {
        Activation::None => err("RELU needs an activation kind"),
        Activation::Relu | Activation::ReluN1To1 => {
            check_scale(output.scale, "output")?;
            check_zero_point(output.zero_point, "output")?;
            let (multiplier, shift) = quantize_multiplier((input.scale / output.scale) as f64);
            let bound = |f: f32| output.zero_point + ((f / output.scale) as f64).round() as i32;
            let (act_min, act_max) = if act == Activation::Relu {
                ((-128).max(bound(0.0)), 127)
            } else {
                ((-128).max(bound(-1.0)), 127.min(bound(1.0)))
            };
            Ok(ReluParams {
                len,
                requantize: true,
                in_zp: input.zero_point,
                out_zp: output.zero_point,
                multiplier,
                shift,
                act_min,
                act_max,
            })
        }
        Activation::Relu6 => {
            // FloatToQuantizedType<int8_t>(6.0f, s_in, zp): round(6.0f / s) + zp, clamped.
            let six = ((6.0f32 / input.scale) as f64).round() + input.zero_point as f64;
            let six = six.clamp(-128.0, 127.0) as i32;
            Ok(ReluParams {
                len,
                requantize: false,
                in_zp: input.zero_point,
                out_zp: input.zero_point,
                multiplier: 0,
                shift: 0,
                act_min: input.zero_point,
                act_max: six,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_requantizes_relu6_clamps() {
        let p = relu(
            Activation::Relu,
            10,
            Quant::new(0.1, -5),
            Quant::new(0.05, -128),
        )
        .unwrap();
        assert!(p.requantize);
        assert_eq!(
            (p.multiplier, p.shift),
            quantize_multiplier((0.1f32 / 0.05f32) as f64)
        );
        assert_eq!((p.act_min, p.act_max), (-128, 127));
        let p = relu(
            Activation::Relu6,
            10,
            Quant::new(0.05, -10),
            Quant::new(0.05, -10),
        )
        .unwrap();
        assert!(!p.requantize);
        assert_eq!((p.act_min, p.act_max), (-10, 110));
        let p = relu(
            Activation::ReluN1To1,
            10,
            Quant::new(0.02, 0),
            Quant::new(0.01, 3),
        )
        .unwrap();
        assert_eq!((p.act_min, p.act_max), (-97, 103));
        assert!(relu(Activation::None, 1, Quant::new(1.0, 0), Quant::new(1.0, 0)).is_err());
    }
}
