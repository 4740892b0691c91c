//! CONV_2D, int8 activations, int8 weights quantized per output channel,
//! int32 bias and accumulator (TFLM `reference_integer_ops::ConvPerChannel`).
//!
//! Contract, for output pixel `(oy, ox)` and output channel `oc` in group
//! `g = oc / (out_c / groups)` (`groups = in_c / filter_in_c`):
//!
//! ```text
//! acc = sum over ky, kx, ic with iy = oy*stride_h + ky*dil_h - pad_top in 0..in_h
//!                              and ix = ox*stride_w + kx*dil_w - pad_left in 0..in_w
//!       of filter[oc][ky][kx][ic] * (input[iy][ix][g*filter_in_c + ic] - in_zp)
//! acc += bias[oc]                                   (if has_bias)
//! out = MultiplyByQuantizedMultiplier(acc, mult[oc], shift[oc]) + out_zp
//! out = clamp(out, act_min, act_max)
//! ```
//!
//! Taps outside the input are skipped, which equals padding with the input
//! zero point. The filter zero point is ignored, as in TFLM (weights are
//! symmetric). Layouts: input element `(iy, ix, c)` at
//! `iy*in_row_stride + ix*in_c + c`; output `(oy, ox, oc)` at
//! `oy*out_row_stride + ox*out_c + oc`; filter `[out_c][k_h][k_w][filter_in_c]`.
//! With `in_row_stride = in_w*in_c`, `out_row_stride = out_w*out_c` and
//! TFLite's padding this is TFLM's kernel; other strides and (possibly
//! negative) pads run the same arithmetic on a window of a larger tensor.
//!
//! Params come from [`crate::prepare::conv2d`] (feature `host`).

/// Parameters of [`conv2d`]. Scalars only; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct Conv2dParams {
    /// Rows of the input buffer that may be read.
    pub in_h: usize,
    /// Columns of the input buffer that may be read.
    pub in_w: usize,
    /// Input channels (and elements between horizontally adjacent pixels).
    pub in_c: usize,
    /// Elements between vertically adjacent input pixels.
    pub in_row_stride: usize,
    pub out_h: usize,
    pub out_w: usize,
    /// Output channels (and elements between horizontally adjacent pixels).
    pub out_c: usize,
    /// Elements between vertically adjacent output pixels.
    pub out_row_stride: usize,
    pub k_h: usize,
    pub k_w: usize,
    /// Input channels seen by one filter (`in_c / groups`).
    pub filter_in_c: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dil_h: usize,
    pub dil_w: usize,
    /// Input row read by output row 0, kernel row 0, negated.
    pub pad_top: i32,
    /// Input column read by output column 0, kernel column 0, negated.
    pub pad_left: i32,
    pub in_zp: i32,
    pub out_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
    pub has_bias: bool,
}

