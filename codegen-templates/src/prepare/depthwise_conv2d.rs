//! DEPTHWISE_CONV_2D prepare (TFLM `depthwise_conv_common.cc`).

use super::conv2d::ConvQuant;
use super::{Activation, Result, Window2d, activation_range, check_zero_point, err};
use crate::depthwise_conv2d::DepthwiseConv2dParams;

/// Params plus per-output-channel requantization of
/// [`crate::depthwise_conv2d::depthwise_conv2d`].
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedDepthwiseConv2d {
    pub params: DepthwiseConv2dParams,
    pub out_mult: Vec<i32>,
    pub out_shift: Vec<i32>,
}

/// Prepares DEPTHWISE_CONV_2D on `[1, in_h, in_w, in_c]` with a
/// `[1, k_h, k_w, in_c * depth_multiplier]` filter. Filter scales are per
/// output channel (quantized dimension 3) or a single one.
pub fn depthwise_conv2d(
    window: &Window2d,
    in_c: usize,
    depth_multiplier: usize,
    q: &ConvQuant,
    act: Activation,
    has_bias: bool,
) -> Result<PreparedDepthwiseConv2d> {
    if in_c == 0 || depth_multiplier == 0 {
        return err("depthwise conv needs at least one channel and depth multiplier 1+");
    }
    check_zero_point(q.input.zero_point, "input")?;
    check_zero_point(q.output.zero_point, "output")?;
    let out_c = in_c * depth_multiplier;
    let w = window.resolve()?;
    let (out_mult, out_shift) =
        super::per_channel_multipliers(q.input.scale, q.filter_scales, q.output.scale, out_c)?;
    let (act_min, act_max) = activation_range(act, q.output)?;
    Ok(PreparedDepthwiseConv2d {
        params: DepthwiseConv2dParams {
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
            depth_multiplier,
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
    use crate::prepare::{Padding, Quant};

    #[test]
    fn odd_input_stride2_same() {
        let window = Window2d {
            in_h: 15,
            in_w: 15,
            k_h: 3,
            k_w: 3,
            stride_h: 2,
            stride_w: 2,
            dil_h: 1,
            dil_w: 1,
            padding: Padding::Same,
        };
        let scales = vec![0.003f32; 16];
        let q = ConvQuant {
            input: Quant::new(0.0078, 0),
            filter_scales: &scales,
            output: Quant::new(0.011, -7),
        };
        let p = depthwise_conv2d(&window, 8, 2, &q, Activation::Relu6, true).unwrap();
        assert_eq!(
            (p.params.out_h, p.params.pad_top, p.params.out_c),
            (8, 1, 16)
        );
        assert_eq!(p.out_mult.len(), 16);
        // 6 / 0.011 = 545 -> clamped to 127; 0 -> -7
        assert_eq!((p.params.act_min, p.params.act_max), (-7, 127));
        assert!(depthwise_conv2d(&window, 8, 1, &q, Activation::None, false).is_err());
    }
}
