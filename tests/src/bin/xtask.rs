//! Dev tooling: `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `qemu MODEL --target T --input in.npy... [--output out.npy...]`: build
//!   the test firmware for T around MODEL, run one inference under QEMU,
//!   write the outputs, print `insns=N flash=F ram=R stack=S`.
//! - `size MODEL --target T`: build only, print `flash=F ram=R` (works for
//!   cores QEMU cannot run, such as the Cortex-M0+ of rp2040).
//! - `report [DIR] [--json]`: plan every corpus model and print TFLite
//!   Micro's arena, mcuc's arena, the lower bound and their ratios (the same
//!   table as `mcuc plan --compare`).
//!
//! MODEL is a `.tflite`/`.onnx` file, or a folder holding a pregenerated
//! `model.rs` and `memory.x`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mcuc_tests::qemu::{self, BuildOptions, Error, ModelSource, QemuTarget, RunOptions};

#[derive(Parser)]
#[command(name = "xtask", about = "mcuc dev tooling")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one inference under QEMU and print insns, flash, ram and stack.
    Qemu {
        #[command(flatten)]
        build: BuildArgs,
        /// Input .npy files, one per model input, in model order.
        #[arg(long = "input", value_name = "NPY")]
        inputs: Vec<PathBuf>,
        /// Where to write the outputs (.npy), one per model output, in model order.
        #[arg(long = "output", value_name = "NPY")]
        outputs: Vec<PathBuf>,
        /// Wall-clock limit for the QEMU run, in seconds.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// Build the firmware only and print its flash and ram.
    Size {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Plan every corpus model: TFLM arena vs mcuc arena vs lower bound.
    Report {
        /// Corpus folder (default: $MCUC_MODELS, ../shared/models, tests/models).
        dir: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct BuildArgs {
    /// Model file (.tflite/.onnx), or a folder with model.rs and memory.x.
    model: PathBuf,
    /// Target name from the compiler's table (f746, h743, f412, nrf52840, rp2040).
    #[arg(long)]
    target: String,
    /// Override the firmware's opt-level (3, s, z, ...).
    #[arg(long)]
    opt_level: Option<String>,
    /// Show cargo's build output.
    #[arg(long, short)]
    verbose: bool,
}

impl BuildArgs {
    fn prepare(&self) -> Result<(ModelSource, QemuTarget, BuildOptions), Error> {
        let target = QemuTarget::builtin(&self.target)?;
        let model = ModelSource::from_path(&self.model)?;
        let opts = BuildOptions {
            opt_level: self.opt_level.clone(),
            show_cargo_output: self.verbose,
        };
        Ok((model, target, opts))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<(), Error> {
    match cmd {
        Cmd::Qemu {
            build,
            inputs,
            outputs,
            timeout,
        } => {
            if !(timeout > 0.0 && timeout.is_finite()) {
                return Err(Error::Mismatch(format!(
                    "--timeout must be a positive number of seconds, got {timeout}"
                )));
            }
            let (model, target, build_opts) = build.prepare()?;
            target.machine()?;
            // Read every input before the (possibly long) build.
            let arrays = inputs
                .iter()
                .map(|p| qemu::read_npy(p))
                .collect::<Result<Vec<_>, _>>()?;
            let run_opts = RunOptions {
                timeout: Duration::from_secs_f64(timeout),
            };

            eprintln!(
                "building firmware for {} ({})...",
                target.name, target.triple
            );
            let fw = qemu::build_firmware(&model, &target, &build_opts)?;
            let io = qemu::describe(&fw, &target, &run_opts)?;
            qemu::check_inputs(&io, &arrays).map_err(|e| with_files(e, "--input", &inputs))?;
            if !outputs.is_empty() && outputs.len() != io.outputs.len() {
                let names = io
                    .outputs
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::Mismatch(format!(
                    "the model has {} output(s) ({names}), got {} --output",
                    io.outputs.len(),
                    outputs.len()
                )));
            }

            let r = qemu::run_firmware(&fw, &target, &arrays, &run_opts)?;
            for (array, path) in r.outputs.iter().zip(&outputs) {
                qemu::write_npy(path, array)?;
            }
            println!(
                "insns={} flash={} ram={} stack={}",
                r.insns, r.flash, r.ram, r.stack
            );
            if let Some(limit) = target.stack_bytes.filter(|&l| r.stack > l) {
                eprintln!(
                    "warning: the inference alone uses {} bytes of stack, more than the {limit} \
                     bytes target {} reserves for it",
                    r.stack, target.name
                );
            }
            Ok(())
        }
        Cmd::Size { build } => {
            let (model, target, build_opts) = build.prepare()?;
            let fw = qemu::build_firmware(&model, &target, &build_opts)?;
            println!("flash={} ram={}", fw.flash, fw.ram);
            Ok(())
        }
        Cmd::Report { dir, json } => {
            use mcuc::plan::{PlanOptions, corpus};
            let dir = dir.or_else(corpus::models_dir).ok_or_else(|| {
                Error::Mismatch("no corpus: pass a folder, or set MCUC_MODELS".into())
            })?;
            let rows =
                corpus::plan_corpus(&dir, &PlanOptions::default()).map_err(Error::Compiler)?;
            if json {
                let text = serde_json::to_string_pretty(&rows)
                    .map_err(|e| Error::Mismatch(format!("cannot serialize: {e}")))?;
                println!("{text}");
            } else {
                println!("corpus: {}", dir.display());
                print!("{}", corpus::render_table(&rows));
            }
            Ok(())
        }
    }
}

/// Adds the file names to an input mismatch, so the user sees which file is which.
fn with_files(e: Error, flag: &str, files: &[PathBuf]) -> Error {
    match e {
        Error::Mismatch(m) if !files.is_empty() => {
            let list = files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Error::Mismatch(format!("{m} (given {flag}: {list})"))
        }
        e => e,
    }
}
