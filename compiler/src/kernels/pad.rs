//! PAD with the output zero point.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, call};
use crate::error::Result;
use crate::ir::ops::Pad;

pub(super) fn lower(cx: &Cx<'_>, op: &Pad) -> Result<Lowered> {
    let pad_value = cx.quant(cx.output())?.zero_point;
    let p = prepare::pad::pad(&cx.input(0).fact.shape, &op.pads, pad_value)
        .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "pad.rs",
        pad::pad,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::pad::pad(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}
