//! RESHAPE: a byte copy, or nothing when the planner aliases the buffers.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, call};
use crate::error::Result;

pub(super) fn lower(cx: &Cx<'_>) -> Result<Lowered> {
    let p = prepare::copy::copy(cx.output().fact.bytes());
    let call = call!(
        "copy.rs",
        copy::copy,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::copy::copy(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: true,
        in_place: Vec::new(),
    })
}
