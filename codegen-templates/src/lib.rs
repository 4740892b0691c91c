//! Kernel templates for mcuc.
//!
//! Every kernel exists once, here, as real `no_std` Rust. Two consumers use it:
//!
//! - the **host executor** (`mcuc run`) calls the functions directly with
//!   runtime parameters (this crate with feature `host`);
//! - the **code generator** parses each template file with `syn`, replaces
//!   every `p.<field>` with a constant of that layer, renames the function
//!   and emits it into the generated model, so the firmware runs the very
//!   code the host tests exercised.
//!
//! ## Template conventions (the specializer relies on them)
//!
//! One file per operator. Each kernel is a `pub fn <kernel>(p: &<Kernel>Params, ...)`:
//! - `<Kernel>Params` is a plain struct in the same file whose fields are
//!   scalars only (`usize`, `i32`, `bool`, ...). Per-channel data (weights,
//!   biases, multipliers, shifts) are separate slice arguments.
//! - The body reads parameters only as `p.<field>` (never destructures `p`
//!   or passes it on), so substituting constants is a purely syntactic step.
//! - Library functions are called by full path (`mcuc_runtime::fixed::...`,
//!   `core::...`), so the copied function needs no `use` items.
//! - Arithmetic that two kernels share (a kernel and its in-place twin) lives
//!   once, in an *element helper*: a private `#[inline(always)] fn h(p:
//!   &<Kernel>Params, ...)` of the same file, called as `h(p, ...)`. The
//!   specializer inlines each such call as a block, so generated functions
//!   stay self-contained.
//! - No `unsafe`, no allocation, no formatting, no explicit panics.
//!
//! The `prepare` module (feature `host`) turns model quantization (float
//! scales) into these params exactly as TFLite's `Prepare` functions do.
#![cfg_attr(not(any(feature = "host", test)), no_std)]
//!
//! ## Kernels
//!
//! | file | kernels | TFLM reference |
//! |---|---|---|
//! | [`conv2d`] | `conv2d` | `reference_integer_ops::ConvPerChannel` |
//! | [`depthwise_conv2d`] | `depthwise_conv2d` | `reference_integer_ops::DepthwiseConvPerChannel` |
//! | [`fully_connected`] | `fully_connected` | `reference_integer_ops::FullyConnected{,PerChannel}` |
//! | [`pool2d`] | `avg_pool2d`, `max_pool2d` | `reference_integer_ops::{AveragePool,MaxPool}` |
//! | [`add`] | `add` | `reference_integer_ops::{Add,BroadcastAdd6DSlow}` |
//! | [`mul`] | `mul` | `reference_integer_ops::{Mul,BroadcastMul6DSlow}` |
//! | [`mean`] | `mean` | `reference_ops::QuantizedMeanOrSum` (micro `reduce_common.cc`) |
//! | [`softmax`] | `softmax` | `reference_ops::Softmax` (int8 -> int8) |
//! | [`logistic`] | `logistic` | `reference_integer_ops::Logistic` (int8) |
//! | [`tanh`] | `tanh` | `reference_integer_ops::Tanh` (int8) |
//! | [`relu`] | `relu` | micro `ReluQuantized` / `Relu6Quantized` |
//! | [`pad`] | `pad` | `reference_ops::Pad` |
//! | [`concatenation`] | `concatenation` | `reference_ops::Concatenation` (one call per input) |
//! | [`quantize`] | `quantize`, `requantize` | `reference_ops::{AffineQuantize,Requantize}` |
//! | [`dequantize`] | `dequantize` | `reference_ops::Dequantize` |
//! | [`copy`] | `copy` | RESHAPE / SQUEEZE (memcpy) |
//!
//! ## Notes for the specializer
//!
//! - `f32` fields (`QuantizeParams::scale`, `DequantizeParams::scale`) must be
//!   emitted as literals that round-trip bit-exactly (Rust's `{:?}` of the
//!   value plus an `f32` suffix does).
//! - Negative `i32` values become unary-minus expressions. Kernels never
//!   call a method on a possibly negative field (`p.count.wrapping_mul(p.in_zp)`,
//!   not `p.in_zp.wrapping_mul(..)`); they do cast them (`p.pad_top as isize`),
//!   where `-1 as isize` means `(-1) as isize` as intended.
//! - CONCATENATION is one `concatenation` call per input, each with its own
//!   params.
//! - `conventions.rs` (tests) checks these conventions on every file.
//!
//! Each file's module docs state the arithmetic contract; the matching
//! `prepare::<file>` module (feature `host`) derives the params from model
//! scales and zero points exactly as TFLM's `Prepare` does.

pub mod add;
pub mod concatenation;
pub mod conv2d;
pub mod copy;
pub mod depthwise_conv2d;
pub mod dequantize;
pub mod fully_connected;
pub mod logistic;
pub mod mean;
pub mod mul;
pub mod pad;
pub mod pool2d;
pub mod quantize;
pub mod relu;
pub mod softmax;
pub mod tanh;

#[cfg(feature = "host")]
pub mod prepare;

#[cfg(test)]
mod conventions;
#[cfg(test)]
mod testutil;

#[cfg(feature = "host")]
pub use prepare::{Activation, Padding, PrepareError, Quant};
