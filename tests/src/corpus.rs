//! The model corpus: every folder under the corpus root that holds a
//! `model.tflite` (found recursively, so `ops/<case>/` counts), with its
//! golden input/output pairs.
//!
//! The root is `$MCUC_MODELS` when set, else the copy bundled in the repo
//! (`tests/models`). Goldens come from `meta.json` (`goldens[].input` or
//! `.inputs`, and `.outputs`); a folder without `meta.json` pairs
//! `inputs/<k>.npy` (or `<k>_<i>.npy`) with `outputs/<k>.npy` (or
//! `<k>_<i>.npy`).
//!
//! A `model.onnx` next to a `model.tflite` is an ONNX export of the same
//! network (QDQ form): it is a second corpus model, id `<id>.onnx`, held to
//! the same TFLite goldens byte for byte.
//!
//! This file is also compiled into `tests/build.rs` (via `#[path]`), so it
//! uses only std and serde_json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One golden: the model's inputs and the reference outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Golden {
    /// Short name (`0`, `person`, ...).
    pub name: String,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
}

/// A model of the corpus.
#[derive(Clone, Debug)]
pub struct CorpusModel {
    /// Path relative to the root with `/` replaced by `__` (`ops__op_pad`).
    pub id: String,
    pub dir: PathBuf,
    pub model: PathBuf,
    pub meta: Option<serde_json::Value>,
    pub goldens: Vec<Golden>,
}

impl CorpusModel {
    /// A field of `meta.json`, if present.
    pub fn meta(&self, key: &str) -> Option<&serde_json::Value> {
        self.meta.as_ref()?.get(key)
    }
}

/// The corpus root: `$MCUC_MODELS` or the bundled `tests/models`.
pub fn root() -> PathBuf {
    match std::env::var_os("MCUC_MODELS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => bundled_root(),
    }
}

/// `tests/models` of this repository.
pub fn bundled_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// Every model under `root`, sorted by id. Errors name the file at fault.
pub fn models(root: &Path) -> Result<Vec<CorpusModel>, String> {
    if !root.is_dir() {
        return Err(format!(
            "model corpus {} is not a directory",
            root.display()
        ));
    }
    let mut found = Vec::new();
    walk(root, root, &mut found)?;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<CorpusModel>) -> Result<(), String> {
    let model = dir.join("model.tflite");
    if model.is_file() {
        let m = load(root, dir, model)?;
        let onnx = dir.join("model.onnx");
        if onnx.is_file() {
            found.push(CorpusModel {
                id: format!("{}.onnx", m.id),
                model: onnx,
                ..m.clone()
            });
        }
        found.push(m);
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !matches!(
                name,
                "inputs" | "outputs" | "inputs_float" | "outputs_float" | "LICENSES"
            )
        })
        .collect();
    subdirs.sort();
    for d in subdirs {
        walk(root, &d, found)?;
    }
    Ok(())
}

fn load(root: &Path, dir: &Path, model: PathBuf) -> Result<CorpusModel, String> {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let id = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("__");
    let id = if id.is_empty() {
        "model".to_string()
    } else {
        id
    };
    let meta_path = dir.join("meta.json");
    let meta: Option<serde_json::Value> = if meta_path.is_file() {
        let text = std::fs::read_to_string(&meta_path)
            .map_err(|e| format!("{}: {e}", meta_path.display()))?;
        Some(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", meta_path.display()))?)
    } else {
        None
    };
    let goldens = match meta.as_ref().and_then(|m| m.get("goldens")) {
        Some(list) => goldens_from_meta(dir, list, &meta_path)?,
        None => goldens_from_files(dir)?,
    };
    Ok(CorpusModel {
        id,
        dir: dir.to_path_buf(),
        model,
        meta,
        goldens,
    })
}

fn goldens_from_meta(
    dir: &Path,
    list: &serde_json::Value,
    meta_path: &Path,
) -> Result<Vec<Golden>, String> {
    let bad = |what: &str| format!("{}: goldens: {what}", meta_path.display());
    let list = list.as_array().ok_or_else(|| bad("not a list"))?;
    let mut out = Vec::new();
    for g in list {
        let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
            match v {
                serde_json::Value::String(s) => Some(vec![s.clone()]),
                serde_json::Value::Array(a) => {
                    a.iter().map(|x| x.as_str().map(String::from)).collect()
                }
                _ => None,
            }
        };
        let inputs = g
            .get("inputs")
            .or_else(|| g.get("input"))
            .and_then(strings)
            .ok_or_else(|| bad("entry without input(s)"))?;
        let outputs = g
            .get("outputs")
            .or_else(|| g.get("output"))
            .and_then(strings)
            .ok_or_else(|| bad("entry without outputs"))?;
        let name = Path::new(&inputs[0])
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = name.strip_suffix("_0").map(String::from).unwrap_or(name);
        out.push(Golden {
            name,
            inputs: inputs.iter().map(|p| dir.join(p)).collect(),
            outputs: outputs.iter().map(|p| dir.join(p)).collect(),
        });
    }
    Ok(out)
}

/// `<k>.npy` or `<k>_<i>.npy`, grouped by `k`.
fn group(dir: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>, String> {
    let mut groups: BTreeMap<String, BTreeMap<usize, PathBuf>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(BTreeMap::new());
    };
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("npy") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        if stem.ends_with("_int8") {
            continue; // int8 copies of float inputs, not inputs themselves
        }
        let (key, index) = match stem.rsplit_once('_') {
            Some((k, i)) if i.parse::<usize>().is_ok() => (k.to_string(), i.parse().unwrap_or(0)),
            _ => (stem.clone(), 0),
        };
        groups.entry(key).or_default().insert(index, path);
    }
    Ok(groups
        .into_iter()
        .map(|(k, m)| (k, m.into_values().collect()))
        .collect())
}

fn goldens_from_files(dir: &Path) -> Result<Vec<Golden>, String> {
    let inputs = group(&dir.join("inputs"))?;
    let outputs = group(&dir.join("outputs"))?;
    Ok(inputs
        .into_iter()
        .filter_map(|(name, ins)| {
            outputs.get(&name).map(|outs| Golden {
                name,
                inputs: ins,
                outputs: outs.clone(),
            })
        })
        .collect())
}
