//! Kernel bindings: IR node -> the template function that executes it, its
//! specialized parameters and constant operands.
//!
//! One file per operator family. Each binding computes the kernel parameters
//! once (via `mcuc_templates` prepare functions, which mirror TFLite's
//! `Prepare`), and offers them two ways:
//! - [`Kernel::execute`] calls the template function on the host (`mcuc run`);
//! - [`Kernel::template`], [`Kernel::params`] and [`Kernel::args`] let the
//!   code generator specialize the same function for the firmware.

use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op, ValueId};

/// A constant operand of a kernel call.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstData {
    I8(Vec<i8>),
    I32(Vec<i32>),
}

/// One argument of a kernel call after `p`, matched by the template's
/// parameter name.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// The k-th entry of [`Kernel::activation_inputs`].
    Input(usize),
    /// The op's output buffer.
    Output,
    /// Constant data (weights, bias, per-channel multipliers...).
    Const(ConstData),
}

/// A lowered operator.
pub trait Kernel {
    /// Template file (in `codegen-templates/src/`) and function name.
    fn template(&self) -> (&'static str, &'static str);
    /// The params struct, serialized field by field.
    fn params(&self) -> serde_json::Value;
    /// Activation values the kernel reads, in argument order.
    fn activation_inputs(&self) -> Vec<ValueId>;
    /// The call's arguments after `p`, by template parameter name.
    fn args(&self) -> Vec<(&'static str, Arg)>;
    /// Runs the kernel on the host.
    fn execute(&self, inputs: &[&[i8]], output: &mut [i8]);
}

/// Lowers node `n` of `g` to its kernel.
pub fn lower(g: &Graph, n: NodeId) -> Result<Box<dyn Kernel>> {
    let node = g.node(n);
    match &node.op {
        other => Err(Error::node(
            &node.name,
            other.name(),
            "has no kernel binding yet",
        )),
    }
}
