//! FULLY_CONNECTED, int8 in/out, int8 weights `[out_depth][accum_depth]`,
//! int32 bias (TFLM `reference_integer_ops::FullyConnected` and
//! `FullyConnectedPerChannel`).
//!
//! Contract, for row `b` (the input flattened to `[rows][accum_depth]`) and
//! output unit `n`:
//!
//! ```text
//! per tensor:   acc = sum_d (filter[n][d] - filter_zp) * (input[b][d] - in_zp)
//!               out = MultiplyByQuantizedMultiplier(acc + bias[n], mult[0], shift[0])
//! per channel:  acc = sum_d filter[n][d] * (input[b][d] - in_zp)
//!               out = MultiplyByQuantizedMultiplier(acc + bias[n], mult[n], shift[n])
//! output[b][n] = clamp(out + out_zp, act_min, act_max)
//! ```
//!
//! TFLM applies the filter zero point only on the per-tensor path (the
//! per-channel path assumes symmetric weights). Params come from
//! [`crate::prepare::fully_connected`].

/// Parameters of [`fully_connected`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct FullyConnectedParams {
    /// Input rows (batches): input elements / `accum_depth`.
    pub rows: usize,
    /// Inner dimension `K` (filter row length).
    pub accum_depth: usize,
    /// Output units `N` per row.
    pub out_depth: usize,
    pub in_zp: i32,
    /// Used on the per-tensor path only (as TFLM does).
    pub filter_zp: i32,
    pub out_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
    pub has_bias: bool,
    /// `true`: `mult`/`shift` hold `out_depth` entries; `false`: one entry.
    pub per_channel: bool,
}

/// Int8 fully connected layer.
pub fn fully_connected(
    p: &FullyConnectedParams,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    out_mult: &[i32],
    out_shift: &[i32],
    output: &mut [i8],
) {
    for b in 0..p.rows {
        let x = &input[b * p.accum_depth..][..p.accum_depth];
        for n in 0..p.out_depth {
            let w = &filter[n * p.accum_depth..][..p.accum_depth];
            let mut acc: i32 = 0;
            if p.per_channel {
                for d in 0..p.accum_depth {
                    let xv = (x[d] as i32).wrapping_sub(p.in_zp);
                    acc = acc.wrapping_add((w[d] as i32).wrapping_mul(xv));
                }
            } else {
                for d in 0..p.accum_depth {
                    let xv = (x[d] as i32).wrapping_sub(p.in_zp);
                    let wv = (w[d] as i32).wrapping_sub(p.filter_zp);
                    acc = acc.wrapping_add(wv.wrapping_mul(xv));
                }
            }
            if p.has_bias {
                acc = acc.wrapping_add(bias[n]);
            }
            let (m, s) = if p.per_channel {
                (out_mult[n], out_shift[n])
            } else {
                (out_mult[0], out_shift[0])
            };
            let scaled = mcuc_runtime::fixed::multiply_by_quantized_multiplier(acc, m, s)
                .wrapping_add(p.out_zp);
            output[b * p.out_depth + n] = scaled.max(p.act_min).min(p.act_max) as i8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;
    use mcuc_runtime::fixed::multiply_by_quantized_multiplier;

    fn params(rows: usize, accum_depth: usize, out_depth: usize) -> FullyConnectedParams {
        FullyConnectedParams {
            rows,
            accum_depth,
            out_depth,
            in_zp: 0,
            filter_zp: 0,
            out_zp: 0,
            act_min: -128,
            act_max: 127,
            has_bias: false,
            per_channel: false,
        }
    }

    #[test]
    fn hand_computed_per_tensor_with_offsets() {
        let p = FullyConnectedParams {
            in_zp: -1,
            filter_zp: 2,
            out_zp: 5,
            has_bias: true,
            ..params(1, 3, 2)
        };
        let input = [0i8, 1, 2]; // minus zp: 1, 2, 3
        let filter = [3i8, 2, 1, 2, 2, 2]; // minus zp: [1, 0, -1], [0, 0, 0]
        let mut out = [0i8; 2];
        // multiplier 0.5: row 0: (1 - 3 + 4) * 0.5 = 1 -> +5 = 6; row 1: (0 - 4) * 0.5 = -2 -> 3
        fully_connected(&p, &input, &filter, &[4, -4], &[1 << 30], &[0], &mut out);
        assert_eq!(out, [6, 3]);
    }

    #[test]
    fn per_channel_ignores_filter_zero_point() {
        let p = FullyConnectedParams {
            filter_zp: 100,
            per_channel: true,
            act_min: -3,
            ..params(2, 2, 2)
        };
        let input = [1i8, 2, -3, 4];
        let filter = [1i8, 1, 10, -10];
        let mut out = [0i8; 4];
        // unit 0: x 0.5; unit 1: x 0.25 (shift -1)
        fully_connected(
            &p,
            &input,
            &filter,
            &[],
            &[1 << 30, 1 << 30],
            &[0, -1],
            &mut out,
        );
        // row 0: 3 * 0.5 = 1.5 -> 2; -10 * 0.25: SRDHM -5, RDBPOT(-5, 1) = -2.5 -> -3
        // row 1: 1 * 0.5 -> 1; -70 * 0.25: -35 -> -17.5 -> -18 -> clamp -3
        assert_eq!(out, [2, -3, 1, -3]);
    }

    #[test]
    fn random_cases_match_reference() {
        let mut rng = Rng::new(11);
        for case in 0..300 {
            let rows = rng.usize(1, 4);
            let k = rng.usize(1, 70);
            let n = rng.usize(1, 20);
            let per_channel = case % 2 == 1;
            let p = FullyConnectedParams {
                in_zp: rng.range(-128, 127) as i32,
                filter_zp: if per_channel {
                    0
                } else {
                    rng.range(-3, 3) as i32
                },
                out_zp: rng.range(-128, 127) as i32,
                act_min: rng.range(-128, 0) as i32,
                act_max: rng.range(0, 127) as i32,
                has_bias: case % 3 != 0,
                per_channel,
                ..params(rows, k, n)
            };
            let input = rng.i8s(rows * k);
            let filter = rng.i8s(n * k);
            let bias = if p.has_bias {
                rng.i32s(n, -20000, 20000)
            } else {
                vec![]
            };
            let nm = if per_channel { n } else { 1 };
            let (mult, shift): (Vec<i32>, Vec<i32>) = (0..nm).map(|_| rng.multiplier()).unzip();
            let mut out = vec![0i8; rows * n];
            fully_connected(&p, &input, &filter, &bias, &mult, &shift, &mut out);
            for b in 0..rows {
                for j in 0..n {
                    let acc: i64 = (0..k)
                        .map(|d| {
                            (filter[j * k + d] as i64 - p.filter_zp as i64)
                                * (input[b * k + d] as i64 - p.in_zp as i64)
                        })
                        .sum::<i64>()
                        + bias.get(j).copied().unwrap_or(0) as i64;
                    let c = if per_channel { j } else { 0 };
                    let v =
                        multiply_by_quantized_multiplier(acc as i32, mult[c], shift[c]) + p.out_zp;
                    assert_eq!(
                        out[b * n + j] as i32,
                        v.clamp(p.act_min, p.act_max),
                        "case {case}"
                    );
                }
            }
        }
    }
}
