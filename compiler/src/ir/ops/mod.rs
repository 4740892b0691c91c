//! Operators of the IR, one file per operator.
//!
//! Each operator is a struct of attributes implementing [`OpDef`]: how output
//! shapes follow from input shapes (checked by the verifier against the stored
//! facts), op-specific invariants, MAC count and a one-line parameter summary.
//! How an operator executes is bound in `crate::kernels`.
//!
//! Adding an operator: a file here, its name in the `ops!` list, one importer
//! arm per front end, one kernel binding and one kernel template.

use super::{DType, Fact, Value};

mod activation;
mod batch_norm;
mod binary;
mod clip;
mod concat;
mod conv2d;
mod depthwise_conv2d;
mod fully_connected;
mod mean;
mod pad;
mod pool2d;
mod quantize;
mod reshape;
mod softmax;

pub use activation::{Activation, LeakyRelu, Logistic, Relu, Tanh};
pub use batch_norm::BatchNorm;
pub use binary::{Add, Mul};
pub use clip::Clip;
pub use concat::Concat;
pub use conv2d::Conv2d;
pub use depthwise_conv2d::DepthwiseConv2d;
pub use fully_connected::FullyConnected;
pub use mean::Mean;
pub use pad::Pad;
pub use pool2d::{AvgPool2d, MaxPool2d, Pool2d};
pub use quantize::{Dequantize, Quantize};
pub use reshape::Reshape;
pub use softmax::Softmax;

/// What every operator must define.
pub trait OpDef {
    /// Upper-case operator name as users know it (TFLite spelling).
    fn name(&self) -> &'static str;

    /// Output shapes and dtypes from the input facts. Quantization of the
    /// outputs is not inferred: it comes from the model (or calibration).
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String>;

    /// Op-specific invariants beyond shapes (operand kinds, quantization).
    fn check(&self, _inputs: &[&Value], _outputs: &[&Value]) -> Vec<String> {
        Vec::new()
    }

    /// Multiply-accumulates of one inference.
    fn macs(&self, _inputs: &[&Fact], _outputs: &[&Fact]) -> u64 {
        0
    }

    /// Key parameters for `mcuc inspect`, e.g. `k=3x3 s=2 same relu6`.
    fn summary(&self, _inputs: &[&Fact]) -> String {
        String::new()
    }

    /// Whether the output is the input reinterpreted (same bytes), so the
    /// planner may alias the two buffers.
    fn is_alias(&self) -> bool {
        false
    }

    /// The ways the op's kernel can write an output over one of its inputs,
    /// best first. The planner uses one when that input is dead after the
    /// op; the kernel binding must offer the matching in-place call.
    fn in_place(&self, _inputs: &[&Fact], _outputs: &[&Fact]) -> Vec<InPlace> {
        Vec::new()
    }

    /// Scratch bytes the (out-of-place) kernel needs while it runs (im2col
    /// buffers, partial sums). The planner places them in the arena for the
    /// op's step only.
    fn scratch_bytes(&self, _inputs: &[&Fact], _outputs: &[&Fact]) -> usize {
        0
    }
}

/// A kernel's promise that it computes output `output` in the bytes of
/// input `input` (operand indices), using `scratch_bytes` of temporary
/// memory: every input element is read before the output bytes over it are
/// written. The output starts at the input's first byte and is not larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct InPlace {
    pub input: usize,
    pub output: usize,
    pub scratch_bytes: usize,
}

impl InPlace {
    /// Output 0 over input `input`, without scratch: elementwise kernels
    /// that read element `i` before writing element `i`.
    pub fn elementwise(input: usize) -> InPlace {
        InPlace {
            input,
            output: 0,
            scratch_bytes: 0,
        }
    }
}

macro_rules! ops {
    ($($variant:ident),* $(,)?) => {
        /// An operator with its attributes.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Op {
            $($variant($variant),)*
        }

        impl Op {
            /// The operator's definition.
            pub fn def(&self) -> &dyn OpDef {
                match self {
                    $(Op::$variant(op) => op,)*
                }
            }
        }

        $(impl From<$variant> for Op {
            fn from(op: $variant) -> Op {
                Op::$variant(op)
            }
        })*
    };
}

