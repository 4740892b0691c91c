//! Kernel bindings: IR node -> calls of template functions with their
//! parameters and constant operands.
//!
//! One file per operator family. A binding computes the kernel parameters
//! once, through the `mcuc_templates::prepare` functions (which mirror
//! TFLite-Micro's `Prepare`), and offers each call two ways:
//! - [`Call::run`] executes the template function on the host (`mcuc run`);
//! - [`Call::file`], [`Call::function`], [`Call::params`] and [`Call::args`]
//!   let the code generator specialize the very same function for the
//!   firmware.
//!
//! Ops whose `OpDef::in_place` declares in-place forms also get, per form,
//! the calls that compute the output over that input's bytes
//! ([`Lowered::in_place`]); the code generator uses them when the plan runs
//! the node in place. They must give the same bytes as the ordinary calls
//! (the kernels' unit tests and `kernels::tests` check it).

mod activation;
mod binary;
mod concat;
mod conv;
mod fully_connected;
mod mean;
mod pad;
mod pool2d;
mod quantize;
mod reshape;
mod softmax;

use mcuc_templates::prepare::{self, PrepareError};

use crate::error::{Error, Result};
use crate::ir::ops::{Activation, InPlace};
use crate::ir::{Graph, Node, NodeId, Op, Value, ValueId};

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
    /// The k-th entry of [`Lowered::inputs`].
    Input(usize),
    /// The op's output buffer.
    Output,
    /// In-place calls: the bytes of the in-place input on entry, of the
    /// output on return.
    InOut,
    /// In-place calls: the op's scratch buffer.
    Scratch,
    /// Constant data (weights, bias, per-channel multipliers...).
    Const(ConstData),
}

type HostFn = Box<dyn Fn(&[&[i8]], &mut [i8]) + Send + Sync>;
/// (activation inputs, the in-place bytes, scratch).
type InPlaceFn = Box<dyn Fn(&[&[i8]], &mut [i8], &mut [i8]) + Send + Sync>;

enum HostRun {
    Out(HostFn),
    InPlace(InPlaceFn),
}

/// One call of a template function.
pub struct Call {
    /// Template file in `codegen-templates/src/`.
    pub file: &'static str,
    pub function: &'static str,
    /// The params struct, field by field.
    pub params: serde_json::Value,
    /// Arguments after `p`, by template parameter name, in order.
    pub args: Vec<(&'static str, Arg)>,
    run: HostRun,
}

impl Call {
    /// Runs an ordinary call (of [`Lowered::calls`]) on the host: `inputs`
    /// are the op's activation inputs. In-place calls belong to
    /// [`Call::run_in_place`]; given here, `output` must already hold their
    /// in-place input, and they get no scratch.
    pub fn run(&self, inputs: &[&[i8]], output: &mut [i8]) {
        match &self.run {
            HostRun::Out(f) => f(inputs, output),
            HostRun::InPlace(f) => f(inputs, output, &mut []),
        }
    }

    /// Runs an in-place call on the host: `data` holds the in-place input
    /// and receives the output (the entry of `inputs` at its index is not
    /// read), `scratch` is the op's scratch buffer.
    pub fn run_in_place(&self, inputs: &[&[i8]], data: &mut [i8], scratch: &mut [i8]) {
        match &self.run {
            HostRun::Out(f) => f(inputs, data),
            HostRun::InPlace(f) => f(inputs, data, scratch),
        }
    }
}

/// The calls of one in-place form of an op.
pub struct InPlaceCalls {
    pub form: InPlace,
    pub calls: Vec<Call>,
}

/// A lowered operator: its activation inputs and the calls that compute its
/// output.
pub struct Lowered {
    pub inputs: Vec<ValueId>,
    pub calls: Vec<Call>,
    /// The output is the input's bytes under another shape (RESHAPE): no
    /// code is needed when the planner gives both the same offset.
    pub alias: bool,
    /// The in-place forms the kernel offers (as `OpDef::in_place` declares).
    pub in_place: Vec<InPlaceCalls>,
}

impl Lowered {
    /// An op with these calls and no in-place form.
    pub(crate) fn new(inputs: Vec<ValueId>, calls: Vec<Call>) -> Lowered {
        Lowered {
            inputs,
            calls,
            alias: false,
            in_place: Vec::new(),
        }
    }

    /// Runs every call on the host.
    pub fn execute(&self, inputs: &[&[i8]], output: &mut [i8]) {
        for call in &self.calls {
            call.run(inputs, output);
        }
    }

    /// The calls of in-place form `form`, if the kernel offers it.
    pub fn in_place_calls(&self, form: &InPlace) -> Option<&[Call]> {
        self.in_place
            .iter()
            .find(|c| c.form == *form)
            .map(|c| c.calls.as_slice())
    }

