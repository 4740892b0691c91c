//! `fold_batchnorm`: an inference BATCH_NORM (`y = x * mul[c] + add[c]`)
//! after a float CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED is folded
//! into that op's weights and bias; any other 4-D BATCH_NORM becomes a 1x1
//! DEPTHWISE_CONV_2D with weights `mul` and bias `add`.
//!
//! Invariant established: no BATCH_NORM reads a 4-D tensor or the sole
//! output of a float convolution. (Quantization needs this: the batch-norm
//! scale must be inside the per-channel weight scales, and the activation
//! range measured after it.)
//!
//! Why it is exact (in real arithmetic): `(w*x + b) * m + a = (w*m)*x +
//! (b*m + a)` per output channel.

use super::{Pass, single_reader};
use crate::error::Result;
use crate::exec::float::{f32_bytes, f32s};
use crate::ir::ops::{Activation, DepthwiseConv2d, Padding};
use crate::ir::{DType, Fact, Graph, Node, NodeId, Op, Value, ValueId};

pub struct FoldBatchNorm;

impl Pass for FoldBatchNorm {
    fn name(&self) -> &'static str {
        "fold_batchnorm"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let bns: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| matches!(g.node(n).op, Op::BatchNorm(_)))
            .collect();
        let mut changed = false;
        for bn in bns {
            changed |= fold_one(g, bn) || to_depthwise(g, bn);
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}

fn const_f32(g: &Graph, v: ValueId) -> Option<Vec<f32>> {
    let value = g.value(v);
    (value.fact.dtype == DType::Float32)
        .then(|| value.data.as_ref().map(|d| f32s(d)))
        .flatten()
}

fn new_const(g: &mut Graph, name: String, shape: Vec<usize>, data: &[f32]) -> ValueId {
    g.add_value(Value {
        name,
        fact: Fact::new(shape, DType::Float32, None),
        data: Some(f32_bytes(data).into()),
    })
}

fn fold_one(g: &mut Graph, bn: NodeId) -> bool {
    let node = g.node(bn).clone();
    let x = node.inputs[0];
    let (Some(mul), Some(add)) = (const_f32(g, node.inputs[1]), const_f32(g, node.inputs[2]))
    else {
        return false;
    };
    let Some(p) = g.producer(x) else { return false };
    if single_reader(g, x) != Some(bn) {
        return false;
    }
    let producer = g.node(p).clone();
    let (act, channel_axis) = match &producer.op {
        Op::Conv2d(op) => (op.act, 0),
        Op::FullyConnected(op) => (op.act, 0),
        Op::DepthwiseConv2d(op) => (op.act, 3),
        _ => return false,
    };
    if act != Activation::None || g.fact(x).dtype != DType::Float32 {
        return false;
    }
    let w = producer.inputs[1];
    let Some(wd) = const_f32(g, w) else {
        return false;
    };
    let ws = g.fact(w).shape.clone();
    let c = mul.len();
    if ws.get(channel_axis) != Some(&c) {
        return false;
    }
    let bias = match producer.inputs.get(2) {
        Some(&b) => match const_f32(g, b) {
            Some(v) => v,
            None => return false,
        },
        None => vec![0.0; c],
    };
    // Scale every weight by its output channel's multiplier.
    let inner: usize = ws[channel_axis + 1..].iter().product();
    let new_w: Vec<f32> = wd
        .iter()
        .enumerate()
        .map(|(i, &v)| v * mul[(i / inner.max(1)) % c])
        .collect();
    let new_b: Vec<f32> = bias
        .iter()
        .zip(&mul)
        .zip(&add)
        .map(|((b, m), a)| b * m + a)
        .collect();
    let wname = format!("{}.bn", g.value(w).name);
    let nw = new_const(g, wname, ws, &new_w);
    let nb = new_const(g, format!("{}.bias.bn", producer.name), vec![c], &new_b);
    let y = node.outputs[0];
    let pn = g.node_mut(p);
    pn.inputs = vec![producer.inputs[0], nw, nb];
    pn.outputs = vec![y];
    g.remove_node(bn);
    true
}

fn to_depthwise(g: &mut Graph, bn: NodeId) -> bool {
    let Some(node) = g.node_ids().find(|&n| n == bn).map(|n| g.node(n).clone()) else {
        return false;
    };
    let x = node.inputs[0];
    let shape = g.fact(x).shape.clone();
    if shape.len() != 4 || shape[0] != 1 {
        return false;
    }
    let (Some(mul), Some(_)) = (const_f32(g, node.inputs[1]), const_f32(g, node.inputs[2])) else {
        return false;
    };
    let c = mul.len();
    let w = new_const(g, format!("{}.weights", node.name), vec![1, 1, 1, c], &mul);
    g.remove_node(bn);
    g.add_node(Node {
        name: node.name,
        op: DepthwiseConv2d {
            stride: [1, 1],
            dilation: [1, 1],
            pad: Padding::default(),
            depth_multiplier: 1,
            act: Activation::None,
        }
        .into(),
        inputs: vec![x, w, node.inputs[2]],
        outputs: node.outputs,
    });
    true
}
