//! Mutations of TFLite models, shared by `tests/robustness.rs` (driven by
//! a seeded xorshift) and the `tflite_mutate` fuzz target (driven by the
//! fuzzer's bytes): byte-level damage, and structure-aware edits through
//! the planus owned types that keep the flatbuffer well-formed but give
//! one field an odd value. Self-contained, so the fuzz crate can include it
//! with `#[path]`.

#![allow(dead_code)]

use planus::ReadAsRoot;

pub use mcuc::import::tflite::schema_generated::tflite as fb;

/// Serializes a model with the `TFL3` file identifier.
pub fn serialize(model: &fb::Model) -> Vec<u8> {
    let mut builder = planus::Builder::new();
    let mut bytes = builder.finish(model, Some(*b"TFL3")).to_vec();
    // planus 1.3 writes the identifier first and the root offset (relative
    // to byte 4) after it; FlatBuffers, TFLite and mcuc put the root offset
    // at byte 0 and the identifier at byte 4. Swap them.
    let root = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) + 4;
    bytes[0..4].copy_from_slice(&root.to_le_bytes());
    bytes[4..8].copy_from_slice(b"TFL3");
    bytes
}

/// Parses a `.tflite` into the owned (editable) form.
pub fn parse(bytes: &[u8]) -> fb::Model {
    let root = fb::ModelRef::read_as_root(bytes).expect("valid flatbuffer");
    fb::Model::try_from(root).expect("valid model")
}

/// Where mutation decisions come from.
pub trait Choices {
    fn next(&mut self) -> u64;
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

impl Choices for Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The fuzzer's bytes as a source of choices (zeros once they run out).
pub struct Bytes<'a>(pub &'a [u8]);

impl Choices for Bytes<'_> {
    fn next(&mut self) -> u64 {
        let n = self.0.len().min(4);
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        u64::from_le_bytes(b)
    }
}

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
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

fn interesting_i32(rng: &mut impl Choices) -> i32 {
    if rng.chance(4) {
        rng.next() as i32
    } else {
        *rng.pick(INTERESTING_I32)
    }
}

/// Byte-level mutations of a flatbuffer.
pub fn mutate_bytes(
    rng: &mut impl Choices,
    bytes: &mut Vec<u8>,
    donor: &[u8],
    log: &mut Vec<String>,
) {
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
pub fn mutate_model(rng: &mut impl Choices, model: &mut fb::Model, log: &mut Vec<String>) {
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
            if buffers.is_empty() {
                return;
            }
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

fn mutate_options(rng: &mut impl Choices, op: &mut fb::Operator, o: usize, log: &mut Vec<String>) {
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
pub fn mutant(rng: &mut impl Choices, original: &[u8], donor: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut log = Vec::new();
    let edits = 1 + rng.below(3);
    let mut bytes = if rng.chance(2) {
        let mut model = parse(original);
        for _ in 0..edits {
            mutate_model(rng, &mut model, &mut log);
        }
        serialize(&model)
    } else {
        original.to_vec()
    };
    let byte_edits = if log.is_empty() {
        edits
    } else {
        usize::from(rng.chance(4))
    };
    for _ in 0..byte_edits {
        mutate_bytes(rng, &mut bytes, donor, &mut log);
    }
    (bytes, log)
}
