//! The interface every generated model implements.
//!
//! Generated code also offers typed entry points (`Model::run` with
//! `&[i8; N]` / `&[f32; N]` arrays); this trait is the byte-level view that
//! generic harnesses (the QEMU test firmware, benchmarks) use without knowing
//! the model.

/// Element type of a model input or output as stored in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Int8,
    UInt8,
    Int16,
    Int32,
    /// IEEE-754 binary32, stored little-endian.
    Float32,
}

impl DType {
    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            DType::Int8 | DType::UInt8 => 1,
            DType::Int16 => 2,
            DType::Int32 | DType::Float32 => 4,
        }
    }
}

/// Static description of one model input or output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: &'static str,
    pub shape: &'static [usize],
    pub dtype: DType,
    /// Size in bytes (`product(shape) * dtype.size()`).
    pub bytes: usize,
    /// Quantization of the tensor (`scale = 0.0` for float tensors).
    pub scale: f32,
    pub zero_point: i32,
}

/// A compiled model: a fixed arena plus the code that runs over it.
pub trait Model {
    /// Inputs in the order of the source model.
    const INPUTS: &'static [TensorInfo];
    /// Outputs in the order of the source model.
    const OUTPUTS: &'static [TensorInfo];
    /// Bytes of the activation arena, fixed at compile time.
    const ARENA_BYTES: usize;

    /// Raw bytes of input `index` (float32 little-endian for float inputs).
    /// Out-of-range indices give an empty slice.
    fn input_bytes_mut(&mut self, index: usize) -> &mut [u8];
    /// Raw bytes of output `index`, valid after [`Model::invoke`].
    fn output_bytes(&self, index: usize) -> &[u8];
    /// Runs one inference over the inputs already written.
    fn invoke(&mut self);
}
