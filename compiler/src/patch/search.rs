//! Choosing the split and grid, and building the plan of one candidate.
//!
//! A candidate is a split step and a `rows x cols` grid (1..=8 each, not
//! 1x1). Its cost is the extra MACs of recomputed halos; its benefit the
//! arena: one patch's intermediates (each sized for its largest window)
//! plus the stage output, then the per-layer rest of the network, all placed
//! by the same allocator as per-layer plans. The stage's network input is
//! read from the caller's buffer, so it is not in the arena (the report also
//! gives the figure with it counted).

use std::collections::{BTreeMap, BTreeSet};

use super::stage::{self, Stage};
use super::{PatchPlan, Window};
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op, ValueId};
use crate::plan::{self, PlanOptions};

/// Largest grid dimension searched.
pub const MAX_GRID: usize = 8;

/// How to use patch-based inference.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchMode {
    /// Layer by layer only.
    None,
    /// Layer by layer when it fits the target; otherwise the patched plan
    /// with the fewest extra MACs that fits.
    Fit,
    /// The smallest arena within the MAC-overhead budget.
    Min,
    /// This grid at this split step.
    Forced {
        rows: usize,
        cols: usize,
        split: usize,
    },
}

impl std::str::FromStr for PatchMode {
    type Err = Error;

    /// `none`, `fit`, `min`, or `ROWSxCOLS@STEP` (e.g. `4x4@12`).
    fn from_str(s: &str) -> Result<PatchMode> {
        let bad = || Error::Usage {
            message: format!(
                "bad --patch `{s}`: expected none, fit, min or ROWSxCOLS@LAYER (e.g. 4x4@12)"
            ),
        };
        Ok(match s {
            "none" => PatchMode::None,
            "fit" => PatchMode::Fit,
            "min" => PatchMode::Min,
            _ => {
                let (grid, split) = s.split_once('@').ok_or_else(bad)?;
                let (r, c) = grid.split_once('x').ok_or_else(bad)?;
                PatchMode::Forced {
                    rows: r.parse().map_err(|_| bad())?,
                    cols: c.parse().map_err(|_| bad())?,
                    split: split.parse().map_err(|_| bad())?,
                }
            }
        })
    }
}

/// Summary of one evaluated candidate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub split: usize,
    pub grid: [usize; 2],
    pub arena_bytes: usize,
    /// The arena with the stage input copied in, when computed.
    pub arena_with_input_bytes: Option<usize>,
    pub extra_macs: u64,
    pub extra_macs_ratio: f64,
}

/// Per-patch windows for `stage` on a `rows x cols` grid.
fn patch_windows(
    g: &Graph,
    st: &Stage,
    rows: usize,
    cols: usize,
) -> (Vec<Window>, Vec<BTreeMap<ValueId, Window>>) {
    let patches = stage::grid(g, st, rows, cols);
    let windows = patches.iter().map(|&p| stage::windows(g, st, p)).collect();
    (patches, windows)
}

/// MACs of node `n` computing output window `w`: the op's own count
/// ([`crate::ir::ops::OpDef::macs`]) for an output of the window's shape.
pub fn window_macs(g: &Graph, n: NodeId, w: &Window) -> u64 {
    let node = g.node(n);
    let mut out = g.fact(node.outputs[0]).clone();
    if let [1, _, _, c] = out.shape[..] {
        out.shape = vec![1, w.h(), w.w(), c];
    }
    let ins: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
    node.op.def().macs(&ins, &[&out])
}

fn node_macs(g: &Graph, n: NodeId) -> u64 {
    let node = g.node(n);
    let ins: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
    let outs: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
    node.op.def().macs(&ins, &outs)
}

/// The graph the memory planner sees for `st` on these windows: each stage
/// intermediate has the fact of its largest window (`[1, max h, max w, C]`),
/// so buffer sizes, in-place choices and scratch (e.g. the one-channel plane
/// of an in-place depthwise convolution) are those of one patch.
pub fn planning_graph(g: &Graph, st: &Stage, windows: &[BTreeMap<ValueId, Window>]) -> Graph {
    let mut pg = g.clone();
    for &v in &st.intermediates {
        let (mut h, mut w) = (0, 0);
        for win in windows {
            if let Some(x) = win.get(&v) {
                h = h.max(x.h());
                w = w.max(x.w());
            }
        }
        let c = stage::hwc(g, v).map_or(1, |(_, _, c)| c);
        pg.value_mut(v).fact.shape = vec![1, h, w, c];
    }
    pg
}

