//! The ONNX backend node tests (`tests/onnx-node/test_*`, copied from the
//! `onnx` 1.17.0 package, Apache-2.0) for the operators mcuc supports, on
//! the host path: import, optimize, run on the float executor (int8 ops and
//! QUANTIZE/DEQUANTIZE on the int8 kernels), compare with the expected
//! outputs.
//!
//! mcuc compiles weights and parameters as constants, so every graph input
//! after the first is turned into an initializer holding its test data (a
//! node test feeds `W` of a Conv or `shape` of a Reshape as inputs). NCHW
//! inputs and outputs that mcuc exposes in NHWC order (see the importer's
//! notes) are transposed. Tests that mcuc rejects are listed in
//! [`SKIPPED`] with the reason (also in `tests/onnx-node/README.md`); a
//! skipped test must fail with an mcuc error, never with wrong numbers, and
//! a test that starts passing must leave the list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mcuc::import::onnx::onnx_proto as pb;
use mcuc::ir::DType;
use mcuc::npy::Array;
use prost::Message;

/// Node tests mcuc rejects, with the reason (a substring of the error;
/// `tests/onnx-node/README.md` explains each).
const SKIPPED: &[(&str, &str)] = &[
    ("test_averagepool_2d_ceil", "ceil_mode = 1"),
    ("test_averagepool_2d_dilations", "dilations = Some"),
    (
        "test_averagepool_2d_pads_count_include_pad",
        "count_include_pad = 1",
    ),
    (
        "test_averagepool_2d_precomputed_pads_count_include_pad",
        "count_include_pad = 1",
    ),
    ("test_batchnorm_epsilon_training_mode", "training_mode = 1"),
    ("test_batchnorm_example_training_mode", "training_mode = 1"),
    ("test_clip_default_int8_inbounds", "IR verification failed"),
    (
        "test_clip_default_int8_max",
        "must be a constant float tensor",
    ),
    (
        "test_clip_default_int8_min",
        "must be a constant float tensor",
    ),
    ("test_constant", "holds constant data"),
    ("test_constant_pad", "constant_value = 1.2"),
    ("test_dequantizelinear", "uint8"),
    ("test_gemm_all_attributes", "transA = 1"),
    ("test_gemm_default_matrix_bias", "C has shape"),
    ("test_gemm_transposeA", "transA = 1"),
    ("test_matmul_3d", "must be a 2-D constant"),
    ("test_maxpool_2d_ceil", "ceil_mode = 1"),
    (
        "test_maxpool_2d_ceil_output_size_reduce_by_one",
        "ceil_mode = 1",
    ),
    ("test_maxpool_2d_dilations", "dilations = Some"),
    ("test_maxpool_2d_uint8", "IR verification failed"),
    ("test_qlinearconv", "quantized per tensor"),
    (
        "test_qlinearmatmul_3D_int8_float32",
        "must be a 2-D constant",
    ),
    ("test_quantizelinear", "uint8"),
    ("test_reshape_allowzero_reordered", "dynamic dimensions"),
    ("test_softmax_axis_0", "expected the innermost"),
    ("test_softmax_axis_1", "expected the innermost"),
    ("test_transpose_all_permutations_1", "moves data"),
    ("test_transpose_all_permutations_2", "moves data"),
    ("test_transpose_all_permutations_3", "moves data"),
    ("test_transpose_all_permutations_4", "moves data"),
    ("test_transpose_all_permutations_5", "moves data"),
    ("test_transpose_default", "moves data"),
];

/// Node tests whose result differs, under investigation (see the README);
/// they must keep running and keep differing, so a fix is noticed.
const KNOWN_DIFFERENT: &[&str] = &["test_qlinearmatmul_2D_int8_float32"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/onnx-node")
}

fn read_tensor(path: &Path) -> pb::TensorProto {
    let bytes = std::fs::read(path).expect("read .pb");
    pb::TensorProto::decode(bytes.as_slice()).expect("TensorProto")
}

/// A `TensorProto` as an array (raw or typed data).
fn array(t: &pb::TensorProto) -> Result<Array, String> {
    use pb::tensor_proto::DataType as D;
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let (dtype, typed): (DType, Vec<u8>) = match D::try_from(t.data_type.unwrap_or(0)) {
        Ok(D::Float) => (
            DType::Float32,
            t.float_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        Ok(D::Int8) => (DType::Int8, t.int32_data.iter().map(|&x| x as u8).collect()),
        Ok(D::Uint8) => (
            DType::UInt8,
            t.int32_data.iter().map(|&x| x as u8).collect(),
        ),
        Ok(D::Int32) => (
            DType::Int32,
            t.int32_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        Ok(D::Int64) => (
            DType::Int64,
            t.int64_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        Ok(D::Bool) => (DType::Bool, t.int32_data.iter().map(|&x| x as u8).collect()),
        other => return Err(format!("test data of type {other:?}")),
    };
    let data = match &t.raw_data {
        Some(r) if !r.is_empty() => r.clone(),
        _ => typed,
    };
    Ok(Array::new(dtype, shape, data))
}

fn nhwc(s: &[usize]) -> Vec<usize> {
    vec![s[0], s[2], s[3], s[1]]
}

/// Reorders 4-D `a` (NCHW) to NHWC.
fn to_nhwc(a: &Array) -> Array {
    let s = &a.shape;
    let size = a.dtype.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let mut out = Vec::with_capacity(a.data.len());
    for b in 0..n {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let i = ((b * c + ch) * h + y) * w + x;
                    out.extend_from_slice(&a.data[i * size..(i + 1) * size]);
                }
            }
        }
    }
    Array::new(a.dtype, nhwc(s), out)
}

