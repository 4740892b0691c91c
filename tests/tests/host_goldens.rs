//! `mcuc run` semantics (the host reference executor) against the TFLite
//! reference goldens: every model and every golden input of the corpus
//! (`$MCUC_MODELS`, default the bundled `tests/models`) must match byte for
//! byte.

use mcuc::npy;
use mcuc_tests::corpus;

#[test]
fn host_executor_is_bit_exact_on_every_golden() {
    let root = corpus::root();
    let models = corpus::models(&root).expect("corpus");
    assert!(!models.is_empty(), "no models under {}", root.display());
    let mut failures = Vec::new();
    let mut checked = 0;
    for m in &models {
        let graph = match mcuc::pipeline::load(&m.model) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: import: {e}", m.id));
                continue;
            }
        };
        assert!(!m.goldens.is_empty(), "{}: no goldens", m.id);
        for golden in &m.goldens {
            let inputs: Vec<_> = golden
                .inputs
                .iter()
                .map(|p| npy::read(p).expect("golden input"))
                .collect();
            let names: Vec<String> = golden
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            if let Err(e) = mcuc::exec::check_inputs(&graph, &inputs, &names) {
                failures.push(format!("{} [{}]: {e}", m.id, golden.name));
                continue;
            }
            let outputs = match mcuc::exec::run(&graph, &inputs) {
                Ok(o) => o,
                Err(e) => {
                    failures.push(format!("{} [{}]: {e}", m.id, golden.name));
                    continue;
                }
            };
            assert_eq!(
                outputs.len(),
                golden.outputs.len(),
                "{}: output count",
                m.id
            );
            for (i, (got, path)) in outputs.iter().zip(&golden.outputs).enumerate() {
                let want = npy::read(path).expect("golden output");
                if got.shape != want.shape || got.dtype != want.dtype || got.data != want.data {
                    let differing = got
                        .data
                        .iter()
                        .zip(&want.data)
                        .filter(|(a, b)| a != b)
                        .count();
                    failures.push(format!(
                        "{} [{}] output {i}: {differing} bytes differ (shape {:?} vs {:?})",
                        m.id, golden.name, got.shape, want.shape
                    ));
                }
            }
            checked += 1;
        }
    }
    println!("{checked} goldens over {} models checked", models.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
