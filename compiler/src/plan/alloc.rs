//! Placement: offsets for lifetime intervals so that buffers live at the same
//! step never share a byte.
//!
//! Invariant established: for items `a`, `b` of non-zero size whose step
//! intervals intersect, `[off_a, off_a + size_a)` and `[off_b, off_b + size_b)`
//! are disjoint, and `arena = max(off + size)`. Offsets are 0 or sums of item
//! sizes, so when every size is a multiple of the alignment (the planner
//! rounds them up) every offset is aligned.
//!
//! Strategies, all deterministic (ties by item index):
//! - `greedy-size`: largest first, lowest offset that fits (first fit); the
//!   TFLite Micro `GreedyMemoryPlanner` rule.
//! - `greedy-size-best-fit`: largest first, smallest gap that fits, else on
//!   top (Pisarchyk & Lee 2020, "greedy by size for offset calculation").
//! - `greedy-breadth`: steps by decreasing breadth (bytes live), each step's
//!   items largest first, best fit (Pisarchyk & Lee, "greedy by breadth").
//! - `greedy-conflict`: items by decreasing bytes of the items they conflict
//!   with (themselves included), first fit.
//! - `exact`: starts from the best greedy result. A sweep over time looks
//!   for a placement meeting the lower bound (then bisects towards it), and
//!   a branch and bound proves optimality or improves further when the
//!   instance is small enough; both stop at a node budget.
//!
//! The branch and bound relies on this fact: some optimal placement is
//! reproduced by first fit over its items sorted by offset (push every item
//! to the lowest offset it fits; then first fit in offset order returns
//! exactly those offsets). So the search enumerates item orders whose first
//! fit offsets are non-decreasing, and prunes a branch when
//! - an unplaced item fits entirely below the current offset (that order is
//!   not of the canonical form),
//! - or a lower bound reaches the best arena found: the current top, each
//!   unplaced item's first-fit end, and per step `t` the lowest first fit
//!   `m` of the unplaced items live at `t`, plus their bytes, plus the placed
//!   bytes at `t` above `m` (first fits only grow as items are placed, and
//!   items live at the same step are pairwise disjoint).

use std::cmp::Reverse;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Every strategy, in tie-breaking order.
pub const STRATEGIES: &[&str] = &[
    "greedy-size",
    "greedy-size-best-fit",
    "greedy-breadth",
    "greedy-conflict",
    "exact",
];

/// One buffer to place: `size` bytes live at steps `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    pub size: usize,
    pub first: usize,
    pub last: usize,
}

impl Item {
    /// Both are non-empty and live at a common step.
    pub fn conflicts(&self, other: &Item) -> bool {
        self.size > 0 && other.size > 0 && self.first <= other.last && other.first <= self.last
    }
}

/// Offsets for a list of items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Parallel to the items.
    pub offsets: Vec<usize>,
    pub arena: usize,
    pub strategy: &'static str,
    /// Proven optimal for these items.
    pub optimal: bool,
}

/// Limits of the exact search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Run the branch and bound (when not forced) only up to this many
    /// non-empty items.
    pub max_items: usize,
    /// Search nodes per search phase before giving up.
    pub nodes: u64,
    /// Wall-clock limit for the whole exact strategy. `None` (the default)
    /// keeps plans reproducible; a limit makes them depend on the machine.
    pub time: Option<Duration>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_items: 256,
            nodes: 200_000,
            time: None,
        }
    }
}

/// A node budget and an optional deadline.
#[derive(Clone, Copy, Debug)]
struct Limit {
    left: u64,
    deadline: Option<Instant>,
}

impl Limit {
    /// Counts one search node; true when the search must stop.
    fn exhausted(&mut self) -> bool {
        if self.left == 0 {
            return true;
        }
        self.left -= 1;
        if self.left.is_multiple_of(1024)
            && let Some(d) = self.deadline
            && Instant::now() >= d
        {
            self.left = 0;
            return true;
        }
        false
    }
}

