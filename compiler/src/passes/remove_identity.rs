//! `remove_identity`: RESHAPEs that change nothing (ONNX Identity, Dropout
//! at inference, reshapes to the same shape) disappear, and a RESHAPE of a
//! RESHAPE reads the original value.
//!
//! Invariant established: no RESHAPE has an output shape equal to its input
//! shape unless it connects a graph input directly to a graph output, and no
//! RESHAPE reads the output of another RESHAPE.
//!
//! Why it is exact: RESHAPE keeps bytes and quantization (the verifier
//! checks equal quantization), so readers see the same data.

use super::{Pass, replace_uses};
use crate::error::Result;
use crate::ir::{Graph, NodeId, Op};

pub struct RemoveIdentity;

impl Pass for RemoveIdentity {
    fn name(&self) -> &'static str {
        "remove_identity"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let reshapes: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| matches!(g.node(n).op, Op::Reshape(_)))
            .collect();
        let mut changed = false;
        for n in reshapes {
            let (x, y) = (g.node(n).inputs[0], g.node(n).outputs[0]);
            // Chains: read the first RESHAPE's input.
            if let Some(p) = g.producer(x)
                && matches!(g.node(p).op, Op::Reshape(_))
            {
                let src = g.node(p).inputs[0];
                if g.fact(src).quant == g.fact(y).quant {
                    g.node_mut(n).inputs[0] = src;
                    changed = true;
                }
            }
            let x = g.node(n).inputs[0];
            if g.fact(x).shape != g.fact(y).shape || g.fact(x).quant != g.fact(y).quant {
                continue;
            }
            if g.outputs.contains(&y) {
                // The output may take the input's place only if that is a
                // computed value that is not itself an output.
                if g.inputs.contains(&x) || g.value(x).is_const() || g.outputs.contains(&x) {
                    continue;
                }
            }
            replace_uses(g, y, x);
            g.remove_node(n);
            changed = true;
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}
