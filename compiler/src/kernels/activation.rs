//! Standalone activations: RELU/RELU6/RELU_N1_TO_1, LOGISTIC, TANH.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, activation, call};
use crate::error::Result;
use crate::ir::ops::Relu;

fn single(cx: &Cx<'_>, call: super::Call) -> Lowered {
    Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
    }
}

pub(super) fn relu(cx: &Cx<'_>, op: &Relu) -> Result<Lowered> {
    let p = prepare::relu::relu(
        activation(op.act),
        cx.output().fact.elements(),
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
    )
    .map_err(|e| cx.prepare_error(e))?;
    Ok(single(
        cx,
        call!(
            "relu.rs",
            relu::relu,
            p,
            ["input" => Arg::Input(0), "output" => Arg::Output],
            |params| move |ins: &[&[i8]], out: &mut [i8]| {
                mcuc_templates::relu::relu(&params, ins[0], out)
            }
        ),
    ))
}

pub(super) fn logistic(cx: &Cx<'_>) -> Result<Lowered> {
    let p = prepare::logistic::logistic(
        cx.output().fact.elements(),
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
    )
    .map_err(|e| cx.prepare_error(e))?;
    Ok(single(
        cx,
        call!(
            "logistic.rs",
            logistic::logistic,
            p,
            ["input" => Arg::Input(0), "output" => Arg::Output],
            |params| move |ins: &[&[i8]], out: &mut [i8]| {
                mcuc_templates::logistic::logistic(&params, ins[0], out)
            }
        ),
    ))
}

pub(super) fn tanh(cx: &Cx<'_>) -> Result<Lowered> {
    let p = prepare::tanh::tanh(
        cx.output().fact.elements(),
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
    )
    .map_err(|e| cx.prepare_error(e))?;
    Ok(single(
        cx,
        call!(
            "tanh.rs",
            tanh::tanh,
            p,
            ["input" => Arg::Input(0), "output" => Arg::Output],
            |params| move |ins: &[&[i8]], out: &mut [i8]| {
                mcuc_templates::tanh::tanh(&params, ins[0], out)
            }
        ),
    ))
}
