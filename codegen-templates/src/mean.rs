//! MEAN of an int8 tensor over any set of axes (TFLM micro `reduce.cc`:
//! for int8 it always runs `reference_ops::QuantizedMeanOrSum`, even for the
//! 4-D axes-{1,2} case that has a special path only for float).
//!
//! Contract, per output element (row-major over the kept axes):
//!
//! ```text
//! sum = sum of the int8 inputs over the reduced axes        (int32)
//! out = MultiplyByQuantizedMultiplier(sum - in_zp * count, multiplier, shift) + out_zp
//! out = clamp(out, -128, 127)                               (no fused activation)
//! ```
//!
//! `count` is the number of reduced elements. TFLM folds `1/count` into the
//! multiplier at eval time: starting from `QuantizeMultiplier(s_in / s_out)
//! = (m, e)`, `k = min(floor(log2(count)), 32, 31 + e)`,
//! `multiplier = (m << k) / count` (integer division), `shift = e - k`.
//! [`crate::prepare::mean`] does this, so `multiplier`/`shift` here are final.
//!
//! Shapes: the kept axes are a row-major box `o0 x .. x o4` (the output
//! layout) whose input strides are `os0..os4`; the reduced axes are a box
//! `r0 x .. x r4` with input strides `rs0..rs4`. Unused dims are 1.

/// Parameters of [`mean`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct MeanParams {
    pub o0: usize,
    pub o1: usize,
    pub o2: usize,
    pub o3: usize,
    pub o4: usize,
    pub os0: usize,
    pub os1: usize,
    pub os2: usize,
    pub os3: usize,
    pub os4: usize,
    pub r0: usize,
    pub r1: usize,
    pub r2: usize,
    pub r3: usize,
    pub r4: usize,
    pub rs0: usize,
    pub rs1: usize,
    pub rs2: usize,
    pub rs3: usize,
    pub rs4: usize,
    /// Number of reduced elements (`r0 * .. * r4`).
    pub count: i32,
    pub in_zp: i32,
    pub out_zp: i32,
    pub multiplier: i32,
    pub shift: i32,
}

