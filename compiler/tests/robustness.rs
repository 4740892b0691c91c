//! Robustness against arbitrary bytes: mutated `.tflite` files must give an
//! error or a model, never a panic, in the importer, the IR verifier, the
//! host executor and the code generator.
//!
//! Every bundled model is mutated deterministically (seeded xorshift):
//! truncation, byte flips, u32 fields overwritten with large values, splices
//! from another model, and structure-aware edits that keep the flatbuffer
//! valid but change one field (a shape dimension, an operand index, a
//! stride, a quantization scale...). Each mutant goes through
//! `import::load` and, when accepted, `exec::run` on zero inputs and
//! `pipeline::compile` with the fit check off. A panic fails the test with
//! the model, seed and mutation list, which reproduce it:
//!
//! ```text
//! MCUC_ROBUSTNESS_ONLY=op_softmax:1234 cargo test -p mcuc --test robustness
//! ```
//!
//! `MCUC_ROBUSTNESS_SCALE=10` multiplies the number of mutants (default
//! about 4000, well under a minute with the test profile).
//!
//! `tests/fixtures/fuzz/` holds inputs that once crashed (found by this test
//! or by `compiler/fuzz`); each must now load without panicking.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::fb;
use common::mutate::{self, Rng};
use mcuc::npy::Array;

/// What happened to one input.
#[derive(Debug, PartialEq)]
enum Outcome {
    Rejected,
    /// Imported; the executor and the code generator may still refuse it.
    Accepted {
        ran: bool,
        compiled: bool,
    },
}

/// Loads `bytes` as a model file and, if accepted, runs and compiles it.
/// `Err` carries the panic message.
fn exercise(bytes: &[u8], file: &Path) -> Result<Outcome, String> {
    std::fs::write(file, bytes).expect("write mutant");
    catch_unwind(AssertUnwindSafe(|| {
        let Ok(graph) = mcuc::import::load(file) else {
            return Outcome::Rejected;
        };
        let inputs: Vec<Array> = graph
            .inputs
            .iter()
            .map(|&v| {
                let f = graph.fact(v);
                Array::new(f.dtype, f.shape.clone(), vec![0; f.bytes()])
            })
            .collect();
        let ran = mcuc::exec::run(&graph, &inputs).is_ok();
        let target = mcuc::Target::builtin("f746").expect("builtin target");
        let opts = mcuc::Options {
            check_fit: false,
            ..Default::default()
        };
        let compiled = mcuc::pipeline::compile(&graph, "mutant.tflite", &target, &opts).is_ok();
        Outcome::Accepted { ran, compiled }
    }))
    .map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "<non-string panic>".into())
    })
}

/// Silences the default panic printout while `f` runs (panics are
/// collected and reported by the test instead).
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = f();
    std::panic::set_hook(hook);
    out
}

fn corpus() -> Vec<(String, PathBuf)> {
    let models = common::models_dir();
    let mut out = Vec::new();
    let ops = models.join("ops");
    let mut names: Vec<_> = std::fs::read_dir(&ops)
        .expect("tests/models/ops")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| ops.join(n).join("model.tflite").is_file())
        .collect();
    names.sort();
    for n in names {
        let p = ops.join(&n).join("model.tflite");
        out.push((n, p));
    }
    // One full model (small enough that its mutants run and compile fast).
    out.push((
        "kws_ref_model".into(),
        models.join("kws_ref_model/model.tflite"),
    ));
    out
}

