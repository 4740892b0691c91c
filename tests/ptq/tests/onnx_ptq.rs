//! Post-training quantization of float ONNX models, measured against the
//! float model run by tract (an independent ONNX runtime).
//!
//! For each float model and every calibration input: run the float ONNX
//! model in tract, and the int8 graph mcuc quantized from the same
//! calibration set in mcuc's host executor (float in, dequantized float
//! out). Same defaults for every model (min/max calibration, per-channel
//! weights): no per-model tuning.
//!
//! - keyword spotting (`kws_ref_model_float32`, 32 real MFCCs): mean cosine
//!   similarity >= 0.995 and top-1 agreement on all 32 inputs (the official
//!   MLPerf int8 model of that network reaches 0.995 and 32/32);
//! - `mbv2_035_144/model_float.onnx`: mean cosine >= 0.9996. The bundled
//!   corpus keeps the first 8 of its 32 calibration images
//!   (`calib_8.npy`, 2 MB instead of 7.6 MB); with
//!   `MCUC_MODELS=/path/to/models` the test uses that corpus' full
//!   `calib.npy`.

use std::path::{Path, PathBuf};

use mcuc::npy::{self, Array};
use tract_onnx::prelude::*;

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn root() -> PathBuf {
    match std::env::var_os("MCUC_MODELS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => bundled(),
    }
}

fn f32s(a: &Array) -> Vec<f32> {
    mcuc::exec::float::f32s(&a.data)
}

/// The float model's outputs on `input`, computed by tract.
fn tract_run(model: &Path, input: &Array) -> Vec<f32> {
    let shape: Vec<usize> = input.shape.clone();
    let plan = tract_onnx::onnx()
        .model_for_path(model)
        .expect("tract reads the model")
        .with_input_fact(0, f32::fact(&shape).into())
        .expect("input fact")
        .into_optimized()
        .expect("tract optimizes")
        .into_runnable()
        .expect("runnable");
    let t = tract_ndarray::ArrayD::from_shape_vec(shape, f32s(input)).expect("input tensor");
    let out = plan.run(tvec!(Tensor::from(t).into())).expect("tract runs");
    out[0]
        .to_plain_array_view::<f32>()
        .expect("float output")
        .iter()
        .copied()
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return if na == nb { 1.0 } else { 0.0 };
    }
    dot / (na * nb)
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0
}

struct Measured {
    mean_cosine: f64,
    min_cosine: f64,
    top1: usize,
    n: usize,
}

/// Quantizes `model` with `calib` (default method) and compares it with
/// tract on every calibration sample.
fn measure(model: &Path, calib: &Path) -> Measured {
    measure_with(model, calib, mcuc::CalibMethod::default())
}

fn measure_with(model: &Path, calib: &Path, method: mcuc::CalibMethod) -> Measured {
    let opts = mcuc::pipeline::LoadOptions {
        calibration: Some(calib.to_path_buf()),
        calib_method: method,
        ..Default::default()
    };
    let int8 = mcuc::pipeline::load_with(model, &opts).expect("quantize");
    assert!(
        !mcuc::passes::quantize::is_float(&int8),
        "the quantized graph still computes in float"
    );
    let samples = mcuc::passes::quantize::load_calibration(calib, &int8).expect("calibration");
    let (mut sum, mut min, mut top1) = (0.0, f64::INFINITY, 0);
    for sample in &samples {
        let reference = tract_run(model, &sample[0]);
        let got = mcuc::exec::run(&int8, sample).expect("int8 run");
        let got = f32s(&got[0]);
        assert_eq!(got.len(), reference.len());
        let c = cosine(&got, &reference);
        sum += c;
        min = min.min(c);
        top1 += usize::from(argmax(&got) == argmax(&reference));
    }
    Measured {
        mean_cosine: sum / samples.len() as f64,
        min_cosine: min,
        top1,
        n: samples.len(),
    }
}

#[test]
fn kws_float_quantizes_within_mlperf_accuracy() {
    let dir = root().join("kws_ref_model_float32");
    for method in [
        mcuc::CalibMethod::MinMax,
        mcuc::CalibMethod::Percentile,
        mcuc::CalibMethod::Entropy,
    ] {
        let m = measure_with(&dir.join("model.onnx"), &dir.join("calib.npy"), method);
        println!(
            "kws_ref_model_float32 {method:?}: mean cosine {:.5} (min {:.5}), top-1 {}/{}",
            m.mean_cosine, m.min_cosine, m.top1, m.n
        );
        // Every calibration method is a usable choice, not only the default.
        assert!(
            m.mean_cosine >= 0.995,
            "{method:?}: mean cosine {}",
            m.mean_cosine
        );
    }
    let m = measure(&dir.join("model.onnx"), &dir.join("calib.npy"));
    println!(
        "kws_ref_model_float32: mean cosine {:.5} (min {:.5}), top-1 {}/{}",
        m.mean_cosine, m.min_cosine, m.top1, m.n
    );
    assert_eq!(m.n, 32);
    assert!(m.mean_cosine >= 0.995, "mean cosine {}", m.mean_cosine);
    assert_eq!(m.top1, m.n, "top-1 agreement");
}

#[test]
fn mbv2_float_quantizes_within_tolerance() {
    let dir = root().join("mbv2_035_144");
    let calib = if dir.join("calib.npy").is_file() {
        dir.join("calib.npy")
    } else {
        dir.join("calib_8.npy")
    };
    let m = measure(&dir.join("model_float.onnx"), &calib);
    println!(
        "mbv2_035_144 ({}): mean cosine {:.6} (min {:.6}), top-1 {}/{}",
        calib.display(),
        m.mean_cosine,
        m.min_cosine,
        m.top1,
        m.n
    );
    assert!(m.n >= 8);
    assert!(m.mean_cosine >= 0.9996, "mean cosine {}", m.mean_cosine);
}

#[test]
fn the_float_executor_matches_tract() {
    // The calibration runs on mcuc's float reference kernels: they must
    // compute what the ONNX model means.
    let dir = root().join("kws_ref_model_float32");
    let model = dir.join("model.onnx");
    let g = mcuc::pipeline::load_float(&model, &Default::default()).expect("float graph");
    for name in ["yes", "no", "0"] {
        let input = npy::read(&dir.join(format!("inputs/{name}.npy"))).expect("input");
        let ours = f32s(&mcuc::exec::float::run(&g, std::slice::from_ref(&input)).expect("run")[0]);
        let theirs = tract_run(&model, &input);
        let err = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-4, "{name}: max abs difference {err}");
    }
}
