//! Parameter preparation (feature `host`): model-level quantization (float
//! scales, zero points, shapes) -> kernel params, computed exactly as
//! TFLite-Micro's `Prepare` functions compute them (commit `90b983c2`).
//!
//! Each submodule is named after the kernel file it prepares for and has a
//! function named after the kernel, e.g. [`conv2d::conv2d`] builds a
//! [`crate::conv2d::Conv2dParams`] plus the per-channel multipliers.
//! Where TFLM's `Prepare` would fail (`TF_LITE_ENSURE`/`TFLITE_CHECK`), the
//! function returns a [`PrepareError`] naming the violated condition, so the
//! compiler rejects exactly the models TFLM rejects.
//!
//! Precision matters for bit-exactness and follows the C++: scales are `f32`
//! tensor parameters; products/quotients are formed in `f64` unless TFLM
//! forms them in `f32` first (noted at each site).

pub mod add;
pub mod concatenation;
pub mod conv2d;
pub mod copy;
pub mod depthwise_conv2d;
pub mod dequantize;
pub mod fully_connected;
pub mod logistic;
pub mod mean;
pub mod mul;
pub mod pad;
pub mod pool2d;
pub mod quantize;
pub mod relu;
pub mod softmax;
pub mod tanh;

use std::fmt;

/// Why TFLM would refuse the op (its `Prepare` would return an error or
/// abort on a `TFLITE_CHECK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareError(pub String);

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrepareError {}

pub type Result<T> = std::result::Result<T, PrepareError>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(PrepareError(msg.into()))
}

/// Per-tensor affine quantization of an int8 tensor: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Quant {
    pub scale: f32,
    pub zero_point: i32,
}

impl Quant {
    pub fn new(scale: f32, zero_point: i32) -> Quant {
        Quant { scale, zero_point }
    }
}

/// A fused activation (TFLite `fused_activation_function`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    None,
    Relu,
    Relu6,
    ReluN1To1,
}

/// Spatial padding of CONV_2D / DEPTHWISE_CONV_2D / pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Padding {
    /// TFLite SAME: output `ceil(in / stride)`, total padding split with the
    /// odd element at the bottom/right.
    Same,
    /// TFLite VALID: no padding.
    Valid,
    /// Explicit element counts (ONNX pads, or SAME already resolved). Output
    /// size is `(in + before + after - effective_kernel) / stride + 1`.
    Explicit {
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    },
}

/// Geometry of one spatial window op on an `[1, in_h, in_w, C]` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window2d {
    pub in_h: usize,
    pub in_w: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dil_h: usize,
    pub dil_w: usize,
    pub padding: Padding,
}

/// Output size and leading pad of a window op, as TFLM's
/// `ComputePaddingHeightWidth` computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOut {
    pub out_h: usize,
    pub out_w: usize,
    pub pad_top: i32,
    pub pad_left: i32,
}

impl Window2d {
    pub fn resolve(&self) -> Result<WindowOut> {
        let (out_h, pad_top) = window_axis(
            self.in_h,
            self.k_h,
            self.stride_h,
            self.dil_h,
            self.padding,
            true,
        )?;
        let (out_w, pad_left) = window_axis(
            self.in_w,
            self.k_w,
            self.stride_w,
            self.dil_w,
            self.padding,
            false,
        )?;
        Ok(WindowOut {
            out_h,
            out_w,
            pad_top,
            pad_left,
        })
    }
}

/// One axis of `ComputePaddingHeightWidth` (`padding.h`): `ComputeOutSize`
/// then `ComputePaddingWithOffset` (padding = max(0, total) / 2).
fn window_axis(
    input: usize,
    k: usize,
    stride: usize,
    dil: usize,
    padding: Padding,
    vertical: bool,
) -> Result<(usize, i32)> {
    if k == 0 || stride == 0 || dil == 0 {
        return err(format!(
            "window needs positive kernel, stride and dilation (k={k} stride={stride} dil={dil})"
        ));
    }
    let eff = (k - 1) * dil + 1;
    match padding {
        Padding::Same | Padding::Valid => {
            let out = if padding == Padding::Same {
                input.div_ceil(stride)
            } else {
                if input + stride < eff {
                    return err(format!("window {eff} larger than input {input}"));
                }
                (input + stride - eff) / stride
            };
            if out == 0 {
                return err(format!("window {eff} leaves no output on input {input}"));
            }
            let total = ((out - 1) * stride + eff) as i64 - input as i64;
            Ok((out, (total.max(0) / 2) as i32))
        }
        Padding::Explicit {
            top,
            bottom,
            left,
            right,
        } => {
            let (before, after) = if vertical {
                (top, bottom)
            } else {
                (left, right)
            };
            let padded = input + before + after;
            if padded < eff {
                return err(format!("window {eff} larger than padded input {padded}"));
            }
            Ok(((padded - eff) / stride + 1, before as i32))
        }
    }
}

