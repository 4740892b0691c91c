//! The `mcuc` command line. Thin: every command calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
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
    },
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

fn run(cli: Cli) -> mcuc::Result<()> {
    match cli.command {
        Command::Inspect { model, json } => {
            let graph = mcuc::import::load(&model)?;
            let summary = mcuc::inspect::summarize(&graph)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).unwrap_or_default()
                );
            } else {
                print!("{}", mcuc::inspect::render_text(&summary));
            }
            Ok(())
        }
        Command::Run {
            model,
            inputs,
            outputs,
        } => mcuc::exec::run_files(&model, &inputs, &outputs),
    }
}
