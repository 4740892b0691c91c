//! Plans every model of a corpus folder and compares with TFLite Micro, for
//! the corpus test and an xtask.
//!
//! A model is the file named by a `meta.json` (`"file"`, default
//! `model.tflite`) in any folder below the corpus root, or any `.tflite`
//! file in a folder without `meta.json`. `meta.json`'s
//! `tflm_arena_bytes.head` is the activation arena TFLite Micro's planner
//! needed for the same model.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{PlanOptions, plan, report, verify};
use crate::error::{Error, Result};

/// The corpus folder: `$MCUC_MODELS` if set, else `../shared/models` next to
/// the workspace, else the workspace's `tests/models`; `None` if neither
/// exists.
pub fn models_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MCUC_MODELS") {
        return Some(PathBuf::from(d));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    [root.join("../shared/models"), root.join("tests/models")]
        .into_iter()
        .find(|d| d.is_dir())
}

/// One model's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CorpusRow {
    /// Path of the model's folder (or file) relative to the corpus root.
    pub model: String,
    pub file: PathBuf,
    /// TFLite Micro's non-persistent arena ("head"), if known.
    pub tflm_head: Option<usize>,
    pub arena: usize,
    pub lower_bound: usize,
    /// The arena with no op running in place (what in place saves).
    pub arena_without_in_place: usize,
    /// Layers that run in place.
    pub in_place_layers: usize,
    /// No execution order needs less (when the schedule search proved it).
    pub any_order_bound: Option<usize>,
    pub ratio: f64,
    pub strategy: String,
    pub schedule: String,
    pub optimal: bool,
    pub buffers: usize,
    /// Bytes live at the peak layer, and that layer's op.
    pub peak_layer_op: String,
    /// Import, planning or verification failure.
    pub error: Option<String>,
}

impl CorpusRow {
    /// A `.tflite` model (which the corpus test requires to plan).
    pub fn is_tflite(&self) -> bool {
        self.file.extension().is_some_and(|e| e == "tflite")
    }
}

/// Model files below `dir`, sorted, each with its `meta.json` if any.
pub fn find_models(dir: &Path) -> Result<Vec<(PathBuf, Option<serde_json::Value>)>> {
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<(PathBuf, Option<serde_json::Value>)>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let meta_path = dir.join("meta.json");
    if meta_path.is_file() {
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Usage {
            message: format!("{}: {e}", meta_path.display()),
        })?;
        let file = meta["file"].as_str().unwrap_or("model.tflite").to_string();
        found.push((dir.join(file), Some(meta)));
    } else {
        for p in entries.iter().filter(|p| p.is_file()) {
            if p.extension().is_some_and(|e| e == "tflite") {
                found.push((p.clone(), None));
            }
        }
    }
    for p in entries.iter().filter(|p| p.is_dir()) {
        walk(p, found)?;
    }
    Ok(())
}

