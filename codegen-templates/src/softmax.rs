//! SOFTMAX over the last axis, int8 in, int8 out (TFLM
//! `reference_ops::Softmax<int8_t, int8_t>`, gemmlowp fixed point).
//!
//! TFLM requires the output to be quantized with scale exactly `1/256` and
//! zero point `-128`. Contract, per row of `depth` values:
//!
//! ```text
//! max = max of the row
//! for each x with diff = x - max >= diff_min:
//!     d = MultiplyByQuantizedMultiplierGreaterThanOne(diff, input_multiplier, input_left_shift)
//!     e = exp_on_negative_values(d as Q5.26)               (Q0.31)
//!     sum += Rescale<12>(e)                                 (Q12.19, wrapping)
//! (recip, bits) = GetReciprocal(sum, 12)
//! out = diff >= diff_min
//!     ? clamp(RoundingDivideByPOT(SRDHM(recip, e), bits + 23) - 128, -128, 127)
//!     : -128
//! ```
//!
//! `input_multiplier`/`input_left_shift` encode `beta * s_in * 2^26`
//! (`PreprocessSoftmaxScaling`), `diff_min = -CalculateInputRadius(5,
//! input_left_shift)`. Params come from [`crate::prepare::softmax`].

/// Parameters of [`softmax`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct SoftmaxParams {
    /// Number of rows (product of all but the last dimension).
    pub outer: usize,
    /// Length of the last dimension.
    pub depth: usize,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

/// Int8 softmax along the innermost axis.
pub fn softmax(p: &SoftmaxParams, input: &[i8], output: &mut [i8]) {
    for r in 0..p.outer {
        let row = &input[r * p.depth..][..p.depth];
        let out = &mut output[r * p.depth..][..p.depth];
        let mut max = i8::MIN;
        for &x in row {
            max = max.max(x);
        }
        let mut sum_of_exps: i32 = 0;
        for &x in row {
            let diff = x as i32 - max as i32;
            if diff >= p.diff_min {
                let scaled = mcuc_runtime::fixed::multiply_by_quantized_multiplier_greater_than_one(
                    diff,
                    p.input_multiplier,
                    p.input_left_shift,
                );
                let e = mcuc_runtime::fixed::exp_on_negative_values::<5>(scaled);
                sum_of_exps = sum_of_exps.wrapping_add(mcuc_runtime::fixed::rescale::<0, 12>(e));
            }
        }
        let (shifted_scale, num_bits_over_unit) =
            mcuc_runtime::fixed::get_reciprocal(sum_of_exps, 12);
        let exponent = num_bits_over_unit + 31 - 8;
        for c in 0..p.depth {
            let diff = row[c] as i32 - max as i32;
            out[c] = if diff >= p.diff_min {
                let scaled = mcuc_runtime::fixed::multiply_by_quantized_multiplier_greater_than_one(
                    diff,
                    p.input_multiplier,
                    p.input_left_shift,
                );
                let e = mcuc_runtime::fixed::exp_on_negative_values::<5>(scaled);
                let unsat = mcuc_runtime::fixed::rounding_divide_by_pot(
                    mcuc_runtime::fixed::saturating_rounding_doubling_high_mul(shifted_scale, e),
                    exponent,
                );
                unsat.wrapping_sub(128).clamp(-128, 127) as i8
            } else {
                i8::MIN
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// beta = 1, input scale 1/16: beta*s*2^26 = 2^22 = 0.5 * 2^23, so the
    /// multiplier is 2^30 with left shift 23; diff_min = -floor(31*2^26/2^23).
    const P16: SoftmaxParams = SoftmaxParams {
        outer: 1,
        depth: 0,
        input_multiplier: 1 << 30,
        input_left_shift: 23,
        diff_min: -248,
    };

    #[test]
    fn uniform_rows_split_evenly() {
        for depth in [1usize, 2, 4, 8, 10] {
            let p = SoftmaxParams {
                depth,
                outer: 2,
                ..P16
            };
            let input = vec![7i8; 2 * depth];
            let mut out = vec![0i8; 2 * depth];
            softmax(&p, &input, &mut out);
            // round(256 / depth) - 128, with 1.0 saturating to 127.
            let expected = ((256.0 / depth as f64).round() as i32 - 128).min(127) as i8;
            assert!(out.iter().all(|&v| v == expected), "depth {depth}: {out:?}");
        }
    }

    #[test]
    fn far_below_max_is_exactly_zero_probability() {
        // diff = -127 - 127 = -254 < diff_min: output -128 without exp.
        let p = SoftmaxParams { depth: 3, ..P16 };
        let mut out = [0i8; 3];
        softmax(&p, &[127, -127, 127], &mut out);
        assert_eq!(out, [0, -128, 0]); // two equal maxima share 1/2 -> 128 - 128
    }

    #[test]
    fn close_to_float_softmax() {
        let mut rng = Rng::new(2);
        for _ in 0..300 {
            let depth = rng.usize(1, 16);
            let p = SoftmaxParams { depth, ..P16 };
            let input = rng.i8s(depth);
            let mut out = vec![0i8; depth];
            softmax(&p, &input, &mut out);
            let max = *input.iter().max().unwrap() as f64;
            let exps: Vec<f64> = input
                .iter()
                .map(|&x| ((x as f64 - max) / 16.0).exp())
                .collect();
            let total: f64 = exps.iter().sum();
            for (o, e) in out.iter().zip(&exps) {
                let want = (e / total * 256.0 - 128.0).round().clamp(-128.0, 127.0);
                assert!((*o as f64 - want).abs() <= 1.0, "{input:?}: {out:?}");
            }
        }
    }
}
