//! ONNX operators -> IR operators, one function per operator.
//!
//! Every attribute that changes semantics is mapped or rejected with
//! `Error::UnsupportedAttr`; an attribute the converter does not know is
//! rejected too, so nothing is silently ignored.

use super::onnx_proto as pb;
use super::{Importer, Layout, NCHW_TO_IR, Tensor, perm_is_reshape, transpose_bytes};
use crate::error::{Error, Result};
use crate::exec::float::{f32_bytes, f32s};
use crate::ir::ops::{
    Activation, Add, AvgPool2d, BatchNorm, Clip, Concat, Conv2d, DepthwiseConv2d, Dequantize,
    FullyConnected, LeakyRelu, Logistic, MaxPool2d, Mean, Mul, Pad, Padding, Pool2d, Quantize,
    Relu, Reshape, Softmax, Tanh,
};
use crate::ir::{DType, Fact, Op, Quant, ValueId};

/// Operators the ONNX front end accepts, for error messages.
pub(crate) const SUPPORTED: &str = "Add, AveragePool, BatchNormalization, Cast (constants), Clip, \
Concat, Constant, Conv, DequantizeLinear, Div (by a constant), Dropout, Flatten, Gather (constants), \
Gemm, GlobalAveragePool, Identity, LeakyRelu, MatMul, MaxPool, Mul, Pad, QLinearConv, QLinearMatMul, \
QuantizeLinear, ReduceMean, Relu, Reshape, Shape, Sigmoid, Softmax, Squeeze, Sub (a constant), \
Tanh, Transpose, Unsqueeze";

/// One ONNX node being converted.
pub(crate) struct Cx<'n> {
    node: &'n pb::NodeProto,
    index: usize,
    pub(crate) name: String,
    pub(crate) op: String,
    opset: i64,
}

impl Cx<'_> {
    fn invalid(&self, message: impl Into<String>) -> Error {
        Error::node(&self.name, &self.op, message)
    }

    fn unsupported_attr(&self, attr: &str, value: impl std::fmt::Debug, expected: &str) -> Error {
        Error::UnsupportedAttr {
            node: self.name.clone(),
            op: format!("{} (opset {})", self.op, self.opset),
            attr: attr.into(),
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }

    /// Rejects attributes outside `known`.
    fn allow(&self, known: &[&str]) -> Result<()> {
        for a in &self.node.attribute {
            let n = a.name.as_deref().unwrap_or("");
            if !known.contains(&n) {
                return Err(self.unsupported_attr(
                    n,
                    "(present)",
                    "not set: mcuc does not implement it",
                ));
            }
        }
        Ok(())
    }

    fn attr(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.node
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).and_then(|a| a.i).unwrap_or(default)
    }

    fn float(&self, name: &str, default: f32) -> f32 {
        self.attr(name).and_then(|a| a.f).unwrap_or(default)
    }

    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.attr(name)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }

    fn input_name(&self, i: usize) -> Option<&str> {
        self.node
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn input(&self, im: &Importer<'_>, i: usize) -> Result<Tensor> {
        let name = self
            .input_name(i)
            .ok_or_else(|| self.invalid(format!("input {i} is missing")))?;
        im.get(name, &format!("node `{}` ({})", self.name, self.op))
    }

    fn optional_input(&self, im: &Importer<'_>, i: usize) -> Result<Option<Tensor>> {
        match self.input_name(i) {
            None => Ok(None),
            Some(_) => self.input(im, i).map(Some),
        }
    }

    fn output_name(&self, i: usize) -> Result<&str> {
        self.node
            .output
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid(format!("output {i} is missing")))
    }

    fn expect_outputs(&self, n: usize) -> Result<()> {
        let used = self.node.output.iter().filter(|o| !o.is_empty()).count();
        if used > n {
            return Err(self.invalid(format!(
                "has {used} outputs; mcuc supports only the first {n}"
            )));
        }
        Ok(())
    }

    /// A constant int64/int32 input (shapes, axes, pads).
    fn const_ints(&self, im: &Importer<'_>, i: usize, what: &str) -> Result<Vec<i64>> {
        let t = self.input(im, i)?;
        const_ints(im, t.id).ok_or_else(|| {
            self.invalid(format!(
                "{what} (input {i}, `{}`) must be a constant integer tensor",
                im.graph.value(t.id).name
            ))
        })
    }

    fn const_floats(&self, im: &Importer<'_>, i: usize, what: &str) -> Result<Vec<f32>> {
        let t = self.input(im, i)?;
        const_floats(im, t.id).ok_or_else(|| {
            self.invalid(format!(
                "{what} (input {i}, `{}`) must be a constant float tensor",
                im.graph.value(t.id).name
            ))
        })
    }

    /// Binds output 0 to `id` with `layout`.
    fn bind(&self, im: &mut Importer<'_>, id: ValueId, layout: Layout) -> Result<()> {
        let name = self.output_name(0)?.to_string();
        im.bind(&name, Tensor { id, layout });
        Ok(())
    }

    /// Adds `op` over `inputs` and binds output 0 to it.
    fn emit(
        &self,
        im: &mut Importer<'_>,
        op: Op,
        inputs: Vec<ValueId>,
        layout: Layout,
    ) -> Result<()> {
        self.emit_q(im, op, inputs, layout, None)
    }

    fn emit_q(
        &self,
        im: &mut Importer<'_>,
        op: Op,
        inputs: Vec<ValueId>,
        layout: Layout,
        quant: Option<Quant>,
    ) -> Result<()> {
        let out = self.output_name(0)?.to_string();
        let id = im.add_node(&self.name, op, inputs, &out, quant)?;
        im.bind(&out, Tensor { id, layout });
        Ok(())
    }

    /// An axis attribute normalized against `rank`.
    fn axis(&self, attr: &str, a: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        let n = if a < 0 { a + r } else { a };
        if n < 0 || n >= r {
            return Err(self.unsupported_attr(attr, a, &format!("an axis in -{r}..{r}")));
        }
        Ok(n as usize)
    }
}

