//! The float host executor: runs graphs that are not (or not entirely)
//! quantized. Host-only reference arithmetic for calibration, constant
//! folding and tests; nothing here is shipped to a device.
//!
//! float32 nodes run on the f32 reference kernels below (NHWC, OHWI
//! filters, the layouts of [`crate::ir`]); every other node (int8 ops,
//! QUANTIZE, DEQUANTIZE) runs on the same lowered kernels as
//! [`super::run`], so a mixed graph executes exactly as far as it is
//! quantized.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::ir::ops::{
    Activation, BatchNorm, Clip, Concat, Conv2d, DepthwiseConv2d, FullyConnected, LeakyRelu, Mean,
    Pad, Pool2d, Relu, Softmax,
};
use crate::ir::{DType, Graph, Node, NodeId, Op, Value, ValueId};
use crate::kernels;
use crate::npy::Array;

/// A runtime tensor: float32 values, or raw little-endian bytes of any
/// other dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    Bytes(Vec<u8>),
}

impl Data {
    fn from_value(v: &Value) -> Option<Data> {
        let bytes = v.data.as_ref()?;
        Some(if v.fact.dtype == DType::Float32 {
            Data::F32(f32s(bytes))
        } else {
            Data::Bytes(bytes.to_vec())
        })
    }

    fn from_array(a: &Array) -> Data {
        if a.dtype == DType::Float32 {
            Data::F32(f32s(&a.data))
        } else {
            Data::Bytes(a.data.clone())
        }
    }

    /// Little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::Bytes(b) => b.clone(),
        }
    }
}

/// Little-endian bytes as `f32`s.
pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `f32`s as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn exec_error(message: String) -> Error {
    Error::Verify {
        stage: "exec".into(),
        errors: vec![message],
    }
}

/// Runs `g` on `inputs` (checked with [`super::check_inputs`]) and returns
/// one array per graph output.
pub fn run(g: &Graph, inputs: &[Array]) -> Result<Vec<Array>> {
    run_observed(g, inputs, &mut |_, _| {})
}

/// Like [`run`], and calls `observe(v, values)` for every float32 value a
/// node computes and every float32 graph input (calibration).
pub fn run_observed(
    g: &Graph,
    inputs: &[Array],
    observe: &mut dyn FnMut(ValueId, &[f32]),
) -> Result<Vec<Array>> {
    let order = g
        .topo_order()
        .ok_or_else(|| exec_error("the graph has a cycle".into()))?;
    let mut env: BTreeMap<ValueId, Data> = BTreeMap::new();
    for (&v, a) in g.inputs.iter().zip(inputs) {
        let d = Data::from_array(a);
        if let Data::F32(x) = &d {
            observe(v, x);
        }
        env.insert(v, d);
    }
    for n in order {
        let out = eval_node(g, n, &env)?;
        let node = g.node(n);
        if let Data::F32(x) = &out {
            observe(node.outputs[0], x);
        }
        env.insert(node.outputs[0], out);
    }
    g.outputs
        .iter()
        .map(|&v| {
            let fact = g.fact(v);
            let data = match env.get(&v) {
                Some(d) => d.to_bytes(),
                None => g
                    .value(v)
                    .data
                    .as_ref()
                    .map(|d| d.to_vec())
                    .ok_or_else(|| exec_error(format!("graph output {v} was never computed")))?,
            };
            Ok(Array::new(fact.dtype, fact.shape.clone(), data))
        })
        .collect()
}

/// Evaluates one node of `g` whose inputs are all constants (constant
/// folding). `None` if some input is not constant.
pub fn eval_const(g: &Graph, n: NodeId) -> Result<Option<Data>> {
    let env = BTreeMap::new();
    if g.node(n).inputs.iter().any(|&v| !g.value(v).is_const()) {
        return Ok(None);
    }
    eval_node(g, n, &env).map(Some)
}

