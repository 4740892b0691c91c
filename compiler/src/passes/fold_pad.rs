//! `fold_pad`: a spatial PAD whose only readers are convolutions becomes the
//! convolutions' own padding.
//!
//! Invariant established: no PAD node feeds only CONV_2D /
//! DEPTHWISE_CONV_2D data inputs with spatial-only padding.
//!
//! Why it is exact: PAD fills with its output zero point, which equals the
//! convolution's input zero point (PAD keeps the quantization), and the
//! TFLite convolution kernels treat implicit padding as that zero point
//! (`input_offset + zp = 0`). Both compute the same sums. Pooling is not
//! folded: TFLite pools skip padded cells instead of reading zeros.
//!
//! Why it matters: the padded tensor is often the largest buffer of a
//! network (MobileNetV2's first stride-2 blocks); folding it removes both the
//! copy and the buffer.

use super::Pass;
use crate::error::Result;
use crate::ir::ops::Padding;
use crate::ir::{Graph, NodeId, Op};

pub struct FoldPad;

impl Pass for FoldPad {
    fn name(&self) -> &'static str {
        "fold_pad"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let pads: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| matches!(g.node(n).op, Op::Pad(_)))
            .collect();
        let mut changed = false;
        for pad in pads {
            changed |= fold_one(g, pad);
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}

/// Folds one PAD if every reader can absorb it.
fn fold_one(g: &mut Graph, pad: NodeId) -> bool {
    let node = g.node(pad);
    let Op::Pad(p) = &node.op else { return false };
    let (x, y) = (node.inputs[0], node.outputs[0]);
    // NHWC with padding on H and W only.
    let [n, [top, bottom], [left, right], c] = p.pads[..] else {
        return false;
    };
    if n != [0, 0] || c != [0, 0] || g.outputs.contains(&y) {
        return false;
    }
    let readers = g.consumers(y);
    let foldable = !readers.is_empty()
        && readers.iter().all(|&r| {
            let rn = g.node(r);
            rn.inputs[0] == y
                && !rn.inputs[1..].contains(&y)
                && matches!(rn.op, Op::Conv2d(_) | Op::DepthwiseConv2d(_))
        });
    if !foldable {
        return false;
    }
    let extra = Padding {
        top,
        bottom,
        left,
        right,
    };
    for r in readers {
        let rn = g.node_mut(r);
        match &mut rn.op {
            Op::Conv2d(op) => op.pad = add(op.pad, extra),
            Op::DepthwiseConv2d(op) => op.pad = add(op.pad, extra),
            _ => unreachable!("checked above"),
        }
        rn.inputs[0] = x;
    }
    g.remove_node(pad);
    true
}

fn add(a: Padding, b: Padding) -> Padding {
    Padding {
        top: a.top + b.top,
        bottom: a.bottom + b.bottom,
        left: a.left + b.left,
        right: a.right + b.right,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ops::{Activation, Conv2d, Pad};
    use crate::ir::{DType, Fact, Node, Quant, Value, verify};
    use std::sync::Arc;

    fn act(g: &mut Graph, name: &str, shape: &[usize]) -> crate::ir::ValueId {
        g.add_value(Value {
            name: name.into(),
            fact: Fact::new(shape.to_vec(), DType::Int8, Some(Quant::per_tensor(0.5, 3))),
            data: None,
        })
    }

    /// x[1,4,4,1] -> PAD(1,1,1,1) -> CONV 3x3 valid -> [1,4,4,1]
    fn graph(extra_reader: bool) -> Graph {
        let mut g = Graph::new("t");
        let x = act(&mut g, "x", &[1, 4, 4, 1]);
        let y = act(&mut g, "y", &[1, 6, 6, 1]);
        let z = act(&mut g, "z", &[1, 4, 4, 1]);
        let w = g.add_value(Value {
            name: "w".into(),
            fact: Fact::new(
                vec![1, 3, 3, 1],
                DType::Int8,
                Some(Quant::per_tensor(0.1, 0)),
            ),
            data: Some(Arc::from(vec![1u8; 9])),
        });
        g.inputs = vec![x];
        g.outputs = vec![z];
        g.add_node(Node {
            name: "pad".into(),
            op: Pad {
                pads: vec![[0, 0], [1, 1], [1, 1], [0, 0]],
            }
            .into(),
            inputs: vec![x],
            outputs: vec![y],
        });
        g.add_node(Node {
            name: "conv".into(),
            op: Conv2d {
                stride: [1, 1],
                dilation: [1, 1],
                pad: Padding::default(),
                act: Activation::None,
            }
            .into(),
            inputs: vec![y, w],
            outputs: vec![z],
        });
        if extra_reader {
            let r = act(&mut g, "r", &[1, 6, 6, 1]);
            g.add_node(Node {
                name: "relu".into(),
                op: crate::ir::ops::Relu {
                    act: Activation::Relu,
                }
                .into(),
                inputs: vec![y],
                outputs: vec![r],
            });
            g.outputs.push(r);
        }
        g
    }

    #[test]
    fn pad_before_conv_becomes_conv_padding() {
        let mut g = graph(false);
        assert!(FoldPad.run(&mut g).expect("run"));
        verify::verify(&g, "fold_pad").expect("valid");
        assert_eq!(g.node_count(), 1);
        let conv = g.node_ids().next().expect("conv");
        let Op::Conv2d(op) = &g.node(conv).op else {
            panic!("conv expected")
        };
        assert_eq!(
            op.pad,
            Padding {
                top: 1,
                bottom: 1,
                left: 1,
                right: 1
            }
        );
        assert_eq!(g.node(conv).inputs[0], g.inputs[0]);
        assert!(!FoldPad.run(&mut g).expect("run"), "fixed point");
    }

    #[test]
    fn pad_with_another_reader_stays() {
        let mut g = graph(true);
        assert!(!FoldPad.run(&mut g).expect("run"));
        assert_eq!(g.node_count(), 3);
    }
}
