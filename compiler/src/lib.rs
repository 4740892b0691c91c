//! # mcuc
//!
//! An ahead-of-time compiler from trained neural networks (TFLite, ONNX) to
//! specialized `no_std` Rust for microcontrollers, with a memory map fixed at
//! compile time.
//!
//! ```text
//!  model.tflite ─┐
//!  model.onnx ───┴import──▶ ir::Graph ──verify──▶ passes ──verify──▶ [quantize] ──▶ plan ──▶ codegen
//!                                │
//!                                └──▶ exec (host reference executor, `mcuc run`)
//! ```
//!
//! The IR is described in [`ir`]; every step ends in [`ir::verify`].

mod build_api;
pub mod codegen;
pub mod error;
pub mod exec;
pub mod import;
pub mod inspect;
pub mod ir;
pub mod kernels;
pub mod npy;
pub mod passes;
pub mod patch;
pub mod pipeline;
pub mod plan;
pub mod targets;

pub use build_api::{Build, compile_model, write_files};
pub use error::{Error, Result};
pub use passes::quantize::CalibMethod;
pub use pipeline::{Generated, Options, Report};
pub use targets::{MemoryMap, Target};
