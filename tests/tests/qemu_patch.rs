//! Patch-based firmware under QEMU: the patched stage must give the
//! goldens byte for byte on the Cortex-M7 (f746, `mps2-an500`), and a model
//! whose per-layer plan does not fit a 256 KB target runs there with the
//! default `--patch fit` within that target's SRAM.
//!
//! The firmware's static RAM is the arena plus the network input's own
//! buffer (the stage reads the input window by window from it, never from
//! the arena) plus the harness's few bytes.

use mcuc::npy;
use mcuc::patch::PatchMode;
use mcuc_tests::corpus::{self, CorpusModel};
use mcuc_tests::qemu::{self, BuildOptions, QemuTarget, RunOptions};

/// Static RAM of the test firmware besides the model (see qemu_goldens).
const FIRMWARE_RAM_OVERHEAD: u64 = 64;

fn corpus_model(id: &str) -> Option<CorpusModel> {
    corpus::models(&corpus::root())
        .expect("corpus")
        .into_iter()
        .find(|m| m.id == id)
}

/// Builds `m` for `target` with `mode` and checks every golden; returns
/// (report, instructions of the last run, flash, RAM).
fn run_patched(
    m: &CorpusModel,
    target: &QemuTarget,
    mode: PatchMode,
) -> (mcuc::Report, u64, u64, u64) {
    let (generated, report) =
        qemu::pregenerate_patched(&m.model, target, true, mode).expect("generate");
    let patch = report.patch.as_ref().expect("a patch-based plan");
    let fw = qemu::build_firmware(&generated.source, target, &BuildOptions::default())
        .unwrap_or_else(|e| panic!("{}: build: {e}", m.id));
    let budget = (report.arena_bytes + patch.input_bytes) as u64 + FIRMWARE_RAM_OVERHEAD;
    assert!(
        fw.ram <= budget,
        "{}: firmware RAM {} B exceeds arena {} B + input {} B + {FIRMWARE_RAM_OVERHEAD} B",
        m.id,
        fw.ram,
        report.arena_bytes,
        patch.input_bytes
    );
    let mut insns = 0;
    let mut checked = 0;
    for golden in &m.goldens {
        let inputs: Vec<_> = golden
            .inputs
            .iter()
            .map(|p| npy::read(p).expect("golden input"))
            .collect();
        let run = qemu::run_firmware(&fw, target, &inputs, &RunOptions::default())
            .unwrap_or_else(|e| panic!("{} [{}] on {}: {e}", m.id, golden.name, target.name));
        for (i, (got, path)) in run.outputs.iter().zip(&golden.outputs).enumerate() {
            let want = npy::read(path).expect("golden output");
            assert_eq!(
                (&got.data, &got.shape),
                (&want.data, &want.shape),
                "{} [{}] on {}: output {i} differs",
                m.id,
                golden.name,
                target.name
            );
        }
        insns = run.insns;
        checked += 1;
    }
    assert!(checked > 0, "{} has no goldens", m.id);
    println!(
        "{} on {} patched ({}x{} @ {}): arena {} B (per layer {} B), insns={insns} flash={} ram={}, {checked} goldens",
        m.id,
        target.name,
        patch.grid[0],
        patch.grid[1],
        patch.split_layer,
        report.arena_bytes,
        patch.per_layer_arena_bytes,
        fw.flash,
        fw.ram
    );
    (report, insns, fw.flash, fw.ram)
}

/// The plan `--patch min` would pick when it beats per-layer execution,
/// else the candidate with the smallest arena within 15% extra MACs, forced
/// (so every conv network runs patched); `None` without a patchable stage.
fn best_patch(m: &CorpusModel) -> Option<PatchMode> {
    let g = mcuc::pipeline::load(&m.model).ok()?;
    let opts = mcuc::plan::PlanOptions::default();
    let order = mcuc::plan::plan(&g, &opts).ok()?.order;
    let c = mcuc::patch::search::smallest(&g, &order, &opts, 0.15).ok()??;
    Some(c.mode())
}

#[test]
fn patched_conv_networks_are_bit_exact_on_the_cortex_m7() {
    let target = QemuTarget::builtin("f746").expect("f746");
    let mut ran = Vec::new();
    // Whole TFLite networks (the single-op models and the ONNX
    // conversions run patched on the host).
    for m in corpus::models(&corpus::root()).expect("corpus") {
        let tflite = m.model.extension().is_some_and(|e| e == "tflite");
        if m.id.starts_with("ops") || !tflite {
            continue;
        }
        let Some(mode) = best_patch(&m) else {
            continue;
        };
        run_patched(&m, &target, mode);
        ran.push(m.id.clone());
    }
    println!("patched under QEMU: {}", ran.join(", "));
    for id in [
        "mbv2_035_144",
        "person_detect",
        "vww_96_int8",
        "resnet8_cifar10",
    ] {
        assert!(
            ran.iter().any(|r| r == id),
            "{id} did not run patched (ran: {ran:?})"
        );
    }
}

#[test]
fn mbv2_runs_patched_within_nrf52840_sram_by_default() {
    let Some(m) = corpus_model("mbv2_035_144") else {
        panic!("the bundled corpus has mbv2_035_144");
    };
    let target = QemuTarget::builtin("nrf52840").expect("nrf52840");
    let t = mcuc::Target::builtin("nrf52840").expect("target");
    let g = mcuc::pipeline::load(&m.model).expect("load");
    let per_layer = mcuc::plan::plan(&g, &Default::default()).expect("plan");
    assert!(
        per_layer.arena_bytes as u64 > t.static_ram_bytes(),
        "the per-layer plan must not fit for this test to mean anything"
    );
    let (report, _, _, ram) = run_patched(&m, &target, PatchMode::Fit);
    assert!(ram <= t.static_ram_bytes(), "RAM {ram} B");
    assert!(report.patch.is_some_and(|p| p.extra_macs_ratio <= 0.15));
}
