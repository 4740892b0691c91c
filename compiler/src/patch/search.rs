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
use super::{PatchPlan, Slot};
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op, ValueId};
use crate::plan::alloc::{self, Budget, Item};
use crate::plan::bound;

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
    /// The arena plus the stage input, as if it were copied in.
    pub arena_with_input_bytes: usize,
    pub extra_macs: u64,
    pub extra_macs_ratio: f64,
}

/// Items of a candidate, in a fixed order, with the value each stands for.
pub(super) struct Layout {
    pub(super) items: Vec<Item>,
    pub(super) values: Vec<ValueId>,
    /// Value -> the value whose buffer it shares (RESHAPE aliases).
    pub(super) alias: BTreeMap<ValueId, ValueId>,
    pub(super) steps: usize,
    input_item: Item,
}

fn round(size: usize, align: usize) -> usize {
    size.next_multiple_of(align.max(1))
}

/// Per-patch windows for `stage` on a `rows x cols` grid.
fn patch_windows(
    g: &Graph,
    st: &Stage,
    rows: usize,
    cols: usize,
) -> (Vec<super::Window>, Vec<BTreeMap<ValueId, super::Window>>) {
    let patches = stage::grid(g, st, rows, cols);
    let windows = patches.iter().map(|&p| stage::windows(g, st, p)).collect();
    (patches, windows)
}

/// MACs of node `n` computing output window `w`.
fn window_macs(g: &Graph, n: NodeId, w: &super::Window) -> u64 {
    let node = g.node(n);
    let per_position = match &node.op {
        Op::Conv2d(_) => {
            let f = &g.fact(node.inputs[1]).shape;
            f[0] * f[1] * f[2] * f[3]
        }
        Op::DepthwiseConv2d(_) => {
            let f = &g.fact(node.inputs[1]).shape;
            f[1] * f[2] * f[3]
        }
        _ => 0,
    };
    (w.area() * per_position) as u64
}

fn node_macs(g: &Graph, n: NodeId) -> u64 {
    let node = g.node(n);
    let ins: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
    let outs: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
    node.op.def().macs(&ins, &outs)
}

pub(super) fn layout(
    g: &Graph,
    readers: &stage::Readers,
    st: &Stage,
    rest: &[NodeId],
    windows: &[BTreeMap<ValueId, super::Window>],
    align: usize,
) -> Layout {
    let len = st.nodes.len();
    let steps = len + rest.len();
    let step_of: BTreeMap<NodeId, usize> = st
        .nodes
        .iter()
        .chain(rest)
        .enumerate()
        .map(|(i, &n)| (n, i))
        .collect();
    let last_use = |v: ValueId| -> usize {
        if g.outputs.contains(&v) {
            return steps.saturating_sub(1);
        }
        readers
            .get(&v)
            .into_iter()
            .flatten()
            .filter_map(|r| step_of.get(r).copied())
            .max()
            .unwrap_or(0)
    };
    let bytes_per_pos = |v: ValueId| {
        let f = g.fact(v);
        f.shape.last().copied().unwrap_or(1) * f.dtype.size()
    };
    let mut items = Vec::new();
    let mut values = Vec::new();
    // Stage intermediates: one patch at a time, sized for the largest window.
    for (i, &n) in st.nodes.iter().enumerate() {
        let v = g.node(n).outputs[0];
        if v == st.output {
            continue;
        }
        let size = windows
            .iter()
            .filter_map(|w| w.get(&v))
            .map(|w| w.area() * bytes_per_pos(v))
            .max()
            .unwrap_or(0);
        items.push(Item {
            size: round(size, align),
            first: i,
            last: last_use(v),
        });
        values.push(v);
    }
    // The stage output is filled over every patch: live from the start.
    items.push(Item {
        size: round(g.fact(st.output).bytes(), align),
        first: 0,
        last: last_use(st.output).max(len.saturating_sub(1)),
    });
    values.push(st.output);
    // The rest, layer by layer; RESHAPE outputs share their input's bytes.
    let mut alias = BTreeMap::new();
    let mut root_last: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (j, &n) in rest.iter().enumerate() {
        let node = g.node(n);
        let v = node.outputs[0];
        if node.op.def().is_alias() {
            let src = node.inputs[0];
            let root = *alias.get(&src).unwrap_or(&src);
            alias.insert(v, root);
            let e = root_last.entry(root).or_insert(0);
            *e = (*e).max(last_use(v));
            continue;
        }
        items.push(Item {
            size: round(g.fact(v).bytes(), align),
            first: len + j,
            last: last_use(v),
        });
        values.push(v);
    }
    // Graph inputs the rest reads (other than the stage input): live from 0.
    let rest_set: BTreeSet<NodeId> = rest.iter().copied().collect();
    for &v in &g.inputs {
        let read_by_rest = readers
            .get(&v)
            .is_some_and(|rs| rs.iter().any(|r| rest_set.contains(r)));
        if v != st.input && read_by_rest {
            items.push(Item {
                size: round(g.fact(v).bytes(), align),
                first: 0,
                last: last_use(v),
            });
            values.push(v);
        }
    }
    for (k, v) in values.iter().enumerate() {
        if let Some(&l) = root_last.get(v) {
            items[k].last = items[k].last.max(l);
        }
    }
    let input_item = Item {
        size: round(g.fact(st.input).bytes(), align),
        first: 0,
        last: last_use(st.input).min(len.saturating_sub(1)),
    };
    Layout {
        items,
        values,
        alias,
        steps,
        input_item,
    }
}

