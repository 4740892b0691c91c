//! TFLite builtin operators -> IR operators, one arm per operator.
//!
//! Every option that changes semantics is either mapped or rejected with
//! `Error::UnsupportedAttr`; nothing is silently ignored.

use super::schema_generated::tflite as fb;
use super::{Importer, builtin_name, schema_enum_name};
use crate::error::{Error, Result};
use crate::ir::ops::{
    Activation, Add, AvgPool2d, Concat, Conv2d, DepthwiseConv2d, Dequantize, FullyConnected,
    Logistic, MaxPool2d, Mean, Mul, Pad, Padding, Pool2d, Quantize, Relu, Reshape, Softmax, Tanh,
};
use crate::ir::{Node, Op, ValueId};

/// Operators the TFLite front end accepts, for error messages.
pub(crate) const SUPPORTED: &str = "ADD, AVERAGE_POOL_2D, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D, \
DEQUANTIZE, FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, MEAN, MUL, PAD, PADV2, QUANTIZE, RELU, RELU6, \
RELU_N1_TO_1, RESHAPE, SOFTMAX, SQUEEZE, TANH";

/// Everything a converter needs to know about one operator.
struct OpCx<'a, 'b> {
    index: usize,
    name: String,
    op_name: String,
    inputs: Vec<i32>,
    outputs: Vec<ValueId>,
    options: Option<fb::BuiltinOptionsRef<'b>>,
    im: &'a Importer<'a>,
}

impl OpCx<'_, '_> {
    fn unsupported_attr(&self, attr: &str, value: impl std::fmt::Debug, expected: &str) -> Error {
        Error::UnsupportedAttr {
            node: self.name.clone(),
            op: self.op_name.clone(),
            attr: attr.into(),
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }

    /// `unsupported_attr` for an enum attribute, spelled as in the schema.
    fn unsupported_enum(&self, attr: &str, enum_name: &str, value: i64, expected: &str) -> Error {
        Error::UnsupportedAttr {
            node: self.name.clone(),
            op: self.op_name.clone(),
            attr: attr.into(),
            value: schema_enum_name(enum_name, value).unwrap_or_else(|| value.to_string()),
            expected: expected.into(),
        }
    }

    fn invalid(&self, message: impl Into<String>) -> Error {
        Error::node(&self.name, &self.op_name, message)
    }

    fn planus(&self, e: planus::Error) -> Error {
        self.im
            .corrupt(format!("operator {} ({}): {e}", self.index, self.op_name))
    }

    /// The operator's inputs; `-1` (optional operand absent) is skipped only
    /// where `optional_from` allows it.
    fn input(&self, i: usize) -> Result<ValueId> {
        let &t = self
            .inputs
            .get(i)
            .ok_or_else(|| self.invalid(format!("expected at least {} inputs", i + 1)))?;
        self.im.value(t, self.index)
    }

    fn optional_input(&self, i: usize) -> Result<Option<ValueId>> {
        match self.inputs.get(i) {
            None | Some(-1) => Ok(None),
            Some(&t) => self.im.value(t, self.index).map(Some),
        }
    }

    fn expect_inputs(&self, range: std::ops::RangeInclusive<usize>) -> Result<()> {
        if range.contains(&self.inputs.len()) {
            Ok(())
        } else {
            Err(self.invalid(format!(
                "has {} inputs, expected {}",
                self.inputs.len(),
                if range.start() == range.end() {
                    range.start().to_string()
                } else {
                    format!("{} to {}", range.start(), range.end())
                }
            )))
        }
    }

    fn activation(&self, f: fb::ActivationFunctionType) -> Result<Activation> {
        Ok(match f {
            fb::ActivationFunctionType::None => Activation::None,
            fb::ActivationFunctionType::Relu => Activation::Relu,
            fb::ActivationFunctionType::Relu6 => Activation::Relu6,
            fb::ActivationFunctionType::ReluN1To1 => Activation::ReluN1To1,
            other => {
                return Err(self.unsupported_enum(
                    "fused_activation_function",
                    "ActivationFunctionType",
                    other as i64,
                    "NONE, RELU, RELU6 or RELU_N1_TO_1",
                ));
            }
        })
    }

    fn positive(&self, attr: &str, v: i32) -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| self.unsupported_attr(attr, v, "a positive integer"))
    }

    fn input_hw(&self) -> Result<[usize; 2]> {
        let shape = &self.im.graph.fact(self.input(0)?).shape;
        match shape[..] {
            [_, h, w, _] => Ok([h, w]),
            _ => Err(self.invalid(format!("expects a 4-D NHWC input, got shape {shape:?}"))),
        }
    }

    fn padding(
        &self,
        p: fb::Padding,
        filter: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<Padding> {
        Ok(match p {
            fb::Padding::Valid => Padding::default(),
            fb::Padding::Same => Padding::same(self.input_hw()?, filter, stride, dilation),
        })
    }

    fn missing_options(&self, kind: &str) -> Error {
        self.invalid(format!("is missing its {kind}"))
    }

    /// Constant int32 operand `i` (axes, paddings, shapes).
    fn const_i32(&self, i: usize, what: &str) -> Result<Vec<i32>> {
        let v = self.im.graph.value(self.input(i)?);
        v.const_i32().ok_or_else(|| {
            self.invalid(format!(
                "{what} (input {i}, `{}`) must be a constant int32/int64 tensor \
                 with values in the int32 range",
                v.name
            ))
        })
    }
}