/// C `frexp`: `x = m * 2^e` with `0.5 <= |m| < 1` (`(0, 0)` for zero).
/// Only for finite `x`.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp_field = ((bits >> 52) & 0x7ff) as i32;
    if exp_field == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, exp_field - 1022)
}

/// TFLite `QuantizeMultiplier` (double-rounding build): `real ~= m * 2^shift
/// / 2^31` with `m` in `[2^30, 2^31)` (or 0).
///
/// `frexp`, the mantissa scaled by `2^31` and rounded half away from zero; a
/// mantissa that rounds up to `2^31` is halved with the shift incremented;
/// shifts below -31 flush to `(0, 0)`.
///
/// # Panics
/// On a non-finite `real` (TFLM aborts on its `TFLITE_CHECK` there). The
/// prepare functions validate scales before calling this.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    assert!(
        real.is_finite(),
        "QuantizeMultiplier of a non-finite value {real}"
    );
    if real == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = frexp(real);
    let mut q_fixed = (q * (1u64 << 31) as f64).round() as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// TFLite `QuantizeMultiplierSmallerThanOneExp`: requires `0 < real < 1`.
pub fn quantize_multiplier_smaller_than_one_exp(real: f64) -> Result<(i32, i32)> {
    if !(real > 0.0 && real < 1.0) {
        return err(format!("multiplier {real} must be in (0, 1)"));
    }
    Ok(quantize_multiplier(real))
}

/// TFLite `QuantizeMultiplierGreaterThanOne`: requires `real > 1`.
pub fn quantize_multiplier_greater_than_one(real: f64) -> Result<(i32, i32)> {
    if !(real > 1.0 && real.is_finite()) {
        return err(format!("multiplier {real} must be greater than 1"));
    }
    Ok(quantize_multiplier(real))
}

/// TFLite `CalculateInputRadius` (float build): `floor((2^bits - 1) *
/// 2^(total - bits) / 2^left_shift)`.
pub fn calculate_input_radius(
    input_integer_bits: i32,
    input_left_shift: i32,
    total_signed_bits: i32,
) -> i32 {
    let max_input_rescaled = 1.0
        * ((1i64 << input_integer_bits) - 1) as f64
        * 2f64.powi(total_signed_bits - input_integer_bits)
        / 2f64.powi(input_left_shift);
    max_input_rescaled.floor() as i32
}

/// TFLite `PreprocessSoftmaxScaling` (double-rounding build):
/// `QuantizeMultiplierGreaterThanOne(min(beta * s * 2^(31 - bits), 2^31 - 1))`.
pub fn preprocess_softmax_scaling(
    beta: f64,
    input_scale: f64,
    input_integer_bits: i32,
) -> Result<(i32, i32)> {
    let max_real_multiplier = ((1i64 << 31) - 1) as f64;
    let real =
        (beta * input_scale * (1i64 << (31 - input_integer_bits)) as f64).min(max_real_multiplier);
    quantize_multiplier_greater_than_one(real)
}

/// The quantized `Quantize(scale, zp, f)` of `kernel_util.cc`:
/// `zp + (int)roundf(f / scale)` with the division in `f32`.
fn quantize_activation_bound(out: Quant, f: f32) -> Result<i32> {
    let tmp = (f / out.scale) as f64;
    let tmp = tmp.round();
    if !(tmp >= i32::MIN as f64 && tmp <= 2147483648.0) {
        return err(format!(
            "activation bound {f} overflows int32 at scale {}",
            out.scale
        ));
    }
    Ok(out.zero_point.wrapping_add(tmp as i32))
}

