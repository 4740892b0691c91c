//! CONV_2D and DEPTHWISE_CONV_2D.

use mcuc_templates::conv2d::conv2d as conv2d_kernel;
use mcuc_templates::depthwise_conv2d::{
    depthwise_conv2d as depthwise_kernel, depthwise_conv2d_in_place as depthwise_in_place_kernel,
};
use mcuc_templates::prepare::conv2d::ConvQuant;
use mcuc_templates::prepare::{self, Padding as TPadding, Window2d};

use super::{Arg, ConstData, Cx, InPlaceCalls, Lowered, activation, call, call_in_place};
use crate::error::Result;
use crate::ir::ops::{Conv2d, DepthwiseConv2d, Padding};

fn window(
    cx: &Cx<'_>,
    k: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: &Padding,
) -> Window2d {
    let x = &cx.input(0).fact.shape;
    Window2d {
        in_h: x[1],
        in_w: x[2],
        k_h: k[0],
        k_w: k[1],
        stride_h: stride[0],
        stride_w: stride[1],
        dil_h: dilation[0],
        dil_w: dilation[1],
        padding: TPadding::Explicit {
            top: pad.top,
            bottom: pad.bottom,
            left: pad.left,
            right: pad.right,
        },
    }
}

/// Filter, bias and quantization shared by both convolutions.
struct Operands {
    filter: Vec<i8>,
    bias: Vec<i32>,
    filter_scales: Vec<f32>,
    input: prepare::Quant,
    output: prepare::Quant,
}

fn operands(cx: &Cx<'_>) -> Result<Operands> {
    let w = cx.input(1);
    let bias = match cx.node.inputs.get(2) {
        Some(_) => cx.const_i32(cx.input(2))?,
        None => Vec::new(),
    };
    Ok(Operands {
        filter: cx.const_i8(w)?,
        bias,
        filter_scales: w
            .fact
            .quant
            .as_ref()
            .map(|q| q.scale.clone())
            .unwrap_or_default(),
        input: cx.quant(cx.input(0))?,
        output: cx.quant(cx.output())?,
    })
}

pub(super) fn conv2d(cx: &Cx<'_>, op: &Conv2d) -> Result<Lowered> {
    let w = &cx.input(1).fact.shape;
    let (out_c, k, filter_in_c) = (w[0], [w[1], w[2]], w[3]);
    let in_c = cx.input(0).fact.shape[3];
    let o = operands(cx)?;
    let q = ConvQuant {
        input: o.input,
        filter_scales: &o.filter_scales,
        output: o.output,
    };
    let has_bias = !o.bias.is_empty();
    let p = prepare::conv2d::conv2d(
        &window(cx, k, op.stride, op.dilation, &op.pad),
        in_c,
        out_c,
        filter_in_c,
        &q,
        activation(op.act),
        has_bias,
    )
    .map_err(|e| cx.prepare_error(e))?;
    let (filter, bias, mult, shift) = (o.filter, o.bias, p.out_mult, p.out_shift);
    let call = call!(
        "conv2d.rs",
        conv2d::conv2d,
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
            conv2d_kernel(&params, ins[0], &filter, &bias, &mult, &shift, out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}

pub(super) fn depthwise_conv2d(cx: &Cx<'_>, op: &DepthwiseConv2d) -> Result<Lowered> {
    let w = &cx.input(1).fact.shape;
    let k = [w[1], w[2]];
    let in_c = cx.input(0).fact.shape[3];
    let o = operands(cx)?;
    let q = ConvQuant {
        input: o.input,
        filter_scales: &o.filter_scales,
        output: o.output,
    };
    let has_bias = !o.bias.is_empty();
    let p = prepare::depthwise_conv2d::depthwise_conv2d(
        &window(cx, k, op.stride, op.dilation, &op.pad),
        in_c,
        op.depth_multiplier,
        &q,
        activation(op.act),
        has_bias,
    )
    .map_err(|e| cx.prepare_error(e))?;
    let (filter, bias, mult, shift) = (o.filter, o.bias, p.out_mult, p.out_shift);
    // Depth multiplier 1 only (the form exists only then): one channel at a
    // time over its own bytes, through an OH x OW scratch plane.
    let in_place = cx
        .in_place_forms()
        .into_iter()
        .map(|form| {
            let (filter, bias, mult, shift) =
                (filter.clone(), bias.clone(), mult.clone(), shift.clone());
            let call = call_in_place!(
                "depthwise_conv2d.rs",
                depthwise_conv2d::depthwise_conv2d_in_place,
                p.params,
                [
                    "data" => Arg::InOut,
                    "filter" => Arg::Const(ConstData::I8(filter.clone())),
                    "bias" => Arg::Const(ConstData::I32(bias.clone())),
                    "out_mult" => Arg::Const(ConstData::I32(mult.clone())),
                    "out_shift" => Arg::Const(ConstData::I32(shift.clone())),
                    "scratch" => Arg::Scratch,
                ],
                |params| move |_: &[&[i8]], data: &mut [i8], scratch: &mut [i8]| {
                    depthwise_in_place_kernel(&params, data, &filter, &bias, &mult, &shift, scratch)
                }
            );
            InPlaceCalls {
                form,
                calls: vec![call],
            }
        })
        .collect();
    let call = call!(
        "depthwise_conv2d.rs",
        depthwise_conv2d::depthwise_conv2d,
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
            depthwise_kernel(&params, ins[0], &filter, &bias, &mult, &shift, out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place,
    })
}
