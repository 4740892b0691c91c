//! ADD and MUL with broadcasting.

use mcuc_templates::add::AddParams;
use mcuc_templates::mul::MulParams;
use mcuc_templates::prepare;

use super::{Arg, Call, Cx, InPlaceCalls, Lowered, activation, call, call_in_place};
use crate::error::Result;
use crate::ir::ops::{Add, Mul};

/// The same ADD with the operands' roles exchanged (data, strides,
/// parameters): `add(swap(p), b, a) == add(p, a, b)` bit for bit, since the
/// two rescaled operands are summed, so an ADD can run in place over its
/// second input as `add_in_place(swap(p), input2, input1)`.
fn swap_add(p: AddParams) -> AddParams {
    AddParams {
        a_s0: p.b_s0,
        a_s1: p.b_s1,
        a_s2: p.b_s2,
        a_s3: p.b_s3,
        a_s4: p.b_s4,
        a_s5: p.b_s5,
        b_s0: p.a_s0,
        b_s1: p.a_s1,
        b_s2: p.a_s2,
        b_s3: p.a_s3,
        b_s4: p.a_s4,
        b_s5: p.a_s5,
        in1_zp: p.in2_zp,
        in2_zp: p.in1_zp,
        in1_mult: p.in2_mult,
        in1_shift: p.in2_shift,
        in2_mult: p.in1_mult,
        in2_shift: p.in1_shift,
        ..p
    }
}

/// MUL with the operands exchanged (the product commutes).
fn swap_mul(p: MulParams) -> MulParams {
    MulParams {
        a_s0: p.b_s0,
        a_s1: p.b_s1,
        a_s2: p.b_s2,
        a_s3: p.b_s3,
        a_s4: p.b_s4,
        a_s5: p.b_s5,
        b_s0: p.a_s0,
        b_s1: p.a_s1,
        b_s2: p.a_s2,
        b_s3: p.a_s3,
        b_s4: p.a_s4,
        b_s5: p.a_s5,
        in1_zp: p.in2_zp,
        in2_zp: p.in1_zp,
        ..p
    }
}

/// A binary elementwise op: one call, and an in-place twin over whichever
/// operand each declared form overwrites. `in_place(params, other)` builds
/// the twin that overwrites operand 1 described by `params` and reads
/// operand `other`; over operand 2 it gets `swap(p)`, the same op with the
/// operands' roles exchanged.
fn pair<P: Copy>(
    cx: &Cx<'_>,
    call: Call,
    p: P,
    swap: fn(P) -> P,
    in_place: impl Fn(P, usize) -> Call,
) -> Lowered {
    let mut l = Lowered::new(cx.node.inputs.clone(), vec![call]);
    l.in_place = cx
        .in_place_forms()
        .into_iter()
        .filter(|f| f.output == 0 && f.scratch_bytes == 0 && f.input < 2)
        .map(|form| {
            let (params, other) = if form.input == 0 {
                (p, 1)
            } else {
                (swap(p), 0)
            };
            InPlaceCalls {
                form,
                calls: vec![in_place(params, other)],
            }
        })
        .collect();
    l
}

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
    Ok(pair(cx, call, p, swap_add, |params, other| {
        call_in_place!(
            "add.rs",
            add::add_in_place,
            params,
            ["data" => Arg::InOut, "input2" => Arg::Input(other)],
            |params| move |ins: &[&[i8]], data: &mut [i8], _: &mut [i8]| {
                mcuc_templates::add::add_in_place(&params, data, ins[other])
            }
        )
    }))
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
    Ok(pair(cx, call, p, swap_mul, |params, other| {
        call_in_place!(
            "mul.rs",
            mul::mul_in_place,
            params,
            ["data" => Arg::InOut, "input2" => Arg::Input(other)],
            |params| move |ins: &[&[i8]], data: &mut [i8], _: &mut [i8]| {
                mcuc_templates::mul::mul_in_place(&params, data, ins[other])
            }
        )
    }))
}
