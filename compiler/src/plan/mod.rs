//! Memory planning: one fixed byte offset per activation buffer, in one arena.
//!
//! Invariant established: every non-constant value that the graph reads or
//! writes gets a [`Buffer`] with an aligned offset, and two buffers whose
//! lifetimes (in steps of the execution [`MemoryPlan::order`]) overlap never
//! share a byte, except an alias and the buffer it aliases. [`verify`] checks
//! this independently and is the only way to get a [`VerifiedPlan`], which
//! the code generator requires.
//!
//! ```text
//!  Graph ──schedule──▶ orders ──live──▶ lifetimes ──bound──▶ lower bound
//!                                           │
//!                                           └──alloc (every strategy)──▶ offsets
//!  best (order, strategy) by arena ──▶ MemoryPlan ──verify──▶ VerifiedPlan
//! ```
//!
//! - [`schedule`] chooses execution orders: the source order, and an order
//!   minimizing the peak of live bytes (exact over the graph's downsets when
//!   they are few, a beam search beyond).
//! - `live` (private) decides which values are planned, their sizes and alias
//!   groups (RESHAPE outputs, and outputs of ops whose kernels run in place,
//!   see [`InPlace`]), their lifetimes for an order, and the scratch buffers
//!   of the steps.
//! - In place or not: running in place never raises the peak at the op's
//!   own step, but an op whose output is smaller than its input keeps the
//!   input's bytes reserved while the output lives. So for each order the
//!   planner starts with every legal in-place op, drops (one at a time, in
//!   step order) each shrinking one whose removal lowers the bound, and also
//!   plans with no in-place op at all; the smaller arena wins (in place on
//!   ties).
//! - [`bound`] is the lower bound: for an order, the most bytes that must be
//!   live at one step. No placement for that order can use less.
//! - [`alloc`] places lifetime intervals: greedy strategies (TFLite Micro's
//!   rule, Pisarchyk & Lee's greedy by size and by breadth, by conflicts),
//!   then an exact strategy (a time sweep aiming at the lower bound, and a
//!   branch and bound that proves optimality on small instances). The
//!   smallest arena wins.
//! - [`region`] splits a plan over several SRAM regions when the first
//!   (fastest) one is too small: buffers with the most accesses per byte go
//!   to the fastest region.
//! - [`report`], [`svg`] and [`corpus`] turn plans into tables and pictures.
//!
//! ```no_run
//! # fn main() -> mcuc::Result<()> {
//! use mcuc::plan::{PlanOptions, plan_verified, report};
//! let g = mcuc::import::load(std::path::Path::new("model.tflite"))?;
//! // Capacity: the target's SRAM for activations; DoesNotFit if exceeded.
//! let p = plan_verified(&g, &PlanOptions::default(), Some(256 * 1024))?;
//! for b in &p.buffers {
//!     println!("{} at {}..{}", g.value(b.value).name, b.offset, b.end());
//! }
//! print!("{}", report::render_text(&report::report(&g, &p)));
//! # Ok(())
//! # }
//! ```
//!
//! Conventions: a step is an index into `order`; graph inputs are live from
//! step 0, graph outputs until the last step, constants are not planned (they
//! stay in flash). Sizes are rounded up to the plan's alignment, so the arena
//! is a multiple of it. Offsets are relative to the buffer's region; graph
//! inputs and outputs always live in region 0. Everything is deterministic: ties are broken by
//! order of strategies, then of value ids, never by hash order.

pub mod alloc;
pub mod bound;
pub mod corpus;
mod live;
pub mod region;
pub mod report;
pub mod schedule;
pub mod svg;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, ValueId};

pub use verify::{VerifiedPlan, VerifyOptions, verify};

pub use crate::ir::ops::InPlace;

/// Which execution orders to consider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleChoice {
    /// The source model's order (a topological order keeping it).
    Source,
    /// The order minimizing the peak of live bytes.
    MinPeak,
    /// Both; keep the one with the smaller arena (the source order on ties).
    #[default]
    Auto,
}

impl FromStr for ScheduleChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "source" => Ok(ScheduleChoice::Source),
            "min-peak" => Ok(ScheduleChoice::MinPeak),
            "auto" => Ok(ScheduleChoice::Auto),
            _ => Err(Error::Usage {
                message: format!("unknown schedule `{s}` (known: source, min-peak, auto)"),
            }),
        }
    }
}

