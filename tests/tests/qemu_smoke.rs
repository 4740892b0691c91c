//! End-to-end tests of the QEMU harness (`mcuc_tests::qemu`).
//!
//! Most tests run the real firmware (`examples/firmware`) around the
//! calibration model `tests/qemu/calib/model.rs`, whose kernels are assembly
//! with known instruction counts and stack depths, so the counter and the
//! stack measurement are checked exactly, not just for repeatability.
//!
//! Needs `qemu-system-arm`, `gcc` and the rust target `thumbv7em-none-eabihf`
//! (and `thumbv6m-none-eabi` for the M0+ build); `arm-none-eabi-nm`/`-readelf`
//! are used, when present, to cross-check the ELF reader.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use mcuc_tests::qemu::elf::{Elf, SHT_NOBITS};
use mcuc_tests::qemu::{
    self, Array, BuildOptions, DType, Error, Firmware, ModelSource, QemuRun, QemuTarget,
    RunOptions, as_f32, as_i8, f32_array, i8_array, workspace_root,
};

fn calib_dir() -> PathBuf {
    workspace_root().join("tests/qemu/calib")
}

fn f746() -> QemuTarget {
    QemuTarget::builtin("f746").unwrap()
}

/// The calibration firmware for f746, built once per test binary.
fn calib_fw() -> &'static Firmware {
    static FW: OnceLock<Firmware> = OnceLock::new();
    FW.get_or_init(|| {
        qemu::build_firmware(
            &ModelSource::Pregenerated(calib_dir()),
            &f746(),
            &BuildOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Calibration inputs: `k` spin iterations, `trap` mode, stack depth `d`
/// (64-byte units); the rest of `x` and all of `f` are fixed data.
fn calib_inputs(k: u8, trap: u8, d: u8) -> Vec<Array> {
    vec![
        i8_array(
            &[2, 4],
            &[k as i8, trap as i8, d as i8, 5, -6, 127, -128, 1],
        ),
        f32_array(&[3], &[1.5, -2.0, 0.25]),
    ]
}

fn run_calib(k: u8, trap: u8, d: u8, timeout: Duration) -> Result<QemuRun, Error> {
    qemu::run_firmware(
        calib_fw(),
        &f746(),
        &calib_inputs(k, trap, d),
        &RunOptions { timeout },
    )
}

fn ok(k: u8, d: u8) -> QemuRun {
    run_calib(k, 0, d, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs an ARM binutils tool if it is installed.
fn binutils(tool: &str, args: &[&str], elf: &Path) -> Option<String> {
    let out = Command::new(tool).args(args).arg(elf).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn elf_reader_matches_binutils_on_real_firmware() {
    let fw = calib_fw();
    let elf = Elf::read(&fw.elf_path).unwrap();
    assert_eq!(elf.machine, 40, "ARM");
    let vt = elf.section(".vector_table").expect(".vector_table");
    assert_eq!(vt.addr, 0, "vector table at the start of flash");
    assert_eq!(elf.section(".bss").unwrap().kind, SHT_NOBITS);
    assert!(elf.section(".text").unwrap().size > 0);
    // Our sums, recomputed independently.
    let size = |n: &str| elf.section(n).map_or(0, |s| s.size as u64);
    assert_eq!(
        fw.flash,
        size(".vector_table") + size(".text") + size(".rodata") + size(".data")
    );
    assert_eq!(fw.ram, size(".data") + size(".bss") + size(".uninit"));
    // The arena (40 bytes) is static RAM.
    assert!(fw.ram >= 40, "ram {}", fw.ram);
    // Markers are distinct Thumb functions; the calibration kernels are known.
    let spin = elf.symbol("mcuc_calib_spin").expect("mcuc_calib_spin");
    assert!(
        spin.is_function() && spin.value & 1 == 1 && spin.size == 10,
        "{spin:?}"
    );
    assert_eq!(
        elf.function_at(spin.addr() + 4)
            .map(|(s, off)| (s.name.as_str(), off)),
        Some(("mcuc_calib_spin", 4))
    );
    assert_ne!(fw.mark_start, fw.mark_end);

    // Cross-check with binutils where installed (CI installs them).
    if let Some(nm) = binutils("arm-none-eabi-nm", &[], &fw.elf_path) {
        for (name, addr) in [
            (qemu::MARK_START, fw.mark_start),
            (qemu::MARK_END, fw.mark_end),
        ] {
            let line = nm
                .lines()
                .find(|l| l.ends_with(&format!(" {name}")))
                .expect(name);
            let nm_addr = u32::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap();
            assert_eq!(nm_addr & !1, addr, "{name}");
        }
    } else {
        eprintln!("note: arm-none-eabi-nm not found, skipping the symbol cross-check");
    }
    if let Some(readelf) = binutils("arm-none-eabi-readelf", &["-S", "-W"], &fw.elf_path) {
        let mut checked = 0;
        for s in &elf.sections {
            if s.name.is_empty() {
                continue;
            }
            // `  [ 1] .vector_table PROGBITS 00000000 010000 000400 00 A 0 0 4`
            let line = readelf
                .lines()
                .find(|l| l.contains(&format!("] {} ", s.name)))
                .unwrap_or_else(|| panic!("readelf has no {}", s.name));
            let cols: Vec<&str> = line.split(']').nth(1).unwrap().split_whitespace().collect();
            let hex = |i: usize| u32::from_str_radix(cols[i], 16).unwrap();
            assert_eq!(
                (hex(2), hex(3), hex(4)),
                (s.addr, s.offset, s.size),
                "{}",
                s.name
            );
            checked += 1;
        }
        assert!(checked >= 6);
    } else {
        eprintln!("note: arm-none-eabi-readelf not found, skipping the section cross-check");
    }
}

#[test]
fn model_io_is_described_by_the_firmware() {
    let io = qemu::describe(calib_fw(), &f746(), &RunOptions::default()).unwrap();
    fn summary(ts: &[qemu::TensorDesc]) -> Vec<(&str, DType, Vec<usize>, usize)> {
        ts.iter()
            .map(|t| (t.name.as_str(), t.dtype, t.shape.clone(), t.bytes))
            .collect()
    }
    assert_eq!(
        summary(&io.inputs),
        [
            ("x", DType::Int8, vec![2, 4], 8),
            ("f", DType::Float32, vec![3], 12)
        ]
    );
    assert_eq!(
        summary(&io.outputs),
        [
            ("y", DType::Int8, vec![2, 4], 8),
            ("g", DType::Float32, vec![3], 12)
        ]
    );
    assert_eq!((io.inputs[0].scale, io.inputs[0].zero_point), (0.5, -3));
}

#[test]
fn outputs_round_trip_through_semihosting() {
    let r = ok(0, 0);
    assert_eq!(r.outputs.len(), 2);
    assert_eq!(
        as_i8(&r.outputs[0]).unwrap(),
        [1, 1, 1, 6, -5, -128, -127, 2],
        "x + 1, wrapping"
    );
    assert_eq!(r.outputs[0].shape, [2, 4]);
    assert_eq!(as_f32(&r.outputs[1]).unwrap(), [3.0, -4.0, 0.5]);
    assert_eq!(r.outputs[1].shape, [3]);
    assert_eq!((r.flash, r.ram), (calib_fw().flash, calib_fw().ram));
}

#[test]
fn instruction_count_is_exact_and_repeatable() {
    let a = ok(0, 0);
    let b = ok(0, 0);
    assert_eq!(a, b, "two identical runs give identical results");
    assert!(a.insns > 7 * 8, "at least the add1 kernel: {}", a.insns);
    // The spin loop runs 3 + 2k instructions: the counter must see exactly 2k more.
    for k in [1u8, 200] {
        assert_eq!(ok(k, 0).insns - a.insns, 2 * k as u64, "k = {k}");
    }
    // The stack routine runs the same 7 instructions whatever its depth.
    assert_eq!(ok(0, 7).insns, a.insns);
}

#[test]
fn stack_measurement_is_exact() {
    let base = ok(0, 0);
    // The routine moves SP down by 8 + 64 d bytes and writes the lowest word.
    for d in [1u8, 10, 255] {
        let r = ok(0, d);
        assert_eq!(r.stack - base.stack, 64 * d as u64, "d = {d}");
        assert_eq!(
            r.stack_total - r.stack,
            base.stack_total - base.stack,
            "firmware frames are fixed"
        );
    }
    assert!(base.stack >= 8 && base.stack < 256, "{}", base.stack);
}

#[test]
fn hardfault_is_reported_with_its_function() {
    let e = run_calib(0, 0x7f, 0, Duration::from_secs(30)).unwrap_err();
    match &e {
        Error::HardFault { location, .. } => assert!(location.contains("mcuc_calib_trap"), "{e}"),
        _ => panic!("expected a HardFault, got: {e}"),
    }
    assert!(e.to_string().contains("HardFault at pc=0x"), "{e}");
}

#[test]
fn endless_loop_times_out() {
    let e = run_calib(0, 0x7e, 0, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("timed out after 2.0 s"), "{e}");
}

#[test]
fn stack_below_ram_is_a_lockup() {
    let e = run_calib(0, 0x7d, 0, Duration::from_secs(30)).unwrap_err();
    assert!(matches!(e, Error::Lockup { .. }), "{e}");
    assert!(e.to_string().contains("Lockup"), "{e}");
}

#[test]
fn mismatched_inputs_are_rejected_before_running() {
    let fw = calib_fw();
    let mut inputs = calib_inputs(0, 0, 0);
    inputs[1] = f32_array(&[1, 3], &[0.0; 3]);
    let e = qemu::run_firmware(fw, &f746(), &inputs, &RunOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("input 1 ('f'): the model expects float32 [3], got float32 [1, 3]"),
        "{e}"
    );
    let e = qemu::run_firmware(fw, &f746(), &inputs[..1], &RunOptions::default()).unwrap_err();
    assert!(e.to_string().contains("takes 2 input(s)"), "{e}");
}

#[test]
fn cortex_m0plus_builds_but_cannot_run() {
    let m0 = QemuTarget::builtin("rp2040").unwrap();
    let e = qemu::run_model(
        &ModelSource::Pregenerated(calib_dir()),
        &m0,
        &calib_inputs(0, 0, 0),
        &BuildOptions::default(),
        &RunOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NoMachine { .. }), "{e}");
    // Sizes still come from a thumbv6m build.
    let fw = qemu::build_firmware(
        &ModelSource::Pregenerated(calib_dir()),
        &m0,
        &BuildOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(fw.flash > 0 && fw.ram >= 40);
}

#[test]
fn cortex_m4_build_runs_on_an386() {
    let m4 = QemuTarget::builtin("nrf52840").unwrap();
    let r = qemu::run_model(
        &ModelSource::Pregenerated(calib_dir()),
        &m4,
        &calib_inputs(5, 0, 0),
        &BuildOptions::default(),
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        as_i8(&r.outputs[0]).unwrap(),
        [6, 1, 1, 6, -5, -128, -127, 2]
    );
    assert!(r.insns > 0);
}

#[test]
fn xtask_qemu_prints_the_summary_and_writes_outputs() {
    let dir = std::env::temp_dir().join(format!("mcuc-xtask-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = calib_inputs(3, 0, 0);
    let (x, f, y, g) = (
        dir.join("x.npy"),
        dir.join("f.npy"),
        dir.join("y.npy"),
        dir.join("g.npy"),
    );
    qemu::write_npy(&x, &inputs[0]).unwrap();
    qemu::write_npy(&f, &inputs[1]).unwrap();
    let xtask = |args: &[&Path]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.args(["qemu"]).arg(calib_dir()).args(["--target", "f746"]);
        for pair in args.chunks(2) {
            c.arg(pair[0]).arg(pair[1]);
        }
        c.output().unwrap()
    };
    let flag = |s: &'static str| Path::new(s);
    let out = xtask(&[
        flag("--input"),
        &x,
        flag("--input"),
        &f,
        flag("--output"),
        &y,
        flag("--output"),
        &g,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.trim();
    let keys: Vec<&str> = line
        .split(' ')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(keys, ["insns", "flash", "ram", "stack"], "{line}");
    assert_eq!(
        as_i8(&qemu::read_npy(&y).unwrap()).unwrap(),
        [4, 1, 1, 6, -5, -128, -127, 2]
    );
    assert_eq!(
        as_f32(&qemu::read_npy(&g).unwrap()).unwrap(),
        [3.0, -4.0, 0.5]
    );

    // A wrong input is a clear error and exit status 1, not a panic.
    let out = xtask(&[flag("--input"), &f, flag("--input"), &x]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: input 0 ('x'): the model expects int8 [2, 4], got float32 [3]"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = xtask(&[flag("--input"), &dir.join("missing.npy")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.npy: No such file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// End to end through the compiler: a corpus model is compiled by build.rs
/// (`mcuc::Build`), run twice on the same inputs, and must give identical
/// outputs and instruction counts.
#[test]
fn compiled_models_run_deterministically() {
    let models = mcuc_tests::corpus::models(&mcuc_tests::corpus::root()).expect("corpus");
    let model = models
        .iter()
        .find(|m| m.id.ends_with("op_conv3x3_relu6"))
        .or_else(|| models.first())
        .expect("a corpus model");
    let fw = qemu::build_firmware(
        &ModelSource::Compile(model.model.clone()),
        &f746(),
        &BuildOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", model.id));
    let golden = &model.goldens[0];
    let inputs: Vec<Array> = golden
        .inputs
        .iter()
        .map(|p| qemu::read_npy(p).expect("input"))
        .collect();
    let a = qemu::run_firmware(&fw, &f746(), &inputs, &RunOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", model.id));
    let b = qemu::run_firmware(&fw, &f746(), &inputs, &RunOptions::default()).expect("second run");
    assert_eq!(a, b, "{}", model.id);
    assert!(a.insns > 0);
}
