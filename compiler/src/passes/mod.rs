//! Graph passes. One pass per file; each rewrites the graph in place and
//! reports whether it changed anything. [`optimize`] is the pass list: it
//! runs each pass to a fixed point and the IR verifier after every run, so a
//! broken invariant is reported by the pass that broke it.
//!
//! Passes must keep results bit-exact: they only perform rewrites whose
//! integer semantics are identical (e.g. a PAD with the zero point folded
//! into a convolution's implicit padding).

mod fold_pad;

use crate::error::Result;
use crate::ir::{Graph, verify};

/// A rewrite of the graph.
pub trait Pass {
    fn name(&self) -> &'static str;
    /// Applies the rewrite once over the graph; `true` if anything changed.
    fn run(&self, g: &mut Graph) -> Result<bool>;
}

/// The optimization pipeline, in order.
pub fn passes() -> Vec<Box<dyn Pass>> {
    vec![Box::new(fold_pad::FoldPad)]
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
