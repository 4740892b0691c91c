//! The generated Rust, compiled for the host, against the TFLite goldens:
//! every corpus model (`$MCUC_MODELS`, default the bundled `tests/models`)
//! and every golden input must match byte for byte.

use mcuc::npy;
use mcuc_tests::corpus::{self, CorpusModel};
use mcuc_tests::generated::{self, Runner};

/// Runs `runner` on every golden of `m`, adds a line to `failures` (led by
/// `label`) for each output that differs, and returns how many goldens ran.
fn check_goldens(
    m: &CorpusModel,
    label: &str,
    runner: Runner,
    failures: &mut Vec<String>,
) -> usize {
    for golden in &m.goldens {
        let inputs: Vec<Vec<u8>> = golden
            .inputs
            .iter()
            .map(|p| npy::read(p).expect("golden input").data)
            .collect();
        let outputs = runner(&inputs);
        for (i, (got, path)) in outputs.iter().zip(&golden.outputs).enumerate() {
            let want = npy::read(path).expect("golden output");
            if *got != want.data {
                failures.push(format!("{label} [{}] output {i} differs", golden.name));
            }
        }
    }
    m.goldens.len()
}

#[test]
fn every_corpus_model_compiled() {
    let errors: Vec<String> = generated::ERRORS
        .iter()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    assert!(
        errors.is_empty(),
        "models mcuc could not compile:\n{}",
        errors.join("\n")
    );
}

#[test]
fn generated_code_is_bit_exact_on_every_golden() {
    let models = corpus::models(&corpus::root()).expect("corpus");
    let mut failures = Vec::new();
    let mut checked = 0;
    for m in &models {
        let Some((_, runner)) = generated::MODELS.iter().find(|(id, _)| *id == m.id) else {
            failures.push(format!("{}: no generated code", m.id));
            continue;
        };
        checked += check_goldens(m, &m.id, *runner, &mut failures);
    }
    println!("{checked} goldens over {} models checked", models.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn patched_code_is_bit_exact_on_every_golden() {
    let models = corpus::models(&corpus::root()).expect("corpus");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (id, mode, runner) in generated::PATCHED {
        let m = models.iter().find(|m| m.id == *id).expect("corpus model");
        checked += check_goldens(m, &format!("{id} {mode}"), *runner, &mut failures);
    }
    println!(
        "{checked} goldens over {} patched models checked",
        generated::PATCHED.len()
    );
    assert!(checked > 0, "no patched model was checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every conv network of the corpus has a patchable first stage.
    for id in [
        "mbv2_035_144",
        "person_detect",
        "vww_96_int8",
        "resnet8_cifar10",
    ] {
        if models.iter().any(|m| m.id == id) {
            assert!(
                generated::PATCHED.iter().any(|(p, _, _)| *p == id),
                "{id} was not compiled with a patch plan"
            );
        }
    }
}
