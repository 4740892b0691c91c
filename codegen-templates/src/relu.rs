//! Standalone RELU / RELU6 / RELU_N1_TO_1 on int8 (TFLM micro
//! `activations.cc`).
//!
//! The two TFLM kernels differ:
//! - **RELU** (`ReluQuantized`) requantizes:
//!   `out = clamp(MultiplyByQuantizedMultiplier(x - in_zp, multiplier, shift) + out_zp,
//!   act_min, act_max)` with `multiplier/shift = QuantizeMultiplier(s_in / s_out)`
//!   (the division in `float`), `act_min = max(-128, out_zp)`, `act_max = 127`.
//! - **RELU6** (`Relu6Quantized`) does not requantize: it clamps the raw
//!   input to `[in_zp, quantize(6.0)]` in the *input* quantization. The
//!   output values are therefore only meaningful if the output tensor has
//!   the input's scale and zero point.
//! - **RELU_N1_TO_1** has no TFLM micro kernel; [`crate::prepare::relu`]
//!   gives it RELU's requantizing form with the `[-1, 1]` clamp quantized in
//!   the output scale (TFLite's `ReluX` semantics).
//!
//! Contract: `requantize` selects the first form; otherwise
//! `out = clamp(x, act_min, act_max)`.

/// Parameters of [`relu`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct ReluParams {
    /// Number of elements.
    pub len: usize,
    pub requantize: bool,
    pub in_zp: i32,
    pub out_zp: i32,
    pub multiplier: i32,
    pub shift: i32,
    pub act_min: i32,
    pub act_max: i32,
}

/// One output element from input element `x`. [`relu`] and
/// [`relu_in_place`] share it; the code generator inlines it.
#[inline(always)]
fn relu_element(p: &ReluParams, x: i8) -> i8 {
    let v = if p.requantize {
        mcuc_runtime::fixed::multiply_by_quantized_multiplier(
            (x as i32).wrapping_sub(p.in_zp),
            p.multiplier,
            p.shift,
        )
        .wrapping_add(p.out_zp)
    } else {
        x as i32
    };
    v.max(p.act_min).min(p.act_max) as i8
}

/// Int8 ReLU-family activation.
pub fn relu(p: &ReluParams, input: &[i8], output: &mut [i8]) {
    for i in 0..p.len {
        output[i] = relu_element(p, input[i]);
    }
}

/// [`relu`] over `data` in place (element `i` is read, then written).
pub fn relu_in_place(p: &ReluParams, data: &mut [i8]) {
    for x in data[..p.len].iter_mut() {
        *x = relu_element(p, *x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_requantizes_then_clamps_at_output_zero_point() {
        // s_in / s_out = 0.5 -> (2^30, 0); zero points -10 -> 5.
        let p = ReluParams {
            len: 5,
            requantize: true,
            in_zp: -10,
            out_zp: 5,
            multiplier: 1 << 30,
            shift: 0,
            act_min: 5,
            act_max: 127,
        };
        let mut out = [0i8; 5];
        relu(&p, &[-10, -11, 0, 127, -128], &mut out);
        // (0)*.5+5 = 5; (-1)*.5 = -0.5 -> 0 (+5) ; 10*.5 = 5 -> 10; 137*.5 = 68.5 -> 69 -> 74; clamp
        assert_eq!(out, [5, 5, 10, 74, 5]);
    }

    #[test]
    fn relu6_clamps_raw_values() {
        let p = ReluParams {
            len: 4,
            requantize: false,
            in_zp: 0,
            out_zp: 0,
            multiplier: 0,
            shift: 0,
            act_min: -3,
            act_max: 57,
        };
        let mut out = [0i8; 4];
        relu(&p, &[-128, -3, 20, 100], &mut out);
        assert_eq!(out, [-3, -3, 20, 57]);
    }

    #[test]
    fn in_place_matches_out_of_place() {
        let input: Vec<i8> = (-128..=127).collect();
        for requantize in [false, true] {
            let p = ReluParams {
                len: input.len(),
                requantize,
                in_zp: -7,
                out_zp: 3,
                multiplier: 1_518_500_250,
                shift: -1,
                act_min: 3,
                act_max: 120,
            };
            let mut expected = vec![0i8; input.len()];
            relu(&p, &input, &mut expected);
            let mut data = input.clone();
            relu_in_place(&p, &mut data);
            assert_eq!(data, expected);
        }
    }
}