/// Int8 2-D convolution, per-channel requantization.
///
/// `bias` may be empty when `!p.has_bias`; `out_mult`/`out_shift` hold one
/// entry per output channel (TFLM broadcasts per-tensor filter scales).
pub fn conv2d(
    p: &Conv2dParams,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    out_mult: &[i32],
    out_shift: &[i32],
    output: &mut [i8],
) {
    let groups = p.in_c.checked_div(p.filter_in_c).unwrap_or(0);
    let oc_per_group = p.out_c.checked_div(groups).unwrap_or(0);
    for oy in 0..p.out_h {
        let in_y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
        for ox in 0..p.out_w {
            let in_x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
            let out_base = oy * p.out_row_stride + ox * p.out_c;
            for g in 0..groups {
                for j in 0..oc_per_group {
                    let oc = g * oc_per_group + j;
                    let mut acc: i32 = 0;
                    for ky in 0..p.k_h {
                        let iy = in_y0 + (ky * p.dil_h) as isize;
                        if iy < 0 || iy >= p.in_h as isize {
                            continue;
                        }
                        for kx in 0..p.k_w {
                            let ix = in_x0 + (kx * p.dil_w) as isize;
                            if ix < 0 || ix >= p.in_w as isize {
                                continue;
                            }
                            let in_base = iy as usize * p.in_row_stride
                                + ix as usize * p.in_c
                                + g * p.filter_in_c;
                            let f_base = ((oc * p.k_h + ky) * p.k_w + kx) * p.filter_in_c;
                            for ic in 0..p.filter_in_c {
                                let x = (input[in_base + ic] as i32).wrapping_sub(p.in_zp);
                                let w = filter[f_base + ic] as i32;
                                acc = acc.wrapping_add(w.wrapping_mul(x));
                            }
                        }
                    }
                    if p.has_bias {
                        acc = acc.wrapping_add(bias[oc]);
                    }
                    let scaled = mcuc_runtime::fixed::multiply_by_quantized_multiplier(
                        acc,
                        out_mult[oc],
                        out_shift[oc],
                    )
                    .wrapping_add(p.out_zp);
                    output[out_base + oc] = scaled.max(p.act_min).min(p.act_max) as i8;
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

    /// Identity requantization: multiplier 0.5 with left shift 1.
    const ONE: (i32, i32) = (1 << 30, 1);

    fn params(
        (in_h, in_w, in_c): (usize, usize, usize),
        (out_h, out_w, out_c): (usize, usize, usize),
        (k_h, k_w, filter_in_c): (usize, usize, usize),
    ) -> Conv2dParams {
        Conv2dParams {
            in_h,
            in_w,
            in_c,
            in_row_stride: in_w * in_c,
            out_h,
            out_w,
            out_c,
            out_row_stride: out_w * out_c,
            k_h,
            k_w,
            filter_in_c,
            stride_h: 1,
            stride_w: 1,
            dil_h: 1,
            dil_w: 1,
            pad_top: 0,
            pad_left: 0,
            in_zp: 0,
            out_zp: 0,
            act_min: -128,
            act_max: 127,
            has_bias: false,
        }
    }

    #[test]
    fn hand_computed_valid_2x2() {
        // 3x3x1 input, one 2x2 filter of ones, identity requantization.
        let p = Conv2dParams {
            in_zp: 1,
            out_zp: -3,
            has_bias: true,
            ..params((3, 3, 1), (2, 2, 1), (2, 2, 1))
        };
        let input: Vec<i8> = vec![1, 2, 3, 4, 5, 6, 7, 8, 9];
        let filter = vec![1i8; 4];
        let mut out = vec![0i8; 4];
        conv2d(&p, &input, &filter, &[10], &[ONE.0], &[ONE.1], &mut out);
        // (1+2+4+5 - 4*1) + 10 - 3 = 15; (2+3+5+6-4)+7 = 19; (4+5+7+8-4)+7 = 27; 31
        assert_eq!(out, vec![15, 19, 27, 31]);
    }

    #[test]
    fn hand_computed_same_padding_skips_taps() {
        // 2x2x1 input, 3x3 filter, SAME: every output sees only the valid taps.
        let p = Conv2dParams {
            pad_top: 1,
            pad_left: 1,
            in_zp: -2,
            ..params((2, 2, 1), (2, 2, 1), (3, 3, 1))
        };
        let input: Vec<i8> = vec![0, 1, 2, 3]; // minus zp: 2, 3, 4, 5
        let filter: Vec<i8> = (1..=9).collect();
        let mut out = vec![0i8; 4];
        conv2d(&p, &input, &filter, &[], &[ONE.0], &[ONE.1], &mut out);
        // out(0,0): taps (1,1),(1,2),(2,1),(2,2) = 5*2 + 6*3 + 8*4 + 9*5 = 105
        // out(0,1): taps (1,0),(1,1),(2,0),(2,1) = 4*2 + 5*3 + 7*4 + 8*5 = 91
        // out(1,0): taps (0,1),(0,2),(1,1),(1,2) = 2*2 + 3*3 + 5*4 + 6*5 = 63
        // out(1,1): taps (0,0),(0,1),(1,0),(1,1) = 1*2 + 2*3 + 4*4 + 5*5 = 49
        assert_eq!(out, vec![105, 91, 63, 49]);
    }

    #[test]
    fn requantization_bias_and_clamp() {
        let p = Conv2dParams {
            act_min: -10,
            act_max: 20,
            has_bias: true,
            ..params((1, 1, 2), (1, 1, 3), (1, 1, 2))
        };
        let input = [10i8, -20];
        let filter = [1i8, 1, 2, 0, -1, -1];
        // acc: -10+5, 20-7, 10+100 ; multipliers 0.5, 0.5 * 2^-1, 0.75
        let mut out = [0i8; 3];
        conv2d(
            &p,
            &input,
            &filter,
            &[5, -7, 100],
            &[1 << 30, 1 << 30, 1_610_612_736],
            &[0, -1, 0],
            &mut out,
        );
        // -5 * 0.5 = -2.5 -> -2 (SRDHM rounds ties up);
        // 13 * 0.25: SRDHM gives 6.5 -> 7, then 7 / 2 = 3.5 -> 4 (double
        // rounding; the exact product 3.25 would round to 3);
        // 110 * 0.75 = 82.5 -> 83 -> clamped to 20.
        assert_eq!(out, [-2, 4, 20]);
    }

    /// Independent formulation: materialize the zero-point-padded input,
    /// then run a plain VALID convolution with explicit group bookkeeping.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        p: &Conv2dParams,
        pad_bottom: usize,
        pad_right: usize,
        input: &[i8],
        filter: &[i8],
        bias: &[i32],
        mult: &[i32],
        shift: &[i32],
    ) -> Vec<i8> {
        let (pt, pl) = (p.pad_top as usize, p.pad_left as usize);
        let ph = p.in_h + pt + pad_bottom;
        let pw = p.in_w + pl + pad_right;
        let mut padded = vec![p.in_zp; ph * pw * p.in_c];
        for y in 0..p.in_h {
            for x in 0..p.in_w {
                for c in 0..p.in_c {
                    padded[((y + pt) * pw + x + pl) * p.in_c + c] =
                        input[y * p.in_row_stride + x * p.in_c + c] as i32;
                }
            }
        }
        let groups = p.in_c / p.filter_in_c;
        let per_group = p.out_c / groups;
        let mut out = vec![0i8; p.out_h * p.out_w * p.out_c];
        for oy in 0..p.out_h {
            for ox in 0..p.out_w {
                for oc in 0..p.out_c {
                    let g = oc / per_group;
                    let mut acc = 0i64;
                    for ky in 0..p.k_h {
                        for kx in 0..p.k_w {
                            let y = oy * p.stride_h + ky * p.dil_h;
                            let x = ox * p.stride_w + kx * p.dil_w;
                            for ic in 0..p.filter_in_c {
                                let v = padded[(y * pw + x) * p.in_c + g * p.filter_in_c + ic]
                                    - p.in_zp;
                                let w =
                                    filter[((oc * p.k_h + ky) * p.k_w + kx) * p.filter_in_c + ic];
                                acc += v as i64 * w as i64;
                            }
                        }
                    }
                    if p.has_bias {
                        acc += bias[oc] as i64;
                    }
                    let v = multiply_by_quantized_multiplier(acc as i32, mult[oc], shift[oc])
                        + p.out_zp;
                    out[(oy * p.out_w + ox) * p.out_c + oc] = v.clamp(p.act_min, p.act_max) as i8;
                }
            }
        }
        out
    }

    /// (in, k, stride, dil, pad_before, pad_after, out) along one axis, TFLite
    /// style (SAME puts the odd element last) or VALID.
    fn axis(rng: &mut Rng, same: bool) -> (usize, usize, usize, usize, usize, usize, usize) {
        let k = rng.usize(1, 5);
        let stride = rng.usize(1, 3);
        let dil = if rng.usize(0, 3) == 0 { 2 } else { 1 };
        let eff = (k - 1) * dil + 1;
        let input = rng.usize(eff, eff + 9);
        if same {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + eff).saturating_sub(input);
            (input, k, stride, dil, total / 2, total - total / 2, out)
        } else {
            (input, k, stride, dil, 0, 0, (input - eff) / stride + 1)
        }
    }

    #[test]
    fn random_geometries_match_reference() {
        let mut rng = Rng::new(1);
        for case in 0..400 {
            let same = case % 2 == 0;
            let (in_h, k_h, stride_h, dil_h, pt, pb, out_h) = axis(&mut rng, same);
            let (in_w, k_w, stride_w, dil_w, pl, pr, out_w) = axis(&mut rng, same);
            let groups = if case % 5 == 0 { rng.usize(2, 3) } else { 1 };
            let filter_in_c = rng.usize(1, 7);
            let in_c = filter_in_c * groups;
            let out_c = groups * rng.usize(1, 5);
            let p = Conv2dParams {
                stride_h,
                stride_w,
                dil_h,
                dil_w,
                pad_top: pt as i32,
                pad_left: pl as i32,
                in_zp: rng.range(-128, 127) as i32,
                out_zp: rng.range(-128, 127) as i32,
                act_min: rng.range(-128, -60) as i32,
                act_max: rng.range(60, 127) as i32,
                has_bias: case % 3 != 0,
                ..params(
                    (in_h, in_w, in_c),
                    (out_h, out_w, out_c),
                    (k_h, k_w, filter_in_c),
                )
            };
            let input = rng.i8s(in_h * in_w * in_c);
            let filter = rng.i8s(out_c * k_h * k_w * filter_in_c);
            let bias = if p.has_bias {
                rng.i32s(out_c, -5000, 5000)
            } else {
                vec![]
            };
            let (mult, shift): (Vec<i32>, Vec<i32>) = (0..out_c).map(|_| rng.multiplier()).unzip();
            let mut out = vec![0i8; out_h * out_w * out_c];
            conv2d(&p, &input, &filter, &bias, &mult, &shift, &mut out);
            let expected = reference(&p, pb, pr, &input, &filter, &bias, &mult, &shift);
            assert_eq!(out, expected, "case {case}: {p:?}");
        }
    }

    #[test]
    fn row_strides_and_signed_pads_compute_a_window() {
        // A full SAME 3x3 stride-2 conv on 11x9x3, then the same output rows
        // computed from a row window of the input (negative pad_top when the
        // window starts inside the image), written into a wider canvas.
        let mut rng = Rng::new(7);
        let (in_h, in_w, in_c, out_c) = (11, 9, 3, 4);
        let full = Conv2dParams {
            stride_h: 2,
            stride_w: 2,
            pad_top: 1,
            pad_left: 1,
            in_zp: -5,
            out_zp: 3,
            has_bias: true,
            ..params((in_h, in_w, in_c), (6, 5, out_c), (3, 3, in_c))
        };
        let input = rng.i8s(in_h * in_w * in_c);
        let filter = rng.i8s(out_c * 9 * in_c);
        let bias = rng.i32s(out_c, -3000, 3000);
        let (mult, shift): (Vec<i32>, Vec<i32>) = (0..out_c).map(|_| rng.multiplier()).unzip();
        let mut expected = vec![0i8; 6 * 5 * out_c];
        conv2d(&full, &input, &filter, &bias, &mult, &shift, &mut expected);

        for (oy0, oy1) in [(0, 2), (2, 4), (3, 6), (5, 6), (0, 6)] {
            // Input rows needed: oy0*2 - 1 ..= (oy1-1)*2 + 1, clipped.
            let first = (oy0 as isize * 2 - 1).max(0) as usize;
            let last = ((oy1 - 1) * 2 + 1).min(in_h - 1);
            let canvas_w = 8; // output pixels per canvas row (> out_w = 5)
            let win = Conv2dParams {
                in_h: last + 1 - first,
                out_h: oy1 - oy0,
                out_row_stride: canvas_w * out_c,
                pad_top: full.pad_top - (oy0 * 2) as i32 + first as i32,
                ..full
            };
            let mut canvas = vec![99i8; (oy1 - oy0) * canvas_w * out_c];
            conv2d(
                &win,
                &input[first * full.in_row_stride..],
                &filter,
                &bias,
                &mult,
                &shift,
                &mut canvas,
            );
            for r in 0..oy1 - oy0 {
                let row = &canvas[r * canvas_w * out_c..][..5 * out_c];
                assert_eq!(
                    row,
                    &expected[(oy0 + r) * 5 * out_c..][..5 * out_c],
                    "rows {oy0}..{oy1}"
                );
                // Canvas padding beyond out_w is untouched.
                assert!(
                    canvas[r * canvas_w * out_c + 5 * out_c..][..3 * out_c]
                        .iter()
                        .all(|&v| v == 99)
                );
            }
        }
    }

    #[test]
    fn column_window_with_row_stride() {
        // Input columns 3.. of a 6x10x2 tensor, read through in_row_stride.
        let mut rng = Rng::new(9);
        let (in_h, in_w, in_c, out_c) = (6, 10, 2, 3);
        let full = Conv2dParams {
            pad_top: 1,
            pad_left: 1,
            in_zp: 7,
            ..params((in_h, in_w, in_c), (in_h, in_w, out_c), (3, 3, in_c))
        };
        let input = rng.i8s(in_h * in_w * in_c);
        let filter = rng.i8s(out_c * 9 * in_c);
        let (mult, shift): (Vec<i32>, Vec<i32>) = (0..out_c).map(|_| rng.multiplier()).unzip();
        let mut expected = vec![0i8; in_h * in_w * out_c];
        conv2d(&full, &input, &filter, &[], &mult, &shift, &mut expected);
        // Output columns 4..8 need input columns 3..=8.
        let win = Conv2dParams {
            in_w: 6,
            out_w: 4,
            out_row_stride: 4 * out_c,
            pad_left: full.pad_left - 4 + 3,
            ..full
        };
        let mut out = vec![0i8; in_h * 4 * out_c];
        conv2d(
            &win,
            &input[3 * in_c..],
            &filter,
            &[],
            &mult,
            &shift,
            &mut out,
        );
        for y in 0..in_h {
            assert_eq!(
                &out[y * 4 * out_c..][..4 * out_c],
                &expected[(y * in_w + 4) * out_c..][..4 * out_c]
            );
        }
    }
}
