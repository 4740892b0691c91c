//! The patch-plan checker; the only constructor of [`VerifiedPatchPlan`],
//! which code generation requires.
//!
//! Checks:
//! 1. the patches tile the stage output exactly (disjoint, complete);
//! 2. for every patch and stage op, each input window covers the receptive
//!    field of the op's output window (halos are complete);
//! 3. the planning graph gives every stage intermediate a fact that holds
//!    each of its windows, and the stage ops that run in place over a
//!    window never write more than the window they read;
//! 4. the memory plan runs the stage first, then the rest, keeps the stage
//!    input out of the arena and the stage output from the first step, and
//!    passes the memory-plan verifier ([`crate::plan::verify`]) on the
//!    planning graph: no two live buffers share bytes, alignment, scratch.

use std::collections::BTreeMap;

use super::PatchPlan;
use super::geometry;
use super::stage::{self, hwc};
use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::plan::{self, VerifiedPlan};

/// A patch plan that passed [`verify`], with its verified memory plan.
#[derive(Clone, Debug)]
pub struct VerifiedPatchPlan {
    plan: PatchPlan,
    memory: VerifiedPlan,
}

impl VerifiedPatchPlan {
    /// The memory plan (of [`PatchPlan::planning_graph`]).
    pub fn memory(&self) -> &VerifiedPlan {
        &self.memory
    }
}

impl std::ops::Deref for VerifiedPatchPlan {
    type Target = PatchPlan;
    fn deref(&self) -> &PatchPlan {
        &self.plan
    }
}

/// Checks `plan` against `g`.
pub fn verify(g: &Graph, plan: PatchPlan) -> Result<VerifiedPatchPlan> {
    let mut errors = collect(g, &plan);
    let memory = plan::verify(
        &plan.planning_graph,
        plan.memory.clone(),
        &plan.planner.verify_options(None),
    );
    match memory {
        Ok(memory) if errors.is_empty() => Ok(VerifiedPatchPlan { plan, memory }),
        Ok(_) => Err(Error::Verify {
            stage: "patch plan".into(),
            errors,
        }),
        Err(Error::Verify { errors: e, .. }) => {
            errors.extend(e.into_iter().map(|e| format!("memory plan: {e}")));
            Err(Error::Verify {
                stage: "patch plan".into(),
                errors,
            })
        }
        Err(e) => Err(e),
    }
}

/// Every violation of checks 1-4 except the memory-plan verifier's own.
pub fn collect(g: &Graph, p: &PatchPlan) -> Vec<String> {
    let mut e = Vec::new();
    let st = &p.stage;
    // 1. Tiling.
    if let Some((h, w, _)) = hwc(g, st.output) {
        let mut covered = vec![0u8; h * w];
        for patch in &p.patches {
            for y in patch.y0..patch.y1.min(h) {
                for x in patch.x0..patch.x1.min(w) {
                    covered[y * w + x] = covered[y * w + x].saturating_add(1);
                }
            }
        }
        if covered.iter().any(|&c| c != 1) {
            e.push("the patches do not tile the stage output exactly once".into());
        }
    } else {
        e.push("the stage output is not a [1,H,W,C] tensor".into());
    }
    if p.windows.len() != p.patches.len() {
        e.push("one window table per patch expected".into());
    }
    // 2. Halos cover receptive fields.
    for (k, win) in p.windows.iter().enumerate() {
        if win.get(&st.output) != p.patches.get(k) {
            e.push(format!(
                "patch {k}: the stage output window is not the patch"
            ));
        }
        for &n in &st.nodes {
            let node = g.node(n);
            let Some(out) = win.get(&node.outputs[0]) else {
                e.push(format!("patch {k}: `{}` has no output window", node.name));
                continue;
            };
            let need = match stage::axes(g, n) {
                Some((ay, ax)) => geometry::needs(ay, ax, out),
                None => *out,
            };
            for &v in stage::activation_inputs(g, n) {
                let have = win.get(&v).copied().unwrap_or_default();
                if !have.contains(&need) {
                    e.push(format!(
                        "patch {k}: `{}` needs {need:?} of `{}`, the window is {have:?}",
                        node.name,
                        g.value(v).name
                    ));
                }
            }
            // 3. In place over a window: never more than it read.
            if p.memory.in_place.contains_key(&n) {
                let x = node.inputs[0];
                let read = win.get(&x).map_or(0, |w| w.area());
                if x == st.input || node.outputs[0] == st.output || out.area() > read {
                    e.push(format!(
                        "patch {k}: `{}` runs in place but writes {} positions over a window of {read}",
                        node.name,
                        out.area()
                    ));
                }
            }
        }
    }
    // 3. Planning facts hold every window.
    let pg = &p.planning_graph;
    if pg.value_count() != g.value_count() {
        e.push("the planning graph is not the graph's".into());
        return e;
    }
    for &v in &st.intermediates {
        let shape = &pg.fact(v).shape;
        let ok = match (&shape[..], hwc(g, v)) {
            (&[1, h, w, c], Some((_, _, gc))) => {
                c == gc
                    && p.windows.iter().all(|win| {
                        win.get(&v)
                            .is_none_or(|x| x.h() <= h && x.w() <= w && x.area() <= h * w)
                    })
            }
            _ => false,
        };
        if !ok {
            e.push(format!(
                "`{}`: planning shape {shape:?} does not hold its windows",
                g.value(v).name
            ));
        }
    }
    // 4. Order and the stage overlay.
    let expected: Vec<_> = st.nodes.iter().chain(&p.rest).copied().collect();
    if p.memory.order != expected {
        e.push("the memory plan's order is not the stage followed by the rest".into());
    }
    if p.memory.buffer(st.input).is_some() || !p.planner.external.contains(&st.input) {
        e.push(format!(
            "the stage input `{}` must be read from the caller's buffer, not planned",
            g.value(st.input).name
        ));
    }
    match p.memory.buffer(st.output) {
        Some(b) if b.first == 0 && b.size == g.fact(st.output).bytes() => {}
        _ => e.push(format!(
            "the stage output `{}` must be a whole tensor reserved from the first step",
            g.value(st.output).name
        )),
    }
    let facts: BTreeMap<_, _> = g
        .values()
        .filter(|(v, _)| !st.intermediates.contains(v))
        .map(|(v, val)| (v, &val.fact))
        .collect();
    for (v, f) in facts {
        if pg.fact(v) != f {
            e.push(format!(
                "the planning graph changes `{}`, which is not a stage intermediate",
                g.value(v).name
            ));
        }
    }
    e
}