/// Imports, plans and verifies every model below `dir`. Per-model failures
/// are recorded in the row; only an unreadable folder is an error.
pub fn plan_corpus(dir: &Path, opts: &PlanOptions) -> Result<Vec<CorpusRow>> {
    let mut rows = Vec::new();
    for (file, meta) in find_models(dir)? {
        let rel = file.strip_prefix(dir).unwrap_or(&file);
        let model = if meta.is_some() {
            rel.parent().unwrap_or(rel)
        } else {
            rel
        }
        .to_string_lossy()
        .replace('\\', "/");
        let tflm_head = meta
            .as_ref()
            .and_then(|m| m["tflm_arena_bytes"]["head"].as_u64())
            .and_then(|h| usize::try_from(h).ok());
        let mut row = CorpusRow {
            model,
            file: file.clone(),
            tflm_head,
            arena: 0,
            lower_bound: 0,
            arena_without_in_place: 0,
            in_place_layers: 0,
            any_order_bound: None,
            ratio: 0.0,
            strategy: String::new(),
            schedule: String::new(),
            optimal: false,
            buffers: 0,
            peak_layer_op: String::new(),
            error: None,
        };
        let plain = PlanOptions {
            in_place: false,
            ..opts.clone()
        };
        let result = crate::pipeline::load(&file).and_then(|g| {
            let p = plan(&g, opts)?;
            let v = verify(&g, p, &opts.verify_options(None))?;
            let without = if opts.in_place {
                plan(&g, &plain)?.arena_bytes
            } else {
                v.arena_bytes
            };
            Ok((g, v, without))
        });
        match result {
            Ok((g, v, without)) => {
                let r = report::report(&g, &v);
                row.arena = v.arena_bytes;
                row.lower_bound = v.lower_bound_bytes;
                row.arena_without_in_place = without;
                row.in_place_layers = v.in_place.len();
                row.any_order_bound = v.any_order_lower_bound_bytes;
                row.ratio = v.ratio();
                row.strategy = v.strategy.clone();
                row.schedule = v.schedule.clone();
                row.optimal = v.optimal;
                row.buffers = v.buffers.len();
                row.peak_layer_op = r
                    .layers
                    .get(r.peak_layer)
                    .map(|l| format!("#{} {}", l.index, l.op))
                    .unwrap_or_default();
            }
            Err(e) => row.error = Some(e.to_string()),
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The table: model, TFLM head, arena, lower bound for the chosen order,
/// arena / bound, arena vs TFLM, the arena without in-place ops and how
/// many layers run in place, winning strategy and schedule, peak layer.
pub fn render_table(rows: &[CorpusRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:>9} {:>9} {:>9} {:>6} {:>8} {:>9} {:>7} {:>4}  {:<22} {:<13} peak",
        "model",
        "TFLM head",
        "arena",
        "bound",
        "ratio",
        "vs TFLM",
        "no inpl.",
        "saved",
        "inpl",
        "strategy",
        "schedule"
    );
    for r in rows {
        if let Some(e) = &r.error {
            let _ = writeln!(
                out,
                "{:<26} error: {}",
                r.model,
                e.lines().next().unwrap_or("")
            );
            continue;
        }
        let head = r.tflm_head.map_or("-".to_string(), |h| h.to_string());
        let vs = match r.tflm_head {
            Some(h) if h > 0 => format!("{:+.1}%", (r.arena as f64 / h as f64 - 1.0) * 100.0),
            _ => "-".into(),
        };
        let saved = if r.arena_without_in_place > 0 {
            format!(
                "{:.1}%",
                (1.0 - r.arena as f64 / r.arena_without_in_place as f64) * 100.0
            )
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "{:<26} {:>9} {:>9} {:>9} {:>6.3} {:>8} {:>9} {:>7} {:>4}  {:<22} {:<13} {}",
            r.model,
            head,
            r.arena,
            r.lower_bound,
            r.ratio,
            vs,
            r.arena_without_in_place,
            saved,
            r.in_place_layers,
            format!("{}{}", r.strategy, if r.optimal { " (opt)" } else { "" }),
            r.schedule,
            r.peak_layer_op
        );
    }
    let ok: Vec<&CorpusRow> = rows.iter().filter(|r| r.error.is_none()).collect();
    let total_arena: usize = ok
        .iter()
        .filter(|r| r.tflm_head.is_some())
        .map(|r| r.arena)
        .sum();
    let total_head: usize = ok.iter().filter_map(|r| r.tflm_head).sum();
    let _ = writeln!(
        out,
        "{} models planned, {} not planned (see errors); total arena {} B vs TFLM head {} B",
        ok.len(),
        rows.len() - ok.len(),
        total_arena,
        total_head
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every corpus model plans, verifies, fits in TFLite Micro's arena and
    /// comes within 3% of the lower bound for its order.
    #[test]
    fn corpus_plans_beat_tflm_and_approach_the_bound() {
        let dir = models_dir().expect(
            "no corpus: set MCUC_MODELS, or provide ../shared/models or tests/models next to the workspace",
        );
        let rows = plan_corpus(&dir, &PlanOptions::default())
            .unwrap_or_else(|e| panic!("reading the corpus {}: {e}", dir.display()));
        println!("corpus: {}\n{}", dir.display(), render_table(&rows));
        let tflite: Vec<&CorpusRow> = rows.iter().filter(|r| r.is_tflite()).collect();
        assert!(
            !tflite.is_empty(),
            "no .tflite model under {}",
            dir.display()
        );
        let mut failures = Vec::new();
        for r in &tflite {
            if let Some(e) = &r.error {
                failures.push(format!("{}: {e}", r.model));
                continue;
            }
            if let Some(h) = r.tflm_head
                && r.arena > h
            {
                failures.push(format!("{}: arena {} > TFLM head {h}", r.model, r.arena));
            }
            if r.arena as f64 > 1.03 * r.lower_bound as f64 {
                failures.push(format!(
                    "{}: arena {} > 1.03 x lower bound {}",
                    r.model, r.arena, r.lower_bound
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Planning a corpus model twice gives the same plan, byte for byte.
    #[test]
    fn corpus_plans_are_deterministic() {
        let dir = models_dir().expect("no corpus (see the test above)");
        let models = find_models(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut planned = 0;
        for (file, _) in models {
            let Ok(g) = crate::pipeline::load(&file) else {
                continue; // import failures are reported by the test above
            };
            let a = plan(&g, &PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            let b = plan(&g, &PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a, b, "{}", file.display());
            planned += 1;
        }
        assert!(planned > 0, "no model planned under {}", dir.display());
    }
}
