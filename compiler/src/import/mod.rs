//! Front ends: model files -> [`Graph`](crate::ir::Graph).
//!
//! Each front end produces a graph in mcuc's conventions (NHWC, explicit
//! padding, TFLite weight layouts) and returns an [`Error`] naming the
//! operator and tensor for anything it cannot represent exactly.

pub mod tflite;

use std::path::Path;

use crate::error::{Error, Result};
use crate::ir::{Graph, verify};

/// A display name for a model file: its stem, or its folder's name when the
/// stem is the generic `model` (`person_detect/model.tflite` ->
/// `person_detect`).
pub fn model_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.is_empty() || stem == "model" {
        let parent = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !parent.is_empty() {
            return parent;
        }
    }
    if stem.is_empty() {
        "model".into()
    } else {
        stem
    }
}

/// Reads a model file, choosing the front end from its contents.
pub fn load(path: &Path) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let graph = if tflite::looks_like_tflite(&bytes)
        || path.extension().is_some_and(|e| e == "tflite")
    {
        tflite::import(&bytes, path)?
    } else {
        return Err(Error::CorruptModel {
            path: path.to_path_buf(),
            format: "TFLite",
            reason: "unrecognized file format (expected a .tflite flatbuffer with identifier TFL3)"
                .into(),
        });
    };
    verify::verify(&graph, "import")?;
    Ok(graph)
}