ops! {
    Conv2d,
    DepthwiseConv2d,
    FullyConnected,
    Add,
    Mul,
    AvgPool2d,
    MaxPool2d,
    Mean,
    Reshape,
    Softmax,
    Logistic,
    Tanh,
    Relu,
    Pad,
    Concat,
    Quantize,
    Dequantize,
    BatchNorm,
    LeakyRelu,
    Clip,
}

impl Op {
    pub fn name(&self) -> &'static str {
        self.def().name()
    }
}

/// Explicit spatial padding in elements: `[top, bottom, left, right]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Padding {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Padding {
    /// TFLite SAME padding for one spatial dimension: total padding is split
    /// with the odd element at the end (bottom/right), as TFLite computes it.
    ///
    /// Total for any arguments (a zero filter, stride or input, huge
    /// dilations): degenerate geometry is rejected by the op's `infer`, not
    /// by an overflow here.
    pub fn same_1d(input: usize, filter: usize, stride: usize, dilation: usize) -> (usize, usize) {
        let effective = effective_window(filter, dilation);
        let stride = stride.max(1);
        let out = input.div_ceil(stride);
        let needed = out
            .saturating_sub(1)
            .saturating_mul(stride)
            .saturating_add(effective)
            .saturating_sub(input);
        (needed / 2, needed - needed / 2)
    }

    pub fn same(
        in_hw: [usize; 2],
        filter: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Padding {
        let (top, bottom) = Padding::same_1d(in_hw[0], filter[0], stride[0], dilation[0]);
        let (left, right) = Padding::same_1d(in_hw[1], filter[1], stride[1], dilation[1]);
        Padding {
            top,
            bottom,
            left,
            right,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Padding::default()
    }
}

/// Extent of a dilated window: `(filter - 1) * dilation + 1`, saturating.
fn effective_window(filter: usize, dilation: usize) -> usize {
    filter
        .saturating_sub(1)
        .saturating_mul(dilation)
        .saturating_add(1)
}

/// Output extent of a windowed op along one dimension.
pub(crate) fn window_out(
    input: usize,
    pad_before: usize,
    pad_after: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Result<usize, String> {
    if filter == 0 {
        return Err("window of size 0".into());
    }
    if stride == 0 {
        return Err("stride 0".into());
    }
    if dilation == 0 {
        return Err("dilation 0".into());
    }
    let effective = effective_window(filter, dilation);
    // The kernels (like TFLite's) compute window positions in i32.
    let limit = i32::MAX as usize;
    if effective > limit || pad_before > limit || pad_after > limit || stride > limit {
        return Err(format!(
            "window {effective} (stride {stride}, padding {pad_before}/{pad_after}) exceeds \
             the int32 range of the kernels"
        ));
    }
    let padded = input.saturating_add(pad_before).saturating_add(pad_after);
    if padded < effective {
        return Err(format!(
            "window {effective} larger than padded input {padded}"
        ));
    }
    Ok((padded - effective) / stride + 1)
}

/// Formats a short padding/stride summary used by several ops.
pub(crate) fn geometry_summary(
    filter: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: &Padding,
) -> String {
    let mut s = format!("k={}x{} s={}", filter[0], filter[1], stride[0]);
    if stride[0] != stride[1] {
        s.push_str(&format!("x{}", stride[1]));
    }
    if dilation != [1, 1] {
        s.push_str(&format!(" d={}x{}", dilation[0], dilation[1]));
    }
    if !pad.is_zero() {
        s.push_str(&format!(
            " pad={},{},{},{}",
            pad.top, pad.bottom, pad.left, pad.right
        ));
    }
    s
}

/// Checks that a value is int8 and quantized per tensor.
pub(crate) fn expect_int8_per_tensor(v: &Value, role: &str, errors: &mut Vec<String>) {
    if v.fact.dtype != DType::Int8 {
        errors.push(format!(
            "{role} `{}` must be int8, is {}",
            v.name, v.fact.dtype
        ));
        return;
    }
    match &v.fact.quant {
        None => errors.push(format!("{role} `{}` has no quantization", v.name)),
        Some(q) if !q.is_per_tensor() => errors.push(format!(
            "{role} `{}` must be quantized per tensor, has {} scales",
            v.name,
            q.scale.len()
        )),
        Some(_) => {}
    }
}

/// Checks that a value is float32 without quantization (an activation of a
/// graph that is not quantized yet).
pub(crate) fn expect_float(v: &Value, role: &str, errors: &mut Vec<String>) {
    if v.fact.dtype != DType::Float32 {
        errors.push(format!(
            "{role} `{}` must be float32, is {}",
            v.name, v.fact.dtype
        ));
    } else if v.fact.quant.is_some() {
        errors.push(format!("float32 {role} `{}` has quantization", v.name));
    }
}

/// Activations of an op that exists in a float form (before post-training
/// quantization) and an int8 form: the first input decides which, and every
/// listed input and the output must agree. int8 activations are quantized
/// per tensor; float32 ones carry no quantization.
pub(crate) fn expect_float_or_int8(
    inputs: &[&Value],
    outputs: &[&Value],
    errors: &mut Vec<String>,
) {
    let Some(first) = inputs.first() else { return };
    let float = first.fact.dtype == DType::Float32;
    let roles = inputs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                if inputs.len() == 1 {
                    "input".to_string()
                } else {
                    format!("input {i}")
                },
                v,
            )
        })
        .chain(outputs.iter().map(|v| ("output".to_string(), v)));
    for (role, v) in roles {
        if float {
            expect_float(v, &role, errors);
        } else {
            expect_int8_per_tensor(v, &role, errors);
        }
    }
}

