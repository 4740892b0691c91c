//! Execution orders. Any topological order computes the same results, so the
//! planner is free to pick the one that needs the least memory.
//!
//! Invariant established: every order returned is a topological order of all
//! the graph's nodes.
//!
//! - [`source_order`]: Kahn's algorithm taking the smallest node id first,
//!   which keeps the source model's operator order.
//! - [`min_peak_order`]: minimizes the peak of live bytes (the quantity
//!   [`super::bound`] maximizes over steps). A forward dynamic program over
//!   the graph's downsets (sets of executed nodes closed under
//!   predecessors), layer by layer: the live bytes before a step depend only
//!   on the set executed so far, so keeping, per set, the smallest peak so far
//!   is exact. Chains and residual blocks have few downsets; when a layer has
//!   more than `schedule_beam_width` sets, only the best ones (smallest peak,
//!   then fewest resident bytes) are kept and the result is a beam-search
//!   heuristic instead. RESHAPE outputs share their input's bytes here too;
//!   in-place sharing depends on the order and is ignored while scheduling.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::PlanOptions;
use super::live::Lifetimes;
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, ValueId};

/// The source order.
pub fn source_order(g: &Graph) -> Result<Vec<NodeId>> {
    g.topo_order().ok_or_else(|| Error::Verify {
        stage: "plan".into(),
        errors: vec!["the graph has a cycle".into()],
    })
}

/// A memory-aware order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub order: Vec<NodeId>,
    /// Peak live bytes of `order` (aliases counted once, in-place ignored).
    pub peak: usize,
    /// The peak is the minimum over all topological orders.
    pub exact: bool,
}

/// Orders to try under `opts.schedule`, each with its name, without
/// duplicates, the source order first; and the minimum peak over all orders
/// if the schedule search proved it.
pub(crate) fn candidates(g: &Graph, opts: &PlanOptions) -> Result<Candidates> {
    use super::ScheduleChoice::*;
    let mut out = Vec::new();
    let mut bound = None;
    if matches!(opts.schedule, Source | Auto) {
        out.push(("source".to_string(), source_order(g)?));
    }
    if matches!(opts.schedule, MinPeak | Auto) {
        let s = min_peak_order(g, opts)?;
        bound = s.exact.then_some(s.peak);
        if !out.iter().any(|(_, o)| *o == s.order) {
            let name = if s.exact { "min-peak" } else { "min-peak-beam" };
            out.push((name.to_string(), s.order));
        }
    }
    Ok(Candidates {
        orders: out,
        any_order_bound: bound,
    })
}

pub(crate) struct Candidates {
    /// (schedule name, order).
    pub orders: Vec<(String, Vec<NodeId>)>,
    pub any_order_bound: Option<usize>,
}

type Bits = Vec<u64>;

fn has(b: &[u64], i: usize) -> bool {
    b[i / 64] >> (i % 64) & 1 == 1
}

fn set(b: &mut [u64], i: usize) {
    b[i / 64] |= 1 << (i % 64);
}

/// The graph as the scheduler sees it: nodes `0..n` in source order, byte
/// groups (a value and its RESHAPE aliases) with their readers.
struct Model {
    nodes: Vec<NodeId>,
    /// Distinct predecessors and successors of each node.
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    /// Groups each node reads and creates (distinct).
    reads: Vec<Vec<usize>>,
    creates: Vec<Vec<usize>>,
    size: Vec<usize>,
    readers: Vec<Vec<usize>>,
    keep: Vec<bool>,
    /// Bytes live before the first step (graph inputs still to be read or
    /// returned), and bytes live at step 0 only (unread graph inputs).
    initial: usize,
    initial_extra: usize,
}

