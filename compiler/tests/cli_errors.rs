//! The error behaviour of the `mcuc` binary: bad input gives a diagnostic
//! that names the file, tensor or operator and what was expected, exit code
//! 2 (3 when the model does not fit the target), and never a panic.
//!
//! Every case runs the real binary. Fixtures are generated into a scratch
//! directory: small TFLite models are written with the planus builder of
//! the generated schema (`common::ModelBuilder`), `.npy` files by hand.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ModelBuilder, fb, npy_raw, npy_zeros, scratch};
use mcuc::ir::DType;

/// The outcome of one `mcuc` invocation.
struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn mcuc<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_mcuc"))
        .args(&args)
        .env("NO_COLOR", "1")
        .env_remove("OUT_DIR")
        .output()
        .expect("run mcuc");
    Run {
        args: args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Text with whitespace and miette's line-wrapping gutter removed, so a
/// needle matches however the report was wrapped.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '│' | '×'))
        .collect()
}

impl Run {
    fn context(&self) -> String {
        format!(
            "mcuc {}\nexit code: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    fn assert_no_panic(&self) -> &Self {
        assert!(
            self.code.is_some() && self.code != Some(101) && !self.stderr.contains("panicked"),
            "mcuc panicked or was killed\n{}",
            self.context()
        );
        self
    }

    /// Asserts a clean failure with exit `code`, diagnostic `diag` (e.g.
    /// `mcuc::io`) and every needle in the message.
    fn fails(&self, code: i32, diag: &str, needles: &[&str]) -> &Self {
        self.assert_no_panic();
        assert_eq!(self.code, Some(code), "wrong exit code\n{}", self.context());
        let text = squash(&self.stderr);
        for needle in std::iter::once(&diag).chain(needles) {
            assert!(
                text.contains(&squash(needle)),
                "stderr does not mention {needle:?}\n{}",
                self.context()
            );
        }
        self
    }

    fn succeeds(&self) -> &Self {
        self.assert_no_panic();
        assert_eq!(self.code, Some(0), "mcuc failed\n{}", self.context());
        self
    }
}

fn model(case: &str) -> PathBuf {
    let p = common::models_dir().join(case).join("model.tflite");
    assert!(p.is_file(), "missing bundled model {}", p.display());
    p
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

/// `op_softmax`: one int8 `[1, 10]` input, one output.
fn softmax() -> PathBuf {
    model("ops/op_softmax")
}

/// `mcuc run op_softmax --input <input> --output <dir>/out.npy`.
fn run_softmax(dir: &Path, input: &Path) -> Run {
    mcuc([
        OsStr::new("run"),
        softmax().as_os_str(),
        OsStr::new("--input"),
        input.as_os_str(),
        OsStr::new("--output"),
        dir.join("out.npy").as_os_str(),
    ])
}

// ---------------------------------------------------------------- files

#[test]
fn missing_model_file() {
    let dir = scratch("cli_missing_model");
    let missing = dir.join("no_such_model.tflite");
    let m = missing.to_str().expect("utf-8 path");
    let out = dir.join("out");
    let o = out.to_str().expect("utf-8 path");
    for args in [
        vec!["inspect", m],
        vec!["plan", m],
        vec!["compile", m, "-o", o],
        vec!["run", m, "--input", m, "--output", o],
    ] {
        mcuc(&args).fails(2, "mcuc::io", &[m, "No such file or directory"]);
    }
    assert!(!out.exists(), "compile of a missing model created {o}");
}

#[test]
fn missing_npy_input() {
    let dir = scratch("cli_missing_npy");
    let missing = dir.join("no_such_input.npy");
    run_softmax(&dir, &missing).fails(
        2,
        "mcuc::io",
        &[
            missing.to_str().expect("utf-8"),
            "No such file or directory",
        ],
    );
    assert!(!dir.join("out.npy").exists());
}

#[test]
fn unwritable_output_path() {
    let dir = scratch("cli_unwritable_output");
    // A regular file where the output directory should be.
    let blocker = write(&dir, "not_a_dir", b"occupied");
    let b = blocker.to_str().expect("utf-8");
    mcuc(["compile", softmax().to_str().expect("utf-8"), "-o", b]).fails(2, "mcuc::io", &[b]);
    // An output .npy inside that file.
    let input = write(&dir, "x.npy", &npy_zeros(DType::Int8, &[1, 10]));
    let target = blocker.join("out.npy");
    let t = target.to_str().expect("utf-8");
    mcuc([
        "run",
        softmax().to_str().expect("utf-8"),
        "--input",
        input.to_str().expect("utf-8"),
        "--output",
        t,
    ])
    .fails(2, "mcuc::io", &[t]);
    // An output directory under a directory that cannot be created.
    let nested = blocker.join("sub/out");
    let n = nested.to_str().expect("utf-8");
    mcuc(["compile", softmax().to_str().expect("utf-8"), "-o", n]).fails(2, "mcuc::io", &[b]);
}

// ---------------------------------------------------------- corrupt models

#[test]
fn truncated_tflite() {
    let dir = scratch("cli_truncated");
    for case in ["ops/op_conv3x3_relu", "kws_ref_model"] {
        let bytes = std::fs::read(model(case)).expect("read model");
        let len = bytes.len();
        // Not `len - 1`: the last bytes may be padding that no table uses.
        let cuts = [
            0,
            3,
            4,
            7,
            8,
            12,
            16,
            64,
            200,
            len / 4,
            len / 2,
            3 * len / 4,
        ];
        for cut in cuts {
            let name = format!("{}_{cut}.tflite", case.replace('/', "_"));
            let path = write(&dir, &name, &bytes[..cut]);
            mcuc(["inspect", path.to_str().expect("utf-8")]).fails(
                2,
                "mcuc::corrupt_model",
                &[&name, "not a valid TFLite model"],
            );
        }
    }
}

#[test]
fn corrupted_tflite_flipped_bytes() {
    let dir = scratch("cli_flipped");
    let bytes = std::fs::read(model("ops/op_conv3x3_relu")).expect("read model");
    // A damaged root offset: the model table is outside the file.
    let mut root = bytes.clone();
    root[2] ^= 0x7f;
    let p = write(&dir, "root.tflite", &root);
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["root.tflite", "not a valid TFLite model", "model"],
    );
    // 0xFF runs over every part of the file: each is either still a valid
    // model (the run touched only weights) or a clean error.
    let mut rejected = 0;
    for start in (8..bytes.len()).step_by(61) {
        let mut b = bytes.clone();
        for x in &mut b[start..(start + 8).min(bytes.len())] {
            *x ^= 0xff;
        }
        let name = format!("flip_{start}.tflite");
        let p = write(&dir, &name, &b);
        let run = mcuc(["inspect", p.to_str().expect("utf-8")]);
        run.assert_no_panic();
        match run.code {
            Some(0) => {}
            Some(2) => {
                rejected += 1;
                assert!(run.stderr.contains("mcuc::"), "{}", run.context());
            }
            _ => panic!("unexpected exit code\n{}", run.context()),
        }
    }
    assert!(rejected > 5, "only {rejected} corruptions were noticed");
}

#[test]
fn wrong_file_identifier() {
    let dir = scratch("cli_identifier");
    let mut bytes = std::fs::read(softmax()).expect("read model");
    bytes[4..8].copy_from_slice(b"ONNX");
    let p = write(&dir, "bad_id.tflite", &bytes);
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["bad_id.tflite", "missing the TFL3 file identifier"],
    );
    // Without the .tflite extension nothing says it is a TFLite file.
    let p = write(&dir, "bad_id.bin", &bytes);
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["bad_id.bin", "unrecognized file format", "TFL3"],
    );
}

