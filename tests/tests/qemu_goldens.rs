//! The generated firmware under QEMU against the TFLite goldens: every
//! corpus model (`$MCUC_MODELS`, default the bundled `tests/models`) and
//! every golden input on the f746 (Cortex-M7, `mps2-an500`), and two models
//! on a Cortex-M4 target (`mps2-an386`). Outputs must match byte for byte,
//! and the firmware's static RAM must be the planned arena plus a small
//! fixed overhead.

use mcuc::npy;
use mcuc_tests::corpus::{self, CorpusModel};
use mcuc_tests::qemu::{self, BuildOptions, QemuTarget, RunOptions};

/// Static RAM of the test firmware besides the model's arena: the
/// semihosting harness keeps a few words (`.data`/`.bss` of the runtime and
/// cortex-m-rt), measured at 8 bytes; the bound leaves room for alignment.
const FIRMWARE_RAM_OVERHEAD: u64 = 64;

enum Outcome {
    Ran {
        goldens: usize,
        insns: u64,
        flash: u64,
        ram: u64,
    },
    /// The per-layer plan does not fit the target (exit code 3).
    DoesNotFit(String),
}

impl Outcome {
    /// Nothing ran (the failure is recorded separately).
    fn failed() -> Outcome {
        Outcome::Ran {
            goldens: 0,
            insns: 0,
            flash: 0,
            ram: 0,
        }
    }
}

fn run_goldens(m: &CorpusModel, target: &QemuTarget, failures: &mut Vec<String>) -> Outcome {
    let t = mcuc::Target::builtin(&target.name).expect("target");
    let graph = match mcuc::pipeline::load(&m.model) {
        Ok(g) => g,
        Err(e) => {
            failures.push(format!("{}: import: {e}", m.id));
            return Outcome::failed();
        }
    };
    let report = match mcuc::pipeline::plan(&graph, &t, &mcuc::Options::default()) {
        Ok((_, r)) => r,
        Err(e @ mcuc::Error::DoesNotFit { .. }) => return Outcome::DoesNotFit(e.to_string()),
        Err(e) => {
            failures.push(format!("{}: plan: {e}", m.id));
            return Outcome::failed();
        }
    };
    // Generated in this process; the firmware's own build.rs path is
    // covered by qemu_smoke.
    let generated = match qemu::pregenerate(&m.model, target, true) {
        Ok(g) => g,
        Err(e) => {
            failures.push(format!("{} on {}: generate: {e}", m.id, target.name));
            return Outcome::failed();
        }
    };
    let fw = match qemu::build_firmware(&generated.source, target, &BuildOptions::default()) {
        Ok(fw) => fw,
        Err(e) => {
            failures.push(format!("{} on {}: build: {e}", m.id, target.name));
            return Outcome::failed();
        }
    };
    if fw.ram > report.arena_bytes as u64 + FIRMWARE_RAM_OVERHEAD {
        failures.push(format!(
            "{}: firmware RAM {} B exceeds arena {} B + {} B overhead",
            m.id, fw.ram, report.arena_bytes, FIRMWARE_RAM_OVERHEAD
        ));
    }
    let mut insns = 0;
    let mut goldens = 0;
    for golden in &m.goldens {
        let inputs: Vec<_> = golden
            .inputs
            .iter()
            .map(|p| npy::read(p).expect("golden input"))
            .collect();
        match qemu::run_firmware(&fw, target, &inputs, &RunOptions::default()) {
            Ok(run) => {
                for (i, (got, path)) in run.outputs.iter().zip(&golden.outputs).enumerate() {
                    let want = npy::read(path).expect("golden output");
                    if got.data != want.data || got.shape != want.shape {
                        failures.push(format!(
                            "{} [{}] on {}: output {i} differs",
                            m.id, golden.name, target.name
                        ));
                    }
                }
                insns = run.insns;
                goldens += 1;
            }
            Err(e) => failures.push(format!(
                "{} [{}] on {}: {e}",
                m.id, golden.name, target.name
            )),
        }
    }
    Outcome::Ran {
        goldens,
        insns,
        flash: fw.flash,
        ram: fw.ram,
    }
}

