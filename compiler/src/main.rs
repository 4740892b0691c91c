//! The `mcuc` command line. Thin: every command calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "mcuc",
    version,
    about = "Compile neural networks to no_std Rust for microcontrollers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Map {
    Device,
    Qemu,
}

#[derive(Clone, Copy, ValueEnum)]
enum Method {
    Minmax,
    Percentile,
    Entropy,
}

/// How a model is read: ONNX input shapes and post-training quantization.
#[derive(Args)]
struct LoadArgs {
    /// Calibration inputs for a float model: an .npy of samples stacked
    /// along the first axis, or a directory of .npy files.
    #[arg(long)]
    calib: Option<PathBuf>,
    /// How calibrated ranges are chosen.
    #[arg(long, value_enum, default_value = "minmax")]
    calib_method: Method,
    /// Static shape for an ONNX input with dynamic dimensions:
    /// NAME=D0,D1,... (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    input_shapes: Vec<String>,
}

impl LoadArgs {
    fn options(&self) -> mcuc::Result<mcuc::pipeline::LoadOptions> {
        let mut o = mcuc::pipeline::LoadOptions {
            calibration: self.calib.clone(),
            calib_method: match self.calib_method {
                Method::Minmax => mcuc::CalibMethod::MinMax,
                Method::Percentile => mcuc::CalibMethod::Percentile,
                Method::Entropy => mcuc::CalibMethod::Entropy,
            },
            ..Default::default()
        };
        for spec in &self.input_shapes {
            let (name, dims) = parse_shape(spec)?;
            o.import.input_shapes.insert(name, dims);
        }
        Ok(o)
    }
}

fn parse_shape(spec: &str) -> mcuc::Result<(String, Vec<usize>)> {
    let bad = || mcuc::Error::Usage {
        message: format!("--input-shape `{spec}`: expected NAME=D0,D1,... with positive integers"),
    };
    let (name, dims) = spec.rsplit_once('=').ok_or_else(bad)?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok((name.to_string(), dims))
}

/// Patch-based inference options.
#[derive(Args, Debug)]
struct PatchArgs {
    /// Patch-based inference of the first stage: `fit` (only when the
    /// per-layer plan does not fit the target), `min` (the smallest arena
    /// within --patch-overhead), `none`, or `ROWSxCOLS@STEP` (e.g. `3x3@12`:
    /// the stage ends at that step of the execution order).
    #[arg(long, default_value = "fit", value_name = "MODE")]
    patch: String,
    /// Extra MACs `--patch min` may spend, as a fraction of the network's.
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    patch_overhead: f64,
}

