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
use crate::patch::{self, PatchMode, VerifiedPatchPlan};
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
    /// Patch-based inference of the first stage (default: only when the
    /// per-layer plan does not fit).
    pub patch: PatchMode,
    /// Extra MACs `PatchMode::Min` may spend, as a fraction of the
    /// network's MACs.
    pub patch_overhead: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "model".into(),
            planner: PlanOptions::default(),
            memory_map: MemoryMap::Device,
            check_fit: true,
            patch: PatchMode::Fit,
            patch_overhead: 0.15,
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
    /// The patch-based stage, when the plan uses one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<PatchReport>,
    pub layers: Vec<plan::report::LayerReport>,
}

/// The patch-based stage of a plan.
#[derive(Clone, Debug, Serialize)]
pub struct PatchReport {
    /// Step of the last stage layer in the execution order (`--patch RxC@STEP`).
    pub split_layer: usize,
    pub split_layer_name: String,
    /// `[rows, cols]` over the stage output.
    pub grid: [usize; 2],
    pub stage_output_shape: Vec<usize>,
    /// MACs of the whole network patched, and the extra over per-layer.
    pub macs: u64,
    pub extra_macs: u64,
    pub extra_macs_ratio: f64,
    /// The same model's per-layer plan.
    pub per_layer_arena_bytes: usize,
    /// The network input, read window by window from its own buffer.
    pub input_bytes: usize,
    /// The arena if the input were copied into it (and planned with it).
    pub arena_with_input_bytes: Option<usize>,
    /// Per patch: the stage output window and the input window it reads
    /// (the patch plus its halo), `[y0, y1, x0, x1]`.
    pub patches: Vec<PatchWindows>,
    /// The chosen candidate first, then the runners-up of the search.
    pub candidates: Vec<patch::search::Candidate>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PatchWindows {
    pub output: [usize; 4],
    pub input: [usize; 4],
    /// Input positions read beyond the patch's own share of the input.
    pub halo_positions: usize,
}

/// A verified plan: per layer, or with a patch-based stage.
#[derive(Clone, Debug)]
pub enum Planned {
    Layers(Box<VerifiedPlan>),
    Patched(Box<VerifiedPatchPlan>),
}

impl Planned {
    /// The memory plan (for a patched plan, of its planning graph).
    pub fn memory(&self) -> &VerifiedPlan {
        match self {
            Planned::Layers(p) => p,
            Planned::Patched(p) => p.memory(),
        }
    }

