//! TFLite front end: flatbuffer (read with the planus-generated reader in
//! `schema_generated.rs`) -> IR.
//!
//! Only subgraph 0 is imported. Tensors become values (constants keep their
//! buffer bytes), operators become nodes via the table in [`ops`]. Anything
//! that cannot be represented exactly is an error naming the operator index
//! and its first output tensor.

mod ops;
/// The planus-generated TFLite schema: readers, and owned types with a
/// builder that tests and fuzz targets use to write `.tflite` files. Not a
/// stable API.
#[doc(hidden)]
#[allow(clippy::all, unused, unreachable_pub, missing_docs)]
#[rustfmt::skip]
pub mod schema_generated;

use std::path::Path;
use std::sync::Arc;

use planus::ReadAsRoot;
use schema_generated::tflite as fb;

use crate::error::{Error, Result};
use crate::ir::{DType, Fact, Graph, MAX_TENSOR_BYTES, Quant, Value, ValueId};

/// TFLite files carry the identifier `TFL3` at byte offset 4.
pub fn looks_like_tflite(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[4..8] == b"TFL3"
}

/// Context shared by the operator converters.
pub(crate) struct Importer<'a> {
    pub(crate) path: &'a Path,
    pub(crate) graph: Graph,
    /// TFLite tensor index -> value.
    pub(crate) values: Vec<ValueId>,
}

impl Importer<'_> {
    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::CorruptModel {
            path: self.path.to_path_buf(),
            format: "TFLite",
            reason: reason.into(),
        }
    }

    /// The value for a TFLite tensor index from an operator's operand list.
    pub(crate) fn value(&self, index: i32, op_index: usize) -> Result<ValueId> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.values.get(i).copied())
            .ok_or_else(|| {
                self.corrupt(format!(
                    "operator {op_index} refers to tensor {index}, but the subgraph has {} tensors",
                    self.values.len()
                ))
            })
    }
}

/// Imports a TFLite flatbuffer.
pub fn import(bytes: &[u8], path: &Path) -> Result<Graph> {
    let corrupt = |reason: String| Error::CorruptModel {
        path: path.to_path_buf(),
        format: "TFLite",
        reason,
    };
    let planus_err = |what: &str, e: planus::Error| corrupt(format!("{what}: {e}"));
    if !looks_like_tflite(bytes) {
        return Err(corrupt(
            "missing the TFL3 file identifier (truncated or not a TFLite file)".into(),
        ));
    }
    let model = fb::ModelRef::read_as_root(bytes).map_err(|e| planus_err("model", e))?;
    let subgraphs = model
        .subgraphs()
        .map_err(|e| planus_err("subgraphs", e))?
        .ok_or_else(|| corrupt("the model has no subgraphs".into()))?;
    let subgraph = subgraphs
        .get(0)
        .ok_or_else(|| corrupt("the model has no subgraphs".into()))?
        .map_err(|e| planus_err("subgraph 0", e))?;
    let buffers: Vec<fb::BufferRef<'_>> =
        match model.buffers().map_err(|e| planus_err("buffers", e))? {
            Some(v) => v
                .iter()
                .collect::<planus::Result<_>>()
                .map_err(|e| planus_err("buffers", e))?,
            None => Vec::new(),
        };
    let name = super::model_name(path);
    let mut im = Importer {
        path,
        graph: Graph::new(name),
        values: Vec::new(),
    };

    let tensors = subgraph
        .tensors()
        .map_err(|e| planus_err("tensors", e))?
        .ok_or_else(|| corrupt("subgraph 0 has no tensors".into()))?;
    for (i, t) in tensors.iter().enumerate() {
        let t = t.map_err(|e| planus_err(&format!("tensor {i}"), e))?;
        let value = tensor_value(&im, i, &t, &buffers, bytes)?;
        let id = im.graph.add_value(value);
        im.values.push(id);
    }

    let index_list = |v: Option<planus::Vector<'_, i32>>, what: &str| -> Result<Vec<i32>> {
        v.map(|v| v.iter().collect::<Vec<i32>>())
            .ok_or_else(|| corrupt(format!("subgraph 0 has no {what} list")))
    };
    let inputs = index_list(
        subgraph.inputs().map_err(|e| planus_err("inputs", e))?,
        "inputs",
    )?;
    let outputs = index_list(
        subgraph.outputs().map_err(|e| planus_err("outputs", e))?,
        "outputs",
    )?;
    im.graph.inputs = inputs
        .iter()
        .map(|&i| im.value(i, usize::MAX))
        .collect::<Result<_>>()?;
    im.graph.outputs = outputs
        .iter()
        .map(|&i| im.value(i, usize::MAX))
        .collect::<Result<_>>()?;

    let codes: Vec<fb::OperatorCodeRef<'_>> = model
        .operator_codes()
        .map_err(|e| planus_err("operator codes", e))?
        .map(|v| v.iter().collect::<planus::Result<_>>())
        .transpose()
        .map_err(|e| planus_err("operator codes", e))?
        .unwrap_or_default();
    let operators = subgraph
        .operators()
        .map_err(|e| planus_err("operators", e))?
        .map(|v| v.iter().collect::<planus::Result<Vec<_>>>())
        .transpose()
        .map_err(|e| planus_err("operators", e))?
        .unwrap_or_default();
    for (index, op) in operators.iter().enumerate() {
        ops::import_operator(&mut im, index, op, &codes)?;
    }
    for &v in im.graph.inputs.iter().chain(&im.graph.outputs) {
        if im.graph.value(v).is_const() {
            return Err(Error::tensor(
                &im.graph.value(v).name,
                "is a graph input or output but holds constant data",
            ));
        }
    }
    Ok(im.graph)
}

