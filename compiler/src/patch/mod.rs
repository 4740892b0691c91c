//! Patch-based inference (MCUNetV2): the memory-heavy first stage of a
//! network runs patch by patch over an `rows x cols` grid of its output,
//! each patch computed from its receptive field in the input (the halo that
//! overlaps neighbouring patches is recomputed). Only one patch's
//! intermediates are live at a time, plus the stage output, which is filled
//! patch by patch; the rest of the network runs layer by layer.
//!
//! - [`geometry`]: receptive-field windows of one op;
//! - [`stage`]: which prefixes of the schedule can be patched, and the
//!   window of every stage tensor per patch;
//! - [`search`]: MAC overhead and arena of a candidate, and the choice of
//!   split and grid;
//! - [`verify`]: the checker that builds a [`VerifiedPatchPlan`], which code
//!   generation requires.

pub mod geometry;
pub mod search;
pub mod stage;
pub mod verify;

use std::collections::BTreeMap;

pub use geometry::Window;
pub use search::{PatchMode, choose};
pub use stage::Stage;
pub use verify::{VerifiedPatchPlan, verify};

use crate::ir::{Graph, NodeId, ValueId};
use crate::plan::{MemoryPlan, PlanOptions};

/// A complete patch-based plan: stage, grid, windows and the memory plan.
#[derive(Clone, Debug)]
pub struct PatchPlan {
    pub stage: Stage,
    /// Grid over the stage output: `[rows, cols]`.
    pub grid: [usize; 2],
    /// The patches of the stage output, row-major over the grid.
    pub patches: Vec<Window>,
    /// Per patch, the window of every stage tensor (and the stage input).
    pub windows: Vec<BTreeMap<ValueId, Window>>,
    /// Nodes after the stage, in execution order.
    pub rest: Vec<NodeId>,
    /// The graph the memory planner saw: every stage intermediate has the
    /// fact of its largest window ([`search::planning_graph`]).
    pub planning_graph: Graph,
    /// The options it planned with ([`search::planner_options`]).
    pub planner: PlanOptions,
    /// The memory plan of `planning_graph` over the execution order (stage,
    /// then rest): stage intermediates sized for one patch, the stage output
    /// reserved from the first step, the stage input not in the arena.
    pub memory: MemoryPlan,
    /// The arena if the stage input were copied into it, when computed.
    pub arena_with_input_bytes: Option<usize>,
    /// MACs of the whole network when patched.
    pub macs: u64,
    /// MACs of the whole network layer by layer.
    pub base_macs: u64,
}

impl PatchPlan {
    /// Extra MACs as a fraction of the whole network's MACs.
    pub fn extra_macs_ratio(&self) -> f64 {
        if self.base_macs == 0 {
            0.0
        } else {
            (self.macs as f64 - self.base_macs as f64) / self.base_macs as f64
        }
    }

    /// Step in the execution order of the split layer.
    pub fn split_step(&self) -> usize {
        self.stage.nodes.len() - 1
    }

    pub fn arena_bytes(&self) -> usize {
        self.memory.arena_bytes
    }
}

#[cfg(test)]
mod tests;
