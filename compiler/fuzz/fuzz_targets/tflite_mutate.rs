//! Structure-aware: the fuzzer's bytes choose one bundled model (the op
//! cases and kws_ref_model) and a sequence of edits to it, with the
//! mutation engine of `tests/robustness.rs` (`tests/common/mutate.rs`).
//! Most edits keep the flatbuffer well-formed, so this reaches far deeper
//! into import, verification, lowering, execution and code generation than
//! byte-level fuzzing of the raw file.

#![no_main]

mod exercise;
#[path = "../../tests/common/mutate.rs"]
mod mutate;

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn models() -> &'static [Vec<u8>] {
    static MODELS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/models");
        let mut paths: Vec<_> = std::fs::read_dir(root.join("ops"))
            .expect("tests/models/ops")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("model.tflite"))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        paths.push(root.join("kws_ref_model/model.tflite"));
        paths
            .iter()
            .map(|p| std::fs::read(p).expect("read bundled model"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, edits)) = data.split_first() else {
        return;
    };
    let models = models();
    let i = which as usize % models.len();
    let donor = &models[(i + 1) % models.len()];
    let mut choices = mutate::Bytes(edits);
    // Up to 8 rounds of edits, as many as the input pays for.
    let (mut bytes, _) = mutate::mutant(&mut choices, &models[i], donor);
    for _ in 0..7 {
        if choices.0.is_empty() {
            break;
        }
        let Ok(root) = <mutate::fb::ModelRef as planus::ReadAsRoot>::read_as_root(&bytes) else {
            break;
        };
        if mutate::fb::Model::try_from(root).is_err() {
            break;
        }
        let (next, _) = mutate::mutant(&mut choices, &bytes, donor);
        bytes = next;
    }
    // To turn a crash (an edit script) into a model file for
    // tests/fixtures/fuzz: `MCUC_FUZZ_DUMP=case.tflite cargo fuzz run
    // tflite_mutate <artifact>`.
    if let Some(path) = std::env::var_os("MCUC_FUZZ_DUMP") {
        let _ = std::fs::write(path, &bytes);
    }
    exercise::tflite(&bytes);
});
