//! Graph passes. One pass per file; each rewrites the graph in place and
//! reports whether it changed anything. [`optimize`] is the pass list: it
//! runs each pass to a fixed point and the IR verifier after every run, so a
//! broken invariant is reported by the pass that broke it.
//!
//! Passes must keep results bit-exact: they only perform rewrites whose
//! integer semantics are identical (e.g. a PAD with the zero point folded
//! into a convolution's implicit padding). On float graphs (before
//! post-training quantization, [`quantize`]) they keep real-valued results.

mod dead_nodes;
mod equalize;
mod fold_batchnorm;
mod fold_constants;
mod fold_pad;
mod fuse_activation;
mod fuse_bias;
mod fuse_qdq;
pub mod quantize;
mod remove_identity;

use crate::error::Result;
use crate::ir::{Graph, NodeId, ValueId, verify};

/// A rewrite of the graph.
pub trait Pass {
    fn name(&self) -> &'static str;
    /// Applies the rewrite once over the graph; `true` if anything changed.
    fn run(&self, g: &mut Graph) -> Result<bool>;
}

/// The optimization pipeline, in order.
pub fn passes() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(remove_identity::RemoveIdentity),
        Box::new(fold_constants::FoldConstants),
        Box::new(dead_nodes::DeadNodes),
        Box::new(fold_batchnorm::FoldBatchNorm),
        Box::new(fuse_bias::FuseBias),
        Box::new(fuse_activation::FuseActivation),
        Box::new(fuse_qdq::FuseQdq),
        Box::new(remove_identity::RemoveIdentity),
        Box::new(dead_nodes::DeadNodes),
        Box::new(fold_pad::FoldPad),
    ]
}

/// The only node reading `v`, if `v` has exactly one reader (reading it
/// once) and is not a graph output.
pub(crate) fn single_reader(g: &Graph, v: ValueId) -> Option<NodeId> {
    if g.outputs.contains(&v) {
        return None;
    }
    match g.consumers(v)[..] {
        [r] if g.node(r).inputs.iter().filter(|&&i| i == v).count() == 1 => Some(r),
        _ => None,
    }
}

/// Makes every reader of `from` (nodes and graph outputs) read `to`. The
/// caller rebuilds the DAG edges.
pub(crate) fn replace_uses(g: &mut Graph, from: ValueId, to: ValueId) {
    let readers = g.consumers(from);
    for r in readers {
        for i in g.node_mut(r).inputs.iter_mut() {
            if *i == from {
                *i = to;
            }
        }
    }
    for o in g.outputs.iter_mut() {
        if *o == from {
            *o = to;
        }
    }
}

/// Runs every pass to a fixed point, verifying after each run.
pub fn optimize(g: &mut Graph) -> Result<()> {
    for pass in passes() {
        // Each run makes progress on a finite graph; the bound only guards
        // against a pass that keeps reporting changes.
        for _ in 0..=g.node_count() {
            let changed = pass.run(g)?;
            verify::verify(g, pass.name())?;
            if !changed {
                break;
            }
        }
    }
    Ok(())
}