/// Integer constant data (int64 or int32).
pub(crate) fn const_ints(im: &Importer<'_>, v: ValueId) -> Option<Vec<i64>> {
    let value = im.graph.value(v);
    let data = value.data.as_ref()?;
    match value.fact.dtype {
        DType::Int64 => Some(
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        DType::Int32 => Some(
            data.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
        ),
        _ => None,
    }
}

fn const_floats(im: &Importer<'_>, v: ValueId) -> Option<Vec<f32>> {
    let value = im.graph.value(v);
    match value.fact.dtype {
        DType::Float32 => value.data.as_ref().map(|d| f32s(d)),
        _ => None,
    }
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn import_node(im: &mut Importer<'_>, index: usize, node: &pb::NodeProto) -> Result<()> {
    let op = node.op_type.clone().unwrap_or_default();
    let name = node
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| node.output.first().cloned())
        .unwrap_or_else(|| format!("node_{index}"));
    let cx = Cx {
        node,
        index,
        name,
        op: op.clone(),
        opset: im.opset,
    };
    let domain = node.domain.as_deref().unwrap_or("");
    if !matches!(domain, "" | "ai.onnx") {
        return Err(unsupported(&cx, &format!("{domain}.{op}")));
    }
    if node.output.iter().all(|o| o.is_empty()) {
        return Err(cx.invalid("has no outputs"));
    }
    match op.as_str() {
        "Conv" => conv(im, &cx),
        "Relu" => simple(
            im,
            &cx,
            Relu {
                act: Activation::Relu,
            }
            .into(),
        ),
        "Sigmoid" => simple(im, &cx, Logistic.into()),
        "Tanh" => simple(im, &cx, Tanh.into()),
        "LeakyRelu" => {
            cx.allow(&["alpha"])?;
            simple(
                im,
                &cx,
                LeakyRelu {
                    alpha: cx.float("alpha", 0.01),
                }
                .into(),
            )
        }
        "Clip" => clip(im, &cx),
        "BatchNormalization" => batch_norm(im, &cx),
        "Add" | "Sub" | "Mul" | "Div" => binary(im, &cx),
        "MatMul" => matmul(im, &cx),
        "Gemm" => gemm(im, &cx),
        "MaxPool" | "AveragePool" => pool(im, &cx),
        "GlobalAveragePool" => {
            cx.allow(&[])?;
            let x = cx.input(im, 0)?;
            let x = im.nhwc_value(x, &cx.name, &cx.op)?;
            let op = Mean {
                axes: vec![1, 2],
                keep_dims: true,
            };
            cx.emit(im, op.into(), vec![x], Layout::Nchw)
        }
        "ReduceMean" => reduce_mean(im, &cx),
        "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => reshape(im, &cx),
        "Transpose" => transpose(im, &cx),
        "Concat" => concat(im, &cx),
        "Pad" => pad(im, &cx),
        "Softmax" => softmax(im, &cx),
        "Identity" | "Dropout" => identity(im, &cx),
        "Constant" => constant(im, &cx),
        "Shape" => shape(im, &cx),
        "Gather" => gather(im, &cx),
        "Cast" => cast(im, &cx),
        "QuantizeLinear" => quantize_linear(im, &cx),
        "DequantizeLinear" => dequantize_linear(im, &cx),
        "QLinearConv" | "QLinearMatMul" => qlinear(im, &cx),
        other => Err(unsupported(&cx, other)),
    }
}

fn unsupported(cx: &Cx<'_>, op: &str) -> Error {
    Error::UnsupportedOp {
        index: cx.index,
        op: format!("{op} (opset {})", cx.opset),
        node: cx.name.clone(),
        supported: SUPPORTED.into(),
    }
}

/// One input, one output, layout kept.
fn simple(im: &mut Importer<'_>, cx: &Cx<'_>, op: Op) -> Result<()> {
    if !matches!(op, Op::LeakyRelu(_)) {
        cx.allow(&[])?;
    }
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    cx.emit(im, op, vec![x.id], x.layout)
}

/// Explicit padding from ONNX `pads` / `auto_pad` for a 2-D window.
fn window_padding(
    cx: &Cx<'_>,
    in_hw: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<Padding> {
    let auto = cx.string("auto_pad").unwrap_or_else(|| "NOTSET".into());
    match auto.as_str() {
        "NOTSET" => {
            let pads = cx.ints("pads").unwrap_or_else(|| vec![0; 4]);
            let p: Vec<usize> = pads
                .iter()
                .map(|&p| usize::try_from(p))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| cx.unsupported_attr("pads", &pads, "non-negative values"))?;
            let [top, left, bottom, right] = p[..] else {
                return Err(cx.unsupported_attr("pads", &pads, "4 values (2-D window)"));
            };
            Ok(Padding {
                top,
                bottom,
                left,
                right,
            })
        }
        "VALID" => Ok(Padding::default()),
        "SAME_UPPER" => Ok(Padding::same(in_hw, k, stride, dilation)),
        "SAME_LOWER" => {
            let p = Padding::same(in_hw, k, stride, dilation);
            Ok(Padding {
                top: p.bottom,
                bottom: p.top,
                left: p.right,
                right: p.left,
            })
        }
        other => {
            Err(cx.unsupported_attr("auto_pad", other, "NOTSET, VALID, SAME_UPPER or SAME_LOWER"))
        }
    }
}

fn pair(cx: &Cx<'_>, attr: &str, default: usize) -> Result<[usize; 2]> {
    match cx.ints(attr) {
        None => Ok([default, default]),
        Some(v) => match v[..] {
            [a, b] if a > 0 && b > 0 => Ok([a as usize, b as usize]),
            _ => Err(cx.unsupported_attr(attr, v, "two positive values (2-D window)")),
        },
    }
}

fn conv(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "pads",
        "strides",
    ])?;
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let w = cx.input(im, 1)?;
    let xs = im.onnx_shape(x);
    let ws = im.onnx_shape(w);
    let (&[n, cin, h, wd], &[cout, cin_g, kh, kw]) = (&xs[..], &ws[..]) else {
        return Err(cx.invalid(format!(
            "mcuc supports 2-D convolution: input [N,C,H,W] and weights [O,I,KH,KW], got {xs:?} and {ws:?}"
        )));
    };
    if n != 1 {
        return Err(cx.invalid(format!("batch {n}: mcuc compiles batch-1 inference")));
    }
    if let Some(k) = cx.ints("kernel_shape")
        && k != [kh as i64, kw as i64]
    {
        return Err(cx.invalid(format!("kernel_shape {k:?} does not match weights {ws:?}")));
    }
    let group = cx.int("group", 1);
    let group = usize::try_from(group)
        .ok()
        .filter(|&g| g > 0 && cin % g == 0 && cout % g == 0 && cin / g == cin_g)
        .ok_or_else(|| {
            cx.unsupported_attr(
                "group",
                group,
                &format!("a divisor of {cin} and {cout} with {cin}/group = {cin_g}"),
            )
        })?;
    let stride = pair(cx, "strides", 1)?;
    let dilation = pair(cx, "dilations", 1)?;
    let pad = window_padding(cx, [h, wd], [kh, kw], stride, dilation)?;
    let xv = im.nhwc_value(x, &cx.name, &cx.op)?;
    let depthwise = group == cin && group > 1 && cin_g == 1;
    let (op, wv): (Op, ValueId) = if depthwise {
        let wv = im.weight(
            w.id,
            &[1, 2, 3, 0],
            vec![1, kh, kw, cout],
            &cx.name,
            "depthwise",
        )?;
        let op = DepthwiseConv2d {
            stride,
            dilation,
            pad,
            depth_multiplier: cout / cin,
            act: Activation::None,
        };
        (op.into(), wv)
    } else {
        let wv = im.weight(
            w.id,
            &[0, 2, 3, 1],
            vec![cout, kh, kw, cin_g],
            &cx.name,
            "conv",
        )?;
        (
            Conv2d {
                stride,
                dilation,
                pad,
                act: Activation::None,
            }
            .into(),
            wv,
        )
    };
    let mut inputs = vec![xv, wv];
    if let Some(b) = cx.optional_input(im, 2)? {
        inputs.push(bias(im, cx, b.id, cout)?);
    }
    cx.emit(im, op, inputs, Layout::Nchw)
}

