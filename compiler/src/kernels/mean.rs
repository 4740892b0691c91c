//! MEAN.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, call};
use crate::error::Result;
use crate::ir::ops::Mean;

pub(super) fn lower(cx: &Cx<'_>, op: &Mean) -> Result<Lowered> {
    let axes: Vec<i32> = op.axes.iter().map(|&a| a as i32).collect();
    let p = prepare::mean::mean(
        &cx.input(0).fact.shape,
        &axes,
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
    )
    .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "mean.rs",
        mean::mean,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::mean::mean(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}
