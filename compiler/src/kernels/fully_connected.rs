//! FULLY_CONNECTED.

use mcuc_templates::fully_connected::fully_connected as kernel;
use mcuc_templates::prepare::{self, fully_connected::FcQuant};

use super::{Arg, ConstData, Cx, Lowered, activation, call};
use crate::error::Result;
use crate::ir::ops::FullyConnected;

pub(super) fn lower(cx: &Cx<'_>, op: &FullyConnected) -> Result<Lowered> {
    let w = cx.input(1);
    let (out_depth, accum_depth) = (w.fact.shape[0], w.fact.shape[1]);
    let rows = cx.input(0).fact.elements() / accum_depth.max(1);
    let wq = w
        .fact
        .quant
        .as_ref()
        .ok_or_else(|| cx.error("weights have no quantization"))?;
    let bias_value = cx.node.inputs.get(2).map(|_| cx.input(2));
    let bias = match bias_value {
        Some(b) => cx.const_i32(b)?,
        None => Vec::new(),
    };
    let q = FcQuant {
        input: cx.quant(cx.input(0))?,
        filter_scales: &wq.scale,
        filter_zero_point: i32::try_from(wq.zero_point())
            .map_err(|_| cx.error("weight zero point out of range"))?,
        output: cx.quant(cx.output())?,
        bias_scale: bias_value
            .and_then(|b| b.fact.quant.as_ref())
            .map(|q| q.scale()),
    };
    let p = prepare::fully_connected::fully_connected(
        rows,
        accum_depth,
        out_depth,
        &q,
        activation(op.act),
        !bias.is_empty(),
    )
    .map_err(|e| cx.prepare_error(e))?;
    let filter = cx.const_i8(w)?;
    let (mult, shift) = (p.out_mult, p.out_shift);
    let call = call!(
        "fully_connected.rs",
        fully_connected::fully_connected,
        p.params,
        [
            "input" => Arg::Input(0),
            "filter" => Arg::Const(ConstData::I8(filter.clone())),
            "bias" => Arg::Const(ConstData::I32(bias.clone())),
            "out_mult" => Arg::Const(ConstData::I32(mult.clone())),
            "out_shift" => Arg::Const(ConstData::I32(shift.clone())),
            "output" => Arg::Output,
        ],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            kernel(&params, ins[0], &filter, &bias, &mult, &shift, out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}