fn scale() -> u64 {
    std::env::var("MCUC_ROBUSTNESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

#[test]
fn mutated_models_never_panic() {
    let dir = common::scratch("robustness_mutants");
    let file = dir.join("mutant.tflite");
    let corpus = corpus();
    assert!(corpus.len() > 20, "bundled corpus is missing");
    let originals: Vec<Vec<u8>> = corpus
        .iter()
        .map(|(_, p)| std::fs::read(p).expect("read model"))
        .collect();
    let only = std::env::var("MCUC_ROBUSTNESS_ONLY").ok();
    let per_model = 120 * scale();
    let (mut total, mut accepted, mut ran, mut compiled) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let started = Instant::now();
    quietly(|| {
        for (i, (name, _)) in corpus.iter().enumerate() {
            let donor = &originals[(i + 1) % originals.len()];
            for k in 0..per_model {
                let seed = (i as u64) << 32 | k;
                if let Some(only) = &only
                    && *only != format!("{name}:{seed}")
                {
                    continue;
                }
                let (bytes, log) = mutate::mutant(&mut Rng::new(seed), &originals[i], donor);
                let t = Instant::now();
                let outcome = exercise(&bytes, &file);
                let dt = t.elapsed();
                if dt > slowest.0 {
                    slowest = (dt, format!("{name}:{seed}"));
                }
                total += 1;
                match outcome {
                    Ok(Outcome::Rejected) => {}
                    Ok(Outcome::Accepted {
                        ran: r,
                        compiled: c,
                    }) => {
                        accepted += 1;
                        ran += r as usize;
                        compiled += c as usize;
                    }
                    Err(panic) => {
                        failures.push(format!("{name}:{seed} [{}]: {panic}", log.join("; ")));
                        let keep = dir.join(format!("panic-{name}-{seed}.tflite"));
                        let _ = std::fs::write(keep, &bytes);
                    }
                }
            }
        }
    });
    eprintln!(
        "{total} mutants in {:.1?}: {accepted} imported, {ran} ran, {compiled} compiled; \
         slowest {:.1?} ({})",
        started.elapsed(),
        slowest.0,
        slowest.1
    );
    assert!(
        failures.is_empty(),
        "{} of {total} mutants panicked (reproduce with MCUC_ROBUSTNESS_ONLY=<model:seed>; \
         inputs kept in {}):\n{}",
        failures.len(),
        dir.display(),
        failures.join("\n")
    );
    if only.is_none() {
        assert!(total >= 3000, "only {total} mutants");
        // The mutations must not be so destructive that nothing gets past
        // the importer: the later stages need exercising too.
        assert!(accepted * 20 > total, "only {accepted} of {total} imported");
    }
}

/// Inputs that crashed mcuc once (from this test or the fuzz targets).
#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let scratch = common::scratch("robustness_regressions");
    let file = scratch.join("case.tflite");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    cases.sort();
    let mut failures = Vec::new();
    quietly(|| {
        for case in &cases {
            let bytes = std::fs::read(case).expect("read case");
            let result = if case.extension().is_some_and(|e| e == "npy") {
                catch_unwind(|| drop(mcuc::npy::parse(&bytes))).map_err(|_| "panic".to_string())
            } else {
                exercise(&bytes, &file).map(drop)
            };
            if let Err(panic) = result {
                failures.push(format!("{}: {panic}", case.display()));
            }
        }
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Hand-made models for the crashes found so far (the fuzz fixtures are
/// raw bytes; these say what each one was about).
fn regression_models() -> Vec<(&'static str, Vec<u8>)> {
    use common::{ModelBuilder, conv_options};
    let conv = |input: &[i32], filter: &[i32], output: &[i32], options| {
        let mut m = ModelBuilder::new();
        let x = m.act("input", input);
        let w = m.weights("filter", filter);
        let y = m.act("conv", output);
        m.op(fb::BuiltinOperator::Conv2d, &[x, w], &[y], Some(options));
        m.finish(&[x], &[y])
    };
    let same = |stride: i32, dilation: i32| {
        fb::BuiltinOptions::Conv2DOptions(Box::new(fb::Conv2DOptions {
            padding: fb::Padding::Same,
            stride_h: stride,
            stride_w: stride,
            dilation_h_factor: dilation,
            dilation_w_factor: dilation,
            ..Default::default()
        }))
    };
    let valid = conv_options(fb::ActivationFunctionType::None);
    let mut cases = vec![
        // SAME padding of a 0x0 filter: `filter - 1` underflowed.
        (
            "conv_empty_filter_same",
            conv(&[1, 4, 4, 2], &[3, 0, 0, 2], &[1, 4, 4, 3], same(1, 1)),
        ),
        // SAME padding of an empty input: `out - 1` underflowed.
        (
            "conv_empty_input_same",
            conv(&[1, 0, 0, 2], &[3, 1, 1, 2], &[1, 0, 0, 3], same(1, 1)),
        ),
        // Huge stride and dilation: the window arithmetic overflowed.
        (
            "conv_huge_stride_dilation",
            conv(
                &[1, 4, 4, 2],
                &[3, 3, 3, 2],
                &[1, 1, 1, 3],
                same(i32::MAX, i32::MAX),
            ),
        ),
        // Zero input channels: groups = 0 / 2 = 0, then `cout % 0`.
        (
            "conv_zero_input_channels",
            conv(&[1, 4, 4, 0], &[3, 1, 1, 2], &[1, 4, 4, 3], valid),
        ),
    ];
    // A graph input whose size overflows usize: the caller's zero input of
    // `fact.bytes()` bytes used to be a multi-exabyte allocation.
    let mut m = ModelBuilder::new();
    let x = m.act("input", &[i32::MAX, i32::MAX, i32::MAX]);
    let y = m.act("relu", &[i32::MAX, i32::MAX, i32::MAX]);
    m.op(fb::BuiltinOperator::Relu, &[x], &[y], None);
    cases.push(("relu_overflowing_shape", m.finish(&[x], &[y])));
    // Large but representable: 4 GiB, over the tensor size limit.
    let mut m = ModelBuilder::new();
    let x = m.act("input", &[1, 65536, 65536]);
    let y = m.act("relu", &[1, 65536, 65536]);
    m.op(fb::BuiltinOperator::Relu, &[x], &[y], None);
    cases.push(("relu_4gib", m.finish(&[x], &[y])));
    cases
}

#[test]
fn hand_made_regressions_do_not_panic() {
    let file = common::scratch("robustness_hand_made").join("case.tflite");
    let mut failures = Vec::new();
    quietly(|| {
        for (name, bytes) in regression_models() {
            match exercise(&bytes, &file) {
                Err(panic) => failures.push(format!("{name}: {panic}")),
                // Each of these is a broken model: it must be refused.
                Ok(Outcome::Accepted { .. }) => failures.push(format!("{name}: was accepted")),
                Ok(Outcome::Rejected) => {}
            }
        }
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The structural mutations start from `serialize(parse(model))`: that
/// round trip alone must give a model mcuc accepts, or every structural
/// mutant would only test the rejection path.
#[test]
fn owned_round_trip_keeps_models_valid() {
    for (name, path) in corpus() {
        let bytes = std::fs::read(&path).expect("read model");
        let again = common::serialize(&common::parse(&bytes));
        let file = common::scratch(&format!("robustness_round_trip_{name}")).join("model.tflite");
        std::fs::write(&file, &again).expect("write");
        if let Err(e) = mcuc::import::load(&file) {
            panic!("{name}: {:?}", miette::Report::new(e));
        }
    }
}
