//! DEPTHWISE_CONV_2D, int8 activations, int8 weights quantized per output
//! channel, int32 bias (TFLM `reference_integer_ops::DepthwiseConvPerChannel`).
//!
//! Contract, for output pixel `(oy, ox)`, input channel `ic` and
//! `m in 0..depth_multiplier`, output channel `oc = ic*depth_multiplier + m`:
//!
//! ```text
//! acc = sum over ky, kx with iy = oy*stride_h + ky*dil_h - pad_top in 0..in_h
//!                        and ix = ox*stride_w + kx*dil_w - pad_left in 0..in_w
//!       of filter[ky][kx][oc] * (input[iy][ix][ic] - in_zp)
//! acc += bias[oc]                                   (if has_bias)
//! out = clamp(MultiplyByQuantizedMultiplier(acc, mult[oc], shift[oc]) + out_zp,
//!             act_min, act_max)
//! ```
//!
//! Layouts and the meaning of strides and signed pads are those of
//! [`crate::conv2d`]; the filter is `[1][k_h][k_w][out_c]` with
//! `out_c = in_c * depth_multiplier`. Params come from
//! [`crate::prepare::depthwise_conv2d`].

/// Parameters of [`depthwise_conv2d`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct DepthwiseConv2dParams {
    pub in_h: usize,
    pub in_w: usize,
    /// Input channels (and elements between horizontally adjacent pixels).
    pub in_c: usize,
    pub in_row_stride: usize,
    pub out_h: usize,
    pub out_w: usize,
    /// Output channels, `in_c * depth_multiplier`.
    pub out_c: usize,
    pub out_row_stride: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub depth_multiplier: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dil_h: usize,
    pub dil_w: usize,
    pub pad_top: i32,
    pub pad_left: i32,
    pub in_zp: i32,
    pub out_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
    pub has_bias: bool,
}

/// Output channel `oc` (filtering input channel `ic`) at the output
/// position whose window starts at input row `in_y0`, column `in_x0`
/// (negative inside the padding). [`depthwise_conv2d`] and
/// [`depthwise_conv2d_in_place`] share it; the code generator inlines it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn depthwise_output(
    p: &DepthwiseConv2dParams,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    out_mult: &[i32],
    out_shift: &[i32],
    in_y0: isize,
    in_x0: isize,
    ic: usize,
    oc: usize,
) -> i8 {
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
            let x = (input[iy as usize * p.in_row_stride + ix as usize * p.in_c + ic] as i32)
                .wrapping_sub(p.in_zp);
            let w = filter[(ky * p.k_w + kx) * p.out_c + oc] as i32;
            acc = acc.wrapping_add(w.wrapping_mul(x));
        }
    }
    if p.has_bias {
        acc = acc.wrapping_add(bias[oc]);
    }
    let scaled =
        mcuc_runtime::fixed::multiply_by_quantized_multiplier(acc, out_mult[oc], out_shift[oc])
            .wrapping_add(p.out_zp);
    scaled.max(p.act_min).min(p.act_max) as i8
}

/// Int8 depthwise 2-D convolution, per-channel requantization.
pub fn depthwise_conv2d(
    p: &DepthwiseConv2dParams,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    out_mult: &[i32],
    out_shift: &[i32],
    output: &mut [i8],
) {
    for oy in 0..p.out_h {
        let in_y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
        for ox in 0..p.out_w {
            let in_x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
            let out_base = oy * p.out_row_stride + ox * p.out_c;
            for ic in 0..p.in_c {
                for m in 0..p.depth_multiplier {
                    let oc = ic * p.depth_multiplier + m;
                    output[out_base + oc] = depthwise_output(
                        p, input, filter, bias, out_mult, out_shift, in_y0, in_x0, ic, oc,
                    );
                }
            }
        }
    }
}