fn lookup<'a>(g: &'a Graph, env: &'a BTreeMap<ValueId, Data>, v: ValueId) -> Result<Data> {
    if let Some(d) = env.get(&v) {
        return Ok(d.clone());
    }
    Data::from_value(g.value(v)).ok_or_else(|| {
        exec_error(format!(
            "{v} `{}` is read before it is computed",
            g.value(v).name
        ))
    })
}

/// The linear part of CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED node
/// `n` of `g` in float: input `x` times weights `w` (shaped like the
/// node's input and weights), without bias and activation. `None` for
/// other ops.
pub(crate) fn linear(g: &Graph, n: NodeId, x: &[f32], w: &[f32]) -> Option<Vec<f32>> {
    let node = g.node(n);
    let shape = |v: ValueId| g.fact(v).shape.as_slice();
    let (xs, ws, ys) = (
        shape(node.inputs[0]),
        shape(*node.inputs.get(1)?),
        shape(node.outputs[0]),
    );
    Some(match &node.op {
        Op::Conv2d(op) => {
            let op = Conv2d {
                act: Activation::None,
                ..op.clone()
            };
            conv2d(&op, xs, x, ws, w, None, ys)
        }
        Op::DepthwiseConv2d(op) => {
            let op = DepthwiseConv2d {
                act: Activation::None,
                ..op.clone()
            };
            depthwise(&op, xs, x, ws, w, None, ys)
        }
        Op::FullyConnected(op) => {
            let op = FullyConnected {
                act: Activation::None,
                ..op.clone()
            };
            fully_connected(&op, ws, x, w, None)
        }
        _ => return None,
    })
}

/// Whether a node computes in float32 (not a QUANTIZE/DEQUANTIZE boundary).
fn is_float_node(g: &Graph, node: &Node) -> bool {
    !matches!(node.op, Op::Quantize(_) | Op::Dequantize(_))
        && node
            .inputs
            .iter()
            .chain(&node.outputs)
            .any(|&v| g.fact(v).dtype == DType::Float32)
}