#[test]
fn garbage_file() {
    let dir = scratch("cli_garbage");
    let mut x = 0x1234_5678_9abc_def0_u64;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let p = write(&dir, "garbage.tflite", &garbage);
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["garbage.tflite", "not a valid TFLite model"],
    );
    // Garbage that carries the identifier gets as far as the flatbuffer
    // reader.
    let mut tagged = garbage.clone();
    tagged[4..8].copy_from_slice(b"TFL3");
    let p = write(&dir, "tagged.tflite", &tagged);
    mcuc(["plan", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["tagged.tflite", "not a valid TFLite model"],
    );
}

#[test]
fn non_model_files() {
    let dir = scratch("cli_non_model");
    let text = write(&dir, "notes.txt", b"this is not a neural network\n");
    let empty = write(&dir, "empty.tflite", b"");
    let npy = write(&dir, "array.npy", &npy_zeros(DType::Int8, &[4]));
    mcuc(["inspect", text.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["notes.txt", "unrecognized file format"],
    );
    mcuc(["compile", npy.to_str().expect("utf-8"), "-o"])
        .assert_no_panic()
        .code
        .filter(|&c| c == 2)
        .expect("clap rejects the missing -o value with exit 2");
    mcuc(["plan", npy.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["array.npy", "unrecognized file format"],
    );
    mcuc(["inspect", empty.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::corrupt_model",
        &["empty.tflite", "missing the TFL3 file identifier"],
    );
    // A directory is not a model either.
    mcuc(["inspect", dir.to_str().expect("utf-8")]).fails(2, "mcuc::io", &[dir.to_str().unwrap()]);
}

fn subgraph(m: &mut fb::Model) -> &mut fb::SubGraph {
    &mut m.subgraphs.as_mut().expect("subgraphs")[0]
}

fn tensors(m: &mut fb::Model) -> &mut Vec<fb::Tensor> {
    subgraph(m).tensors.as_mut().expect("tensors")
}

fn operators(m: &mut fb::Model) -> &mut Vec<fb::Operator> {
    subgraph(m).operators.as_mut().expect("operators")
}

/// Structurally valid flatbuffers whose contents are inconsistent: the
/// message names the tensor or operator at fault.
#[test]
fn inconsistent_models_name_the_tensor_or_operator() {
    let dir = scratch("cli_inconsistent");
    let base = common::parse(&common::conv_model(fb::ActivationFunctionType::None));
    let check = |name: &str, edit: &dyn Fn(&mut fb::Model), diag: &str, needles: &[&str]| {
        let mut m = base.clone();
        edit(&mut m);
        let p = write(&dir, name, &common::serialize(&m));
        mcuc(["inspect", p.to_str().expect("utf-8")]).fails(2, diag, needles);
    };
    // Tensors: 0 input, 1 filter, 2 bias, 3 conv.
    check(
        "buffer_index.tflite",
        &|m| tensors(m)[1].buffer = 99,
        "mcuc::corrupt_model",
        &["tensor 1 `filter` refers to buffer 99, but the model has 3"],
    );
    check(
        "operand_index.tflite",
        &|m| operators(m)[0].inputs = Some(vec![0, 42, 2]),
        "mcuc::corrupt_model",
        &["operator 0 refers to tensor 42, but the subgraph has 4 tensors"],
    );
    check(
        "opcode_index.tflite",
        &|m| operators(m)[0].opcode_index = 7,
        "mcuc::corrupt_model",
        &["operator 0 uses operator code 7, but the model has 1"],
    );
    check(
        "graph_output.tflite",
        &|m| subgraph(m).outputs = Some(vec![-3]),
        "mcuc::corrupt_model",
        &["refers to tensor -3, but the subgraph has 4 tensors"],
    );
    check(
        "short_buffer.tflite",
        &|m| {
            m.buffers.as_mut().unwrap()[1]
                .data
                .as_mut()
                .unwrap()
                .truncate(5)
        },
        "mcuc::invalid_tensor",
        &[
            "tensor `filter`",
            "constant buffer 1 has 5 bytes",
            "needs 6",
        ],
    );
    check(
        "dynamic_dim.tflite",
        &|m| tensors(m)[3].shape = Some(vec![1, -1, 4, 3]),
        "mcuc::invalid_tensor",
        &["tensor `conv`", "dimension -1", "static shapes"],
    );
    check(
        "huge_dim.tflite",
        &|m| tensors(m)[0].shape = Some(vec![1, 65536, 65536, 2]),
        "mcuc::invalid_tensor",
        &[
            "tensor `input`: shape [1, 65536, 65536, 2] of int8 is 8589934592 bytes",
            "at most 256 MiB for one tensor",
        ],
    );
    check(
        "overflowing_dims.tflite",
        &|m| tensors(m)[0].shape = Some(vec![i32::MAX, i32::MAX, i32::MAX, 2]),
        "mcuc::invalid_tensor",
        &["tensor `input`", "is larger than the address space"],
    );
    check(
        "wrong_output_shape.tflite",
        &|m| tensors(m)[3].shape = Some(vec![1, 4, 4, 5]),
        "mcuc::verify",
        &[
            "node `conv` (CONV_2D)",
            "[1, 4, 4, 5]",
            "inferred [1, 4, 4, 3]",
        ],
    );
    check(
        "zero_scale.tflite",
        &|m| tensors(m)[0].quantization = common::quant(0.0, 0),
        "mcuc::verify",
        &["`input`", "scale 0 is not finite and positive"],
    );
    check(
        "flat_filter.tflite",
        &|m| tensors(m)[1].shape = Some(vec![3, 2]),
        "mcuc::invalid_node",
        &["operator CONV_2D `conv`: filter must be [O,KH,KW,I], got [3, 2]"],
    );
    check(
        "zero_stride.tflite",
        &|m| {
            operators(m)[0].builtin_options = Some(fb::BuiltinOptions::Conv2DOptions(Box::new(
                fb::Conv2DOptions {
                    stride_h: 0,
                    stride_w: 1,
                    dilation_h_factor: 1,
                    dilation_w_factor: 1,
                    ..Default::default()
                },
            )))
        },
        "mcuc::unsupported_attr",
        &["CONV_2D `conv`", "stride_h = 0", "a positive integer"],
    );
}

/// int64 paddings are read as int32; a value that does not fit must not be
/// truncated (2^32 + 1 used to become a padding of 1, a wrong model).
#[test]
fn out_of_range_int64_constant_is_not_truncated() {
    let dir = scratch("cli_int64_paddings");
    let mut m = ModelBuilder::new();
    let x = m.act("input", &[1, 4, 4, 2]);
    let pads: Vec<u8> = [0i64, 0, 0, (1 << 32) + 1, 0, 0, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = m.constant("paddings", &[4, 2], fb::TensorType::Int64, pads, None);
    let y = m.act("padded", &[1, 4, 5, 2]);
    m.op(fb::BuiltinOperator::Pad, &[x, p], &[y], None);
    let path = write(&dir, "pad_int64.tflite", &m.finish(&[x], &[y]));
    mcuc(["inspect", path.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::invalid_node",
        &[
            "operator PAD `padded`: paddings (input 1, `paddings`)",
            "with values in the int32 range",
        ],
    );
}

// ------------------------------------------------------ unsupported models

#[test]
fn generated_models_are_accepted() {
    // The negative cases below differ from these in one operator or one
    // attribute; these must compile and run, so a failure there is due to
    // that difference and not to the test's model builder.
    let dir = scratch("cli_generated_ok");
    let conv = write(
        &dir,
        "conv.tflite",
        &common::conv_model(fb::ActivationFunctionType::Relu),
    );
    let fc = write(
        &dir,
        "fc.tflite",
        &common::fc_model(fb::FullyConnectedOptionsWeightsFormat::Default),
    );
    for m in [&conv, &fc] {
        let m = m.to_str().expect("utf-8");
        mcuc(["inspect", m]).succeeds();
        mcuc(["plan", m]).succeeds();
    }
    let x = write(&dir, "x.npy", &npy_zeros(DType::Int8, &[1, 4, 4, 2]));
    let y = dir.join("y.npy");
    mcuc([
        OsStr::new("run"),
        conv.as_os_str(),
        OsStr::new("--input"),
        x.as_os_str(),
        OsStr::new("--output"),
        y.as_os_str(),
    ])
    .succeeds();
    let y = mcuc::npy::read(&y).expect("output .npy");
    assert_eq!(y.shape, vec![1, 4, 4, 3]);
}

#[test]
fn unsupported_operator() {
    let dir = scratch("cli_unsupported_op");
    let p = write(&dir, "gather.tflite", &common::gather_model());
    let p = p.to_str().expect("utf-8");
    let needles = [
        "unsupported operator GATHER at operator index 1 (node `gathered`)",
        "supported operators: ADD,",
        "CONV_2D",
    ];
    mcuc(["inspect", p]).fails(2, "mcuc::unsupported_op", &needles);
    mcuc(["plan", p, "--target", "h743"]).fails(2, "mcuc::unsupported_op", &needles);
    let out = dir.join("out");
    mcuc(["compile", p, "-o", out.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::unsupported_op",
        &needles,
    );
    assert!(!out.exists(), "a failed compile wrote output");
}

#[test]
fn unsupported_operator_unknown_to_the_schema() {
    // A file from a newer converter: an operator code this schema does not
    // name. planus cannot write an unknown enum value, so write a rare one
    // and patch its (unique) four bytes.
    let dir = scratch("cli_unknown_op");
    let mut m = common::parse(&common::conv_model(fb::ActivationFunctionType::None));
    let code = &mut m.operator_codes.as_mut().expect("codes")[0];
    code.builtin_code = fb::BuiltinOperator::ReduceWindow;
    code.deprecated_builtin_code = 127; // PLACEHOLDER_FOR_GREATER_OP_CODES
    let mut bytes = common::serialize(&m);
    let pattern = (fb::BuiltinOperator::ReduceWindow as i32).to_le_bytes();
    let hits: Vec<usize> = (0..bytes.len() - 3)
        .filter(|&i| bytes[i..i + 4] == pattern)
        .collect();
    assert_eq!(hits.len(), 1, "builtin_code bytes are not unique");
    bytes[hits[0]..hits[0] + 4].copy_from_slice(&9999i32.to_le_bytes());
    let p = write(&dir, "future.tflite", &bytes);
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::unsupported_op",
        &[
            "unsupported operator #9999 (an operator code newer than mcuc's TFLite schema)",
            "at operator index 0 (node `conv`)",
        ],
    );
}

#[test]
fn unsupported_attribute_fused_tanh() {
    let dir = scratch("cli_unsupported_attr_tanh");
    let p = write(
        &dir,
        "conv_tanh.tflite",
        &common::conv_model(fb::ActivationFunctionType::Tanh),
    );
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::unsupported_attr",
        &[
            "operator CONV_2D `conv`: unsupported fused_activation_function = TANH",
            "(expected NONE, RELU, RELU6 or RELU_N1_TO_1)",
        ],
    );
}

#[test]
fn unsupported_attribute_shuffled_weights() {
    let dir = scratch("cli_unsupported_attr_fc");
    let p = write(
        &dir,
        "fc_shuffled.tflite",
        &common::fc_model(fb::FullyConnectedOptionsWeightsFormat::Shuffled4x16Int8),
    );
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::unsupported_attr",
        &[
            "operator FULLY_CONNECTED `dense`: unsupported weights_format = SHUFFLED4x16INT8",
            "(expected DEFAULT)",
        ],
    );
}

#[test]
fn unsupported_tensor_type() {
    let dir = scratch("cli_unsupported_type");
    let mut m = ModelBuilder::new();
    let x = m.tensor(fb::Tensor {
        name: Some("half".into()),
        shape: Some(vec![1, 4]),
        type_: fb::TensorType::Float16,
        ..Default::default()
    });
    let y = m.act("relu", &[1, 4]);
    m.op(fb::BuiltinOperator::Relu, &[x], &[y], None);
    let p = write(&dir, "f16.tflite", &m.finish(&[x], &[y]));
    mcuc(["inspect", p.to_str().expect("utf-8")]).fails(
        2,
        "mcuc::invalid_tensor",
        &[
            "tensor `half`",
            "element type FLOAT16 is not supported",
            "int8",
        ],
    );
}

// ------------------------------------------------------------------ .npy

#[test]
fn npy_wrong_shape() {
    let dir = scratch("cli_npy_shape");
    let p = write(&dir, "x.npy", &npy_zeros(DType::Int8, &[1, 11]));
    run_softmax(&dir, &p).fails(
        2,
        "mcuc::io_mismatch",
        &[
            "x.npy: input 0 `serving_default_x:0` expects int8 [1, 10]",
            "the file holds int8 [1, 11]",
        ],
    );
    assert!(!dir.join("out.npy").exists());
}

#[test]
fn npy_wrong_dtype() {
    let dir = scratch("cli_npy_dtype");
    let p = write(&dir, "x.npy", &npy_zeros(DType::Float32, &[1, 10]));
    run_softmax(&dir, &p).fails(
        2,
        "mcuc::io_mismatch",
        &["expects int8 [1, 10]", "the file holds float32 [1, 10]"],
    );
}

#[test]
fn npy_wrong_number_of_inputs_and_outputs() {
    let dir = scratch("cli_npy_count");
    let x = write(&dir, "x.npy", &npy_zeros(DType::Int8, &[1, 10]));
    let (x, o1, o2) = (
        x.to_str().expect("utf-8"),
        dir.join("o1.npy"),
        dir.join("o2.npy"),
    );
    let m = softmax();
    let m = m.to_str().expect("utf-8");
    let (o1, o2) = (o1.to_str().unwrap(), o2.to_str().unwrap());
    mcuc(["run", m, "--input", x, "--input", x, "--output", o1]).fails(
        2,
        "mcuc::io_mismatch",
        &["the model has 1 input(s) (`serving_default_x:0`), got 2"],
    );
    mcuc(["run", m, "--input", x, "--output", o1, "--output", o2]).fails(
        2,
        "mcuc::io_mismatch",
        &["the model has 1 output(s), got 2 --output path(s)"],
    );
    // Two-input model with one input.
    let add = model("ops/op_add_relu");
    mcuc([
        "run",
        add.to_str().expect("utf-8"),
        "--input",
        x,
        "--output",
        o1,
    ])
    .fails(
        2,
        "mcuc::io_mismatch",
        &["the model has 2 input(s)", "got 1"],
    );
    // clap itself insists on at least one of each.
    let r = mcuc(["run", m, "--output", o1]);
    r.assert_no_panic();
    assert_eq!(r.code, Some(2), "{}", r.context());
    assert!(r.stderr.contains("--input"), "{}", r.context());
}

#[test]
fn npy_fortran_order() {
    let dir = scratch("cli_npy_fortran");
    let p = write(&dir, "f.npy", &npy_raw("|i1", true, "(1, 10)", &[0; 10]));
    run_softmax(&dir, &p).fails(
        2,
        "mcuc::npy",
        &["f.npy", "Fortran-order arrays are not supported"],
    );
}

#[test]
fn npy_big_endian() {
    let dir = scratch("cli_npy_big_endian");
    let p = write(&dir, "be.npy", &npy_raw(">i2", false, "(1, 10)", &[0; 20]));
    run_softmax(&dir, &p).fails(
        2,
        "mcuc::npy",
        &["be.npy", "unsupported dtype '>i2'", "little-endian"],
    );
    let p = write(&dir, "be4.npy", &npy_raw(">f4", false, "(1, 10)", &[0; 40]));
    run_softmax(&dir, &p).fails(2, "mcuc::npy", &["be4.npy", "unsupported dtype '>f4'"]);
}

#[test]
fn npy_truncated() {
    let dir = scratch("cli_npy_truncated");
    let good = npy_zeros(DType::Int8, &[1, 10]);
    let p = write(&dir, "short_data.npy", &good[..good.len() - 3]);
    run_softmax(&dir, &p).fails(
        2,
        "mcuc::npy",
        &[
            "short_data.npy",
            "data has 7 bytes, shape [1, 10] of int8 needs 10",
        ],
    );
    let p = write(&dir, "short_header.npy", &good[..30]);
    run_softmax(&dir, &p).fails(
        2,
        "mcuc::npy",
        &["short_header.npy", "truncated .npy header"],
    );
    for cut in [0, 5, 9] {
        let name = format!("cut_{cut}.npy");
        let p = write(&dir, &name, &good[..cut]);
        run_softmax(&dir, &p).fails(2, "mcuc::npy", &[&name, "not a .npy file"]);
    }
    let p = write(&dir, "text.npy", b"1,2,3,4,5,6,7,8,9,10\n");
    run_softmax(&dir, &p).fails(2, "mcuc::npy", &["text.npy", "missing \\x93NUMPY magic"]);
}

#[test]
fn npy_huge_shape() {
    let dir = scratch("cli_npy_huge");
    let p = write(
        &dir,
        "huge.npy",
        &npy_raw("|i1", false, "(4294967296, 4294967296, 4294967296)", &[]),
    );
    run_softmax(&dir, &p).fails(2, "mcuc::npy", &["huge.npy", "shape"]);
}

// --------------------------------------------------------------- targets

#[test]
fn unknown_target() {
    let dir = scratch("cli_unknown_target");
    let known = mcuc(["targets"]);
    known.succeeds();
    let names: Vec<&str> = known
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"f746"), "{}", known.context());
    let m = softmax();
    let m = m.to_str().expect("utf-8");
    let out = dir.join("out");
    let mut needles = vec!["unknown target `esp32`", "run `mcuc targets`"];
    needles.extend(&names);
    mcuc(["plan", m, "--target", "esp32"]).fails(2, "mcuc::unknown_target", &needles);
    mcuc([
        "compile",
        m,
        "--target",
        "esp32",
        "-o",
        out.to_str().expect("utf-8"),
    ])
    .fails(2, "mcuc::unknown_target", &needles);
    assert!(!out.exists());
}

#[test]
fn target_without_qemu_machine() {
    let dir = scratch("cli_no_qemu");
    let out = dir.join("out");
    mcuc([
        "compile",
        softmax().to_str().expect("utf-8"),
        "--target",
        "rp2040",
        "--memory-map",
        "qemu",
        "-o",
        out.to_str().expect("utf-8"),
    ])
    .fails(2, "mcuc::target", &["target `rp2040` has no QEMU machine"]);
}

#[test]
fn unknown_planner_strategy() {
    mcuc([
        "plan",
        softmax().to_str().expect("utf-8"),
        "--planner",
        "magic",
    ])
    .fails(
        2,
        "mcuc::usage",
        &["unknown placement strategy `magic` (known:", "greedy-size"],
    );
}

/// The first number after `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> u64 {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"));
    text[at + prefix.len()..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in {text}"))
}

/// Squashes miette's wrapping back into one line per paragraph.
fn one_line(stderr: &str) -> String {
    stderr
        .replace(['│', '×'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts a does-not-fit failure whose SRAM numbers add up.
fn assert_sram_overflow(run: &Run, model: &str, target: &str) {
    run.fails(
        3,
        "mcuc::does_not_fit",
        &[
            &format!("model `{model}` does not fit target `{target}`"),
            "SRAM:",
        ],
    );
    let text = one_line(&run.stderr);
    let needed = number_after(&text, "the arena needs");
    let available = number_after(&text, &format!("but {target} has"));
    let over = number_after(&text, "over by");
    assert!(needed > available, "{}", run.context());
    assert_eq!(needed - available, over, "{}", run.context());
}

#[test]
fn model_does_not_fit() {
    let dir = scratch("cli_does_not_fit");
    // mbv2_035_144 needs about 300 KB of activations. (It used to overflow
    // f746's 312 KB too, before the planner learned to do better.)
    let m = model("mbv2_035_144");
    let m = m.to_str().expect("utf-8");
    let out = dir.join("out");
    let o = out.to_str().expect("utf-8");
    // Layer by layer (--patch none) it does not fit 256 KB targets, and the
    // message points at patch-based inference.
    for target in ["f412", "nrf52840"] {
        for cmd in [
            mcuc(["plan", m, "--target", target, "--patch", "none"]),
            mcuc(["compile", m, "--target", target, "-o", o, "--patch", "none"]),
        ] {
            assert_sram_overflow(&cmd, "mbv2_035_144", target);
            cmd.fails(3, "mcuc::does_not_fit", &["patch-based inference"]);
        }
    }
    assert!(!out.exists(), "a model that does not fit was written");
    // The default, --patch fit, runs the first stage patch by patch.
    let run = mcuc(["plan", m, "--target", "nrf52840"]);
    run.succeeds();
    assert!(
        run.stdout.contains("patch: layers 0..="),
        "{}",
        run.context()
    );
    // Bad --patch values are usage errors.
    for bad in ["4x", "axb@1", "3x3@999", "9x9@12"] {
        mcuc(["plan", m, "--patch", bad]).fails(2, "mcuc::usage", &["--patch"]);
    }

    // A 512 KB input fits no built-in target's SRAM, whatever the planner
    // does.
    let mut b = ModelBuilder::new();
    let x = b.act("image", &[1, 256, 256, 8]);
    let y = b.act("relu", &[1, 256, 256, 8]);
    b.op(fb::BuiltinOperator::Relu, &[x], &[y], None);
    let big = write(&dir, "big_activations.tflite", &b.finish(&[x], &[y]));
    let big = big.to_str().expect("utf-8");
    assert_sram_overflow(
        &mcuc(["plan", big, "--target", "f746"]),
        "big_activations",
        "f746",
    );
    assert_sram_overflow(
        &mcuc(["compile", big, "--target", "f746", "-o", o]),
        "big_activations",
        "f746",
    );
    assert!(!out.exists(), "a model that does not fit was written");

    // 2 MB of weights overflow f746's 1 MB of flash.
    let mut b = ModelBuilder::new();
    let x = b.act("features", &[1, 2048]);
    let w = b.weights("weights", &[1024, 2048]);
    let y = b.act("dense", &[1, 1024]);
    b.op(fb::BuiltinOperator::FullyConnected, &[x, w], &[y], None);
    let heavy = write(&dir, "heavy_weights.tflite", &b.finish(&[x], &[y]));
    let run = mcuc(["plan", heavy.to_str().expect("utf-8"), "--target", "f746"]);
    run.fails(
        3,
        "mcuc::does_not_fit",
        &[
            "model `heavy_weights` does not fit target `f746`",
            "flash: weights",
        ],
    );
    let text = one_line(&run.stderr);
    let needed = number_after(&text, "B =");
    let budget = number_after(&text, "but f746 has");
    assert!(needed > budget && budget == 1 << 20, "{}", run.context());
}

// ---------------------------------------------------------------- catalog

/// Every diagnostic code of `error.rs` is documented in `ERRORS.md`, and
/// the catalog documents no code that does not exist.
#[test]
fn error_catalog_is_complete() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/error.rs")).expect("error.rs");
    let catalog = std::fs::read_to_string(root.join("ERRORS.md")).expect("ERRORS.md");
    let codes = |text: &str, open: &str, close: char| -> Vec<String> {
        text.split(open)
            .skip(1)
            .filter_map(|s| s.split(close).next())
            .map(|s| s.trim().to_string())
            .collect()
    };
    let defined = codes(&source, "#[diagnostic(code(", ')');
    assert!(defined.len() >= 10, "found only {defined:?} in error.rs");
    let documented: Vec<String> = catalog
        .lines()
        .filter_map(|l| l.strip_prefix("## `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = defined.iter().filter(|c| !documented.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "ERRORS.md has no `## `code`` section for {missing:?}"
    );
    let stale: Vec<_> = documented.iter().filter(|c| !defined.contains(c)).collect();
    assert!(
        stale.is_empty(),
        "ERRORS.md documents unknown codes {stale:?}"
    );
    // Each section says what triggers the error, shows it, and says what
    // to do.
    for code in &defined {
        let section = catalog
            .split(&format!("## `{code}`"))
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap_or_default();
        for part in [
            "**Trigger.**",
            &format!("```text\n{code}\n"),
            "**What to do.**",
        ] {
            assert!(
                section.contains(part),
                "ERRORS.md: section {code} lacks {part:?}"
            );
        }
    }
}
