//! The plan checker: the only constructor of a [`VerifiedPlan`], which the
//! code generator requires (naga's `ModuleInfo` pattern). It trusts nothing
//! the planner computed and collects every violation.
//!
//! Invariants checked:
//! 1. `order` runs every node exactly once, after the producers of its inputs.
//! 2. Buffers are sorted by value id, one per value; every non-constant value
//!    read or written by a node, every graph input and output has one;
//!    constants and unused values have none; each buffer's `size` is its
//!    value's byte size.
//! 3. Alignment: each buffer's `align` is a power of two, at least the plan's
//!    alignment and the element size, and divides its offset.
//! 4. Lifetimes cover the uses: `first` is at most the defining step (0 for
//!    graph inputs), `last` at least every reading step, and the last step
//!    for graph outputs.
//! 5. Aliases: `alias_of` names a buffer that is not an alias, with the same
//!    offset and region, at least the alias's size, and a lifetime covering
//!    it; the alias is produced by a RESHAPE of a group member or by a node
//!    listed in `in_place` with a form its op declares (`OpDef::in_place`,
//!    when the options allow in-place). An in-place write happens only when
//!    no other member of the group is read later or returned, and every
//!    `in_place` entry's output does alias that input.
//! 6. No two non-alias buffers live at a common step in the same region
//!    share a byte; no node's output shares a byte with one of its inputs,
//!    except as in 5.
//! 7. Scratch: each node has exactly the scratch its kernel needs (the
//!    in-place form's, else `OpDef::scratch_bytes`), at its own step,
//!    aligned, sharing no byte with any buffer live at that step in its
//!    region.
//! 8. Regions: one [`super::RegionPlan`] per region, every buffer's region
//!    exists, graph inputs and outputs live in region 0; every buffer and
//!    scratch (rounded up) lies within its region's arena, and
//!    `arena_bytes` is their sum, within the optional capacity;
//!    `live_bytes` and `lower_bound_bytes` match a recomputation, and
//!    `arena_bytes >= lower_bound_bytes >= any_order_lower_bound_bytes`.
//!
//! A plan that breaks only the capacity is reported as
//! [`Error::DoesNotFit`]; anything else as [`Error::Verify`] with every
//! violation.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use super::live::{check_order, node_facts, round_up, value_bytes};
use super::{MemoryPlan, alloc::Item, bound};
use crate::error::{Error, Result};
use crate::ir::{Graph, ValueId};

/// What the verifier checks against besides the graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Arena bytes available on the target (all regions), if limited.
    pub capacity: Option<usize>,
    /// Whether ops may run in place (as in [`super::PlanOptions::in_place`]).
    pub in_place: bool,
    /// Values read from the caller's buffer, not planned (as in
    /// [`super::PlanOptions::external`]).
    pub external: BTreeSet<ValueId>,
}

/// A plan that passed [`verify`]. Its fields are private so that holding one
/// proves the check ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPlan {
    plan: MemoryPlan,
}

impl VerifiedPlan {
    pub fn plan(&self) -> &MemoryPlan {
        &self.plan
    }

    pub fn into_plan(self) -> MemoryPlan {
        self.plan
    }
}

impl Deref for VerifiedPlan {
    type Target = MemoryPlan;
    fn deref(&self) -> &MemoryPlan {
        &self.plan
    }
}

/// Checks `plan` against `g`.
pub fn verify(g: &Graph, plan: MemoryPlan, opts: &VerifyOptions) -> Result<VerifiedPlan> {
    let errors = collect(g, &plan, opts);
    if !errors.is_empty() {
        return Err(Error::Verify {
            stage: "plan".into(),
            errors,
        });
    }
    if let Some(cap) = opts.capacity
        && plan.arena_bytes > cap
    {
        return Err(Error::DoesNotFit {
            message: format!(
                "activation arena of {} bytes exceeds the {} bytes available (lower bound {} bytes)",
                plan.arena_bytes, cap, plan.lower_bound_bytes
            ),
        });
    }
    Ok(VerifiedPlan { plan })
}