/// For each item, the items it conflicts with (ascending).
pub fn conflict_lists(items: &[Item]) -> Vec<Vec<usize>> {
    let mut by_first: Vec<usize> = (0..items.len()).filter(|&i| items[i].size > 0).collect();
    by_first.sort_by_key(|&i| (items[i].first, i));
    let mut adj = vec![Vec::new(); items.len()];
    for (k, &i) in by_first.iter().enumerate() {
        for &j in &by_first[k + 1..] {
            if items[j].first > items[i].last {
                break;
            }
            adj[i].push(j);
            adj[j].push(i);
        }
    }
    for a in &mut adj {
        a.sort_unstable();
    }
    adj
}

/// `max(offset + size)`, 0 for no items.
pub fn arena_of(items: &[Item], offsets: &[usize]) -> usize {
    items
        .iter()
        .zip(offsets)
        .filter(|(it, _)| it.size > 0)
        .map(|(it, &o)| o + it.size)
        .max()
        .unwrap_or(0)
}

#[derive(Clone, Copy, Debug)]
enum Fit {
    First,
    Best,
}

/// Offset for `size` bytes among `placed` `(offset, end)` ranges.
fn fit(size: usize, placed: &mut [(usize, usize)], how: Fit) -> usize {
    placed.sort_unstable();
    match how {
        Fit::First => {
            let mut cur = 0;
            for &(off, end) in placed.iter() {
                if off >= cur + size {
                    break;
                }
                cur = cur.max(end);
            }
            cur
        }
        Fit::Best => {
            let mut prev = 0;
            let mut best: Option<(usize, usize)> = None; // (gap, offset)
            for &(off, end) in placed.iter() {
                if off > prev {
                    let gap = off - prev;
                    if gap >= size && best.is_none_or(|(g, _)| gap < g) {
                        best = Some((gap, prev));
                    }
                }
                prev = prev.max(end);
            }
            best.map_or(prev, |(_, o)| o)
        }
    }
}

/// Places items one by one in `order`, each among the already placed items
/// it conflicts with.
fn greedy(items: &[Item], adj: &[Vec<usize>], order: &[usize], how: Fit) -> Vec<usize> {
    let mut offsets: Vec<Option<usize>> = vec![None; items.len()];
    let mut placed = Vec::new();
    for &i in order {
        if items[i].size == 0 {
            offsets[i] = Some(0);
            continue;
        }
        placed.clear();
        placed.extend(
            adj[i]
                .iter()
                .filter_map(|&j| offsets[j].map(|o| (o, o + items[j].size))),
        );
        offsets[i] = Some(fit(items[i].size, &mut placed, how));
    }
    offsets.into_iter().map(|o| o.unwrap_or(0)).collect()
}

fn by_size(items: &[Item]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (Reverse(items[i].size), i));
    order
}

fn by_breadth(items: &[Item]) -> Vec<usize> {
    let steps = items.iter().map(|it| it.last + 1).max().unwrap_or(0);
    let breadth = super::bound::live_bytes(items, steps);
    let mut step_order: Vec<usize> = (0..breadth.len()).collect();
    step_order.sort_by_key(|&t| (Reverse(breadth[t]), t));
    let mut seen = vec![false; items.len()];
    let mut order = Vec::with_capacity(items.len());
    for t in step_order {
        let mut live: Vec<usize> = (0..items.len())
            .filter(|&i| !seen[i] && items[i].first <= t && t <= items[i].last)
            .collect();
        live.sort_by_key(|&i| (Reverse(items[i].size), i));
        for i in live {
            seen[i] = true;
            order.push(i);
        }
    }
    order.extend((0..items.len()).filter(|&i| !seen[i]));
    order
}

fn by_conflict(items: &[Item], adj: &[Vec<usize>]) -> Vec<usize> {
    let weight: Vec<usize> = (0..items.len())
        .map(|i| {
            adj[i]
                .iter()
                .map(|&j| items[j].size)
                .fold(items[i].size, usize::saturating_add)
        })
        .collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (Reverse(weight[i]), Reverse(items[i].size), i));
    order
}

