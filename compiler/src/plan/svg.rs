//! A memory plan as a picture: execution steps (layers) left to right,
//! arena addresses bottom to top, one labeled rectangle per tensor over the
//! steps it is live, scratch buffers in orange, the bytes live per step as a
//! black outline, and horizontal lines for the lower bound (red, dashed) and
//! the arena size (blue). With several SRAM regions, one panel per region.
//!
//! Invariant: the SVG text is a pure function of the graph and the plan
//! (fixed-precision numbers, no clock, no hash order), so it is as
//! deterministic as the plan. No dependencies: the markup is written here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::MemoryPlan;
use crate::ir::{Graph, ValueId};

const LEFT: f64 = 78.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 54.0;
const PANEL_H: f64 = 520.0;
const PANEL_GAP: f64 = 40.0;
const BOTTOM: f64 = 150.0;

/// A tensor's own lifetime (not its alias group's): its defining step (0
/// for graph inputs) to its last read (the last step for graph outputs).
fn own_lifetimes(g: &Graph, plan: &MemoryPlan) -> BTreeMap<ValueId, (usize, usize)> {
    let steps = plan.order.len().max(1);
    let mut life: BTreeMap<ValueId, (usize, usize)> = BTreeMap::new();
    for &v in &g.inputs {
        life.insert(v, (0, 0));
    }
    for (t, &n) in plan.order.iter().enumerate() {
        for &v in &g.node(n).outputs {
            life.insert(v, (t, t));
        }
    }
    for (t, &n) in plan.order.iter().enumerate() {
        for v in &g.node(n).inputs {
            if let Some(l) = life.get_mut(v) {
                l.1 = l.1.max(t);
            }
        }
    }
    for v in &g.outputs {
        if let Some(l) = life.get_mut(v) {
            l.1 = steps - 1;
        }
    }
    // Bytes reserved before their value is written (a patched stage's
    // output, filled patch by patch): draw them from the reservation.
    for b in &plan.buffers {
        if b.alias_of.is_none()
            && let Some(l) = life.get_mut(&b.value)
        {
            l.0 = l.0.min(b.first);
        }
    }
    life
}

/// XML text escaping.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A short label for a TFLite tensor name such as
/// `model/block_3/expand/Relu6;model/...`: the last two path components of
/// its first `;`-separated part.
fn short_name(name: &str) -> String {
    let first = name.split(';').next().unwrap_or(name);
    let parts: Vec<&str> = first.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => name.to_string(),
        [one] => one.to_string(),
        [.., a, b] => format!("{a}/{b}"),
    }
}

/// A stable pastel colour per value.
fn color(v: u32) -> String {
    let hue = (v.wrapping_mul(137) % 360) as f64;
    format!("hsl({hue:.0},62%,78%)")
}

/// Byte counts for axis labels: `512`, `24K`, `1.5M`.
fn bytes_label(b: usize) -> String {
    if b >= 1 << 20 {
        format!("{:.1}M", b as f64 / (1 << 20) as f64)
    } else if b >= 1024 && b.is_multiple_of(1024) {
        format!("{}K", b / 1024)
    } else if b >= 1024 {
        format!("{:.1}K", b as f64 / 1024.0)
    } else {
        format!("{b}")
    }
}

/// A "nice" tick spacing giving about `n` ticks up to `max`.
fn tick_step(max: usize, n: usize) -> usize {
    let raw = (max / n.max(1)).max(1);
    let mut p = 1usize;
    while p * 10 <= raw {
        p *= 10;
    }
    for m in [1, 2, 5, 10] {
        if p * m >= raw {
            return p * m;
        }
    }
    p * 10
}

/// Renders `plan` of `g` as an SVG document.
pub fn render(g: &Graph, plan: &MemoryPlan) -> String {
    render_with_note(g, plan, None)
}

