//! ADD of two int8 tensors with numpy broadcasting (TFLM
//! `reference_integer_ops::AddFunc`, used by both `Add` and
//! `BroadcastAdd6DSlow`).
//!
//! Contract, per output element with inputs `x1`, `x2`:
//!
//! ```text
//! v1 = (x1 - in1_zp) * 2^left_shift          (left_shift = 20 for int8)
//! v2 = (x2 - in2_zp) * 2^left_shift
//! s1 = MultiplyByQuantizedMultiplierSmallerThanOneExp(v1, in1_mult, in1_shift)
//! s2 = MultiplyByQuantizedMultiplierSmallerThanOneExp(v2, in2_mult, in2_shift)
//! out = MultiplyByQuantizedMultiplierSmallerThanOneExp(s1 + s2, out_mult, out_shift) + out_zp
//! out = clamp(out, act_min, act_max)
//! ```
//!
//! Shapes: the output is a row-major 6-D box `d0 x .. x d5` (outermost
//! first, unused leading dims 1). Input `k` reads element
//! `sum_i idx_i * ak_si` with stride 0 on broadcast dims, so either operand
//! may be broadcast along any axis. [`crate::prepare::add`] folds shapes of
//! any rank into this form.

/// Parameters of [`add`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct AddParams {
    pub d0: usize,
    pub d1: usize,
    pub d2: usize,
    pub d3: usize,
    pub d4: usize,
    pub d5: usize,
    /// Element strides of input 1 per output dim (0 = broadcast).
    pub a_s0: usize,
    pub a_s1: usize,
    pub a_s2: usize,
    pub a_s3: usize,
    pub a_s4: usize,
    pub a_s5: usize,
    /// Element strides of input 2 per output dim (0 = broadcast).
    pub b_s0: usize,
    pub b_s1: usize,
    pub b_s2: usize,
    pub b_s3: usize,
    pub b_s4: usize,
    pub b_s5: usize,
    pub in1_zp: i32,
    pub in2_zp: i32,
    pub left_shift: i32,
    pub in1_mult: i32,
    pub in1_shift: i32,
    pub in2_mult: i32,
    pub in2_shift: i32,
    pub out_mult: i32,
    pub out_shift: i32,
    pub out_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
}

/// One output element from input elements `x1`, `x2`: the contract above.
/// [`add`] and [`add_in_place`] share it; the code generator inlines it.
#[inline(always)]
fn add_element(p: &AddParams, x1: i8, x2: i8) -> i8 {
    let v1 = (x1 as i32)
        .wrapping_sub(p.in1_zp)
        .wrapping_shl(p.left_shift as u32);
    let v2 = (x2 as i32)
        .wrapping_sub(p.in2_zp)
        .wrapping_shl(p.left_shift as u32);
    let s1 = mcuc_runtime::fixed::multiply_by_quantized_multiplier_smaller_than_one_exp(
        v1,
        p.in1_mult,
        p.in1_shift,
    );
    let s2 = mcuc_runtime::fixed::multiply_by_quantized_multiplier_smaller_than_one_exp(
        v2,
        p.in2_mult,
        p.in2_shift,
    );
    let raw = mcuc_runtime::fixed::multiply_by_quantized_multiplier_smaller_than_one_exp(
        s1.wrapping_add(s2),
        p.out_mult,
        p.out_shift,
    )
    .wrapping_add(p.out_zp);
    raw.max(p.act_min).min(p.act_max) as i8
}

/// Int8 elementwise addition with broadcasting.
pub fn add(p: &AddParams, input1: &[i8], input2: &[i8], output: &mut [i8]) {
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
                                add_element(p, input1[a4 + i5 * p.a_s5], input2[b4 + i5 * p.b_s5]);
                            o += 1;
                        }
                    }
                }
            }
        }
    }
}