fn run_greedy(items: &[Item], adj: &[Vec<usize>], name: &'static str) -> Placement {
    let offsets = match name {
        "greedy-size-best-fit" => greedy(items, adj, &by_size(items), Fit::Best),
        "greedy-breadth" => greedy(items, adj, &by_breadth(items), Fit::Best),
        "greedy-conflict" => greedy(items, adj, &by_conflict(items, adj), Fit::First),
        _ => greedy(items, adj, &by_size(items), Fit::First),
    };
    Placement {
        arena: arena_of(items, &offsets),
        offsets,
        strategy: name,
        optimal: false,
    }
}

fn best_greedy(items: &[Item], adj: &[Vec<usize>]) -> Placement {
    let mut best: Option<Placement> = None;
    for &name in STRATEGIES.iter().filter(|&&s| s != "exact") {
        let p = run_greedy(items, adj, name);
        if best.as_ref().is_none_or(|b| p.arena < b.arena) {
            best = Some(p);
        }
    }
    best.unwrap_or(Placement {
        offsets: vec![0; items.len()],
        arena: 0,
        strategy: "greedy-size",
        optimal: true,
    })
}

/// Runs one strategy by name.
pub fn place(items: &[Item], strategy: &str, budget: &Budget) -> Result<Placement> {
    let Some(&name) = STRATEGIES.iter().find(|&&s| s == strategy) else {
        return Err(Error::Usage {
            message: format!(
                "unknown placement strategy `{strategy}` (known: {})",
                STRATEGIES.join(", ")
            ),
        });
    };
    let items = normalize(items)?;
    let adj = conflict_lists(&items);
    Ok(if name == "exact" {
        let seed = best_greedy(&items, &adj);
        let mut p = exact(&items, &adj, seed, budget, true);
        p.strategy = "exact";
        p
    } else {
        run_greedy(&items, &adj, name)
    })
}

/// The best of the greedy strategies only (fast; for feasibility checks).
pub fn best_greedy_placement(items: &[Item]) -> Result<Placement> {
    let items = normalize(items)?;
    let adj = conflict_lists(&items);
    Ok(best_greedy(&items, &adj))
}

/// Runs every greedy strategy, keeps the smallest arena (the earliest in
/// [`STRATEGIES`] on ties), then improves it with the exact strategy (its
/// branch and bound only when the instance has at most `budget.max_items`
/// items). The result names the strategy whose offsets are returned;
/// `optimal` says whether they are proven optimal.
pub fn best(items: &[Item], budget: &Budget) -> Result<Placement> {
    let items = normalize(items)?;
    let adj = conflict_lists(&items);
    let seed = best_greedy(&items, &adj);
    let non_empty = items.iter().filter(|it| it.size > 0).count();
    Ok(exact(
        &items,
        &adj,
        seed,
        budget,
        non_empty <= budget.max_items,
    ))
}

/// The same problem with steps renumbered densely (an item's interval
/// meets another's iff it did before) and empty items (no bytes, or
/// `first > last`) made size 0 at step 0. Offsets stay below the sum of the
/// sizes, so that sum must not overflow.
fn normalize(items: &[Item]) -> Result<Vec<Item>> {
    items
        .iter()
        .try_fold(0usize, |acc, it| acc.checked_add(it.size))
        .ok_or_else(|| Error::Usage {
            message: "the buffer sizes add up to more than the host's usize".into(),
        })?;
    let empty = |it: &Item| it.size == 0 || it.first > it.last;
    let mut steps: Vec<usize> = items
        .iter()
        .filter(|it| !empty(it))
        .flat_map(|it| [it.first, it.last])
        .collect();
    steps.sort_unstable();
    steps.dedup();
    let at = |s: usize| steps.binary_search(&s).unwrap_or(0);
    Ok(items
        .iter()
        .map(|it| {
            if empty(it) {
                Item {
                    size: 0,
                    first: 0,
                    last: 0,
                }
            } else {
                Item {
                    size: it.size,
                    first: at(it.first),
                    last: at(it.last),
                }
            }
        })
        .collect())
}

