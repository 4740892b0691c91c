//! QEMU side of the test and measurement pipeline.
//!
//! ```text
//!  model ──cargo build (examples/firmware, build.rs → mcuc::Build)──▶ ELF ──▶ markers, sizes (elf.rs)
//!                                                                   │
//!  .npy inputs ──raw bytes──▶ qemu-system-arm + insn_count plugin ◀──┘
//!                                   │ semihosting: i=in0.bin … o=out0.bin
//!                                   ▼
//!        outputs (raw → .npy), insns (between mcuc_mark_start/end), stack
//! ```
//!
//! Guarantees: `insns` counts exactly the guest instructions from the first
//! instruction of `mcuc_mark_start` up to the first instruction of
//! `mcuc_mark_end` (the inference plus a handful of call instructions) and is
//! identical between runs of the same ELF and inputs. Every failure (missing
//! tool, build error, input that does not match the model, HardFault, lockup,
//! timeout) is an [`Error`] with a message meant for the user; nothing here
//! panics on bad input.
//!
//! A target is a plain [`QemuTarget`] (`triple`, `rustflags`, `machine`),
//! normally taken from the compiler's target table
//! ([`QemuTarget::builtin`] → `mcuc::targets::Target`). Arrays are
//! `mcuc::npy::Array`s.

pub mod elf;

use std::env;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use elf::Elf;
pub use mcuc::ir::DType;
pub use mcuc::npy::Array;

/// Name of the start marker symbol in the firmware.
pub const MARK_START: &str = "mcuc_mark_start";
/// Name of the end marker symbol in the firmware.
pub const MARK_END: &str = "mcuc_mark_end";
/// Sections of the load image (what goes to flash).
pub const FLASH_SECTIONS: [&str; 4] = [".vector_table", ".text", ".rodata", ".data"];
/// Sections of static RAM (the stack is measured separately).
pub const RAM_SECTIONS: [&str; 3] = [".data", ".bss", ".uninit"];

/// Everything that can go wrong, with a message for the user.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read or written.
    Io { what: String, source: io::Error },
    /// A `.npy` file or array is malformed or unsupported.
    Npy(String),
    /// The compiler's target table rejected the target name.
    Target(String),
    /// The firmware ELF is malformed or lacks the markers.
    Elf(String),
    /// An external program is missing or failed (gcc, qemu-system-arm).
    Tool { tool: String, message: String },
    /// The target has no QEMU machine to run on.
    NoMachine { target: String, triple: String },
    /// `cargo build` of the firmware failed; `log` is the end of its output.
    Build { log: String },
    /// The inputs do not match the model's inputs.
    Mismatch(String),
    /// QEMU did not finish in time.
    Timeout { secs: f64, stdout: String },
    /// The firmware took a HardFault; `location`/`caller` name the
    /// functions holding `pc`/`lr` when the ELF knows them.
    HardFault {
        pc: u32,
        lr: u32,
        location: String,
        caller: String,
    },
    /// The core locked up (a fault while the stack was unusable).
    Lockup { stderr: String },
    /// The firmware reported an error (`mcuc-error:` line or a panic).
    Firmware(String),
    /// QEMU failed in another way.
    Qemu {
        status: String,
        stdout: String,
        stderr: String,
    },
    /// The instruction counter gave no usable result.
    Count(String),
    /// mcuc refused or failed to compile the model.
    Compiler(mcuc::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Npy(m) | Error::Elf(m) | Error::Mismatch(m) | Error::Count(m) => f.write_str(m),
            Error::Compiler(e) => write!(f, "mcuc: {e}"),
            Error::Tool { tool, message } => write!(f, "{tool}: {message}"),
            Error::Target(m) => f.write_str(m),
            Error::NoMachine { target, triple } => write!(
                f,
                "target '{target}' ({triple}) cannot run under QEMU: no QEMU machine emulates \
                 this core (the MPS2 boards are Cortex-M3/M4/M7 only); build-only \
                 measurements (flash, ram) still work"
            ),
            Error::Build { log } => write!(f, "building the firmware failed:\n{log}"),
            Error::Timeout { secs, stdout } => {
                write!(
                    f,
                    "QEMU timed out after {secs:.1} s (endless loop or a model too slow for the timeout)"
                )?;
                tail_section(f, "firmware output", stdout)
            }
            Error::HardFault {
                pc,
                lr,
                location,
                caller,
            } => {
                write!(
                    f,
                    "the firmware took a HardFault at pc={pc:#010x}{location}, lr={lr:#010x}{caller}"
                )
            }
            Error::Lockup { stderr } => {
                write!(f, "the core locked up (usually a stack overflow below RAM)")?;
                match stderr.lines().find(|l| l.contains("Lockup")) {
                    Some(line) => write!(f, ": {}", line.trim()),
                    None => tail_section(f, "QEMU", stderr),
                }
            }
            Error::Firmware(m) => write!(f, "the firmware failed: {m}"),
            Error::Qemu {
                status,
                stdout,
                stderr,
            } => {
                write!(f, "QEMU failed ({status})")?;
                tail_section(f, "stdout", stdout)?;
                tail_section(f, "stderr", stderr)
            }
        }
    }
}

