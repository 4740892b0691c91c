//! LOGISTIC (sigmoid), int8 in, int8 out (TFLM
//! `reference_integer_ops::Logistic` for int8).
//!
//! The output encoding is fixed by the kernel: `out = 256 * sigmoid(x) - 128`,
//! i.e. scale `1/256`, zero point `-128`. TFLM checks the zero point but not
//! the scale; a model with another output scale still gets these values.
//! Contract, per element:
//!
//! ```text
//! v = x - in_zp
//! v <= -input_range_radius  ->  -128
//! v >=  input_range_radius  ->   127
//! otherwise: q4  = MultiplyByQuantizedMultiplier(v, input_multiplier, input_left_shift)
//!            out = clamp(RoundingDivideByPOT(logistic(q4 as Q4.27), 23) - 128, -128, 127)
//! ```
//!
//! `input_multiplier`/`input_left_shift` are `frexp(s_in * 2^27)` with the
//! mantissa rounded to Q31 (not `QuantizeMultiplier`), `input_range_radius =
//! CalculateInputRadius(4, input_left_shift, 31)`. Params come from
//! [`crate::prepare::logistic`].

/// Parameters of [`logistic`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct LogisticParams {
    /// Number of elements.
    pub len: usize,
    pub in_zp: i32,
    pub input_range_radius: i32,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
}

/// One output element from input element `x`. [`logistic`] and
/// [`logistic_in_place`] share it; the code generator inlines it.
#[inline(always)]
fn logistic_element(p: &LogisticParams, x: i8) -> i8 {
    let v = (x as i32).wrapping_sub(p.in_zp);
    if v <= -p.input_range_radius {
        i8::MIN
    } else if v >= p.input_range_radius {
        i8::MAX
    } else {
        let q4 = mcuc_runtime::fixed::multiply_by_quantized_multiplier(
            v,
            p.input_multiplier,
            p.input_left_shift,
        );
        let q0 = mcuc_runtime::fixed::logistic::<4>(q4);
        let out = mcuc_runtime::fixed::rounding_divide_by_pot(q0, 31 - 8);
        out.wrapping_sub(128).clamp(-128, 127) as i8
    }
}

/// Int8 sigmoid.
pub fn logistic(p: &LogisticParams, input: &[i8], output: &mut [i8]) {
    for i in 0..p.len {
        output[i] = logistic_element(p, input[i]);
    }
}

/// [`logistic`] over `data` in place (element `i` is read, then written).
pub fn logistic_in_place(p: &LogisticParams, data: &mut [i8]) {
    for x in data[..p.len].iter_mut() {
        *x = logistic_element(p, *x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input scale 1/16: s*2^27 = 2^23 = 0.5 * 2^24 -> multiplier 2^30,
    /// shift 24; radius = floor(15 * 2^27 / 2^24) = 120.
    const P: LogisticParams = LogisticParams {
        len: 0,
        in_zp: 0,
        input_range_radius: 120,
        input_multiplier: 1 << 30,
        input_left_shift: 24,
    };

    #[test]
    fn known_points_and_saturation() {
        let input = [0i8, -120, 120, -128, 127, 16, -16];
        let p = LogisticParams {
            len: input.len(),
            ..P
        };
        let mut out = [0i8; 7];
        logistic(&p, &input, &mut out);
        // sigmoid(0) = 0.5 -> 0; |v| >= radius saturates; sigmoid(1) = 0.731 -> 187 - 128 = 59
        assert_eq!(out, [0, -128, 127, -128, 127, 59, -59]);
    }

    #[test]
    fn zero_point_shifts_input_and_matches_float() {
        let p = LogisticParams {
            len: 256,
            in_zp: -3,
            ..P
        };
        let input: Vec<i8> = (-128..=127).collect();
        let mut out = vec![0i8; 256];
        logistic(&p, &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            let real = (x as f64 + 3.0) / 16.0;
            let want = (256.0 / (1.0 + (-real).exp()) - 128.0)
                .round()
                .clamp(-128.0, 127.0);
            assert!((y as f64 - want).abs() <= 1.0, "{x}: {y} vs {want}");
        }
        // Monotone non-decreasing.
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn in_place_matches_out_of_place() {
        let input: Vec<i8> = (-128..=127).collect();
        for (in_zp, radius, mult, shift) in [(0, 120, 1 << 30, 24), (-5, 47, 1_400_000_000, 22)] {
            let p = LogisticParams {
                len: input.len(),
                in_zp,
                input_range_radius: radius,
                input_multiplier: mult,
                input_left_shift: shift,
            };
            let mut expected = vec![0i8; input.len()];
            logistic(&p, &input, &mut expected);
            let mut data = input.clone();
            logistic_in_place(&p, &mut data);
            assert_eq!(data, expected);
        }
    }
}
