//! Spreading a plan over several SRAM regions (e.g. the STM32H743's 128 KB
//! DTCM, zero-wait-state, and its 512 KB AXI SRAM behind the bus matrix).
//!
//! Invariant established: every item (alias group or scratch buffer) lives
//! in exactly one region; graph inputs and outputs live in region 0, which
//! the generated `Model` owns (the others are separate statics); each
//! region's items are placed like a one-region plan, so buffers live at a
//! common step never share a byte within a region, and each region's arena
//! fits its capacity.
//!
//! Which buffers go to the fast region: the ones with the most memory
//! accesses per byte. An item's accesses are one write per byte (its
//! producer, or the copy-in of a graph input) plus, per reader, one read per
//! byte, or one per multiply-accumulate when the reader is a MAC op reading
//! it as its data operand (a convolution reads each input byte once per
//! filter tap that covers it). A scratch buffer is filled and drained once
//! per output byte of its op. Items are offered to region 0 by decreasing
//! accesses per byte (ties by item order), each kept if region 0 still fits
//! (first a bound check, then the best greedy placement), then the rest to
//! region 1 the same way, and so on. This is the greedy rule for a knapsack
//! whose value is the accesses served from fast memory; it is not optimal,
//! but it is deterministic and fills the fast region first.

use std::collections::BTreeSet;

use super::alloc::{self, Item, Placement};
use super::live::Lifetimes;
use super::{RegionSpec, bound};
use crate::error::Result;
use crate::ir::{Graph, ValueId};

/// A plan spread over regions (all vectors parallel to the items, except
/// `arenas`, one per region).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub offsets: Vec<usize>,
    pub regions: Vec<usize>,
    pub arenas: Vec<usize>,
    pub strategy: String,
    pub optimal: bool,
}

/// Memory accesses to each item's bytes in one inference (parallel to
/// `lt.items()`), as the module doc defines them.
pub(crate) fn accesses(g: &Graph, lt: &Lifetimes) -> Vec<u64> {
    let mut root_pos = vec![0usize; lt.values.len()];
    for (p, &r) in lt.roots.iter().enumerate() {
        root_pos[r] = p;
    }
    let index = |v: ValueId| lt.values.binary_search_by_key(&v, |l| l.value).ok();
    let mut acc = vec![0u64; lt.roots.len() + lt.scratch.len()];
    for l in &lt.values {
        acc[root_pos[l.root]] += l.size as u64;
    }
    for n in g.node_ids() {
        let node = g.node(n);
        let (ins, outs) = super::live::node_facts(g, n);
        let macs = node.op.def().macs(&ins, &outs);
        for (k, &v) in node.inputs.iter().enumerate() {
            let Some(i) = index(v) else { continue };
            let size = lt.values[i].size as u64;
            let reads = if k == 0 && macs > 0 {
                macs.max(size)
            } else {
                size
            };
            acc[root_pos[lt.values[i].root]] += reads;
        }
    }
    for (k, s) in lt.scratch.iter().enumerate() {
        let out_bytes: u64 = g
            .node(s.node)
            .outputs
            .iter()
            .map(|&v| g.fact(v).bytes() as u64)
            .sum();
        acc[lt.roots.len() + k] = 2 * out_bytes.max(s.size as u64);
    }
    acc
}

/// Whether items `set` fit in `cap` bytes by the best greedy placement.
fn fits(items: &[Item], set: &[usize], steps: usize, cap: usize) -> bool {
    let sub: Vec<Item> = set.iter().map(|&i| items[i]).collect();
    if bound::lower_bound(&sub, steps) > cap {
        return false;
    }
    alloc::best_greedy_placement(&sub).is_ok_and(|p| p.arena <= cap)
}

/// Spreads `items` (of `lt`) over `specs`, or `None` if they do not fit
/// even so. `place` is the placement used for each region's final offsets.
pub(crate) fn split(
    g: &Graph,
    lt: &Lifetimes,
    items: &[Item],
    specs: &[RegionSpec],
    place: impl Fn(&[Item]) -> Result<Placement>,
) -> Result<Option<Split>> {
    let n = items.len();
    let steps = lt.steps;
    let acc = accesses(g, lt);
    // Items holding graph inputs or outputs stay in region 0.
    let io: BTreeSet<ValueId> = g.inputs.iter().chain(&g.outputs).copied().collect();
    let mut pinned = vec![false; n];
    for (p, &r) in lt.roots.iter().enumerate() {
        pinned[p] = items[p].size == 0
            || lt
                .values
                .iter()
                .any(|l| l.root == r && io.contains(&l.value));
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| !pinned[i]).collect();
    order.sort_by(|&a, &b| {
        // Decreasing accesses per byte: acc[a]/size[a] > acc[b]/size[b].
        let lhs = acc[a] as u128 * items[b].size as u128;
        let rhs = acc[b] as u128 * items[a].size as u128;
        rhs.cmp(&lhs).then(a.cmp(&b))
    });
    let mut region: Vec<Option<usize>> = vec![None; n];
    for (r, spec) in specs.iter().enumerate() {
        let cap = spec.capacity.unwrap_or(usize::MAX);
        let mut set: Vec<usize> = if r == 0 {
            (0..n).filter(|&i| pinned[i]).collect()
        } else {
            Vec::new()
        };
        if !fits(items, &set, steps, cap) {
            return Ok(None);
        }
        for &i in &order {
            if region[i].is_some() {
                continue;
            }
            set.push(i);
            if fits(items, &set, steps, cap) {
                region[i] = Some(r);
            } else {
                set.pop();
            }
        }
        for &i in &set {
            region[i] = Some(r);
        }
    }
    let Some(regions) = region.into_iter().collect::<Option<Vec<usize>>>() else {
        return Ok(None);
    };
    let mut offsets = vec![0; n];
    let mut arenas = Vec::with_capacity(specs.len());
    let mut strategies: Vec<&'static str> = Vec::new();
    for r in 0..specs.len() {
        let members: Vec<usize> = (0..n).filter(|&i| regions[i] == r).collect();
        let sub: Vec<Item> = members.iter().map(|&i| items[i]).collect();
        let p = place(&sub)?;
        for (k, &i) in members.iter().enumerate() {
            offsets[i] = p.offsets[k];
        }
        arenas.push(p.arena);
        if !members.is_empty() && !strategies.contains(&p.strategy) {
            strategies.push(p.strategy);
        }
    }
    Ok(Some(Split {
        offsets,
        regions,
        arenas,
        strategy: strategies.join("+"),
        optimal: false,
    }))
}