/// The exact strategy, starting from `seed` (returned unchanged, with
/// `optimal` set, if nothing better is found and the search proves it
/// optimal):
/// 1. a sweep over time for a placement of exactly the lower bound, then a
///    bisection between the bound and the best arena known (fast on the long
///    chains of real models, but it tries only offsets touching a live
///    neighbour or the arena's ends, so a failure proves nothing);
/// 2. if `branch`, the canonical branch and bound (complete) below the best
///    arena known.
fn exact(
    items: &[Item],
    adj: &[Vec<usize>],
    seed: Placement,
    budget: &Budget,
    branch: bool,
) -> Placement {
    let deadline = budget.time.map(|t| Instant::now() + t);
    let limit = Limit {
        left: budget.nodes,
        deadline,
    };
    let steps = items.iter().map(|it| it.last + 1).max().unwrap_or(0);
    let global_lb = super::bound::lower_bound(items, steps);
    if seed.arena <= global_lb {
        return Placement {
            optimal: true,
            ..seed
        };
    }
    let mut best = seed.clone();
    let mut found = false;
    let grain = items
        .iter()
        .filter(|it| it.size > 0)
        .fold(0, |g, it| gcd(g, it.size))
        .max(1);
    let (mut lo, mut hi) = (global_lb, seed.arena);
    let mut target = global_lb;
    for _ in 0..8 {
        if let Some(offsets) = sweep(items, adj, target, limit) {
            best = Placement {
                arena: arena_of(items, &offsets),
                offsets,
                strategy: "exact",
                optimal: false,
            };
            found = true;
            hi = best.arena;
            if hi <= global_lb {
                best.optimal = true;
                return best;
            }
        } else {
            lo = target;
        }
        if hi - lo <= grain {
            break;
        }
        target = (lo + (hi - lo) / 2) / grain * grain;
        if target <= lo {
            target = lo + grain;
        }
    }
    if !branch {
        return best;
    }
    let active: Vec<usize> = (0..items.len()).filter(|&i| items[i].size > 0).collect();
    let mut unplaced_at = vec![0usize; steps];
    for &i in &active {
        for u in &mut unplaced_at[items[i].first..=items[i].last] {
            *u += items[i].size;
        }
    }
    let mut s = Search {
        items,
        adj,
        active,
        offset: vec![None; items.len()],
        unplaced_at,
        floor: vec![0; steps],
        above: vec![0; steps],
        best_arena: best.arena,
        best: None,
        global_lb,
        limit,
        aborted: false,
    };
    s.dfs(0, None, 0, 0);
    let optimal = !s.aborted;
    match s.best {
        Some(offsets) => Placement {
            arena: arena_of(items, &offsets),
            offsets,
            strategy: "exact",
            optimal,
        },
        None if found => Placement { optimal, ..best },
        None => Placement { optimal, ..seed },
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Looks for a placement within `target` bytes, placing items by start step
/// (largest first on ties). An item may go at the bottom or the top of each
/// gap left by the placed items it conflicts with (and the arena's ends).
/// What remains to do depends only on the next item and the placed items
/// still live when it starts, so failed states are memoized.
fn sweep(items: &[Item], adj: &[Vec<usize>], target: usize, limit: Limit) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..items.len()).filter(|&i| items[i].size > 0).collect();
    if order.iter().any(|&i| items[i].size > target) {
        return None;
    }
    order.sort_by_key(|&i| (items[i].first, Reverse(items[i].size), i));
    let mut sw = Sweep {
        items,
        adj,
        order,
        target,
        offset: vec![None; items.len()],
        failed: HashSet::new(),
        limit,
    };
    match sw.go(0) {
        Some(true) => Some(sw.offset.iter().map(|o| o.unwrap_or(0)).collect()),
        _ => None,
    }
}

struct Sweep<'a> {
    items: &'a [Item],
    adj: &'a [Vec<usize>],
    order: Vec<usize>,
    target: usize,
    offset: Vec<Option<usize>>,
    /// (next position in `order`, live placed items with their offsets).
    failed: HashSet<(usize, Vec<(usize, usize)>)>,
    limit: Limit,
}

