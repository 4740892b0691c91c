//! Cross-layer equalization of a float graph before post-training
//! quantization ([`super::quantize`]).
//!
//! An activation is quantized per tensor: one scale for all its channels,
//! set by the channel with the widest range, so channels with narrow ranges
//! use few of the 256 levels. Where a linear layer `P` (CONV_2D,
//! DEPTHWISE_CONV_2D, FULLY_CONNECTED with no activation or ReLU, both
//! commuting with a positive scale) feeds a single linear layer `C`,
//! multiplying output channel `c` of `P` (weights and bias) by `k[c]` and
//! dividing input channel `c` of `C`'s weights by `k[c]` leaves the real
//! function unchanged and rescales channel `c` of the activation between
//! them. Weights are quantized per output channel, so the change to `P`
//! costs nothing; for `C`:
//! - a DEPTHWISE_CONV_2D quantizes each channel on its own: the division is
//!   free too, and every channel is scaled to the widest channel's range;
//! - a CONV_2D or FULLY_CONNECTED row mixes all input channels under one
//!   scale, so widening a narrow activation channel narrows its weights
//!   within the row; `k[c]` balances the two relative ranges
//!   (`sqrt(weight / activation)`, as in Nagel et al., "Data-Free
//!   Quantization Through Weight Equalization and Bias Correction", 2019).
//!
//! Channel ranges are the maxima of `|x|` observed over the calibration
//! inputs.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::exec::float::{self, f32_bytes, f32s};
use crate::ir::ops::Activation;
use crate::ir::{DType, Graph, NodeId, Op, Value, ValueId};
use crate::npy::Array;

/// Largest factor by which a channel is widened: keeps channels that were
/// (almost) silent on the calibration inputs from being blown up.
const MAX_SCALE: f64 = 256.0;

/// A pair `P -> C` that can be equalized.
struct Pair {
    producer: NodeId,
    consumer: NodeId,
    value: ValueId,
    depthwise: bool,
}

fn is_positive_homogeneous(act: Activation) -> bool {
    matches!(act, Activation::None | Activation::Relu)
}

fn const_f32(g: &Graph, v: ValueId) -> Option<Vec<f32>> {
    let value = g.value(v);
    (value.fact.dtype == DType::Float32)
        .then(|| value.data.as_deref().map(f32s))
        .flatten()
}

fn pairs(g: &Graph) -> Vec<Pair> {
    let Some(order) = g.topo_order() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in order {
        let node = g.node(p);
        let act = match &node.op {
            Op::Conv2d(op) => op.act,
            Op::DepthwiseConv2d(op) => op.act,
            Op::FullyConnected(op) => op.act,
            _ => continue,
        };
        if !is_positive_homogeneous(act)
            || node.inputs.get(1).and_then(|&w| const_f32(g, w)).is_none()
            || node
                .inputs
                .get(2)
                .is_some_and(|&b| const_f32(g, b).is_none())
        {
            continue;
        }
        let v = node.outputs[0];
        let Some(c) = super::single_reader(g, v) else {
            continue;
        };
        let consumer = g.node(c);
        if consumer.inputs.first() != Some(&v) {
            continue;
        }
        let Some(&w) = consumer.inputs.get(1) else {
            continue;
        };
        if const_f32(g, w).is_none() {
            continue;
        }
        let channels = g.fact(v).shape.last().copied().unwrap_or(0);
        let w_in = g.fact(w).shape.last().copied().unwrap_or(0);
        let depthwise = match &consumer.op {
            Op::DepthwiseConv2d(op) => op.depth_multiplier == 1,
            Op::Conv2d(_) | Op::FullyConnected(_) => false,
            _ => continue,
        };
        // The consumer's weights have the activation's channels on their
        // last axis (no groups, no depth multiplier).
        if channels == 0 || w_in != channels {
            continue;
        }
        if matches!(consumer.op, Op::DepthwiseConv2d(_)) && !depthwise {
            continue;
        }
        out.push(Pair {
            producer: p,
            consumer: c,
            value: v,
            depthwise,
        });
    }
    out
}

