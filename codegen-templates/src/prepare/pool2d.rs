//! AVERAGE_POOL_2D / MAX_POOL_2D prepare (TFLM `pooling_common.cc`
//! `PoolingPrepare`).

use super::{Activation, Padding, Quant, Result, Window2d, activation_range, err};
use crate::pool2d::Pool2dParams;

/// Pooling window on an `[1, in_h, in_w, channels]` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub padding: Padding,
}

fn prepare(g: &PoolGeometry, input: Quant, output: Quant, act: Activation) -> Result<Pool2dParams> {
    // TFLM: |s_in - s_out| (float) <= 1e-6 and equal zero points.
    let scale_diff = (input.scale - output.scale).abs() as f64;
    if scale_diff.is_nan() || scale_diff > 1.0e-6 {
        return err(format!(
            "pooling needs equal input/output scales, got {} and {}",
            input.scale, output.scale
        ));
    }
    if input.zero_point != output.zero_point {
        return err(format!(
            "pooling needs equal input/output zero points, got {} and {}",
            input.zero_point, output.zero_point
        ));
    }
    let w = Window2d {
        in_h: g.in_h,
        in_w: g.in_w,
        k_h: g.k_h,
        k_w: g.k_w,
        stride_h: g.stride_h,
        stride_w: g.stride_w,
        dil_h: 1,
        dil_w: 1,
        padding: g.padding,
    }
    .resolve()?;
    let (act_min, act_max) = activation_range(act, output)?;
    Ok(Pool2dParams {
        in_h: g.in_h,
        in_w: g.in_w,
        in_c: g.channels,
        in_row_stride: g.in_w * g.channels,
        out_h: w.out_h,
        out_w: w.out_w,
        out_c: g.channels,
        out_row_stride: w.out_w * g.channels,
        k_h: g.k_h,
        k_w: g.k_w,
        stride_h: g.stride_h,
        stride_w: g.stride_w,
        pad_top: w.pad_top,
        pad_left: w.pad_left,
        act_min,
        act_max,
    })
}

/// Prepares AVERAGE_POOL_2D.
pub fn avg_pool2d(
    g: &PoolGeometry,
    input: Quant,
    output: Quant,
    act: Activation,
) -> Result<Pool2dParams> {
    prepare(g, input, output, act)
}

/// Prepares MAX_POOL_2D.
pub fn max_pool2d(
    g: &PoolGeometry,
    input: Quant,
    output: Quant,
    act: Activation,
) -> Result<Pool2dParams> {
    prepare(g, input, output, act)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_3x3_and_scale_checks() {
        let g = PoolGeometry {
            in_h: 9,
            in_w: 9,
            channels: 8,
            k_h: 3,
            k_w: 3,
            stride_h: 1,
            stride_w: 1,
            padding: Padding::Same,
        };
        let q = Quant::new(0.007_841_92, 0);
        let p = avg_pool2d(&g, q, q, Activation::None).unwrap();
        assert_eq!((p.out_h, p.out_w, p.pad_top, p.pad_left), (9, 9, 1, 1));
        assert_eq!((p.act_min, p.act_max), (-128, 127));
        assert!(max_pool2d(&g, q, Quant::new(0.0079, 0), Activation::None).is_err());
        assert!(max_pool2d(&g, q, Quant::new(q.scale, 1), Activation::None).is_err());
        let p = max_pool2d(&g, q, Quant::new(q.scale + 1e-7, 0), Activation::Relu).unwrap();
        assert_eq!(p.act_min, 0);
    }
}
