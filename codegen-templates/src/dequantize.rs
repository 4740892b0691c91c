//! DEQUANTIZE: int8 -> float32 (TFLM `reference_ops::Dequantize`).
//!
//! Contract: `y = (float)(scale * (q - zero_point))`. TFLM multiplies in
//! `double` and casts to float; the exact product of an `f32` scale and a
//! 9-bit integer is representable in a double, so the single correctly
//! rounded `f32` multiply used here gives identical bits (and avoids
//! soft-float doubles on Cortex-M). The output is written as `4 * len`
//! bytes of little-endian `f32`. Params come from
//! [`crate::prepare::dequantize`].

/// Parameters of [`dequantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct DequantizeParams {
    /// Number of elements.
    pub len: usize,
    /// Input scale (the generated literal must round-trip exactly).
    pub scale: f32,
    pub zero_point: i32,
}

/// int8 -> float32 (little-endian bytes).
pub fn dequantize(p: &DequantizeParams, input: &[i8], output: &mut [i8]) {
    for i in 0..p.len {
        let y = mcuc_runtime::fixed::dequantize_i8_to_f32(input[i], p.scale, p.zero_point);
        let b = y.to_le_bytes();
        let o = &mut output[4 * i..][..4];
        o[0] = b[0] as i8;
        o[1] = b[1] as i8;
        o[2] = b[2] as i8;
        o[3] = b[3] as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_little_endian_floats() {
        let p = DequantizeParams {
            len: 3,
            scale: 0.5,
            zero_point: -1,
        };
        let mut out = [0i8; 12];
        dequantize(&p, &[-1, 3, -128], &mut out);
        let ys: Vec<f32> = out
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]))
            .collect();
        assert_eq!(ys, [0.0, 2.0, -63.5]);
    }

    #[test]
    fn matches_double_product_cast_to_float() {
        let scale = 0.003_921_569_f32;
        let input: Vec<i8> = (-128..=127).collect();
        let p = DequantizeParams {
            len: 256,
            scale,
            zero_point: 17,
        };
        let mut out = vec![0i8; 1024];
        dequantize(&p, &input, &mut out);
        for (q, c) in input.iter().zip(out.chunks(4)) {
            let y = f32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
            let want = (scale as f64 * (*q as i32 - 17) as f64) as f32;
            assert_eq!(y.to_bits(), want.to_bits());
        }
    }
}