fn tail_section(f: &mut fmt::Formatter<'_>, what: &str, text: &str) -> fmt::Result {
    let text = tail(text, 20);
    if text.trim().is_empty() {
        Ok(())
    } else {
        write!(f, "\n--- {what} ---\n{text}")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// How to build and run for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuTarget {
    /// Target name given to the compiler (`MCUC_TARGET`), e.g. `f746`; also
    /// names the firmware's cargo target dir.
    pub name: String,
    /// Rust target triple, e.g. `thumbv7em-none-eabihf`.
    pub triple: String,
    /// rustc flags for the core, one argument each (`-C`, `target-cpu=cortex-m7`).
    pub rustflags: Vec<String>,
    /// QEMU machine (`-M`), `None` when no machine emulates the core.
    pub machine: Option<String>,
    /// Stack bytes the target reserves, if known; a run whose measured
    /// `stack_total` exceeds it would overflow on the device.
    pub stack_bytes: Option<u64>,
}

impl QemuTarget {
    pub fn new(name: &str, triple: &str, rustflags: &[&str], machine: Option<&str>) -> QemuTarget {
        QemuTarget {
            name: name.into(),
            triple: triple.into(),
            rustflags: rustflags.iter().map(|s| s.to_string()).collect(),
            machine: machine.map(Into::into),
            stack_bytes: None,
        }
    }

    /// A target of the compiler's built-in table (`compiler/targets/*.toml`).
    pub fn builtin(name: &str) -> Result<QemuTarget> {
        let t = mcuc::targets::Target::builtin(name).map_err(|e| Error::Target(e.to_string()))?;
        Ok(QemuTarget::from_target(&t))
    }

    pub fn from_target(t: &mcuc::targets::Target) -> QemuTarget {
        QemuTarget {
            name: t.name.clone(),
            triple: t.triple.clone(),
            rustflags: t.rustflags.clone(),
            machine: t.qemu.as_ref().map(|q| q.machine.clone()),
            stack_bytes: Some(t.stack_bytes),
        }
    }

    /// The QEMU machine, or [`Error::NoMachine`].
    pub fn machine(&self) -> Result<&str> {
        self.machine.as_deref().ok_or_else(|| Error::NoMachine {
            target: self.name.clone(),
            triple: self.triple.clone(),
        })
    }
}

/// Where the firmware's model comes from.
#[derive(Clone, Debug)]
pub enum ModelSource {
    /// A `.tflite`/`.onnx` file that build.rs compiles with `mcuc::Build`.
    Compile(PathBuf),
    /// A folder that already holds `model.rs` and `memory.x` (built without
    /// the compiler, with `--no-default-features`).
    Pregenerated(PathBuf),
}

impl ModelSource {
    /// A folder means [`ModelSource::Pregenerated`], a file [`ModelSource::Compile`].
    pub fn from_path(path: &Path) -> Result<ModelSource> {
        let meta = fs::metadata(path).map_err(io_err(format!("model {}", path.display())))?;
        Ok(if meta.is_dir() {
            ModelSource::Pregenerated(path.into())
        } else {
            ModelSource::Compile(path.into())
        })
    }
}

/// Compiles `model` for `target` in this process (QEMU memory map) into a
/// fresh directory, for [`ModelSource::Pregenerated`]: the firmware then
/// builds without compiling mcuc as a build dependency. `check_fit = false`
/// lets a model through that the linker must then refuse.
pub fn pregenerate(model: &Path, target: &QemuTarget, check_fit: bool) -> Result<Pregenerated> {
    pregenerate_patched(model, target, check_fit, mcuc::patch::PatchMode::Fit).map(|(g, _)| g)
}

/// [`pregenerate`] with a patch mode; also returns the compiler's report.
pub fn pregenerate_patched(
    model: &Path,
    target: &QemuTarget,
    check_fit: bool,
    patch: mcuc::patch::PatchMode,
) -> Result<(Pregenerated, mcuc::Report)> {
    let dir = TempDir::new("gen")?;
    let report = mcuc::Build::new(model)
        .name("model")
        .target(&target.name)
        .memory_map(mcuc::MemoryMap::Qemu)
        .check_fit(check_fit)
        .patch(patch)
        .out_dir(dir.path())
        .compile()
        .map_err(Error::Compiler)?;
    Ok((
        Pregenerated {
            source: ModelSource::Pregenerated(dir.path().to_path_buf()),
            _dir: dir,
        },
        report,
    ))
}

/// Generated model files in a temporary directory (removed on drop).
pub struct Pregenerated {
    pub source: ModelSource,
    _dir: TempDir,
}

#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Overrides the firmware's `opt-level` (`"3"`, `"s"`, `"z"`, ...).
    pub opt_level: Option<String>,
    /// Let cargo print its progress to our stderr instead of capturing it.
    pub show_cargo_output: bool,
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Wall-clock limit for one QEMU run.
    pub timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(60),
        }
    }
}