#[test]
fn f746_every_model_every_golden_is_bit_exact() {
    let target = QemuTarget::builtin("f746").expect("f746");
    let models = corpus::models(&corpus::root()).expect("corpus");
    let mut failures = Vec::new();
    let mut too_big = Vec::new();
    for m in &models {
        match run_goldens(m, &target, &mut failures) {
            Outcome::Ran {
                goldens,
                insns,
                flash,
                ram,
            } => {
                println!(
                    "{:<36} {goldens} goldens  insns={insns} flash={flash} ram={ram}",
                    m.id
                );
            }
            Outcome::DoesNotFit(e) => {
                println!("{:<36} does not fit f746 per layer", m.id);
                too_big.push((m.id.clone(), e));
            }
        }
    }
    // A model may exceed 320 KB per layer only if its activations alone do:
    // then the refusal is right, and patch-based inference is its way in.
    for (id, e) in &too_big {
        let m = models.iter().find(|m| &m.id == id).expect("model");
        let peak = m
            .meta("per_op_io_peak_bytes")
            .and_then(|v| v.as_u64())
            .unwrap_or(u64::MAX);
        if peak <= 320 * 1024 - 8192 {
            failures.push(format!(
                "{id}: refused although its per-op peak {peak} B fits: {e}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn cortex_m4_runs_models_bit_exact() {
    let target = QemuTarget::builtin("nrf52840").expect("nrf52840");
    let models = corpus::models(&corpus::root()).expect("corpus");
    // Two full models when the bundled corpus is used; any corpus gets its
    // first two models that fit.
    let preferred = ["kws_ref_model", "resnet8_cifar10"];
    let mut chosen: Vec<&CorpusModel> = models
        .iter()
        .filter(|m| preferred.contains(&m.id.as_str()))
        .collect();
    if chosen.len() < 2 {
        chosen = models.iter().take(2).collect();
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    for m in chosen {
        if let Outcome::Ran {
            goldens,
            insns,
            flash,
            ram,
        } = run_goldens(m, &target, &mut failures)
        {
            println!(
                "{:<36} {goldens} goldens  insns={insns} flash={flash} ram={ram} (cortex-m4)",
                m.id
            );
            ran += usize::from(goldens > 0);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran >= 2, "fewer than two models ran on the Cortex-M4");
}

/// The linker, not only the compiler, refuses a model that does not fit:
/// with the compiler's fit check off, a model whose arena exceeds the
/// target's RAM must fail to link against the generated `memory.x`.
#[test]
fn linker_refuses_a_model_that_does_not_fit() {
    let target = QemuTarget::builtin("nrf52840").expect("nrf52840");
    let models = corpus::models(&corpus::root()).expect("corpus");
    let t = mcuc::Target::builtin("nrf52840").expect("target");
    // The first model whose per-layer arena exceeds the target's RAM.
    let too_big = models.iter().find(|m| {
        mcuc::pipeline::load(&m.model)
            .ok()
            .and_then(|g| mcuc::plan::plan(&g, &mcuc::plan::PlanOptions::default()).ok())
            .is_some_and(|p| p.arena_bytes as u64 > t.static_ram_bytes())
    });
    let Some(m) = too_big else {
        panic!("the corpus needs a model larger than nrf52840's RAM (the bundled mbv2_035_144 is)");
    };
    // Layer by layer: with the default, --patch fit, it would fit.
    let (generated, _) =
        qemu::pregenerate_patched(&m.model, &target, false, mcuc::patch::PatchMode::None)
            .expect("generate without fit check");
    match qemu::build_firmware(&generated.source, &target, &BuildOptions::default()) {
        Err(qemu::Error::Build { log }) => assert!(
            log.contains("RAM") && (log.contains("overflow") || log.contains("will not fit")),
            "{}: the build failed, but not on RAM:\n{log}",
            m.id
        ),
        Err(e) => panic!("{}: unexpected error {e}", m.id),
        Ok(_) => panic!("{}: linked although its arena exceeds the RAM region", m.id),
    }
}