/// The planner options for a patched stage: the stage input is read from
/// the caller's buffer (not planned), the stage output is reserved from the
/// first step, only depthwise convolutions run in place inside the stage
/// (over a whole window buffer; the stage output is a full tensor, so its
/// producer never does), and the plan uses the first region only.
pub fn planner_options(g: &Graph, st: &Stage, base: &PlanOptions) -> PlanOptions {
    let mut o = base.clone();
    o.regions.truncate(1);
    o.external = BTreeSet::from([st.input]);
    o.live_from_start = BTreeSet::from([st.output]);
    o.no_in_place = st
        .nodes
        .iter()
        .copied()
        .filter(|&n| {
            !matches!(g.node(n).op, Op::DepthwiseConv2d(_)) || g.node(n).outputs[0] == st.output
        })
        .collect();
    o
}

/// Builds the plan of one candidate: the windows, then the memory plan of
/// the whole network (stage per patch, the rest per layer) by the same
/// planner as per-layer plans. `exact` runs every placement strategy
/// (otherwise greedy by size, for the search loop); `with_input` also plans
/// a variant with the stage input copied into the arena, for the report.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    g: &Graph,
    order: &[NodeId],
    split: usize,
    rows: usize,
    cols: usize,
    base: &PlanOptions,
    exact: bool,
    with_input: bool,
) -> Result<Option<(PatchPlan, Candidate)>> {
    evaluate_with(
        g,
        &stage::readers(g),
        order,
        split,
        [rows, cols],
        base,
        exact,
        with_input,
    )
}

#[allow(clippy::too_many_arguments)]
fn evaluate_with(
    g: &Graph,
    readers: &stage::Readers,
    order: &[NodeId],
    split: usize,
    [rows, cols]: [usize; 2],
    base: &PlanOptions,
    exact: bool,
    with_input: bool,
) -> Result<Option<(PatchPlan, Candidate)>> {
    let Some(st) = stage::stage_with(g, order, split, readers) else {
        return Ok(None);
    };
    let rest: Vec<NodeId> = order[split + 1..].to_vec();
    let (patches, windows) = patch_windows(g, &st, rows, cols);
    if patches.len() < 2 {
        return Ok(None);
    }
    let base_macs: u64 = order.iter().map(|&n| node_macs(g, n)).sum();
    let stage_macs: u64 = st.nodes.iter().map(|&n| node_macs(g, n)).sum();
    let mut patched_stage_macs = 0u64;
    for w in &windows {
        for &n in &st.nodes {
            let out = g.node(n).outputs[0];
            if let Some(win) = w.get(&out) {
                patched_stage_macs += window_macs(g, n, win);
            }
        }
    }
    let macs = base_macs - stage_macs + patched_stage_macs;
    let pg = planning_graph(g, &st, &windows);
    let mut popts = planner_options(g, &st, base);
    if !exact {
        popts.strategy = Some("greedy-size".into());
    }
    let memory = plan::plan_order(&pg, order.to_vec(), "patched", &popts)?;
    let arena_with_input = if with_input {
        let mut o = popts.clone();
        o.external.clear();
        Some(plan::plan_order(&pg, order.to_vec(), "patched", &o)?.arena_bytes)
    } else {
        None
    };
    let extra = macs.saturating_sub(base_macs);
    let candidate = Candidate {
        split,
        grid: [rows, cols],
        arena_bytes: memory.arena_bytes,
        arena_with_input_bytes: arena_with_input,
        extra_macs: extra,
        extra_macs_ratio: if base_macs == 0 {
            0.0
        } else {
            extra as f64 / base_macs as f64
        },
    };
    let plan = PatchPlan {
        stage: st,
        grid: [rows, cols],
        patches,
        windows,
        rest,
        planning_graph: pg,
        planner: popts,
        memory,
        arena_with_input_bytes: arena_with_input,
        macs,
        base_macs,
    };
    Ok(Some((plan, candidate)))
}