    /// The graph the memory plan is for.
    pub fn graph<'g>(&'g self, g: &'g Graph) -> &'g Graph {
        match self {
            Planned::Layers(_) => g,
            Planned::Patched(p) => &p.planning_graph,
        }
    }
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

/// Plans `g` for `target` and checks that it fits: per layer, or with a
/// patch-based first stage as `opts.patch` asks.
pub fn plan(g: &Graph, target: &Target, opts: &Options) -> Result<(Planned, Report)> {
    let mut planner = opts.planner.clone();
    if planner.regions.is_empty() {
        planner.regions = target.plan_regions();
    }
    let per_layer = plan::plan_verified(g, &planner, None)?;
    let layer_report = report(g, &per_layer, target)?;
    let fits = check_fit(&layer_report);
    let want_patch = match &opts.patch {
        PatchMode::None => false,
        PatchMode::Fit => fits.is_err(),
        PatchMode::Min | PatchMode::Forced { .. } => true,
    };
    if !want_patch {
        if opts.check_fit
            && let Err(e) = fits
        {
            return Err(match (&opts.patch, e) {
                (PatchMode::None, Error::DoesNotFit { message }) => Error::DoesNotFit {
                    message: format!(
                        "{message}\n  hint: patch-based inference runs the first layers patch by \
                         patch and needs far less SRAM: drop --patch none (the default, \
                         --patch fit, uses it when needed) or try --patch min"
                    ),
                },
                (_, e) => e,
            });
        }
        return Ok((Planned::Layers(Box::new(per_layer)), layer_report));
    }
    // Patched plans use the first region; the Model also holds the input.
    let input_bytes = g.inputs.first().map_or(0, |&v| g.fact(v).bytes());
    let capacity = (target.static_ram_bytes() as usize).saturating_sub(input_bytes);
    let choice = patch::choose(
        g,
        &per_layer.order,
        &opts.patch,
        per_layer.arena_bytes,
        capacity,
        opts.patch_overhead,
        &planner,
    )?;
    let Some(chosen) = choice.plan else {
        if let PatchMode::Forced { rows, cols, split } = opts.patch {
            return Err(Error::Usage {
                message: format!("--patch {rows}x{cols}@{split}: no valid patch plan"),
            });
        }
        // Nothing better: per layer, with its fit verdict.
        if opts.check_fit {
            fits.map_err(|e| match e {
                Error::DoesNotFit { message } => Error::DoesNotFit {
                    message: format!(
                        "{message}\n  no patch-based plan fits either (searched splits and grids up to {m}x{m})",
                        m = patch::search::MAX_GRID
                    ),
                },
                e => e,
            })?;
        }
        return Ok((Planned::Layers(Box::new(per_layer)), layer_report));
    };
    let verified = patch::verify(g, chosen)?;
    let mut r = report(&verified.planning_graph, verified.memory(), target)?;
    r.macs = verified.macs;
    r.patch = Some(patch_report(
        g,
        &verified,
        per_layer.arena_bytes,
        choice.ranked,
    ));
    if opts.check_fit {
        check_fit(&r)?;
    }
    Ok((Planned::Patched(Box::new(verified)), r))
}

fn patch_report(
    g: &Graph,
    p: &VerifiedPatchPlan,
    per_layer_arena_bytes: usize,
    candidates: Vec<patch::search::Candidate>,
) -> PatchReport {
    let st = &p.stage;
    let corners = |w: &patch::Window| [w.y0, w.y1, w.x0, w.x1];
    let (h, w, _) = patch::stage::hwc(g, st.input).unwrap_or((0, 0, 0));
    let rows = patch::geometry::split(h, p.grid[0]);
    let cols = patch::geometry::split(w, p.grid[1]);
    let patches = p
        .patches
        .iter()
        .zip(&p.windows)
        .enumerate()
        .map(|(k, (out, win))| {
            let input = win.get(&st.input).copied().unwrap_or_default();
            // The patch's own share of the input: its cell of the same grid.
            let (r, c) = (k / p.grid[1], k % p.grid[1]);
            let own = rows
                .get(r)
                .zip(cols.get(c))
                .map_or(0, |(&(y0, y1), &(x0, x1))| (y1 - y0) * (x1 - x0));
            PatchWindows {
                output: corners(out),
                input: corners(&input),
                halo_positions: input.area().saturating_sub(own),
            }
        })
        .collect();
    let last = *st.nodes.last().expect("a stage has nodes");
    PatchReport {
        split_layer: p.split_step(),
        split_layer_name: g.node(last).name.clone(),
        grid: p.grid,
        stage_output_shape: g.fact(st.output).shape.clone(),
        macs: p.macs,
        extra_macs: p.macs.saturating_sub(p.base_macs),
        extra_macs_ratio: p.extra_macs_ratio(),
        per_layer_arena_bytes,
        input_bytes: g.fact(st.input).bytes(),
        arena_with_input_bytes: p.arena_with_input_bytes,
        patches,
        candidates,
    }
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
        patch: None,
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
    if let Some(p) = &r.patch {
        render_patch(&mut s, r, p);
    }
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

fn render_patch(s: &mut String, r: &Report, p: &PatchReport) {
    let _ = writeln!(
        s,
        "  patch: layers 0..={} (`{}`, output {}) on a {}x{} grid: arena {} B vs {} B per layer ({:.2}x lower), \
         +{} MACs (+{:.1}%)",
        p.split_layer,
        p.split_layer_name,
        crate::ir::ops::shape_str(&p.stage_output_shape),
        p.grid[0],
        p.grid[1],
        r.arena_bytes,
        p.per_layer_arena_bytes,
        p.per_layer_arena_bytes as f64 / r.arena_bytes.max(1) as f64,
        p.extra_macs,
        100.0 * p.extra_macs_ratio
    );
    let _ = writeln!(
        s,
        "         the input ({} B) is read window by window from its own buffer; copied into the arena it would need {}",
        p.input_bytes,
        p.arena_with_input_bytes
            .map_or("(not computed)".to_string(), |b| format!("{b} B"))
    );
    let _ = writeln!(
        s,
        "         {:>5}  {:<22} {:<22} {:>6}",
        "patch", "output [y0,y1,x0,x1]", "input [y0,y1,x0,x1]", "halo"
    );
    for (k, w) in p.patches.iter().enumerate() {
        let _ = writeln!(
            s,
            "         {:>5}  {:<22} {:<22} {:>6}",
            k,
            format!("{:?}", w.output),
            format!("{:?}", w.input),
            w.halo_positions
        );
    }
    let _ = writeln!(
        s,
        "         candidates (chosen first; runners-up with greedy placement):"
    );
    for c in &p.candidates {
        let _ = writeln!(
            s,
            "         split {:>3}  grid {}x{}  arena {:>8} B  +{:>5.1}% MACs",
            c.split,
            c.grid[0],
            c.grid[1],
            c.arena_bytes,
            100.0 * c.extra_macs_ratio
        );
    }
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
    let emit_opts = EmitOptions {
        name: &opts.name,
        source: &header,
    };
    let emitted = match &planned {
        Planned::Layers(p) => codegen::emit(g, p, &emit_opts)?,
        Planned::Patched(p) => codegen::emit_patched(g, p, &emit_opts)?,
    };
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
