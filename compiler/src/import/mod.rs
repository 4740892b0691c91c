//! Front ends: model files (TFLite, ONNX) -> [`Graph`](crate::ir::Graph).
//!
//! Each front end produces a graph in mcuc's conventions (NHWC, explicit
//! padding, TFLite weight layouts) and returns an [`Error`] naming the
//! operator and tensor for anything it cannot represent exactly.

pub mod onnx;
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
    load_with(path, &onnx::ImportOptions::default())
}

/// [`load`] with front-end options (static shapes for dynamic ONNX inputs).
pub fn load_with(path: &Path, opts: &onnx::ImportOptions) -> Result<Graph> {
    Ok(load_imported(path, opts)?.graph)
}

/// [`load_with`], keeping the importer's notes (interface changes such as
/// an NCHW input read in NHWC order).
pub fn load_imported(path: &Path, opts: &onnx::ImportOptions) -> Result<onnx::Imported> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let imported = if tflite::looks_like_tflite(&bytes) || ext == "tflite" {
        onnx::Imported {
            graph: tflite::import(&bytes, path)?,
            notes: Vec::new(),
        }
    } else if ext == "onnx" || onnx::looks_like_onnx(&bytes) {
        onnx::import(&bytes, path, opts)?
    } else {
        return Err(Error::CorruptModel {
            path: path.to_path_buf(),
            format: "TFLite or ONNX",
            reason: "unrecognized file format (expected a .tflite flatbuffer with identifier TFL3 \
                     or an .onnx protobuf)"
                .into(),
        });
    };
    verify::verify(&imported.graph, "import")?;
    Ok(imported)
}
