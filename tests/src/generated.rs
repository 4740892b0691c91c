//! The corpus models compiled to Rust by `build.rs` and built for the host.

use mcuc_runtime::Model;

/// Copies inputs into a fresh model, invokes it, returns the outputs.
fn run<M: Model + Default>(inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    // Boxed: arenas of large models do not belong on a test thread's stack.
    let mut model: Box<M> = Box::default();
    for (i, bytes) in inputs.iter().enumerate() {
        model.input_bytes_mut(i).copy_from_slice(bytes);
    }
    model.invoke();
    (0..M::OUTPUTS.len())
        .map(|i| model.output_bytes(i).to_vec())
        .collect()
}

include!(concat!(env!("OUT_DIR"), "/generated_models.rs"));
