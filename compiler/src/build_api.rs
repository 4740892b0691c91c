//! `Build`: the entry point for `build.rs` (and the CLI's `compile`).
//!
//! ```no_run
//! // build.rs of a firmware crate
//! fn main() -> Result<(), mcuc::Error> {
//!     mcuc::Build::new("models/kws.tflite").target("f746").compile().map(drop)
//! }
//! // src/main.rs: mcuc_runtime::include_model!(model);
//! ```
//!
//! `compile` writes `<name>.rs`, `<name>.weights.bin`, `memory.x`,
//! `report.txt` and `report.json` to the output directory (default
//! `$OUT_DIR`), rewriting only files whose contents changed, and prints
//! `cargo:rerun-if-changed` for the model. That replaces Cargo's default
//! rule of re-running the build script when any file of the package
//! changes: mcuc knows all of its inputs.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::passes::quantize::CalibMethod;
use crate::patch::PatchMode;
use crate::pipeline::{self, Generated, LoadOptions, Options, Report};
use crate::targets::{MemoryMap, Target};

/// Builder for one model compilation.
#[derive(Clone, Debug)]
pub struct Build {
    model: PathBuf,
    target: String,
    out_dir: Option<PathBuf>,
    options: Options,
    load: LoadOptions,
}

impl Build {
    pub fn new(model: impl AsRef<Path>) -> Build {
        Build {
            model: model.as_ref().to_path_buf(),
            target: "f746".into(),
            out_dir: None,
            options: Options::default(),
            load: LoadOptions::default(),
        }
    }

    /// Target name (`mcuc targets` lists them). Default `f746`.
    pub fn target(&mut self, name: &str) -> &mut Self {
        self.target = name.to_string();
        self
    }

    /// Stem of the generated files and module (default `model`).
    pub fn name(&mut self, name: &str) -> &mut Self {
        self.options.name = crate::codegen::names::module_name(name);
        self
    }

    /// Output directory (default: `$OUT_DIR`).
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Which memory map `memory.x` describes (default: the device's).
    pub fn memory_map(&mut self, map: MemoryMap) -> &mut Self {
        self.options.memory_map = map;
        self
    }

    /// Forces one placement strategy of the memory planner.
    pub fn planner(&mut self, strategy: &str) -> &mut Self {
        self.options.planner.strategy = Some(strategy.to_string());
        self
    }

    /// Patch-based inference of the first stage (default
    /// [`PatchMode::Fit`]: only when the per-layer plan does not fit).
    pub fn patch(&mut self, mode: PatchMode) -> &mut Self {
        self.options.patch = mode;
        self
    }

    /// Extra MACs [`PatchMode::Min`] may spend, as a fraction of the
    /// network's MACs (default 0.15).
    pub fn patch_overhead(&mut self, fraction: f64) -> &mut Self {
        self.options.patch_overhead = fraction;
        self
    }

    /// Whether to refuse models that do not fit the target (default true).
    /// Turn off only for host builds of the generated code.
    pub fn check_fit(&mut self, check: bool) -> &mut Self {
        self.options.check_fit = check;
        self
    }

    /// Calibration inputs for a float model (post-training quantization):
    /// an `.npy` of samples stacked along the first axis, or a directory of
    /// `.npy` files.
    pub fn calibration(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.load.calibration = Some(path.as_ref().to_path_buf());
        self
    }

    /// How calibrated ranges are chosen (default: min/max).
    pub fn calibration_method(&mut self, method: CalibMethod) -> &mut Self {
        self.load.calib_method = method;
        self
    }

    /// A static shape for an ONNX input with dynamic dimensions.
    pub fn input_shape(&mut self, name: &str, shape: &[usize]) -> &mut Self {
        self.load
            .import
            .input_shapes
            .insert(name.to_string(), shape.to_vec());
        self
    }

    /// Compiles into memory, writing nothing.
    pub fn generate(&self) -> Result<Generated> {
        let target = Target::builtin(&self.target)?;
        let graph = pipeline::load_with(&self.model, &self.load)?;
        let source = format!("{} ({})", graph.name, pipeline::source_name(&self.model));
        pipeline::compile(&graph, &source, &target, &self.options)
    }

    /// Compiles and writes the files; returns the report. Inside a build
    /// script (`OUT_DIR` set) it also prints the `cargo:` lines.
    pub fn compile(&self) -> Result<Report> {
        let build_script_out = std::env::var_os("OUT_DIR").map(PathBuf::from);
        let dir = self
            .out_dir
            .clone()
            .or_else(|| build_script_out.clone())
            .ok_or_else(|| Error::Usage {
                message:
                    "OUT_DIR environment variable is not set: call .out_dir() outside build.rs"
                        .into(),
            })?;
        if build_script_out.is_some() {
            println!("cargo:rerun-if-changed={}", self.model.display());
            if let Some(c) = &self.load.calibration {
                println!("cargo:rerun-if-changed={}", c.display());
            }
        }
        let generated = self.generate()?;
        write_files(&dir, &generated)?;
        if build_script_out.is_some() {
            println!("cargo:rustc-link-search={}", dir.display());
        }
        Ok(generated.report)
    }
}

/// Writes every file whose contents changed (so unchanged output does not
/// trigger rebuilds).
pub fn write_files(dir: &Path, generated: &Generated) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, bytes) in &generated.files {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// One-line shortcut: compile `model` for `target` into `$OUT_DIR`.
pub fn compile_model(model: impl AsRef<Path>, target: &str) -> Result<Report> {
    Build::new(model).target(target).compile()
}