/// [`render`] with a note under the title (e.g. the patch-based stage).
pub fn render_with_note(g: &Graph, plan: &MemoryPlan, note: Option<&str>) -> String {
    let steps = plan.order.len().max(1);
    let step_w = (1400.0 / steps as f64).clamp(14.0, 64.0);
    let plot_w = step_w * steps as f64;
    // Region 0, and the other regions the plan uses.
    let shown: Vec<usize> = (0..plan.regions.len())
        .filter(|&r| r == 0 || plan.regions[r].arena_bytes > 0)
        .collect();
    let panels = shown.len().max(1);
    let multi = panels > 1;
    let width = LEFT + plot_w + RIGHT;
    let height = TOP + panels as f64 * (PANEL_H + PANEL_GAP) - PANEL_GAP + BOTTOM;
    let life = own_lifetimes(g, plan);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Arial, sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{} — arena {} B, lower bound {} B ({:.3}x)</text>"#,
        esc(&g.name),
        plan.arena_bytes,
        plan.lower_bound_bytes,
        plan.ratio()
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" font-size="11" fill="#444">{} steps, {} tensors, {} in place, {} scratch; placement {}, schedule {}{}</text>"##,
        plan.order.len(),
        plan.buffers.len(),
        plan.in_place.len(),
        plan.scratch.len(),
        esc(&plan.strategy),
        esc(&plan.schedule),
        if plan.optimal { ", optimal" } else { "" }
    );
    if let Some(note) = note {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="52" font-size="10.5" fill="#1f5fd6">{}</text>"##,
            esc(note)
        );
    }

    // Values an in-place step writes, and the inputs it writes over.
    let mut written_in_place = std::collections::BTreeSet::new();
    let mut overwritten = std::collections::BTreeSet::new();
    for (&n, form) in &plan.in_place {
        let node = g.node(n);
        if let (Some(&x), Some(&y)) = (node.inputs.get(form.input), node.outputs.get(form.output)) {
            overwritten.insert(x);
            written_in_place.insert(y);
        }
    }
    let x_of = |t: usize| LEFT + t as f64 * step_w;
    for (panel, &r) in shown.iter().enumerate() {
        let region = &plan.regions[r];
        let top = TOP + panel as f64 * (PANEL_H + PANEL_GAP);
        let bottom = top + PANEL_H;
        // The scale: the region's arena, and the bound in a single region.
        let mut ymax = region.arena_bytes.max(1);
        if multi {
            ymax = ymax.max(region.capacity.unwrap_or(0));
        } else {
            ymax = ymax.max(plan.lower_bound_bytes);
            ymax = ymax.max(plan.live_bytes.iter().copied().max().unwrap_or(0));
        }
        let ymax_f = ymax as f64 * 1.06;
        let y_of = |b: usize| bottom - b as f64 / ymax_f * PANEL_H;

        // Frame, grid and y ticks.
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_w:.1}" height="{PANEL_H}" fill="#fafafa" stroke="#888"/>"##
        );
        let dy = tick_step(ymax, 8);
        let mut b = 0;
        while b as f64 <= ymax_f {
            let y = y_of(b);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e2e2e2"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 3.5,
                bytes_label(b)
            );
            b += dy;
        }
        let label = if multi {
            format!("{} (bytes)", region.name)
        } else {
            "address (bytes)".to_string()
        };
        let mid = top + PANEL_H / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="16" y="{mid:.1}" font-size="11" text-anchor="middle" transform="rotate(-90 16 {mid:.1})">{}</text>"#,
            esc(&label)
        );

        // Tensors: each over its own lifetime, at its group's bytes.
        for buf in plan.buffers.iter().filter(|b| b.region == r && b.size > 0) {
            let Some(&(first, last)) = life.get(&buf.value) else {
                continue;
            };
            // An in-place step hands the bytes over halfway through it.
            let half = step_w / 2.0;
            let x0 = x_of(first)
                + if written_in_place.contains(&buf.value) {
                    half
                } else {
                    1.0
                };
            let x1 = x_of(last + 1)
                - if overwritten.contains(&buf.value) {
                    half
                } else {
                    1.0
                };
            let (y0, y1) = (y_of(buf.offset + buf.size), y_of(buf.offset));
            let name = &g.value(buf.value).name;
            let in_place = buf.alias_of.is_some();
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="{}" stroke="#333" stroke-width="0.6"{}><title>{} ({}): {} B at {}{} steps {}..={}{}</title></rect>"##,
                (x1 - x0).max(0.5),
                (y1 - y0).max(0.5),
                color(buf.value.0),
                if in_place { "0.75" } else { "0.95" },
                if in_place {
                    r#" stroke-dasharray="3,2""#
                } else {
                    ""
                },
                esc(name),
                buf.value,
                buf.size,
                buf.offset,
                if multi {
                    format!(" in {}", region.name)
                } else {
                    String::new()
                },
                first,
                last,
                buf.alias_of
                    .map(|a| format!(", shares the bytes of {a}"))
                    .unwrap_or_default()
            );
            let (w, h) = (x1 - x0, y1 - y0);
            let (cx, cy) = (x0 + w / 2.0, y0 + h / 2.0);
            let text = short_name(name);
            let id = buf.value.to_string();
            // The short name across or up the box if it fits, else the id.
            let fits = |t: &str, along: f64, across: f64| {
                along >= 5.8 * t.chars().count() as f64 + 6.0 && across >= 11.0
            };
            let label = if fits(&text, w, h) {
                Some((text, false))
            } else if fits(&text, h, w) {
                Some((text, true))
            } else if fits(&id, w, h) {
                Some((id, false))
            } else if fits(&id, h, w) {
                Some((id, true))
            } else {
                None
            };
            match label {
                Some((t, false)) => {
                    let _ = writeln!(
                        s,
                        r#"<text x="{cx:.1}" y="{:.1}" font-size="9.5" text-anchor="middle">{}</text>"#,
                        cy + 3.3,
                        esc(&t)
                    );
                }
                Some((t, true)) => {
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{cy:.1}" font-size="9.5" text-anchor="middle" transform="rotate(-90 {:.1} {cy:.1})">{}</text>"#,
                        cx + 3.3,
                        cx + 3.3,
                        esc(&t)
                    );
                }
                None => {}
            }
        }
        // Scratch buffers.
        for sc in plan.scratch.iter().filter(|sc| sc.region == r) {
            let (x0, x1) = (x_of(sc.step) + 1.0, x_of(sc.step + 1) - 1.0);
            let (y0, y1) = (y_of(sc.offset + sc.size), y_of(sc.offset));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="#ff9f1a" stroke="#a35a00" stroke-width="0.6"><title>scratch of {}: {} B at {}, step {}</title></rect>"##,
                (x1 - x0).max(0.5),
                (y1 - y0).max(1.0),
                esc(&g.node(sc.node).name),
                sc.size,
                sc.offset,
                sc.step
            );
        }
        // Live bytes per step (one region: all buffers are in it).
        if !multi && !plan.live_bytes.is_empty() {
            let mut path = String::new();
            for (t, &b) in plan.live_bytes.iter().enumerate() {
                let y = y_of(b);
                let cmd = if t == 0 { 'M' } else { 'L' };
                let _ = write!(
                    path,
                    "{cmd}{:.1},{y:.1} L{:.1},{y:.1} ",
                    x_of(t),
                    x_of(t + 1)
                );
            }
            let _ = writeln!(
                s,
                r##"<path d="{}" fill="none" stroke="#111" stroke-width="1.2"/>"##,
                path.trim_end()
            );
        }
        // The arena and the lower bound.
        let ya = y_of(region.arena_bytes);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{ya:.1}" x2="{:.1}" y2="{ya:.1}" stroke="#1f5fd6" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#1f5fd6">arena {} B</text>"##,
            LEFT + plot_w,
            LEFT + plot_w + 6.0,
            ya + 4.0,
            region.arena_bytes
        );
        if let Some(cap) = region.capacity.filter(|&c| (c as f64) <= ymax_f) {
            let yc = y_of(cap);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yc:.1}" x2="{:.1}" y2="{yc:.1}" stroke="#777" stroke-dasharray="2,3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#555">{} capacity {} B</text>"##,
                LEFT + plot_w,
                LEFT + plot_w + 6.0,
                yc + 4.0,
                esc(&region.name),
                cap
            );
        }
        if !multi {
            let yl = y_of(plan.lower_bound_bytes);
            let gap = if (yl - ya).abs() < 14.0 { 14.0 } else { 0.0 };
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yl:.1}" x2="{:.1}" y2="{yl:.1}" stroke="#d62728" stroke-width="1.6" stroke-dasharray="7,4"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#d62728">lower bound {} B</text>"##,
                LEFT + plot_w,
                LEFT + plot_w + 6.0,
                yl + 4.0 + gap,
                plan.lower_bound_bytes
            );
        }
    }

    // X axis: step numbers and ops below the last panel.
    let base = TOP + panels as f64 * (PANEL_H + PANEL_GAP) - PANEL_GAP;
    let every = (18.0 / step_w).ceil().max(1.0) as usize;
    for (t, &n) in plan.order.iter().enumerate() {
        let x = x_of(t) + step_w / 2.0;
        if t % every == 0 {
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{:.1}" font-size="9" text-anchor="middle">{t}</text>"#,
                base + 12.0
            );
        }
        let y = base + 20.0;
        let in_place = if plan.in_place.contains_key(&n) {
            " *"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="8.5" text-anchor="end" transform="rotate(-60 {x:.1} {y:.1})">{}{in_place}</text>"#,
            esc(&g.node(n).op.name().to_lowercase())
        );
    }
    let legend_y = height - 14.0;
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{legend_y:.1}" font-size="10.5" fill="#333">x: execution step (layer, * = in place); y: byte offset in the arena; boxes: tensors while live (dashed: sharing an input's bytes); orange: scratch; black: bytes live per step</text>"##
    );
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testutil::GraphBuilder;
    use crate::plan::{PlanOptions, plan};

    #[test]
    fn draws_every_buffer_and_both_lines_deterministically() {
        let mut gb = GraphBuilder::new();
        let x = gb.input(64);
        let a = gb.op("model/a", &[x], 256);
        let r = gb.relu("model/relu", a);
        let b = gb.op("model/b<&>", &[r], 32);
        let g = gb.finish(&[b]);
        let p = plan(&g, &PlanOptions::default()).expect("plans");
        let svg = render(&g, &p);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<title>").count(), p.buffers.len());
        assert!(svg.contains(&format!("lower bound {} B", p.lower_bound_bytes)));
        assert!(svg.contains(&format!("arena {} B", p.arena_bytes)));
        assert!(
            svg.contains("stroke-dasharray=\"3,2\""),
            "in-place output dashed"
        );
        assert!(svg.contains("model/b&lt;&amp;&gt;"), "names are escaped");
        assert_eq!(svg, render(&g, &p));
    }

    #[test]
    fn labels_and_ticks() {
        assert_eq!(short_name("m/block_3/expand/Relu6;m/other"), "expand/Relu6");
        assert_eq!(short_name("input"), "input");
        assert_eq!(bytes_label(24 * 1024), "24K");
        assert_eq!(bytes_label(1536), "1.5K");
        assert_eq!(tick_step(55296, 8), 10000);
        assert_eq!(tick_step(300, 8), 50);
    }
}
