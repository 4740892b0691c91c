//! PAD (and PADV2) of an int8 tensor of rank <= 5 with a constant (TFLM
//! `reference_ops::Pad`; the pad value is the output zero point for PAD, the
//! constant for PADV2).
//!
//! Contract: shapes are right-aligned into 5-D (leading dims 1, pads 0).
//! Output element `(o0..o4)` is `input[o0 - pad0, .., o4 - pad4]` when every
//! `pad_k <= o_k < pad_k + in_dk`, else `pad_value`. Both tensors are
//! row-major and contiguous. Params come from [`crate::prepare::pad`].

/// Parameters of [`pad`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct PadParams {
    pub in_d0: usize,
    pub in_d1: usize,
    pub in_d2: usize,
    pub in_d3: usize,
    pub in_d4: usize,
    pub out_d0: usize,
    pub out_d1: usize,
    pub out_d2: usize,
    pub out_d3: usize,
    pub out_d4: usize,
    /// Elements inserted before the input along each dim.
    pub pad0: usize,
    pub pad1: usize,
    pub pad2: usize,
    pub pad3: usize,
    pub pad4: usize,
    pub pad_value: i32,
}

/// Int8 constant padding.
pub fn pad(p: &PadParams, input: &[i8], output: &mut [i8]) {
    let fill = p.pad_value as i8;
    let after = p.out_d4.saturating_sub(p.pad4 + p.in_d4);
    let mut i = 0;
    let mut o = 0;
    for a in 0..p.out_d0 {
        let in_a = a >= p.pad0 && a < p.pad0 + p.in_d0;
        for b in 0..p.out_d1 {
            let in_b = in_a && b >= p.pad1 && b < p.pad1 + p.in_d1;
            for c in 0..p.out_d2 {
                let in_c = in_b && c >= p.pad2 && c < p.pad2 + p.in_d2;
                for d in 0..p.out_d3 {
                    let inside = in_c && d >= p.pad3 && d < p.pad3 + p.in_d3;
                    let row = &mut output[o..][..p.out_d4];
                    if inside {
                        row[..p.pad4].fill(fill);
                        row[p.pad4..][..p.in_d4].copy_from_slice(&input[i..][..p.in_d4]);
                        row[p.pad4 + p.in_d4..][..after].fill(fill);
                        i += p.in_d4;
                    } else {
                        row.fill(fill);
                    }
                    o += p.out_d4;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn params(
        in_d: [usize; 5],
        before: [usize; 5],
        after: [usize; 5],
        pad_value: i32,
    ) -> PadParams {
        PadParams {
            in_d0: in_d[0],
            in_d1: in_d[1],
            in_d2: in_d[2],
            in_d3: in_d[3],
            in_d4: in_d[4],
            out_d0: in_d[0] + before[0] + after[0],
            out_d1: in_d[1] + before[1] + after[1],
            out_d2: in_d[2] + before[2] + after[2],
            out_d3: in_d[3] + before[3] + after[3],
            out_d4: in_d[4] + before[4] + after[4],
            pad0: before[0],
            pad1: before[1],
            pad2: before[2],
            pad3: before[3],
            pad4: before[4],
            pad_value,
        }
    }

    #[test]
    fn pads_2d() {
        // [2, 2] -> top 1, bottom 0, left 0, right 2
        let p = params([1, 1, 1, 2, 2], [0, 0, 0, 1, 0], [0, 0, 0, 0, 2], -1);
        let mut out = [0i8; 12];
        pad(&p, &[1, 2, 3, 4], &mut out);
        assert_eq!(out, [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1]);
    }

    #[test]
    fn random_5d_matches_index_reference() {
        let mut rng = Rng::new(17);
        for _ in 0..200 {
            let in_d: [usize; 5] = core::array::from_fn(|_| rng.usize(1, 3));
            let before: [usize; 5] = core::array::from_fn(|_| rng.usize(0, 2));
            let after: [usize; 5] = core::array::from_fn(|_| rng.usize(0, 2));
            let p = params(in_d, before, after, rng.range(-128, 127) as i32);
            let input = rng.i8s(in_d.iter().product());
            let out_d = [p.out_d0, p.out_d1, p.out_d2, p.out_d3, p.out_d4];
            let mut out = vec![0i8; out_d.iter().product()];
            pad(&p, &input, &mut out);
            for (flat, &v) in out.iter().enumerate() {
                let mut rem = flat;
                let mut idx = [0usize; 5];
                for k in (0..5).rev() {
                    idx[k] = rem % out_d[k];
                    rem /= out_d[k];
                }
                let inside = (0..5).all(|k| idx[k] >= before[k] && idx[k] < before[k] + in_d[k]);
                let want = if inside {
                    let mut off = 0;
                    for k in 0..5 {
                        off = off * in_d[k] + idx[k] - before[k];
                    }
                    input[off]
                } else {
                    p.pad_value as i8
                };
                assert_eq!(v, want, "{p:?} at {idx:?}");
            }
        }
    }
}
