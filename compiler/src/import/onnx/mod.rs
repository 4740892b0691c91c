//! ONNX front end: `ModelProto` (decoded with the prost types generated from
//! the committed `onnx.proto`, see `tests/onnx_proto.rs`) -> IR.
//!
//! Invariant established: the graph uses mcuc's conventions. ONNX
//! activations are NCHW; mcuc's are NHWC. Every imported tensor carries a
//! [`Layout`]: `Plain` tensors have the ONNX shape and element order,
//! `Nchw` tensors are 4-D ONNX `[N,C,H,W]` tensors stored as IR `[N,H,W,C]`.
//! Spatial operators produce `Nchw` tensors; a `Transpose` between the two
//! orders only changes the tag. Converting between them is free when it
//! moves only unit dimensions (`C == 1` or `H*W == 1`: the bytes are the
//! same); otherwise mcuc would need a transpose kernel, and the importer
//! instead exposes a graph input or output in NHWC order (listed in
//! [`Imported::notes`]) or reports an error naming the node.
//!
//! Weights are reordered at import: CONV_2D filters OIHW -> OHWI,
//! depthwise `[C*M,1,KH,KW]` -> `[1,KH,KW,C*M]`, MatMul/Gemm `B` -> `[N,K]`.
//! QDQ graphs keep their QuantizeLinear/DequantizeLinear as QUANTIZE and
//! DEQUANTIZE nodes (constant weights and int32 biases as DEQUANTIZE of a
//! quantized constant); the `fuse_qdq` pass turns each pattern back into
//! one int8 operator.
//!
//! Anything the importer cannot represent exactly is an [`Error`] naming
//! the node, its op type and the opset; a malformed file is
//! [`Error::CorruptModel`]. Nothing here panics on input.

mod ops;
/// The prost-generated ONNX protobuf types. Not a stable API.
#[doc(hidden)]
#[allow(clippy::all, unused, unreachable_pub, missing_docs, rustdoc::all)]
#[rustfmt::skip]
pub mod onnx_proto;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use prost::Message;

use crate::error::{Error, Result};
use crate::ir::ops::{Dequantize, Reshape};
use crate::ir::{DType, Fact, Graph, Node, Op, Quant, Value, ValueId};
use onnx_proto as pb;

/// Options of the ONNX front end.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Static shapes for graph inputs with dynamic dimensions, by input name
    /// (`--input-shape NAME=1,3,96,96`), in the ONNX order of the input.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
}

/// An imported graph and what the user should know about it.
#[derive(Clone, Debug)]
pub struct Imported {
    pub graph: Graph,
    /// Interface changes, e.g. an NCHW graph input that mcuc reads in NHWC
    /// order.
    pub notes: Vec<String>,
}

/// Opsets the importer implements (default domain).
/// Opset 22 only added element types (bfloat16, float8) to the operators
/// mcuc reads, so its float and int8 semantics are those of 21.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=22;

/// Whether `bytes` look like an ONNX `ModelProto`: a protobuf whose first
/// field is `ir_version` (field 1, varint), as every exporter writes it.
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x08)
}

/// How a tensor's IR value relates to its ONNX shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// IR shape = ONNX shape.
    Plain,
    /// ONNX `[N,C,H,W]` stored as IR `[N,H,W,C]`.
    Nchw,
}

/// An imported ONNX tensor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tensor {
    pub(crate) id: ValueId,
    pub(crate) layout: Layout,
}

/// NCHW -> NHWC order of a 4-D shape (or of axes: ONNX axis `a` of an
/// `Nchw` tensor is IR axis `NCHW_TO_IR[a]`).
pub(crate) const NCHW_TO_IR: [usize; 4] = [0, 3, 1, 2];

pub(crate) fn nhwc(s: &[usize]) -> Vec<usize> {
    vec![s[0], s[2], s[3], s[1]]
}