/// Replaces constant `v` of `g` with `data`, as a new value read by node
/// `n` only (the constant may be shared).
fn replace_const(g: &mut Graph, n: NodeId, v: ValueId, data: &[f32]) {
    let old = g.value(v).clone();
    let id = g.add_value(Value {
        name: old.name,
        fact: old.fact,
        data: Some(f32_bytes(data).into()),
    });
    for i in g.node_mut(n).inputs.iter_mut() {
        if *i == v {
            *i = id;
        }
    }
}

/// Equalizes the channels of every eligible activation of the float graph
/// `g` (see the module documentation); the real function is unchanged.
pub fn equalize(g: &Graph, samples: &[Vec<Array>]) -> Result<Graph> {
    let pairs = pairs(g);
    if pairs.is_empty() {
        return Ok(g.clone());
    }
    // Per-channel max |x| of the equalized activations.
    let mut ranges: BTreeMap<ValueId, Vec<f32>> = pairs
        .iter()
        .map(|p| {
            let c = g.fact(p.value).shape.last().copied().unwrap_or(1);
            (p.value, vec![0f32; c])
        })
        .collect();
    for sample in samples {
        float::run_observed(g, sample, &mut |v, x| {
            if let Some(r) = ranges.get_mut(&v) {
                let c = r.len();
                for (i, &y) in x.iter().enumerate() {
                    if y.is_finite() {
                        r[i % c] = r[i % c].max(y.abs());
                    }
                }
            }
        })?;
    }
    let mut q = g.clone();
    for pair in &pairs {
        let r = &ranges[&pair.value];
        let widest = r.iter().copied().fold(0f32, f32::max) as f64;
        if widest <= 0.0 {
            continue;
        }
        let cw = q.node(pair.consumer).inputs[1];
        let w = const_f32(&q, cw).unwrap_or_default();
        let channels = r.len();
        let scales: Vec<f64> = if pair.depthwise {
            r.iter()
                .map(|&rc| {
                    if rc > 0.0 {
                        (widest / rc as f64).min(MAX_SCALE)
                    } else {
                        1.0
                    }
                })
                .collect()
        } else {
            // Relative range of each input channel within the consumer's
            // rows (per-output-channel weight quantization).
            let rows = w.len() / channels;
            let mut rel = vec![0f64; channels];
            for row in w.chunks_exact(channels).take(rows) {
                let m = row.iter().fold(0f32, |a, &x| a.max(x.abs())) as f64;
                if m > 0.0 {
                    for (c, &x) in row.iter().enumerate() {
                        rel[c] = rel[c].max(x.abs() as f64 / m);
                    }
                }
            }
            let raw: Vec<f64> = r
                .iter()
                .zip(&rel)
                .map(|(&rc, &wc)| {
                    let a = rc as f64 / widest;
                    if a > 0.0 && wc > 0.0 {
                        (wc / a).sqrt()
                    } else {
                        1.0
                    }
                })
                .collect();
            // No channel may end up wider than the widest one was.
            let top = r
                .iter()
                .zip(&raw)
                .map(|(&rc, &k)| rc as f64 * k / widest)
                .fold(0f64, f64::max);
            raw.iter()
                .map(|&k| {
                    if top > 0.0 {
                        (k / top).min(MAX_SCALE)
                    } else {
                        1.0
                    }
                })
                .collect()
        };
        // Producer: output channel c times k[c].
        let pnode = q.node(pair.producer).clone();
        let pw = pnode.inputs[1];
        let mut wp = const_f32(&q, pw).unwrap_or_default();
        let shape = q.fact(pw).shape.clone();
        let (axis, inner) = match pnode.op {
            Op::DepthwiseConv2d(_) => (shape.len() - 1, 1),
            _ => (0, shape[1..].iter().product::<usize>()),
        };
        let out_channels = shape[axis];
        if out_channels != channels {
            continue;
        }
        for (i, x) in wp.iter_mut().enumerate() {
            *x = (*x as f64 * scales[(i / inner) % out_channels]) as f32;
        }
        replace_const(&mut q, pair.producer, pw, &wp);
        if let Some(&pb) = pnode.inputs.get(2) {
            let b: Vec<f32> = const_f32(&q, pb)
                .unwrap_or_default()
                .iter()
                .zip(&scales)
                .map(|(&x, &k)| (x as f64 * k) as f32)
                .collect();
            replace_const(&mut q, pair.producer, pb, &b);
        }
        // Consumer: input channel c (last weight axis) divided by k[c].
        let wc: Vec<f32> = w
            .iter()
            .enumerate()
            .map(|(i, &x)| (x as f64 / scales[i % channels]) as f32)
            .collect();
        replace_const(&mut q, pair.consumer, cw, &wc);
    }
    q.rebuild_edges();
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ops::FullyConnected;
    use crate::ir::{Fact, Node};

    fn value(g: &mut Graph, name: &str, shape: &[usize], data: Option<&[f32]>) -> ValueId {
        g.add_value(Value {
            name: name.into(),
            fact: Fact::new(shape.to_vec(), DType::Float32, None),
            data: data.map(|d| f32_bytes(d).into()),
        })
    }

    fn fc(g: &mut Graph, name: &str, inputs: Vec<ValueId>, out: ValueId, act: Activation) {
        g.add_node(Node {
            name: name.into(),
            op: FullyConnected {
                act,
                keep_num_dims: false,
            }
            .into(),
            inputs,
            outputs: vec![out],
        });
    }

    /// x[1,2] -> FC+ReLU (channels of very different ranges) -> FC -> y[1,1]
    fn graph() -> (Graph, ValueId) {
        let mut g = Graph::new("t");
        let x = value(&mut g, "x", &[1, 2], None);
        let w1 = value(&mut g, "w1", &[2, 2], Some(&[10.0, 1.0, 0.1, 0.05]));
        let b1 = value(&mut g, "b1", &[2], Some(&[0.5, 0.01]));
        let h = value(&mut g, "h", &[1, 2], None);
        let w2 = value(&mut g, "w2", &[1, 2], Some(&[0.2, 3.0]));
        let y = value(&mut g, "y", &[1, 1], None);
        fc(&mut g, "fc1", vec![x, w1, b1], h, Activation::Relu);
        fc(&mut g, "fc2", vec![h, w2], y, Activation::None);
        g.inputs = vec![x];
        g.outputs = vec![y];
        g.rebuild_edges();
        (g, h)
    }

    fn ranges(g: &Graph, v: ValueId, samples: &[Vec<Array>]) -> (Vec<f32>, Vec<f32>) {
        let mut r = vec![0f32; 2];
        let mut outs = Vec::new();
        for s in samples {
            let y = float::run_observed(g, s, &mut |u, x| {
                if u == v {
                    for (i, &a) in x.iter().enumerate() {
                        r[i % 2] = r[i % 2].max(a.abs());
                    }
                }
            })
            .expect("run");
            outs.extend(f32s(&y[0].data));
        }
        (r, outs)
    }

    #[test]
    fn equalization_keeps_the_function_and_narrows_the_channel_spread() {
        let (g, h) = graph();
        let samples: Vec<Vec<Array>> = [[1.0f32, 2.0], [0.5, -1.0], [2.0, 0.3]]
            .iter()
            .map(|x| vec![Array::new(DType::Float32, vec![1, 2], f32_bytes(x))])
            .collect();
        let e = equalize(&g, &samples).expect("equalize");
        let (before, y0) = ranges(&g, h, &samples);
        let (after, y1) = ranges(&e, h, &samples);
        for (a, b) in y0.iter().zip(&y1) {
            assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
        }
        let spread = |r: &[f32]| r[0].max(r[1]) / r[0].min(r[1]);
        assert!(
            spread(&after) < spread(&before) / 2.0,
            "{before:?} -> {after:?}"
        );
        // The widest channel keeps its range.
        let widest = |r: &[f32]| r[0].max(r[1]);
        assert!(widest(&after) <= widest(&before) * (1.0 + 1e-5));
    }
}
