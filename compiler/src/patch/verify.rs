//! The patch-plan checker; the only constructor of [`VerifiedPatchPlan`],
//! which code generation requires.
//!
//! Checks:
//! 1. the patches tile the stage output exactly (disjoint, complete);
//! 2. for every patch and stage op, each input window covers the receptive
//!    field of the op's output window (halos are complete);
//! 3. every buffer holds its largest window (intermediates) or its whole
//!    tensor (stage output and the rest);
//! 4. no two buffers live at the same step share bytes (aliases excepted),
//!    and every offset is aligned;
//! 5. the arena holds every buffer.

use super::PatchPlan;
use super::geometry;
use super::search::layout;
use super::stage::{self, hwc};
use crate::error::{Error, Result};
use crate::ir::Graph;

/// A patch plan that passed [`verify`].
#[derive(Clone, Debug)]
pub struct VerifiedPatchPlan {
    plan: PatchPlan,
}

impl std::ops::Deref for VerifiedPatchPlan {
    type Target = PatchPlan;
    fn deref(&self) -> &PatchPlan {
        &self.plan
    }
}

/// Checks `plan` against `g` with buffer alignment `align`.
pub fn verify(g: &Graph, plan: PatchPlan, align: usize) -> Result<VerifiedPatchPlan> {
    let errors = collect(g, &plan, align);
    if errors.is_empty() {
        Ok(VerifiedPatchPlan { plan })
    } else {
        Err(Error::Verify {
            stage: "patch plan".into(),
            errors,
        })
    }
}

/// Every violation.
pub fn collect(g: &Graph, p: &PatchPlan, align: usize) -> Vec<String> {
    let mut e = Vec::new();
    let st = &p.stage;
    // 1. Tiling.
    if let Some((h, w, _)) = hwc(g, st.output) {
        let mut covered = vec![0u8; h * w];
        for patch in &p.patches {
            for y in patch.y0..patch.y1.min(h) {
                for x in patch.x0..patch.x1.min(w) {
                    covered[y * w + x] += 1;
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
        }
    }
    // 3.-5. Buffers.
    let lay = layout(g, &stage::readers(g), st, &p.rest, &p.windows, align);
    let slots: Vec<_> = lay.values.iter().map(|v| p.buffers.get(v)).collect();
    for ((v, item), slot) in lay.values.iter().zip(&lay.items).zip(&slots) {
        let name = &g.value(*v).name;
        let Some(slot) = slot else {
            e.push(format!("`{name}` has no buffer"));
            continue;
        };
        if slot.size < item.size {
            e.push(format!(
                "`{name}`: buffer of {} B, needs {} B",
                slot.size, item.size
            ));
        }
        if align > 0 && slot.offset % align != 0 {
            e.push(format!(
                "`{name}`: offset {} not aligned to {align}",
                slot.offset
            ));
        }
        if slot.offset + slot.size > p.arena_bytes {
            e.push(format!(
                "`{name}` ends at {} beyond the arena ({} B)",
                slot.offset + slot.size,
                p.arena_bytes
            ));
        }
    }
    for i in 0..lay.items.len() {
        for j in i + 1..lay.items.len() {
            let (a, b) = (&lay.items[i], &lay.items[j]);
            let (Some(sa), Some(sb)) = (slots[i], slots[j]) else {
                continue;
            };
            if a.conflicts(b) && sa.offset < sb.offset + sb.size && sb.offset < sa.offset + sa.size
            {
                e.push(format!(
                    "`{}` and `{}` are live together and overlap",
                    g.value(lay.values[i]).name,
                    g.value(lay.values[j]).name
                ));
            }
        }
    }
    e
}