/// Builds the plan of one candidate; `exact` runs the full placement search
/// (otherwise greedy, for the search loop).
pub fn evaluate(
    g: &Graph,
    order: &[NodeId],
    split: usize,
    rows: usize,
    cols: usize,
    align: usize,
    exact: bool,
) -> Result<Option<(PatchPlan, Candidate)>> {
    evaluate_with(
        g,
        &stage::readers(g),
        order,
        split,
        [rows, cols],
        align,
        exact,
    )
}

fn evaluate_with(
    g: &Graph,
    readers: &stage::Readers,
    order: &[NodeId],
    split: usize,
    [rows, cols]: [usize; 2],
    align: usize,
    exact: bool,
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
    let lay = layout(g, readers, &st, &rest, &windows, align);
    let budget = Budget::default();
    let placement = if exact {
        alloc::best(&lay.items, &budget)?
    } else {
        alloc::place(&lay.items, "greedy-size", &budget)?
    };
    let lower_bound = bound::lower_bound(&lay.items, lay.steps);
    let mut with_input = lay.items.clone();
    with_input.push(lay.input_item);
    let arena_with_input = alloc::place(&with_input, "greedy-size", &budget)?.arena;
    let mut buffers: BTreeMap<ValueId, Slot> = lay
        .values
        .iter()
        .zip(&placement.offsets)
        .zip(&lay.items)
        .map(|((&v, &offset), item)| {
            (
                v,
                Slot {
                    offset,
                    size: item.size,
                },
            )
        })
        .collect();
    for (&v, &root) in &lay.alias {
        if let Some(&slot) = buffers.get(&root) {
            buffers.insert(v, slot);
        }
    }
    let extra = macs.saturating_sub(base_macs);
    let candidate = Candidate {
        split,
        grid: [rows, cols],
        arena_bytes: placement.arena,
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
        buffers,
        arena_bytes: placement.arena,
        lower_bound_bytes: lower_bound,
        macs,
        base_macs,
        strategy: placement.strategy.to_string(),
    };
    Ok(Some((plan, candidate)))
}

/// Every valid candidate (greedy placement), sorted by arena then MACs.
pub fn candidates(g: &Graph, order: &[NodeId], align: usize) -> Result<Vec<Candidate>> {
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
                    evaluate_with(g, &readers, order, split, [rows, cols], align, false)?
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

/// What [`choose`] decided.
#[derive(Clone, Debug)]
pub struct Choice {
    pub plan: Option<PatchPlan>,
    /// The best candidates considered (chosen first), for the report.
    pub ranked: Vec<Candidate>,
}

/// Picks a patch plan for `mode`. `per_layer_arena` and `capacity` (bytes
/// available for the arena) decide `fit`; `overhead` bounds `min`'s extra
/// MACs as a fraction of the network's MACs.
pub fn choose(
    g: &Graph,
    order: &[NodeId],
    mode: &PatchMode,
    per_layer_arena: usize,
    capacity: usize,
    overhead: f64,
    align: usize,
) -> Result<Choice> {
    let pick = |c: Option<Candidate>, ranked: Vec<Candidate>| -> Result<Choice> {
        let plan = match &c {
            Some(c) => {
                evaluate(g, order, c.split, c.grid[0], c.grid[1], align, true)?.map(|(p, _)| p)
            }
            None => None,
        };
        Ok(Choice { plan, ranked })
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
            let Some((plan, c)) = evaluate(g, order, *split, *rows, *cols, align, true)? else {
                return Err(Error::Usage {
                    message: format!(
                        "--patch {rows}x{cols}@{split}: the grid leaves fewer than 2 patches"
                    ),
                });
            };
            Ok(Choice {
                plan: Some(plan),
                ranked: vec![c],
            })
        }
        PatchMode::Min => {
            let all = candidates(g, order, align)?;
            let within: Vec<Candidate> = all
                .into_iter()
                .filter(|c| c.extra_macs_ratio <= overhead)
                .collect();
            let best = within
                .first()
                .cloned()
                .filter(|c| c.arena_bytes < per_layer_arena);
            pick(best, within.into_iter().take(8).collect())
        }
        PatchMode::Fit => {
            if per_layer_arena <= capacity {
                return Ok(Choice {
                    plan: None,
                    ranked: Vec::new(),
                });
            }
            let mut fitting: Vec<Candidate> = candidates(g, order, align)?
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
            pick(best, fitting.into_iter().take(8).collect())
        }
    }
}