/// Planner options. `PlanOptions::default()` is what the compiler uses.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanOptions {
    /// Force one placement strategy (a name from [`alloc::STRATEGIES`]);
    /// `None` runs them all and keeps the smallest arena.
    pub strategy: Option<String>,
    /// Which execution orders to try.
    pub schedule: ScheduleChoice,
    /// Minimum buffer alignment in bytes, a power of two. The plan uses the
    /// larger of this and the widest element type planned.
    pub align: usize,
    /// The exact placement runs only on orders with at most this many
    /// buffers (of non-zero size).
    pub exact_max_buffers: usize,
    /// Search nodes each phase of the exact placement may expand before it
    /// gives up and keeps the best placement found. A count, so plans are
    /// reproducible.
    pub exact_node_budget: u64,
    /// Optional wall-clock limit per exact placement. Off by default: with a
    /// limit, plans may differ between machines and runs.
    pub exact_time_limit: Option<std::time::Duration>,
    /// States per layer of the schedule search before it turns into a beam
    /// search (and stops being exact).
    pub schedule_beam_width: usize,
    /// Let ops whose kernels can run in place (`OpDef::in_place`) write
    /// their output over a dead input.
    pub in_place: bool,
    /// SRAM regions, fastest first. Empty: one region of unlimited size.
    /// A plan uses the later regions only when the first is too small.
    pub regions: Vec<RegionSpec>,
    /// Values the kernels read from the caller's buffer instead of the
    /// arena (the network input of a patched stage): not planned.
    pub external: BTreeSet<ValueId>,
    /// Values whose bytes are reserved from step 0 (the output of a
    /// patched stage, filled patch by patch while the stage's steps repeat).
    pub live_from_start: BTreeSet<ValueId>,
    /// Nodes that never run in place (patched-stage ops whose kernels do
    /// not run in place over a window).
    pub no_in_place: BTreeSet<NodeId>,
}

/// One SRAM region the planner may use.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RegionSpec {
    pub name: String,
    /// Bytes available for the arena, if limited.
    pub capacity: Option<usize>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            strategy: None,
            schedule: ScheduleChoice::Auto,
            align: 16,
            exact_max_buffers: 256,
            exact_node_budget: 200_000,
            exact_time_limit: None,
            schedule_beam_width: 1024,
            in_place: true,
            regions: Vec::new(),
            external: BTreeSet::new(),
            live_from_start: BTreeSet::new(),
            no_in_place: BTreeSet::new(),
        }
    }
}

impl PlanOptions {
    /// The verifier options matching these planner options.
    pub fn verify_options(&self, capacity: Option<usize>) -> VerifyOptions {
        VerifyOptions {
            capacity,
            in_place: self.in_place,
            external: self.external.clone(),
        }
    }

    /// The regions to plan in (one unlimited `RAM` region if none is given).
    pub fn region_specs(&self) -> Vec<RegionSpec> {
        if self.regions.is_empty() {
            vec![RegionSpec {
                name: "RAM".into(),
                capacity: None,
            }]
        } else {
            self.regions.clone()
        }
    }

    fn check(&self) -> Result<()> {
        if !self.align.is_power_of_two() {
            return Err(Error::Usage {
                message: format!("alignment {} is not a power of two", self.align),
            });
        }
        if let Some(s) = &self.strategy
            && !alloc::STRATEGIES.contains(&s.as_str())
        {
            return Err(Error::Usage {
                message: format!(
                    "unknown placement strategy `{s}` (known: {})",
                    alloc::STRATEGIES.join(", ")
                ),
            });
        }
        Ok(())
    }
}

/// The placement of one planned value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Buffer {
    #[serde(serialize_with = "ser_value")]
    pub value: ValueId,
    /// Bytes of the value (not rounded up).
    pub size: usize,
    /// Byte offset in the arena; a multiple of `align`.
    pub offset: usize,
    pub align: usize,
    /// First step at which the bytes are in use (written, or a graph input).
    pub first: usize,
    /// Last step at which the bytes are in use (read, or a graph output).
    pub last: usize,
    /// The buffer whose bytes this value shares (never itself an alias):
    /// RESHAPE outputs and in-place outputs. That buffer's lifetime covers
    /// this one's.
    #[serde(serialize_with = "ser_opt_value")]
    pub alias_of: Option<ValueId>,
    /// Index into [`MemoryPlan::regions`].
    pub region: usize,
}

/// A node's scratch buffer: bytes its kernel uses while it runs (step
/// `step` only), e.g. the one-channel plane of an in-place depthwise
/// convolution.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Scratch {
    #[serde(serialize_with = "ser_node")]
    pub node: NodeId,
    pub step: usize,
    pub size: usize,
    pub offset: usize,
    pub align: usize,
    pub region: usize,
}

impl Scratch {
    /// One past the last byte.
    pub fn end(&self) -> usize {
        self.offset.saturating_add(self.size)
    }
}

/// One SRAM region of a plan: its own arena, addressed from 0.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RegionPlan {
    pub name: String,
    pub capacity: Option<usize>,
    pub arena_bytes: usize,
}

