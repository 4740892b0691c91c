//! `fuse_qdq`: QDQ patterns become int8 operators.
//!
//! A float op whose activation inputs are DEQUANTIZEs of int8 tensors,
//! whose weights are DEQUANTIZEs of constant int8 tensors (zero point 0),
//! whose bias is a DEQUANTIZE of a constant int32 tensor, and whose only
//! reader is a QUANTIZE, becomes the same op on the int8 tensors, writing
//! the QUANTIZE's output. A QUANTIZE of a DEQUANTIZE becomes a
//! requantization of the int8 tensor.
//!
//! Invariant established: no QDQ pattern around a fusable op remains.
//!
//! Why it is exact: the QDQ graph *describes* an int8 computation with the
//! scales and zero points of its Q/DQ initializers (f32, as TFLite stores
//! them); the fused op computes it with TFLite's integer kernels, which is
//! the integer semantics the QDQ export came from. Ops that TFLite requires
//! to keep their input's quantization (pools, pad, reshape, concat) fuse
//! only when the Q/DQ parameters agree.

use super::{Pass, replace_uses, single_reader};
use crate::error::Result;
use crate::ir::ops::Quantize;
use crate::ir::{DType, Graph, Node, NodeId, Op, ValueId};

pub struct FuseQdq;

impl Pass for FuseQdq {
    fn name(&self) -> &'static str {
        "fuse_qdq"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let nodes: Vec<NodeId> = g.node_ids().collect();
        let mut changed = false;
        for n in nodes {
            if g.node_ids().all(|m| m != n) {
                continue;
            }
            changed |= match g.node(n).op {
                Op::Quantize(_) => fuse_requantize(g, n),
                Op::Dequantize(_) => false,
                Op::Reshape(_) => fuse_op(g, n) || sink_dequantize(g, n),
                _ => fuse_op(g, n),
            };
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}

/// The int8 value a DEQUANTIZE output comes from.
fn dequantized(g: &Graph, v: ValueId) -> Option<ValueId> {
    let p = g.producer(v)?;
    let node = g.node(p);
    matches!(node.op, Op::Dequantize(_)).then_some(node.inputs[0])
}

fn fuse_op(g: &mut Graph, n: NodeId) -> bool {
    let node = g.node(n).clone();
    let y = node.outputs[0];
    if g.fact(y).dtype != DType::Float32 || g.outputs.contains(&y) {
        return false;
    }
    let Some(q) = single_reader(g, y) else {
        return false;
    };
    if !matches!(g.node(q).op, Op::Quantize(_)) {
        return false;
    }
    let yq = g.node(q).outputs[0];
    if g.fact(yq).dtype != DType::Int8 {
        return false;
    }
    let conv_like = matches!(
        node.op,
        Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::FullyConnected(_)
    );
    let mut inputs = Vec::with_capacity(node.inputs.len());
    for (i, &v) in node.inputs.iter().enumerate() {
        let Some(src) = dequantized(g, v) else {
            return false;
        };
        let f = g.fact(src);
        let ok = match (conv_like, i) {
            (true, 1) => {
                f.dtype == DType::Int8
                    && g.value(src).is_const()
                    && f.quant
                        .as_ref()
                        .is_some_and(|q| q.zero_point.iter().all(|&z| z == 0))
            }
            (true, 2) => f.dtype == DType::Int32 && g.value(src).is_const(),
            _ => f.dtype == DType::Int8 && f.quant.as_ref().is_some_and(|q| q.is_per_tensor()),
        };
        if !ok {
            return false;
        }
        inputs.push(src);
    }
    if matches!(
        node.op,
        Op::AvgPool2d(_) | Op::MaxPool2d(_) | Op::Pad(_) | Op::Reshape(_) | Op::Concat(_)
    ) && inputs.iter().any(|&v| g.fact(v).quant != g.fact(yq).quant)
    {
        return false;
    }
    if matches!(node.op, Op::BatchNorm(_) | Op::LeakyRelu(_) | Op::Clip(_)) {
        return false;
    }
    let m = g.node_mut(n);
    m.inputs = inputs;
    m.outputs = vec![yq];
    g.remove_node(q);
    true
}

/// RESHAPE(DEQUANTIZE(x)) -> DEQUANTIZE(RESHAPE(x)): a float layout
/// reshape (the importer's NCHW <-> NHWC moves of unit dimensions) between a
/// DEQUANTIZE and its op moves onto the int8 side, where it keeps the
/// quantization and the pattern around the op becomes fusable.
fn sink_dequantize(g: &mut Graph, n: NodeId) -> bool {
    let node = g.node(n).clone();
    let Some(src) = dequantized(g, node.inputs[0]) else {
        return false;
    };
    let sf = g.fact(src).clone();
    if sf.dtype != DType::Int8 || sf.quant.as_ref().is_none_or(|q| !q.is_per_tensor()) {
        return false;
    }
    let y = node.outputs[0];
    let yq = g.add_value(crate::ir::Value {
        name: format!("{}.int8", g.value(y).name),
        fact: crate::ir::Fact::new(g.fact(y).shape.clone(), DType::Int8, sf.quant.clone()),
        data: None,
    });
    let m = g.node_mut(n);
    m.inputs = vec![src];
    m.outputs = vec![yq];
    g.add_node(Node {
        name: format!("{}.dequant", node.name),
        op: crate::ir::ops::Dequantize.into(),
        inputs: vec![yq],
        outputs: vec![y],
    });
    true
}

/// QUANTIZE(DEQUANTIZE(x)): requantize `x` directly, or drop both when the
/// parameters agree.
fn fuse_requantize(g: &mut Graph, qn: NodeId) -> bool {
    let node = g.node(qn).clone();
    let Some(src) = dequantized(g, node.inputs[0]) else {
        return false;
    };
    if g.fact(src).dtype != DType::Int8
        || g.fact(src)
            .quant
            .as_ref()
            .is_none_or(|q| !q.is_per_tensor())
    {
        return false;
    }
    let yq = node.outputs[0];
    if g.fact(src).quant == g.fact(yq).quant
        && !g.outputs.contains(&yq)
        && g.fact(src).shape == g.fact(yq).shape
    {
        replace_uses(g, yq, src);
        g.remove_node(qn);
        return true;
    }
    g.remove_node(qn);
    g.add_node(Node {
        name: node.name,
        op: Quantize.into(),
        inputs: vec![src],
        outputs: vec![yq],
    });
    true
}
