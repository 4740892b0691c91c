//! AVERAGE_POOL_2D and MAX_POOL_2D over int8 NHWC data (TFLM
//! `reference_integer_ops::AveragePool` / `MaxPool`).
//!
//! Both pool the raw int8 values: TFLM requires input and output to share
//! scale and zero point, so there is no requantization. For output pixel
//! `(oy, ox)` and channel `c` the window is the set of input pixels
//! `iy = oy*stride_h + ky - pad_top`, `ix = ox*stride_w + kx - pad_left`
//! (`ky < k_h`, `kx < k_w`) that lie inside `0..in_h` x `0..in_w`:
//!
//! ```text
//! avg: sum = sum of input over the window, n = number of window pixels
//!      out = (sum > 0 ? sum + n/2 : sum - n/2) / n     (C division, truncating)
//! max: out = max over the window (-128 for an empty window)
//! out = clamp(out, act_min, act_max)
//! ```
//!
//! Edge windows of SAME padding therefore average over the valid pixels only.
//! An empty average window (impossible with TFLite geometry; TFLM fails the
//! op) yields `clamp(0)`. Layout and the meaning of strides and signed pads
//! are those of [`crate::conv2d`]; the channel loop runs over `out_c`, input
//! pixels are `in_c` elements apart (normally `in_c == out_c`). Params come
//! from [`crate::prepare::pool2d`].

/// Parameters of [`avg_pool2d`] and [`max_pool2d`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct Pool2dParams {
    pub in_h: usize,
    pub in_w: usize,
    /// Elements between horizontally adjacent input pixels.
    pub in_c: usize,
    pub in_row_stride: usize,
    pub out_h: usize,
    pub out_w: usize,
    /// Channels pooled (and elements between adjacent output pixels).
    pub out_c: usize,
    pub out_row_stride: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: i32,
    pub pad_left: i32,
    pub act_min: i32,
    pub act_max: i32,
}

/// Int8 average pooling.
pub fn avg_pool2d(p: &Pool2dParams, input: &[i8], output: &mut [i8]) {
    for oy in 0..p.out_h {
        let in_y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
        let ky0 = (-in_y0).max(0) as usize;
        let ky1 = (p.in_h as isize - in_y0).clamp(0, p.k_h as isize) as usize;
        for ox in 0..p.out_w {
            let in_x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
            let kx0 = (-in_x0).max(0) as usize;
            let kx1 = (p.in_w as isize - in_x0).clamp(0, p.k_w as isize) as usize;
            let out_base = oy * p.out_row_stride + ox * p.out_c;
            for c in 0..p.out_c {
                let mut sum: i32 = 0;
                let mut count: i32 = 0;
                for ky in ky0..ky1 {
                    let row = (in_y0 + ky as isize) as usize * p.in_row_stride;
                    for kx in kx0..kx1 {
                        let ix = (in_x0 + kx as isize) as usize;
                        sum = sum.wrapping_add(input[row + ix * p.in_c + c] as i32);
                        count += 1;
                    }
                }
                let avg = if count > 0 {
                    if sum > 0 {
                        (sum + count / 2) / count
                    } else {
                        (sum - count / 2) / count
                    }
                } else {
                    0
                };
                output[out_base + c] = avg.max(p.act_min).min(p.act_max) as i8;
            }
        }
    }
}

