//! CONCATENATION: one copy call per input.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, call};
use crate::error::Result;
use crate::ir::ops::Concat;

pub(super) fn lower(cx: &Cx<'_>, op: &Concat) -> Result<Lowered> {
    let shapes: Vec<&[usize]> = cx
        .node
        .inputs
        .iter()
        .map(|&v| cx.g.fact(v).shape.as_slice())
        .collect();
    let quants = cx
        .node
        .inputs
        .iter()
        .map(|&v| cx.quant(cx.g.value(v)))
        .collect::<Result<Vec<_>>>()?;
    let params = prepare::concatenation::concatenation(
        &shapes,
        op.axis as i32,
        &quants,
        cx.quant(cx.output())?,
    )
    .map_err(|e| cx.prepare_error(e))?;
    let calls = params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            call!(
                "concatenation.rs",
                concatenation::concatenation,
                p,
                ["input" => Arg::Input(i), "output" => Arg::Output],
                |params| move |ins: &[&[i8]], out: &mut [i8]| {
                    mcuc_templates::concatenation::concatenation(&params, ins[i], out)
                }
            )
        })
        .collect();
    Ok(Lowered {
        inputs: cx.node.inputs.clone(),
        calls,
        alias: false,
        in_place: Vec::new(),
    })
}
