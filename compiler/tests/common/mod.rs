//! Helpers shared by the error and robustness tests: small TFLite models
//! written with the planus builder of the generated schema, hand-made
//! `.npy` files, and per-test scratch directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod mutate;

pub use mutate::{fb, parse, serialize};

/// The repository root (`tests/models` lives there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

/// The bundled model corpus.
pub fn models_dir() -> PathBuf {
    repo_root().join("tests/models")
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Per-tensor int8 quantization.
pub fn quant(scale: f32, zero_point: i64) -> Option<Box<fb::QuantizationParameters>> {
    Some(Box::new(fb::QuantizationParameters {
        scale: Some(vec![scale]),
        zero_point: Some(vec![zero_point]),
        ..Default::default()
    }))
}

/// A small single-subgraph TFLite model under construction.
#[derive(Default)]
pub struct ModelBuilder {
    tensors: Vec<fb::Tensor>,
    buffers: Vec<fb::Buffer>,
    codes: Vec<fb::OperatorCode>,
    ops: Vec<fb::Operator>,
}

impl ModelBuilder {
    pub fn new() -> Self {
        ModelBuilder {
            // Buffer 0 is the empty sentinel, as the converter writes it.
            buffers: vec![fb::Buffer::default()],
            ..Default::default()
        }
    }

    /// Adds a tensor; returns its index.
    pub fn tensor(&mut self, t: fb::Tensor) -> i32 {
        self.tensors.push(t);
        self.tensors.len() as i32 - 1
    }

    /// An int8 activation with scale 1/16 and zero point 0.
    pub fn act(&mut self, name: &str, shape: &[i32]) -> i32 {
        self.tensor(fb::Tensor {
            name: Some(name.into()),
            shape: Some(shape.to_vec()),
            type_: fb::TensorType::Int8,
            quantization: quant(0.0625, 0),
            ..Default::default()
        })
    }

    /// A constant tensor holding `data`.
    pub fn constant(
        &mut self,
        name: &str,
        shape: &[i32],
        type_: fb::TensorType,
        data: Vec<u8>,
        quantization: Option<Box<fb::QuantizationParameters>>,
    ) -> i32 {
        self.buffers.push(fb::Buffer {
            data: Some(data),
            ..Default::default()
        });
        let buffer = self.buffers.len() as u32 - 1;
        self.tensor(fb::Tensor {
            name: Some(name.into()),
            shape: Some(shape.to_vec()),
            type_,
            buffer,
            quantization,
            ..Default::default()
        })
    }

    /// Int8 weights (per-tensor scale 1/64, zero point 0), all ones.
    pub fn weights(&mut self, name: &str, shape: &[i32]) -> i32 {
        let n = shape.iter().product::<i32>() as usize;
        self.constant(
            name,
            shape,
            fb::TensorType::Int8,
            vec![1; n],
            quant(1.0 / 64.0, 0),
        )
    }

    /// An int32 bias of `n` zeros.
    pub fn bias(&mut self, name: &str, n: i32) -> i32 {
        self.constant(
            name,
            &[n],
            fb::TensorType::Int32,
            vec![0; 4 * n as usize],
            quant(0.0625 / 64.0, 0),
        )
    }

    /// An int32 constant.
    pub fn i32s(&mut self, name: &str, values: &[i32]) -> i32 {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(
            name,
            &[values.len() as i32],
            fb::TensorType::Int32,
            data,
            None,
        )
    }

    /// Appends an operator (its operator code is added once).
    pub fn op(
        &mut self,
        code: fb::BuiltinOperator,
        inputs: &[i32],
        outputs: &[i32],
        options: Option<fb::BuiltinOptions>,
    ) {
        let opcode_index = match self.codes.iter().position(|c| c.builtin_code == code) {
            Some(i) => i,
            None => {
                let raw = code as i32;
                self.codes.push(fb::OperatorCode {
                    // TFLite writes min(code, 127) into the deprecated field.
                    deprecated_builtin_code: raw.min(127) as i8,
                    builtin_code: code,
                    version: 1,
                    custom_code: None,
                });
                self.codes.len() - 1
            }
        };
        self.ops.push(fb::Operator {
            opcode_index: opcode_index as u32,
            inputs: Some(inputs.to_vec()),
            outputs: Some(outputs.to_vec()),
            builtin_options: options,
            ..Default::default()
        });
    }

    pub fn model(self, inputs: &[i32], outputs: &[i32]) -> fb::Model {
        fb::Model {
            version: 3,
            operator_codes: Some(self.codes),
            subgraphs: Some(vec![fb::SubGraph {
                tensors: Some(self.tensors),
                inputs: Some(inputs.to_vec()),
                outputs: Some(outputs.to_vec()),
                operators: Some(self.ops),
                name: Some("main".into()),
                ..Default::default()
            }]),
            description: Some("mcuc test model".into()),
            buffers: Some(self.buffers),
            ..Default::default()
        }
    }

    pub fn finish(self, inputs: &[i32], outputs: &[i32]) -> Vec<u8> {
        serialize(&self.model(inputs, outputs))
    }
}

/// `CONV_2D` options: VALID, stride 1, no dilation, the given activation.
pub fn conv_options(act: fb::ActivationFunctionType) -> fb::BuiltinOptions {
    fb::BuiltinOptions::Conv2DOptions(Box::new(fb::Conv2DOptions {
        padding: fb::Padding::Valid,
        stride_w: 1,
        stride_h: 1,
        fused_activation_function: act,
        dilation_w_factor: 1,
        dilation_h_factor: 1,
        ..Default::default()
    }))
}

/// `input [1,4,4,2] -> CONV_2D 1x1 (3 filters, activation act) -> conv [1,4,4,3]`.
pub fn conv_model(act: fb::ActivationFunctionType) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let x = m.act("input", &[1, 4, 4, 2]);
    let w = m.weights("filter", &[3, 1, 1, 2]);
    let b = m.bias("bias", 3);
    let y = m.act("conv", &[1, 4, 4, 3]);
    m.op(
        fb::BuiltinOperator::Conv2d,
        &[x, w, b],
        &[y],
        Some(conv_options(act)),
    );
    m.finish(&[x], &[y])
}

