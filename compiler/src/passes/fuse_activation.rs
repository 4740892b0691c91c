//! `fuse_activation`: a float RELU/RELU6/RELU_N1_TO_1 that is the only
//! reader of a float CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL
//! or pooling output becomes that op's fused activation.
//!
//! Invariant established: no float activation reads the sole output of an
//! op that can fuse it. Quantization relies on this: the activation range
//! is then measured after the clamp, as TFLite does, and in QDQ graphs the
//! `op -> Relu -> QuantizeLinear` pattern becomes one int8 op.
//!
//! Only float graphs are rewritten: in an int8 graph a standalone RELU may
//! requantize (its input and output scales can differ), so fusing it would
//! change results.

use super::{Pass, single_reader};
use crate::error::Result;
use crate::ir::ops::Activation;
use crate::ir::{DType, Graph, NodeId, Op};

pub struct FuseActivation;

impl Pass for FuseActivation {
    fn name(&self) -> &'static str {
        "fuse_activation"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let relus: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| matches!(g.node(n).op, Op::Relu(_)))
            .collect();
        let mut changed = false;
        for r in relus {
            changed |= fuse_one(g, r);
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}

fn slot(op: &mut Op) -> Option<&mut Activation> {
    match op {
        Op::Conv2d(o) => Some(&mut o.act),
        Op::DepthwiseConv2d(o) => Some(&mut o.act),
        Op::FullyConnected(o) => Some(&mut o.act),
        Op::Add(o) => Some(&mut o.act),
        Op::Mul(o) => Some(&mut o.act),
        Op::AvgPool2d(o) => Some(&mut o.0.act),
        Op::MaxPool2d(o) => Some(&mut o.0.act),
        _ => None,
    }
}

fn fuse_one(g: &mut Graph, r: NodeId) -> bool {
    let node = g.node(r).clone();
    let Op::Relu(relu) = &node.op else {
        return false;
    };
    let x = node.inputs[0];
    if g.fact(x).dtype != DType::Float32 || single_reader(g, x) != Some(r) {
        return false;
    }
    let Some(p) = g.producer(x) else { return false };
    let mut op = g.node(p).op.clone();
    match slot(&mut op) {
        Some(a) if *a == Activation::None => *a = relu.act,
        _ => return false,
    }
    let pn = g.node_mut(p);
    pn.op = op;
    pn.outputs = node.outputs.clone();
    g.remove_node(r);
    true
}