impl Model {
    fn new(g: &Graph, opts: &PlanOptions) -> Result<Model> {
        let nodes = source_order(g)?;
        let n = nodes.len();
        // Sizes and alignment as the planner computes them (in-place off).
        let plain = PlanOptions {
            in_place: false,
            ..opts.clone()
        };
        let lt = Lifetimes::new(g, &nodes, &plain)?;
        let mut group_of: BTreeMap<ValueId, usize> = BTreeMap::new();
        let mut size = Vec::new();
        for &r in &lt.roots {
            group_of.insert(lt.values[r].value, size.len());
            size.push(lt.values[r].padded);
        }
        for l in &lt.values {
            if let Some(&gr) = group_of.get(&lt.values[l.root].value) {
                group_of.insert(l.value, gr);
            }
        }
        let pos: BTreeMap<NodeId, usize> = nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let producers = g.producers();
        let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        let mut reads: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        let mut creates = vec![Vec::new(); n];
        let mut readers: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); size.len()];
        let mut created = vec![false; size.len()];
        for (k, &id) in nodes.iter().enumerate() {
            let node = g.node(id);
            for v in &node.inputs {
                if let Some(&p) = producers.get(v).and_then(|p| pos.get(p)) {
                    preds[k].insert(p);
                }
                if let Some(&gr) = group_of.get(v) {
                    readers[gr].insert(k);
                    reads[k].insert(gr);
                }
            }
            for v in &node.outputs {
                if let Some(&gr) = group_of.get(v)
                    && !created[gr]
                    && !reads[k].contains(&gr)
                {
                    created[gr] = true;
                    creates[k].push(gr);
                }
            }
        }
        let mut succs = vec![Vec::new(); n];
        for (k, ps) in preds.iter().enumerate() {
            for &p in ps {
                succs[p].push(k);
            }
        }
        let mut keep = vec![false; size.len()];
        for v in &g.outputs {
            if let Some(&gr) = group_of.get(v) {
                keep[gr] = true;
            }
        }
        let (mut initial, mut initial_extra) = (0usize, 0usize);
        for gr in 0..size.len() {
            if !created[gr] {
                // A graph input (never written by a node).
                if keep[gr] || !readers[gr].is_empty() {
                    initial += size[gr];
                } else {
                    initial_extra += size[gr];
                }
            }
        }
        let list =
            |v: Vec<BTreeSet<usize>>| v.into_iter().map(|s| s.into_iter().collect()).collect();
        Ok(Model {
            nodes,
            preds: list(preds),
            succs,
            reads: list(reads),
            creates,
            size,
            readers: list(readers),
            keep,
            initial,
            initial_extra,
        })
    }

    /// Runs `k` after `done` (which includes `k` already): (bytes live during
    /// the step, bytes live after it).
    fn step(&self, after: &[u64], resident: usize, k: usize, first: bool) -> (usize, usize) {
        let made: usize = self.creates[k].iter().map(|&gr| self.size[gr]).sum();
        let cost = resident + made + if first { self.initial_extra } else { 0 };
        let still = |gr: usize| self.keep[gr] || self.readers[gr].iter().any(|&r| !has(after, r));
        let kept: usize = self.creates[k]
            .iter()
            .filter(|&&gr| still(gr))
            .map(|&gr| self.size[gr])
            .sum();
        let freed: usize = self.reads[k]
            .iter()
            .filter(|&&gr| !still(gr))
            .map(|&gr| self.size[gr])
            .sum();
        (cost, (resident + kept).saturating_sub(freed))
    }
}

struct State {
    done: Bits,
    /// Nodes not done whose predecessors all are, ascending.
    ready: Vec<usize>,
    peak: usize,
    resident: usize,
}

