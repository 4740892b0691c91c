//! `mcuc inspect`: a per-layer summary of a graph.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ir::ops::shape_str;
use crate::ir::{Graph, ValueId};

#[derive(Debug, Serialize)]
pub struct Layer {
    pub index: usize,
    pub op: &'static str,
    pub name: String,
    pub inputs: Vec<Vec<usize>>,
    pub outputs: Vec<Vec<usize>>,
    pub params: String,
    pub macs: u64,
    pub weight_bytes: usize,
    /// Bytes of the distinct non-constant inputs and outputs of this op.
    pub io_bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub model: String,
    pub layers: Vec<Layer>,
    pub macs: u64,
    pub weight_bytes: usize,
    /// Max over ops of `io_bytes`: a lower bound on SRAM for any schedule
    /// without in-place or patch-based execution.
    pub peak_io_bytes: usize,
    pub peak_io_layer: usize,
}

/// Summarizes `g` in execution (topological) order.
pub fn summarize(g: &Graph) -> Result<Summary> {
    let order = g.topo_order().ok_or_else(|| Error::Verify {
        stage: "inspect".into(),
        errors: vec!["the graph has a cycle".into()],
    })?;
    let mut layers = Vec::with_capacity(order.len());
    for (index, &n) in order.iter().enumerate() {
        let node = g.node(n);
        let in_facts: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
        let out_facts: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
        let def = node.op.def();
        let distinct: BTreeSet<ValueId> = node
            .inputs
            .iter()
            .chain(&node.outputs)
            .copied()
            .filter(|&v| !g.value(v).is_const())
            .collect();
        layers.push(Layer {
            index,
            op: node.op.name(),
            name: node.name.clone(),
            inputs: node
                .inputs
                .iter()
                .filter(|&&v| !g.value(v).is_const())
                .map(|&v| g.fact(v).shape.clone())
                .collect(),
            outputs: out_facts.iter().map(|f| f.shape.clone()).collect(),
            params: def.summary(&in_facts),
            macs: def.macs(&in_facts, &out_facts),
            weight_bytes: node
                .inputs
                .iter()
                .filter_map(|&v| g.value(v).data.as_ref())
                .map(|d| d.len())
                .sum(),
            io_bytes: distinct.iter().map(|&v| g.fact(v).bytes()).sum(),
        });
    }
    let (peak_io_layer, peak_io_bytes) = layers
        .iter()
        .map(|l| (l.index, l.io_bytes))
        .fold((0, 0), |best, x| if x.1 > best.1 { x } else { best });
    Ok(Summary {
        model: g.name.clone(),
        macs: layers.iter().map(|l| l.macs).sum(),
        weight_bytes: g.weight_bytes(),
        peak_io_bytes,
        peak_io_layer,
        layers,
    })
}

fn shapes(list: &[Vec<usize>]) -> String {
    list.iter()
        .map(|s| shape_str(s))
        .collect::<Vec<_>>()
        .join(",")
}

/// Human-readable table.
pub fn render_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<18} {:<22} {:<16} {:<28} {:>11} {:>9}",
        "#", "op", "input", "output", "params", "MACs", "weights"
    );
    for l in &s.layers {
        let _ = writeln!(
            out,
            "{:>4}  {:<18} {:<22} {:<16} {:<28} {:>11} {:>9}",
            l.index,
            l.op,
            shapes(&l.inputs),
            shapes(&l.outputs),
            l.params,
            l.macs,
            l.weight_bytes
        );
    }
    let _ = writeln!(out, "total: {} layers", s.layers.len());
    let _ = writeln!(out, "  MACs:          {}", s.macs);
    let _ = writeln!(out, "  weight bytes:  {}", s.weight_bytes);
    let _ = writeln!(
        out,
        "  peak in+out activation bytes: {} (layer {})",
        s.peak_io_bytes, s.peak_io_layer
    );
    out
}