/// TFLite `CalculateActivationRangeQuantized` for an int8 output.
pub fn activation_range(act: Activation, out: Quant) -> Result<(i32, i32)> {
    check_scale(out.scale, "output")?;
    let (qmin, qmax) = (-128, 127);
    Ok(match act {
        Activation::None => (qmin, qmax),
        Activation::Relu => (qmin.max(quantize_activation_bound(out, 0.0)?), qmax),
        Activation::Relu6 => (
            qmin.max(quantize_activation_bound(out, 0.0)?),
            qmax.min(quantize_activation_bound(out, 6.0)?),
        ),
        Activation::ReluN1To1 => (
            qmin.max(quantize_activation_bound(out, -1.0)?),
            qmax.min(quantize_activation_bound(out, 1.0)?),
        ),
    })
}

/// Per-output-channel multipliers of CONV_2D / DEPTHWISE_CONV_2D /
/// per-channel FULLY_CONNECTED (`PopulateConvolutionQuantizationParams`):
/// `QuantizeMultiplier((double)s_in * (double)s_filter[c] / (double)s_out)`,
/// a single filter scale being broadcast to all channels.
pub fn per_channel_multipliers(
    input_scale: f32,
    filter_scales: &[f32],
    output_scale: f32,
    channels: usize,
) -> Result<(Vec<i32>, Vec<i32>)> {
    check_scale(input_scale, "input")?;
    check_scale(output_scale, "output")?;
    if filter_scales.len() != 1 && filter_scales.len() != channels {
        return err(format!(
            "{} filter scales for {channels} output channels (need 1 or {channels})",
            filter_scales.len()
        ));
    }
    let mut mult = Vec::with_capacity(channels);
    let mut shift = Vec::with_capacity(channels);
    for c in 0..channels {
        let s = if filter_scales.len() == 1 {
            filter_scales[0]
        } else {
            filter_scales[c]
        };
        if !s.is_finite() {
            return err(format!("filter scale {s} of channel {c} is not finite"));
        }
        let effective = input_scale as f64 * s as f64 / output_scale as f64;
        let (m, e) = quantize_multiplier(effective);
        mult.push(m);
        shift.push(e);
    }
    Ok((mult, shift))
}

pub(crate) fn check_scale(scale: f32, role: &str) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        err(format!("{role} scale {scale} must be finite and positive"))
    }
}

pub(crate) fn check_zero_point(zp: i32, role: &str) -> Result<()> {
    if (-128..=127).contains(&zp) {
        Ok(())
    } else {
        err(format!("{role} zero point {zp} outside int8"))
    }
}

/// Row-major strides of `shape`.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![0; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        s[i] = acc;
        acc *= shape[i];
    }
    s
}

/// Numpy broadcasting of two shapes folded into a 6-D loop nest for
/// [`crate::add`] / [`crate::mul`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast6 {
    /// The broadcast output shape at full rank.
    pub out_shape: Vec<usize>,
    /// Loop extents, outermost first.
    pub dims: [usize; 6],
    /// Element strides of input 1 / input 2 per loop (0 on broadcast).
    pub a_strides: [usize; 6],
    pub b_strides: [usize; 6],
}