/// A built firmware, copied out of the cargo target dir so later builds for
/// the same target cannot replace it while it runs.
#[derive(Debug)]
pub struct Firmware {
    pub elf_path: PathBuf,
    /// `.vector_table + .text + .rodata + .data` in bytes.
    pub flash: u64,
    /// `.data + .bss + .uninit` in bytes (no stack).
    pub ram: u64,
    /// Marker addresses with the Thumb bit cleared.
    pub mark_start: u32,
    pub mark_end: u32,
    pub elf: Elf,
    _dir: Option<TempDir>,
}

impl Firmware {
    /// Reads markers and sizes from an ELF in place.
    pub fn from_elf(path: &Path) -> Result<Firmware> {
        let elf = Elf::read(path).map_err(Error::Elf)?;
        if elf.machine != 40 {
            return Err(Error::Elf(format!(
                "{}: not an ARM ELF (e_machine {})",
                path.display(),
                elf.machine
            )));
        }
        let marker = |name: &str| -> Result<u32> {
            let sym = elf
                .symbol(name)
                .filter(|s| s.is_function())
                .ok_or_else(|| {
                    Error::Elf(format!(
                        "{}: no function symbol `{name}` (the firmware must define \
                     #[no_mangle] #[inline(never)] extern \"C\" fn {name})",
                        path.display()
                    ))
                })?;
            Ok(sym.addr())
        };
        let (mark_start, mark_end) = (marker(MARK_START)?, marker(MARK_END)?);
        if mark_start == mark_end {
            return Err(Error::Elf(format!(
                "{}: {MARK_START} and {MARK_END} share address {mark_start:#x} (the linker merged \
                 identical bodies; give them different bodies)",
                path.display()
            )));
        }
        let sum = |names: &[&str]| names.iter().map(|n| elf.section_size(n)).sum();
        Ok(Firmware {
            elf_path: path.into(),
            flash: sum(&FLASH_SECTIONS),
            ram: sum(&RAM_SECTIONS),
            mark_start,
            mark_end,
            _dir: None,
            elf,
        })
    }

    /// `" (in function+0xoff)"` for an address in a known function, else "".
    pub fn locate(&self, addr: u32) -> String {
        match self.elf.function_at(addr & !1) {
            Some((sym, off)) => format!(" (in {}+{off:#x})", elf::demangle(&sym.name)),
            None => String::new(),
        }
    }
}

/// One model input or output as the firmware describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDesc {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub bytes: usize,
    pub scale: f32,
    pub zero_point: i32,
}

impl fmt::Display for TensorDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' {} {}",
            self.name,
            self.dtype,
            ShapeFmt(&self.shape)
        )
    }
}