fn ser_node<S: serde::Serializer>(n: &NodeId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u32(n.index() as u32)
}

impl Buffer {
    /// One past the last byte.
    pub fn end(&self) -> usize {
        self.offset.saturating_add(self.size)
    }

    pub fn is_live_at(&self, step: usize) -> bool {
        self.first <= step && step <= self.last
    }
}

fn ser_value<S: serde::Serializer>(v: &ValueId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u32(v.0)
}

fn ser_opt_value<S: serde::Serializer>(
    v: &Option<ValueId>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&v.0),
        None => s.serialize_none(),
    }
}

/// A complete memory plan. Check it with [`verify`] before using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Execution order; steps index into it.
    pub order: Vec<NodeId>,
    /// One buffer per planned value, sorted by value id.
    pub buffers: Vec<Buffer>,
    /// Scratch buffers, in step order (at most one per node).
    pub scratch: Vec<Scratch>,
    /// The nodes whose kernels run in place, and how.
    pub in_place: BTreeMap<NodeId, InPlace>,
    /// The regions, in the order of [`PlanOptions::regions`]; each arena
    /// ends at its highest (rounded-up) buffer.
    pub regions: Vec<RegionPlan>,
    /// Total arena size: the sum over regions.
    pub arena_bytes: usize,
    /// Max of `live_bytes`: no placement for this order can use less.
    pub lower_bound_bytes: usize,
    /// No order at all can use less, when known: the exact min-peak
    /// schedule's peak (only for plans without in-place ops, which it
    /// ignores).
    pub any_order_lower_bound_bytes: Option<usize>,
    /// Per step, the rounded-up bytes of every buffer live at that step,
    /// aliases counted once, scratch included.
    pub live_bytes: Vec<usize>,
    /// The alignment of every buffer.
    pub align: usize,
    /// The placement strategy that produced the offsets.
    pub strategy: String,
    /// The schedule that produced the order.
    pub schedule: String,
    /// The placement is proven optimal for this order (it meets the lower
    /// bound, or the exact search finished).
    pub optimal: bool,
}

impl MemoryPlan {
    /// The buffer of `v`, if it is planned.
    pub fn buffer(&self, v: ValueId) -> Option<&Buffer> {
        self.buffers
            .binary_search_by_key(&v, |b| b.value)
            .ok()
            .map(|i| &self.buffers[i])
    }

    /// The step at which `n` runs.
    pub fn step_of(&self, n: NodeId) -> Option<usize> {
        self.order.iter().position(|&m| m == n)
    }

    /// `arena_bytes / lower_bound_bytes` (1.0 when both are zero).
    pub fn ratio(&self) -> f64 {
        if self.lower_bound_bytes == 0 {
            1.0
        } else {
            self.arena_bytes as f64 / self.lower_bound_bytes as f64
        }
    }
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arena {} B, lower bound {} B ({:.3}x), {} buffers, strategy {}, schedule {}{}",
            self.arena_bytes,
            self.lower_bound_bytes,
            self.ratio(),
            self.buffers.len(),
            self.strategy,
            self.schedule,
            if self.optimal { ", optimal" } else { "" }
        )
    }
}

/// Plans `g`: tries the configured schedules, in-place choices and placement
/// strategies and keeps the smallest arena (ties: the earlier schedule, then
/// in place, then the earlier strategy in [`alloc::STRATEGIES`]); then
/// spreads it over the regions if the first is too small.
pub fn plan(g: &Graph, opts: &PlanOptions) -> Result<MemoryPlan> {
    opts.check()?;
    let candidates = schedule::candidates(g, opts)?;
    let mut best: Option<Candidate> = None;
    for (name, order) in candidates.orders {
        let c = candidate(g, order, &name, opts)?;
        if best
            .as_ref()
            .is_none_or(|b| c.placement.arena < b.placement.arena)
        {
            best = Some(c);
        }
    }
    let best = best.ok_or_else(|| plan_error("no execution order to plan"))?;
    let mut plan = finish(g, best, opts)?;
    if plan.in_place.is_empty() {
        plan.any_order_lower_bound_bytes = candidates.any_order_bound;
    }
    Ok(plan)
}

/// [`plan`], then [`verify`] with the matching options and an optional arena
/// capacity.
pub fn plan_verified(
    g: &Graph,
    opts: &PlanOptions,
    capacity: Option<usize>,
) -> Result<VerifiedPlan> {
    let p = plan(g, opts)?;
    verify(g, p, &opts.verify_options(capacity))
}

/// Plans `g` for a fixed execution order (`schedule` only names it).
pub fn plan_order(
    g: &Graph,
    order: Vec<NodeId>,
    schedule: &str,
    opts: &PlanOptions,
) -> Result<MemoryPlan> {
    opts.check()?;
    let c = candidate(g, order, schedule, opts)?;
    finish(g, c, opts)
}