pub(crate) fn nchw(s: &[usize]) -> Vec<usize> {
    vec![s[0], s[3], s[1], s[2]]
}

/// Whether reordering `from` by `perm` only moves unit dimensions, so the
/// bytes do not change.
pub(crate) fn perm_is_reshape(from: &[usize], perm: &[usize]) -> bool {
    let order: Vec<usize> = perm.iter().copied().filter(|&a| from[a] != 1).collect();
    order.windows(2).all(|w| w[0] < w[1])
}

/// Transposes row-major `data` of `shape` (elements of `size` bytes) so
/// that output axis `i` is input axis `perm[i]`.
pub(crate) fn transpose_bytes(
    data: &[u8],
    shape: &[usize],
    perm: &[usize],
    size: usize,
) -> Vec<u8> {
    let rank = shape.len();
    let mut st = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        st[i] = st[i + 1] * shape[i + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n * size);
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        let off: usize = (0..rank).map(|i| idx[i] * st[perm[i]]).sum();
        out.extend_from_slice(&data[off * size..(off + 1) * size]);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

pub(crate) struct Importer<'a> {
    pub(crate) path: &'a Path,
    pub(crate) graph: Graph,
    pub(crate) opset: i64,
    /// ONNX tensor name -> imported tensor.
    pub(crate) names: HashMap<String, Tensor>,
    /// Graph inputs whose layout may still change (nothing read them yet).
    pub(crate) fresh_inputs: BTreeSet<ValueId>,
    pub(crate) notes: Vec<String>,
    /// DEQUANTIZE nodes already made for a constant, so weights shared by
    /// several nodes are dequantized once.
    dequantized: HashMap<ValueId, ValueId>,
}