/// The model's inputs and outputs, in model order.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelIo {
    pub inputs: Vec<TensorDesc>,
    pub outputs: Vec<TensorDesc>,
}

/// Result of one inference under QEMU.
#[derive(Clone, Debug, PartialEq)]
pub struct QemuRun {
    /// One array per model output, in model order.
    pub outputs: Vec<Array>,
    /// Guest instructions between the markers (one inference).
    pub insns: u64,
    /// Flash image bytes (`.vector_table + .text + .rodata + .data`).
    pub flash: u64,
    /// Static RAM bytes (`.data + .bss + .uninit`).
    pub ram: u64,
    /// Peak stack of the inference itself, below the caller's frame.
    pub stack: u64,
    /// Peak stack measured from the top of RAM (adds the firmware's frames).
    pub stack_total: u64,
}

/// Builds (or reuses) the instruction-counting plugin and returns its path.
pub fn plugin() -> Result<PathBuf> {
    let src = workspace_root().join("tests/qemu/insn_count.c");
    let dir = harness_dir();
    fs::create_dir_all(&dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
    let so = dir.join("libinsn_count.so");
    let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let src_time = mtime(&src).ok_or_else(|| Error::Tool {
        tool: "insn_count plugin".into(),
        message: format!("source {} is missing", src.display()),
    })?;
    if mtime(&so).is_some_and(|t| t >= src_time) {
        return Ok(so);
    }
    // Build under a unique name, then rename: concurrent builders never see
    // a half-written library.
    let tmp = dir.join(format!(
        "libinsn_count.{}.{}.tmp",
        std::process::id(),
        unique()
    ));
    let out = Command::new("gcc")
        .args([
            "-shared",
            "-fPIC",
            "-O2",
            "-fvisibility=hidden",
            "-Wall",
            "-o",
        ])
        .arg(&tmp)
        .arg(&src)
        .output()
        .map_err(|e| tool_error("gcc", e, "apt-get install gcc"))?;
    if !out.status.success() {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Tool {
            tool: "gcc".into(),
            message: format!(
                "building the QEMU plugin failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    fs::rename(&tmp, &so).map_err(io_err(format!("cannot move plugin to {}", so.display())))?;
    Ok(so)
}

/// Builds `examples/firmware` around `model` for `target`.
pub fn build_firmware(
    model: &ModelSource,
    target: &QemuTarget,
    opts: &BuildOptions,
) -> Result<Firmware> {
    let root = workspace_root();
    let crate_dir = root.join("examples/firmware");
    let target_dir = harness_dir().join(format!("fw-{}", sanitize(&target.name)));
    fs::create_dir_all(&target_dir)
        .map_err(io_err(format!("cannot create {}", target_dir.display())))?;

    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&crate_dir)
        .args(["build", "--release", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .args(["--target", &target.triple])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("MCUC_TARGET", &target.name)
        .env("CARGO_ENCODED_RUSTFLAGS", target.rustflags.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .stdin(Stdio::null());
    match model {
        ModelSource::Compile(path) => {
            let path =
                fs::canonicalize(path).map_err(io_err(format!("model {}", path.display())))?;
            cmd.env("MCUC_MODEL", path).env_remove("MCUC_PREGENERATED");
        }
        ModelSource::Pregenerated(dir) => {
            for f in ["model.rs", "memory.x"] {
                let p = dir.join(f);
                if !p.is_file() {
                    return Err(Error::Io {
                        what: format!("pregenerated model {}", p.display()),
                        source: io::ErrorKind::NotFound.into(),
                    });
                }
            }
            let dir = fs::canonicalize(dir).map_err(io_err(format!("model {}", dir.display())))?;
            cmd.env("MCUC_PREGENERATED", dir)
                .env_remove("MCUC_MODEL")
                .arg("--no-default-features");
        }
    }
    if let Some(level) = &opts.opt_level {
        cmd.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", level);
    }

    // Hold a lock on the target dir from build to copy: another build for the
    // same target (other test thread, other process) would replace the ELF.
    let lock_path = target_dir.join("mcuc-harness.lock");
    let lock = fs::File::create(&lock_path)
        .map_err(io_err(format!("cannot create {}", lock_path.display())))?;
    lock.lock()
        .map_err(io_err(format!("cannot lock {}", lock_path.display())))?;

    if opts.show_cargo_output {
        cmd.stderr(Stdio::inherit()).stdout(Stdio::inherit());
        let status = cmd
            .status()
            .map_err(|e| tool_error("cargo", e, "install Rust with rustup"))?;
        if !status.success() {
            return Err(Error::Build {
                log: "(see cargo's output above)".into(),
            });
        }
    } else {
        let out = cmd
            .output()
            .map_err(|e| tool_error("cargo", e, "install Rust with rustup"))?;
        if !out.status.success() {
            let mut log = tail(&String::from_utf8_lossy(&out.stderr), 60).to_string();
            if log.contains("can't find crate for `core`") {
                log.push_str(&format!("\nhint: rustup target add {}", target.triple));
            }
            return Err(Error::Build { log });
        }
    }

    let built = target_dir
        .join(&target.triple)
        .join("release")
        .join("mcuc-firmware");
    let dir = TempDir::new("fw")?;
    let elf_path = dir.path().join("firmware.elf");
    fs::copy(&built, &elf_path).map_err(io_err(format!("cannot copy {}", built.display())))?;
    drop(lock);
    let mut fw = Firmware::from_elf(&elf_path)?;
    fw._dir = Some(dir);
    Ok(fw)
}

/// Asks the firmware for its model's inputs and outputs (a short QEMU run).
pub fn describe(fw: &Firmware, target: &QemuTarget, opts: &RunOptions) -> Result<ModelIo> {
    let dir = TempDir::new("describe")?;
    let out = run_qemu(
        fw,
        target.machine()?,
        dir.path(),
        "describe",
        None,
        opts.timeout,
    )?;
    let mut io = ModelIo {
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    for line in out.lines().filter(|l| l.starts_with("mcuc-tensor ")) {
        let bad = || Error::Firmware(format!("unreadable tensor line: {line}"));
        let f: Vec<&str> = line.splitn(9, ' ').collect();
        if f.len() != 9 {
            return Err(bad());
        }
        let shape = f[4]
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(bad)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|d| d.parse::<usize>().map_err(|_| bad()))
            .collect::<Result<Vec<_>>>()?;
        let desc = TensorDesc {
            name: f[8].to_string(),
            dtype: dtype_from_name(f[3]).ok_or_else(|| {
                Error::Firmware(format!("unsupported dtype '{}' in: {line}", f[3]))
            })?,
            shape,
            bytes: f[5].parse().map_err(|_| bad())?,
            scale: f32::from_bits(
                u32::from_str_radix(f[6].trim_start_matches("0x"), 16).map_err(|_| bad())?,
            ),
            zero_point: f[7].parse().map_err(|_| bad())?,
        };
        if desc.bytes != desc.shape.iter().product::<usize>() * desc.dtype.size() {
            return Err(Error::Firmware(format!(
                "tensor size does not match its shape: {line}"
            )));
        }
        match f[1] {
            "in" => io.inputs.push(desc),
            "out" => io.outputs.push(desc),
            _ => return Err(bad()),
        }
    }
    if io.outputs.is_empty() {
        return Err(Error::Firmware(format!(
            "the model describes no outputs; firmware said:\n{}",
            tail(&out, 20)
        )));
    }
    Ok(io)
}

/// Checks `inputs` against the model: count, dtype and shape.
pub fn check_inputs(io: &ModelIo, inputs: &[Array]) -> Result<()> {
    let list = |ts: &[TensorDesc]| {
        ts.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if inputs.len() != io.inputs.len() {
        return Err(Error::Mismatch(format!(
            "the model takes {} input(s) ({}), got {}",
            io.inputs.len(),
            list(&io.inputs),
            inputs.len()
        )));
    }
    for (i, (t, a)) in io.inputs.iter().zip(inputs).enumerate() {
        if t.dtype != a.dtype || t.shape != a.shape {
            return Err(Error::Mismatch(format!(
                "input {i} ('{}'): the model expects {} {}, got {} {}",
                t.name,
                t.dtype,
                ShapeFmt(&t.shape),
                a.dtype,
                ShapeFmt(&a.shape)
            )));
        }
    }
    Ok(())
}

/// Runs one inference of `fw` on `inputs` with instruction counting.
pub fn run_firmware(
    fw: &Firmware,
    target: &QemuTarget,
    inputs: &[Array],
    opts: &RunOptions,
) -> Result<QemuRun> {
    let machine = target.machine()?;
    let io = describe(fw, target, opts)?;
    check_inputs(&io, inputs)?;
    let plugin = plugin()?;
    if plugin.to_string_lossy().contains(',') {
        return Err(Error::Tool {
            tool: "qemu-system-arm".into(),
            message: format!(
                "plugin path {} contains a comma, which -plugin cannot take",
                plugin.display()
            ),
        });
    }

    let dir = TempDir::new("run")?;
    let mut args = Vec::new();
    for (i, a) in inputs.iter().enumerate() {
        let name = format!("in{i}.bin");
        let p = dir.path().join(&name);
        fs::write(&p, &a.data).map_err(io_err(format!("cannot write {}", p.display())))?;
        args.push(format!("i={name}"));
    }
    for i in 0..io.outputs.len() {
        args.push(format!("o=out{i}.bin"));
    }
    let plugin_arg = format!(
        "{},start={:#x},end={:#x},out=insns.txt",
        plugin.display(),
        fw.mark_start,
        fw.mark_end
    );
    let stdout = run_qemu(
        fw,
        machine,
        dir.path(),
        &args.join(" "),
        Some(&plugin_arg),
        opts.timeout,
    )?;

    let done = stdout
        .lines()
        .find_map(|l| l.strip_prefix("mcuc-done "))
        .ok_or_else(|| {
            Error::Firmware(format!(
                "no summary line; firmware said:\n{}",
                tail(&stdout, 20)
            ))
        })?;
    let field = |text: &str, key: &str| -> Option<u64> {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    let stack =
        field(done, "stack").ok_or_else(|| Error::Firmware(format!("bad summary: {done}")))?;
    let stack_total = field(done, "stack_total")
        .ok_or_else(|| Error::Firmware(format!("bad summary: {done}")))?;

    let count_path = dir.path().join("insns.txt");
    let count = fs::read_to_string(&count_path).map_err(|e| {
        Error::Count(format!(
            "the plugin wrote no result ({}: {e})",
            count_path.display()
        ))
    })?;
    let hits = (field(&count, "start_hits"), field(&count, "end_hits"));
    if hits != (Some(1), Some(1)) {
        return Err(Error::Count(format!(
            "each marker must run exactly once per run, plugin reported: {}",
            count.trim()
        )));
    }
    let insns = field(&count, "insns").ok_or_else(|| {
        Error::Count(format!(
            "the end marker never followed the start marker: {}",
            count.trim()
        ))
    })?;

    let mut outputs = Vec::new();
    for (i, t) in io.outputs.iter().enumerate() {
        let p = dir.path().join(format!("out{i}.bin"));
        let data =
            fs::read(&p).map_err(io_err(format!("output {i} ('{}') {}", t.name, p.display())))?;
        if data.len() != t.bytes {
            return Err(Error::Firmware(format!(
                "output {i} ('{}') has {} bytes, expected {}",
                t.name,
                data.len(),
                t.bytes
            )));
        }
        outputs.push(Array::new(t.dtype, t.shape.clone(), data));
    }
    Ok(QemuRun {
        outputs,
        insns,
        flash: fw.flash,
        ram: fw.ram,
        stack,
        stack_total,
    })
}

/// Builds the firmware for `model` and runs one counted inference.
pub fn run_model(
    model: &ModelSource,
    target: &QemuTarget,
    inputs: &[Array],
    build: &BuildOptions,
    run: &RunOptions,
) -> Result<QemuRun> {
    target.machine()?; // fail before a long build
    let fw = build_firmware(model, target, build)?;
    run_firmware(&fw, target, inputs, run)
}

/// Runs QEMU in `cwd` and returns its stdout, or the classified failure.
fn run_qemu(
    fw: &Firmware,
    machine: &str,
    cwd: &Path,
    append: &str,
    plugin: Option<&str>,
    timeout: Duration,
) -> Result<String> {
    let kernel = fs::canonicalize(&fw.elf_path)
        .map_err(io_err(format!("firmware {}", fw.elf_path.display())))?;
    if kernel.to_string_lossy().contains(char::is_whitespace) {
        // The firmware splits its command line ("<kernel> <append>") at spaces.
        return Err(Error::Tool {
            tool: "qemu-system-arm".into(),
            message: format!("firmware path {} contains whitespace", kernel.display()),
        });
    }
    let stdout_path = cwd.join("qemu.stdout");
    let stderr_path = cwd.join("qemu.stderr");
    let open =
        |p: &Path| fs::File::create(p).map_err(io_err(format!("cannot create {}", p.display())));
    let mut cmd =
        Command::new(env::var_os("MCUC_QEMU").unwrap_or_else(|| OsString::from("qemu-system-arm")));
    cmd.current_dir(cwd)
        .args(["-M", machine, "-nographic", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(&kernel)
        .args(["-append", append]);
    if let Some(p) = plugin {
        cmd.args(["-plugin", p]);
    }
    // Output goes to files: a reader that stops early can hang QEMU.
    cmd.stdin(Stdio::null())
        .stdout(open(&stdout_path)?)
        .stderr(open(&stderr_path)?);

    let mut child = cmd
        .spawn()
        .map_err(|e| tool_error("qemu-system-arm", e, "apt-get install qemu-system-arm"))?;
    let start = Instant::now();
    let status: Option<ExitStatus> = loop {
        match child
            .try_wait()
            .map_err(io_err("waiting for qemu-system-arm"))?
        {
            Some(s) => break Some(s),
            None if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let read = |p: &Path| {
        fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
    let Some(status) = status else {
        return Err(Error::Timeout {
            secs: timeout.as_secs_f64(),
            stdout,
        });
    };
    if status.success() {
        return Ok(stdout);
    }
    if let Some(rest) = stdout.lines().find_map(|l| l.strip_prefix("HardFault ")) {
        let hex = |key: &str| {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0)
        };
        let (pc, lr) = (hex("pc="), hex("lr="));
        return Err(Error::HardFault {
            pc,
            lr,
            location: fw.locate(pc),
            caller: fw.locate(lr),
        });
    }
    if stderr.contains("Lockup") {
        return Err(Error::Lockup { stderr });
    }
    if let Some(msg) = stdout.lines().find_map(|l| l.strip_prefix("mcuc-error: ")) {
        return Err(Error::Firmware(msg.to_string()));
    }
    if let Some(i) = stderr.find("panicked at") {
        return Err(Error::Firmware(stderr[i..].trim_end().to_string()));
    }
    if plugin.is_some() && stderr.contains("plugin") {
        return Err(Error::Tool {
            tool: "qemu-system-arm -plugin".into(),
            message: stderr,
        });
    }
    Err(Error::Qemu {
        status: status.to_string(),
        stdout,
        stderr,
    })
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array> {
    mcuc::npy::read(path).map_err(|e| Error::Npy(e.to_string()))
}

/// Writes a `.npy` file.
pub fn write_npy(path: &Path, array: &Array) -> Result<()> {
    mcuc::npy::write(path, array).map_err(|e| Error::Npy(e.to_string()))
}

/// An int8 array; `values.len()` must match `shape`.
pub fn i8_array(shape: &[usize], values: &[i8]) -> Array {
    debug_assert_eq!(shape.iter().product::<usize>(), values.len());
    Array::new(
        DType::Int8,
        shape.to_vec(),
        values.iter().map(|&v| v as u8).collect(),
    )
}

/// A float32 array; `values.len()` must match `shape`.
pub fn f32_array(shape: &[usize], values: &[f32]) -> Array {
    debug_assert_eq!(shape.iter().product::<usize>(), values.len());
    Array::new(
        DType::Float32,
        shape.to_vec(),
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// The elements of an int8 array.
pub fn as_i8(a: &Array) -> Option<Vec<i8>> {
    (a.dtype == DType::Int8).then(|| a.data.iter().map(|&b| b as i8).collect())
}

/// The elements of a float32 array.
pub fn as_f32(a: &Array) -> Option<Vec<f32>> {
    (a.dtype == DType::Float32).then(|| {
        a.data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// Inverse of `DType::name` (the names the firmware prints).
fn dtype_from_name(name: &str) -> Option<DType> {
    [
        DType::Int8,
        DType::UInt8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Float32,
        DType::Bool,
    ]
    .into_iter()
    .find(|d| d.name() == name)
}

/// Formats a shape as `[1, 28, 28, 1]`.
struct ShapeFmt<'a>(&'a [usize]);

impl fmt::Display for ShapeFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn tool_error(tool: &str, e: io::Error, install: &str) -> Error {
    let message = if e.kind() == io::ErrorKind::NotFound {
        format!("not found on PATH ({install})")
    } else {
        e.to_string()
    };
    Error::Tool {
        tool: tool.into(),
        message,
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> &str {
    let text = text.trim_end();
    match text.rmatch_indices('\n').nth(n.saturating_sub(1)) {
        Some((i, _)) => &text[i + 1..],
        None => text,
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn unique() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The workspace root (`/work/main`), fixed at compile time.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// `<target dir>/qemu`: plugin and per-target firmware builds. The target dir
/// is `$CARGO_TARGET_DIR` when set, else the workspace's `target/`.
pub fn harness_dir() -> PathBuf {
    let base = match env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                env::current_dir().unwrap_or_default().join(d)
            }
        }
        _ => workspace_root().join("target"),
    };
    base.join("qemu")
}

/// A directory removed on drop (kept when `MCUC_QEMU_KEEP` is set, for
/// debugging a run by hand).
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = env::temp_dir().join(format!(
            "mcuc-{tag}-{}-{}-{nanos}",
            std::process::id(),
            unique()
        ));
        fs::create_dir_all(&path).map_err(io_err(format!("cannot create {}", path.display())))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if env::var_os("MCUC_QEMU_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn targets_come_from_the_compiler_table() {
        let t = QemuTarget::builtin("f746").unwrap();
        assert_eq!(t.machine().unwrap(), "mps2-an500");
        assert_eq!(t.triple, "thumbv7em-none-eabihf");
        assert!(t.rustflags.iter().any(|f| f.contains("-fp64")));
        assert!(t.stack_bytes.is_some());
        assert_eq!(
            QemuTarget::builtin("nrf52840").unwrap().machine().unwrap(),
            "mps2-an386"
        );
        let m0 = QemuTarget::builtin("rp2040").unwrap();
        assert_eq!(m0.triple, "thumbv6m-none-eabi");
        let e = m0.machine().unwrap_err();
        assert!(matches!(e, Error::NoMachine { .. }));
        assert!(e.to_string().contains("cannot run under QEMU"), "{e}");
        let e = QemuTarget::builtin("esp32").unwrap_err().to_string();
        assert!(e.contains("esp32") && e.contains("f746"), "{e}");
    }

    #[test]
    fn inputs_are_checked_against_the_model() {
        let t = |name: &str, dtype: DType, shape: Vec<usize>| TensorDesc {
            name: name.into(),
            bytes: shape.iter().product::<usize>() * dtype.size(),
            dtype,
            shape,
            scale: 0.0,
            zero_point: 0,
        };
        let io = ModelIo {
            inputs: vec![t("x", DType::Int8, vec![1, 4])],
            outputs: vec![],
        };
        let good = i8_array(&[1, 4], &[0; 4]);
        check_inputs(&io, std::slice::from_ref(&good)).unwrap();
        let e = check_inputs(&io, &[]).unwrap_err().to_string();
        assert!(
            e.contains("takes 1 input(s) ('x' int8 [1, 4]), got 0"),
            "{e}"
        );
        let e = check_inputs(&io, &[f32_array(&[1, 4], &[0.0; 4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects int8 [1, 4], got float32 [1, 4]"), "{e}");
        let e = check_inputs(&io, &[i8_array(&[4], &[0; 4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("got int8 [4]"), "{e}");
    }

    #[test]
    fn array_helpers_round_trip() {
        assert_eq!(
            as_i8(&i8_array(&[3], &[-128, 0, 127])).unwrap(),
            [-128, 0, 127]
        );
        assert_eq!(
            as_f32(&f32_array(&[2], &[1.5, -0.25])).unwrap(),
            [1.5, -0.25]
        );
        assert!(as_f32(&i8_array(&[1], &[0])).is_none());
        for d in [
            DType::Int8,
            DType::UInt8,
            DType::Int16,
            DType::Int32,
            DType::Float32,
        ] {
            assert_eq!(dtype_from_name(d.name()), Some(d));
        }
    }
}
