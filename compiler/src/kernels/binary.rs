//! ADD and MUL with broadcasting.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, activation, call};
use crate::error::Result;
use crate::ir::ops::{Add, Mul};

pub(super) fn add(cx: &Cx<'_>, op: &Add) -> Result<Lowered> {
    let p = prepare::add::add(
        &cx.input(0).fact.shape,
        &cx.input(1).fact.shape,
        cx.quant(cx.input(0))?,
        cx.quant(cx.input(1))?,
        cx.quant(cx.output())?,
        activation(op.act),
    )
    .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "add.rs",
        add::add,
        p,
        ["input1" => Arg::Input(0), "input2" => Arg::Input(1), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::add::add(&params, ins[0], ins[1], out)
        }
    );
    Ok(Lowered {
        inputs: cx.node.inputs.clone(),
        calls: vec![call],
        alias: false,
    })
}

pub(super) fn mul(cx: &Cx<'_>, op: &Mul) -> Result<Lowered> {
    let p = prepare::mul::mul(
        &cx.input(0).fact.shape,
        &cx.input(1).fact.shape,
        cx.quant(cx.input(0))?,
        cx.quant(cx.input(1))?,
        cx.quant(cx.output())?,
        activation(op.act),
    )
    .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "mul.rs",
        mul::mul,
        p,
        ["input1" => Arg::Input(0), "input2" => Arg::Input(1), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::mul::mul(&params, ins[0], ins[1], out)
        }
    );
    Ok(Lowered {
        inputs: cx.node.inputs.clone(),
        calls: vec![call],
        alias: false,
    })
}
