//! `fold_constants`: a node whose inputs are all constants is evaluated at
//! compile time (on the host float executor, or the int8 kernels for int8
//! nodes) and its output becomes a constant.
//!
//! Invariant established: no node except DEQUANTIZE reads only constants.
//! DEQUANTIZE of a constant is kept: it marks quantized weights and biases
//! that `fuse_qdq` folds into int8 operators with their exact bytes.
//!
//! Why it is exact: the value is computed by the same arithmetic that would
//! compute it at run time.

use super::Pass;
use crate::error::Result;
use crate::exec::float::eval_const;
use crate::ir::{Graph, NodeId, Op};

pub struct FoldConstants;

impl Pass for FoldConstants {
    fn name(&self) -> &'static str {
        "fold_constants"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let candidates: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| {
                let node = g.node(n);
                !matches!(node.op, Op::Dequantize(_))
                    && !node.inputs.is_empty()
                    && node.inputs.iter().all(|&v| g.value(v).is_const())
                    && !node.outputs.iter().any(|v| g.outputs.contains(v))
            })
            .collect();
        let mut changed = false;
        for n in candidates {
            let Some(data) = eval_const(g, n)? else {
                continue;
            };
            let y = g.node(n).outputs[0];
            g.remove_node(n);
            g.value_mut(y).data = Some(data.to_bytes().into());
            changed = true;
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}
