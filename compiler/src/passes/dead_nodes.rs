//! `dead_nodes`: removes nodes whose outputs nothing reads (neither another
//! node nor the graph's outputs), e.g. the DEQUANTIZE nodes a fused QDQ
//! pattern leaves behind.
//!
//! Invariant established: every node's output is read by a node or is a
//! graph output.

use std::collections::BTreeSet;

use super::Pass;
use crate::error::Result;
use crate::ir::{Graph, NodeId, ValueId};

pub struct DeadNodes;

impl Pass for DeadNodes {
    fn name(&self) -> &'static str {
        "dead_nodes"
    }

    fn run(&self, g: &mut Graph) -> Result<bool> {
        let mut changed = false;
        loop {
            let read: BTreeSet<ValueId> = g
                .node_ids()
                .flat_map(|n| g.node(n).inputs.clone())
                .chain(g.outputs.iter().copied())
                .collect();
            let dead: Vec<NodeId> = g
                .node_ids()
                .filter(|&n| g.node(n).outputs.iter().all(|v| !read.contains(v)))
                .collect();
            if dead.is_empty() {
                break;
            }
            for n in dead {
                g.remove_node(n);
            }
            changed = true;
        }
        if changed {
            g.rebuild_edges();
        }
        Ok(changed)
    }
}
