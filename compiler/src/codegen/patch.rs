//! Code for a patch-based stage: one function per distinct window geometry
//! of each stage layer (edge patches with padding, interior patches), and a
//! stage function that runs every patch through the stage, reading the
//! network input window by window from the caller's buffer and writing each
//! patch's result into the full stage output in the arena.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::specialize::Template;
use super::templates::Templates;
use super::{Blob, const_arg, lit, names};
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op, ValueId};
use crate::kernels::{self, Arg};
use crate::patch::{VerifiedPatchPlan, Window, stage};

/// The generated items of a stage.
pub(super) struct StageCode {
    /// Geometry-class functions and the stage function.
    pub items: Vec<TokenStream>,
    /// `stage_fn` ident to call as `stage_fn(arena, input)`.
    pub stage_fn: proc_macro2::Ident,
    pub const_bytes: usize,
    pub macs: u64,
    pub classes: usize,
}

/// Where a window of a tensor lives during one patch.
#[derive(Clone, Copy)]
struct Placed {
    /// `None`: the network input (the caller's buffer); else arena offset of
    /// the tensor's buffer.
    arena: Option<usize>,
    /// Element offset of the window's first element in that buffer.
    start: usize,
    /// Elements between rows.
    row_stride: usize,
    /// Elements from `start` to one past the window's last element.
    len: usize,
}

/// Channels (innermost dim) of a `[1,H,W,C]` value.
fn channels(g: &Graph, v: ValueId) -> usize {
    stage::hwc(g, v).map_or(1, |(_, _, c)| c)
}

fn placed(
    g: &Graph,
    plan: &VerifiedPatchPlan,
    v: ValueId,
    win: &Window,
    view: &Window,
) -> Result<Placed> {
    // `win` is the window the buffer holds, `view` the part the op touches.
    let c = channels(g, v);
    let span = |row_stride: usize, origin: usize| Placed {
        arena: None,
        start: origin,
        row_stride,
        len: if view.is_empty() {
            0
        } else {
            (view.h() - 1) * row_stride + view.w() * c
        },
    };
    if v == plan.stage.input {
        let (_, w, _) = stage::hwc(g, v).unwrap_or((0, 0, 0));
        return Ok(span(w * c, (view.y0 * w + view.x0) * c));
    }
    let slot = plan.memory().buffer(v).ok_or_else(|| Error::Verify {
        stage: "codegen".into(),
        errors: vec![format!("stage value `{}` has no buffer", g.value(v).name)],
    })?;
    let mut p = if v == plan.stage.output {
        let (_, w, _) = stage::hwc(g, v).unwrap_or((0, 0, 0));
        span(w * c, (view.y0 * w + view.x0) * c)
    } else {
        // A window buffer: rows of `win`, starting at `win`'s corner.
        span(
            win.w() * c,
            ((view.y0 - win.y0) * win.w() + (view.x0 - win.x0)) * c,
        )
    };
    p.arena = Some(slot.offset);
    Ok(p)
}

