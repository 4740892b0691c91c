//! The lower bound on the arena for one execution order.
//!
//! Invariant: for an order, every placement needs at least
//! `max over steps t of (bytes of every buffer live at t)`: the op's
//! non-constant inputs and outputs and everything else live across step `t`,
//! aliases counted once (they share their root's bytes), sizes rounded up to
//! the alignment. Buffers live at the same step pairwise conflict, and
//! aligned offsets make their rounded-up extents disjoint too, so their sum
//! fits in the arena. [`super::MemoryPlan::lower_bound_bytes`] is this value
//! and `arena_bytes >= lower_bound_bytes` always; the verifier recomputes it.

use super::PlanOptions;
use super::alloc::Item;
use super::live::Lifetimes;
use crate::error::Result;
use crate::ir::{Graph, NodeId};

/// Bytes live at each of the `steps` steps (parts of items outside
/// `0..steps`, and items with `first > last`, are ignored).
pub fn live_bytes(items: &[Item], steps: usize) -> Vec<usize> {
    let mut delta = vec![0i128; steps + 1];
    for it in items
        .iter()
        .filter(|it| it.first <= it.last && it.first < steps)
    {
        delta[it.first] += it.size as i128;
        delta[it.last.min(steps - 1) + 1] -= it.size as i128;
    }
    let mut live = Vec::with_capacity(steps);
    let mut cur: i128 = 0;
    for d in &delta[..steps] {
        cur += d;
        live.push(usize::try_from(cur).unwrap_or(usize::MAX));
    }
    live
}

/// Max over steps of [`live_bytes`].
pub fn lower_bound(items: &[Item], steps: usize) -> usize {
    live_bytes(items, steps).into_iter().max().unwrap_or(0)
}

/// Per-step live bytes of `g` executed in `order` (with the alignment and
/// in-place table of `opts`); the lower bound is their max.
pub fn live_bytes_for_order(g: &Graph, order: &[NodeId], opts: &PlanOptions) -> Result<Vec<usize>> {
    let lt = Lifetimes::new(g, order, opts)?;
    Ok(live_bytes(&lt.items(), lt.steps))
}

/// The lower bound for `g` executed in `order`.
pub fn lower_bound_for_order(g: &Graph, order: &[NodeId], opts: &PlanOptions) -> Result<usize> {
    Ok(live_bytes_for_order(g, order, opts)?
        .into_iter()
        .max()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(size: usize, first: usize, last: usize) -> Item {
        Item { size, first, last }
    }

    #[test]
    fn live_bytes_sums_overlapping_intervals() {
        let items = [it(16, 0, 1), it(32, 1, 2), it(48, 2, 2), it(0, 0, 2)];
        assert_eq!(live_bytes(&items, 3), vec![16, 48, 80]);
        assert_eq!(lower_bound(&items, 3), 80);
        // Outside the steps asked for, and inverted intervals, do not count.
        let items = [it(16, 1, usize::MAX), it(8, 5, 9), it(4, 2, 1)];
        assert_eq!(live_bytes(&items, 3), vec![0, 16, 16]);
    }

    #[test]
    fn empty_problem_has_zero_bound() {
        assert_eq!(live_bytes(&[], 2), vec![0, 0]);
        assert_eq!(lower_bound(&[], 0), 0);
    }
}