/// [`depthwise_conv2d`] computed in place, for depth multiplier 1: `data`
/// holds the input on entry and the output on return; `scratch` holds one
/// output channel (`out_h * out_w` bytes).
///
/// Same arithmetic as [`depthwise_conv2d`], in the same order, so the
/// results are bit-identical; only the memory traffic differs. Channel by
/// channel, the output plane of channel `c` is computed into `scratch`
/// (reading input channel `c` from `data`), then scattered over `data` at
/// the output positions of channel `c`. In NHWC with `out_c == in_c` and
/// row strides that are multiples of the channel count, those positions are
/// congruent to `c` modulo the channel count, like input channel `c`'s: the
/// scatter overwrites only bytes of channel `c`, which no later channel
/// reads. This holds for any stride (the output is a prefix of the input's
/// bytes, as in TinyEngine's in-place depthwise kernels), padding and
/// dilation, as long as the output is not larger than the input.
pub fn depthwise_conv2d_in_place(
    p: &DepthwiseConv2dParams,
    data: &mut [i8],
    filter: &[i8],
    bias: &[i32],
    out_mult: &[i32],
    out_shift: &[i32],
    scratch: &mut [i8],
) {
    for c in 0..p.in_c {
        for oy in 0..p.out_h {
            let in_y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
            for ox in 0..p.out_w {
                let in_x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
                scratch[oy * p.out_w + ox] = depthwise_output(
                    p, data, filter, bias, out_mult, out_shift, in_y0, in_x0, c, c,
                );
            }
        }
        for oy in 0..p.out_h {
            for ox in 0..p.out_w {
                data[oy * p.out_row_stride + ox * p.out_c + c] = scratch[oy * p.out_w + ox];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv2d::{Conv2dParams, conv2d};
    use crate::testutil::Rng;

    fn params(
        (in_h, in_w, in_c): (usize, usize, usize),
        (out_h, out_w): (usize, usize),
        (k_h, k_w, depth_multiplier): (usize, usize, usize),
    ) -> DepthwiseConv2dParams {
        DepthwiseConv2dParams {
            in_h,
            in_w,
            in_c,
            in_row_stride: in_w * in_c,
            out_h,
            out_w,
            out_c: in_c * depth_multiplier,
            out_row_stride: out_w * in_c * depth_multiplier,
            k_h,
            k_w,
            depth_multiplier,
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
    fn hand_computed_two_channels() {
        // 2x2x2 input, 2x2 filter, VALID -> one pixel, two channels.
        let p = DepthwiseConv2dParams {
            in_zp: 1,
            out_zp: 2,
            has_bias: true,
            ..params((2, 2, 2), (1, 1), (2, 2, 1))
        };
        // channel 0: 1,2,3,4 ; channel 1: -1,-2,-3,-4 (interleaved HWC)
        let input = [1i8, -1, 2, -2, 3, -3, 4, -4];
        // filter [ky][kx][c]: channel 0 weights 1,1,1,1 ; channel 1 weights 1,0,0,2
        let filter = [1i8, 1, 1, 0, 1, 0, 1, 2];
        let mut out = [0i8; 2];
        depthwise_conv2d(
            &p,
            &input,
            &filter,
            &[100, -1],
            &[1 << 30; 2],
            &[1; 2],
            &mut out,
        );
        // ch0: (0+1+2+3) + 100 + 2 = 108; ch1: 1*(-2) + 2*(-5) - 1 + 2 = -11
        assert_eq!(out, [108, -11]);
    }

    /// Depthwise equals a grouped convolution with `groups = in_c`, one input
    /// channel per group and the filter transposed to `[oc][ky][kx][1]`.
    #[test]
    fn random_cases_match_grouped_conv() {
        let mut rng = Rng::new(3);
        for case in 0..300 {
            let k_h = rng.usize(1, 5);
            let k_w = rng.usize(1, 5);
            let (stride_h, stride_w) = (rng.usize(1, 2), rng.usize(1, 2));
            let (dil_h, dil_w) = (rng.usize(1, 2), rng.usize(1, 2));
            let in_h = rng.usize((k_h - 1) * dil_h + 1, 12);
            let in_w = rng.usize((k_w - 1) * dil_w + 1, 12);
            let in_c = rng.usize(1, 9);
            let dm = if case % 4 == 0 { rng.usize(2, 3) } else { 1 };
            let out_c = in_c * dm;
            // Arbitrary (possibly asymmetric or over-large) pads.
            let pad_top = rng.usize(0, k_h);
            let pad_left = rng.usize(0, k_w);
            let pad_bottom = rng.usize(0, k_h);
            let pad_right = rng.usize(0, k_w);
            let out_h = (in_h + pad_top + pad_bottom - (k_h - 1) * dil_h - 1) / stride_h + 1;
            let out_w = (in_w + pad_left + pad_right - (k_w - 1) * dil_w - 1) / stride_w + 1;
            let p = DepthwiseConv2dParams {
                stride_h,
                stride_w,
                dil_h,
                dil_w,
                pad_top: pad_top as i32,
                pad_left: pad_left as i32,
                in_zp: rng.range(-128, 127) as i32,
                out_zp: rng.range(-128, 127) as i32,
                act_min: rng.range(-128, -50) as i32,
                act_max: rng.range(50, 127) as i32,
                has_bias: case % 2 == 0,
                ..params((in_h, in_w, in_c), (out_h, out_w), (k_h, k_w, dm))
            };
            let input = rng.i8s(in_h * in_w * in_c);
            let filter = rng.i8s(k_h * k_w * out_c);
            let bias = if p.has_bias {
                rng.i32s(out_c, -9000, 9000)
            } else {
                vec![]
            };
            let (mult, shift): (Vec<i32>, Vec<i32>) = (0..out_c).map(|_| rng.multiplier()).unzip();
            let mut out = vec![0i8; out_h * out_w * out_c];
            depthwise_conv2d(&p, &input, &filter, &bias, &mult, &shift, &mut out);

            let mut grouped_filter = vec![0i8; filter.len()];
            for oc in 0..out_c {
                for k in 0..k_h * k_w {
                    grouped_filter[oc * k_h * k_w + k] = filter[k * out_c + oc];
                }
            }
            let cp = Conv2dParams {
                in_h,
                in_w,
                in_c,
                in_row_stride: p.in_row_stride,
                out_h,
                out_w,
                out_c,
                out_row_stride: p.out_row_stride,
                k_h,
                k_w,
                filter_in_c: 1,
                stride_h,
                stride_w,
                dil_h,
                dil_w,
                pad_top: p.pad_top,
                pad_left: p.pad_left,
                in_zp: p.in_zp,
                out_zp: p.out_zp,
                act_min: p.act_min,
                act_max: p.act_max,
                has_bias: p.has_bias,
            };
            let mut expected = vec![0i8; out.len()];
            conv2d(
                &cp,
                &input,
                &grouped_filter,
                &bias,
                &mult,
                &shift,
                &mut expected,
            );
            assert_eq!(out, expected, "case {case}: {p:?}");
        }
    }

    #[test]
    fn row_window_with_negative_pad_matches_full_run() {
        let mut rng = Rng::new(5);
        let (in_h, in_w, in_c) = (9, 7, 5);
        let full = DepthwiseConv2dParams {
            pad_top: 1,
            pad_left: 1,
            in_zp: 4,
            out_zp: -9,
            has_bias: true,
            ..params((in_h, in_w, in_c), (in_h, in_w), (3, 3, 2))
        };
        let out_c = full.out_c;
        let input = rng.i8s(in_h * in_w * in_c);
        let filter = rng.i8s(9 * out_c);
        let bias = rng.i32s(out_c, -2000, 2000);
        let (mult, shift): (Vec<i32>, Vec<i32>) = (0..out_c).map(|_| rng.multiplier()).unzip();
        let mut expected = vec![0i8; in_h * in_w * out_c];
        depthwise_conv2d(&full, &input, &filter, &bias, &mult, &shift, &mut expected);
        // Output rows 4..7 read input rows 3..=7: window starts at row 3, so
        // output row 4 reads window row 4 + ky - 1 - 3 -> pad_top = 1 - 4 + 3 = 0;
        // starting the window one row earlier than needed gives pad_top = -1.
        for (first, oy0) in [(3usize, 4usize), (2, 4)] {
            let win = DepthwiseConv2dParams {
                in_h: 8 - first,
                out_h: 3,
                pad_top: full.pad_top - oy0 as i32 + first as i32,
                ..full
            };
            let mut out = vec![0i8; 3 * in_w * out_c];
            depthwise_conv2d(
                &win,
                &input[first * full.in_row_stride..],
                &filter,
                &bias,
                &mult,
                &shift,
                &mut out,
            );
            assert_eq!(out, expected[oy0 * in_w * out_c..][..3 * in_w * out_c]);
        }
    }

    /// The in-place kernel equals the out-of-place one on random geometry
    /// (strides 1 and 2, SAME-like and VALID padding, dilation), with the
    /// bytes past the output left as they were by the scatter only.
    #[test]
    fn in_place_matches_out_of_place() {
        let mut rng = Rng::new(11);
        let mut checked = 0;
        for case in 0..400 {
            let k_h = rng.usize(1, 5);
            let k_w = rng.usize(1, 5);
            let (stride_h, stride_w) = (rng.usize(1, 2), rng.usize(1, 2));
            let (dil_h, dil_w) = if case % 3 == 0 {
                (rng.usize(1, 2), rng.usize(1, 2))
            } else {
                (1, 1)
            };
            let in_h = rng.usize((k_h - 1) * dil_h + 1, 12);
            let in_w = rng.usize((k_w - 1) * dil_w + 1, 12);
            let in_c = rng.usize(1, 9);
            // VALID (no padding) or TFLite SAME (output = ceil(in / stride)).
            let same = case % 2 == 0;
            let (pad_top, pad_bottom, pad_left, pad_right) = if same {
                let need = |n: usize, s: usize, k: usize, d: usize| {
                    let out = n.div_ceil(s);
                    ((out - 1) * s + (k - 1) * d + 1).saturating_sub(n)
                };
                let nh = need(in_h, stride_h, k_h, dil_h);
                let nw = need(in_w, stride_w, k_w, dil_w);
                (nh / 2, nh - nh / 2, nw / 2, nw - nw / 2)
            } else {
                (0, 0, 0, 0)
            };
            let out_h = (in_h + pad_top + pad_bottom - (k_h - 1) * dil_h - 1) / stride_h + 1;
            let out_w = (in_w + pad_left + pad_right - (k_w - 1) * dil_w - 1) / stride_w + 1;
            if out_h * out_w > in_h * in_w {
                continue; // larger output: never planned in place
            }
            let p = DepthwiseConv2dParams {
                stride_h,
                stride_w,
                dil_h,
                dil_w,
                pad_top: pad_top as i32,
                pad_left: pad_left as i32,
                in_zp: rng.range(-128, 127) as i32,
                out_zp: rng.range(-128, 127) as i32,
                act_min: rng.range(-128, -50) as i32,
                act_max: rng.range(50, 127) as i32,
                has_bias: case % 4 != 1,
                ..params((in_h, in_w, in_c), (out_h, out_w), (k_h, k_w, 1))
            };
            let input = rng.i8s(in_h * in_w * in_c);
            let filter = rng.i8s(k_h * k_w * in_c);
            let bias = if p.has_bias {
                rng.i32s(in_c, -9000, 9000)
            } else {
                vec![]
            };
            let (mult, shift): (Vec<i32>, Vec<i32>) = (0..in_c).map(|_| rng.multiplier()).unzip();
            let mut expected = vec![0i8; out_h * out_w * in_c];
            depthwise_conv2d(&p, &input, &filter, &bias, &mult, &shift, &mut expected);
            let mut data = input.clone();
            let mut scratch = vec![0i8; out_h * out_w];
            depthwise_conv2d_in_place(&p, &mut data, &filter, &bias, &mult, &shift, &mut scratch);
            assert_eq!(&data[..expected.len()], &expected[..], "case {case}: {p:?}");
            checked += 1;
        }
        assert!(
            checked > 300,
            "only {checked} cases had an output that fits"
        );
    }
}