/// The params of `call` with the geometry of this patch.
fn patched_params(
    g: &Graph,
    n: NodeId,
    call: &kernels::Call,
    ins: &[(&Placed, Window)],
    out: (&Placed, Window),
) -> Result<serde_json::Value> {
    let node = g.node(n);
    let mut params = call.params.clone();
    let obj = params
        .as_object_mut()
        .ok_or_else(|| Error::node(&node.name, node.op.name(), "params are not an object"))?;
    let set = |obj: &mut serde_json::Map<String, serde_json::Value>, k: &str, v: i64| {
        obj.insert(k.to_string(), serde_json::Value::from(v));
    };
    let (o, wo) = out;
    match call.file {
        "conv2d.rs" | "depthwise_conv2d.rs" | "pool2d.rs" => {
            let (i, wi) = ins[0];
            let (ay, ax) = stage::axes(g, n)
                .ok_or_else(|| Error::node(&node.name, node.op.name(), "no window axes"))?;
            set(obj, "in_h", wi.h() as i64);
            set(obj, "in_w", wi.w() as i64);
            set(obj, "in_row_stride", i.row_stride as i64);
            set(obj, "out_h", wo.h() as i64);
            set(obj, "out_w", wo.w() as i64);
            set(obj, "out_row_stride", o.row_stride as i64);
            // Input row read for local output row r and tap k:
            // (wo.y0 + r) * s + k * d - pad - wi.y0 = r * s + k * d - pad_top'.
            set(
                obj,
                "pad_top",
                ay.pad as i64 + wi.y0 as i64 - (wo.y0 * ay.stride) as i64,
            );
            set(
                obj,
                "pad_left",
                ax.pad as i64 + wi.x0 as i64 - (wo.x0 * ax.stride) as i64,
            );
        }
        "add.rs" => {
            let c = channels(g, node.outputs[0]) as i64;
            // Into the stage output (rows of the whole tensor): one call
            // per row of the window.
            let rows = if o.row_stride as i64 == wo.w() as i64 * c {
                wo.h() as i64
            } else {
                1
            };
            for (k, v) in [
                ("d0", 1),
                ("d1", 1),
                ("d2", 1),
                ("d3", rows),
                ("d4", wo.w() as i64),
                ("d5", c),
            ] {
                set(obj, k, v);
            }
            for (prefix, (p, _)) in ["a", "b"].iter().zip(ins) {
                for (k, v) in [
                    ("0", 0),
                    ("1", 0),
                    ("2", 0),
                    ("3", p.row_stride as i64),
                    ("4", c),
                    ("5", 1),
                ] {
                    set(obj, &format!("{prefix}_s{k}"), v);
                }
            }
        }
        other => {
            return Err(Error::node(
                &node.name,
                node.op.name(),
                format!("template {other} cannot run on a patch"),
            ));
        }
    }
    Ok(params)
}

