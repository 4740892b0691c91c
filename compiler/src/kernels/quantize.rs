//! QUANTIZE (float32 -> int8, int8 -> int8) and DEQUANTIZE.

use mcuc_templates::prepare;

use super::{Arg, Cx, Lowered, activation::single, call, call_in_place};
use crate::error::Result;
use crate::ir::DType;

pub(super) fn quantize(cx: &Cx<'_>) -> Result<Lowered> {
    let len = cx.output().fact.elements();
    let out_q = cx.quant(cx.output())?;
    let call = match cx.input(0).fact.dtype {
        DType::Float32 => {
            let p = prepare::quantize::quantize(len, out_q).map_err(|e| cx.prepare_error(e))?;
            call!(
                "quantize.rs",
                quantize::quantize,
                p,
                ["input" => Arg::Input(0), "output" => Arg::Output],
                |params| move |ins: &[&[i8]], out: &mut [i8]| {
                    mcuc_templates::quantize::quantize(&params, ins[0], out)
                }
            )
        }
        DType::Int8 => {
            let p = prepare::quantize::requantize(len, cx.quant(cx.input(0))?, out_q)
                .map_err(|e| cx.prepare_error(e))?;
            return Ok(single(
                cx,
                call!(
                    "quantize.rs",
                    quantize::requantize,
                    p,
                    ["input" => Arg::Input(0), "output" => Arg::Output],
                    |params| move |ins: &[&[i8]], out: &mut [i8]| {
                        mcuc_templates::quantize::requantize(&params, ins[0], out)
                    }
                ),
                || {
                    call_in_place!(
                        "quantize.rs",
                        quantize::requantize_in_place,
                        p,
                        ["data" => Arg::InOut],
                        |params| move |_: &[&[i8]], data: &mut [i8], _: &mut [i8]| {
                            mcuc_templates::quantize::requantize_in_place(&params, data)
                        }
                    )
                },
            ));
        }
        other => return Err(cx.error(format!("input must be float32 or int8, is {other}"))),
    };
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}

pub(super) fn dequantize(cx: &Cx<'_>) -> Result<Lowered> {
    let p = prepare::dequantize::dequantize(cx.output().fact.elements(), cx.quant(cx.input(0))?)
        .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "dequantize.rs",
        dequantize::dequantize,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::dequantize::dequantize(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}
