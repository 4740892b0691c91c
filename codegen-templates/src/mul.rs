//! MUL of two int8 tensors with numpy broadcasting (TFLM
//! `reference_integer_ops::MulElementwise` / `BroadcastMul6DSlow`).
//!
//! Contract, per output element with inputs `x1`, `x2`:
//!
//! ```text
//! out = MultiplyByQuantizedMultiplier((x1 - in1_zp) * (x2 - in2_zp), out_mult, out_shift) + out_zp
//! out = clamp(out, act_min, act_max)
//! ```
//!
//! with `out_mult/out_shift = QuantizeMultiplier(s1 * s2 / s_out)`. Shapes
//! and broadcasting are described as in [`crate::add`]. Params come from
//! [`crate::prepare::mul`].

/// Parameters of [`mul`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct MulParams {
    pub d0: usize,
    pub d1: usize,
    pub d2: usize,
    pub d3: usize,
    pub d4: usize,
    pub d5: usize,
    pub a_s0: usize,
    pub a_s1: usize,
    pub a_s2: usize,
    pub a_s3: usize,
    pub a_s4: usize,
    pub a_s5: usize,
    pub b_s0: usize,
    pub b_s1: usize,
    pub b_s2: usize,
    pub b_s3: usize,
    pub b_s4: usize,
    pub b_s5: usize,
    pub in1_zp: i32,
    pub in2_zp: i32,
    pub out_mult: i32,
    pub out_shift: i32,
    pub out_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
}

/// One output element from input elements `x1`, `x2`: the contract above.
/// [`mul`] and [`mul_in_place`] share it; the code generator inlines it.
#[inline(always)]
fn mul_element(p: &MulParams, x1: i8, x2: i8) -> i8 {
    let v1 = (x1 as i32).wrapping_sub(p.in1_zp);
    let v2 = (x2 as i32).wrapping_sub(p.in2_zp);
    let raw = mcuc_runtime::fixed::multiply_by_quantized_multiplier(
        v1.wrapping_mul(v2),
        p.out_mult,
        p.out_shift,
    )
    .wrapping_add(p.out_zp);
    raw.max(p.act_min).min(p.act_max) as i8
}

/// Int8 elementwise multiplication with broadcasting.
pub fn mul(p: &MulParams, input1: &[i8], input2: &[i8], output: &mut [i8]) {
    let mut o = 0;
    for i0 in 0..p.d0 {
        let (a0, b0) = (i0 * p.a_s0, i0 * p.b_s0);
        for i1 in 0..p.d1 {
            let (a1, b1) = (a0 + i1 * p.a_s1, b0 + i1 * p.b_s1);
            for i2 in 0..p.d2 {
                let (a2, b2) = (a1 + i2 * p.a_s2, b1 + i2 * p.b_s2);
                for i3 in 0..p.d3 {
                    let (a3, b3) = (a2 + i3 * p.a_s3, b2 + i3 * p.b_s3);
                    for i4 in 0..p.d4 {
                        let (a4, b4) = (a3 + i4 * p.a_s4, b3 + i4 * p.b_s4);
                        for i5 in 0..p.d5 {
                            output[o] =
                                mul_element(p, input1[a4 + i5 * p.a_s5], input2[b4 + i5 * p.b_s5]);
                            o += 1;
                        }
                    }
                }
            }
        }
    }
}