/// Every valid candidate (greedy placement), sorted by arena then MACs.
pub fn candidates(g: &Graph, order: &[NodeId], base: &PlanOptions) -> Result<Vec<Candidate>> {
    let readers = stage::readers(g);
    let mut out = Vec::new();
    for split in 0..order.len() {
        if stage::stage_with(g, order, split, &readers).is_none() {
            continue;
        }
        for rows in 1..=MAX_GRID {
            for cols in 1..=MAX_GRID {
                if rows * cols < 2 {
                    continue;
                }
                if let Some((_, c)) =
                    evaluate_with(g, &readers, order, split, [rows, cols], base, false, false)?
                {
                    out.push(c);
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (a.arena_bytes, a.extra_macs, a.split, a.grid).cmp(&(
            b.arena_bytes,
            b.extra_macs,
            b.split,
            b.grid,
        ))
    });
    Ok(out)
}

/// The candidate with the smallest arena within `overhead` extra MACs, else
/// the smallest of all; `None` when the graph has no patchable first stage.
pub fn smallest(
    g: &Graph,
    order: &[NodeId],
    base: &PlanOptions,
    overhead: f64,
) -> Result<Option<Candidate>> {
    let all = candidates(g, order, base)?;
    Ok(all
        .iter()
        .find(|c| c.extra_macs_ratio <= overhead)
        .or(all.first())
        .cloned())
}

impl Candidate {
    /// The mode that forces this candidate (`--patch ROWSxCOLS@SPLIT`).
    pub fn mode(&self) -> PatchMode {
        PatchMode::Forced {
            rows: self.grid[0],
            cols: self.grid[1],
            split: self.split,
        }
    }
}

/// What [`choose`] decided.
#[derive(Clone, Debug)]
pub struct Choice {
    pub plan: Option<PatchPlan>,
    /// The best candidates considered, the chosen one first (with the
    /// figures of its final plan; the others with greedy placement).
    pub ranked: Vec<Candidate>,
}

/// How many candidates the report lists.
const RANKED: usize = 6;

/// Picks a patch plan for `mode` over the per-layer execution `order`.
/// `per_layer_arena` and `capacity` (bytes available for the arena) decide
/// `fit`; `overhead` bounds `min`'s extra MACs as a fraction of the
/// network's MACs.
pub fn choose(
    g: &Graph,
    order: &[NodeId],
    mode: &PatchMode,
    per_layer_arena: usize,
    capacity: usize,
    overhead: f64,
    base: &PlanOptions,
) -> Result<Choice> {
    let finish = |c: Option<Candidate>, mut ranked: Vec<Candidate>| -> Result<Choice> {
        let Some(c) = c else {
            return Ok(Choice { plan: None, ranked });
        };
        let Some((plan, exact)) =
            evaluate(g, order, c.split, c.grid[0], c.grid[1], base, true, true)?
        else {
            return Ok(Choice { plan: None, ranked });
        };
        ranked.retain(|r| (r.split, r.grid) != (c.split, c.grid));
        ranked.insert(0, exact);
        ranked.truncate(RANKED);
        Ok(Choice {
            plan: Some(plan),
            ranked,
        })
    };
    match mode {
        PatchMode::None => Ok(Choice {
            plan: None,
            ranked: Vec::new(),
        }),
        PatchMode::Forced { rows, cols, split } => {
            if *split >= order.len() || stage::stage(g, order, *split).is_none() {
                return Err(Error::Usage {
                    message: format!(
                        "--patch {rows}x{cols}@{split}: layer {split} cannot end a patched stage \
                         (the stage must start at the input, contain only convolutions, pooling \
                         and same-shape ADDs, and end in a [1,H,W,C] tensor read only after it)"
                    ),
                });
            }
            if !(1..=MAX_GRID).contains(rows) || !(1..=MAX_GRID).contains(cols) || rows * cols < 2 {
                return Err(Error::Usage {
                    message: format!(
                        "--patch {rows}x{cols}@{split}: the grid must be 1..={MAX_GRID} by \
                         1..={MAX_GRID} with at least 2 patches"
                    ),
                });
            }
            let c = Candidate {
                split: *split,
                grid: [*rows, *cols],
                arena_bytes: 0,
                arena_with_input_bytes: None,
                extra_macs: 0,
                extra_macs_ratio: 0.0,
            };
            finish(Some(c), Vec::new())
        }
        PatchMode::Min => {
            let within: Vec<Candidate> = candidates(g, order, base)?
                .into_iter()
                .filter(|c| c.extra_macs_ratio <= overhead)
                .collect();
            let best = within
                .first()
                .cloned()
                .filter(|c| c.arena_bytes < per_layer_arena);
            finish(best, within.into_iter().take(RANKED).collect())
        }
        PatchMode::Fit => {
            if per_layer_arena <= capacity {
                return Ok(Choice {
                    plan: None,
                    ranked: Vec::new(),
                });
            }
            let mut fitting: Vec<Candidate> = candidates(g, order, base)?
                .into_iter()
                .filter(|c| c.arena_bytes <= capacity)
                .collect();
            fitting.sort_by(|a, b| {
                (a.extra_macs, a.arena_bytes, a.split, a.grid).cmp(&(
                    b.extra_macs,
                    b.arena_bytes,
                    b.split,
                    b.grid,
                ))
            });
            let best = fitting.first().cloned();
            finish(best, fitting.into_iter().take(RANKED).collect())
        }
    }
}