fn eval_node(g: &Graph, n: NodeId, env: &BTreeMap<ValueId, Data>) -> Result<Data> {
    let node = g.node(n);
    if !is_float_node(g, node) {
        let kernel = kernels::lower(g, n)?;
        let ins: Vec<Vec<u8>> = kernel
            .inputs
            .iter()
            .map(|&v| lookup(g, env, v).map(|d| d.to_bytes()))
            .collect::<Result<_>>()?;
        let ins: Vec<&[i8]> = ins.iter().map(|b| super::bytes_as_i8(b)).collect();
        let mut out = vec![0i8; g.fact(node.outputs[0]).bytes()];
        kernel.execute(&ins, &mut out);
        let bytes: Vec<u8> = out.iter().map(|&b| b as u8).collect();
        return Ok(if g.fact(node.outputs[0]).dtype == DType::Float32 {
            Data::F32(f32s(&bytes))
        } else {
            Data::Bytes(bytes)
        });
    }
    let err = |m: String| Error::node(&node.name, node.op.name(), m);
    let mut xs = Vec::with_capacity(node.inputs.len());
    for &v in &node.inputs {
        match lookup(g, env, v)? {
            Data::F32(x) => xs.push(x),
            Data::Bytes(_) => {
                return Err(err(format!(
                    "input `{}` is {}, the float path needs float32",
                    g.value(v).name,
                    g.fact(v).dtype
                )));
            }
        }
    }
    let shape = |i: usize| g.fact(node.inputs[i]).shape.as_slice();
    let out_shape = g.fact(node.outputs[0]).shape.as_slice();
    let y = match &node.op {
        Op::Conv2d(op) => conv2d(op, shape(0), &xs[0], shape(1), &xs[1], xs.get(2), out_shape),
        Op::DepthwiseConv2d(op) => {
            depthwise(op, shape(0), &xs[0], shape(1), &xs[1], xs.get(2), out_shape)
        }
        Op::FullyConnected(op) => fully_connected(op, shape(1), &xs[0], &xs[1], xs.get(2)),
        Op::Add(op) => binary(
            shape(0),
            &xs[0],
            shape(1),
            &xs[1],
            out_shape,
            op.act,
            |a, b| a + b,
        ),
        Op::Mul(op) => binary(
            shape(0),
            &xs[0],
            shape(1),
            &xs[1],
            out_shape,
            op.act,
            |a, b| a * b,
        ),
        Op::AvgPool2d(op) => pool(&op.0, shape(0), &xs[0], out_shape, true),
        Op::MaxPool2d(op) => pool(&op.0, shape(0), &xs[0], out_shape, false),
        Op::Mean(op) => mean(op, shape(0), &xs[0], out_shape),
        Op::Reshape(_) => xs[0].clone(),
        Op::Softmax(op) => softmax(op, shape(0), &xs[0]),
        Op::Logistic(_) => xs[0].iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect(),
        Op::Tanh(_) => xs[0].iter().map(|&x| x.tanh()).collect(),
        Op::Relu(Relu { act }) => xs[0].iter().map(|&x| clamp(x, *act)).collect(),
        Op::Pad(op) => pad(op, shape(0), &xs[0], out_shape),
        Op::Concat(op) => {
            let shapes: Vec<&[usize]> = (0..xs.len()).map(shape).collect();
            concat(op, &shapes, &xs)
        }
        Op::BatchNorm(BatchNorm) => batch_norm(&xs[0], &xs[1], &xs[2]),
        Op::LeakyRelu(LeakyRelu { alpha }) => xs[0]
            .iter()
            .map(|&x| if x >= 0.0 { x } else { alpha * x })
            .collect(),
        Op::Clip(Clip { min, max }) => xs[0].iter().map(|&x| x.max(*min).min(*max)).collect(),
        Op::Quantize(_) | Op::Dequantize(_) => {
            return Err(err("QUANTIZE/DEQUANTIZE run on the int8 kernels".into()));
        }
    };
    Ok(Data::F32(y))
}

/// The fused activation in real values.
pub fn clamp(x: f32, act: Activation) -> f32 {
    match act {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
        Activation::Relu6 => x.clamp(0.0, 6.0),
        Activation::ReluN1To1 => x.clamp(-1.0, 1.0),
    }
}

fn conv2d(
    op: &Conv2d,
    xs: &[usize],
    x: &[f32],
    ws: &[usize],
    w: &[f32],
    bias: Option<&Vec<f32>>,
    ys: &[usize],
) -> Vec<f32> {
    let (h, wd, cin) = (xs[1], xs[2], xs[3]);
    let (cout, kh, kw, cin_g) = (ws[0], ws[1], ws[2], ws[3]);
    let (oh, ow) = (ys[1], ys[2]);
    let groups = cin / cin_g.max(1);
    let cout_g = cout / groups.max(1);
    let mut y = vec![0f32; oh * ow * cout];
    for oy in 0..oh {
        for ox in 0..ow {
            for oc in 0..cout {
                let g = oc / cout_g.max(1);
                let mut acc = bias.map_or(0.0, |b| b[oc]);
                for ky in 0..kh {
                    let iy =
                        (oy * op.stride[0] + ky * op.dilation[0]) as isize - op.pad.top as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = (ox * op.stride[1] + kx * op.dilation[1]) as isize
                            - op.pad.left as isize;
                        if ix < 0 || ix >= wd as isize {
                            continue;
                        }
                        let xo = (iy as usize * wd + ix as usize) * cin + g * cin_g;
                        let wo = ((oc * kh + ky) * kw + kx) * cin_g;
                        acc += x[xo..xo + cin_g]
                            .iter()
                            .zip(&w[wo..wo + cin_g])
                            .map(|(a, b)| a * b)
                            .sum::<f32>();
                    }
                }
                y[(oy * ow + ox) * cout + oc] = clamp(acc, op.act);
            }
        }
    }
    y
}