/// Int8 mean over the reduced axes.
pub fn mean(p: &MeanParams, input: &[i8], output: &mut [i8]) {
    let mut o = 0;
    for k0 in 0..p.o0 {
        let b0 = k0 * p.os0;
        for k1 in 0..p.o1 {
            let b1 = b0 + k1 * p.os1;
            for k2 in 0..p.o2 {
                let b2 = b1 + k2 * p.os2;
                for k3 in 0..p.o3 {
                    let b3 = b2 + k3 * p.os3;
                    for k4 in 0..p.o4 {
                        let base = b3 + k4 * p.os4;
                        let mut sum: i32 = 0;
                        for j0 in 0..p.r0 {
                            let c0 = base + j0 * p.rs0;
                            for j1 in 0..p.r1 {
                                let c1 = c0 + j1 * p.rs1;
                                for j2 in 0..p.r2 {
                                    let c2 = c1 + j2 * p.rs2;
                                    for j3 in 0..p.r3 {
                                        let c3 = c2 + j3 * p.rs3;
                                        for j4 in 0..p.r4 {
                                            sum = sum.wrapping_add(input[c3 + j4 * p.rs4] as i32);
                                        }
                                    }
                                }
                            }
                        }
                        let shifted = sum.wrapping_sub(p.count.wrapping_mul(p.in_zp));
                        let v = mcuc_runtime::fixed::multiply_by_quantized_multiplier(
                            shifted,
                            p.multiplier,
                            p.shift,
                        )
                        .wrapping_add(p.out_zp);
                        output[o] = v.clamp(-128, 127) as i8;
                        o += 1;
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

    fn base() -> MeanParams {
        MeanParams {
            o0: 1,
            o1: 1,
            o2: 1,
            o3: 1,
            o4: 1,
            os0: 0,
            os1: 0,
            os2: 0,
            os3: 0,
            os4: 0,
            r0: 1,
            r1: 1,
            r2: 1,
            r3: 1,
            r4: 1,
            rs0: 0,
            rs1: 0,
            rs2: 0,
            rs3: 0,
            rs4: 0,
            count: 1,
            in_zp: 0,
            out_zp: 0,
            multiplier: 1 << 30,
            shift: 1,
        }
    }

    #[test]
    fn global_average_pool_layout() {
        // [1, 2, 2, 3] over axes {1, 2}: kept C (stride 1), reduced H, W
        // (strides 6, 3). Multiplier for count 4 with s_in == s_out:
        // QuantizeMultiplier(1.0) = (2^30, 1); k = 2; (2^30 << 2) / 4 = 2^30;
        // shift = -1  -> x / 4.
        let p = MeanParams {
            o4: 3,
            os4: 1,
            r3: 2,
            rs3: 6,
            r4: 2,
            rs4: 3,
            count: 4,
            in_zp: -1,
            out_zp: 2,
            multiplier: 1 << 30,
            shift: -1,
            ..base()
        };
        let input: Vec<i8> = vec![1, 10, -4, 2, 10, -5, 3, 10, -6, 5, 11, -7];
        let mut out = [0i8; 3];
        mean(&p, &input, &mut out);
        // c0: 11 + 4 = 15: SRDHM(15, 0.5) = 7.5 -> 8, 8 / 2 = 4, +2 = 6;
        // c1: 41 + 4 = 45: 22.5 -> 23, 23 / 2 = 11.5 -> 12 (double rounding;
        //     45 / 4 = 11.25 exactly), +2 = 14;
        // c2: -22 + 4 = -18: -9, -9 / 2 = -4.5 -> -5, +2 = -3.
        assert_eq!(out, [6, 14, -3]);
    }

    #[test]
    fn clamps_to_int8() {
        let p = MeanParams {
            r4: 2,
            rs4: 1,
            count: 2,
            out_zp: 100,
            multiplier: 1 << 30,
            shift: 1, // x 1.0 (sum, not mean)
            ..base()
        };
        let mut out = [0i8; 1];
        mean(&p, &[100, 100], &mut out);
        assert_eq!(out, [127]);
    }

    #[test]
    fn random_axis_sets_match_reference() {
        let mut rng = Rng::new(31);
        for case in 0..200 {
            // A 5-D tensor with a random subset of axes reduced.
            let shape: [usize; 5] = core::array::from_fn(|_| rng.usize(1, 4));
            let reduced: [bool; 5] = core::array::from_fn(|_| rng.usize(0, 1) == 1);
            let mut strides = [0usize; 5];
            let mut acc = 1;
            for i in (0..5).rev() {
                strides[i] = acc;
                acc *= shape[i];
            }
            let (mut o, mut os, mut r, mut rs) =
                ([1usize; 5], [0usize; 5], [1usize; 5], [0usize; 5]);
            let (mut no, mut nr) = (0, 0);
            for i in 0..5 {
                if reduced[i] {
                    r[nr] = shape[i];
                    rs[nr] = strides[i];
                    nr += 1;
                } else {
                    o[no] = shape[i];
                    os[no] = strides[i];
                    no += 1;
                }
            }
            let count: usize = r.iter().product();
            let (m, s) = rng.multiplier();
            let p = MeanParams {
                o0: o[0],
                o1: o[1],
                o2: o[2],
                o3: o[3],
                o4: o[4],
                os0: os[0],
                os1: os[1],
                os2: os[2],
                os3: os[3],
                os4: os[4],
                r0: r[0],
                r1: r[1],
                r2: r[2],
                r3: r[3],
                r4: r[4],
                rs0: rs[0],
                rs1: rs[1],
                rs2: rs[2],
                rs3: rs[3],
                rs4: rs[4],
                count: count as i32,
                in_zp: rng.range(-128, 127) as i32,
                out_zp: rng.range(-128, 127) as i32,
                multiplier: m,
                shift: s + 6,
            };
            let input = rng.i8s(acc);
            let mut out = vec![0i8; o.iter().product()];
            mean(&p, &input, &mut out);
            // Reference: walk every input element (like TFLM's Reduce), add it
            // to the output slot given by its kept coordinates.
            let mut sums = vec![0i32; out.len()];
            for (flat, &v) in input.iter().enumerate() {
                let mut rem = flat;
                let mut slot = 0;
                let mut mulk = 1;
                for i in (0..5).rev() {
                    let k = rem % shape[i];
                    rem /= shape[i];
                    if !reduced[i] {
                        slot += k * mulk;
                        mulk *= shape[i];
                    }
                }
                sums[slot] += v as i32;
            }
            for (i, &sum) in sums.iter().enumerate() {
                let v = multiply_by_quantized_multiplier(sum - p.in_zp * p.count, m, p.shift)
                    + p.out_zp;
                assert_eq!(
                    out[i] as i32,
                    v.clamp(-128, 127),
                    "case {case} {shape:?} {reduced:?}"
                );
            }
        }
    }
}