/// A bias operand: a constant `[n]` (float, or DEQUANTIZE of an int32
/// constant), reshaped to `[n]` if it has unit dimensions.
fn bias(im: &mut Importer<'_>, cx: &Cx<'_>, b: ValueId, n: usize) -> Result<ValueId> {
    let f = im.graph.fact(b);
    if f.elements() != n {
        return Err(cx.invalid(format!("bias has shape {:?}, expected [{n}]", f.shape)));
    }
    if f.shape == [n] {
        return Ok(b);
    }
    let rank = f.shape.len();
    let perm: Vec<usize> = (0..rank).collect();
    im.weight(b, &perm, vec![n], &cx.name, "bias")
}

fn clip(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let (min, max) = if cx.opset < 11 {
        cx.allow(&["min", "max"])?;
        (
            cx.attr("min").and_then(|a| a.f),
            cx.attr("max").and_then(|a| a.f),
        )
    } else {
        cx.allow(&[])?;
        let scalar = |i: usize, what: &str| -> Result<Option<f32>> {
            match cx.input_name(i) {
                None => Ok(None),
                Some(_) => {
                    let v = cx.const_floats(im, i, what)?;
                    match v[..] {
                        [x] => Ok(Some(x)),
                        _ => Err(cx.invalid(format!("{what} must be a scalar"))),
                    }
                }
            }
        };
        (scalar(1, "min")?, scalar(2, "max")?)
    };
    let act = match (min, max) {
        (Some(0.0), None) => Some(Activation::Relu),
        (Some(a), Some(b)) if a == 0.0 && b == f32::INFINITY => Some(Activation::Relu),
        (Some(a), Some(b)) if a == 0.0 && b == 6.0 => Some(Activation::Relu6),
        (Some(a), Some(b)) if a == -1.0 && b == 1.0 => Some(Activation::ReluN1To1),
        _ => None,
    };
    let op: Op = match act {
        Some(act) => Relu { act }.into(),
        None => Clip {
            min: min.unwrap_or(f32::NEG_INFINITY),
            max: max.unwrap_or(f32::INFINITY),
        }
        .into(),
    };
    cx.emit(im, op, vec![x.id], x.layout)
}

fn batch_norm(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["epsilon", "momentum", "training_mode", "spatial"])?;
    if cx.int("training_mode", 0) != 0 {
        return Err(cx.unsupported_attr(
            "training_mode",
            cx.int("training_mode", 0),
            "0 (inference)",
        ));
    }
    if cx.int("spatial", 1) != 1 {
        return Err(cx.unsupported_attr("spatial", cx.int("spatial", 1), "1"));
    }
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let eps = cx.float("epsilon", 1e-5);
    let scale = cx.const_floats(im, 1, "scale")?;
    let b = cx.const_floats(im, 2, "B")?;
    let mean = cx.const_floats(im, 3, "input_mean")?;
    let var = cx.const_floats(im, 4, "input_var")?;
    let shape = im.onnx_shape(x);
    let c = shape.get(1).copied().unwrap_or(0);
    if [scale.len(), b.len(), mean.len(), var.len()]
        .iter()
        .any(|&l| l != c)
    {
        return Err(cx.invalid(format!(
            "parameters must have {c} elements (channels of {shape:?})"
        )));
    }
    let xv = match (x.layout, shape.len()) {
        (Layout::Nchw, _) => x.id,
        (Layout::Plain, 4) => im.nhwc_value(x, &cx.name, &cx.op)?,
        (Layout::Plain, 2) => x.id,
        _ => {
            let spatial: usize = shape[2..].iter().product();
            if spatial != 1 {
                return Err(cx.invalid(format!(
                    "input {shape:?}: mcuc normalizes channels-last tensors (4-D NCHW or 2-D [N,C])"
                )));
            }
            im.reshape(&cx.name, x.id, vec![shape[0], c])?
        }
    };
    let mul: Vec<f32> = scale
        .iter()
        .zip(&var)
        .map(|(s, v)| s / (v + eps).sqrt())
        .collect();
    let add: Vec<f32> = b
        .iter()
        .zip(&mean)
        .zip(&mul)
        .map(|((b, m), k)| b - m * k)
        .collect();
    let mv = im.add_value(
        &format!("{}.mul", cx.name),
        Fact::new(vec![c], DType::Float32, None),
        Some(f32_bytes(&mul)),
    );
    let av = im.add_value(
        &format!("{}.add", cx.name),
        Fact::new(vec![c], DType::Float32, None),
        Some(f32_bytes(&add)),
    );
    let layout = if shape.len() == 4 {
        Layout::Nchw
    } else {
        Layout::Plain
    };
    let out = cx.output_name(0)?.to_string();
    let id = im.add_node(&cx.name, BatchNorm.into(), vec![xv, mv, av], &out, None)?;
    if layout == Layout::Plain && im.graph.fact(id).shape != shape {
        let r = im.reshape(&cx.name, id, shape)?;
        return cx.bind(im, r, Layout::Plain);
    }
    cx.bind(im, id, layout)
}

/// Brings operand `t` into `layout` against an ONNX output of rank `rank`.
fn operand_in(
    im: &mut Importer<'_>,
    cx: &Cx<'_>,
    t: Tensor,
    layout: Layout,
    rank: usize,
) -> Result<ValueId> {
    if t.layout == layout {
        im.touch(t.id);
        return Ok(t.id);
    }
    match layout {
        Layout::Plain => im.plain_value(t, &cx.name, &cx.op),
        Layout::Nchw => {
            // Broadcast operand of lower rank: left-pad to 4-D, then NHWC.
            let mut s = im.onnx_shape(t);
            if s.len() > rank {
                return Err(cx.invalid(format!("operand {s:?} has a higher rank than the output")));
            }
            while s.len() < 4 {
                s.insert(0, 1);
            }
            let v = im.reshape(&cx.name, t.id, s)?;
            im.nhwc_value(
                Tensor {
                    id: v,
                    layout: Layout::Plain,
                },
                &cx.name,
                &cx.op,
            )
        }
    }
}

fn binary(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&[])?;
    cx.expect_outputs(1)?;
    let a = cx.input(im, 0)?;
    let mut b = cx.input(im, 1)?;
    let rank = im.onnx_shape(a).len().max(im.onnx_shape(b).len());
    // Sub and Div by a constant become Add and Mul.
    let op = cx.op.as_str();
    if matches!(op, "Sub" | "Div") {
        let Some(c) = const_floats(im, b.id) else {
            return Err(cx.invalid(format!(
                "{op} is supported when its second operand is a float constant"
            )));
        };
        let c: Vec<f32> = if op == "Sub" {
            c.iter().map(|v| -v).collect()
        } else {
            c.iter().map(|v| 1.0 / v).collect()
        };
        let f = im.graph.fact(b.id).clone();
        let name = format!(
            "{}.{}",
            im.graph.value(b.id).name,
            if op == "Sub" { "neg" } else { "recip" }
        );
        let id = im.add_value(&name, f, Some(f32_bytes(&c)));
        b = Tensor {
            id,
            layout: b.layout,
        };
    }
    let layout = if a.layout == Layout::Nchw || b.layout == Layout::Nchw {
        Layout::Nchw
    } else {
        Layout::Plain
    };
    let av = operand_in(im, cx, a, layout, rank)?;
    let bv = operand_in(im, cx, b, layout, rank)?;
    let op: Op = match op {
        "Add" | "Sub" => Add {
            act: Activation::None,
        }
        .into(),
        _ => Mul {
            act: Activation::None,
        }
        .into(),
    };
    cx.emit(im, op, vec![av, bv], layout)
}

