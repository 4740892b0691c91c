//! FULLY_CONNECTED prepare (TFLM `fully_connected_common.cc`
//! `CalculateOpDataFullyConnected`).

use super::{Activation, Quant, Result, activation_range, check_scale, check_zero_point, err};
use crate::fully_connected::FullyConnectedParams;

/// Quantization inputs of FULLY_CONNECTED.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FcQuant<'a> {
    pub input: Quant,
    /// One scale (per tensor) or one per output unit (per channel).
    pub filter_scales: &'a [f32],
    /// Applied on the per-tensor path only (TFLM's behaviour).
    pub filter_zero_point: i32,
    pub output: Quant,
    /// First scale of the bias tensor, if it has one: TFLM's per-tensor
    /// path checks `|s_in*s_f - s_bias| / s_out <= 0.02`.
    pub bias_scale: Option<f32>,
}

/// Params plus requantization (1 or `out_depth` entries) of
/// [`crate::fully_connected::fully_connected`].
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedFullyConnected {
    pub params: FullyConnectedParams,
    pub out_mult: Vec<i32>,
    pub out_shift: Vec<i32>,
}

/// Prepares FULLY_CONNECTED: input flattened to `[rows, accum_depth]`,
/// weights `[out_depth, accum_depth]`.
///
/// Per tensor, TFLM's multiplier is `(double)(s_in * s_f) / (double)s_out`
/// with the product formed in **`float`** (`GetQuantizedConvolutionMultipler`);
/// per channel it is `(double)s_in * (double)s_f[n] / (double)s_out`.
pub fn fully_connected(
    rows: usize,
    accum_depth: usize,
    out_depth: usize,
    q: &FcQuant,
    act: Activation,
    has_bias: bool,
) -> Result<PreparedFullyConnected> {
    check_zero_point(q.input.zero_point, "input")?;
    check_zero_point(q.output.zero_point, "output")?;
    check_scale(q.input.scale, "input")?;
    check_scale(q.output.scale, "output")?;
    let per_channel = q.filter_scales.len() > 1;
    let (out_mult, out_shift) = if per_channel {
        if q.filter_scales.len() != out_depth {
            return err(format!(
                "{} filter scales for {out_depth} output units",
                q.filter_scales.len()
            ));
        }
        super::per_channel_multipliers(q.input.scale, q.filter_scales, q.output.scale, out_depth)?
    } else {
        let Some(&fs) = q.filter_scales.first() else {
            return err("filter has no scale");
        };
        check_scale(fs, "filter")?;
        if has_bias && let Some(bs) = q.bias_scale {
            let input_product_scale = q.input.scale as f64 * fs as f64;
            let scale_diff = (input_product_scale - bs as f64).abs();
            if scale_diff / q.output.scale as f64 > 0.02 {
                return err(format!(
                    "bias scale {bs} differs from input*filter scale {input_product_scale} \
                     by more than 2% of the output scale"
                ));
            }
        }
        let real = (q.input.scale * fs) as f64 / q.output.scale as f64;
        let (m, s) = super::quantize_multiplier(real);
        (vec![m], vec![s])
    };
    let (act_min, act_max) = activation_range(act, q.output)?;
    Ok(PreparedFullyConnected {
        params: FullyConnectedParams {
            rows,
            accum_depth,
            out_depth,
            in_zp: q.input.zero_point,
            filter_zp: q.filter_zero_point,
            out_zp: q.output.zero_point,
            act_min,
            act_max,
            has_bias,
            per_channel,
        },
        out_mult,
        out_shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::quantize_multiplier;

    #[test]
    fn per_tensor_product_is_formed_in_float() {
        let (si, sf, so) = (0.391_015_f32, 0.002_357_1_f32, 0.151_2_f32);
        let q = FcQuant {
            input: Quant::new(si, 89),
            filter_scales: &[sf],
            filter_zero_point: 0,
            output: Quant::new(so, -3),
            bias_scale: Some(si * sf),
        };
        let p = fully_connected(1, 640, 128, &q, Activation::Relu, true).unwrap();
        assert!(!p.params.per_channel);
        assert_eq!(
            (p.out_mult[0], p.out_shift[0]),
            quantize_multiplier((si * sf) as f64 / so as f64)
        );
        assert_eq!((p.params.act_min, p.params.act_max), (-3, 127));
        // A bias scale far from s_in * s_f is rejected, as TFLM does.
        let bad = FcQuant {
            bias_scale: Some(si * sf + 0.05 * so),
            ..q
        };
        assert!(fully_connected(1, 640, 128, &bad, Activation::None, true).is_err());
        // ...but only when there is a bias.
        assert!(fully_connected(1, 640, 128, &bad, Activation::None, false).is_ok());
    }

    #[test]
    fn per_channel_uses_doubles() {
        let scales = [0.01f32, 0.02];
        let q = FcQuant {
            input: Quant::new(0.5, 0),
            filter_scales: &scales,
            filter_zero_point: 0,
            output: Quant::new(0.3, 0),
            bias_scale: None,
        };
        let p = fully_connected(2, 4, 2, &q, Activation::None, false).unwrap();
        assert!(p.params.per_channel);
        for (c, &s) in scales.iter().enumerate() {
            let real = 0.5f64 * s as f64 / 0.3f32 as f64;
            assert_eq!((p.out_mult[c], p.out_shift[c]), quantize_multiplier(real));
        }
        assert!(fully_connected(2, 4, 3, &q, Activation::None, false).is_err());
    }
}