pub(crate) fn import_operator(
    im: &mut Importer<'_>,
    index: usize,
    op: &fb::OperatorRef<'_>,
    codes: &[fb::OperatorCodeRef<'_>],
) -> Result<()> {
    let perr = |e: planus::Error| im.corrupt(format!("operator {index}: {e}"));
    let opcode_index = op.opcode_index().map_err(perr)? as usize;
    let code = codes.get(opcode_index).ok_or_else(|| {
        im.corrupt(format!(
            "operator {index} uses operator code {opcode_index}, but the model has {}",
            codes.len()
        ))
    })?;
    // Newer files keep the code in `builtin_code`; older ones in the
    // deprecated int8 field. TFLite takes the larger of the two.
    let deprecated = code.deprecated_builtin_code().map_err(perr)? as i32;
    let builtin = match code.builtin_code() {
        Ok(c) => (c as i32).max(deprecated),
        Err(planus::Error {
            error_kind: planus::errors::ErrorKind::UnknownEnumTag { source },
            ..
        }) => {
            // An enum value this schema does not know: a newer operator.
            return Err(unsupported(
                im,
                index,
                op,
                format!(
                    "#{} (an operator code newer than mcuc's TFLite schema)",
                    source.tag
                ),
            ));
        }
        Err(e) => return Err(perr(e)),
    };
    let op_name = builtin_name(builtin);
    let inputs: Vec<i32> = op
        .inputs()
        .map_err(perr)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let output_indices: Vec<i32> = op
        .outputs()
        .map_err(perr)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let outputs = output_indices
        .iter()
        .map(|&t| im.value(t, index))
        .collect::<Result<Vec<_>>>()?;
    let Some(&first_out) = outputs.first() else {
        return Err(im.corrupt(format!("operator {index} ({op_name}) has no outputs")));
    };
    let name = im.graph.value(first_out).name.clone();
    let options = op.builtin_options().map_err(perr)?;
    let cx = OpCx {
        index,
        name: name.clone(),
        op_name: op_name.clone(),
        inputs,
        outputs: outputs.clone(),
        options,
        im,
    };
    let Ok(builtin) = fb::BuiltinOperator::try_from(builtin) else {
        return Err(unsupported(im, index, op, op_name));
    };
    let (op_ir, operands) = convert(&cx, builtin)?;
    let Some(op_ir) = op_ir else {
        return Err(unsupported(im, index, op, op_name));
    };
    im.graph.add_node(Node {
        name,
        op: op_ir,
        inputs: operands,
        outputs,
    });
    Ok(())
}

fn unsupported(
    im: &Importer<'_>,
    index: usize,
    op: &fb::OperatorRef<'_>,
    op_name: String,
) -> Error {
    let node = op
        .outputs()
        .ok()
        .flatten()
        .and_then(|v| v.iter().next())
        .and_then(|t| im.value(t, index).ok())
        .map(|v| im.graph.value(v).name.clone())
        .unwrap_or_else(|| format!("operator_{index}"));
    Error::UnsupportedOp {
        index,
        op: op_name,
        node,
        supported: SUPPORTED.into(),
    }
}

type Converted = (Option<Op>, Vec<ValueId>);

fn convert(cx: &OpCx<'_, '_>, builtin: fb::BuiltinOperator) -> Result<Converted> {
    use fb::BuiltinOperator as B;
    if cx.outputs.len() != 1 {
        return Err(cx.invalid(format!("has {} outputs, expected 1", cx.outputs.len())));
    }
    let single = |op: Op| -> Result<Converted> {
        cx.expect_inputs(1..=1)?;
        Ok((Some(op), vec![cx.input(0)?]))
    };
    match builtin {
        B::Conv2d => conv2d(cx),
        B::DepthwiseConv2d => depthwise_conv2d(cx),
        B::FullyConnected => fully_connected(cx),
        B::Add | B::Mul => binary(cx, builtin),
        B::AveragePool2d | B::MaxPool2d => pool2d(cx, builtin),
        B::Mean => mean(cx),
        B::Reshape | B::Squeeze => {
            cx.expect_inputs(1..=2)?;
            let shape = cx.im.graph.fact(cx.outputs[0]).shape.clone();
            Ok((Some(Reshape { shape }.into()), vec![cx.input(0)?]))
        }
        B::Softmax => {
            let beta = match cx.options {
                Some(fb::BuiltinOptionsRef::SoftmaxOptions(o)) => {
                    o.beta().map_err(|e| cx.planus(e))?
                }
                None => 1.0,
                Some(_) => return Err(cx.missing_options("SoftmaxOptions")),
            };
            single(Softmax { beta }.into())
        }
        B::Logistic => single(Logistic.into()),
        B::Tanh => single(Tanh.into()),
        B::Relu => single(
            Relu {
                act: Activation::Relu,
            }
            .into(),
        ),
        B::Relu6 => single(
            Relu {
                act: Activation::Relu6,
            }
            .into(),
        ),
        B::ReluN1To1 => single(
            Relu {
                act: Activation::ReluN1To1,
            }
            .into(),
        ),
        B::Pad | B::Padv2 => pad(cx, builtin),
        B::Concatenation => concat(cx),
        B::Quantize => single(Quantize.into()),
        B::Dequantize => single(Dequantize.into()),
        _ => Ok((None, Vec::new())),
    }
}

fn conv2d(cx: &OpCx<'_, '_>) -> Result<Converted> {
    cx.expect_inputs(2..=3)?;
    let Some(fb::BuiltinOptionsRef::Conv2DOptions(o)) = cx.options else {
        return Err(cx.missing_options("Conv2DOptions"));
    };
    let e = |e| cx.planus(e);
    let stride = [
        cx.positive("stride_h", o.stride_h().map_err(e)?)?,
        cx.positive("stride_w", o.stride_w().map_err(e)?)?,
    ];
    let dilation = [
        cx.positive("dilation_h_factor", o.dilation_h_factor().map_err(e)?)?,
        cx.positive("dilation_w_factor", o.dilation_w_factor().map_err(e)?)?,
    ];
    let filter = cx.im.graph.fact(cx.input(1)?).shape.clone();
    let [_, kh, kw, _] = filter[..] else {
        return Err(cx.invalid(format!("filter must be [O,KH,KW,I], got {filter:?}")));
    };
    let pad = cx.padding(o.padding().map_err(e)?, [kh, kw], stride, dilation)?;
    let act = cx.activation(o.fused_activation_function().map_err(e)?)?;
    let mut operands = vec![cx.input(0)?, cx.input(1)?];
    operands.extend(cx.optional_input(2)?);
    Ok((
        Some(
            Conv2d {
                stride,
                dilation,
                pad,
                act,
            }
            .into(),
        ),
        operands,
    ))
}

fn depthwise_conv2d(cx: &OpCx<'_, '_>) -> Result<Converted> {
    cx.expect_inputs(2..=3)?;
    let Some(fb::BuiltinOptionsRef::DepthwiseConv2DOptions(o)) = cx.options else {
        return Err(cx.missing_options("DepthwiseConv2DOptions"));
    };
    let e = |e| cx.planus(e);
    let stride = [
        cx.positive("stride_h", o.stride_h().map_err(e)?)?,
        cx.positive("stride_w", o.stride_w().map_err(e)?)?,
    ];
    let dilation = [
        cx.positive("dilation_h_factor", o.dilation_h_factor().map_err(e)?)?,
        cx.positive("dilation_w_factor", o.dilation_w_factor().map_err(e)?)?,
    ];
    let filter = cx.im.graph.fact(cx.input(1)?).shape.clone();
    let input = cx.im.graph.fact(cx.input(0)?).shape.clone();
    let ([1, kh, kw, cout], [_, _, _, cin]) = (&filter[..], &input[..]) else {
        return Err(cx.invalid(format!(
            "expects filter [1,KH,KW,C*M] and input [1,H,W,C], got {filter:?} and {input:?}"
        )));
    };
    if *cin == 0 || cout % cin != 0 {
        return Err(cx.invalid(format!(
            "filter channels {cout} are not a multiple of input channels {cin}"
        )));
    }
    // The multiplier follows from the shapes; some converters write 0 or a
    // stale value into the option, which TFLite's kernels do not use either.
    let depth_multiplier = cout / cin;
    let pad = cx.padding(o.padding().map_err(e)?, [*kh, *kw], stride, dilation)?;
    let act = cx.activation(o.fused_activation_function().map_err(e)?)?;
    let mut operands = vec![cx.input(0)?, cx.input(1)?];
    operands.extend(cx.optional_input(2)?);
    Ok((
        Some(
            DepthwiseConv2d {
                stride,
                dilation,
                pad,
                depth_multiplier,
                act,
            }
            .into(),
        ),
        operands,
    ))
}

fn fully_connected(cx: &OpCx<'_, '_>) -> Result<Converted> {
    cx.expect_inputs(2..=3)?;
    let (act, keep_num_dims) = match cx.options {
        Some(fb::BuiltinOptionsRef::FullyConnectedOptions(o)) => {
            let e = |e| cx.planus(e);
            let format = o.weights_format().map_err(e)?;
            if format != fb::FullyConnectedOptionsWeightsFormat::Default {
                return Err(cx.unsupported_enum(
                    "weights_format",
                    "FullyConnectedOptionsWeightsFormat",
                    format as i64,
                    "DEFAULT",
                ));
            }
            (
                cx.activation(o.fused_activation_function().map_err(e)?)?,
                o.keep_num_dims().map_err(e)?,
            )
        }
        None => (Activation::None, false),
        Some(_) => return Err(cx.missing_options("FullyConnectedOptions")),
    };
    let mut operands = vec![cx.input(0)?, cx.input(1)?];
    operands.extend(cx.optional_input(2)?);
    Ok((Some(FullyConnected { act, keep_num_dims }.into()), operands))
}

fn binary(cx: &OpCx<'_, '_>, builtin: fb::BuiltinOperator) -> Result<Converted> {
    cx.expect_inputs(2..=2)?;
    let e = |e| cx.planus(e);
    let act = match (builtin, cx.options) {
        (_, None) => Activation::None,
        (fb::BuiltinOperator::Add, Some(fb::BuiltinOptionsRef::AddOptions(o))) => {
            cx.activation(o.fused_activation_function().map_err(e)?)?
        }
        (fb::BuiltinOperator::Mul, Some(fb::BuiltinOptionsRef::MulOptions(o))) => {
            cx.activation(o.fused_activation_function().map_err(e)?)?
        }
        _ => return Err(cx.missing_options("AddOptions/MulOptions")),
    };
    let op: Op = if builtin == fb::BuiltinOperator::Add {
        Add { act }.into()
    } else {
        Mul { act }.into()
    };
    Ok((Some(op), vec![cx.input(0)?, cx.input(1)?]))
}

fn pool2d(cx: &OpCx<'_, '_>, builtin: fb::BuiltinOperator) -> Result<Converted> {
    cx.expect_inputs(1..=1)?;
    let Some(fb::BuiltinOptionsRef::Pool2DOptions(o)) = cx.options else {
        return Err(cx.missing_options("Pool2DOptions"));
    };
    let e = |e| cx.planus(e);
    let stride = [
        cx.positive("stride_h", o.stride_h().map_err(e)?)?,
        cx.positive("stride_w", o.stride_w().map_err(e)?)?,
    ];
    let filter = [
        cx.positive("filter_height", o.filter_height().map_err(e)?)?,
        cx.positive("filter_width", o.filter_width().map_err(e)?)?,
    ];
    let pad = cx.padding(o.padding().map_err(e)?, filter, stride, [1, 1])?;
    let act = cx.activation(o.fused_activation_function().map_err(e)?)?;
    let pool = Pool2d {
        filter,
        stride,
        pad,
        act,
    };
    let op: Op = if builtin == fb::BuiltinOperator::AveragePool2d {
        AvgPool2d(pool).into()
    } else {
        MaxPool2d(pool).into()
    };
    Ok((Some(op), vec![cx.input(0)?]))
}

/// Normalizes possibly negative axes against `rank`.
fn axes(cx: &OpCx<'_, '_>, raw: &[i32], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for &a in raw {
        let n = if a < 0 { a + rank as i32 } else { a };
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n < rank)
            .ok_or_else(|| {
                cx.unsupported_attr("axis", a, &format!("an axis in -{rank}..{rank}"))
            })?;
        out.push(n);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn mean(cx: &OpCx<'_, '_>) -> Result<Converted> {
    cx.expect_inputs(2..=2)?;
    let keep_dims = match cx.options {
        Some(fb::BuiltinOptionsRef::ReducerOptions(o)) => {
            o.keep_dims().map_err(|e| cx.planus(e))?
        }
        None => false,
        Some(_) => return Err(cx.missing_options("ReducerOptions")),
    };
    let rank = cx.im.graph.fact(cx.input(0)?).rank();
    let axes = axes(cx, &cx.const_i32(1, "axes")?, rank)?;
    Ok((Some(Mean { axes, keep_dims }.into()), vec![cx.input(0)?]))
}

fn pad(cx: &OpCx<'_, '_>, builtin: fb::BuiltinOperator) -> Result<Converted> {
    cx.expect_inputs(2..=3)?;
    let x = cx.input(0)?;
    let rank = cx.im.graph.fact(x).rank();
    let raw = cx.const_i32(1, "paddings")?;
    if raw.len() != rank * 2 {
        return Err(cx.invalid(format!(
            "paddings have {} values, expected {} ([rank, 2])",
            raw.len(),
            rank * 2
        )));
    }
    let mut pads = Vec::with_capacity(rank);
    for pair in raw.chunks_exact(2) {
        let before = usize::try_from(pair[0])
            .map_err(|_| cx.unsupported_attr("paddings", &raw, "non-negative values"))?;
        let after = usize::try_from(pair[1])
            .map_err(|_| cx.unsupported_attr("paddings", &raw, "non-negative values"))?;
        pads.push([before, after]);
    }
    let out = cx.im.graph.fact(cx.outputs[0]);
    let zero_point = out.quant.as_ref().map_or(0, |q| q.zero_point());
    // PADV2 pads with an explicit constant; mcuc pads with the zero point
    // (the quantized 0.0), so accept PADV2 only when the two agree.
    if builtin == fb::BuiltinOperator::Padv2
        && let Some(c) = cx.optional_input(2)?
    {
        let v = cx.im.graph.value(c);
        let value = v.const_i8().and_then(|d| d.first().copied());
        if value.map(i64::from) != Some(zero_point) {
            return Err(cx.unsupported_attr(
                "constant_values",
                value,
                &format!("the output zero point {zero_point}"),
            ));
        }
    }
    Ok((Some(Pad { pads }.into()), vec![x]))
}

fn concat(cx: &OpCx<'_, '_>) -> Result<Converted> {
    if cx.inputs.is_empty() {
        return Err(cx.invalid("has no inputs"));
    }
    let Some(fb::BuiltinOptionsRef::ConcatenationOptions(o)) = cx.options else {
        return Err(cx.missing_options("ConcatenationOptions"));
    };
    let e = |e| cx.planus(e);
    let rank = cx.im.graph.fact(cx.outputs[0]).rank();
    let axis = axes(cx, &[o.axis().map_err(e)?], rank)?[0];
    let act = cx.activation(o.fused_activation_function().map_err(e)?)?;
    let operands = (0..cx.inputs.len())
        .map(|i| cx.input(i))
        .collect::<Result<Vec<_>>>()?;
    Ok((Some(Concat { axis, act }.into()), operands))
}