impl PatchArgs {
    /// The patch mode and MAC-overhead budget.
    fn parse(&self) -> mcuc::Result<(mcuc::patch::PatchMode, f64)> {
        let mode = self.patch.parse()?;
        if !(self.patch_overhead >= 0.0 && self.patch_overhead.is_finite()) {
            return Err(mcuc::Error::Usage {
                message: format!(
                    "--patch-overhead {} must be a fraction >= 0",
                    self.patch_overhead
                ),
            });
        }
        Ok((mode, self.patch_overhead))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Compile a model into a Rust module, weights, memory.x and a report.
    Compile {
        model: PathBuf,
        #[arg(long, default_value = "f746")]
        target: String,
        /// Output directory.
        #[arg(short, long, default_value = "mcuc-out")]
        out: PathBuf,
        /// Stem of the generated module and files.
        #[arg(long, default_value = "model")]
        name: String,
        /// Force one memory placement strategy.
        #[arg(long)]
        planner: Option<String>,
        /// Memory map of memory.x: the device's or QEMU's.
        #[arg(long, value_enum, default_value = "device")]
        memory_map: Map,
        #[command(flatten)]
        patch: PatchArgs,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Print the memory plan: arena, lower bound, per-layer buffers.
    Plan {
        /// The model; with --compare, an optional corpus folder.
        #[arg(required_unless_present = "compare")]
        model: Option<PathBuf>,
        #[arg(long, default_value = "f746")]
        target: String,
        /// Force one memory placement strategy.
        #[arg(long)]
        planner: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also draw the plan (memory over execution steps) as SVG.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Plan every model of a corpus (MODEL, else $MCUC_MODELS, else
        /// ../shared/models or tests/models) and compare with TFLite
        /// Micro's arena and the lower bound.
        #[arg(long)]
        compare: bool,
        #[command(flatten)]
        patch: PatchArgs,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Print one line per layer (op, shapes, params, MACs, weight bytes) and totals.
    Inspect {
        model: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run the model on the host with the reference integer kernels.
    Run {
        model: PathBuf,
        /// Input .npy files, one per model input, in the model's input order.
        #[arg(long = "input", required = true)]
        inputs: Vec<PathBuf>,
        /// Output .npy files, one per model output, in the model's output order.
        #[arg(long = "output", required = true)]
        outputs: Vec<PathBuf>,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// List the built-in targets.
    Targets,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::from(code as u8)
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> mcuc::Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| mcuc::Error::Usage {
        message: format!("cannot serialize: {e}"),
    })
}

fn run(cli: Cli) -> mcuc::Result<()> {
    match cli.command {
        Command::Compile {
            model,
            target,
            out,
            name,
            planner,
            memory_map,
            patch,
            load,
        } => {
            let opts = load.options()?;
            let mut build = mcuc::Build::new(&model);
            let (mode, overhead) = patch.parse()?;
            build.patch(mode).patch_overhead(overhead);
            if let Some(c) = &opts.calibration {
                build.calibration(c).calibration_method(opts.calib_method);
            }
            for (name, dims) in &opts.import.input_shapes {
                build.input_shape(name, dims);
            }
            build
                .target(&target)
                .name(&name)
                .out_dir(&out)
                .memory_map(match memory_map {
                    Map::Device => mcuc::MemoryMap::Device,
                    Map::Qemu => mcuc::MemoryMap::Qemu,
                });
            if let Some(p) = &planner {
                build.planner(p);
            }
            let report = build.compile()?;
            print!("{}", mcuc::pipeline::render_report(&report));
            println!("\nwrote {}", out.display());
            Ok(())
        }
        Command::Plan {
            model,
            target,
            planner,
            json: as_json,
            svg,
            compare,
            patch,
            load,
        } => {
            let mut opts = mcuc::Options::default();
            opts.planner.strategy = planner;
            (opts.patch, opts.patch_overhead) = patch.parse()?;
            if compare {
                return compare_corpus(model, &opts.planner, as_json);
            }
            let model = model.ok_or_else(|| mcuc::Error::Usage {
                message: "mcuc plan needs a MODEL (or --compare)".into(),
            })?;
            let target = mcuc::Target::builtin(&target)?;
            let graph = mcuc::pipeline::load_with(&model, &load.options()?)?;
            let (planned, report) = mcuc::pipeline::plan(&graph, &target, &opts)?;
            if let Some(path) = svg {
                let note = report.patch.as_ref().map(|p| {
                    format!(
                        "patch-based: steps 0..={} run patch by patch on a {}x{} grid (tensors sized for one patch; the input is outside the arena), +{:.1}% MACs, {} B per layer",
                        p.split_layer,
                        p.grid[0],
                        p.grid[1],
                        100.0 * p.extra_macs_ratio,
                        p.per_layer_arena_bytes
                    )
                });
                let picture = mcuc::plan::svg::render_with_note(
                    planned.graph(&graph),
                    planned.memory(),
                    note.as_deref(),
                );
                std::fs::write(&path, picture).map_err(|err| mcuc::Error::Io {
                    path: path.clone(),
                    err,
                })?;
            }
            if as_json {
                println!("{}", json(&report)?);
            } else {
                print!("{}", mcuc::pipeline::render_report(&report));
            }
            Ok(())
        }
        Command::Inspect {
            model,
            json: as_json,
        } => {
            let graph = mcuc::import::load(&model)?;
            let summary = mcuc::inspect::summarize(&graph)?;
            if as_json {
                println!("{}", json(&summary)?);
            } else {
                print!("{}", mcuc::inspect::render_text(&summary));
            }
            Ok(())
        }
        Command::Run {
            model,
            inputs,
            outputs,
            load,
        } => mcuc::exec::run_files_with(&model, &load.options()?, &inputs, &outputs),
        Command::Targets => {
            for t in mcuc::targets::builtin_targets()? {
                println!(
                    "{:<10} {:<14} {:<22} SRAM {:>4} KB  flash {:>5} KB  {}{}",
                    t.name,
                    t.core,
                    t.triple,
                    t.sram_bytes() / 1024,
                    t.flash.length / 1024,
                    if t.dsp { "DSP " } else { "" },
                    t.qemu
                        .as_ref()
                        .map(|q| format!("qemu {}", q.machine))
                        .unwrap_or_else(|| "no qemu".into())
                );
            }
            Ok(())
        }
    }
}

/// `mcuc plan --compare`: the corpus table (TFLM arena, mcuc arena, lower
/// bound, ratios, in-place savings).
fn compare_corpus(
    dir: Option<PathBuf>,
    planner: &mcuc::plan::PlanOptions,
    as_json: bool,
) -> mcuc::Result<()> {
    let dir = dir
        .or_else(mcuc::plan::corpus::models_dir)
        .ok_or_else(|| mcuc::Error::Usage {
            message: "no corpus: pass a folder, or set MCUC_MODELS".into(),
        })?;
    let rows = mcuc::plan::corpus::plan_corpus(&dir, planner)?;
    if as_json {
        println!("{}", json(&rows)?);
    } else {
        println!("corpus: {}", dir.display());
        print!("{}", mcuc::plan::corpus::render_table(&rows));
    }
    Ok(())
}
