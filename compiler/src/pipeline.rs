//! The compiler pipeline: the one place where the order of steps is decided.
//!
//! ```text
//! import ─▶ verify ─▶ passes (verify after each) ─▶ plan ─▶ plan::verify ─▶ fit check ─▶ codegen
//! ```
//!
//! Every graph-changing step is followed by the IR verifier; code generation
//! only accepts a [`VerifiedPlan`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codegen::{self, EmitOptions};
use crate::error::{Error, Result};
use crate::ir::{Graph, Op};
use crate::plan::{self, PlanOptions, VerifiedPlan};
use crate::targets::{MemoryMap, Target};

/// Imports a model and runs the optimization passes: the graph every
/// later step (planning, code generation, `mcuc run`) works on.
pub fn load(path: &Path) -> Result<Graph> {
    load_with(path, &LoadOptions::default())
}

/// What [`load_with`] needs besides the model: front-end options and, for
/// float models, calibration data.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub import: crate::import::onnx::ImportOptions,
    /// Calibration inputs for post-training quantization: an `.npy` of
    /// stacked samples or a directory of `.npy` files.
    pub calibration: Option<PathBuf>,
    pub calib_method: crate::passes::quantize::CalibMethod,
}

/// [`load`] with options: import, optimize, and for a float model
/// calibrate and quantize (verifying after each step), then optimize the
/// int8 graph.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Graph> {
    use crate::passes::quantize;
    let mut graph = load_float(path, &opts.import)?;
    if quantize::is_float(&graph) {
        let Some(calib) = &opts.calibration else {
            return Err(quantize::needs_calibration(&graph));
        };
        let samples = quantize::load_calibration(calib, &graph)?;
        graph = quantize::quantize(
            &graph,
            &quantize::Calibration {
                samples,
                method: opts.calib_method,
            },
        )?;
        crate::ir::verify::verify(&graph, "quantize")?;
        crate::passes::optimize(&mut graph)?;
    }
    Ok(graph)
}

/// Imports and optimizes without quantizing: a float model stays float
/// (for the host float executor and accuracy measurements).
pub fn load_float(path: &Path, opts: &crate::import::onnx::ImportOptions) -> Result<Graph> {
    let mut graph = crate::import::load_with(path, opts)?;
    crate::passes::optimize(&mut graph)?;
    Ok(graph)
}

/// Options of one compilation.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stem of the generated files (`<name>.rs`).
    pub name: String,
    pub planner: PlanOptions,
    pub memory_map: MemoryMap,
    /// Refuse plans that exceed the target's SRAM or flash (default). Host
    /// builds of generated code (tests, simulation) may turn it off.
    pub check_fit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "model".into(),
            planner: PlanOptions::default(),
            memory_map: MemoryMap::Device,
            check_fit: true,
        }
    }
}

/// What `mcuc plan` reports and `report.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub target: String,
    /// SRAM of the target, all regions.
    pub sram_bytes: u64,
    /// SRAM available for the arena: the first region minus the stack.
    pub sram_available_bytes: u64,
    pub stack_bytes: u64,
    pub flash_bytes_budget: u64,
    /// Activations (and scratch) peak: the arena, over all regions.
    pub arena_bytes: usize,
    pub lower_bound_bytes: usize,
    /// The SRAM regions the arena uses (the first, unless it is too small).
    pub regions: Vec<plan::RegionPlan>,
    /// Layers that write their output over their input.
    pub in_place_layers: usize,
    /// Constant data in flash: weights, biases, per-channel multipliers.
    pub weights_bytes: usize,
    pub code_bytes_estimate: usize,
    pub flash_bytes_estimate: usize,
    pub macs: u64,
    pub planner: PlannerInfo,
    pub layers: Vec<plan::report::LayerReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannerInfo {
    pub strategy: String,
    pub schedule: String,
    pub optimal: bool,
    pub ratio: f64,
}