impl Sweep<'_> {
    /// `Some(found)`, or `None` when the budget ran out.
    fn go(&mut self, k: usize) -> Option<bool> {
        let Some(&i) = self.order.get(k) else {
            return Some(true);
        };
        let it = self.items[i];
        let key = (
            k,
            self.order[..k]
                .iter()
                .filter(|&&j| self.items[j].last >= it.first)
                .map(|&j| (j, self.offset[j].unwrap_or(0)))
                .collect::<Vec<_>>(),
        );
        if self.failed.contains(&key) {
            return Some(false);
        }
        if self.limit.exhausted() {
            return None;
        }
        let mut busy: Vec<(usize, usize)> = self.adj[i]
            .iter()
            .filter_map(|&j| self.offset[j].map(|o| (o, o + self.items[j].size)))
            .collect();
        busy.sort_unstable();
        let mut candidates = Vec::new();
        let mut lo = 0usize;
        for &(o, e) in busy
            .iter()
            .chain(std::iter::once(&(self.target, self.target)))
        {
            if o >= lo.saturating_add(it.size) {
                candidates.push(lo);
                candidates.push(o - it.size);
            }
            lo = lo.max(e);
        }
        candidates.sort_unstable();
        candidates.dedup();
        for c in candidates {
            self.offset[i] = Some(c);
            match self.go(k + 1) {
                Some(false) => {}
                other => return other,
            }
        }
        self.offset[i] = None;
        self.failed.insert(key);
        Some(false)
    }
}

struct Search<'a> {
    items: &'a [Item],
    adj: &'a [Vec<usize>],
    /// Items of non-zero size.
    active: Vec<usize>,
    offset: Vec<Option<usize>>,
    /// Per step, bytes of unplaced items live there.
    unplaced_at: Vec<usize>,
    /// Scratch, per step: the lowest first fit of the unplaced items live
    /// there, and the placed bytes above it.
    floor: Vec<usize>,
    above: Vec<usize>,
    best_arena: usize,
    best: Option<Vec<usize>>,
    global_lb: usize,
    limit: Limit,
    aborted: bool,
}