fn depthwise(
    op: &DepthwiseConv2d,
    xs: &[usize],
    x: &[f32],
    ws: &[usize],
    w: &[f32],
    bias: Option<&Vec<f32>>,
    ys: &[usize],
) -> Vec<f32> {
    let (h, wd, cin) = (xs[1], xs[2], xs[3]);
    let (kh, kw, cout) = (ws[1], ws[2], ws[3]);
    let (oh, ow) = (ys[1], ys[2]);
    let m = op.depth_multiplier.max(1);
    let mut y = vec![0f32; oh * ow * cout];
    for oy in 0..oh {
        for ox in 0..ow {
            for oc in 0..cout {
                let ic = oc / m;
                let mut acc = bias.map_or(0.0, |b| b[oc]);
                for ky in 0..kh {
                    let iy =
                        (oy * op.stride[0] + ky * op.dilation[0]) as isize - op.pad.top as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = (ox * op.stride[1] + kx * op.dilation[1]) as isize
                            - op.pad.left as isize;
                        if ix < 0 || ix >= wd as isize {
                            continue;
                        }
                        acc += x[(iy as usize * wd + ix as usize) * cin + ic]
                            * w[(ky * kw + kx) * cout + oc];
                    }
                }
                y[(oy * ow + ox) * cout + oc] = clamp(acc, op.act);
            }
        }
    }
    y
}