/// Rough bytes of code per layer, by op. Calibrated on Cortex-M7 builds at
/// opt-level 3 (see `cargo xtask size`); the report calls it an estimate.
fn code_estimate(op: &Op) -> usize {
    match op {
        Op::Conv2d(_) => 900,
        Op::DepthwiseConv2d(_) => 900,
        Op::FullyConnected(_) => 400,
        Op::Softmax(_) | Op::Logistic(_) | Op::Tanh(_) => 700,
        Op::Add(_) | Op::Mul(_) | Op::Mean(_) => 600,
        Op::AvgPool2d(_) | Op::MaxPool2d(_) | Op::Pad(_) => 400,
        Op::Reshape(_) => 0,
        _ => 200,
    }
}

/// Bytes of code shared by every model (runtime helpers, run/invoke glue).
const CODE_BASE_BYTES: usize = 2048;

/// Plans `g` for `target` and checks that it fits.
pub fn plan(g: &Graph, target: &Target, opts: &Options) -> Result<(VerifiedPlan, Report)> {
    let mut planner = opts.planner.clone();
    if planner.regions.is_empty() {
        planner.regions = target.plan_regions();
    }
    let planned = plan::plan_verified(g, &planner, None)?;
    let report = report(g, &planned, target)?;
    if opts.check_fit {
        check_fit(&report)?;
    }
    Ok((planned, report))
}

fn report(g: &Graph, planned: &VerifiedPlan, target: &Target) -> Result<Report> {
    let p = planned.plan();
    let plan_report = plan::report::report(g, p);
    // Per-channel multipliers and shifts are two i32 per output channel.
    let mut weights = g.weight_bytes();
    let mut code = CODE_BASE_BYTES;
    let mut macs = 0;
    for &n in &p.order {
        let node = g.node(n);
        code += code_estimate(&node.op);
        let ins: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
        let outs: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
        macs += node.op.def().macs(&ins, &outs);
        if matches!(
            node.op,
            Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::FullyConnected(_)
        ) {
            let channels = g.fact(node.outputs[0]).shape.last().copied().unwrap_or(0);
            weights += 8 * channels;
        }
    }
    Ok(Report {
        model: g.name.clone(),
        target: target.name.clone(),
        sram_bytes: target.sram_bytes(),
        sram_available_bytes: target.static_ram_bytes(),
        stack_bytes: target.stack_bytes,
        flash_bytes_budget: target.flash.length,
        arena_bytes: p.arena_bytes,
        lower_bound_bytes: p.lower_bound_bytes,
        regions: p.regions.clone(),
        in_place_layers: p.in_place.len(),
        weights_bytes: weights,
        code_bytes_estimate: code,
        flash_bytes_estimate: weights + code,
        macs,
        planner: PlannerInfo {
            strategy: p.strategy.clone(),
            schedule: p.schedule.clone(),
            optimal: p.optimal,
            ratio: p.ratio(),
        },
        layers: plan_report.layers,
    })
}