/// Int8 max pooling.
pub fn max_pool2d(p: &Pool2dParams, input: &[i8], output: &mut [i8]) {
    for oy in 0..p.out_h {
        let in_y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
        let ky0 = (-in_y0).max(0) as usize;
        let ky1 = (p.in_h as isize - in_y0).clamp(0, p.k_h as isize) as usize;
        for ox in 0..p.out_w {
            let in_x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
            let kx0 = (-in_x0).max(0) as usize;
            let kx1 = (p.in_w as isize - in_x0).clamp(0, p.k_w as isize) as usize;
            let out_base = oy * p.out_row_stride + ox * p.out_c;
            for c in 0..p.out_c {
                let mut max = i8::MIN;
                for ky in ky0..ky1 {
                    let row = (in_y0 + ky as isize) as usize * p.in_row_stride;
                    for kx in kx0..kx1 {
                        let ix = (in_x0 + kx as isize) as usize;
                        max = max.max(input[row + ix * p.in_c + c]);
                    }
                }
                output[out_base + c] = (max as i32).max(p.act_min).min(p.act_max) as i8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn params(
        (in_h, in_w, c): (usize, usize, usize),
        (out_h, out_w): (usize, usize),
        (k_h, k_w): (usize, usize),
        (stride_h, stride_w): (usize, usize),
        (pad_top, pad_left): (i32, i32),
    ) -> Pool2dParams {
        Pool2dParams {
            in_h,
            in_w,
            in_c: c,
            in_row_stride: in_w * c,
            out_h,
            out_w,
            out_c: c,
            out_row_stride: out_w * c,
            k_h,
            k_w,
            stride_h,
            stride_w,
            pad_top,
            pad_left,
            act_min: -128,
            act_max: 127,
        }
    }

    #[test]
    fn avg_rounds_half_away_from_zero() {
        // 1x2 windows over [1, 2] and [-1, -2]: 1.5 -> 2, -1.5 -> -2.
        let p = params((1, 4, 1), (1, 2), (1, 2), (1, 2), (0, 0));
        let mut out = [0i8; 2];
        avg_pool2d(&p, &[1, 2, -1, -2], &mut out);
        assert_eq!(out, [2, -2]);
        // [1, 1, 2] / 3 = 1.33 -> 1 ; [-2, -2, -1] / 3 = -1.67 -> -2
        let p = params((1, 6, 1), (1, 2), (1, 3), (1, 3), (0, 0));
        avg_pool2d(&p, &[1, 1, 2, -2, -2, -1], &mut out);
        assert_eq!(out, [1, -2]);
    }

    #[test]
    fn same_edges_average_valid_pixels_only() {
        // 3x3 input, 3x3 window, stride 1, SAME (pad 1): the corner window has 4
        // valid pixels, the centre 9.
        let p = params((3, 3, 1), (3, 3), (3, 3), (1, 1), (1, 1));
        let input: Vec<i8> = vec![10, 20, 30, 40, 50, 60, 70, 80, 90];
        let mut out = [0i8; 9];
        avg_pool2d(&p, &input, &mut out);
        // corner (0,0): (10+20+40+50)/4 = 30; top (0,1): (10+20+30+40+50+60)/6 = 35
        // centre: 450/9 = 50; corner (2,2): (50+60+80+90)/4 = 70
        assert_eq!(out, [30, 35, 40, 45, 50, 55, 60, 65, 70]);
        max_pool2d(&p, &input, &mut out);
        assert_eq!(out, [50, 60, 60, 80, 90, 90, 80, 90, 90]);
    }

    #[test]
    fn activation_clamps() {
        let p = Pool2dParams {
            act_min: -5,
            act_max: 6,
            ..params((1, 2, 2), (1, 1), (1, 2), (1, 1), (0, 0))
        };
        let mut out = [0i8; 2];
        max_pool2d(&p, &[100, -100, 7, -7], &mut out);
        assert_eq!(out, [6, -5]);
        avg_pool2d(&p, &[100, -100, 7, -7], &mut out);
        assert_eq!(out, [6, -5]);
    }

    /// Reference: explicit window enumeration with bounds checks on every tap,
    /// rounding via exact rational arithmetic.
    fn reference(p: &Pool2dParams, input: &[i8], avg: bool) -> Vec<i8> {
        let mut out = vec![0i8; p.out_h * p.out_w * p.out_c];
        for oy in 0..p.out_h {
            for ox in 0..p.out_w {
                for c in 0..p.out_c {
                    let mut vals = Vec::new();
                    for ky in 0..p.k_h {
                        for kx in 0..p.k_w {
                            let iy = (oy * p.stride_h + ky) as i64 - p.pad_top as i64;
                            let ix = (ox * p.stride_w + kx) as i64 - p.pad_left as i64;
                            if iy >= 0 && iy < p.in_h as i64 && ix >= 0 && ix < p.in_w as i64 {
                                vals.push(
                                    input[iy as usize * p.in_row_stride + ix as usize * p.in_c + c]
                                        as i64,
                                );
                            }
                        }
                    }
                    let v = if avg {
                        let (s, n) = (vals.iter().sum::<i64>(), vals.len() as i64);
                        // round half away from zero of s / n
                        let r = (2 * s.abs() + n) / (2 * n);
                        if s < 0 { -r } else { r }
                    } else {
                        *vals.iter().max().unwrap()
                    };
                    out[(oy * p.out_w + ox) * p.out_c + c] =
                        v.clamp(p.act_min as i64, p.act_max as i64) as i8;
                }
            }
        }
        out
    }

    #[test]
    fn random_geometries_match_reference() {
        let mut rng = Rng::new(21);
        for case in 0..300 {
            let (k_h, k_w) = (rng.usize(1, 4), rng.usize(1, 4));
            let (s_h, s_w) = (rng.usize(1, 3), rng.usize(1, 3));
            let (in_h, in_w) = (rng.usize(k_h, 11), rng.usize(k_w, 11));
            let c = rng.usize(1, 6);
            let same = case % 2 == 0;
            let dim = |i: usize, k: usize, s: usize| {
                if same {
                    let o = i.div_ceil(s);
                    (o, (((o - 1) * s + k).saturating_sub(i) / 2) as i32)
                } else {
                    ((i - k) / s + 1, 0)
                }
            };
            let (out_h, pt) = dim(in_h, k_h, s_h);
            let (out_w, pl) = dim(in_w, k_w, s_w);
            let p = Pool2dParams {
                act_min: rng.range(-128, -20) as i32,
                act_max: rng.range(20, 127) as i32,
                ..params(
                    (in_h, in_w, c),
                    (out_h, out_w),
                    (k_h, k_w),
                    (s_h, s_w),
                    (pt, pl),
                )
            };
            let input = rng.i8s(in_h * in_w * c);
            let mut out = vec![0i8; out_h * out_w * c];
            avg_pool2d(&p, &input, &mut out);
            assert_eq!(out, reference(&p, &input, true), "avg case {case} {p:?}");
            max_pool2d(&p, &input, &mut out);
            assert_eq!(out, reference(&p, &input, false), "max case {case} {p:?}");
        }
    }

    #[test]
    fn window_with_negative_pad_and_wide_canvas() {
        let mut rng = Rng::new(4);
        let full = params((10, 8, 3), (5, 4), (3, 3), (2, 2), (0, 0));
        let full = Pool2dParams {
            pad_top: 1,
            pad_left: 1,
            ..full
        }; // SAME-like, 10 -> 5
        let input = rng.i8s(10 * 8 * 3);
        let mut expected = vec![0i8; 5 * 4 * 3];
        avg_pool2d(&full, &input, &mut expected);
        // Output rows 2..5 read input rows 3..=9; start the window at row 2 so
        // that pad_top = 1 - 4 + 2 = -1.
        let win = Pool2dParams {
            in_h: 8,
            out_h: 3,
            out_row_stride: 6 * 3,
            pad_top: -1,
            ..full
        };
        let mut canvas = vec![0i8; 3 * 6 * 3];
        avg_pool2d(&win, &input[2 * full.in_row_stride..], &mut canvas);
        for r in 0..3 {
            assert_eq!(&canvas[r * 18..][..12], &expected[(r + 2) * 12..][..12]);
        }
    }
}