fn fully_connected(
    op: &FullyConnected,
    ws: &[usize],
    x: &[f32],
    w: &[f32],
    bias: Option<&Vec<f32>>,
) -> Vec<f32> {
    let (n, k) = (ws[0], ws[1]);
    let rows = x.len() / k.max(1);
    let mut y = Vec::with_capacity(rows * n);
    for r in 0..rows {
        let xr = &x[r * k..(r + 1) * k];
        for o in 0..n {
            let acc: f32 = xr
                .iter()
                .zip(&w[o * k..(o + 1) * k])
                .map(|(a, b)| a * b)
                .sum();
            y.push(clamp(acc + bias.map_or(0.0, |b| b[o]), op.act));
        }
    }
    y
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Offset into a tensor of shape `shape` (right-aligned against `out`, with
/// broadcasting) for the multi-index `idx` of the output.
fn broadcast_offset(idx: &[usize], shape: &[usize], st: &[usize]) -> usize {
    let off = idx.len() - shape.len();
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if d == 1 { 0 } else { idx[off + i] * st[i] })
        .sum()
}

fn binary(
    sa: &[usize],
    a: &[f32],
    sb: &[usize],
    b: &[f32],
    out: &[usize],
    act: Activation,
    f: impl Fn(f32, f32) -> f32,
) -> Vec<f32> {
    let n: usize = out.iter().product();
    if sa == out && sb == out {
        return a
            .iter()
            .zip(b)
            .map(|(&x, &y)| clamp(f(x, y), act))
            .collect();
    }
    let (sta, stb) = (strides(sa), strides(sb));
    let mut idx = vec![0usize; out.len()];
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let x = a[broadcast_offset(&idx, sa, &sta)];
        let z = b[broadcast_offset(&idx, sb, &stb)];
        y.push(clamp(f(x, z), act));
        for d in (0..out.len()).rev() {
            idx[d] += 1;
            if idx[d] < out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    y
}

fn pool(op: &Pool2d, xs: &[usize], x: &[f32], ys: &[usize], average: bool) -> Vec<f32> {
    let (h, w, c) = (xs[1], xs[2], xs[3]);
    let (oh, ow) = (ys[1], ys[2]);
    let mut y = vec![0f32; oh * ow * c];
    for oy in 0..oh {
        for ox in 0..ow {
            let y0 = (oy * op.stride[0]) as isize - op.pad.top as isize;
            let x0 = (ox * op.stride[1]) as isize - op.pad.left as isize;
            let (ya, yb) = (
                y0.max(0) as usize,
                ((y0 + op.filter[0] as isize).min(h as isize)).max(0) as usize,
            );
            let (xa, xb) = (
                x0.max(0) as usize,
                ((x0 + op.filter[1] as isize).min(w as isize)).max(0) as usize,
            );
            for ch in 0..c {
                let mut acc = if average { 0.0 } else { f32::NEG_INFINITY };
                let mut count = 0usize;
                for iy in ya..yb {
                    for ix in xa..xb {
                        let v = x[(iy * w + ix) * c + ch];
                        if average {
                            acc += v;
                        } else {
                            acc = acc.max(v);
                        }
                        count += 1;
                    }
                }
                let v = if average {
                    acc / count.max(1) as f32
                } else {
                    acc
                };
                y[(oy * ow + ox) * c + ch] = clamp(v, op.act);
            }
        }
    }
    y
}

fn mean(op: &Mean, xs: &[usize], x: &[f32], ys: &[usize]) -> Vec<f32> {
    let n_out: usize = ys.iter().product();
    let mut sum = vec![0f64; n_out];
    // Output strides over the input rank (reduced axes contribute 0).
    let kept: Vec<usize> = (0..xs.len()).filter(|a| !op.axes.contains(a)).collect();
    let kept_shape: Vec<usize> = kept.iter().map(|&a| xs[a]).collect();
    let kst = strides(&kept_shape);
    let mut ost = vec![0usize; xs.len()];
    for (j, &a) in kept.iter().enumerate() {
        ost[a] = kst[j];
    }
    let mut idx = vec![0usize; xs.len()];
    for &v in x {
        let o: usize = idx.iter().zip(&ost).map(|(i, s)| i * s).sum();
        sum[o] += v as f64;
        for d in (0..xs.len()).rev() {
            idx[d] += 1;
            if idx[d] < xs[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    let count: usize = op.axes.iter().map(|&a| xs[a]).product();
    sum.iter()
        .map(|&s| (s / count.max(1) as f64) as f32)
        .collect()
}

fn softmax(op: &Softmax, xs: &[usize], x: &[f32]) -> Vec<f32> {
    let depth = xs.last().copied().unwrap_or(1).max(1);
    let mut y = Vec::with_capacity(x.len());
    for row in x.chunks(depth) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = row.iter().map(|&v| ((v - max) * op.beta).exp()).collect();
        let s: f32 = e.iter().sum();
        y.extend(e.iter().map(|v| v / s));
    }
    y
}

fn pad(op: &Pad, xs: &[usize], x: &[f32], ys: &[usize]) -> Vec<f32> {
    let mut y = vec![0f32; ys.iter().product()];
    let yst = strides(ys);
    let mut idx = vec![0usize; xs.len()];
    for &v in x {
        let o: usize = idx
            .iter()
            .zip(&op.pads)
            .zip(&yst)
            .map(|((i, p), s)| (i + p[0]) * s)
            .sum();
        y[o] = v;
        for d in (0..xs.len()).rev() {
            idx[d] += 1;
            if idx[d] < xs[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    y
}

fn concat(op: &Concat, shapes: &[&[usize]], xs: &[Vec<f32>]) -> Vec<f32> {
    let outer: usize = shapes[0][..op.axis].iter().product();
    let mut y = Vec::with_capacity(xs.iter().map(Vec::len).sum());
    for o in 0..outer {
        for (s, x) in shapes.iter().zip(xs) {
            let inner: usize = s[op.axis..].iter().product();
            y.extend_from_slice(&x[o * inner..(o + 1) * inner]);
        }
    }
    y
}

fn batch_norm(x: &[f32], mul: &[f32], add: &[f32]) -> Vec<f32> {
    let c = mul.len().max(1);
    x.iter()
        .enumerate()
        .map(|(i, &v)| v * mul[i % c] + add[i % c])
        .collect()
}