/// Reads and converts an ONNX model.
pub fn import(bytes: &[u8], path: &Path, opts: &ImportOptions) -> Result<Imported> {
    let corrupt = |reason: String| Error::CorruptModel {
        path: path.to_path_buf(),
        format: "ONNX",
        reason,
    };
    let model = pb::ModelProto::decode(bytes)
        .map_err(|e| corrupt(format!("cannot decode the ModelProto protobuf: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| corrupt("the model has no graph".into()))?;
    let mut opset = None;
    for o in &model.opset_import {
        match o.domain.as_deref().unwrap_or("") {
            "" | "ai.onnx" => opset = o.version,
            _ => {}
        }
    }
    let opset = match opset {
        Some(v) => v,
        None if model.opset_import.is_empty() => 1,
        None => {
            return Err(corrupt(
                "no opset_import for the default ONNX domain".into(),
            ));
        }
    };
    if !OPSETS.contains(&opset) {
        return Err(Error::Usage {
            message: format!(
                "{}: ONNX opset {opset} is not supported (mcuc reads opsets {} to {}); \
                 convert the model with onnx.version_converter",
                path.display(),
                OPSETS.start(),
                OPSETS.end()
            ),
        });
    }
    let mut im = Importer {
        path,
        graph: Graph::new(super::model_name(path)),
        opset,
        names: HashMap::new(),
        fresh_inputs: BTreeSet::new(),
        notes: Vec::new(),
        dequantized: HashMap::new(),
    };
    for init in &graph.initializer {
        let value = im.tensor_proto(init, None)?;
        let name = value.name.clone();
        let id = im.graph.add_value(value);
        im.names.insert(
            name,
            Tensor {
                id,
                layout: Layout::Plain,
            },
        );
    }
    for input in &graph.input {
        let name = input.name.clone().unwrap_or_default();
        if im.names.contains_key(&name) {
            continue; // IR < 4 lists initializers among the inputs
        }
        let (shape, dtype) = im.value_info(input, opts)?;
        let fact = Fact::new(shape, dtype, None);
        check_size(&name, &fact)?;
        let id = im.graph.add_value(Value {
            name: name.clone(),
            fact,
            data: None,
        });
        im.graph.inputs.push(id);
        im.fresh_inputs.insert(id);
        im.names.insert(
            name,
            Tensor {
                id,
                layout: Layout::Plain,
            },
        );
    }
    for unknown in opts.input_shapes.keys() {
        if !graph
            .input
            .iter()
            .any(|i| i.name.as_deref() == Some(unknown))
        {
            return Err(Error::Usage {
                message: format!(
                    "--input-shape names `{unknown}`, but the model's inputs are {}",
                    graph
                        .input
                        .iter()
                        .filter_map(|i| i.name.as_deref())
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    for (index, node) in graph.node.iter().enumerate() {
        ops::import_node(&mut im, index, node)?;
    }
    for output in &graph.output {
        let name = output.name.clone().unwrap_or_default();
        let t = im.get(&name, "graph output")?;
        let id = im.output_value(t, &name)?;
        im.graph.outputs.push(id);
    }
    for &v in im.graph.inputs.iter().chain(&im.graph.outputs) {
        if im.graph.value(v).is_const() {
            return Err(Error::tensor(
                &im.graph.value(v).name,
                "is a graph input or output but holds constant data",
            ));
        }
    }
    if im.graph.outputs.is_empty() {
        return Err(corrupt("the graph has no outputs".into()));
    }
    Ok(Imported {
        graph: im.graph,
        notes: im.notes,
    })
}

/// The largest tensor the importer accepts (256 MiB, the TFLite front end's
/// limit): a corrupt shape is an error, not an overflow or a huge
/// allocation.
const MAX_TENSOR_BYTES: usize = 1 << 28;

fn check_size(name: &str, fact: &Fact) -> Result<()> {
    let bytes = fact
        .shape
        .iter()
        .try_fold(fact.dtype.size(), |n, &d| n.checked_mul(d));
    match bytes {
        Some(b) if b <= MAX_TENSOR_BYTES => Ok(()),
        _ => Err(Error::tensor(
            name,
            format!(
                "shape {:?} of {} is larger than the {} MiB mcuc accepts for one tensor",
                fact.shape,
                fact.dtype,
                MAX_TENSOR_BYTES >> 20
            ),
        )),
    }
}

/// ONNX `TensorProto.DataType` -> IR dtype.
pub(crate) fn dtype(code: i32, name: &str) -> Result<DType> {
    use pb::tensor_proto::DataType as D;
    Ok(match D::try_from(code) {
        Ok(D::Float) => DType::Float32,
        Ok(D::Int8) => DType::Int8,
        Ok(D::Uint8) => DType::UInt8,
        Ok(D::Int16) => DType::Int16,
        Ok(D::Int32) => DType::Int32,
        Ok(D::Int64) => DType::Int64,
        Ok(D::Bool) => DType::Bool,
        Ok(other) => {
            return Err(Error::tensor(
                name,
                format!(
                    "element type {} is not supported (expected float, int8, uint8, int16, int32, int64 or bool)",
                    other.as_str_name()
                ),
            ));
        }
        Err(_) => {
            return Err(Error::tensor(name, format!("unknown element type {code}")));
        }
    })
}

impl Importer<'_> {
    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::CorruptModel {
            path: self.path.to_path_buf(),
            format: "ONNX",
            reason: reason.into(),
        }
    }

    fn value_info(
        &self,
        vi: &pb::ValueInfoProto,
        opts: &ImportOptions,
    ) -> Result<(Vec<usize>, DType)> {
        let name = vi.name.clone().unwrap_or_default();
        let tt = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(pb::type_proto::Value::TensorType(t)) => t,
            _ => {
                return Err(Error::tensor(
                    &name,
                    "graph input is not a tensor (sequences, maps and optionals are not supported)",
                ));
            }
        };
        let dtype = dtype(tt.elem_type.unwrap_or(0), &name)?;
        let dims = tt.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
        let given = opts.input_shapes.get(&name);
        if tt.shape.is_none() && given.is_none() {
            return Err(Error::tensor(
                &name,
                format!(
                    "graph input has no shape; mcuc needs static shapes: pass --input-shape {name}=D0,D1,..."
                ),
            ));
        }
        let mut shape = Vec::with_capacity(dims.len());
        let mut dynamic = Vec::new();
        for (i, d) in dims.iter().enumerate() {
            match &d.value {
                Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if *v > 0 => {
                    shape.push(*v as usize)
                }
                Some(pb::tensor_shape_proto::dimension::Value::DimParam(p)) => {
                    dynamic.push(format!("dimension {i} is `{p}`"));
                    shape.push(0);
                }
                _ => {
                    dynamic.push(format!("dimension {i} is unknown"));
                    shape.push(0);
                }
            }
        }
        match given {
            Some(g) => {
                if tt.shape.is_some() && g.len() != dims.len() {
                    return Err(Error::Usage {
                        message: format!(
                            "--input-shape {name}: {} dimensions given, the input has {}",
                            g.len(),
                            dims.len()
                        ),
                    });
                }
                for (i, (&s, &d)) in shape.iter().zip(g).enumerate() {
                    if s != 0 && s != d {
                        return Err(Error::Usage {
                            message: format!(
                                "--input-shape {name}: dimension {i} is {d}, but the model fixes it to {s}"
                            ),
                        });
                    }
                }
                if g.contains(&0) {
                    return Err(Error::Usage {
                        message: format!("--input-shape {name}: dimensions must be positive"),
                    });
                }
                Ok((g.clone(), dtype))
            }
            None if !dynamic.is_empty() => Err(Error::tensor(
                &name,
                format!(
                    "graph input has dynamic dimensions ({}); mcuc needs static shapes: \
                     pass --input-shape {name}={} (Build::input_shape)",
                    dynamic.join(", "),
                    shape
                        .iter()
                        .map(|&d| if d == 0 {
                            "1".to_string()
                        } else {
                            d.to_string()
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            )),
            None => Ok((shape, dtype)),
        }
    }

    /// A `TensorProto` (initializer or Constant attribute) as a constant value.
    pub(crate) fn tensor_proto(&self, t: &pb::TensorProto, name: Option<&str>) -> Result<Value> {
        let name = name
            .map(str::to_string)
            .or_else(|| t.name.clone())
            .unwrap_or_default();
        let dt = dtype(t.data_type.unwrap_or(0), &name)?;
        if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
            || !t.external_data.is_empty()
        {
            let location = t
                .external_data
                .iter()
                .find(|e| e.key.as_deref() == Some("location"))
                .and_then(|e| e.value.clone())
                .unwrap_or_default();
            return Err(Error::tensor(
                &name,
                format!(
                    "stores its data in an external file (`{location}`); mcuc reads self-contained \
                     .onnx files only: re-save with onnx.save_model(model, path, save_as_external_data=False)"
                ),
            ));
        }
        let mut shape = Vec::with_capacity(t.dims.len());
        for &d in &t.dims {
            shape.push(usize::try_from(d).map_err(|_| {
                Error::tensor(&name, format!("negative dimension {d} in {:?}", t.dims))
            })?);
        }
        let fact = Fact::new(shape, dt, None);
        check_size(&name, &fact)?;
        let n = fact.elements();
        let bytes: Vec<u8> = if let Some(raw) = t.raw_data.as_ref().filter(|r| !r.is_empty()) {
            raw.clone()
        } else {
            match dt {
                DType::Float32 => t.float_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                DType::Int32 => t.int32_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                DType::Int16 => t
                    .int32_data
                    .iter()
                    .flat_map(|&x| (x as i16).to_le_bytes())
                    .collect(),
                DType::Int8 | DType::UInt8 | DType::Bool => {
                    t.int32_data.iter().map(|&x| x as u8).collect()
                }
                DType::Int64 => t.int64_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            }
        };
        if bytes.len() != fact.bytes() {
            return Err(Error::tensor(
                &name,
                format!(
                    "initializer holds {} bytes, shape {:?} of {dt} ({n} elements) needs {}",
                    bytes.len(),
                    fact.shape,
                    fact.bytes()
                ),
            ));
        }
        Ok(Value {
            name,
            fact,
            data: Some(Arc::from(bytes)),
        })
    }

    /// The tensor called `name`; `what` says who asks, for the error.
    pub(crate) fn get(&self, name: &str, what: &str) -> Result<Tensor> {
        self.names.get(name).copied().ok_or_else(|| {
            self.corrupt(format!(
                "{what} reads `{name}`, which is neither a graph input, an initializer nor \
                 the output of an earlier node"
            ))
        })
    }

    /// The ONNX shape of `t`.
    pub(crate) fn onnx_shape(&self, t: Tensor) -> Vec<usize> {
        let s = &self.graph.fact(t.id).shape;
        match t.layout {
            Layout::Plain => s.clone(),
            Layout::Nchw => nchw(s),
        }
    }

    /// Marks a value as read with its current layout.
    pub(crate) fn touch(&mut self, id: ValueId) {
        self.fresh_inputs.remove(&id);
    }

    pub(crate) fn add_value(&mut self, name: &str, fact: Fact, data: Option<Vec<u8>>) -> ValueId {
        self.graph.add_value(Value {
            name: name.to_string(),
            fact,
            data: data.map(Arc::from),
        })
    }

    /// Adds `op` reading `inputs`; the output fact comes from the op's
    /// `infer` (quantization from `quant`). Errors name `node`.
    pub(crate) fn add_node(
        &mut self,
        node: &str,
        op: Op,
        inputs: Vec<ValueId>,
        out_name: &str,
        quant: Option<Quant>,
    ) -> Result<ValueId> {
        for &i in &inputs {
            self.touch(i);
        }
        let facts: Vec<&Fact> = inputs.iter().map(|&v| self.graph.fact(v)).collect();
        let inferred = op
            .def()
            .infer(&facts)
            .map_err(|e| Error::node(node, op.name(), e))?;
        let Some((shape, dtype)) = inferred.into_iter().next() else {
            return Err(Error::node(node, op.name(), "defines no output"));
        };
        let fact = Fact::new(shape, dtype, quant);
        check_size(out_name, &fact)?;
        let out = self.add_value(out_name, fact, None);
        self.graph.add_node(Node {
            name: node.to_string(),
            op,
            inputs,
            outputs: vec![out],
        });
        Ok(out)
    }

    /// A RESHAPE of `v` to `shape` (same bytes), or `v` if it already has
    /// that shape.
    pub(crate) fn reshape(&mut self, node: &str, v: ValueId, shape: Vec<usize>) -> Result<ValueId> {
        if self.graph.fact(v).shape == shape {
            self.touch(v);
            return Ok(v);
        }
        let quant = self.graph.fact(v).quant.clone();
        if let Some(data) = self.graph.value(v).data.clone() {
            let f = self.graph.fact(v);
            let fact = Fact::new(shape, f.dtype, quant);
            let name = format!("{}.reshaped", self.graph.value(v).name);
            return Ok(self.add_value(&name, fact, Some(data.to_vec())));
        }
        let name = format!("{node}.reshape");
        self.add_node(node, Reshape { shape }.into(), vec![v], &name, quant)
    }

    /// `t` as an NHWC IR value (for spatial ops). Errors name `node`/`op`.
    pub(crate) fn nhwc_value(&mut self, t: Tensor, node: &str, op: &str) -> Result<ValueId> {
        if t.layout == Layout::Nchw {
            self.touch(t.id);
            return Ok(t.id);
        }
        let shape = self.graph.fact(t.id).shape.clone();
        if shape.len() != 4 {
            return Err(Error::node(
                node,
                op,
                format!("expects a 4-D NCHW input, got shape {shape:?}"),
            ));
        }
        let target = nhwc(&shape);
        if let Some(data) = self.graph.value(t.id).data.clone() {
            let f = self.graph.fact(t.id);
            let bytes = transpose_bytes(&data, &shape, &[0, 2, 3, 1], f.dtype.size());
            let fact = Fact::new(target, f.dtype, f.quant.clone());
            let name = format!("{}.nhwc", self.graph.value(t.id).name);
            return Ok(self.add_value(&name, fact, Some(bytes)));
        }
        if perm_is_reshape(&shape, &[0, 2, 3, 1]) {
            return self.reshape(node, t.id, target);
        }
        if self.fresh_inputs.contains(&t.id) {
            // A graph input nothing has read yet: read it in NHWC order.
            self.graph.value_mut(t.id).fact.shape = target.clone();
            let name = self.graph.value(t.id).name.clone();
            self.notes.push(format!(
                "input `{name}` is NCHW {shape:?} in the ONNX model; mcuc reads it in NHWC order {target:?}"
            ));
            for tensor in self.names.values_mut() {
                if tensor.id == t.id {
                    tensor.layout = Layout::Nchw;
                }
            }
            self.touch(t.id);
            return Ok(t.id);
        }
        Err(Error::node(
            node,
            op,
            format!(
                "needs the NCHW tensor `{}` {shape:?} in NHWC order, which takes a transpose \
                 mcuc does not have (only transposes that move dimensions of size 1 are free)",
                self.graph.value(t.id).name
            ),
        ))
    }

    /// `t` as an IR value in ONNX element order.
    pub(crate) fn plain_value(&mut self, t: Tensor, node: &str, op: &str) -> Result<ValueId> {
        if t.layout == Layout::Plain {
            self.touch(t.id);
            return Ok(t.id);
        }
        let shape = self.graph.fact(t.id).shape.clone();
        if perm_is_reshape(&shape, &[0, 3, 1, 2]) {
            return self.reshape(node, t.id, nchw(&shape));
        }
        Err(Error::node(
            node,
            op,
            format!(
                "needs the NCHW tensor `{}` (ONNX shape {:?}) in NCHW element order, which takes a \
                 transpose mcuc does not have (only transposes that move dimensions of size 1 are free)",
                self.graph.value(t.id).name,
                nchw(&shape)
            ),
        ))
    }

    /// The IR value of graph output `t`: ONNX order when that is free,
    /// otherwise NHWC order with a note.
    fn output_value(&mut self, t: Tensor, name: &str) -> Result<ValueId> {
        if t.layout == Layout::Plain {
            return Ok(t.id);
        }
        let shape = self.graph.fact(t.id).shape.clone();
        if perm_is_reshape(&shape, &[0, 3, 1, 2]) {
            return self.reshape(&format!("{name}.to_onnx_order"), t.id, nchw(&shape));
        }
        self.notes.push(format!(
            "output `{name}` is NCHW {:?} in the ONNX model; mcuc writes it in NHWC order {shape:?}",
            nchw(&shape)
        ));
        Ok(t.id)
    }

    /// A float view of a constant, or of a DEQUANTIZE of a constant:
    /// `(constant, producer DEQUANTIZE if any)`.
    pub(crate) fn const_source(&self, v: ValueId) -> Option<(ValueId, bool)> {
        if self.graph.value(v).is_const() {
            return Some((v, false));
        }
        let p = self.graph.producer(v)?;
        let node = self.graph.node(p);
        match node.op {
            Op::Dequantize(_) if self.graph.value(node.inputs[0]).is_const() => {
                Some((node.inputs[0], true))
            }
            _ => None,
        }
    }

    /// DEQUANTIZE of the quantized constant `c` (made once per constant).
    pub(crate) fn dequantize_const(&mut self, c: ValueId) -> Result<ValueId> {
        if let Some(&v) = self.dequantized.get(&c) {
            return Ok(v);
        }
        let name = format!("{}.dequant", self.graph.value(c).name);
        let v = self.add_node(&name, Dequantize.into(), vec![c], &name, None)?;
        self.dequantized.insert(c, v);
        Ok(v)
    }

    /// Reorders a weight operand (a constant, or DEQUANTIZE of a quantized
    /// constant) by `perm` and reshapes it to `shape`; per-axis quantization
    /// follows its axis. Returns the float value the op reads.
    pub(crate) fn weight(
        &mut self,
        v: ValueId,
        perm: &[usize],
        shape: Vec<usize>,
        node: &str,
        op: &str,
    ) -> Result<ValueId> {
        let Some((c, dequant)) = self.const_source(v) else {
            return Err(Error::node(
                node,
                op,
                format!(
                    "weights `{}` must be a constant (an initializer, or DequantizeLinear of one)",
                    self.graph.value(v).name
                ),
            ));
        };
        let value = self.graph.value(c).clone();
        let from = value.fact.shape.clone();
        if perm.len() != from.len() {
            return Err(Error::node(
                node,
                op,
                format!("weights `{}` have shape {from:?}", value.name),
            ));
        }
        let data = value.data.as_deref().unwrap_or(&[]);
        let bytes = transpose_bytes(data, &from, perm, value.fact.dtype.size());
        let permuted: Vec<usize> = perm.iter().map(|&p| from[p]).collect();
        let quant = match value.fact.quant.clone() {
            Some(mut q) if !q.is_per_tensor() => {
                // Axis of the permuted tensor, then of the reshaped one: the
                // one non-unit dimension holding the channels.
                let pos = perm.iter().position(|&p| p == q.axis).unwrap_or(0);
                let channels = permuted[pos];
                let before: usize = permuted[..pos].iter().product();
                let mut acc = 1;
                let mut axis = None;
                for (i, &d) in shape.iter().enumerate() {
                    if acc == before && d == channels {
                        axis = Some(i);
                        break;
                    }
                    acc *= d;
                }
                q.axis = axis.ok_or_else(|| {
                    Error::node(
                        node,
                        op,
                        "per-axis weight quantization does not survive the reorder",
                    )
                })?;
                Some(q)
            }
            q => q,
        };
        let fact = Fact::new(shape, value.fact.dtype, quant);
        if fact.elements() != value.fact.elements() {
            return Err(Error::node(
                node,
                op,
                format!(
                    "weights `{}` {from:?} do not fit {:?}",
                    value.name, fact.shape
                ),
            ));
        }
        let name = format!("{}.{}", value.name, op.to_lowercase());
        let w = self.add_value(&name, fact, Some(bytes));
        if dequant {
            self.dequantize_const(w)
        } else {
            Ok(w)
        }
    }

    /// Makes a new ONNX tensor `name` refer to `t`.
    pub(crate) fn bind(&mut self, name: &str, t: Tensor) {
        self.names.insert(name.to_string(), t);
    }

    /// Attaches quantization to an int8 activation (a graph input, read by
    /// DequantizeLinear) that has none.
    ///
    /// The quantization spreads over RESHAPEs (which keep it) in both
    /// directions: a graph input reshaped before its DequantizeLinear gets
    /// the same parameters as the reshaped value.
    pub(crate) fn set_quant(&mut self, v: ValueId, q: Quant) {
        let mut todo = vec![v];
        while let Some(v) = todo.pop() {
            if self.graph.fact(v).quant.is_some() {
                continue;
            }
            self.graph.value_mut(v).fact.quant = Some(q.clone());
            if let Some(p) = self.graph.producer(v)
                && matches!(self.graph.node(p).op, Op::Reshape(_))
            {
                todo.push(self.graph.node(p).inputs[0]);
            }
            for r in self.graph.consumers(v) {
                if matches!(self.graph.node(r).op, Op::Reshape(_)) {
                    todo.extend(self.graph.node(r).outputs.iter().copied());
                }
            }
        }
    }
}
