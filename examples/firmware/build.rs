//! Puts the model under test into `$OUT_DIR/model.rs` and `$OUT_DIR/memory.x`.
//!
//! Inputs (environment, set by the QEMU harness in `tests/src/qemu.rs`):
//! - `MCUC_MODEL`: path of the `.tflite`/`.onnx` model, compiled with
//!   `mcuc::Build` for `MCUC_TARGET` (needs the default feature `mcuc`).
//! - `MCUC_PREGENERATED`: instead of compiling, a folder that already holds
//!   `model.rs` and `memory.x` (test fixtures such as `tests/qemu/calib/`).
//!   Takes precedence over `MCUC_MODEL`.

use std::env;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    for var in ["MCUC_MODEL", "MCUC_TARGET", "MCUC_PREGENERATED"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    // cortex-m-rt's linker script (it INCLUDEs the memory.x found on the link
    // search path). Set here so the harness's rustflags carry only core tuning.
    println!("cargo:rustc-link-arg-bins=-Tlink.x");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);

    if let Some(dir) = env::var_os("MCUC_PREGENERATED") {
        return use_pregenerated(Path::new(&dir), &out_dir);
    }
    let model = env::var("MCUC_MODEL").map_err(|_| {
        "set MCUC_MODEL to the model to compile (or MCUC_PREGENERATED to a folder \
         with model.rs and memory.x); `cargo xtask qemu` does this"
    })?;
    let target = env::var("MCUC_TARGET").map_err(|_| "set MCUC_TARGET (e.g. f746)")?;
    compile_with_mcuc(Path::new(&model), &target, &out_dir)
}

/// The only place that calls the compiler. `mcuc::Build::compile` writes
/// `model.rs` and `memory.x` into `out_dir`, prints `cargo:rustc-link-search`
/// for `memory.x` and `cargo:rerun-if-changed` for its inputs.
#[cfg(feature = "mcuc")]
fn compile_with_mcuc(model: &Path, target: &str, out_dir: &Path) -> Result<()> {
    mcuc::Build::new(model)
        .name("model")
        .target(target)
        .out_dir(out_dir)
        .compile()?;
    // This firmware runs on the QEMU machine of the target's core, whose
    // memory map differs from the device's (flash at 0, RAM at 0x2000_0000).
    // Until `Build` can be asked for that map, replace the memory.x it wrote
    // by the QEMU one (same sizes and stack reservation, QEMU's origins).
    let t = mcuc::targets::Target::builtin(target)?;
    let memory_x = t.memory_x(mcuc::targets::MemoryMap::Qemu)?;
    write_if_changed(&out_dir.join("memory.x"), memory_x.as_bytes())
}

#[cfg(not(feature = "mcuc"))]
fn compile_with_mcuc(model: &Path, _target: &str, _out_dir: &Path) -> Result<()> {
    Err(format!(
        "cannot compile {}: built without feature `mcuc`; set MCUC_PREGENERATED instead",
        model.display()
    )
    .into())
}

fn use_pregenerated(dir: &Path, out_dir: &Path) -> Result<()> {
    for name in ["model.rs", "memory.x", "model.weights.bin"] {
        let src = dir.join(name);
        if name.ends_with(".bin") && !src.exists() {
            continue; // a model without constant data has no blob
        }
        println!("cargo:rerun-if-changed={}", src.display());
        let text = fs::read(&src)
            .map_err(|e| format!("MCUC_PREGENERATED: cannot read {}: {e}", src.display()))?;
        write_if_changed(&out_dir.join(name), &text)?;
    }
    println!("cargo:rustc-link-search={}", out_dir.display());
    Ok(())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
