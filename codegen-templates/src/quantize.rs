//! QUANTIZE: float32 -> int8 (TFLM `reference_ops::AffineQuantize`) and
//! int8 -> int8 requantization (TFLM `reference_ops::Requantize`).
//!
//! Contracts:
//!
//! ```text
//! quantize:   q = clamp(round_half_away(x / scale) + zero_point, -128, 127)
//!             (x / scale divided in f32, as TFLM casts its double scale back to float)
//! requantize: q = clamp(MultiplyByQuantizedMultiplier(x - in_zp, multiplier, shift) + out_zp,
//!                       -128, 127)
//!             with multiplier/shift = QuantizeMultiplier(s_in / s_out)
//! ```
//!
//! Float tensors live in the byte arena, so [`quantize`] reads `4 * len`
//! bytes of little-endian `f32`. Quotients outside the `i32` range saturate
//! (the C++ cast is undefined there). Params come from
//! [`crate::prepare::quantize`].

/// Parameters of [`quantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct QuantizeParams {
    /// Number of elements.
    pub len: usize,
    /// Output scale (the generated literal must round-trip exactly).
    pub scale: f32,
    pub zero_point: i32,
}

/// float32 (little-endian bytes) -> int8.
pub fn quantize(p: &QuantizeParams, input: &[i8], output: &mut [i8]) {
    for i in 0..p.len {
        let b = &input[4 * i..][..4];
        let x = f32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8]);
        output[i] = mcuc_runtime::fixed::quantize_f32_to_i8(x, p.scale, p.zero_point);
    }
}

/// Parameters of [`requantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct RequantizeParams {
    pub len: usize,
    pub in_zp: i32,
    pub out_zp: i32,
    pub multiplier: i32,
    pub shift: i32,
}

/// One output element from input element `x`. [`requantize`] and
/// [`requantize_in_place`] share it; the code generator inlines it.
#[inline(always)]
fn requantize_element(p: &RequantizeParams, x: i8) -> i8 {
    let v = mcuc_runtime::fixed::multiply_by_quantized_multiplier(
        (x as i32).wrapping_sub(p.in_zp),
        p.multiplier,
        p.shift,
    )
    .wrapping_add(p.out_zp);
    v.clamp(-128, 127) as i8
}

/// int8 -> int8 with a new scale and zero point.
pub fn requantize(p: &RequantizeParams, input: &[i8], output: &mut [i8]) {
    for i in 0..p.len {
        output[i] = requantize_element(p, input[i]);
    }
}

/// [`requantize`] over `data` in place (element `i` is read, then written).
pub fn requantize_in_place(p: &RequantizeParams, data: &mut [i8]) {
    for x in data[..p.len].iter_mut() {
        *x = requantize_element(p, *x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(xs: &[f32]) -> Vec<i8> {
        xs.iter()
            .flat_map(|x| x.to_le_bytes())
            .map(|b| b as i8)
            .collect()
    }

    #[test]
    fn quantizes_with_half_away_rounding_and_clamp() {
        let xs = [
            0.0f32,
            0.125,
            -0.125,
            0.375,
            100.0,
            -100.0,
            f32::INFINITY,
            f32::NAN,
        ];
        let p = QuantizeParams {
            len: xs.len(),
            scale: 0.25,
            zero_point: -1,
        };
        let mut out = [0i8; 8];
        quantize(&p, &bytes(&xs), &mut out);
        // 0.5 -> 1, -0.5 -> -1, 1.5 -> 2, then -1; NaN -> 0 - 1
        assert_eq!(out, [-1, 0, -2, 1, 127, -128, 127, -1]);
    }

    #[test]
    fn division_is_in_f32() {
        // x / scale in f32 can differ from x * (1/scale); check against f32 math.
        let scale = 0.007_843_138_f32;
        let xs: Vec<f32> = (-300..300).map(|i| i as f32 * 0.003_1).collect();
        let p = QuantizeParams {
            len: xs.len(),
            scale,
            zero_point: 3,
        };
        let mut out = vec![0i8; xs.len()];
        quantize(&p, &bytes(&xs), &mut out);
        for (x, q) in xs.iter().zip(&out) {
            let want = ((x / scale) as f64).round() as i32 + 3;
            assert_eq!(*q as i32, want.clamp(-128, 127), "{x}");
        }
    }

    #[test]
    fn requantize_known_values() {
        // s_in / s_out = 2 -> QuantizeMultiplier(2.0) = (2^30, 2)
        let p = RequantizeParams {
            len: 4,
            in_zp: 1,
            out_zp: -2,
            multiplier: 1 << 30,
            shift: 2,
        };
        let mut out = [0i8; 4];
        requantize(&p, &[1, 11, -9, 100], &mut out);
        assert_eq!(out, [-2, 18, -22, 127]);
    }

    #[test]
    fn requantize_in_place_matches_out_of_place() {
        let input: Vec<i8> = (-128..=127).collect();
        let p = RequantizeParams {
            len: input.len(),
            in_zp: 3,
            out_zp: -9,
            multiplier: 1_700_000_000,
            shift: 1,
        };
        let mut expected = vec![0i8; input.len()];
        requantize(&p, &input, &mut expected);
        let mut data = input.clone();
        requantize_in_place(&p, &mut data);
        assert_eq!(data, expected);
    }
}