/// The order minimizing the peak of live bytes (see the module doc).
pub fn min_peak_order(g: &Graph, opts: &PlanOptions) -> Result<Scheduled> {
    let m = Model::new(g, opts)?;
    let n = m.nodes.len();
    let words = n.div_ceil(64).max(1);
    let width = opts.schedule_beam_width.max(1);
    let mut exact = true;
    let mut layer = vec![State {
        done: vec![0; words],
        ready: (0..n).filter(|&k| m.preds[k].is_empty()).collect(),
        peak: 0,
        resident: m.initial,
    }];
    // Per layer, per state: (index of the parent in the previous layer, node).
    let mut history: Vec<Vec<(usize, usize)>> = Vec::with_capacity(n);
    for depth in 0..n {
        let mut next: Vec<State> = Vec::new();
        let mut links: Vec<(usize, usize)> = Vec::new();
        let mut index: HashMap<Bits, usize> = HashMap::new();
        for (si, s) in layer.iter().enumerate() {
            for &k in &s.ready {
                let mut done = s.done.clone();
                set(&mut done, k);
                let (cost, resident) = m.step(&done, s.resident, k, depth == 0);
                let peak = s.peak.max(cost);
                match index.get(&done) {
                    Some(&j) => {
                        if peak < next[j].peak {
                            next[j].peak = peak;
                            links[j] = (si, k);
                        }
                    }
                    None => {
                        let mut ready: Vec<usize> =
                            s.ready.iter().copied().filter(|&r| r != k).collect();
                        for &c in &m.succs[k] {
                            if m.preds[c].iter().all(|&p| has(&done, p)) {
                                ready.push(c);
                            }
                        }
                        ready.sort_unstable();
                        index.insert(done.clone(), next.len());
                        next.push(State {
                            done,
                            ready,
                            peak,
                            resident,
                        });
                        links.push((si, k));
                    }
                }
            }
        }
        if next.is_empty() {
            return Err(Error::Verify {
                stage: "plan".into(),
                errors: vec!["scheduling found no ready node (cycle?)".into()],
            });
        }
        if next.len() > width {
            exact = false;
            let mut keep: Vec<usize> = (0..next.len()).collect();
            keep.sort_by_key(|&j| (next[j].peak, next[j].resident, j));
            keep.truncate(width);
            keep.sort_unstable();
            let mut slots: Vec<Option<State>> = next.into_iter().map(Some).collect();
            next = keep.iter().filter_map(|&j| slots[j].take()).collect();
            links = keep.iter().map(|&j| links[j]).collect();
        }
        history.push(links);
        layer = next;
    }
    let peak = layer
        .first()
        .map_or(m.initial + m.initial_extra, |s| s.peak);
    let mut order = Vec::with_capacity(n);
    let mut at = 0;
    for links in history.iter().rev() {
        let (parent, k) = links[at];
        order.push(m.nodes[k]);
        at = parent;
    }
    order.reverse();
    Ok(Scheduled { order, peak, exact })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::bound::lower_bound_for_order;
    use crate::plan::testutil::*;

    #[test]
    fn keeps_the_source_order_of_a_chain() {
        let (g, _) = chain(&[64, 32, 48, 16]);
        let s = min_peak_order(&g, &PlanOptions::default()).expect("schedules");
        assert_eq!(s.order, source_order(&g).expect("acyclic"));
        assert!(s.exact);
        let lb = lower_bound_for_order(&g, &s.order, &PlanOptions::default()).expect("bound");
        assert_eq!(s.peak, lb);
    }

    #[test]
    fn runs_the_branch_that_frees_memory_first() {
        // x -> a (big) -> a2 (small); x -> b (big) -> b2 (small); concat(a2, b2).
        // Source order runs a, b, a2, b2: a and b are live together.
        let mut gb = GraphBuilder::new();
        let x = gb.input(16);
        let a = gb.op("a", &[x], 512);
        let b = gb.op("b", &[x], 512);
        let a2 = gb.op("a2", &[a], 16);
        let b2 = gb.op("b2", &[b], 16);
        let c = gb.op("c", &[a2, b2], 32);
        let g = gb.finish(&[c]);
        let opts = PlanOptions::default();
        let src = source_order(&g).expect("acyclic");
        let s = min_peak_order(&g, &opts).expect("schedules");
        assert!(s.exact);
        let src_peak = lower_bound_for_order(&g, &src, &opts).expect("bound");
        assert_eq!(
            s.peak,
            lower_bound_for_order(&g, &s.order, &opts).expect("bound")
        );
        assert!(s.peak < src_peak, "{} vs {src_peak}", s.peak);
        // Brute force over every topological order agrees.
        assert_eq!(s.peak, brute_force_min_peak(&g, &opts));
    }

    #[test]
    fn beam_of_one_is_still_a_topological_order() {
        let mut gb = GraphBuilder::new();
        let x = gb.input(16);
        let outs: Vec<_> = (0..6)
            .map(|i| gb.op(&format!("b{i}"), &[x], 16 * (i + 1)))
            .collect();
        let c = gb.op("c", &outs, 16);
        let g = gb.finish(&[c]);
        let opts = PlanOptions {
            schedule_beam_width: 1,
            ..PlanOptions::default()
        };
        let s = min_peak_order(&g, &opts).expect("schedules");
        assert!(!s.exact);
        crate::plan::live::check_order(&g, &s.order).expect("topological");
    }
}