/// Generates the stage.
pub(super) fn emit_stage(
    g: &Graph,
    plan: &VerifiedPatchPlan,
    templates: &Templates,
    blob: &mut Blob,
    statics: &mut Vec<TokenStream>,
) -> Result<StageCode> {
    let st = &plan.stage;
    let memory = plan.memory();
    let mut items = Vec::new();
    let mut const_bytes = 0usize;
    let mut macs = 0u64;
    // Per node: its calls (the in-place form's when the plan runs it in
    // place) and their constants, bound once and shared by its classes.
    let mut classes: BTreeMap<(NodeId, String), proc_macro2::Ident> = BTreeMap::new();
    let mut patch_calls: Vec<TokenStream> = Vec::new();
    let mut consts: BTreeMap<NodeId, Vec<(String, TokenStream)>> = BTreeMap::new();
    let mut lowered_nodes: BTreeMap<NodeId, (Vec<ValueId>, kernels::Call)> = BTreeMap::new();
    for &n in &st.nodes {
        let node = g.node(n);
        let err = |m: &str| Error::node(&node.name, node.op.name(), m);
        let lowered = kernels::lower(g, n)?;
        let inputs = lowered.inputs.clone();
        let calls = match memory.in_place.get(&n) {
            // The plan's form has the window's scratch size; the kernel's
            // the whole tensor's: match on the operands.
            Some(f) => lowered
                .in_place
                .into_iter()
                .find(|c| (c.form.input, c.form.output) == (f.input, f.output))
                .map(|c| c.calls)
                .ok_or_else(|| err("the plan runs it in place, which its kernel does not offer"))?,
            None => lowered.calls,
        };
        let [call] = <[kernels::Call; 1]>::try_from(calls)
            .map_err(|_| err("patched ops must lower to one call"))?;
        let mut bound = Vec::new();
        for (name, arg) in &call.args {
            let expr = match arg {
                Arg::Const(data) => {
                    let konst = names::layer_const(n, name);
                    let (expr, bytes) = const_arg(data, &konst, blob, statics);
                    const_bytes += bytes;
                    expr
                }
                _ => continue,
            };
            bound.push((name.to_string(), expr));
        }
        consts.insert(n, bound);
        lowered_nodes.insert(n, (inputs, call));
    }

    let mut emitted = std::collections::BTreeSet::new();
    for win in &plan.windows {
        let mut body = Vec::new();
        for &n in &st.nodes {
            let node = g.node(n);
            let (inputs, call) = &lowered_nodes[&n];
            let in_place = memory.in_place.get(&n);
            let out_v = node.outputs[0];
            let wo = win.get(&out_v).copied().unwrap_or_default();
            macs += crate::patch::search::window_macs(g, n, &wo);
            let out_p = placed(g, plan, out_v, &wo, &wo)?;
            // Each input window as the op sees it: conv/pool read their
            // buffer's whole window (the kernel clips by padding), ADD reads
            // exactly the output window.
            let mut ins = Vec::new();
            for &v in inputs {
                let wi = win.get(&v).copied().unwrap_or_default();
                let view = if matches!(node.op, Op::Add(_)) {
                    wo
                } else {
                    wi
                };
                ins.push((placed(g, plan, v, &wi, &view)?, wi));
            }
            let ins_ref: Vec<(&Placed, Window)> = ins.iter().map(|(p, w)| (p, *w)).collect();
            let params = patched_params(g, n, call, &ins_ref, (&out_p, wo))?;
            let key = (n, params.to_string());
            let next = classes.len();
            let fn_ident = classes
                .entry(key)
                .or_insert_with(|| {
                    format_ident!("{}_w{}", names::layer_fn(n, node.op.name()), next)
                })
                .clone();
            if emitted.insert(fn_ident.clone()) {
                items.push(class_fn(
                    templates.get(call.file)?,
                    call,
                    &params,
                    &fn_ident,
                    &consts[&n],
                    &format!(
                        " `{}` {} on a {}x{} output window of a patch{}.",
                        node.name,
                        node.op.name(),
                        wo.h(),
                        wo.w(),
                        if in_place.is_some() { ", in place" } else { "" }
                    ),
                )?);
            }
            // A patched ADD into the stage output runs row by row.
            let c = channels(g, out_v);
            let row_calls = if matches!(node.op, Op::Add(_)) && out_p.row_stride != wo.w() * c {
                wo.h()
            } else {
                1
            };
            for r in 0..row_calls {
                let shift = |p: &Placed| -> Placed {
                    if row_calls == 1 {
                        *p
                    } else {
                        Placed {
                            start: p.start + r * p.row_stride,
                            len: wo.w() * c,
                            ..*p
                        }
                    }
                };
                let ins: Vec<(Placed, Window)> = ins.iter().map(|(p, w)| (shift(p), *w)).collect();
                let out_p = shift(&out_p);
                // Views for this call: read-only inputs, then the output (or the
                // in-place window and its scratch).
                let mut ro = Vec::new();
                let mut args = Vec::new();
                for (i, (p, _)) in ins.iter().enumerate() {
                    if in_place.is_some_and(|f| f.input == i) {
                        continue;
                    }
                    let (s, e) = (lit(p.start), lit(p.start + p.len));
                    match p.arena {
                        None => args.push(quote!(&input[#s..#e])),
                        Some(off) => {
                            let ident = format_ident!("in{}", i);
                            let (o, l) = (lit(off + p.start), lit(p.len));
                            ro.push((ident.clone(), quote!((#o, #l))));
                            args.push(quote!(#ident));
                        }
                    }
                }
                let mut rw = Vec::new();
                match in_place {
                    Some(f) => {
                        let (p, _) = &ins[f.input];
                        let off = p.arena.ok_or_else(|| {
                            Error::node(
                                &node.name,
                                node.op.name(),
                                "in place over the caller's input",
                            )
                        })?;
                        // The whole window buffer: it holds the input window on
                        // entry and the (not larger) output window on return.
                        let (o, l) = (lit(off), lit(p.len.max(out_p.len)));
                        rw.push((format_ident!("data"), quote!((#o, #l))));
                        let sc = memory.scratch.iter().find(|s| s.node == n).ok_or_else(|| {
                            Error::node(&node.name, node.op.name(), "in place without its scratch")
                        })?;
                        let (o, l) = (lit(sc.offset), lit(sc.size));
                        rw.push((format_ident!("scratch"), quote!((#o, #l))));
                    }
                    None => {
                        let out_off = out_p.arena.unwrap_or(0);
                        let (o, l) = (lit(out_off + out_p.start), lit(out_p.len));
                        rw.push((format_ident!("out"), quote!((#o, #l))));
                    }
                }
                let ro_idents = ro.iter().map(|(i, _)| i);
                let ro_slots = ro.iter().map(|(_, s)| s);
                let rw_idents: Vec<_> = rw.iter().map(|(i, _)| i.clone()).collect();
                let rw_slots = rw.iter().map(|(_, s)| s);
                let split = if let [(out, slot)] = rw.as_slice() {
                    quote! {
                        let ([#(#ro_idents),*], #out) =
                            mcuc_runtime::arena::views(arena, [#(#ro_slots),*], #slot);
                    }
                } else {
                    quote! {
                        let ([#(#ro_idents),*], [#(#rw_idents),*]) =
                            mcuc_runtime::arena::split(arena, [#(#ro_slots),*], [#(#rw_slots),*]);
                    }
                };
                body.push(quote! {
                    {
                        #split
                        #fn_ident(#(#args,)* #(#rw_idents),*);
                    }
                });
            }
        }
        patch_calls.push(quote! { #(#body)* });
    }

    let stage_fn = format_ident!("stage");
    let [rows, cols] = plan.grid;
    let out_shape = crate::ir::ops::shape_str(&g.fact(st.output).shape);
    let doc = format!(
        " Patch-based stage: layers 0..={} on a {rows}x{cols} grid of `{}` ({out_shape}); \
         each patch reads its window of the input from the caller's buffer.",
        st.nodes.len() - 1,
        g.value(st.output).name
    );
    items.push(quote! {
        #[doc = #doc]
        fn #stage_fn(arena: &mut [u8], input: &[i8]) {
            #(#patch_calls)*
        }
    });
    Ok(StageCode {
        items,
        stage_fn,
        const_bytes,
        macs,
        classes: classes.len(),
    })
}

/// One geometry class: the template specialized for this window, with its
/// activation buffers as parameters and its constants bound inside.
fn class_fn(
    template: &Template,
    call: &kernels::Call,
    params: &serde_json::Value,
    ident: &proc_macro2::Ident,
    consts: &[(String, TokenStream)],
    doc: &str,
) -> Result<TokenStream> {
    let mut fn_params = Vec::new();
    let mut bindings: Vec<(String, TokenStream)> = consts.to_vec();
    for (name, arg) in &call.args {
        match arg {
            Arg::Input(i) => {
                let p = format_ident!("in{}", i);
                fn_params.push(quote!(#p: &[i8]));
                bindings.push((name.to_string(), quote!(#p)));
            }
            Arg::Output => {
                fn_params.push(quote!(out: &mut [i8]));
                bindings.push((name.to_string(), quote!(out)));
            }
            Arg::InOut => {
                fn_params.push(quote!(data: &mut [i8]));
                bindings.push((name.to_string(), quote!(data)));
            }
            Arg::Scratch => {
                fn_params.push(quote!(scratch: &mut [i8]));
                bindings.push((name.to_string(), quote!(scratch)));
            }
            Arg::Const(_) => {}
        }
    }
    let body = template.inline_call(call.function, params, &bindings)?;
    Ok(quote! {
        #[doc = #doc]
        fn #ident(#(#fn_params),*) {
            #body
        }
    })
}
