//! SOFTMAX.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, call};
use crate::error::Result;
use crate::ir::ops::Softmax;

pub(super) fn lower(cx: &Cx<'_>, op: &Softmax) -> Result<Lowered> {
    let p = prepare::softmax::softmax(
        &cx.input(0).fact.shape,
        op.beta,
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
    )
    .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "softmax.rs",
        softmax::softmax,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::softmax::softmax(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}
