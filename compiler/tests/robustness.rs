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
use mcuc::npy::Array;

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Integers that tend to break size and index arithmetic.
const INTERESTING_I32: &[i32] = &[
    0,
    1,
    2,
    3,
    -1,
    -2,
    7,
    127,
    128,
    255,
    256,
    4096,
    65535,
    65536,
    1 << 20,
    1 << 24,
    i32::MAX / 2,
    i32::MAX - 1,
    i32::MAX,
    i32::MIN,
];

const INTERESTING_U32: &[u32] = &[
    0,
    1,
    4,
    0xFF,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFF0,
    0xFFFF_FFFF,
];

const INTERESTING_F32: &[f32] = &[
    0.0,
    -0.0,
    -1.0,
    1e-45,
    1e-30,
    1e30,
    f32::MAX,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1.0,
    0.5,
];

fn interesting_i32(rng: &mut Rng) -> i32 {
    if rng.chance(4) {
        rng.next() as i32
    } else {
        *rng.pick(INTERESTING_I32)
    }
}

/// Byte-level mutations of a flatbuffer.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>, donor: &[u8], log: &mut Vec<String>) {
    if bytes.is_empty() {
        return;
    }
    match rng.below(5) {
        0 => {
            let at = rng.below(bytes.len());
            bytes.truncate(at);
            log.push(format!("truncate at {at}"));
        }
        1 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                let x = 1 + rng.below(255) as u8;
                bytes[at] ^= x;
                log.push(format!("byte {at} ^= {x:#04x}"));
            }
        }
        2 => {
            // Overwrite an aligned u32 (offsets, lengths, indices, shape
            // dims) with a large or boundary value.
            if bytes.len() >= 4 {
                let at = rng.below(bytes.len() / 4) * 4;
                let v = if rng.chance(3) {
                    (bytes.len() as u32).wrapping_add(rng.below(64) as u32)
                } else {
                    *rng.pick(INTERESTING_U32)
                };
                bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
                log.push(format!("u32 at {at} = {v:#x}"));
            }
        }
        3 => {
            // Splice a chunk of another model over this one.
            if !donor.is_empty() {
                let len = 1 + rng.below(donor.len().min(256));
                let from = rng.below(donor.len() - len + 1);
                let at = rng.below(bytes.len());
                let end = (at + len).min(bytes.len());
                bytes[at..end].copy_from_slice(&donor[from..from + (end - at)]);
                log.push(format!("splice donor[{from}..+{}] at {at}", end - at));
            }
        }
        _ => {
            // Duplicate or delete a range (shifts every later offset).
            let at = rng.below(bytes.len());
            let len = 1 + rng.below(64.min(bytes.len() - at));
            if rng.chance(2) {
                let chunk = bytes[at..at + len].to_vec();
                bytes.splice(at..at, chunk);
                log.push(format!("duplicate {at}..+{len}"));
            } else {
                bytes.drain(at..at + len);
                log.push(format!("delete {at}..+{len}"));
            }
        }
    }
}