fn matmul(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&[])?;
    cx.expect_outputs(1)?;
    let a = cx.input(im, 0)?;
    let b = cx.input(im, 1)?;
    fc(im, cx, a, b.id, false, 1.0, None)
}

/// FULLY_CONNECTED from `a [.., K] x b` (`b` is `[K, N]`, or `[N, K]` when
/// `transposed`), scaled by `alpha`, plus an optional bias.
fn fc(
    im: &mut Importer<'_>,
    cx: &Cx<'_>,
    a: Tensor,
    b: ValueId,
    transposed: bool,
    alpha: f32,
    bias_in: Option<ValueId>,
) -> Result<()> {
    let bs = im.graph.fact(b).shape.clone();
    let [r, c] = bs[..] else {
        return Err(cx.invalid(format!(
            "second operand must be a 2-D constant, has shape {bs:?}"
        )));
    };
    let (k, n) = if transposed { (c, r) } else { (r, c) };
    let xv = im.plain_value(a, &cx.name, &cx.op)?;
    let xs = im.graph.fact(xv).shape.clone();
    if xs.last() != Some(&k) {
        return Err(cx.invalid(format!("operands {xs:?} and {bs:?} do not multiply")));
    }
    let perm: &[usize] = if transposed { &[0, 1] } else { &[1, 0] };
    let mut w = im.weight(b, perm, vec![n, k], &cx.name, "fc")?;
    if alpha != 1.0 {
        let Some(data) = const_floats(im, w) else {
            return Err(cx.unsupported_attr("alpha", alpha, "1.0 for quantized weights"));
        };
        let scaled: Vec<f32> = data.iter().map(|v| v * alpha).collect();
        let f = im.graph.fact(w).clone();
        w = im.add_value(
            &format!("{}.alpha", im.graph.value(w).name),
            f,
            Some(f32_bytes(&scaled)),
        );
    }
    let mut inputs = vec![xv, w];
    if let Some(bv) = bias_in {
        inputs.push(bias(im, cx, bv, n)?);
    }
    let keep_num_dims = xs.len() > 2;
    cx.emit(
        im,
        FullyConnected {
            act: Activation::None,
            keep_num_dims,
        }
        .into(),
        inputs,
        Layout::Plain,
    )
}

fn gemm(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["alpha", "beta", "transA", "transB"])?;
    cx.expect_outputs(1)?;
    if cx.int("transA", 0) != 0 {
        return Err(cx.unsupported_attr("transA", cx.int("transA", 0), "0"));
    }
    let a = cx.input(im, 0)?;
    if im.onnx_shape(a).len() != 2 {
        return Err(cx.invalid(format!("A must be 2-D, has shape {:?}", im.onnx_shape(a))));
    }
    let b = cx.input(im, 1)?;
    let transposed = cx.int("transB", 0) != 0;
    let alpha = cx.float("alpha", 1.0);
    let beta = cx.float("beta", 1.0);
    let n = {
        let s = &im.graph.fact(b.id).shape;
        if transposed {
            s.first().copied()
        } else {
            s.get(1).copied()
        }
        .unwrap_or(0)
    };
    let c = match cx.optional_input(im, 2)? {
        None => None,
        Some(c) => {
            let f = im.graph.fact(c.id).clone();
            if let Some(data) = const_floats(im, c.id) {
                // Float bias: scale by beta and broadcast to [N].
                let v: Vec<f32> = match data.len() {
                    1 => vec![data[0] * beta; n],
                    l if l == n => data.iter().map(|x| x * beta).collect(),
                    _ => {
                        return Err(cx.invalid(format!(
                            "C has shape {:?}, expected [{n}] or [1,{n}]",
                            f.shape
                        )));
                    }
                };
                let name = format!("{}.bias", cx.name);
                Some(im.add_value(
                    &name,
                    Fact::new(vec![n], DType::Float32, None),
                    Some(f32_bytes(&v)),
                ))
            } else if beta == 1.0 {
                Some(c.id)
            } else {
                return Err(cx.unsupported_attr("beta", beta, "1.0 for a quantized C"));
            }
        }
    };
    fc(im, cx, a, b.id, transposed, alpha, c)
}

fn pool(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    let average = cx.op == "AveragePool";
    cx.allow(&[
        "auto_pad",
        "ceil_mode",
        "count_include_pad",
        "dilations",
        "kernel_shape",
        "pads",
        "strides",
        "storage_order",
    ])?;
    cx.expect_outputs(1)?;
    if cx.int("storage_order", 0) != 0 {
        return Err(cx.unsupported_attr("storage_order", cx.int("storage_order", 0), "0"));
    }
    let x = cx.input(im, 0)?;
    let xs = im.onnx_shape(x);
    let [1, _, h, w] = xs[..] else {
        return Err(cx.invalid(format!(
            "mcuc supports 2-D pooling of [1,C,H,W], got {xs:?}"
        )));
    };
    let filter = match cx.ints("kernel_shape") {
        Some(k) => match k[..] {
            [a, b] if a > 0 && b > 0 => [a as usize, b as usize],
            _ => return Err(cx.unsupported_attr("kernel_shape", k, "two positive values")),
        },
        None => return Err(cx.invalid("kernel_shape is required")),
    };
    let stride = pair(cx, "strides", 1)?;
    if pair(cx, "dilations", 1)? != [1, 1] {
        return Err(cx.unsupported_attr("dilations", cx.ints("dilations"), "[1, 1]"));
    }
    let pad = window_padding(cx, [h, w], filter, stride, [1, 1])?;
    if average && cx.int("count_include_pad", 0) != 0 && !pad.is_zero() {
        return Err(cx.unsupported_attr(
            "count_include_pad",
            1,
            "0 (TFLite averages over the cells inside the input)",
        ));
    }
    if cx.int("ceil_mode", 0) != 0 {
        // Accept ceil_mode when it does not change the output size.
        let floor_ok =
            |i: usize, p: usize, k: usize, s: usize| (i + p).saturating_sub(k).is_multiple_of(s);
        if !(floor_ok(h, pad.top + pad.bottom, filter[0], stride[0])
            && floor_ok(w, pad.left + pad.right, filter[1], stride[1]))
        {
            return Err(cx.unsupported_attr(
                "ceil_mode",
                1,
                "0 (or a geometry where it makes no difference)",
            ));
        }
    }
    let xv = im.nhwc_value(x, &cx.name, &cx.op)?;
    let p = Pool2d {
        filter,
        stride,
        pad,
        act: Activation::None,
    };
    let op: Op = if average {
        AvgPool2d(p).into()
    } else {
        MaxPool2d(p).into()
    };
    let quant = im.graph.fact(xv).quant.clone();
    cx.emit_q(im, op, vec![xv], Layout::Nchw, quant)
}