    /// Runs in-place form `form` on the host: `data` holds input
    /// `form.input` on entry and the output on return.
    pub fn execute_in_place(
        &self,
        form: &InPlace,
        inputs: &[&[i8]],
        data: &mut [i8],
        scratch: &mut [i8],
    ) -> Option<()> {
        for call in self.in_place_calls(form)? {
            call.run_in_place(inputs, data, scratch);
        }
        Some(())
    }
}

/// Builds a [`Call`] from a template function and its typed params.
macro_rules! call {
    ($file:literal, $module:ident :: $function:ident, $params:expr, [$($name:literal => $arg:expr),* $(,)?], $run:expr) => {{
        let params = $params;
        $crate::kernels::Call {
            file: $file,
            function: stringify!($function),
            params: serde_json::to_value(&params).unwrap_or_default(),
            args: vec![$(($name, $arg)),*],
            run: $crate::kernels::host_out(Box::new($run(params))),
        }
    }};
}
pub(crate) use call;

/// Builds an in-place [`Call`]: its host closure takes `(inputs, data,
/// scratch)`.
macro_rules! call_in_place {
    ($file:literal, $module:ident :: $function:ident, $params:expr, [$($name:literal => $arg:expr),* $(,)?], $run:expr) => {{
        let params = $params;
        $crate::kernels::Call {
            file: $file,
            function: stringify!($function),
            params: serde_json::to_value(&params).unwrap_or_default(),
            args: vec![$(($name, $arg)),*],
            run: $crate::kernels::host_in_place(Box::new($run(params))),
        }
    }};
}
pub(crate) use call_in_place;

fn host_out(f: HostFn) -> HostRun {
    HostRun::Out(f)
}

fn host_in_place(f: InPlaceFn) -> HostRun {
    HostRun::InPlace(f)
}

/// Lowers node `n` of `g`.
pub fn lower(g: &Graph, n: NodeId) -> Result<Lowered> {
    let node = g.node(n);
    let cx = Cx { g, node };
    refuse_float(&cx)?;
    match &node.op {
        Op::Conv2d(op) => conv::conv2d(&cx, op),
        Op::DepthwiseConv2d(op) => conv::depthwise_conv2d(&cx, op),
        Op::FullyConnected(op) => fully_connected::lower(&cx, op),
        Op::Add(op) => binary::add(&cx, op),
        Op::Mul(op) => binary::mul(&cx, op),
        Op::AvgPool2d(op) => pool2d::avg(&cx, op),
        Op::MaxPool2d(op) => pool2d::max(&cx, op),
        Op::Mean(op) => mean::lower(&cx, op),
        Op::Reshape(_) => reshape::lower(&cx),
        Op::Softmax(op) => softmax::lower(&cx, op),
        Op::Logistic(_) => activation::logistic(&cx),
        Op::Tanh(_) => activation::tanh(&cx),
        Op::Relu(op) => activation::relu(&cx, op),
        Op::Pad(op) => pad::lower(&cx, op),
        Op::Concat(op) => concat::lower(&cx, op),
        Op::Quantize(_) => quantize::quantize(&cx),
        Op::Dequantize(_) => quantize::dequantize(&cx),
        Op::BatchNorm(_) | Op::LeakyRelu(_) | Op::Clip(_) => Err(cx.error(format!(
            "{} exists only in float graphs and has no int8 kernel",
            node.op.name()
        ))),
    }
}

/// Kernels are int8: a float32 activation outside QUANTIZE/DEQUANTIZE means
/// the graph was never quantized.
fn refuse_float(cx: &Cx<'_>) -> Result<()> {
    if matches!(cx.node.op, Op::Quantize(_) | Op::Dequantize(_)) {
        return Ok(());
    }
    let float = cx
        .node
        .inputs
        .iter()
        .chain(&cx.node.outputs)
        .find(|&&v| cx.g.fact(v).dtype == crate::ir::DType::Float32);
    match float {
        Some(&v) => Err(cx.error(format!(
            "`{}` is float32: mcuc generates int8 kernels only; quantize first: \
             pass calibration inputs with --calib FILE.npy|DIR (Build::calibration)",
            cx.g.value(v).name
        ))),
        None => Ok(()),
    }
}

/// What a binding sees of its node.
pub(crate) struct Cx<'a> {
    g: &'a Graph,
    node: &'a Node,
}

impl Cx<'_> {
    fn input(&self, i: usize) -> &Value {
        self.g.value(self.node.inputs[i])
    }

    fn output(&self) -> &Value {
        self.g.value(self.node.outputs[0])
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::node(&self.node.name, self.node.op.name(), message)
    }

    /// TFLM's `Prepare` would reject this node.
    fn prepare_error(&self, e: PrepareError) -> Error {
        self.error(e.0)
    }

    /// Per-tensor quantization of value `v`.
    fn quant(&self, v: &Value) -> Result<prepare::Quant> {
        let q = v
            .fact
            .quant
            .as_ref()
            .ok_or_else(|| self.error(format!("tensor `{}` has no quantization", v.name)))?;
        let zp = i32::try_from(q.zero_point())
            .map_err(|_| self.error(format!("tensor `{}` zero point out of range", v.name)))?;
        Ok(prepare::Quant::new(q.scale(), zp))
    }

    /// The in-place forms the op declares for this node.
    fn in_place_forms(&self) -> Vec<InPlace> {
        let ins: Vec<_> = self.node.inputs.iter().map(|&v| self.g.fact(v)).collect();
        let outs: Vec<_> = self.node.outputs.iter().map(|&v| self.g.fact(v)).collect();
        self.node.op.def().in_place(&ins, &outs)
    }

    fn const_i8(&self, v: &Value) -> Result<Vec<i8>> {
        v.const_i8()
            .ok_or_else(|| self.error(format!("`{}` must be a constant int8 tensor", v.name)))
    }

    fn const_i32(&self, v: &Value) -> Result<Vec<i32>> {
        v.const_i32()
            .ok_or_else(|| self.error(format!("`{}` must be a constant int32 tensor", v.name)))
    }
}

fn activation(a: Activation) -> prepare::Activation {
    match a {
        Activation::None => prepare::Activation::None,
        Activation::Relu => prepare::Activation::Relu,
        Activation::Relu6 => prepare::Activation::Relu6,
        Activation::ReluN1To1 => prepare::Activation::ReluN1To1,
    }
}

#[cfg(test)]
mod tests;