/// One order with its lifetimes and single-arena placement.
struct Candidate {
    order: Vec<NodeId>,
    schedule: String,
    lt: live::Lifetimes,
    live_bytes: Vec<usize>,
    placement: alloc::Placement,
}

fn budget(opts: &PlanOptions) -> alloc::Budget {
    alloc::Budget {
        max_items: opts.exact_max_buffers,
        nodes: opts.exact_node_budget,
        time: opts.exact_time_limit,
    }
}

fn place(items: &[alloc::Item], opts: &PlanOptions) -> Result<alloc::Placement> {
    match &opts.strategy {
        Some(s) => alloc::place(items, s, &budget(opts)),
        None => alloc::best(items, &budget(opts)),
    }
}

/// The lifetimes to try for `order`: every legal in-place op minus the
/// shrinking ones whose removal lowers the bound, and none in place.
fn in_place_choices(
    g: &Graph,
    order: &[NodeId],
    opts: &PlanOptions,
) -> Result<Vec<live::Lifetimes>> {
    let all = live::Lifetimes::new(g, order, opts)?;
    if all.in_place.is_empty() {
        return Ok(vec![all]);
    }
    let peak = |lt: &live::Lifetimes| bound::lower_bound(&lt.items(), lt.steps);
    let mut best_peak = peak(&all);
    let mut cur = all;
    let mut denied = BTreeSet::new();
    for &n in order {
        if !cur.shrinks(g, n) {
            continue;
        }
        denied.insert(n);
        let trial = live::Lifetimes::with_denied(g, order, opts, &denied)?;
        let p = peak(&trial);
        if p < best_peak {
            best_peak = p;
            cur = trial;
        } else {
            denied.remove(&n);
        }
    }
    let none = PlanOptions {
        in_place: false,
        ..opts.clone()
    };
    Ok(vec![cur, live::Lifetimes::new(g, order, &none)?])
}

fn candidate(
    g: &Graph,
    order: Vec<NodeId>,
    schedule: &str,
    opts: &PlanOptions,
) -> Result<Candidate> {
    let mut best: Option<Candidate> = None;
    for lt in in_place_choices(g, &order, opts)? {
        let items = lt.items();
        let live_bytes = bound::live_bytes(&items, lt.steps);
        let placement = place(&items, opts)?;
        if best
            .as_ref()
            .is_none_or(|b| placement.arena < b.placement.arena)
        {
            best = Some(Candidate {
                order: order.clone(),
                schedule: schedule.to_string(),
                lt,
                live_bytes,
                placement,
            });
        }
    }
    best.ok_or_else(|| plan_error("no lifetimes to plan"))
}

/// The plan of a candidate: in one region if it fits the first, else spread
/// over the regions ([`region::split`]).
fn finish(g: &Graph, c: Candidate, opts: &PlanOptions) -> Result<MemoryPlan> {
    let specs = opts.region_specs();
    let items = c.lt.items();
    let lower_bound = c.live_bytes.iter().copied().max().unwrap_or(0);
    let too_big = specs[0].capacity.is_some_and(|cap| c.placement.arena > cap);
    let split = if too_big && specs.len() > 1 {
        region::split(g, &c.lt, &items, &specs, |sub| place(sub, opts))?
    } else {
        None
    };
    let (offsets, item_regions, arenas, strategy, optimal) = match split {
        Some(s) => (s.offsets, s.regions, s.arenas, s.strategy, s.optimal),
        None => (
            c.placement.offsets.clone(),
            vec![0; items.len()],
            vec![c.placement.arena],
            c.placement.strategy.to_string(),
            c.placement.optimal,
        ),
    };
    let regions: Vec<RegionPlan> = specs
        .iter()
        .enumerate()
        .map(|(i, r)| RegionPlan {
            name: r.name.clone(),
            capacity: r.capacity,
            arena_bytes: arenas.get(i).copied().unwrap_or(0),
        })
        .collect();
    let arena_bytes = regions.iter().map(|r| r.arena_bytes).sum();
    Ok(MemoryPlan {
        buffers: c.lt.buffers(&offsets, &item_regions),
        scratch: c.lt.scratch_buffers(&offsets, &item_regions),
        in_place: c.lt.in_place.clone(),
        regions,
        arena_bytes,
        lower_bound_bytes: lower_bound,
        any_order_lower_bound_bytes: None,
        live_bytes: c.live_bytes,
        align: c.lt.align,
        strategy,
        schedule: c.schedule,
        optimal: optimal || arena_bytes == lower_bound,
        order: c.order,
    })
}

pub(crate) fn plan_error(message: impl Into<String>) -> Error {
    Error::Verify {
        stage: "plan".into(),
        errors: vec![message.into()],
    }
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
