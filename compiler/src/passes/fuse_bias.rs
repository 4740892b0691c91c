//! `fuse_bias`: an ADD of a per-channel constant after a float CONV_2D,
//! DEPTHWISE_CONV_2D or FULLY_CONNECTED becomes (part of) that op's bias.
//! The constant may be float, or a DEQUANTIZE of an int32 constant (a QDQ
//! bias, as exporters write MatMul + Add).
//!
//! Invariant established: no such ADD reads the sole output of a
//! convolution or fully connected op.
//!
//! Why it is exact: `w*x + b + c = w*x + (b + c)`; a quantized bias is only
//! moved (the op must not have a bias yet), never re-rounded.

use super::{Pass, replace_uses, single_reader};
use crate::error::Result;
use crate::exec::float::{f32_bytes, f32s};
use crate::ir::ops::Activation;
use crate::ir::{DType, Fact, Graph, NodeId, Op, Value, ValueId};

pub struct FuseBias;

impl Pass for FuseBias {
    fn name(&self) -> &'static str {
        "fuse_bias"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let adds: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| matches!(&g.node(n).op, Op::Add(a) if a.act == Activation::None))
            .collect();
        let mut changed = false;
        for add in adds {
            changed |= fuse_one(g, add);
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}

/// What the other operand of the ADD is.
enum BiasSource {
    Float(Vec<f32>),
    /// A DEQUANTIZE (of an int32 constant) output.
    Dequantized(ValueId),
}

fn fuse_one(g: &mut Graph, add: NodeId) -> bool {
    let node = g.node(add).clone();
    if g.fact(node.outputs[0]).dtype != DType::Float32 {
        return false;
    }
    for k in 0..2 {
        let (x, c) = (node.inputs[k], node.inputs[1 - k]);
        let Some(p) = g.producer(x) else { continue };
        let producer = g.node(p).clone();
        let act = match &producer.op {
            Op::Conv2d(op) => op.act,
            Op::DepthwiseConv2d(op) => op.act,
            Op::FullyConnected(op) => op.act,
            _ => continue,
        };
        if act != Activation::None || single_reader(g, x) != Some(add) {
            continue;
        }
        let out = g.fact(x).shape.clone();
        let channels = out.last().copied().unwrap_or(0);
        let cf = g.fact(c);
        // The constant must broadcast along the last axis only, and not
        // change the output shape.
        if cf.elements() != channels
            || cf.shape.last() != Some(&channels)
            || g.fact(node.outputs[0]).shape != out
        {
            continue;
        }
        let source = if let Some(d) = g
            .value(c)
            .data
            .as_ref()
            .filter(|_| cf.dtype == DType::Float32)
        {
            BiasSource::Float(f32s(d))
        } else if let Some(dq) = g.producer(c)
            && matches!(g.node(dq).op, Op::Dequantize(_))
            && g.fact(g.node(dq).inputs[0]).dtype == DType::Int32
            && g.value(g.node(dq).inputs[0]).is_const()
            && producer.inputs.len() == 2
            && cf.shape == [channels]
        {
            BiasSource::Dequantized(c)
        } else {
            continue;
        };
        let bias = match source {
            BiasSource::Dequantized(v) => v,
            BiasSource::Float(c) => {
                let old = match producer.inputs.get(2) {
                    None => vec![0.0; channels],
                    Some(&b) => match g
                        .value(b)
                        .data
                        .as_ref()
                        .filter(|_| g.fact(b).dtype == DType::Float32)
                    {
                        Some(d) => f32s(d),
                        None => continue,
                    },
                };
                let sum: Vec<f32> = old.iter().zip(&c).map(|(a, b)| a + b).collect();
                g.add_value(Value {
                    name: format!("{}.bias", producer.name),
                    fact: Fact::new(vec![channels], DType::Float32, None),
                    data: Some(f32_bytes(&sum).into()),
                })
            }
        };
        let pn = g.node_mut(p);
        pn.inputs.truncate(2);
        pn.inputs.push(bias);
        let y = node.outputs[0];
        g.remove_node(add);
        replace_uses(g, y, x);
        return true;
    }
    false
}