/// `input [1,8] -> FULLY_CONNECTED 8->4 (weights format fmt) -> dense [1,4]`.
pub fn fc_model(format: fb::FullyConnectedOptionsWeightsFormat) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let x = m.act("input", &[1, 8]);
    let w = m.weights("weights", &[4, 8]);
    let b = m.bias("bias", 4);
    let y = m.act("dense", &[1, 4]);
    m.op(
        fb::BuiltinOperator::FullyConnected,
        &[x, w, b],
        &[y],
        Some(fb::BuiltinOptions::FullyConnectedOptions(Box::new(
            fb::FullyConnectedOptions {
                weights_format: format,
                ..Default::default()
            },
        ))),
    );
    m.finish(&[x], &[y])
}

/// `input [1,4] -> RELU -> relu [1,4] -> GATHER(relu, indices [0, 1],
/// axis 1) -> gathered [1,2]`: GATHER is operator index 1.
pub fn gather_model() -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let x = m.act("input", &[1, 4]);
    let r = m.act("relu", &[1, 4]);
    let idx = m.i32s("indices", &[0, 1]);
    let y = m.act("gathered", &[1, 2]);
    m.op(fb::BuiltinOperator::Relu, &[x], &[r], None);
    m.op(
        fb::BuiltinOperator::Gather,
        &[r, idx],
        &[y],
        Some(fb::BuiltinOptions::GatherOptions(Box::new(
            fb::GatherOptions {
                axis: 1,
                ..Default::default()
            },
        ))),
    );
    m.finish(&[x], &[y])
}

/// `.npy` bytes with an arbitrary header dict (for malformed files).
pub fn npy_raw(descr: &str, fortran_order: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran_order { "True" } else { "False" }
    );
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

/// A well-formed `.npy` of zeros.
pub fn npy_zeros(dtype: mcuc::ir::DType, shape: &[usize]) -> Vec<u8> {
    let n: usize = shape.iter().product::<usize>() * dtype.size();
    mcuc::npy::encode(&mcuc::npy::Array::new(dtype, shape.to_vec(), vec![0; n]))
}