fn reduce_mean(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["axes", "keepdims", "noop_with_empty_axes"])?;
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let shape = im.onnx_shape(x);
    let rank = shape.len();
    let raw = if cx.opset >= 18 {
        match cx.input_name(1) {
            Some(_) => cx.const_ints(im, 1, "axes")?,
            None => Vec::new(),
        }
    } else {
        cx.ints("axes").unwrap_or_default()
    };
    let mut axes: Vec<usize> = if raw.is_empty() {
        if cx.int("noop_with_empty_axes", 0) != 0 {
            return identity(im, cx);
        }
        (0..rank).collect()
    } else {
        raw.iter()
            .map(|&a| cx.axis("axes", a, rank))
            .collect::<Result<_>>()?
    };
    axes.sort_unstable();
    axes.dedup();
    let keep = cx.int("keepdims", 1) != 0;
    let onnx_out: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keep) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let (xv, ir_axes) = match x.layout {
        Layout::Plain => (x.id, axes.clone()),
        Layout::Nchw => {
            let mut a: Vec<usize> = axes.iter().map(|&a| NCHW_TO_IR[a]).collect();
            a.sort_unstable();
            (x.id, a)
        }
    };
    let quant = im.graph.fact(xv).quant.clone();
    let op = Mean {
        axes: ir_axes,
        keep_dims: true,
    };
    let out = cx.output_name(0)?.to_string();
    let y = im.add_node(&cx.name, op.into(), vec![xv], &out, quant)?;
    if keep {
        return cx.bind(im, y, x.layout);
    }
    let t = Tensor {
        id: y,
        layout: x.layout,
    };
    let y = im.plain_value(t, &cx.name, &cx.op)?;
    let y = im.reshape(&cx.name, y, onnx_out)?;
    cx.bind(im, y, Layout::Plain)
}

/// Flatten, Reshape, Squeeze, Unsqueeze: the same bytes under a new shape.
fn reshape(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let s = im.onnx_shape(x);
    let rank = s.len();
    let target: Vec<usize> = match cx.op.as_str() {
        "Flatten" => {
            cx.allow(&["axis"])?;
            let a = cx.int("axis", 1);
            let a = if a < 0 { a + rank as i64 } else { a };
            if a < 0 || a > rank as i64 {
                return Err(cx.unsupported_attr("axis", a, &format!("0..={rank}")));
            }
            let a = a as usize;
            vec![s[..a].iter().product(), s[a..].iter().product()]
        }
        "Reshape" => {
            cx.allow(&["allowzero"])?;
            let allowzero = cx.int("allowzero", 0) != 0;
            let spec = cx.const_ints(im, 1, "shape")?;
            let total: usize = s.iter().product();
            let mut out = Vec::with_capacity(spec.len());
            let mut infer = None;
            for (i, &d) in spec.iter().enumerate() {
                match d {
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        out.push(1);
                    }
                    0 if !allowzero => out.push(*s.get(i).ok_or_else(|| {
                        cx.invalid(format!(
                            "shape {spec:?}: 0 at {i} copies a dimension the input does not have"
                        ))
                    })?),
                    d if d >= 0 => out.push(d as usize),
                    _ => return Err(cx.invalid(format!("shape {spec:?} is not a valid reshape"))),
                }
            }
            if let Some(i) = infer {
                let known: usize = out.iter().product();
                if known == 0 || !total.is_multiple_of(known) {
                    return Err(cx.invalid(format!("cannot reshape {s:?} to {spec:?}")));
                }
                out[i] = total / known;
            }
            out
        }
        "Squeeze" => {
            let axes = if cx.opset >= 13 {
                cx.allow(&[])?;
                match cx.input_name(1) {
                    Some(_) => Some(cx.const_ints(im, 1, "axes")?),
                    None => None,
                }
            } else {
                cx.allow(&["axes"])?;
                cx.ints("axes")
            };
            match axes {
                None => s.iter().copied().filter(|&d| d != 1).collect(),
                Some(axes) => {
                    let axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| cx.axis("axes", a, rank))
                        .collect::<Result<_>>()?;
                    if let Some(&a) = axes.iter().find(|&&a| s[a] != 1) {
                        return Err(cx.invalid(format!("cannot squeeze axis {a} of {s:?}")));
                    }
                    s.iter()
                        .enumerate()
                        .filter(|(i, _)| !axes.contains(i))
                        .map(|(_, &d)| d)
                        .collect()
                }
            }
        }
        _ => {
            let axes = if cx.opset >= 13 {
                cx.allow(&[])?;
                cx.const_ints(im, 1, "axes")?
            } else {
                cx.allow(&["axes"])?;
                cx.ints("axes").unwrap_or_default()
            };
            let out_rank = rank + axes.len();
            let mut axes: Vec<usize> = axes
                .iter()
                .map(|&a| cx.axis("axes", a, out_rank))
                .collect::<Result<_>>()?;
            axes.sort_unstable();
            let mut it = s.iter();
            (0..out_rank)
                .map(|i| {
                    if axes.contains(&i) {
                        1
                    } else {
                        it.next().copied().unwrap_or(1)
                    }
                })
                .collect()
        }
    };
    if target.iter().product::<usize>() != s.iter().product::<usize>() {
        return Err(cx.invalid(format!("cannot reshape {s:?} to {target:?}")));
    }
    let xv = im.plain_value(x, &cx.name, &cx.op)?;
    let out = cx.output_name(0)?.to_string();
    let y = if im.graph.value(xv).is_const() {
        im.reshape(&cx.name, xv, target)?
    } else {
        let quant = im.graph.fact(xv).quant.clone();
        im.add_node(
            &cx.name,
            Reshape { shape: target }.into(),
            vec![xv],
            &out,
            quant,
        )?
    };
    cx.bind(im, y, Layout::Plain)
}

fn transpose(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["perm"])?;
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let s = im.onnx_shape(x);
    let rank = s.len();
    let perm: Vec<usize> = match cx.ints("perm") {
        None => (0..rank).rev().collect(),
        Some(p) => {
            let p: Vec<usize> = p
                .iter()
                .map(|&a| cx.axis("perm", a, rank))
                .collect::<Result<_>>()?;
            let mut sorted = p.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return Err(cx.unsupported_attr("perm", p, "a permutation of the axes"));
            }
            p
        }
    };
    // NHWC -> NCHW and back only change the tag.
    match (x.layout, perm.as_slice()) {
        (Layout::Plain, [0, 3, 1, 2]) if !im.graph.value(x.id).is_const() => {
            im.touch(x.id);
            return cx.bind(im, x.id, Layout::Nchw);
        }
        (Layout::Nchw, [0, 2, 3, 1]) => {
            im.touch(x.id);
            return cx.bind(im, x.id, Layout::Plain);
        }
        _ => {}
    }
    let target: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
    let xv = im.plain_value(x, &cx.name, &cx.op)?;
    let value = im.graph.value(xv).clone();
    if let Some(data) = &value.data {
        let bytes = transpose_bytes(data, &s, &perm, value.fact.dtype.size());
        let fact = Fact::new(target, value.fact.dtype, value.fact.quant.clone());
        let id = im.add_value(&format!("{}.transposed", value.name), fact, Some(bytes));
        return cx.bind(im, id, Layout::Plain);
    }
    if perm_is_reshape(&s, &perm) {
        let out = cx.output_name(0)?.to_string();
        let y = im.add_node(
            &cx.name,
            Reshape { shape: target }.into(),
            vec![xv],
            &out,
            value.fact.quant.clone(),
        )?;
        return cx.bind(im, y, Layout::Plain);
    }
    Err(cx.invalid(format!(
        "Transpose {perm:?} of {s:?} moves data; mcuc folds only NHWC<->NCHW layout changes and \
         transposes that move dimensions of size 1"
    )))
}