/// Matches `a` to an IR shape: as is, or NCHW -> NHWC.
fn fit(a: &Array, ir_shape: &[usize]) -> Array {
    if a.shape.len() == 4 && a.shape != ir_shape && nhwc(&a.shape) == ir_shape {
        to_nhwc(a)
    } else {
        a.clone()
    }
}

enum Outcome {
    Pass,
    Rejected(String),
    Mismatch(String),
}

fn run_case(case: &Path) -> Outcome {
    let mut model = match std::fs::read(case.join("model.onnx")) {
        Ok(b) => pb::ModelProto::decode(b.as_slice()).expect("model"),
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    let data = case.join("test_data_set_0");
    let mut inputs = Vec::new();
    let graph = model.graph.as_mut().expect("graph");
    let names: Vec<String> = graph
        .input
        .iter()
        .filter_map(|i| i.name.clone())
        .filter(|n| !graph.initializer.iter().any(|t| t.name.as_ref() == Some(n)))
        .collect();
    for (k, name) in names.iter().enumerate() {
        let mut t = read_tensor(&data.join(format!("input_{k}.pb")));
        if k == 0 {
            inputs.push(t);
        } else {
            t.name = Some(name.clone());
            graph.initializer.push(t);
            graph.input.retain(|i| i.name.as_ref() != Some(name));
        }
    }
    let outputs: Vec<pb::TensorProto> = (0..graph.output.len())
        .map(|k| read_tensor(&data.join(format!("output_{k}.pb"))))
        .collect();
    let tmp = std::env::temp_dir().join(format!(
        "mcuc-node-{}-{}.onnx",
        std::process::id(),
        case.file_name().and_then(|n| n.to_str()).unwrap_or("case")
    ));
    std::fs::write(&tmp, model.encode_to_vec()).expect("write model");
    let loaded = mcuc::pipeline::load_float(&tmp, &Default::default());
    let _ = std::fs::remove_file(&tmp);
    let g = match loaded {
        Ok(g) => g,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    let arrays: Vec<Array> = match inputs.iter().map(array).collect() {
        Ok(a) => a,
        Err(e) => return Outcome::Rejected(e),
    };
    let arrays: Vec<Array> = arrays
        .iter()
        .zip(&g.inputs)
        .map(|(a, &v)| fit(a, &g.fact(v).shape))
        .collect();
    let names: Vec<String> = (0..arrays.len()).map(|k| format!("input_{k}")).collect();
    if let Err(e) = mcuc::exec::check_inputs(&g, &arrays, &names) {
        return Outcome::Rejected(e.to_string());
    }
    let got = match mcuc::exec::float::run(&g, &arrays) {
        Ok(o) => o,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    for (k, (got, want)) in got.iter().zip(&outputs).enumerate() {
        let want = match array(want) {
            Ok(w) => fit(&w, &got.shape),
            Err(e) => return Outcome::Rejected(e),
        };
        if got.shape.iter().product::<usize>() != want.shape.iter().product::<usize>()
            || got.dtype != want.dtype
        {
            return Outcome::Mismatch(format!(
                "output {k}: {} {:?}, expected {} {:?}",
                got.dtype, got.shape, want.dtype, want.shape
            ));
        }
        if got.dtype == DType::Float32 {
            let (a, b) = (
                mcuc::exec::float::f32s(&got.data),
                mcuc::exec::float::f32s(&want.data),
            );
            if let Some((i, (x, y))) = a
                .iter()
                .zip(&b)
                .enumerate()
                .find(|(_, (x, y))| (*x - *y).abs() > 1e-4 + 1e-3 * y.abs())
            {
                return Outcome::Mismatch(format!("output {k}[{i}]: {x}, expected {y}"));
            }
        } else if got.dtype == DType::Int8 {
            // ONNX requantizes in float with round-half-to-even; mcuc
            // follows TFLite's integer kernels: one step apart at most.
            if let Some(i) = (0..got.data.len())
                .find(|&i| (got.data[i] as i8 as i32 - want.data[i] as i8 as i32).abs() > 1)
            {
                return Outcome::Mismatch(format!("output {k}[{i}] differs by more than 1"));
            }
        } else if got.data != want.data {
            return Outcome::Mismatch(format!("output {k}: bytes differ"));
        }
    }
    Outcome::Pass
}

#[test]
fn onnx_node_tests_pass_on_the_host_path() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/onnx-node")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() > 100, "node tests missing: {}", cases.len());
    let skipped: BTreeMap<&str, &str> = SKIPPED.iter().copied().collect();
    let (mut passed, mut skips, mut problems) = (0, 0, Vec::new());
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let outcome = run_case(case);
        match (outcome, skipped.get(name)) {
            (Outcome::Pass, None) => passed += 1,
            (Outcome::Pass, Some(_)) => {
                problems.push(format!("{name}: passes now, remove it from SKIPPED"))
            }
            (Outcome::Rejected(e), Some(reason)) if e.contains(reason) => skips += 1,
            (Outcome::Rejected(e), _) => problems.push(format!("{name}: rejected: {e}")),
            (Outcome::Mismatch(_), _) if KNOWN_DIFFERENT.contains(&name) => skips += 1,
            (Outcome::Mismatch(m), _) => problems.push(format!("{name}: WRONG RESULT: {m}")),
        }
    }
    println!(
        "ONNX node tests: {passed} passed, {skips} skipped (of {})",
        cases.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