fn check_fit(r: &Report) -> Result<()> {
    let mut problems = Vec::new();
    let spread = r.regions.iter().skip(1).any(|g| g.arena_bytes > 0);
    if spread {
        for g in &r.regions {
            if let Some(cap) = g.capacity.filter(|&c| g.arena_bytes > c) {
                problems.push(format!(
                    "SRAM region {}: its part of the arena needs {} B, the region has {cap} B; over by {} B",
                    g.name,
                    g.arena_bytes,
                    g.arena_bytes - cap
                ));
            }
        }
    } else if r.arena_bytes as u64 > r.sram_available_bytes {
        let others = if r.regions.len() > 1 {
            let names: Vec<&str> = r.regions.iter().map(|g| g.name.as_str()).collect();
            format!(
                " (spreading it over {} does not fit either)",
                names.join(", ")
            )
        } else {
            String::new()
        };
        problems.push(format!(
            "SRAM: the arena needs {} B, but {} has {} B for it ({} B SRAM minus {} B stack); \
             over by {} B{others}",
            r.arena_bytes,
            r.target,
            r.sram_available_bytes,
            r.sram_available_bytes + r.stack_bytes,
            r.stack_bytes,
            r.arena_bytes as u64 - r.sram_available_bytes
        ));
    }
    if r.flash_bytes_estimate as u64 > r.flash_bytes_budget {
        problems.push(format!(
            "flash: weights {} B + code ~{} B = {} B, but {} has {} B",
            r.weights_bytes,
            r.code_bytes_estimate,
            r.flash_bytes_estimate,
            r.target,
            r.flash_bytes_budget
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::DoesNotFit {
            message: format!(
                "model `{}` does not fit target `{}`:\n  {}",
                r.model,
                r.target,
                problems.join("\n  ")
            ),
        })
    }
}

/// Human-readable report.
pub fn render_report(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "model {} for target {}", r.model, r.target);
    let _ = writeln!(
        s,
        "  SRAM:  arena {} B (lower bound {} B, {:.3}x; {} / {}{}), available {} B of {} B (stack {} B)",
        r.arena_bytes,
        r.lower_bound_bytes,
        r.planner.ratio,
        r.planner.strategy,
        r.planner.schedule,
        if r.planner.optimal { ", optimal" } else { "" },
        r.sram_available_bytes,
        r.sram_bytes,
        r.stack_bytes
    );
    if r.regions.iter().skip(1).any(|g| g.arena_bytes > 0) {
        let parts: Vec<String> = r
            .regions
            .iter()
            .map(|g| match g.capacity {
                Some(c) => format!("{} {} B of {c} B", g.name, g.arena_bytes),
                None => format!("{} {} B", g.name, g.arena_bytes),
            })
            .collect();
        let _ = writeln!(s, "  regions: {}", parts.join(", "));
    }
    if r.in_place_layers > 0 {
        let _ = writeln!(s, "  in place: {} layers", r.in_place_layers);
    }
    let _ = writeln!(
        s,
        "  flash: weights {} B + code ~{} B = ~{} B of {} B",
        r.weights_bytes, r.code_bytes_estimate, r.flash_bytes_estimate, r.flash_bytes_budget
    );
    let _ = writeln!(s, "  MACs:  {}", r.macs);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:>4}  {:<18} {:<36} {:>16} {:>10} {:>10}",
        "#", "op", "name", "output", "MACs", "live B"
    );
    for l in &r.layers {
        let mut name = l.name.clone();
        if name.len() > 36 {
            name = format!("...{}", &name[name.len() - 33..]);
        }
        let _ = writeln!(
            s,
            "{:>4}  {:<18} {:<36} {:>16} {:>10} {:>10}",
            l.index,
            l.op,
            name,
            crate::ir::ops::shape_str(&l.output_shape),
            l.macs,
            l.live_bytes
        );
    }
    s
}

/// The generated files, in memory.
pub struct Generated {
    /// File name -> contents, e.g. `model.rs`, `model.weights.bin`,
    /// `memory.x`, `report.txt`, `report.json`.
    pub files: BTreeMap<String, Vec<u8>>,
    pub report: Report,
}

/// Compiles an imported graph: plan, fit check, code generation.
pub fn compile(g: &Graph, source: &str, target: &Target, opts: &Options) -> Result<Generated> {
    let (planned, mut report) = plan(g, target, opts)?;
    let header = format!("{source} --target {}", target.name);
    let emitted = codegen::emit(
        g,
        &planned,
        &EmitOptions {
            name: &opts.name,
            source: &header,
        },
    )?;
    report.weights_bytes = emitted.const_bytes;
    report.flash_bytes_estimate = report.weights_bytes + report.code_bytes_estimate;
    if opts.check_fit {
        check_fit(&report)?;
    }
    let mut files = BTreeMap::new();
    files.insert(format!("{}.rs", opts.name), emitted.code.into_bytes());
    files.insert(format!("{}.weights.bin", opts.name), emitted.weights);
    files.insert(
        "memory.x".into(),
        target.memory_x(opts.memory_map)?.into_bytes(),
    );
    files.insert("report.txt".into(), render_report(&report).into_bytes());
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Usage {
        message: format!("cannot serialize the report: {e}"),
    })?;
    files.insert("report.json".into(), (json + "\n").into_bytes());
    Ok(Generated { files, report })
}

/// File name of a model path, for headers (no directories, so output does
/// not depend on where the model lives).
pub fn source_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}
