//! Checked-in snapshots of generated code: compiler output is reviewable and
//! changes only on purpose. A mismatch prints a diff summary; rerun with
//! `MCUC_BLESS=1` to rewrite the snapshots, then review the diff in git.
//!
//! Also checks determinism: compiling twice gives identical bytes.

use std::path::{Path, PathBuf};

/// Small models whose whole output is kept: one single-op case, one full
/// network (DS-CNN keyword spotting), and a patch-based stage (a stride-2
/// convolution on a 2x2 grid: four window geometries, padded at the edges).
const SNAPSHOTS: &[(&str, &str, &str)] = &[
    (
        "op_conv3x3_relu6",
        "ops/op_conv3x3_relu6/model.tflite",
        "fit",
    ),
    ("kws_ref_model", "kws_ref_model/model.tflite", "fit"),
    (
        "op_conv3x3_s2_same_odd_patched",
        "ops/op_conv3x3_s2_same_odd/model.tflite",
        "2x2@0",
    ),
];

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("codegen")
}

fn generate(model: &Path) -> mcuc::Generated {
    generate_with(model, "fit")
}

fn generate_with(model: &Path, patch: &str) -> mcuc::Generated {
    mcuc::Build::new(model)
        .name("model")
        .target("f746")
        .patch(patch.parse().expect("patch mode"))
        .generate()
        .unwrap_or_else(|e| panic!("{}: {e}", model.display()))
}

/// The snapshot files of one model: text files verbatim, the weights blob by
/// size and FNV-1a hash (binary diffs are not reviewable).
fn snapshot_files(name: &str, g: &mcuc::Generated) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (file, bytes) in &g.files {
        let snap = match file.as_str() {
            "model.rs" => (format!("{name}.rs"), bytes.clone()),
            "memory.x" => (format!("{name}.memory.x"), bytes.clone()),
            "report.json" => (format!("{name}.plan.json"), bytes.clone()),
            "model.weights.bin" => {
                let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
                    (h ^ b as u64).wrapping_mul(0x100000001b3)
                });
                (
                    format!("{name}.weights.txt"),
                    format!("{} bytes, fnv1a64 {hash:016x}\n", bytes.len()).into_bytes(),
                )
            }
            _ => continue,
        };
        out.push(snap);
    }
    out
}

#[test]
fn generated_code_matches_the_snapshots() {
    let bless = std::env::var_os("MCUC_BLESS").is_some();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut stale = Vec::new();
    for (name, rel, patch) in SNAPSHOTS {
        let generated = generate_with(&root.join(rel), patch);
        for (file, bytes) in snapshot_files(name, &generated) {
            let path = snapshot_dir().join(&file);
            let current = std::fs::read(&path).unwrap_or_default();
            if current == bytes {
                continue;
            }
            if bless {
                std::fs::write(&path, &bytes).expect("write snapshot");
            } else {
                let (a, b) = (
                    String::from_utf8_lossy(&current),
                    String::from_utf8_lossy(&bytes),
                );
                let first = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.lines().count().min(b.lines().count()));
                stale.push(format!(
                    "{}: differs from line {} (snapshot {} lines, generated {} lines)\n  snapshot:  {}\n  generated: {}",
                    path.display(),
                    first + 1,
                    a.lines().count(),
                    b.lines().count(),
                    a.lines().nth(first).unwrap_or("<end>"),
                    b.lines().nth(first).unwrap_or("<end>")
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated code changed; review and rerun with MCUC_BLESS=1:\n{}",
        stale.join("\n")
    );
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for rel in ["person_detect/model.tflite", "resnet8_cifar10/model.tflite"] {
        let a = generate(&root.join(rel));
        let b = generate(&root.join(rel));
        assert_eq!(a.files, b.files, "{rel}: output differs between runs");
        assert!(a.files.contains_key("model.rs"), "{rel}");
    }
    let rel = "person_detect/model.tflite";
    let a = generate_with(&root.join(rel), "min");
    let b = generate_with(&root.join(rel), "min");
    assert!(a.report.patch.is_some(), "{rel}: no patch plan");
    assert_eq!(
        a.files, b.files,
        "{rel} patched: output differs between runs"
    );
}
