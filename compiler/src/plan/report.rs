//! Serializable per-layer view of a plan, for `mcuc plan` (JSON and text).
//!
//! Invariant: the report is a pure function of the graph and the plan, in
//! execution order, so it is as deterministic as the plan.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use super::{MemoryPlan, RegionPlan};
use crate::ir::ops::shape_str;
use crate::ir::{Graph, NodeId, ValueId};

/// A buffer live at a layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveBuffer {
    pub tensor: String,
    pub offset: usize,
    pub size: usize,
    /// `in` (read by the layer), `out` (written by it), `live` (kept for a
    /// later layer) or `scratch` (the layer's temporary bytes).
    pub role: &'static str,
    /// The tensor whose bytes this one shares, if it is an alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
    /// The SRAM region, when the plan uses more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One executed layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerReport {
    /// Step in the execution order.
    pub index: usize,
    pub op: &'static str,
    pub name: String,
    /// Shape of the first output.
    pub output_shape: Vec<usize>,
    pub macs: u64,
    /// Bytes live during this layer (rounded up, aliases once, scratch
    /// included).
    pub live_bytes: usize,
    /// The input whose bytes the layer overwrites with its output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_place: Option<String>,
    /// Bytes of the layer's scratch buffer.
    #[serde(skip_serializing_if = "is_zero")]
    pub scratch_bytes: usize,
    /// Every buffer live during this layer, by offset.
    pub buffers: Vec<LiveBuffer>,
}

fn is_zero(x: &usize) -> bool {
    *x == 0
}

/// A whole plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    pub model: String,
    pub arena_bytes: usize,
    pub lower_bound_bytes: usize,
    /// No execution order can use less, when known.
    pub any_order_lower_bound_bytes: Option<usize>,
    /// `arena_bytes / lower_bound_bytes`.
    pub ratio: f64,
    pub optimal: bool,
    pub strategy: String,
    pub schedule: String,
    pub align: usize,
    /// The SRAM regions and their arenas (one unless the first is too small).
    pub regions: Vec<RegionPlan>,
    /// Layers that run in place.
    pub in_place_layers: usize,
    /// Index of the layer with the most live bytes.
    pub peak_layer: usize,
    pub layers: Vec<LayerReport>,
}

/// Builds the report. Nodes and values the graph does not have are skipped
/// (verify the plan first to rule that out).
pub fn report(g: &Graph, plan: &MemoryPlan) -> PlanReport {
    let nodes: BTreeSet<NodeId> = g.node_ids().collect();
    let known = |v: ValueId| v.index() < g.value_count();
    let multi = plan.regions.len() > 1;
    let region_name = |r: usize| {
        multi
            .then(|| plan.regions.get(r).map(|r| r.name.clone()))
            .flatten()
    };
    let mut layers = Vec::with_capacity(plan.order.len());
    for (t, &n) in plan.order.iter().enumerate() {
        if !nodes.contains(&n) {
            continue;
        }
        let node = g.node(n);
        if !node.inputs.iter().chain(&node.outputs).all(|&v| known(v)) {
            continue;
        }
        let in_facts: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
        let out_facts: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
        let mut buffers: Vec<LiveBuffer> = plan
            .buffers
            .iter()
            .filter(|b| b.is_live_at(t) && known(b.value))
            .map(|b| LiveBuffer {
                tensor: g.value(b.value).name.clone(),
                offset: b.offset,
                size: b.size,
                role: if node.outputs.contains(&b.value) {
                    "out"
                } else if node.inputs.contains(&b.value) {
                    "in"
                } else {
                    "live"
                },
                alias_of: b
                    .alias_of
                    .filter(|&a| known(a))
                    .map(|a| g.value(a).name.clone()),
                region: region_name(b.region),
            })
            .collect();
        let scratch = plan.scratch.iter().find(|s| s.node == n);
        if let Some(s) = scratch {
            buffers.push(LiveBuffer {
                tensor: format!("{}:scratch", node.name),
                offset: s.offset,
                size: s.size,
                role: "scratch",
                alias_of: None,
                region: region_name(s.region),
            });
        }
        buffers.sort_by(|a, b| {
            (&a.region, a.offset, &a.tensor).cmp(&(&b.region, b.offset, &b.tensor))
        });
        let in_place = plan
            .in_place
            .get(&n)
            .and_then(|f| node.inputs.get(f.input))
            .filter(|&&v| known(v))
            .map(|&v| g.value(v).name.clone());
        layers.push(LayerReport {
            index: t,
            op: node.op.name(),
            name: node.name.clone(),
            output_shape: out_facts
                .first()
                .map(|f| f.shape.clone())
                .unwrap_or_default(),
            macs: node.op.def().macs(&in_facts, &out_facts),
            live_bytes: plan.live_bytes.get(t).copied().unwrap_or(0),
            in_place,
            scratch_bytes: scratch.map_or(0, |s| s.size),
            buffers,
        });
    }
    let peak_layer = layers
        .iter()
        .fold((0, 0), |best, l| {
            if l.live_bytes > best.1 {
                (l.index, l.live_bytes)
            } else {
                best
            }
        })
        .0;
    PlanReport {
        model: g.name.clone(),
        arena_bytes: plan.arena_bytes,
        lower_bound_bytes: plan.lower_bound_bytes,
        any_order_lower_bound_bytes: plan.any_order_lower_bound_bytes,
        ratio: plan.ratio(),
        optimal: plan.optimal,
        strategy: plan.strategy.clone(),
        schedule: plan.schedule.clone(),
        align: plan.align,
        regions: plan.regions.clone(),
        in_place_layers: plan.in_place.len(),
        peak_layer,
        layers,
    }
}