/// Every violation except the capacity (see [`verify`]).
pub fn collect(g: &Graph, plan: &MemoryPlan, opts: &VerifyOptions) -> Vec<String> {
    let mut errors = Vec::new();
    let step_of = match check_order(g, &plan.order) {
        Ok(s) => s,
        Err(Error::Verify { errors: e, .. }) => return e,
        Err(e) => return vec![e.to_string()],
    };
    let steps = plan.order.len().max(1);
    let name = |v: ValueId| format!("{v} `{}`", g.value(v).name);

    // 2. One buffer per planned value.
    let mut by_value: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (i, b) in plan.buffers.iter().enumerate() {
        if b.value.index() >= g.value_count() {
            errors.push(format!("buffer {i} is for unknown value {}", b.value));
            continue;
        }
        if i > 0 && plan.buffers[i - 1].value >= b.value {
            errors.push(format!(
                "buffers are not sorted by value id at {}",
                name(b.value)
            ));
        }
        if by_value.insert(b.value, i).is_some() {
            errors.push(format!("value {} has two buffers", name(b.value)));
        }
    }
    let mut planned: BTreeSet<ValueId> = BTreeSet::new();
    for &n in &plan.order {
        let node = g.node(n);
        for &v in node.inputs.iter().chain(&node.outputs) {
            if !g.value(v).is_const() && !opts.external.contains(&v) {
                planned.insert(v);
                if !by_value.contains_key(&v) {
                    errors.push(format!(
                        "node `{}` uses {}, which has no buffer",
                        node.name,
                        name(v)
                    ));
                }
            }
        }
    }
    for &v in g.inputs.iter().chain(&g.outputs) {
        if !g.value(v).is_const() && !opts.external.contains(&v) {
            planned.insert(v);
            if !by_value.contains_key(&v) {
                errors.push(format!("graph input/output {} has no buffer", name(v)));
            }
        }
    }
    for &v in by_value.keys() {
        if g.value(v).is_const() {
            errors.push(format!(
                "constant {} has a buffer (constants stay in flash)",
                name(v)
            ));
        } else if !planned.contains(&v) {
            errors.push(format!(
                "{} has a buffer but the graph does not use it",
                name(v)
            ));
        }
    }

    // Actual definition and last use of every value.
    let mut def: BTreeMap<ValueId, usize> = g.inputs.iter().map(|&v| (v, 0)).collect();
    let mut last_use: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (t, &n) in plan.order.iter().enumerate() {
        let node = g.node(n);
        for &v in &node.outputs {
            def.insert(v, t);
        }
        for &v in &node.inputs {
            last_use.insert(v, t);
        }
    }
    let outputs: BTreeSet<ValueId> = g.outputs.iter().copied().collect();

    if !plan.align.is_power_of_two() {
        errors.push(format!(
            "plan alignment {} is not a power of two",
            plan.align
        ));
    }
    for b in &plan.buffers {
        if b.value.index() >= g.value_count() {
            continue;
        }
        let who = format!("buffer {}", name(b.value));
        // 2. Size.
        match value_bytes(g, b.value) {
            Some(s) if s == b.size => {}
            Some(s) => errors.push(format!(
                "{who}: size {} but the value has {s} bytes",
                b.size
            )),
            None => errors.push(format!("{who}: the value's byte size overflows")),
        }
        // 3. Alignment.
        let elem = g.fact(b.value).dtype.size();
        if !b.align.is_power_of_two() || b.align < plan.align || b.align < elem {
            errors.push(format!(
                "{who}: alignment {} (plan {}, element {elem} bytes)",
                b.align, plan.align
            ));
        } else if b.offset % b.align != 0 {
            errors.push(format!(
                "{who}: offset {} is not a multiple of {}",
                b.offset, b.align
            ));
        }
        // 4. Lifetime.
        if b.first > b.last || b.last >= steps {
            errors.push(format!(
                "{who}: lifetime {}..={} outside the {steps} steps",
                b.first, b.last
            ));
        }
        if let Some(&d) = def.get(&b.value)
            && b.first > d
        {
            errors.push(format!(
                "{who}: lifetime starts at step {} but the value is written at step {d}",
                b.first
            ));
        }
        if let Some(&u) = last_use.get(&b.value)
            && b.last < u
        {
            errors.push(format!(
                "{who}: lifetime ends at step {} but step {u} reads the value",
                b.last
            ));
        }
        if outputs.contains(&b.value) && b.last != steps - 1 {
            errors.push(format!(
                "{who}: graph output must live until the last step {}, ends at {}",
                steps - 1,
                b.last
            ));
        }
        // 8. Inside its region's arena.
        match plan.regions.get(b.region) {
            None => errors.push(format!("{who}: region {} does not exist", b.region)),
            Some(r) => {
                match round_up(b.size, plan.align.max(1)).and_then(|s| b.offset.checked_add(s)) {
                    Some(end) if end <= r.arena_bytes => {}
                    _ => errors.push(format!(
                        "{who}: bytes {}..{} (rounded up) exceed the {} arena of {}",
                        b.offset,
                        b.end(),
                        r.name,
                        r.arena_bytes
                    )),
                }
            }
        }
        if b.region != 0 && (g.inputs.contains(&b.value) || outputs.contains(&b.value)) {
            errors.push(format!(
                "{who}: graph inputs and outputs must live in region 0, not {}",
                b.region
            ));
        }
    }
    let region_sum: usize = plan.regions.iter().map(|r| r.arena_bytes).sum();
    if plan.regions.is_empty() {
        errors.push("the plan has no region".into());
    } else if region_sum != plan.arena_bytes {
        errors.push(format!(
            "arena_bytes {} is not the sum {region_sum} of the region arenas",
            plan.arena_bytes
        ));
    }

    // 5. Aliases.
    let owner = |v: ValueId| -> Option<ValueId> {
        let b = &plan.buffers[*by_value.get(&v)?];
        Some(b.alias_of.unwrap_or(b.value))
    };
    for b in &plan.buffers {
        let Some(r) = b.alias_of else { continue };
        let who = format!("buffer {}", name(b.value));
        let Some(rb) = by_value.get(&r).map(|&i| &plan.buffers[i]) else {
            errors.push(format!("{who}: aliases {r}, which has no buffer"));
            continue;
        };
        if rb.alias_of.is_some() {
            errors.push(format!("{who}: aliases {}, itself an alias", name(r)));
        }
        if rb.offset != b.offset
            || rb.region != b.region
            || rb.size < b.size
            || rb.first > b.first
            || rb.last < b.last
        {
            errors.push(format!(
                "{who}: bytes {}+{} steps {}..={} not within its alias target {} (bytes {}+{} steps {}..={})",
                b.offset,
                b.size,
                b.first,
                b.last,
                name(r),
                rb.offset,
                rb.size,
                rb.first,
                rb.last
            ));
        }
        let producer = plan
            .order
            .iter()
            .copied()
            .find(|&n| g.node(n).outputs.contains(&b.value));
        let Some(n) = producer else {
            errors.push(format!("{who}: an alias must be produced by a node"));
            continue;
        };
        let node = g.node(n);
        let o = node.outputs.iter().position(|&v| v == b.value);
        let ok_reshape = node.op.def().is_alias()
            && o == Some(0)
            && node.inputs.first().is_some_and(|&x| owner(x) == Some(r));
        let in_place = plan
            .in_place
            .get(&n)
            .filter(|ip| Some(ip.output) == o)
            .and_then(|ip| node.inputs.get(ip.input).copied())
            .filter(|&x| owner(x) == Some(r));
        if !ok_reshape && in_place.is_none() {
            errors.push(format!(
                "{who}: aliases {} but `{}` ({}) is not a RESHAPE of it and does not run in place",
                name(r),
                node.name,
                node.op.name()
            ));
        }
        if let (false, Some(x)) = (ok_reshape, in_place) {
            let t = step_of.get(&n).copied().unwrap_or(0);
            // Every other value in the group, written before t, is dead after t.
            let group: Vec<ValueId> = std::iter::once(r)
                .chain(
                    plan.buffers
                        .iter()
                        .filter(|c| c.alias_of == Some(r))
                        .map(|c| c.value),
                )
                .collect();
            for m in group {
                if m == b.value || def.get(&m).is_none_or(|&d| d >= t) {
                    continue;
                }
                let read_after = last_use
                    .get(&m)
                    .is_some_and(|&u| u > t || (u == t && m != x));
                if read_after || outputs.contains(&m) {
                    errors.push(format!(
                        "{who}: `{}` writes it in place over {}, but {} is still needed",
                        node.name,
                        name(x),
                        name(m)
                    ));
                }
            }
            if node.inputs.iter().filter(|&&v| v == x).count() != 1 {
                errors.push(format!(
                    "{who}: `{}` reads {} more than once but writes over it",
                    node.name,
                    name(x)
                ));
            }
        }
    }

    // 5. Every in-place entry is a declared form whose output aliases that input.
    for (&n, form) in &plan.in_place {
        let Some(&t) = step_of.get(&n) else {
            errors.push(format!(
                "in-place entry for node {} not in the order",
                n.index()
            ));
            continue;
        };
        let node = g.node(n);
        let (ins, outs) = node_facts(g, n);
        if !opts.in_place {
            errors.push(format!(
                "node `{}` runs in place, but in-place execution is off",
                node.name
            ));
        } else if !node.op.def().in_place(&ins, &outs).contains(form) {
            errors.push(format!(
                "node `{}` ({}) runs in place as {form:?}, which its kernel does not offer",
                node.name,
                node.op.name()
            ));
        }
        let (Some(&x), Some(&y)) = (node.inputs.get(form.input), node.outputs.get(form.output))
        else {
            continue;
        };
        let aliased = by_value
            .get(&y)
            .is_some_and(|&i| plan.buffers[i].alias_of.is_some() && owner(y) == owner(x));
        if !aliased {
            errors.push(format!(
                "node `{}` (step {t}) runs in place, but its output {} does not share {}'s bytes",
                node.name,
                name(y),
                name(x)
            ));
        }
    }

    // 6. No overlap between owners live at a common step in one region.
    let mut owners: Vec<&super::Buffer> = plan
        .buffers
        .iter()
        .filter(|b| b.alias_of.is_none() && b.size > 0)
        .collect();
    owners.sort_by_key(|b| (b.region, b.offset, b.value));
    for (i, a) in owners.iter().enumerate() {
        for b in &owners[i + 1..] {
            if b.region != a.region || b.offset >= a.end() {
                break;
            }
            if a.first <= b.last && b.first <= a.last {
                errors.push(format!(
                    "buffers {} (bytes {}..{}, steps {}..={}) and {} (bytes {}..{}, steps {}..={}) overlap",
                    name(a.value),
                    a.offset,
                    a.end(),
                    a.first,
                    a.last,
                    name(b.value),
                    b.offset,
                    b.end(),
                    b.first,
                    b.last
                ));
            }
        }
    }
    for &n in &plan.order {
        let node = g.node(n);
        for (o, &y) in node.outputs.iter().enumerate() {
            let Some(yb) = by_value.get(&y).map(|&i| &plan.buffers[i]) else {
                continue;
            };
            for (i, &x) in node.inputs.iter().enumerate() {
                let Some(xb) = by_value.get(&x).map(|&i| &plan.buffers[i]) else {
                    continue;
                };
                if x == y || xb.size == 0 || yb.size == 0 || xb.region != yb.region {
                    continue;
                }
                let overlap = xb.offset < yb.end() && yb.offset < xb.end();
                let form = plan.in_place.get(&n);
                let allowed = owner(x) == owner(y)
                    && ((node.op.def().is_alias() && i == 0 && o == 0)
                        || form.is_some_and(|f| f.input == i && f.output == o));
                if overlap && !allowed {
                    errors.push(format!(
                        "node `{}` ({}): output {} overlaps input {}",
                        node.name,
                        node.op.name(),
                        name(y),
                        name(x)
                    ));
                }
            }
        }
    }

    // 7. Scratch.
    let mut scratch_of = BTreeMap::new();
    for (k, sc) in plan.scratch.iter().enumerate() {
        let Some(&t) = step_of.get(&sc.node) else {
            errors.push(format!(
                "scratch {k} is for node {}, not in the order",
                sc.node.index()
            ));
            continue;
        };
        let node = g.node(sc.node);
        let who = format!("scratch of `{}`", node.name);
        if scratch_of.insert(sc.node, k).is_some() {
            errors.push(format!("{who}: the node has two scratch buffers"));
        }
        if sc.step != t {
            errors.push(format!(
                "{who}: at step {} but the node runs at step {t}",
                sc.step
            ));
        }
        if sc.align != plan.align || !sc.align.is_power_of_two() || sc.offset % sc.align != 0 {
            errors.push(format!(
                "{who}: offset {} alignment {} (plan {})",
                sc.offset, sc.align, plan.align
            ));
        }
        let end = round_up(sc.size, plan.align.max(1)).and_then(|s| sc.offset.checked_add(s));
        match (plan.regions.get(sc.region), end) {
            (Some(r), Some(end)) if end <= r.arena_bytes => {}
            _ => errors.push(format!(
                "{who}: bytes {}..{} outside region {}'s arena",
                sc.offset,
                sc.end(),
                sc.region
            )),
        }
        for b in &owners {
            if b.region == sc.region
                && b.is_live_at(t)
                && sc.size > 0
                && b.offset < sc.end()
                && sc.offset < b.end()
            {
                errors.push(format!(
                    "{who} (bytes {}..{}) overlaps {}, live at step {t}",
                    sc.offset,
                    sc.end(),
                    name(b.value)
                ));
            }
        }
    }
    for &n in &plan.order {
        let node = g.node(n);
        let (ins, outs) = node_facts(g, n);
        let need = match plan.in_place.get(&n) {
            Some(f) => f.scratch_bytes,
            None => node.op.def().scratch_bytes(&ins, &outs),
        };
        let have = scratch_of.get(&n).map_or(0, |&k| plan.scratch[k].size);
        if need != have {
            errors.push(format!(
                "node `{}` needs {need} scratch bytes, the plan gives {have}",
                node.name
            ));
        }
    }

    // 8. Live bytes and the bound.
    if plan.align.is_power_of_two() {
        let items: Vec<Item> = plan
            .buffers
            .iter()
            .filter(|b| b.alias_of.is_none() && b.first <= b.last && b.last < steps)
            .map(|b| Item {
                size: round_up(b.size, plan.align).unwrap_or(usize::MAX),
                first: b.first,
                last: b.last,
            })
            .chain(plan.scratch.iter().map(|sc| Item {
                size: round_up(sc.size, plan.align).unwrap_or(usize::MAX),
                first: sc.step,
                last: sc.step,
            }))
            .collect();
        let live = bound::live_bytes(&items, steps);
        let lb = live.iter().copied().max().unwrap_or(0);
        if live != plan.live_bytes {
            errors.push(format!(
                "live_bytes {:?} differ from the recomputed {:?}",
                plan.live_bytes, live
            ));
        }
        if lb != plan.lower_bound_bytes {
            errors.push(format!(
                "lower_bound_bytes {} differs from the recomputed {lb}",
                plan.lower_bound_bytes
            ));
        }
        if let Some(b) = plan.any_order_lower_bound_bytes
            && (b > lb || plan.arena_bytes < b)
        {
            errors.push(format!(
                "any-order lower bound {b} exceeds this order's bound {lb} or the arena {}",
                plan.arena_bytes
            ));
        }
        if plan.arena_bytes < lb {
            errors.push(format!(
                "arena of {} bytes is below the lower bound {lb}",
                plan.arena_bytes
            ));
        }
    }
    errors
}
