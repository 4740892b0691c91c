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

/// The patch plan with the smallest arena within 15% extra MACs (else the
/// smallest), forced; `None` if the model has no patchable first stage.
fn best_patch(model: &std::path::Path) -> Option<mcuc::patch::PatchMode> {
    let g = mcuc::pipeline::load(model).ok()?;
    let opts = mcuc::plan::PlanOptions {
        regions: mcuc::Target::builtin("f746").ok()?.plan_regions(),
        ..Default::default()
    };
    let order = mcuc::plan::plan(&g, &opts).ok()?.order;
    let c = mcuc::patch::search::smallest(&g, &order, &opts, 0.15).ok()??;
    Some(c.mode())
}

fn main() {
    println!("cargo:rerun-if-env-changed=MCUC_MODELS");
    let root = corpus::root();
    println!("cargo:rerun-if-changed={}", root.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let models = corpus::models(&root).unwrap_or_default();
    let mut src = String::new();
    let mut table = String::new();
    let mut errors = String::new();
    let mut patched = String::new();
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
        // The same model with its best patch plan, if it has a patchable
        // first stage: patched code must give the same bytes.
        let Some(mode) = best_patch(&m.model) else {
            continue;
        };
        let patched_module = format!("{module}_patched");
        let dir = out.join("generated").join(&patched_module);
        let result = mcuc::Build::new(&m.model)
            .name("model")
            .target("f746")
            .check_fit(false)
            .patch(mode.clone())
            .out_dir(&dir)
            .compile();
        match result {
            Ok(r) if r.patch.is_some() => {
                let _ = writeln!(
                    src,
                    "#[deny(warnings)]\n#[allow(clippy::all)]\npub mod {patched_module} {{ include!(concat!(env!(\"OUT_DIR\"), \"/generated/{patched_module}/model.rs\")); }}"
                );
                let _ = writeln!(
                    patched,
                    "    (\"{}\", \"{mode:?}\", run::<{patched_module}::Model>),",
                    m.id
                );
            }
            Ok(_) => {
                let _ = writeln!(errors, "    (\"{} (patched)\", \"no patch plan\"),", m.id);
            }
            Err(e) => {
                let msg = format!("{e}").replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(errors, "    (\"{} (patched)\", \"{msg}\"),", m.id);
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
         pub static ERRORS: &[(&str, &str)] = &[\n{errors}];\n\
         /// Every model with a patchable first stage, compiled with its best\n\
         /// patch plan (the mode forced), by corpus id.\n\
         pub static PATCHED: &[(&str, &str, Runner)] = &[\n{patched}];"
    );
    std::fs::write(out.join("generated_models.rs"), src).expect("write generated_models.rs");
}
