//! The patched stage: a prefix of the execution order, computed patch by
//! patch, and the window of every stage tensor each patch needs.
//!
//! A split at step `s` makes `order[0..=s]` the stage and the output of
//! `order[s]` its output. The stage is valid when:
//! - it reads exactly one graph input, a `[1,H,W,C]` tensor;
//! - every op is windowed (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE/MAX_POOL_2D)
//!   or a same-shape ADD, over `[1,H,W,C]` tensors;
//! - no stage tensor other than the stage output is read after the stage,
//!   and the stage output is read only after it.
//!
//! Windows are propagated backwards: a tensor's window is the bounding box
//! of what every reader needs (so a residual source read by both a 3x3
//! convolution and an ADD holds the larger window).

use std::collections::BTreeMap;

use super::geometry::{self, Axis, Window};
use crate::ir::{Graph, NodeId, Op, ValueId};

/// A valid stage.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Stage nodes in execution order.
    pub nodes: Vec<NodeId>,
    /// The network input the stage reads.
    pub input: ValueId,
    /// The stage output (produced by the last stage node).
    pub output: ValueId,
    /// Values produced inside the stage, except the output: the per-patch
    /// intermediate buffers.
    pub intermediates: Vec<ValueId>,
}

/// `[1,H,W,C]` -> `(H, W, C)`.
pub fn hwc(g: &Graph, v: ValueId) -> Option<(usize, usize, usize)> {
    match g.fact(v).shape[..] {
        [1, h, w, c] => Some((h, w, c)),
        _ => None,
    }
}

/// Readers of every value, computed once per search.
pub type Readers = BTreeMap<ValueId, Vec<NodeId>>;

/// Readers of every value of `g`.
pub fn readers(g: &Graph) -> Readers {
    let mut map: Readers = BTreeMap::new();
    for n in g.node_ids() {
        for &v in &g.node(n).inputs {
            let list = map.entry(v).or_default();
            if !list.contains(&n) {
                list.push(n);
            }
        }
    }
    map
}

/// The stage ending at step `split` of `order`, if it is valid.
pub fn stage(g: &Graph, order: &[NodeId], split: usize) -> Option<Stage> {
    stage_with(g, order, split, &readers(g))
}

/// [`stage`] with precomputed readers.
pub fn stage_with(g: &Graph, order: &[NodeId], split: usize, readers: &Readers) -> Option<Stage> {
    let consumers = |v: ValueId| readers.get(&v).map(Vec::as_slice).unwrap_or(&[]);
    let nodes: Vec<NodeId> = order.get(..=split)?.to_vec();
    let last = *nodes.last()?;
    let output = *g.node(last).outputs.first()?;
    hwc(g, output)?;
    let produced: Vec<ValueId> = nodes
        .iter()
        .flat_map(|&n| g.node(n).outputs.clone())
        .collect();
    let mut input = None;
    for &n in &nodes {
        let node = g.node(n);
        let supported = match &node.op {
            Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::AvgPool2d(_) | Op::MaxPool2d(_) => true,
            Op::Add(_) => g.fact(node.inputs[0]).shape == g.fact(node.inputs[1]).shape,
            _ => false,
        };
        if !supported || node.outputs.len() != 1 {
            return None;
        }
        hwc(g, node.outputs[0])?;
        for &v in activation_inputs(g, n) {
            hwc(g, v)?;
            if produced.contains(&v) {
                continue;
            }
            if !g.inputs.contains(&v) || input.is_some_and(|i| i != v) {
                return None;
            }
            input = Some(v);
        }
    }
    let input = input?;
    // Stage tensors must not escape, and the output must not be read inside.
    let stage_set: std::collections::BTreeSet<NodeId> = nodes.iter().copied().collect();
    let mut intermediates = Vec::new();
    for &v in &produced {
        let readers = consumers(v);
        if v == output {
            if readers.iter().any(|r| stage_set.contains(r)) {
                return None;
            }
        } else {
            if g.outputs.contains(&v) || readers.iter().any(|r| !stage_set.contains(r)) {
                return None;
            }
            intermediates.push(v);
        }
    }
    if g.outputs.contains(&input) {
        return None;
    }
    // The network input must be read by the stage only.
    if consumers(input).iter().any(|r| !stage_set.contains(r)) {
        return None;
    }
    Some(Stage {
        nodes,
        input,
        output,
        intermediates,
    })
}

/// The non-constant inputs of node `n` (the ones that get windows).
pub fn activation_inputs(g: &Graph, n: NodeId) -> &[ValueId] {
    let node = g.node(n);
    match node.op {
        Op::Conv2d(_) | Op::DepthwiseConv2d(_) => &node.inputs[..1],
        _ => &node.inputs,
    }
}

/// The spatial axes of a windowed op whose input is `x`.
pub fn axes(g: &Graph, n: NodeId) -> Option<(Axis, Axis)> {
    let node = g.node(n);
    let (h, w, _) = hwc(g, node.inputs[0])?;
    let (k, stride, dilation, pad) = match &node.op {
        Op::Conv2d(op) => {
            let f = &g.fact(node.inputs[1]).shape;
            ([f[1], f[2]], op.stride, op.dilation, op.pad)
        }
        Op::DepthwiseConv2d(op) => {
            let f = &g.fact(node.inputs[1]).shape;
            ([f[1], f[2]], op.stride, op.dilation, op.pad)
        }
        Op::AvgPool2d(op) => (op.0.filter, op.0.stride, [1, 1], op.0.pad),
        Op::MaxPool2d(op) => (op.0.filter, op.0.stride, [1, 1], op.0.pad),
        _ => return None,
    };
    Some((
        Axis {
            kernel: k[0],
            stride: stride[0],
            dilation: dilation[0],
            pad: pad.top,
            input: h,
        },
        Axis {
            kernel: k[1],
            stride: stride[1],
            dilation: dilation[1],
            pad: pad.left,
            input: w,
        },
    ))
}

/// Windows of every stage tensor (and the stage input) for one patch of the
/// stage output.
pub fn windows(g: &Graph, stage: &Stage, patch: Window) -> BTreeMap<ValueId, Window> {
    let mut win: BTreeMap<ValueId, Window> = BTreeMap::new();
    win.insert(stage.output, patch);
    for &n in stage.nodes.iter().rev() {
        let out = g.node(n).outputs[0];
        let Some(&w_out) = win.get(&out) else {
            continue;
        };
        let need = match axes(g, n) {
            Some((ay, ax)) => geometry::needs(ay, ax, &w_out),
            None => w_out, // elementwise
        };
        for &v in activation_inputs(g, n) {
            let e = win.entry(v).or_default();
            *e = e.union(&need);
        }
    }
    win
}

/// The patches of an `rows x cols` grid over the stage output.
pub fn grid(g: &Graph, stage: &Stage, rows: usize, cols: usize) -> Vec<Window> {
    let Some((h, w, _)) = hwc(g, stage.output) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &(y0, y1) in &geometry::split(h, rows) {
        for &(x0, x1) in &geometry::split(w, cols) {
            out.push(Window::new(y0, y1, x0, x1));
        }
    }
    out
}