/// Right-aligns `a` and `b`, checks numpy compatibility, drops unit output
/// dims and merges adjacent dims whose strides are contiguous in both
/// inputs (as TFLM's `BroadcastBinaryOpSimple` fuses loops). Fails if more
/// than 6 loops remain.
pub fn broadcast_6d(a: &[usize], b: &[usize]) -> Result<Broadcast6> {
    let rank = a.len().max(b.len());
    let ext = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (ea, eb) = (ext(a), ext(b));
    let mut out = vec![0; rank];
    for i in 0..rank {
        out[i] = match (ea[i], eb[i]) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    let (sa, sb) = (strides(&ea), strides(&eb));
    // (extent, a stride, b stride) per non-unit output dim, outermost first.
    let mut loops: Vec<(usize, usize, usize)> = Vec::new();
    for i in 0..rank {
        if out[i] == 1 {
            continue;
        }
        let a_s = if ea[i] == 1 { 0 } else { sa[i] };
        let b_s = if eb[i] == 1 { 0 } else { sb[i] };
        if let Some(last) = loops.last_mut() {
            // Merge into the previous (outer) loop when stepping the outer
            // index equals stepping this one `out[i]` times, for both inputs.
            if last.1 == a_s * out[i] && last.2 == b_s * out[i] {
                *last = (last.0 * out[i], a_s, b_s);
                continue;
            }
        }
        loops.push((out[i], a_s, b_s));
    }
    if loops.len() > 6 {
        return err(format!(
            "broadcast of {a:?} and {b:?} needs {} loops, at most 6 are supported",
            loops.len()
        ));
    }
    let mut dims = [1; 6];
    let mut a_strides = [0; 6];
    let mut b_strides = [0; 6];
    let offset = 6 - loops.len();
    for (k, &(d, x, y)) in loops.iter().enumerate() {
        dims[offset + k] = d;
        a_strides[offset + k] = x;
        b_strides[offset + k] = y;
    }
    Ok(Broadcast6 {
        out_shape: out,
        dims,
        a_strides,
        b_strides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_c() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.75), (0.75, 0));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(0.0), (0.0, 0));
        assert_eq!(frexp(f64::MIN_POSITIVE / 4.0), (0.5, -1023));
        assert_eq!(frexp(2f64.powi(-1074)), (0.5, -1073));
    }

    #[test]
    fn quantize_multiplier_known_values() {
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(0.75), (1_610_612_736, 0));
        assert_eq!(quantize_multiplier(2.0), (1 << 30, 2));
        assert_eq!(quantize_multiplier(-0.5), (-(1 << 30), 0));
        // Mantissa rounding up to 2^31 renormalizes: 1 - 2^-40.
        assert_eq!(quantize_multiplier(1.0 - 2f64.powi(-40)), (1 << 30, 1));
        // Tiny multipliers flush to zero below 2^-32.
        assert_eq!(quantize_multiplier(2f64.powi(-32)), (1 << 30, -31));
        assert_eq!(quantize_multiplier(2f64.powi(-33)), (0, 0));
        // Rounding half away from zero of q * 2^31.
        let (m, s) = quantize_multiplier(0.007_843_137_718_737_125 * 0.003_5 / 0.02);
        let real = 0.007_843_137_718_737_125 * 0.003_5 / 0.02;
        assert_eq!(s, frexp(real).1);
        assert_eq!(m as i64, (frexp(real).0 * 2f64.powi(31)).round() as i64);
    }

    #[test]
    fn quantize_multiplier_reconstructs_value() {
        let mut x = 1e-9;
        while x < 1e4 {
            let (m, s) = quantize_multiplier(x);
            let back = m as f64 * 2f64.powi(s - 31);
            assert!((back - x).abs() <= x * 2f64.powi(-30), "{x}: {m} {s}");
            assert!((1 << 30..=i32::MAX).contains(&m));
            x *= 1.37;
        }
    }

    #[test]
    fn input_radius_and_softmax_scaling() {
        // Softmax int8: 5 integer bits; left shift 23 -> floor(31 * 2^26 / 2^23) = 248.
        assert_eq!(calculate_input_radius(5, 23, 31), 248);
        // Logistic: 4 bits, shift 24 -> floor(15 * 2^27 / 2^24) = 120.
        assert_eq!(calculate_input_radius(4, 24, 31), 120);
        assert_eq!(calculate_input_radius(4, 25, 31), 60);
        assert_eq!(calculate_input_radius(5, 20, 31), 1984);
        // beta = 1, s = 1/16 -> 2^22 -> (2^30, 23)
        assert_eq!(
            preprocess_softmax_scaling(1.0, 1.0 / 16.0, 5),
            Ok((1 << 30, 23))
        );
        // Capped at 2^31 - 1 for huge scales.
        assert_eq!(preprocess_softmax_scaling(1.0, 1e6, 5), Ok((i32::MAX, 31)));
        assert!(preprocess_softmax_scaling(1.0, 1e-9, 5).is_err());
    }

    #[test]
    fn activation_ranges() {
        let q = Quant::new(0.05, -10);
        assert_eq!(activation_range(Activation::None, q), Ok((-128, 127)));
        assert_eq!(activation_range(Activation::Relu, q), Ok((-10, 127)));
        assert_eq!(activation_range(Activation::Relu6, q), Ok((-10, 110)));
        assert_eq!(activation_range(Activation::ReluN1To1, q), Ok((-30, 10)));
        // Bounds beyond int8 are clamped to the int8 range.
        let q = Quant::new(0.01, -128);
        assert_eq!(activation_range(Activation::Relu6, q), Ok((-128, 127)));
        // roundf of the f32 quotient; ties round away from zero.
        let q = Quant::new(0.4, 0);
        assert_eq!(activation_range(Activation::Relu6, q), Ok((0, 15))); // 15.0
        let q = Quant::new(0.48, 0); // 12.5 -> 13
        assert_eq!(activation_range(Activation::Relu6, q), Ok((0, 13)));
    }

    #[test]
    fn window_geometry() {
        let w = |in_h, k, s, d, padding| Window2d {
            in_h,
            in_w: in_h,
            k_h: k,
            k_w: k,
            stride_h: s,
            stride_w: s,
            dil_h: d,
            dil_w: d,
            padding,
        };
        let r = w(16, 3, 2, 1, Padding::Same).resolve().unwrap();
        assert_eq!((r.out_h, r.pad_top), (8, 0));
        let r = w(15, 3, 2, 1, Padding::Same).resolve().unwrap();
        assert_eq!((r.out_h, r.pad_top), (8, 1));
        let r = w(16, 3, 2, 1, Padding::Valid).resolve().unwrap();
        assert_eq!((r.out_h, r.pad_top), (7, 0));
        let r = w(10, 3, 1, 2, Padding::Same).resolve().unwrap();
        assert_eq!((r.out_h, r.pad_top), (10, 2));
        let r = w(
            7,
            3,
            1,
            1,
            Padding::Explicit {
                top: 1,
                bottom: 2,
                left: 0,
                right: 0,
            },
        )
        .resolve()
        .unwrap();
        assert_eq!((r.out_h, r.pad_top, r.out_w, r.pad_left), (8, 1, 5, 0));
        assert!(w(2, 3, 1, 1, Padding::Valid).resolve().is_err());
    }

    #[test]
    fn broadcast_folding() {
        let b = broadcast_6d(&[1, 6, 6, 8], &[1, 6, 6, 8]).unwrap();
        assert_eq!(b.dims, [1, 1, 1, 1, 1, 288]);
        assert_eq!((b.a_strides[5], b.b_strides[5]), (1, 1));
        // Channel vector broadcast: [1,4,4,8] + [8] -> one loop of 16 pixels
        // (b stride 0) around one of 8 channels.
        let b = broadcast_6d(&[1, 4, 4, 8], &[8]).unwrap();
        assert_eq!(b.out_shape, vec![1, 4, 4, 8]);
        assert_eq!(b.dims, [1, 1, 1, 1, 16, 8]);
        assert_eq!(b.a_strides, [0, 0, 0, 0, 8, 1]);
        assert_eq!(b.b_strides, [0, 0, 0, 0, 0, 1]);
        // Both sides broadcast: [3,1] * [1,4].
        let b = broadcast_6d(&[3, 1], &[1, 4]).unwrap();
        assert_eq!(b.dims, [1, 1, 1, 1, 3, 4]);
        assert_eq!(b.a_strides, [0, 0, 0, 0, 1, 0]);
        assert_eq!(b.b_strides, [0, 0, 0, 0, 0, 1]);
        // Scalar.
        let b = broadcast_6d(&[], &[2, 3]).unwrap();
        assert_eq!(b.dims, [1, 1, 1, 1, 1, 6]);
        assert_eq!(b.a_strides[5], 0);
        assert!(broadcast_6d(&[2, 3], &[3, 2]).is_err());
        // 7 alternating broadcast dims do not fold.
        assert!(broadcast_6d(&[2, 1, 2, 1, 2, 1, 2], &[1, 2, 1, 2, 1, 2, 1]).is_err());
        // 8-D input whose dims fold.
        let b = broadcast_6d(&[1, 2, 2, 2, 2, 2, 2, 2], &[2]).unwrap();
        assert_eq!(b.dims, [1, 1, 1, 1, 64, 2]);
    }
}