/// [`add`] in place over input 1: `data` holds input 1 on entry and the
/// output on return. Input 1 must not be broadcast (it has the output's
/// shape, so its element `o` is output element `o`, read before it is
/// written); input 2 may be. Same arithmetic as [`add`].
pub fn add_in_place(p: &AddParams, data: &mut [i8], input2: &[i8]) {
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
                            data[o] = add_element(p, data[o], input2[b4 + i5 * p.b_s5]);
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
    use mcuc_runtime::fixed::multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm;

    /// Equal input and output scales: multipliers 0.5 for the inputs and
    /// 2^-19 for the output make the result exactly `x1 - zp1 + x2 - zp2`.
    fn exact_params(dims: [usize; 6], a: [usize; 6], b: [usize; 6]) -> AddParams {
        AddParams {
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
            left_shift: 20,
            in1_mult: 1 << 30,
            in1_shift: 0,
            in2_mult: 1 << 30,
            in2_shift: 0,
            out_mult: 1 << 30,
            out_shift: -18,
            out_zp: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    #[test]
    fn same_shape_exact_sum() {
        let p = AddParams {
            in1_zp: 3,
            in2_zp: -4,
            out_zp: 1,
            ..exact_params([1, 1, 1, 1, 1, 5], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1])
        };
        let mut out = [0i8; 5];
        add(
            &p,
            &[3, 10, -10, 100, -128],
            &[-4, 0, 0, 100, -128],
            &mut out,
        );
        // (x1 - 3) + (x2 + 4) + 1
        assert_eq!(out, [1, 12, -8, 127, -128]);
    }

    #[test]
    fn broadcast_row_and_column() {
        // a: [2, 1] (column), b: [1, 3] (row) -> out [2, 3]
        let p = exact_params([1, 1, 1, 1, 2, 3], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]);
        let mut out = [0i8; 6];
        add(&p, &[10, 20], &[1, 2, 3], &mut out);
        assert_eq!(out, [11, 12, 13, 21, 22, 23]);
        // scalar a broadcast over a [2, 2, 2] b
        let p = exact_params([1, 1, 1, 2, 2, 2], [0; 6], [0, 0, 0, 4, 2, 1]);
        let mut out = [0i8; 8];
        add(&p, &[-1], &[1, 2, 3, 4, 5, 6, 7, 8], &mut out);
        assert_eq!(out, [0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn requantizes_and_clamps() {
        // Input 1 at twice the scale of input 2 (TFLM: multipliers 0.5 and 0.25),
        // output at 4x input 2's scale: out multiplier = 2*s1/(2^20 * s_out)
        // = 2^-20 -> (2^30, -19).
        let p = AddParams {
            in2_mult: 1 << 30,
            in2_shift: -1,
            out_shift: -19,
            act_min: -2,
            ..exact_params([1, 1, 1, 1, 1, 4], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1])
        };
        let mut out = [0i8; 4];
        add(&p, &[4, 10, -10, 0], &[4, 6, -3, 2], &mut out);
        // real (in units of s2): 2*x1 + x2, output in units of 4*s2
        // (8+4)/4 = 3; (20+6)/4 = 6.5 -> 7 (double rounding); (-20-3)/4 -> -6 -> clamp -2;
        // 2/4 = 0.5 -> 1
        let expect: Vec<i8> = [4i32, 10, -10, 0]
            .iter()
            .zip([4i32, 6, -3, 2])
            .map(|(&a, b)| {
                let s1 = mbqm(a << 20, 1 << 30, 0);
                let s2 = mbqm(b << 20, 1 << 30, -1);
                mbqm(s1 + s2, 1 << 30, -19).clamp(-2, 127) as i8
            })
            .collect();
        assert_eq!(out.to_vec(), expect);
        assert_eq!(out, [3, 7, -2, 1]);
    }

    #[test]
    fn random_broadcasts_match_index_reference() {
        let mut rng = Rng::new(8);
        for case in 0..200 {
            let dims: [usize; 6] = core::array::from_fn(|_| rng.usize(1, 3));
            let a_bcast: [bool; 6] = core::array::from_fn(|_| rng.usize(0, 2) == 0);
            let b_bcast: [bool; 6] = core::array::from_fn(|i| !a_bcast[i] && rng.usize(0, 2) == 0);
            let strides = |bcast: [bool; 6]| {
                let mut s = [0usize; 6];
                let mut acc = 1;
                for i in (0..6).rev() {
                    if !bcast[i] {
                        s[i] = acc;
                        acc *= dims[i];
                    }
                }
                (s, acc)
            };
            let (a_s, a_len) = strides(a_bcast);
            let (b_s, b_len) = strides(b_bcast);
            let (m1, sh1) = rng.multiplier();
            let (m2, sh2) = rng.multiplier();
            let (mo, sho) = rng.multiplier();
            let p = AddParams {
                in1_zp: rng.range(-128, 127) as i32,
                in2_zp: rng.range(-128, 127) as i32,
                in1_mult: m1,
                in1_shift: sh1.max(-3),
                in2_mult: m2,
                in2_shift: sh2.max(-3),
                out_mult: mo,
                out_shift: sho - 12,
                out_zp: rng.range(-50, 50) as i32,
                act_min: rng.range(-128, -60) as i32,
                act_max: rng.range(60, 127) as i32,
                ..exact_params(dims, a_s, b_s)
            };
            let a = rng.i8s(a_len);
            let b = rng.i8s(b_len);
            let n: usize = dims.iter().product();
            let mut out = vec![0i8; n];
            add(&p, &a, &b, &mut out);
            for (flat, &got) in out.iter().enumerate() {
                // Unravel the flat output index; broadcast dims read index 0.
                let mut rem = flat;
                let mut idx = [0usize; 6];
                for i in (0..6).rev() {
                    idx[i] = rem % dims[i];
                    rem /= dims[i];
                }
                let ia: usize = (0..6)
                    .map(|i| if a_bcast[i] { 0 } else { idx[i] * a_s[i] })
                    .sum();
                let ib: usize = (0..6)
                    .map(|i| if b_bcast[i] { 0 } else { idx[i] * b_s[i] })
                    .sum();
                let s1 = mbqm((a[ia] as i32 - p.in1_zp) * (1 << 20), m1, p.in1_shift);
                let s2 = mbqm((b[ib] as i32 - p.in2_zp) * (1 << 20), m2, p.in2_shift);
                let v = mbqm(s1 + s2, mo, p.out_shift) + p.out_zp;
                assert_eq!(
                    got as i32,
                    v.clamp(p.act_min, p.act_max),
                    "case {case} at {idx:?}"
                );
            }
        }
    }

    /// In place over input 1 equals out of place; over input 2 it equals
    /// out of place with the operands (data, strides, parameters) swapped,
    /// which is how the compiler runs an ADD in place over its second input.
    #[test]
    fn in_place_matches_out_of_place_on_either_operand() {
        let mut rng = Rng::new(21);
        for case in 0..200 {
            let dims: [usize; 6] = core::array::from_fn(|_| rng.usize(1, 3));
            let n: usize = dims.iter().product();
            let full = {
                let mut s = [0usize; 6];
                let mut acc = 1;
                for i in (0..6).rev() {
                    s[i] = acc;
                    acc *= dims[i];
                }
                s
            };
            // The other operand is broadcast along some axes.
            let bcast: [bool; 6] = core::array::from_fn(|_| rng.usize(0, 2) == 0);
            let mut other = [0usize; 6];
            let mut acc = 1;
            for i in (0..6).rev() {
                if !bcast[i] {
                    other[i] = acc;
                    acc *= dims[i];
                }
            }
            let (m1, sh1) = rng.multiplier();
            let (m2, sh2) = rng.multiplier();
            let (mo, sho) = rng.multiplier();
            let p = AddParams {
                in1_zp: rng.range(-128, 127) as i32,
                in2_zp: rng.range(-128, 127) as i32,
                in1_mult: m1,
                in1_shift: sh1.max(-3),
                in2_mult: m2,
                in2_shift: sh2.max(-3),
                out_mult: mo,
                out_shift: sho - 12,
                out_zp: rng.range(-50, 50) as i32,
                act_min: rng.range(-128, -60) as i32,
                act_max: rng.range(60, 127) as i32,
                ..exact_params(dims, full, other)
            };
            let a = rng.i8s(n);
            let b = rng.i8s(acc);
            let mut expected = vec![0i8; n];
            add(&p, &a, &b, &mut expected);
            let mut data = a.clone();
            add_in_place(&p, &mut data, &b);
            assert_eq!(data, expected, "case {case} over input 1");

            // Input 2 is the full one: swap roles.
            let q = AddParams {
                a_s0: other[0],
                a_s1: other[1],
                a_s2: other[2],
                a_s3: other[3],
                a_s4: other[4],
                a_s5: other[5],
                b_s0: full[0],
                b_s1: full[1],
                b_s2: full[2],
                b_s3: full[3],
                b_s4: full[4],
                b_s5: full[5],
                in1_zp: p.in2_zp,
                in2_zp: p.in1_zp,
                in1_mult: p.in2_mult,
                in1_shift: p.in2_shift,
                in2_mult: p.in1_mult,
                in2_shift: p.in1_shift,
                ..p
            };
            let mut expected = vec![0i8; n];
            add(&q, &b, &a, &mut expected);
            let swapped = AddParams {
                a_s0: q.b_s0,
                a_s1: q.b_s1,
                a_s2: q.b_s2,
                a_s3: q.b_s3,
                a_s4: q.b_s4,
                a_s5: q.b_s5,
                b_s0: q.a_s0,
                b_s1: q.a_s1,
                b_s2: q.a_s2,
                b_s3: q.a_s3,
                b_s4: q.a_s4,
                b_s5: q.a_s5,
                in1_zp: q.in2_zp,
                in2_zp: q.in1_zp,
                in1_mult: q.in2_mult,
                in1_shift: q.in2_shift,
                in2_mult: q.in1_mult,
                in2_shift: q.in1_shift,
                ..q
            };
            let mut data = a.clone();
            add_in_place(&swapped, &mut data, &b);
            assert_eq!(data, expected, "case {case} over input 2");
        }
    }
}