/// Structure-aware mutations: the flatbuffer stays well-formed, one field
/// of the model gets an odd value.
fn mutate_model(rng: &mut Rng, model: &mut fb::Model, log: &mut Vec<String>) {
    let Some(sg) = model.subgraphs.as_mut().and_then(|s| s.first_mut()) else {
        return;
    };
    let tensors = sg.tensors.get_or_insert_with(Vec::new);
    let n_tensors = tensors.len();
    let n_ops = sg.operators.as_ref().map_or(0, Vec::len);
    match rng.below(12) {
        0 | 1 if n_tensors > 0 => {
            let t = rng.below(n_tensors);
            let shape = tensors[t].shape.get_or_insert_with(Vec::new);
            match rng.below(4) {
                0 if !shape.is_empty() => {
                    shape.pop();
                    log.push(format!("tensor {t}: drop last dim"));
                }
                1 => {
                    let v = interesting_i32(rng);
                    shape.push(v);
                    log.push(format!("tensor {t}: push dim {v}"));
                }
                _ if !shape.is_empty() => {
                    let d = rng.below(shape.len());
                    let v = interesting_i32(rng);
                    shape[d] = v;
                    log.push(format!("tensor {t}: dim {d} = {v}"));
                }
                _ => {}
            }
        }
        2 if n_tensors > 0 => {
            let t = rng.below(n_tensors);
            let ty = *rng.pick(&[
                fb::TensorType::Int8,
                fb::TensorType::Uint8,
                fb::TensorType::Int16,
                fb::TensorType::Int32,
                fb::TensorType::Int64,
                fb::TensorType::Float32,
                fb::TensorType::Bool,
                fb::TensorType::Float16,
                fb::TensorType::Int4,
            ]);
            tensors[t].type_ = ty;
            log.push(format!("tensor {t}: type {ty:?}"));
        }
        3 if n_tensors > 0 => {
            let t = rng.below(n_tensors);
            let q = tensors[t].quantization.get_or_insert_with(Default::default);
            match rng.below(5) {
                0 => {
                    let s = *rng.pick(INTERESTING_F32);
                    let scales = q.scale.get_or_insert_with(Vec::new);
                    if scales.is_empty() {
                        scales.push(s);
                    } else {
                        let i = rng.below(scales.len());
                        scales[i] = s;
                    }
                    log.push(format!("tensor {t}: scale {s}"));
                }
                1 => {
                    let z = *rng.pick(&[-129i64, 128, 300, i64::MAX, i64::MIN, -1, 1]);
                    q.zero_point = Some(vec![z]);
                    log.push(format!("tensor {t}: zero point {z}"));
                }
                2 => {
                    let d = interesting_i32(rng);
                    q.quantized_dimension = d;
                    log.push(format!("tensor {t}: quantized_dimension {d}"));
                }
                3 => {
                    let n = rng.below(5);
                    q.scale = Some(vec![0.5; n]);
                    log.push(format!("tensor {t}: {n} scales"));
                }
                _ => {
                    tensors[t].quantization = None;
                    log.push(format!("tensor {t}: no quantization"));
                }
            }
        }
        4 if n_tensors > 0 => {
            let t = rng.below(n_tensors);
            let b = if rng.chance(2) {
                rng.below(model.buffers.as_ref().map_or(1, Vec::len) + 2) as u32
            } else {
                *rng.pick(INTERESTING_U32)
            };
            tensors[t].buffer = b;
            log.push(format!("tensor {t}: buffer {b}"));
        }
        5 | 6 if n_ops > 0 => {
            let o = rng.below(n_ops);
            let op = &mut sg.operators.as_mut().expect("operators")[o];
            let list = if rng.chance(2) {
                op.inputs.get_or_insert_with(Vec::new)
            } else {
                op.outputs.get_or_insert_with(Vec::new)
            };
            let v = if rng.chance(2) {
                rng.below(n_tensors + 1) as i32
            } else {
                interesting_i32(rng)
            };
            match rng.below(4) {
                0 if !list.is_empty() => {
                    list.pop();
                    log.push(format!("op {o}: drop last operand"));
                }
                1 => {
                    list.push(v);
                    log.push(format!("op {o}: push operand {v}"));
                }
                _ if !list.is_empty() => {
                    let i = rng.below(list.len());
                    list[i] = v;
                    log.push(format!("op {o}: operand {i} = {v}"));
                }
                _ => {}
            }
        }
        7 if n_ops > 0 => {
            let o = rng.below(n_ops);
            let op = &mut sg.operators.as_mut().expect("operators")[o];
            mutate_options(rng, op, o, log);
        }
        8 => {
            let codes = model.operator_codes.get_or_insert_with(Vec::new);
            if codes.is_empty() {
                return;
            }
            let c = rng.below(codes.len());
            let b = *rng.pick(&[
                fb::BuiltinOperator::Conv2d,
                fb::BuiltinOperator::DepthwiseConv2d,
                fb::BuiltinOperator::FullyConnected,
                fb::BuiltinOperator::Add,
                fb::BuiltinOperator::Mul,
                fb::BuiltinOperator::AveragePool2d,
                fb::BuiltinOperator::MaxPool2d,
                fb::BuiltinOperator::Mean,
                fb::BuiltinOperator::Reshape,
                fb::BuiltinOperator::Squeeze,
                fb::BuiltinOperator::Softmax,
                fb::BuiltinOperator::Logistic,
                fb::BuiltinOperator::Tanh,
                fb::BuiltinOperator::Relu,
                fb::BuiltinOperator::Relu6,
                fb::BuiltinOperator::Pad,
                fb::BuiltinOperator::Padv2,
                fb::BuiltinOperator::Concatenation,
                fb::BuiltinOperator::Quantize,
                fb::BuiltinOperator::Dequantize,
                fb::BuiltinOperator::Gather,
            ]);
            codes[c].builtin_code = b;
            codes[c].deprecated_builtin_code = (b as i32).min(127) as i8;
            log.push(format!("operator code {c}: {b:?}"));
        }
        9 => {
            // Rewrite an int32 constant (paddings, axes, shapes).
            let Some(buffers) = model.buffers.as_mut() else {
                return;
            };
            let candidates: Vec<usize> = tensors
                .iter()
                .filter(|t| t.type_ == fb::TensorType::Int32)
                .map(|t| t.buffer as usize)
                .filter(|&b| buffers.get(b).is_some_and(|b| b.data.is_some()))
                .collect();
            if candidates.is_empty() {
                return;
            }
            let b = *rng.pick(&candidates);
            let data = buffers[b].data.as_mut().expect("data");
            if data.len() >= 4 {
                let at = rng.below(data.len() / 4) * 4;
                let v = interesting_i32(rng);
                data[at..at + 4].copy_from_slice(&v.to_le_bytes());
                log.push(format!("buffer {b}: i32 at {at} = {v}"));
            }
        }
        10 => {
            let list = if rng.chance(2) {
                sg.inputs.get_or_insert_with(Vec::new)
            } else {
                sg.outputs.get_or_insert_with(Vec::new)
            };
            let v = if rng.chance(2) {
                rng.below(n_tensors + 1) as i32
            } else {
                interesting_i32(rng)
            };
            if list.is_empty() || rng.chance(3) {
                list.push(v);
                log.push(format!("graph io: push {v}"));
            } else {
                let i = rng.below(list.len());
                list[i] = v;
                log.push(format!("graph io {i} = {v}"));
            }
        }
        _ => {
            // Resize a constant buffer.
            let Some(buffers) = model.buffers.as_mut() else {
                return;
            };
            let b = rng.below(buffers.len());
            if let Some(data) = buffers[b].data.as_mut() {
                if rng.chance(2) {
                    let n = rng.below(data.len() + 1);
                    data.truncate(n);
                    log.push(format!("buffer {b}: truncate to {n}"));
                } else {
                    let n = 1 + rng.below(16);
                    data.extend(std::iter::repeat_n(0x55, n));
                    log.push(format!("buffer {b}: extend by {n}"));
                }
            }
        }
    }
}

