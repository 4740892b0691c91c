//! What the TFLite fuzz targets do with a candidate model.

use std::path::Path;

use mcuc::npy::Array;

/// Graphs bigger than this are only imported and lowered: running or
/// compiling them would measure the kernels' speed, not find bugs.
const MAX_RUN_BYTES: usize = 1 << 20;
const MAX_RUN_MACS: u64 = 5_000_000;
const MAX_COMPILE_NODES: usize = 16;

/// Import (with verification) must return a graph or an error, never
/// panic, overflow or allocate without bound. A graph it accepts goes on
/// through `inspect`, kernel lowering and, when it is small, the host
/// executor on zero inputs and the code generator.
pub fn tflite(data: &[u8]) {
    let Ok(graph) = mcuc::import::tflite::import(data, Path::new("fuzz.tflite")) else {
        return;
    };
    // `import::load` verifies every imported graph; nothing after it may
    // rely on anything the verifier did not check.
    if mcuc::ir::verify::verify(&graph, "import").is_err() {
        return;
    }
    let Ok(summary) = mcuc::inspect::summarize(&graph) else {
        return;
    };
    let _ = mcuc::inspect::render_text(&summary);
    for n in graph.node_ids() {
        let _ = mcuc::kernels::lower(&graph, n);
    }
    let activation_bytes = graph
        .values()
        .filter(|(_, v)| !v.is_const())
        .fold(0usize, |sum, (_, v)| sum.saturating_add(v.fact.bytes()));
    if activation_bytes > MAX_RUN_BYTES || summary.macs > MAX_RUN_MACS {
        return;
    }
    let inputs: Vec<Array> = graph
        .inputs
        .iter()
        .map(|&v| {
            let f = graph.fact(v);
            Array::new(f.dtype, f.shape.clone(), vec![0; f.bytes()])
        })
        .collect();
    let _ = mcuc::exec::run(&graph, &inputs);
    if graph.node_count() <= MAX_COMPILE_NODES {
        let target = mcuc::Target::builtin("f746").expect("built-in target");
        let opts = mcuc::Options {
            check_fit: false,
            ..Default::default()
        };
        let _ = mcuc::pipeline::compile(&graph, "fuzz.tflite", &target, &opts);
    }
}
