//! AVERAGE_POOL_2D and MAX_POOL_2D.

use mcuc_templates::prepare::{self, Padding as TPadding, pool2d::PoolGeometry};

use super::{Arg, Cx, Lowered, activation, call};
use crate::error::Result;
use crate::ir::ops::{AvgPool2d, MaxPool2d, Pool2d};

fn geometry(cx: &Cx<'_>, op: &Pool2d) -> PoolGeometry {
    let x = &cx.input(0).fact.shape;
    PoolGeometry {
        in_h: x[1],
        in_w: x[2],
        channels: x[3],
        k_h: op.filter[0],
        k_w: op.filter[1],
        stride_h: op.stride[0],
        stride_w: op.stride[1],
        padding: TPadding::Explicit {
            top: op.pad.top,
            bottom: op.pad.bottom,
            left: op.pad.left,
            right: op.pad.right,
        },
    }
}

pub(super) fn avg(cx: &Cx<'_>, op: &AvgPool2d) -> Result<Lowered> {
    let p = prepare::pool2d::avg_pool2d(
        &geometry(cx, &op.0),
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
        activation(op.0.act),
    )
    .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "pool2d.rs",
        pool2d::avg_pool2d,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::pool2d::avg_pool2d(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}

pub(super) fn max(cx: &Cx<'_>, op: &MaxPool2d) -> Result<Lowered> {
    let p = prepare::pool2d::max_pool2d(
        &geometry(cx, &op.0),
        cx.quant(cx.input(0))?,
        cx.quant(cx.output())?,
        activation(op.0.act),
    )
    .map_err(|e| cx.prepare_error(e))?;
    let call = call!(
        "pool2d.rs",
        pool2d::max_pool2d,
        p,
        ["input" => Arg::Input(0), "output" => Arg::Output],
        |params| move |ins: &[&[i8]], out: &mut [i8]| {
            mcuc_templates::pool2d::max_pool2d(&params, ins[0], out)
        }
    );
    Ok(Lowered {
        inputs: vec![cx.node.inputs[0]],
        calls: vec![call],
        alias: false,
        in_place: Vec::new(),
    })
}