/// Shape as `1x96x96x8`.
pub fn shape_str(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_odd_element_last() {
        // 16 -> 8 with 3x3 stride 2: total 1, TFLite pads 0 before, 1 after.
        assert_eq!(Padding::same_1d(16, 3, 2, 1), (0, 1));
        // 15 -> 8: total 2 -> 1/1.
        assert_eq!(Padding::same_1d(15, 3, 2, 1), (1, 1));
        assert_eq!(Padding::same_1d(10, 3, 1, 1), (1, 1));
        assert_eq!(Padding::same_1d(10, 1, 1, 1), (0, 0));
        assert_eq!(Padding::same_1d(10, 3, 1, 2), (2, 2));
    }

    #[test]
    fn window_out_matches_valid_and_same() {
        assert_eq!(window_out(16, 0, 0, 3, 2, 1), Ok(7));
        assert_eq!(window_out(16, 0, 1, 3, 2, 1), Ok(8));
        assert!(window_out(2, 0, 0, 3, 1, 1).is_err());
    }

    #[test]
    fn degenerate_geometry_is_an_error_not_a_panic() {
        // Filter 0 (an empty filter tensor), empty input, zero stride.
        assert_eq!(Padding::same_1d(8, 0, 1, 1), (0, 0));
        assert_eq!(Padding::same_1d(0, 3, 1, 1), (1, 2));
        assert_eq!(Padding::same_1d(8, 3, 0, 1), (1, 1));
        let (a, b) = Padding::same_1d(8, usize::MAX, usize::MAX, usize::MAX);
        assert!(a <= b);
        assert!(window_out(8, 0, 0, 0, 1, 1).is_err());
        assert!(window_out(8, 0, 0, 3, 1, 0).is_err());
        assert!(window_out(8, 0, 0, 3, 1, usize::MAX).is_err());
        // A window wider than i32 (TFLite's arithmetic) is an error even
        // when padding would make it fit.
        let (a, b) = Padding::same_1d(4, 3, 1 << 31, 1 << 31);
        assert!(window_out(4, a, b, 3, 1 << 31, 1 << 31).is_err());
        assert_eq!(window_out(4, 1000, 1000, 3, 1, 1000), Ok(4));
    }
}