fn concat(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["axis"])?;
    cx.expect_outputs(1)?;
    let ins: Vec<Tensor> = (0..cx.node.input.len())
        .map(|i| cx.input(im, i))
        .collect::<Result<_>>()?;
    let Some(first) = ins.first() else {
        return Err(cx.invalid("has no inputs"));
    };
    let rank = im.onnx_shape(*first).len();
    let axis = cx.axis("axis", cx.int("axis", 0), rank)?;
    // All constant int64 inputs (shape arithmetic): fold here.
    if ins
        .iter()
        .all(|t| im.graph.fact(t.id).dtype == DType::Int64 && im.graph.value(t.id).is_const())
        && rank == 1
    {
        let v: Vec<i64> = ins
            .iter()
            .flat_map(|t| const_ints(im, t.id).unwrap_or_default())
            .collect();
        let id = im.add_value(
            cx.output_name(0)?,
            Fact::new(vec![v.len()], DType::Int64, None),
            Some(i64_bytes(&v)),
        );
        return cx.bind(im, id, Layout::Plain);
    }
    let layout = if ins.iter().any(|t| t.layout == Layout::Nchw) {
        Layout::Nchw
    } else {
        Layout::Plain
    };
    let vs: Vec<ValueId> = ins
        .iter()
        .map(|&t| operand_in(im, cx, t, layout, rank))
        .collect::<Result<_>>()?;
    let ir_axis = if layout == Layout::Nchw {
        NCHW_TO_IR[axis]
    } else {
        axis
    };
    let quant = im.graph.fact(vs[0]).quant.clone();
    cx.emit_q(
        im,
        Concat {
            axis: ir_axis,
            act: Activation::None,
        }
        .into(),
        vs,
        layout,
        quant,
    )
}

fn pad(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["mode", "pads", "value"])?;
    cx.expect_outputs(1)?;
    let mode = cx.string("mode").unwrap_or_else(|| "constant".into());
    if mode != "constant" {
        return Err(cx.unsupported_attr("mode", mode, "constant"));
    }
    let x = cx.input(im, 0)?;
    let s = im.onnx_shape(x);
    let rank = s.len();
    let (pads, value) = if cx.opset < 11 {
        (cx.ints("pads").unwrap_or_default(), cx.float("value", 0.0))
    } else {
        if cx.input_name(3).is_some() {
            return Err(cx.invalid("the axes input is not supported; give pads for every axis"));
        }
        let pads = cx.const_ints(im, 1, "pads")?;
        let value = match cx.input_name(2) {
            None => 0.0,
            Some(_) => {
                let t = cx.input(im, 2)?;
                match im.graph.fact(t.id).dtype {
                    DType::Float32 => cx
                        .const_floats(im, 2, "constant_value")?
                        .first()
                        .copied()
                        .unwrap_or(0.0),
                    _ => {
                        // A quantized pad value: it must be the zero point.
                        let q = im.graph.fact(x.id).quant.clone();
                        let raw = im
                            .graph
                            .value(t.id)
                            .const_i8()
                            .and_then(|d| d.first().copied())
                            .map(i64::from);
                        if raw.is_some() && raw == q.map(|q| q.zero_point()) {
                            0.0
                        } else {
                            f32::NAN
                        }
                    }
                }
            }
        };
        (pads, value)
    };
    if value != 0.0 {
        return Err(cx.unsupported_attr(
            "constant_value",
            value,
            "0 (mcuc pads with the quantized zero)",
        ));
    }
    if pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
        return Err(cx.unsupported_attr(
            "pads",
            &pads,
            &format!("{} non-negative values", 2 * rank),
        ));
    }
    let onnx_pairs: Vec<[usize; 2]> = (0..rank)
        .map(|i| [pads[i] as usize, pads[i + rank] as usize])
        .collect();
    let pairs = match x.layout {
        Layout::Plain => onnx_pairs,
        Layout::Nchw => (0..4).map(|i| onnx_pairs[[0, 2, 3, 1][i]]).collect(),
    };
    let quant = im.graph.fact(x.id).quant.clone();
    cx.emit_q(im, Pad { pads: pairs }.into(), vec![x.id], x.layout, quant)
}

fn softmax(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["axis"])?;
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let s = im.onnx_shape(x);
    let rank = s.len();
    let default = if cx.opset >= 13 { -1 } else { 1 };
    let axis = cx.axis("axis", cx.int("axis", default), rank)?;
    // Before opset 13 the input is flattened to 2-D at `axis`: the same as
    // the last axis when every later dimension is 1.
    let last_ok = |layout: Layout| -> bool {
        match layout {
            Layout::Plain if cx.opset >= 13 => axis == rank - 1,
            Layout::Plain => s[axis + 1..].iter().all(|&d| d == 1) || axis == rank - 1,
            Layout::Nchw if cx.opset >= 13 => axis == 1,
            Layout::Nchw => axis == 1 && s[2] * s[3] == 1,
        }
    };
    if !last_ok(x.layout) {
        return Err(cx.unsupported_attr("axis", axis, "the innermost (channel) axis"));
    }
    let (xv, layout) = if x.layout == Layout::Plain && axis != rank - 1 {
        let flat = vec![s[..axis].iter().product(), s[axis..].iter().product()];
        let v = im.reshape(&cx.name, x.id, flat)?;
        (v, Layout::Plain)
    } else {
        (x.id, x.layout)
    };
    let out = cx.output_name(0)?.to_string();
    let y = im.add_node(&cx.name, Softmax { beta: 1.0 }.into(), vec![xv], &out, None)?;
    let y = if layout == Layout::Plain {
        im.reshape(&cx.name, y, s)?
    } else {
        y
    };
    cx.bind(im, y, layout)
}

/// Identity and inference-mode Dropout: a same-shape RESHAPE, removed by
/// the `remove_identity` pass.
fn identity(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    if cx.op == "Dropout" {
        cx.allow(&["seed", "ratio", "is_test"])?;
        if cx.opset >= 12 && cx.input_name(2).is_some() {
            let t = cx.input(im, 2)?;
            let training = im
                .graph
                .value(t.id)
                .data
                .as_ref()
                .map(|d| d.iter().any(|&b| b != 0));
            if training != Some(false) {
                return Err(cx.invalid("training_mode must be a constant false (inference)"));
            }
        }
    } else if cx.op == "Identity" {
        cx.allow(&[])?;
    }
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    if im.graph.value(x.id).is_const() {
        return cx.bind(im, x.id, x.layout);
    }
    let shape = im.graph.fact(x.id).shape.clone();
    let quant = im.graph.fact(x.id).quant.clone();
    cx.emit_q(im, Reshape { shape }.into(), vec![x.id], x.layout, quant)
}

