//! Which values are planned, their sizes, alias groups and lifetimes for one
//! execution order, and the scratch buffers of its steps.
//!
//! Invariant established: every non-constant value read or written by a node,
//! and every graph input and output, is planned exactly once; a value's
//! lifetime covers its definition (step 0 for graph inputs) and every read
//! (the last step for graph outputs). Values that share bytes form a group
//! owned by its earliest value (the root); the root's lifetime is the union
//! of its members'. A RESHAPE output always joins its input's group; the
//! output of an op declaring [`InPlace`] (see `OpDef::in_place`) joins it
//! only when no other member of the group is read after that op, none is a
//! graph output, and the root is not a graph input (the caller may still
//! want its input). A node's scratch (`InPlace::scratch_bytes` when it runs
//! in place, `OpDef::scratch_bytes` otherwise) is a buffer live at its step
//! only.

use std::collections::{BTreeMap, BTreeSet};

use super::{InPlace, PlanOptions, alloc::Item, plan_error};
use crate::error::{Error, Result};
use crate::ir::Fact;
use crate::ir::{Graph, NodeId, ValueId};

/// One planned value.
#[derive(Clone, Debug)]
pub(crate) struct Life {
    pub value: ValueId,
    pub size: usize,
    /// `size` rounded up to the alignment.
    pub padded: usize,
    pub first: usize,
    pub last: usize,
    /// Index (into `Lifetimes::values`) of the group's root.
    pub root: usize,
}

/// A node's scratch buffer, live at its step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScratchLife {
    pub node: NodeId,
    pub step: usize,
    pub size: usize,
    pub padded: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct Lifetimes {
    /// Number of steps (`order.len()`, at least 1).
    pub steps: usize,
    pub align: usize,
    /// Planned values sorted by id.
    pub values: Vec<Life>,
    /// Indices of the roots in `values`, ascending; `items()` follows it.
    pub roots: Vec<usize>,
    /// Per root (parallel to `roots`): the group's lifetime.
    pub spans: Vec<(usize, usize)>,
    /// Scratch buffers in step order; `items()` lists them after the roots.
    pub scratch: Vec<ScratchLife>,
    /// The nodes that run in place, with the form they use.
    pub in_place: BTreeMap<NodeId, InPlace>,
}

/// The facts of a node's operands and results.
pub(crate) fn node_facts(g: &Graph, n: NodeId) -> (Vec<&Fact>, Vec<&Fact>) {
    let node = g.node(n);
    (
        node.inputs.iter().map(|&v| g.fact(v)).collect(),
        node.outputs.iter().map(|&v| g.fact(v)).collect(),
    )
}

/// Bytes of a value, or `None` on overflow.
pub(crate) fn value_bytes(g: &Graph, v: ValueId) -> Option<usize> {
    let f = g.fact(v);
    f.shape
        .iter()
        .try_fold(f.dtype.size(), |acc, &d| acc.checked_mul(d))
}

/// `n` rounded up to a multiple of `align` (a power of two).
pub(crate) fn round_up(n: usize, align: usize) -> Option<usize> {
    Some(n.checked_add(align - 1)? & !(align - 1))
}