fn mutate_options(rng: &mut Rng, op: &mut fb::Operator, o: usize, log: &mut Vec<String>) {
    let v = interesting_i32(rng);
    let act = *rng.pick(&[
        fb::ActivationFunctionType::None,
        fb::ActivationFunctionType::Relu,
        fb::ActivationFunctionType::Relu6,
        fb::ActivationFunctionType::ReluN1To1,
        fb::ActivationFunctionType::Tanh,
        fb::ActivationFunctionType::SignBit,
    ]);
    let pad = *rng.pick(&[fb::Padding::Same, fb::Padding::Valid]);
    let field = rng.below(6);
    let what = match op.builtin_options.as_mut() {
        Some(fb::BuiltinOptions::Conv2DOptions(c)) => match field {
            0 => format!("stride_h {}", std::mem::replace(&mut c.stride_h, v)),
            1 => format!("stride_w {}", std::mem::replace(&mut c.stride_w, v)),
            2 => format!(
                "dilation_h {}",
                std::mem::replace(&mut c.dilation_h_factor, v)
            ),
            3 => format!(
                "dilation_w {}",
                std::mem::replace(&mut c.dilation_w_factor, v)
            ),
            4 => format!("padding {:?}", std::mem::replace(&mut c.padding, pad)),
            _ => format!(
                "act {:?}",
                std::mem::replace(&mut c.fused_activation_function, act)
            ),
        },
        Some(fb::BuiltinOptions::DepthwiseConv2DOptions(c)) => match field {
            0 => format!("stride_h {}", std::mem::replace(&mut c.stride_h, v)),
            1 => format!("stride_w {}", std::mem::replace(&mut c.stride_w, v)),
            2 => format!(
                "dilation_h {}",
                std::mem::replace(&mut c.dilation_h_factor, v)
            ),
            3 => format!(
                "depth_multiplier {}",
                std::mem::replace(&mut c.depth_multiplier, v)
            ),
            4 => format!("padding {:?}", std::mem::replace(&mut c.padding, pad)),
            _ => format!(
                "act {:?}",
                std::mem::replace(&mut c.fused_activation_function, act)
            ),
        },
        Some(fb::BuiltinOptions::Pool2DOptions(p)) => match field {
            0 => format!("stride_h {}", std::mem::replace(&mut p.stride_h, v)),
            1 => format!("stride_w {}", std::mem::replace(&mut p.stride_w, v)),
            2 => format!(
                "filter_height {}",
                std::mem::replace(&mut p.filter_height, v)
            ),
            3 => format!("filter_width {}", std::mem::replace(&mut p.filter_width, v)),
            4 => format!("padding {:?}", std::mem::replace(&mut p.padding, pad)),
            _ => format!(
                "act {:?}",
                std::mem::replace(&mut p.fused_activation_function, act)
            ),
        },
        Some(fb::BuiltinOptions::SoftmaxOptions(s)) => {
            let beta = *rng.pick(INTERESTING_F32);
            format!("beta {}", std::mem::replace(&mut s.beta, beta))
        }
        Some(fb::BuiltinOptions::ConcatenationOptions(c)) => {
            if field < 3 {
                format!("axis {}", std::mem::replace(&mut c.axis, v))
            } else {
                format!(
                    "act {:?}",
                    std::mem::replace(&mut c.fused_activation_function, act)
                )
            }
        }
        Some(fb::BuiltinOptions::FullyConnectedOptions(f)) => match field {
            0 => {
                f.keep_num_dims = !f.keep_num_dims;
                "keep_num_dims".into()
            }
            1 => {
                f.weights_format = fb::FullyConnectedOptionsWeightsFormat::Shuffled4x16Int8;
                "weights_format".into()
            }
            _ => format!(
                "act {:?}",
                std::mem::replace(&mut f.fused_activation_function, act)
            ),
        },
        Some(fb::BuiltinOptions::ReducerOptions(r)) => {
            r.keep_dims = !r.keep_dims;
            "keep_dims".into()
        }
        Some(fb::BuiltinOptions::AddOptions(a)) => {
            format!(
                "act {:?}",
                std::mem::replace(&mut a.fused_activation_function, act)
            )
        }
        _ => {
            // Give the operator options of another kind.
            op.builtin_options = Some(fb::BuiltinOptions::Conv2DOptions(Box::new(
                fb::Conv2DOptions {
                    padding: pad,
                    stride_h: v,
                    stride_w: 1,
                    dilation_h_factor: 1,
                    dilation_w_factor: 1,
                    fused_activation_function: act,
                    ..Default::default()
                },
            )));
            "replaced by Conv2DOptions".into()
        }
    };
    log.push(format!("op {o}: options {what}"));
}

/// One mutant of `original`: 1 to 3 structural edits (sometimes followed
/// by a byte-level one), or 1 to 3 byte-level mutations.
fn mutant(seed: u64, original: &[u8], donor: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut rng = Rng::new(seed);
    let mut log = Vec::new();
    let edits = 1 + rng.below(3);
    let mut bytes = if rng.chance(2) {
        let mut model = common::parse(original);
        for _ in 0..edits {
            mutate_model(&mut rng, &mut model, &mut log);
        }
        common::serialize(&model)
    } else {
        original.to_vec()
    };
    let byte_edits = if log.is_empty() {
        edits
    } else {
        usize::from(rng.chance(4))
    };
    for _ in 0..byte_edits {
        mutate_bytes(&mut rng, &mut bytes, donor, &mut log);
    }
    (bytes, log)
}

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
                let (bytes, log) = mutant(seed, &originals[i], donor);
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
