//! Which values are planned, their sizes, alias groups and lifetimes for one
//! execution order.
//!
//! Invariant established: every non-constant value read or written by a node,
//! and every graph input and output, is planned exactly once; a value's
//! lifetime covers its definition (step 0 for graph inputs) and every read
//! (the last step for graph outputs). Values that share bytes form a group
//! owned by its earliest value (the root); the root's lifetime is the union
//! of its members'. A RESHAPE output always joins its input's group; the
//! output of an op declaring [`InPlace`] joins it only when no other member
//! of the group is read after that op, none is a graph output, and the root
//! is not a graph input (the caller may still want its input).

use std::collections::{BTreeMap, BTreeSet};

use super::{InPlace, PlanOptions, alloc::Item, plan_error};
use crate::error::{Error, Result};
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
        opts.check()?;
        check_order(g, order)?;
        let steps = order.len().max(1);
        let inputs: BTreeSet<ValueId> = g.inputs.iter().copied().collect();
        let outputs: BTreeSet<ValueId> = g.outputs.iter().copied().collect();

        // The planned values, with their definition step.
        let mut def: BTreeMap<ValueId, usize> = BTreeMap::new();
        for &v in &g.inputs {
            if !g.value(v).is_const() {
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

        // Alias groups, in execution order (in-place depends on it).
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (t, &n) in order.iter().enumerate() {
            let node = g.node(n);
            let pair = if node.op.def().is_alias() {
                Some((0, 0, false))
            } else {
                opts.in_place
                    .get(node.op.name())
                    .map(|&InPlace { input, output }| (input, output, true))
            };
            let Some((i, o, in_place)) = pair else {
                continue;
            };
            if node.outputs.len() != 1 && !in_place {
                continue;
            }
            let (Some(x), Some(y)) = (node.inputs.get(i), node.outputs.get(o)) else {
                continue;
            };
            let (Some(&xi), Some(&yi)) = (index.get(x), index.get(y)) else {
                continue; // a constant input: the output gets its own bytes
            };
            let root = values[xi].root;
            if in_place {
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
            } else if values[yi].size != values[xi].size {
                continue;
            }
            values[yi].root = root;
            members.entry(root).or_default().push(yi);
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
            .try_fold(0usize, |acc, l| acc.checked_add(l.padded))
            .ok_or_else(|| plan_error("total buffer bytes overflow the host's usize"))?;
        Ok(Lifetimes {
            steps,
            align,
            values,
            roots,
            spans,
        })
    }

    /// The placement problem: one item per root, sizes rounded up.
    pub fn items(&self) -> Vec<Item> {
        self.roots
            .iter()
            .zip(&self.spans)
            .map(|(&r, &(first, last))| Item {
                size: self.values[r].padded,
                first,
                last,
            })
            .collect()
    }

    /// Buffers from per-root offsets (parallel to `roots`).
    pub fn buffers(&self, offsets: &[usize]) -> Vec<super::Buffer> {
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
                }
            })
            .collect()
    }
}
