//! TANH, int8 in, int8 out (TFLM `reference_integer_ops::Tanh` for int8).
//!
//! The output encoding is fixed by the kernel: `out = 128 * tanh(x)`, i.e.
//! scale `1/128`, zero point `0` (TFLM checks neither; the output zero point
//! is not applied). Contract, per element:
//!
//! ```text
//! v = x - in_zp
//! v <= -input_range_radius  ->  -128
//! v >=  input_range_radius  ->   127
//! otherwise: q4  = MultiplyByQuantizedMultiplier(v, input_multiplier, input_left_shift)
//!            out = clamp(RoundingDivideByPOT(tanh(q4 as Q4.27), 24), -128, 127)
//! ```
//!
//! The multiplier, shift and radius are computed as for LOGISTIC
//! ([`crate::prepare::tanh`]).

/// Parameters of [`tanh`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct TanhParams {
    /// Number of elements.
    pub len: usize,
    pub in_zp: i32,
    pub input_range_radius: i32,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
}

/// One output element from input element `x`. [`tanh`] and
/// [`tanh_in_place`] share it; the code generator inlines it.
#[inline(always)]
fn tanh_element(p: &TanhParams, x: i8) -> i8 {
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
        let q0 = mcuc_runtime::fixed::tanh::<4>(q4);
        mcuc_runtime::fixed::rounding_divide_by_pot(q0, 31 - 7).clamp(-128, 127) as i8
    }
}

/// Int8 hyperbolic tangent.
pub fn tanh(p: &TanhParams, input: &[i8], output: &mut [i8]) {
    for i in 0..p.len {
        output[i] = tanh_element(p, input[i]);
    }
}

/// [`tanh`] over `data` in place (element `i` is read, then written).
pub fn tanh_in_place(p: &TanhParams, data: &mut [i8]) {
    for x in data[..p.len].iter_mut() {
        *x = tanh_element(p, *x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input scale 1/16 (see the logistic tests): multiplier 2^30, shift 24,
    /// radius 120.
    const P: TanhParams = TanhParams {
        len: 0,
        in_zp: 0,
        input_range_radius: 120,
        input_multiplier: 1 << 30,
        input_left_shift: 24,
    };

    #[test]
    fn known_points_and_saturation() {
        let input = [0i8, 120, -120, 16, -16, 127];
        let p = TanhParams {
            len: input.len(),
            ..P
        };
        let mut out = [0i8; 6];
        tanh(&p, &input, &mut out);
        // tanh(1) = 0.7616 -> 97.5 -> 97 or 98
        assert_eq!(&out[..3], &[0, 127, -128]);
        assert!(out[3] == 97 || out[3] == 98, "{out:?}");
        assert_eq!(out[4], -out[3]);
        assert_eq!(out[5], 127);
    }

    #[test]
    fn matches_float_tanh() {
        let p = TanhParams {
            len: 256,
            in_zp: 5,
            ..P
        };
        let input: Vec<i8> = (-128..=127).collect();
        let mut out = vec![0i8; 256];
        tanh(&p, &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            let want = (128.0 * ((x as f64 - 5.0) / 16.0).tanh())
                .round()
                .clamp(-128.0, 127.0);
            assert!((y as f64 - want).abs() <= 1.0, "{x}: {y} vs {want}");
        }
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn in_place_matches_out_of_place() {
        let input: Vec<i8> = (-128..=127).collect();
        for (in_zp, radius, mult, shift) in [(0, 120, 1 << 30, 24), (-5, 47, 1_400_000_000, 22)] {
            let p = TanhParams {
                len: input.len(),
                in_zp,
                input_range_radius: radius,
                input_multiplier: mult,
                input_left_shift: shift,
            };
            let mut expected = vec![0i8; input.len()];
            tanh(&p, &input, &mut expected);
            let mut data = input.clone();
            tanh_in_place(&p, &mut data);
            assert_eq!(data, expected);
        }
    }
}