/// [`mul`] in place over input 1 (not broadcast; see [`crate::add::add_in_place`]).
pub fn mul_in_place(p: &MulParams, data: &mut [i8], input2: &[i8]) {
    let mut o = 0;
    for i0 in 0..p.d0 {
        let b0 = i0 * p.b_s0;
        for i1 in 0..p.d1 {
            let b1 = b0 + i1 * p.b_s1;
            for i2 in 0..p.d2 {
                let b2 = b1 + i2 * p.b_s2;
                for i3 in 0..p.d3 {
                    let b3 = b2 + i3 * p.b_s3;
                    for i4 in 0..p.d4 {
                        let b4 = b3 + i4 * p.b_s4;
                        for i5 in 0..p.d5 {
                            data[o] = mul_element(p, data[o], input2[b4 + i5 * p.b_s5]);
                            o += 1;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;
    use mcuc_runtime::fixed::multiply_by_quantized_multiplier;

    fn base(dims: [usize; 6], a: [usize; 6], b: [usize; 6]) -> MulParams {
        MulParams {
            d0: dims[0],
            d1: dims[1],
            d2: dims[2],
            d3: dims[3],
            d4: dims[4],
            d5: dims[5],
            a_s0: a[0],
            a_s1: a[1],
            a_s2: a[2],
            a_s3: a[3],
            a_s4: a[4],
            a_s5: a[5],
            b_s0: b[0],
            b_s1: b[1],
            b_s2: b[2],
            b_s3: b[3],
            b_s4: b[4],
            b_s5: b[5],
            in1_zp: 0,
            in2_zp: 0,
            out_mult: 1 << 30,
            out_shift: 1, // x 1.0
            out_zp: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    #[test]
    fn hand_computed_with_zero_points_and_scaling() {
        let p = MulParams {
            in1_zp: 1,
            in2_zp: -2,
            out_zp: -5,
            out_shift: -3, // x 0.5 * 2^-3 = 1/16
            ..base([1, 1, 1, 1, 1, 4], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1])
        };
        let mut out = [0i8; 4];
        mul(&p, &[9, 1, -7, 127], &[6, 100, 2, 126], &mut out);
        // (8*8)/16 = 4 -> -1; 0 -> -5; (-8*4)/16 = -2 -> -7; (126*128)/16 = 1008 -> 127
        assert_eq!(out, [-1, -5, -7, 127]);
    }

    #[test]
    fn broadcast_channel_vector() {
        // [2, 2, 3] * [3]
        let p = base([1, 1, 1, 2, 2, 3], [0, 0, 0, 6, 3, 1], [0, 0, 0, 0, 0, 1]);
        let a: Vec<i8> = (1..=12).collect();
        let mut out = [0i8; 12];
        mul(&p, &a, &[1, -1, 2], &mut out);
        assert_eq!(out, [1, -2, 6, 4, -5, 12, 7, -8, 18, 10, -11, 24]);
    }

    #[test]
    fn random_broadcasts_match_reference() {
        let mut rng = Rng::new(12);
        for case in 0..200 {
            let dims: [usize; 6] = core::array::from_fn(|_| rng.usize(1, 3));
            let a_b: [bool; 6] = core::array::from_fn(|_| rng.usize(0, 2) == 0);
            let b_b: [bool; 6] = core::array::from_fn(|i| !a_b[i] && rng.usize(0, 2) == 0);
            let strides = |bc: [bool; 6]| {
                let mut s = [0usize; 6];
                let mut acc = 1;
                for i in (0..6).rev() {
                    if !bc[i] {
                        s[i] = acc;
                        acc *= dims[i];
                    }
                }
                (s, acc)
            };
            let ((a_s, a_len), (b_s, b_len)) = (strides(a_b), strides(b_b));
            let (m, s) = rng.multiplier();
            let p = MulParams {
                in1_zp: rng.range(-128, 127) as i32,
                in2_zp: rng.range(-128, 127) as i32,
                out_mult: m,
                out_shift: s - 3,
                out_zp: rng.range(-128, 127) as i32,
                act_min: rng.range(-128, -1) as i32,
                act_max: rng.range(0, 127) as i32,
                ..base(dims, a_s, b_s)
            };
            let (a, b) = (rng.i8s(a_len), rng.i8s(b_len));
            let mut out = vec![0i8; dims.iter().product()];
            mul(&p, &a, &b, &mut out);
            for (flat, &got) in out.iter().enumerate() {
                let mut rem = flat;
                let (mut ia, mut ib) = (0, 0);
                for i in (0..6).rev() {
                    let k = rem % dims[i];
                    rem /= dims[i];
                    ia += if a_b[i] { 0 } else { k * a_s[i] };
                    ib += if b_b[i] { 0 } else { k * b_s[i] };
                }
                let prod = (a[ia] as i32 - p.in1_zp) * (b[ib] as i32 - p.in2_zp);
                let v = multiply_by_quantized_multiplier(prod, m, p.out_shift) + p.out_zp;
                assert_eq!(got as i32, v.clamp(p.act_min, p.act_max), "case {case}");
            }
        }
    }

    #[test]
    fn in_place_matches_out_of_place() {
        let mut rng = Rng::new(23);
        for case in 0..100 {
            let dims: [usize; 6] = core::array::from_fn(|_| rng.usize(1, 3));
            let n: usize = dims.iter().product();
            let mut full = [0usize; 6];
            let mut acc = 1;
            for i in (0..6).rev() {
                full[i] = acc;
                acc *= dims[i];
            }
            let bcast: [bool; 6] = core::array::from_fn(|_| rng.usize(0, 2) == 0);
            let mut other = [0usize; 6];
            let mut len = 1;
            for i in (0..6).rev() {
                if !bcast[i] {
                    other[i] = len;
                    len *= dims[i];
                }
            }
            let (m, s) = rng.multiplier();
            let p = MulParams {
                in1_zp: rng.range(-128, 127) as i32,
                in2_zp: rng.range(-128, 127) as i32,
                out_mult: m,
                out_shift: s - 3,
                out_zp: rng.range(-128, 127) as i32,
                act_min: rng.range(-128, -1) as i32,
                act_max: rng.range(0, 127) as i32,
                ..base(dims, full, other)
            };
            let (a, b) = (rng.i8s(n), rng.i8s(len));
            let mut expected = vec![0i8; n];
            mul(&p, &a, &b, &mut expected);
            let mut data = a.clone();
            mul_in_place(&p, &mut data, &b);
            assert_eq!(data, expected, "case {case}");
        }
    }
}