fn constant(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.expect_outputs(1)?;
    let out = cx.output_name(0)?.to_string();
    let [a] = cx.node.attribute.as_slice() else {
        return Err(cx.invalid("must have exactly one value attribute"));
    };
    let (fact, data) = match a.name.as_deref().unwrap_or("") {
        "value" => {
            let t =
                a.t.as_ref()
                    .ok_or_else(|| cx.invalid("value has no tensor"))?;
            let v = im.tensor_proto(t, Some(&out))?;
            (v.fact, v.data.map(|d| d.to_vec()).unwrap_or_default())
        }
        "value_float" => (
            Fact::new(vec![], DType::Float32, None),
            f32_bytes(&[a.f.unwrap_or(0.0)]),
        ),
        "value_floats" => (
            Fact::new(vec![a.floats.len()], DType::Float32, None),
            f32_bytes(&a.floats),
        ),
        "value_int" => (
            Fact::new(vec![], DType::Int64, None),
            i64_bytes(&[a.i.unwrap_or(0)]),
        ),
        "value_ints" => (
            Fact::new(vec![a.ints.len()], DType::Int64, None),
            i64_bytes(&a.ints),
        ),
        other => {
            return Err(cx.unsupported_attr(
                other,
                "(present)",
                "value, value_float(s) or value_int(s)",
            ));
        }
    };
    let id = im.add_value(&out, fact, Some(data));
    cx.bind(im, id, Layout::Plain)
}

fn shape(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["start", "end"])?;
    let x = cx.input(im, 0)?;
    let s = im.onnx_shape(x);
    let rank = s.len() as i64;
    let clampi = |v: i64| if v < 0 { (v + rank).max(0) } else { v.min(rank) } as usize;
    let (a, b) = (clampi(cx.int("start", 0)), clampi(cx.int("end", rank)));
    let dims: Vec<i64> = s[a..b.max(a)].iter().map(|&d| d as i64).collect();
    let id = im.add_value(
        cx.output_name(0)?,
        Fact::new(vec![dims.len()], DType::Int64, None),
        Some(i64_bytes(&dims)),
    );
    cx.bind(im, id, Layout::Plain)
}

/// Gather on constant integer tensors (shape arithmetic).
fn gather(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["axis"])?;
    let data = cx.input(im, 0)?;
    let idx = cx.input(im, 1)?;
    let (Some(d), Some(i)) = (const_ints(im, data.id), const_ints(im, idx.id)) else {
        return Err(
            cx.invalid("Gather is supported on constant integer tensors only (shape computations)")
        );
    };
    if im.graph.fact(data.id).rank() != 1 || cx.int("axis", 0) != 0 {
        return Err(cx.invalid("Gather is supported on 1-D constants along axis 0"));
    }
    let n = d.len() as i64;
    let v: Vec<i64> = i
        .iter()
        .map(|&k| d.get((if k < 0 { k + n } else { k }) as usize).copied())
        .collect::<Option<_>>()
        .ok_or_else(|| cx.invalid("index out of range"))?;
    let shape = im.graph.fact(idx.id).shape.clone();
    let id = im.add_value(
        cx.output_name(0)?,
        Fact::new(shape, DType::Int64, None),
        Some(i64_bytes(&v)),
    );
    cx.bind(im, id, Layout::Plain)
}

fn cast(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["to", "saturate"])?;
    let x = cx.input(im, 0)?;
    let to = super::dtype(cx.int("to", 0) as i32, &cx.name)?;
    let from = im.graph.fact(x.id).dtype;
    if from == to {
        return identity(im, cx);
    }
    let shape = im.graph.fact(x.id).shape.clone();
    let data = match (const_ints(im, x.id), const_floats(im, x.id), to) {
        (Some(v), _, DType::Int64) => i64_bytes(&v),
        (Some(v), _, DType::Float32) => f32_bytes(&v.iter().map(|&x| x as f32).collect::<Vec<_>>()),
        (_, Some(v), DType::Int64) => i64_bytes(&v.iter().map(|&x| x as i64).collect::<Vec<_>>()),
        _ => {
            return Err(cx.invalid(format!(
                "Cast from {from} to {to} is supported on constants only"
            )));
        }
    };
    let id = im.add_value(cx.output_name(0)?, Fact::new(shape, to, None), Some(data));
    cx.bind(im, id, Layout::Plain)
}

/// Scale and zero point of a Q/DQ node: constant, per tensor or per axis.
fn qparams(
    im: &Importer<'_>,
    cx: &Cx<'_>,
    scale_i: usize,
    zp_i: usize,
    len: usize,
) -> Result<(Vec<f32>, Vec<i64>, DType)> {
    let scale = cx.const_floats(im, scale_i, "scale")?;
    let (zp, zdt) = match cx.input_name(zp_i) {
        None => (vec![0; scale.len()], DType::UInt8),
        Some(_) => {
            let t = cx.input(im, zp_i)?;
            let v = im.graph.value(t.id);
            let dt = v.fact.dtype;
            let data = v
                .data
                .as_ref()
                .ok_or_else(|| cx.invalid("zero point must be a constant"))?;
            let zp: Vec<i64> = match dt {
                DType::Int8 => data.iter().map(|&b| b as i8 as i64).collect(),
                DType::UInt8 => data.iter().map(|&b| b as i64).collect(),
                DType::Int32 => const_ints(im, t.id).unwrap_or_default(),
                other => {
                    return Err(cx.invalid(format!("zero point of type {other} is not supported")));
                }
            };
            (zp, dt)
        }
    };
    if scale.len() != zp.len() || (scale.len() != 1 && scale.len() != len) {
        return Err(cx.invalid(format!(
            "{} scales and {} zero points for {len} channels",
            scale.len(),
            zp.len()
        )));
    }
    Ok((scale, zp, zdt))
}

fn quantize_linear(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["axis", "saturate", "block_size", "output_dtype"])?;
    if cx.int("block_size", 0) != 0 {
        return Err(cx.unsupported_attr(
            "block_size",
            cx.int("block_size", 0),
            "0 (no blocked quantization)",
        ));
    }
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let (scale, zp, zdt) = qparams(im, cx, 1, 2, 1)?;
    if zdt != DType::Int8 {
        return Err(cx.invalid(format!(
            "quantizes to {zdt}; mcuc's kernels are int8 (re-export with int8 activations, e.g. onnxruntime QuantType.QInt8)"
        )));
    }
    if scale.len() != 1 {
        return Err(cx.invalid("per-axis quantization of activations is not supported"));
    }
    let q = Quant::per_tensor(scale[0], zp[0]);
    cx.emit_q(im, Quantize.into(), vec![x.id], x.layout, Some(q))
}

