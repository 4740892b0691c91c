//! Generates Rust for every corpus model at build time, so the integration
//! tests can compile and run the generated code on the host (the same code
//! the firmware runs, built for x86 here).
//!
//! Writes `$OUT_DIR/generated_models.rs`: one module per model (compiled
//! with `#[deny(warnings)]`) and a table of runners; models the compiler
//! rejects are listed with their error so a test can report them.

#[path = "src/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=MCUC_MODELS");
    let root = corpus::root();
    println!("cargo:rerun-if-changed={}", root.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let models = corpus::models(&root).unwrap_or_default();
    let mut src = String::new();
    let mut table = String::new();
    let mut errors = String::new();
    for m in &models {
        println!("cargo:rerun-if-changed={}", m.model.display());
        let mut module = format!(
            "m_{}",
            m.id.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                .to_lowercase()
        );
        while module.contains("__") {
            module = module.replace("__", "_");
        }
        let dir = out.join("generated").join(&module);
        let result = mcuc::Build::new(&m.model)
            .name("model")
            .target("f746")
            .check_fit(false)
            .out_dir(&dir)
            .compile();
        match result {
            Ok(_) => {
                let _ = writeln!(
                    src,
                    "#[deny(warnings)]\n#[allow(clippy::all)]\npub mod {module} {{ include!(concat!(env!(\"OUT_DIR\"), \"/generated/{module}/model.rs\")); }}"
                );
                let _ = writeln!(table, "    (\"{}\", run::<{module}::Model>),", m.id);
            }
            Err(e) => {
                let msg = format!("{e}").replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(errors, "    (\"{}\", \"{msg}\"),", m.id);
            }
        }
    }
    let _ = writeln!(
        src,
        "/// Runs a generated model on raw input bytes; returns raw output bytes.\n\
         pub type Runner = fn(&[Vec<u8>]) -> Vec<Vec<u8>>;\n\
         /// Every model that compiled, by corpus id.\n\
         pub static MODELS: &[(&str, Runner)] = &[\n{table}];\n\
         /// Models the compiler rejected, with the error.\n\
         pub static ERRORS: &[(&str, &str)] = &[\n{errors}];"
    );
    std::fs::write(out.join("generated_models.rs"), src).expect("write generated_models.rs");
}