fn dtype(t: fb::TensorType, name: &str) -> Result<DType> {
    Ok(match t {
        fb::TensorType::Int8 => DType::Int8,
        fb::TensorType::Uint8 => DType::UInt8,
        fb::TensorType::Int16 => DType::Int16,
        fb::TensorType::Int32 => DType::Int32,
        fb::TensorType::Int64 => DType::Int64,
        fb::TensorType::Float32 => DType::Float32,
        fb::TensorType::Bool => DType::Bool,
        other => {
            let other = schema_enum_name("TensorType", other as i64)
                .unwrap_or_else(|| format!("{other:?}"));
            return Err(Error::tensor(
                name,
                format!(
                    "element type {other} is not supported (expected int8, uint8, int16, int32, int64, float32 or bool)"
                ),
            ));
        }
    })
}

fn tensor_value(
    im: &Importer<'_>,
    index: usize,
    t: &fb::TensorRef<'_>,
    buffers: &[fb::BufferRef<'_>],
    file: &[u8],
) -> Result<Value> {
    let perr = |e: planus::Error| im.corrupt(format!("tensor {index}: {e}"));
    let name = t
        .name()
        .map_err(perr)?
        .map(str::to_string)
        .unwrap_or_else(|| format!("tensor_{index}"));
    let ty = t.type_().map_err(perr)?;
    let dtype = dtype(ty, &name)?;
    let shape: Vec<i32> = t
        .shape()
        .map_err(perr)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let shape = shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                Error::tensor(
                    &name,
                    format!(
                        "dimension {d} in shape {shape:?} is dynamic; mcuc needs static shapes"
                    ),
                )
            })
        })
        .collect::<Result<Vec<usize>>>()?;

    let quant = match t.quantization().map_err(perr)? {
        None => None,
        Some(q) => quantization(&q, &shape, &name).map_err(|e| match e {
            Error::InvalidTensor { .. } => e,
            other => other,
        })?,
    };
    let fact = Fact::new(shape, dtype, quant);
    match fact.checked_bytes() {
        Some(b) if b <= MAX_TENSOR_BYTES => {}
        size => {
            let size = size.map_or("larger than the address space".into(), |b| {
                format!("{b} bytes")
            });
            return Err(Error::tensor(
                &name,
                format!(
                    "shape {:?} of {dtype} is {size}; mcuc accepts at most {} MiB for one tensor",
                    fact.shape,
                    MAX_TENSOR_BYTES >> 20
                ),
            ));
        }
    }

    let buffer_index = t.buffer().map_err(perr)? as usize;
    let data = match buffers.get(buffer_index) {
        None if buffer_index == 0 => None,
        None => {
            return Err(im.corrupt(format!(
                "tensor {index} `{name}` refers to buffer {buffer_index}, but the model has {}",
                buffers.len()
            )));
        }
        Some(b) => buffer_bytes(im, b, file, buffer_index)?,
    };
    if let Some(d) = &data
        && d.len() != fact.bytes()
    {
        return Err(Error::tensor(
            &name,
            format!(
                "constant buffer {buffer_index} has {} bytes, shape {:?} of {} needs {}",
                d.len(),
                fact.shape,
                fact.dtype,
                fact.bytes()
            ),
        ));
    }
    Ok(Value { name, fact, data })
}

fn buffer_bytes(
    im: &Importer<'_>,
    b: &fb::BufferRef<'_>,
    file: &[u8],
    index: usize,
) -> Result<Option<Arc<[u8]>>> {
    let perr = |e: planus::Error| im.corrupt(format!("buffer {index}: {e}"));
    if let Some(d) = b.data().map_err(perr)?
        && !d.is_empty()
    {
        return Ok(Some(Arc::from(d)));
    }
    // Large models keep buffers after the flatbuffer: offset > 1 points into
    // the file (offset 1 is the converter's "no data" marker).
    let (offset, size) = (b.offset().map_err(perr)?, b.size().map_err(perr)?);
    if offset > 1 {
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, s)| Some(o..o.checked_add(s)?))
            .filter(|r| r.end <= file.len())
            .ok_or_else(|| {
                im.corrupt(format!(
                    "buffer {index} points at bytes {offset}..+{size} beyond the end of the file ({} bytes)",
                    file.len()
                ))
            })?;
        return Ok(Some(Arc::from(&file[range])));
    }
    Ok(None)
}