impl Search<'_> {
    fn first_fit(&self, i: usize, scratch: &mut Vec<(usize, usize)>) -> usize {
        scratch.clear();
        scratch.extend(
            self.adj[i]
                .iter()
                .filter_map(|&j| self.offset[j].map(|o| (o, o + self.items[j].size))),
        );
        fit(self.items[i].size, scratch, Fit::First)
    }

    fn done(&self) -> bool {
        self.aborted || self.best_arena <= self.global_lb
    }

    fn dfs(&mut self, cur: usize, prev: Option<usize>, top: usize, placed: usize) {
        if self.done() {
            return;
        }
        if self.limit.exhausted() {
            self.aborted = true;
            return;
        }
        if placed == self.active.len() {
            if top < self.best_arena {
                self.best_arena = top;
                self.best = Some(self.offset.iter().map(|o| o.unwrap_or(0)).collect());
            }
            return;
        }
        let mut scratch = Vec::new();
        let mut lb = top;
        let mut candidates = Vec::new();
        // Per step, the lowest offset any unplaced item live there can take.
        self.floor.iter_mut().for_each(|m| *m = usize::MAX);
        for k in 0..self.active.len() {
            let i = self.active[k];
            if self.offset[i].is_some() {
                continue;
            }
            let it = self.items[i];
            let f = self.first_fit(i, &mut scratch);
            if placed > 0 && f + it.size <= cur {
                return; // i fits below: not a canonical order
            }
            lb = lb.max(f + it.size);
            for m in &mut self.floor[it.first..=it.last] {
                *m = (*m).min(f);
            }
            if f > cur || (f == cur && prev.is_none_or(|p| i > p)) {
                candidates.push((f, Reverse(it.size), i));
            }
        }
        if lb >= self.best_arena || candidates.is_empty() {
            return;
        }
        // Per step t, the unplaced items live at t lie disjoint above
        // floor[t], beside the placed bytes above floor[t].
        self.above.iter_mut().for_each(|a| *a = 0);
        for &j in &self.active {
            if let Some(o) = self.offset[j] {
                let it = self.items[j];
                let end = o + it.size;
                for t in it.first..=it.last {
                    let m = self.floor[t];
                    if end > m {
                        self.above[t] += end - o.max(m);
                    }
                }
            }
        }
        for t in 0..self.floor.len() {
            if self.unplaced_at[t] > 0 {
                lb = lb.max(
                    self.floor[t]
                        .saturating_add(self.unplaced_at[t])
                        .saturating_add(self.above[t]),
                );
            }
        }
        if lb >= self.best_arena {
            return;
        }
        candidates.sort_unstable();
        for (f, _, i) in candidates {
            let it = self.items[i];
            self.offset[i] = Some(f);
            for u in &mut self.unplaced_at[it.first..=it.last] {
                *u -= it.size;
            }
            self.dfs(f, Some(i), top.max(f + it.size), placed + 1);
            for u in &mut self.unplaced_at[it.first..=it.last] {
                *u += it.size;
            }
            self.offset[i] = None;
            if self.done() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn it(size: usize, first: usize, last: usize) -> Item {
        Item { size, first, last }
    }

    fn assert_valid(items: &[Item], p: &Placement) {
        assert_eq!(p.offsets.len(), items.len());
        assert_eq!(p.arena, arena_of(items, &p.offsets));
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                if items[i].conflicts(&items[j]) {
                    let (a, b) = (p.offsets[i], p.offsets[j]);
                    assert!(
                        a + items[i].size <= b || b + items[j].size <= a,
                        "{} items {i} {j} overlap: {items:?} {:?}",
                        p.strategy,
                        p.offsets
                    );
                }
            }
        }
    }

    /// Optimum by trying every offset of every item (independent of the
    /// canonical-order argument the exact search relies on).
    fn brute_force(items: &[Item]) -> usize {
        fn go(items: &[Item], offs: &mut Vec<usize>, top: usize, best: &mut usize) {
            let k = offs.len();
            if top >= *best {
                return;
            }
            if k == items.len() {
                *best = top;
                return;
            }
            let total: usize = items.iter().map(|i| i.size).sum();
            for o in 0..=total {
                let ok = (0..k).all(|j| {
                    !items[k].conflicts(&items[j])
                        || o + items[k].size <= offs[j]
                        || offs[j] + items[j].size <= o
                });
                if ok {
                    offs.push(o);
                    go(items, offs, top.max(o + items[k].size), best);
                    offs.pop();
                }
            }
        }
        let mut best = items.iter().map(|i| i.size).sum::<usize>() + 1;
        go(items, &mut Vec::new(), 0, &mut best);
        best.min(items.iter().map(|i| i.size).sum())
    }

    #[test]
    fn first_and_best_fit_choose_different_gaps() {
        // Gaps [0,4) (size 4) and [6,8) (size 2), then open above 9.
        let mut placed = vec![(4, 6), (8, 9)];
        assert_eq!(fit(2, &mut placed, Fit::First), 0);
        assert_eq!(fit(2, &mut placed, Fit::Best), 6);
        assert_eq!(fit(5, &mut placed, Fit::First), 9);
        assert_eq!(fit(5, &mut placed, Fit::Best), 9);
    }

    #[test]
    fn chain_needs_two_adjacent_buffers() {
        // a -> b -> c: a and b overlap at step 1, b and c at step 2.
        let items = [it(32, 0, 1), it(16, 1, 2), it(32, 2, 2)];
        for s in STRATEGIES {
            let p = place(&items, s, &Budget::default()).expect("known strategy");
            assert_valid(&items, &p);
            assert_eq!(p.arena, 48, "{s}");
        }
        // a and c may share bytes.
        let p = best(&items, &Budget::default()).expect("sizes fit");
        assert_eq!(p.offsets[0], p.offsets[2]);
        assert!(p.optimal);
    }

    #[test]
    fn exact_beats_greedy_where_size_order_fragments() {
        // A classic trap for largest-first: the best arena is 6, greedy-size
        // leaves a hole.
        let items = [
            it(3, 0, 1),
            it(2, 1, 2),
            it(3, 2, 3),
            it(1, 0, 3),
            it(2, 3, 4),
            it(4, 4, 4),
        ];
        let adj = conflict_lists(&items);
        let greedy_arena = STRATEGIES[..4]
            .iter()
            .map(|s| run_greedy(&items, &adj, s).arena)
            .min()
            .unwrap_or(0);
        let p = best(&items, &Budget::default()).expect("sizes fit");
        assert_valid(&items, &p);
        assert!(p.optimal);
        assert_eq!(p.arena, brute_force(&items));
        assert!(p.arena <= greedy_arena);
    }

    #[test]
    fn sparse_steps_and_empty_items_are_normalized() {
        let big = usize::MAX - 1;
        let items = [
            it(16, big - 10, big),
            it(16, big, big),
            it(0, 0, big),
            it(32, 7, 3), // inverted: empty
        ];
        for s in STRATEGIES {
            let p = place(&items, s, &Budget::default()).expect("sizes fit");
            assert_eq!(p.arena, 32, "{s}");
            assert_eq!(p.offsets[3], 0);
        }
        let e = best(&[it(usize::MAX, 0, 0), it(2, 1, 1)], &Budget::default());
        assert!(matches!(e, Err(Error::Usage { .. })));
    }

    #[test]
    fn a_time_limit_still_returns_a_valid_placement() {
        let items: Vec<Item> = (0..40)
            .map(|i| it(16 * (1 + (i * 7) % 5), i / 3, i / 3 + (i % 4)))
            .collect();
        let budget = Budget {
            time: Some(Duration::ZERO),
            ..Budget::default()
        };
        let p = place(&items, "exact", &budget).expect("sizes fit");
        assert_valid(&items, &p);
        assert!(p.arena >= super::super::bound::lower_bound(&items, 20));
    }

    #[test]
    fn unknown_strategy_is_an_error() {
        let e = place(&[it(1, 0, 0)], "random", &Budget::default());
        assert!(matches!(e, Err(Error::Usage { .. })));
    }

    #[test]
    fn zero_budget_keeps_the_seed_and_does_not_claim_optimality() {
        let items = [
            it(3, 0, 1),
            it(2, 1, 2),
            it(3, 2, 3),
            it(1, 0, 3),
            it(2, 3, 4),
        ];
        let budget = Budget {
            max_items: 10,
            nodes: 0,
            time: None,
        };
        let p = best(&items, &budget).expect("sizes fit");
        assert_valid(&items, &p);
        assert!(p.arena >= super::super::bound::lower_bound(&items, 5));
        if p.arena > super::super::bound::lower_bound(&items, 5) {
            assert!(!p.optimal);
        }
    }

    fn items_strategy(
        max: usize,
        steps: usize,
        max_size: usize,
    ) -> impl Strategy<Value = Vec<Item>> {
        prop::collection::vec((0..=max_size, 0..steps, 0..steps), 0..=max).prop_map(|v| {
            v.into_iter()
                .map(|(size, a, b)| it(size, a.min(b), a.max(b)))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn every_strategy_is_valid_and_above_the_bound(items in items_strategy(24, 12, 64)) {
            let lb = super::super::bound::lower_bound(&items, 12);
            for s in STRATEGIES {
                let p = place(&items, s, &Budget { max_items: 24, nodes: 2_000, time: None }).expect("known");
                assert_valid(&items, &p);
                prop_assert!(p.arena >= lb, "{s}: {} < {lb}", p.arena);
            }
            let p = best(&items, &Budget { max_items: 24, nodes: 2_000, time: None }).expect("sizes fit");
            assert_valid(&items, &p);
            prop_assert!(p.arena >= lb);
        }

        #[test]
        fn aligned_sizes_give_aligned_offsets(items in items_strategy(16, 8, 8)) {
            let items: Vec<Item> = items.into_iter().map(|i| it(i.size * 16, i.first, i.last)).collect();
            for s in STRATEGIES {
                let p = place(&items, s, &Budget::default()).expect("known");
                prop_assert!(p.offsets.iter().all(|o| o % 16 == 0), "{s}: {:?}", p.offsets);
            }
        }

        #[test]
        fn exact_equals_brute_force_on_small_instances(items in items_strategy(5, 5, 4)) {
            let p = best(&items, &Budget { max_items: 10, nodes: 1_000_000, time: None }).expect("sizes fit");
            assert_valid(&items, &p);
            prop_assert!(p.optimal);
            prop_assert_eq!(p.arena, brute_force(&items), "{:?} {:?}", items, p.offsets);
        }
    }
}
