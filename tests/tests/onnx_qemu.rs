//! `mcuc compile model.onnx --target f746 --calib calib.npy` on a float
//! model: the generated firmware runs under QEMU (Cortex-M7) and matches
//! `mcuc run` (the host executor on the same quantized graph) byte for
//! byte, on float inputs and outputs.

use std::path::{Path, PathBuf};

use mcuc::npy;
use mcuc_tests::qemu::{self, BuildOptions, ModelSource, QemuTarget, RunOptions};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

#[test]
fn calibrated_float_onnx_runs_under_qemu_like_mcuc_run() {
    let dir = models().join("kws_ref_model_float32");
    let (model, calib) = (dir.join("model.onnx"), dir.join("calib.npy"));
    let target = QemuTarget::builtin("f746").expect("f746");
    let out = std::env::temp_dir().join(format!("mcuc-onnx-qemu-{}", std::process::id()));
    mcuc::Build::new(&model)
        .name("model")
        .target("f746")
        .memory_map(mcuc::MemoryMap::Qemu)
        .calibration(&calib)
        .out_dir(&out)
        .compile()
        .expect("compile with calibration");
    let fw = qemu::build_firmware(
        &ModelSource::Pregenerated(out.clone()),
        &target,
        &BuildOptions::default(),
    )
    .expect("firmware");
    let opts = mcuc::pipeline::LoadOptions {
        calibration: Some(calib),
        ..Default::default()
    };
    let graph = mcuc::pipeline::load_with(&model, &opts).expect("quantized graph");
    let mut checked = 0;
    for name in ["yes", "no", "0", "1"] {
        let input = npy::read(&dir.join(format!("inputs/{name}.npy"))).expect("input");
        let host = mcuc::exec::run(&graph, std::slice::from_ref(&input)).expect("mcuc run");
        let run =
            qemu::run_firmware(&fw, &target, &[input], &RunOptions::default()).expect("QEMU run");
        assert_eq!(run.outputs.len(), host.len());
        for (got, want) in run.outputs.iter().zip(&host) {
            assert_eq!(got.shape, want.shape, "{name}");
            assert_eq!(got.data, want.data, "{name}: firmware and mcuc run differ");
        }
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(checked, 4);
}