fn quantization(
    q: &fb::QuantizationParametersRef<'_>,
    shape: &[usize],
    name: &str,
) -> Result<Option<Quant>> {
    let err = |e: planus::Error| Error::tensor(name, format!("quantization: {e}"));
    let scale: Vec<f32> = q
        .scale()
        .map_err(err)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if scale.is_empty() {
        return Ok(None);
    }
    let mut zero_point: Vec<i64> = q
        .zero_point()
        .map_err(err)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if zero_point.is_empty() {
        zero_point = vec![0; scale.len()];
    } else if zero_point.len() == 1 && scale.len() > 1 {
        zero_point = vec![zero_point[0]; scale.len()];
    }
    if zero_point.len() != scale.len() {
        return Err(Error::tensor(
            name,
            format!(
                "{} quantization scales but {} zero points",
                scale.len(),
                zero_point.len()
            ),
        ));
    }
    let dim = q.quantized_dimension().map_err(err)?;
    let mut axis = usize::try_from(dim)
        .map_err(|_| Error::tensor(name, format!("negative quantized_dimension {dim}")))?;
    // Some converters copy the filter's quantized_dimension onto the 1-D
    // bias (person_detect has axis 3 on rank-1 biases). TFLM ignores it; the
    // only meaningful axis of a rank-1 tensor is 0.
    if shape.len() == 1 {
        axis = 0;
    }
    if scale.len() > 1 && shape.get(axis) != Some(&scale.len()) {
        return Err(Error::tensor(
            name,
            format!(
                "{} per-channel scales do not match dimension {axis} of shape {shape:?}",
                scale.len()
            ),
        ));
    }
    Ok(Some(Quant {
        scale,
        zero_point,
        axis,
    }))
}

/// The schema's spelling of a builtin operator code (e.g. `CONV_2D`), read
/// from the committed schema so error messages use TFLite's own names.
pub(crate) fn builtin_name(code: i32) -> String {
    schema_enum_name("BuiltinOperator", code.into())
        .unwrap_or_else(|| format!("builtin operator code {code}"))
}

/// The schema's spelling of value `value` of enum `enum_name` (e.g.
/// `ActivationFunctionType` 4 -> `TANH`), or `None` if the schema has no
/// such value.
pub(crate) fn schema_enum_name(enum_name: &str, value: i64) -> Option<String> {
    const SCHEMA: &str = include_str!("schema.fbs");
    let body = SCHEMA
        .split(&format!("enum {enum_name}"))
        .nth(1)?
        .split_once('{')?
        .1
        .split('}')
        .next()?;
    // Values are `NAME = n,` or just `NAME,` (one more than the previous).
    let mut next = 0i64;
    for line in body.lines() {
        let line = line.split("//").next().unwrap_or("");
        for item in line.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, v) = match item.split_once('=') {
                Some((name, v)) => (name.trim(), v.split_whitespace().next()?.parse().ok()?),
                None => (item.split_whitespace().next()?, next),
            };
            if v == value {
                return Some(name.to_string());
            }
            next = v + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_come_from_the_schema() {
        assert_eq!(builtin_name(3), "CONV_2D");
        assert_eq!(builtin_name(4), "DEPTHWISE_CONV_2D");
        assert_eq!(builtin_name(22), "RESHAPE");
        assert_eq!(builtin_name(36), "GATHER");
        assert_eq!(builtin_name(205), "REDUCE_WINDOW");
        assert_eq!(builtin_name(99999), "builtin operator code 99999");
    }

    #[test]
    fn enum_names_come_from_the_schema() {
        let name = |e, v| schema_enum_name(e, v);
        assert_eq!(name("ActivationFunctionType", 4).as_deref(), Some("TANH"));
        assert_eq!(name("ActivationFunctionType", 6), None);
        assert_eq!(
            name("FullyConnectedOptionsWeightsFormat", 1).as_deref(),
            Some("SHUFFLED4x16INT8")
        );
        // Implicit values: `enum Padding : byte { SAME, VALID }`.
        assert_eq!(name("Padding", 1).as_deref(), Some("VALID"));
        assert_eq!(name("TensorType", 1).as_deref(), Some("FLOAT16"));
        assert_eq!(name("NoSuchEnum", 0), None);
    }
}
