//! Standalone activations: RELU/RELU6/RELU_N1_TO_1, LOGISTIC, TANH.

use mcuc_templates::prepare;

use super::{Arg, Call, Cx, InPlaceCalls, Lowered, activation, call, call_in_place};
use crate::error::Result;
use crate::ir::ops::{InPlace, Relu};

/// An elementwise op: one call, and its in-place twin for each declared
/// form (there is at most one, over input 0).
pub(super) fn single(cx: &Cx<'_>, call: Call, in_place: impl Fn() -> Call) -> Lowered {
    let mut l = Lowered::new(vec![cx.node.inputs[0]], vec![call]);
    l.in_place = cx
        .in_place_forms()
        .into_iter()
        .filter(|&f| f == InPlace::elementwise(0))
        .map(|form| InPlaceCalls {
            form,
            calls: vec![in_place()],
        })
        .collect();
    l
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
        || {
            call_in_place!(
                "relu.rs",
                relu::relu_in_place,
                p,
                ["data" => Arg::InOut],
                |params| move |_: &[&[i8]], data: &mut [i8], _: &mut [i8]| {
                    mcuc_templates::relu::relu_in_place(&params, data)
                }
            )
        },
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
        || {
            call_in_place!(
                "logistic.rs",
                logistic::logistic_in_place,
                p,
                ["data" => Arg::InOut],
                |params| move |_: &[&[i8]], data: &mut [i8], _: &mut [i8]| {
                    mcuc_templates::logistic::logistic_in_place(&params, data)
                }
            )
        },
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
        || {
            call_in_place!(
                "tanh.rs",
                tanh::tanh_in_place,
                p,
                ["data" => Arg::InOut],
                |params| move |_: &[&[i8]], data: &mut [i8], _: &mut [i8]| {
                    mcuc_templates::tanh::tanh_in_place(&params, data)
                }
            )
        },
    ))
}
