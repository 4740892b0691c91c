//! CONV_2D prepare (TFLM `conv_common.cc` `CalculateOpDataConv` +
//! `PopulateConvolutionQuantizationParams`).

use super::{Activation, Quant, Result, Window2d, activation_range, check_zero_point, err};
use crate::conv2d::Conv2dParams;

/// Quantization inputs of a convolution-like op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvQuant<'a> {
    pub input: Quant,
    /// One scale (per tensor, broadcast) or one per output channel. Filter
    /// zero points are ignored by TFLM's int8 kernels (assumed 0).
    pub filter_scales: &'a [f32],
    pub output: Quant,
}

/// Params plus per-output-channel requantization of [`crate::conv2d::conv2d`].
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedConv2d {
    pub params: Conv2dParams,
    pub out_mult: Vec<i32>,
    pub out_shift: Vec<i32>,
}

/// Prepares CONV_2D on a `[1, in_h, in_w, in_c]` input with a
/// `[out_c, k_h, k_w, filter_in_c]` filter (`in_c % filter_in_c == 0`,
/// grouped when smaller). Bias, if any, is `[out_c]` int32; its quantization
/// is not used (TFLM ignores it for int8, which is why person_detect's
/// `quantized_dimension = 3` on 1-D biases is harmless).
pub fn conv2d(
    window: &Window2d,
    in_c: usize,
    out_c: usize,
    filter_in_c: usize,
    q: &ConvQuant,
    act: Activation,
    has_bias: bool,
) -> Result<PreparedConv2d> {
    if filter_in_c == 0 || !in_c.is_multiple_of(filter_in_c) {
        return err(format!(
            "filter input channels {filter_in_c} do not divide input channels {in_c}"
        ));
    }
    let groups = in_c / filter_in_c;
    if out_c == 0 || !out_c.is_multiple_of(groups) {
        return err(format!(
            "{out_c} output channels not divisible into {groups} groups"
        ));
    }
    check_zero_point(q.input.zero_point, "input")?;
    check_zero_point(q.output.zero_point, "output")?;
    let w = window.resolve()?;
    let (out_mult, out_shift) =
        super::per_channel_multipliers(q.input.scale, q.filter_scales, q.output.scale, out_c)?;
    let (act_min, act_max) = activation_range(act, q.output)?;
    Ok(PreparedConv2d {
        params: Conv2dParams {
            in_h: window.in_h,
            in_w: window.in_w,
            in_c,
            in_row_stride: window.in_w * in_c,
            out_h: w.out_h,
            out_w: w.out_w,
            out_c,
            out_row_stride: w.out_w * out_c,
            k_h: window.k_h,
            k_w: window.k_w,
            filter_in_c,
            stride_h: window.stride_h,
            stride_w: window.stride_w,
            dil_h: window.dil_h,
            dil_w: window.dil_w,
            pad_top: w.pad_top,
            pad_left: w.pad_left,
            in_zp: q.input.zero_point,
            out_zp: q.output.zero_point,
            act_min,
            act_max,
            has_bias,
        },
        out_mult,
        out_shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::{Padding, quantize_multiplier};

    #[test]
    fn same_stride2_even_input() {
        let window = Window2d {
            in_h: 16,
            in_w: 16,
            k_h: 3,
            k_w: 3,
            stride_h: 2,
            stride_w: 2,
            dil_h: 1,
            dil_w: 1,
            padding: Padding::Same,
        };
        let scales = [0.01f32, 0.02, 0.004];
        let q = ConvQuant {
            input: Quant::new(0.007_842_88, 0),
            filter_scales: &scales,
            output: Quant::new(0.011_393_1, 9),
        };
        let p = conv2d(&window, 3, 3, 3, &q, Activation::Relu, true).unwrap();
        assert_eq!((p.params.out_h, p.params.out_w), (8, 8));
        assert_eq!((p.params.pad_top, p.params.pad_left), (0, 0));
        assert_eq!((p.params.act_min, p.params.act_max), (9, 127));
        for (c, &s) in scales.iter().enumerate() {
            // (double)s_in * (double)s_f / (double)s_out
            let real = 0.007_842_88f32 as f64 * s as f64 / 0.011_393_1f32 as f64;
            assert_eq!((p.out_mult[c], p.out_shift[c]), quantize_multiplier(real));
        }
        // A single filter scale is broadcast.
        let q1 = ConvQuant {
            filter_scales: &scales[..1],
            ..q
        };
        let p1 = conv2d(&window, 3, 3, 3, &q1, Activation::None, false).unwrap();
        assert_eq!(p1.out_mult, vec![p.out_mult[0]; 3]);
        // Wrong number of scales, bad groups.
        assert!(
            conv2d(
                &window,
                3,
                3,
                3,
                &ConvQuant {
                    filter_scales: &scales[..2],
                    ..q
                },
                Activation::None,
                false
            )
            .is_err()
        );
        assert!(conv2d(&window, 4, 3, 3, &q, Activation::None, false).is_err());
    }
}