/// Human-readable table: one line per layer, with a bar of the arena
/// (`#` bytes written, `=` read, `-` kept live, `+` scratch; 32 columns;
/// with several regions, offsets are per region and the bar overlays them).
pub fn render_text(r: &PlanReport) -> String {
    const COLS: usize = 32;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<18} {:<16} {:>9}  {:<width$}  buffers (offset+size)",
        "#",
        "op",
        "output",
        "live B",
        "arena",
        width = COLS
    );
    for l in &r.layers {
        let mut bar = [' '; COLS];
        for b in &l.buffers {
            if r.arena_bytes == 0 || b.size == 0 {
                continue;
            }
            let lo = b.offset * COLS / r.arena_bytes;
            let hi = ((b.offset + b.size) * COLS)
                .div_ceil(r.arena_bytes)
                .min(COLS);
            let c = match b.role {
                "out" => '#',
                "in" => '=',
                "scratch" => '+',
                _ => '-',
            };
            for x in &mut bar[lo.min(COLS)..hi] {
                if *x == ' ' || c == '#' {
                    *x = c;
                }
            }
        }
        let bufs: Vec<String> = l
            .buffers
            .iter()
            .map(|b| match &b.region {
                Some(r) => format!("{}@{r}:{}+{}", b.tensor, b.offset, b.size),
                None => format!("{}@{}+{}", b.tensor, b.offset, b.size),
            })
            .collect();
        let _ = writeln!(
            out,
            "{:>4}  {:<18} {:<16} {:>9}  {}  {}",
            l.index,
            l.op,
            shape_str(&l.output_shape),
            l.live_bytes,
            bar.iter().collect::<String>(),
            bufs.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "arena: {} B, lower bound: {} B ({:.3}x){}, peak at layer {}",
        r.arena_bytes,
        r.lower_bound_bytes,
        r.ratio,
        if r.optimal { ", optimal" } else { "" },
        r.peak_layer
    );
    if r.regions.len() > 1 {
        let parts: Vec<String> = r
            .regions
            .iter()
            .map(|g| format!("{} {} B", g.name, g.arena_bytes))
            .collect();
        let _ = writeln!(out, "regions: {}", parts.join(", "));
    }
    if r.in_place_layers > 0 {
        let _ = writeln!(out, "in place: {} layers", r.in_place_layers);
    }
    if let Some(b) = r.any_order_lower_bound_bytes {
        let _ = writeln!(out, "no execution order needs less than {b} B");
    }
    let _ = writeln!(
        out,
        "strategy: {}, schedule: {}, alignment: {} B",
        r.strategy, r.schedule, r.align
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testutil::chain;
    use crate::plan::{PlanOptions, plan};

    #[test]
    fn report_lists_live_buffers_with_roles() {
        let (g, _) = chain(&[64, 32, 16]);
        let p = plan(&g, &PlanOptions::default()).expect("plans");
        let r = report(&g, &p);
        assert_eq!(r.layers.len(), 2);
        let roles: Vec<(&str, &str)> = r.layers[0]
            .buffers
            .iter()
            .map(|b| (b.tensor.as_str(), b.role))
            .collect();
        assert!(
            roles.contains(&("in0", "in")) && roles.contains(&("n1", "out")),
            "{roles:?}"
        );
        assert_eq!(r.layers[0].live_bytes, 96);
        assert_eq!(r.layers[0].output_shape, vec![32]);
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(
            json["layers"][1]["buffers"].as_array().map(Vec::len),
            Some(2)
        );
        let text = render_text(&r);
        assert!(text.contains("arena: 96 B, lower bound: 96 B"), "{text}");
    }
}