fn dequantize_linear(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    cx.allow(&["axis", "block_size"])?;
    if cx.int("block_size", 0) != 0 {
        return Err(cx.unsupported_attr(
            "block_size",
            cx.int("block_size", 0),
            "0 (no blocked quantization)",
        ));
    }
    cx.expect_outputs(1)?;
    let x = cx.input(im, 0)?;
    let shape = im.onnx_shape(x);
    let rank = shape.len();
    // The axis matters only for per-axis parameters; 1-D tensors have only
    // axis 0 (exporters copy other values, e.g. person_detect's axis 3).
    let per_axis = im.graph.fact(cx.input(im, 1)?.id).elements() > 1;
    let axis = if rank <= 1 || !per_axis {
        0
    } else {
        cx.axis("axis", cx.int("axis", 1), rank)?
    };
    let channels = shape.get(axis).copied().unwrap_or(1);
    let (scale, zp, _) = qparams(im, cx, 1, 2, channels)?;
    let dt = im.graph.fact(x.id).dtype;
    if !matches!(dt, DType::Int8 | DType::Int32) {
        return Err(cx.invalid(format!(
            "dequantizes {dt}; mcuc supports int8 tensors and int32 biases"
        )));
    }
    // 1-D tensors have only axis 0 (person_detect's exporter wrote axis 3).
    let q_axis = match x.layout {
        Layout::Nchw => NCHW_TO_IR[axis],
        Layout::Plain => axis,
    };
    let q = Quant {
        scale,
        zero_point: zp,
        axis: if rank <= 1 { 0 } else { q_axis },
    };
    let value = im.graph.value(x.id).clone();
    if value.is_const() {
        let fact = Fact::new(value.fact.shape.clone(), dt, Some(q));
        let c = im.add_value(
            &format!("{}.q", value.name),
            fact,
            value.data.map(|d| d.to_vec()),
        );
        let y = im.dequantize_const(c)?;
        return cx.bind(im, y, x.layout);
    }
    if !q.is_per_tensor() {
        return Err(cx.invalid("per-axis quantization of activations is not supported"));
    }
    match &value.fact.quant {
        None => im.set_quant(x.id, q),
        Some(existing) if *existing == q => {}
        Some(existing) => {
            return Err(cx.invalid(format!(
                "`{}` is quantized with scale {} zero point {} but dequantized with scale {} zero point {}",
                value.name,
                existing.scale(),
                existing.zero_point(),
                q.scale(),
                q.zero_point()
            )));
        }
    }
    cx.emit(im, Dequantize.into(), vec![x.id], x.layout)
}

/// QLinearConv / QLinearMatMul: expanded into DequantizeLinear -> op ->
/// QuantizeLinear, which `fuse_qdq` folds back into one int8 operator.
fn qlinear(im: &mut Importer<'_>, cx: &Cx<'_>) -> Result<()> {
    let conv = cx.op == "QLinearConv";
    if conv {
        cx.allow(&[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ])?;
    } else {
        cx.allow(&[])?;
    }
    cx.expect_outputs(1)?;
    // Inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, B].
    let x = cx.input(im, 0)?;
    let w = cx.input(im, 3)?;
    let (xs, xz, xdt) = qparams(im, cx, 1, 2, 1)?;
    let wshape = im.onnx_shape(w);
    let wc = if conv { wshape.first() } else { wshape.get(1) }
        .copied()
        .unwrap_or(1);
    let (ws, wz, wdt) = qparams(im, cx, 4, 5, wc)?;
    let (ys, yz, ydt) = qparams(im, cx, 6, 7, 1)?;
    if [xdt, wdt, ydt].iter().any(|&d| d != DType::Int8) || xs.len() != 1 || ys.len() != 1 {
        return Err(cx.invalid("mcuc supports int8 inputs, weights and outputs quantized per tensor (weights may be per channel)"));
    }
    let xq = Quant::per_tensor(xs[0], xz[0]);
    match &im.graph.fact(x.id).quant {
        None => im.set_quant(x.id, xq.clone()),
        Some(q) if *q == xq => {}
        Some(_) => return Err(cx.invalid("input quantization differs from its producer's")),
    }
    let xd = im.add_node(
        &format!("{}.x", cx.name),
        Dequantize.into(),
        vec![x.id],
        &format!("{}.x", cx.name),
        None,
    )?;
    let wv = im.graph.value(w.id).clone();
    if !wv.is_const() {
        return Err(cx.invalid("weights must be a constant"));
    }
    let wq = Quant {
        scale: ws.clone(),
        zero_point: wz,
        axis: 0,
    };
    let wq = if conv { wq } else { Quant { axis: 1, ..wq } };
    let wconst = im.add_value(
        &format!("{}.q", wv.name),
        Fact::new(wv.fact.shape.clone(), DType::Int8, Some(wq)),
        wv.data.map(|d| d.to_vec()),
    );
    let wd = im.dequantize_const(wconst)?;
    let mut names = vec![format!("{}.x", cx.name), format!("{}.w", cx.name)];
    let mut bias_name = None;
    if conv && let Some(b) = cx.optional_input(im, 8)? {
        let bv = im.graph.value(b.id).clone();
        let scales: Vec<f32> = ws
            .iter()
            .map(|&s| (xs[0] as f64 * s as f64) as f32)
            .collect();
        let bq = Quant {
            zero_point: vec![0; scales.len()],
            scale: scales,
            axis: 0,
        };
        let bc = im.add_value(
            &format!("{}.q", bv.name),
            Fact::new(bv.fact.shape.clone(), DType::Int32, Some(bq)),
            bv.data.map(|d| d.to_vec()),
        );
        let bd = im.dequantize_const(bc)?;
        let n = format!("{}.b", cx.name);
        im.bind(
            &n,
            super::Tensor {
                id: bd,
                layout: Layout::Plain,
            },
        );
        bias_name = Some(n);
    }
    im.bind(
        &names[0],
        super::Tensor {
            id: xd,
            layout: x.layout,
        },
    );
    im.bind(
        &names[1],
        super::Tensor {
            id: wd,
            layout: Layout::Plain,
        },
    );
    names.extend(bias_name);
    let float_out = format!("{}.float", cx.name);
    let inner = pb::NodeProto {
        input: names,
        output: vec![float_out.clone()],
        name: Some(cx.name.clone()),
        op_type: Some(if conv { "Conv" } else { "MatMul" }.into()),
        attribute: cx.node.attribute.clone(),
        ..Default::default()
    };
    import_node(im, cx.index, &inner)?;
    let f = im.get(&float_out, &cx.name)?;
    let q = Quant::per_tensor(ys[0], yz[0]);
    cx.emit_q(im, Quantize.into(), vec![f.id], f.layout, Some(q))
}

#[cfg(test)]
mod tests {
    use super::super::{nchw, nhwc};
    use super::*;

    #[test]
    fn nchw_helpers_round_trip() {
        assert_eq!(nhwc(&[1, 3, 4, 5]), vec![1, 4, 5, 3]);
        assert_eq!(nchw(&[1, 4, 5, 3]), vec![1, 3, 4, 5]);
        assert!(perm_is_reshape(&[1, 1, 4, 5], &[0, 2, 3, 1]));
        assert!(!perm_is_reshape(&[1, 3, 4, 5], &[0, 2, 3, 1]));
        assert!(perm_is_reshape(&[1, 8, 1, 1], &[0, 2, 3, 1]));
        // [2,3] transposed.
        let data: Vec<u8> = (0..6).collect();
        assert_eq!(
            transpose_bytes(&data, &[2, 3], &[1, 0], 1),
            vec![0, 3, 1, 4, 2, 5]
        );
    }
}