/// Checks that `order` is a topological order of all of `g`'s nodes over
/// well-formed operands. Returns the step of each node.
pub(crate) fn check_order(g: &Graph, order: &[NodeId]) -> Result<BTreeMap<NodeId, usize>> {
    let mut errors = Vec::new();
    let all: BTreeSet<NodeId> = g.node_ids().collect();
    let mut step_of = BTreeMap::new();
    for (t, &n) in order.iter().enumerate() {
        if !all.contains(&n) {
            errors.push(format!(
                "order step {t}: node {} is not in the graph",
                n.index()
            ));
        } else if step_of.insert(n, t).is_some() {
            errors.push(format!(
                "order step {t}: node `{}` runs twice",
                g.node(n).name
            ));
        }
    }
    for &n in &all {
        if !step_of.contains_key(&n) {
            errors.push(format!(
                "node `{}` is missing from the order",
                g.node(n).name
            ));
        }
    }
    let count = g.value_count();
    for &v in g.inputs.iter().chain(&g.outputs) {
        if v.index() >= count {
            errors.push(format!("graph input/output {v} does not exist"));
        }
    }
    let mut producer: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (&n, &t) in &step_of {
        let node = g.node(n);
        for &v in node.inputs.iter().chain(&node.outputs) {
            if v.index() >= count {
                errors.push(format!("node `{}` uses unknown value {v}", node.name));
            }
        }
        for &v in &node.outputs {
            if v.index() < count && producer.insert(v, t).is_some() {
                errors.push(format!("value {v} is produced twice"));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Verify {
            stage: "plan".into(),
            errors,
        });
    }
    let inputs: BTreeSet<ValueId> = g.inputs.iter().copied().collect();
    for (t, &n) in order.iter().enumerate() {
        let node = g.node(n);
        for &v in &node.inputs {
            let val = g.value(v);
            if val.is_const() {
                continue;
            }
            match producer.get(&v) {
                Some(&p) if p >= t => errors.push(format!(
                    "node `{}` (step {t}) reads `{}` before step {p} writes it",
                    node.name, val.name
                )),
                Some(_) => {}
                None if inputs.contains(&v) => {}
                None => errors.push(format!(
                    "node `{}` reads `{}`, which nothing produces",
                    node.name, val.name
                )),
            }
        }
        for &v in &node.outputs {
            if g.value(v).is_const() {
                errors.push(format!(
                    "node `{}` writes constant `{}`",
                    node.name,
                    g.value(v).name
                ));
            }
            if inputs.contains(&v) {
                errors.push(format!(
                    "node `{}` writes graph input `{}`",
                    node.name,
                    g.value(v).name
                ));
            }
        }
    }
    for &v in &g.outputs {
        if !g.value(v).is_const() && !producer.contains_key(&v) && !inputs.contains(&v) {
            errors.push(format!(
                "graph output `{}` is not produced by any node",
                g.value(v).name
            ));
        }
    }
    if errors.is_empty() {
        Ok(step_of)
    } else {
        Err(Error::Verify {
            stage: "plan".into(),
            errors,
        })
    }
}

impl Lifetimes {
    pub fn new(g: &Graph, order: &[NodeId], opts: &PlanOptions) -> Result<Lifetimes> {
        Self::with_denied(g, order, opts, &BTreeSet::new())
    }

    /// As [`Lifetimes::new`], but the nodes in `denied` never run in place.
    pub fn with_denied(
        g: &Graph,
        order: &[NodeId],
        opts: &PlanOptions,
        denied: &BTreeSet<NodeId>,
    ) -> Result<Lifetimes> {
        opts.check()?;
        check_order(g, order)?;
        let steps = order.len().max(1);
        let inputs: BTreeSet<ValueId> = g.inputs.iter().copied().collect();
        let outputs: BTreeSet<ValueId> = g.outputs.iter().copied().collect();

        // The planned values, with their definition step.
        let mut def: BTreeMap<ValueId, usize> = BTreeMap::new();
        for &v in &g.inputs {
            if !g.value(v).is_const() && !opts.external.contains(&v) {
                def.insert(v, 0);
            }
        }
        for (t, &n) in order.iter().enumerate() {
            for &v in &g.node(n).outputs {
                def.insert(v, t);
            }
        }
        // Graph outputs that are inputs are in already; const outputs are not planned.
        let mut align = opts.align;
        let mut values = Vec::with_capacity(def.len());
        let mut index: BTreeMap<ValueId, usize> = BTreeMap::new();
        for (&v, &first) in &def {
            let val = g.value(v);
            let size = value_bytes(g, v)
                .ok_or_else(|| Error::tensor(&val.name, "byte size overflows the host's usize"))?;
            align = align.max(val.fact.dtype.size());
            let last = if outputs.contains(&v) {
                steps - 1
            } else {
                first
            };
            index.insert(v, values.len());
            let first = if opts.live_from_start.contains(&v) {
                0
            } else {
                first
            };
            values.push(Life {
                value: v,
                size,
                padded: 0,
                first,
                last,
                root: values.len(),
            });
        }
        for l in &mut values {
            l.padded = round_up(l.size, align).ok_or_else(|| {
                Error::tensor(
                    &g.value(l.value).name,
                    "byte size overflows the host's usize",
                )
            })?;
        }
        for (t, &n) in order.iter().enumerate() {
            for v in &g.node(n).inputs {
                if let Some(&i) = index.get(v) {
                    values[i].last = values[i].last.max(t);
                }
            }
        }

        // Alias groups and scratch, in execution order (in-place depends on it).
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut scratch = Vec::new();
        let mut in_place_nodes = BTreeMap::new();
        for (t, &n) in order.iter().enumerate() {
            let node = g.node(n);
            let def = node.op.def();
            let (in_facts, out_facts) = node_facts(g, n);
            let mut scratch_bytes = def.scratch_bytes(&in_facts, &out_facts);
            let forms = if def.is_alias() {
                vec![InPlace::elementwise(0)]
            } else if opts.in_place && !denied.contains(&n) && !opts.no_in_place.contains(&n) {
                def.in_place(&in_facts, &out_facts)
            } else {
                Vec::new()
            };
            for form in forms {
                let InPlace { input, output, .. } = form;
                let (Some(x), Some(y)) = (node.inputs.get(input), node.outputs.get(output)) else {
                    continue;
                };
                let (Some(&xi), Some(&yi)) = (index.get(x), index.get(y)) else {
                    continue; // a constant input: the output gets its own bytes
                };
                if values[yi].root != yi {
                    continue; // already grouped (an output listed twice)
                }
                let root = values[xi].root;
                if def.is_alias() {
                    if node.outputs.len() != 1 || values[yi].size != values[xi].size {
                        continue;
                    }
                } else {
                    let group = members.get(&root).map_or(&[][..], |m| m.as_slice());
                    let ok = values[yi].size <= values[xi].size
                        && !inputs.contains(&values[root].value)
                        && node.inputs.iter().filter(|&&v| v == *x).count() == 1
                        && std::iter::once(&root).chain(group).all(|&m| {
                            let l = &values[m];
                            !outputs.contains(&l.value) && (l.last < t || (m == xi && l.last == t))
                        });
                    if !ok {
                        continue;
                    }
                    scratch_bytes = form.scratch_bytes;
                    in_place_nodes.insert(n, form);
                }
                values[yi].root = root;
                members.entry(root).or_default().push(yi);
                break;
            }
            if scratch_bytes > 0 {
                let padded = round_up(scratch_bytes, align).ok_or_else(|| {
                    Error::node(&node.name, node.op.name(), "scratch size overflows")
                })?;
                scratch.push(ScratchLife {
                    node: n,
                    step: t,
                    size: scratch_bytes,
                    padded,
                });
            }
        }

        let roots: Vec<usize> = (0..values.len()).filter(|&i| values[i].root == i).collect();
        let spans = roots
            .iter()
            .map(|&r| {
                let last = members
                    .get(&r)
                    .into_iter()
                    .flatten()
                    .map(|&m| values[m].last)
                    .fold(values[r].last, usize::max);
                (values[r].first, last)
            })
            .collect();
        // Offsets are sums of padded sizes: make sure those cannot overflow.
        values
            .iter()
            .map(|l| l.padded)
            .chain(scratch.iter().map(|s| s.padded))
            .try_fold(0usize, |acc, p| acc.checked_add(p))
            .ok_or_else(|| plan_error("total buffer bytes overflow the host's usize"))?;
        Ok(Lifetimes {
            steps,
            align,
            values,
            roots,
            spans,
            scratch,
            in_place: in_place_nodes,
        })
    }

    /// The placement problem: one item per root, then one per scratch
    /// buffer, sizes rounded up.
    pub fn items(&self) -> Vec<Item> {
        self.roots
            .iter()
            .zip(&self.spans)
            .map(|(&r, &(first, last))| Item {
                size: self.values[r].padded,
                first,
                last,
            })
            .chain(self.scratch.iter().map(|s| Item {
                size: s.padded,
                first: s.step,
                last: s.step,
            }))
            .collect()
    }

    /// Whether in-place node `n` writes an output smaller (rounded up) than
    /// the bytes it takes over, which then stay reserved until the output
    /// dies: the only case where running in place can raise a later peak.
    pub fn shrinks(&self, g: &Graph, n: NodeId) -> bool {
        let Some(form) = self.in_place.get(&n) else {
            return false;
        };
        let node = g.node(n);
        let find = |v: Option<&ValueId>| {
            v.and_then(|v| self.values.binary_search_by_key(v, |l| l.value).ok())
        };
        match (
            find(node.inputs.get(form.input)),
            find(node.outputs.get(form.output)),
        ) {
            (Some(x), Some(y)) => self.values[y].padded < self.values[self.values[x].root].padded,
            _ => false,
        }
    }

    /// Buffers from per-item offsets and regions (parallel to `items()`).
    pub fn buffers(&self, offsets: &[usize], regions: &[usize]) -> Vec<super::Buffer> {
        let root_pos: BTreeMap<usize, usize> = self
            .roots
            .iter()
            .enumerate()
            .map(|(p, &r)| (r, p))
            .collect();
        self.values
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let p = root_pos.get(&l.root).copied().unwrap_or(0);
                let offset = offsets.get(p).copied().unwrap_or(0);
                let region = regions.get(p).copied().unwrap_or(0);
                let (first, last) = if l.root == i {
                    self.spans.get(p).copied().unwrap_or((l.first, l.last))
                } else {
                    (l.first, l.last)
                };
                super::Buffer {
                    value: l.value,
                    size: l.size,
                    offset,
                    align: self.align,
                    first,
                    last,
                    alias_of: (l.root != i).then(|| self.values[l.root].value),
                    region,
                }
            })
            .collect()
    }

    /// Scratch buffers from per-item offsets and regions (parallel to
    /// `items()`).
    pub fn scratch_buffers(&self, offsets: &[usize], regions: &[usize]) -> Vec<super::Scratch> {
        let base = self.roots.len();
        self.scratch
            .iter()
            .enumerate()
            .map(|(k, s)| super::Scratch {
                node: s.node,
                step: s.step,
                size: s.size,
                offset: offsets.get(base + k).copied().unwrap_or(0),
                align: self.align,
                region: regions.get(base + k).copied().unwrap_or(0),
            })
            .collect()
    }
}
