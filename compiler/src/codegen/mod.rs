//! Code generation: a verified graph + verified memory plan -> a Rust
//! module (`<name>.rs`), its weights blob and a `memory.x`.
//!
//! The module is `no_std`, has no `unsafe`, and is deterministic: the same
//! model and options give the same bytes. Each layer is one function with a
//! stable name (`layer_<node>_<op>`) whose body is the specialized kernel
//! template: shapes, strides, zero points and multipliers are constants.

pub mod names;
mod patch;
pub mod specialize;
pub mod templates;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::error::{Error, Result};
use crate::ir::ops::shape_str;
use crate::ir::{DType, Graph, ValueId};
use crate::kernels::{self, Arg, ConstData};
use crate::patch::VerifiedPatchPlan;
use crate::plan::{Buffer, VerifiedPlan};

/// Alignment of each weight array in the blob (lets DSP kernels use word
/// loads).
const WEIGHT_ALIGN: usize = 16;

/// What [`emit`] needs besides the graph and plan.
pub struct EmitOptions<'a> {
    /// Module/file stem, e.g. `model` -> `model.rs`, `model.weights.bin`.
    pub name: &'a str,
    /// Header line describing the source, e.g. `person_detect.tflite --target f746`.
    pub source: &'a str,
}

/// The generated module.
pub struct Emitted {
    /// `<name>.rs`, formatted.
    pub code: String,
    /// `<name>.weights.bin`, included by the code.
    pub weights: Vec<u8>,
    /// Bytes of constant data (weights blob + i32 arrays) in flash.
    pub const_bytes: usize,
}

/// Constant i8 data concatenated with alignment.
#[derive(Default)]
struct Blob {
    bytes: Vec<u8>,
}

impl Blob {
    fn add(&mut self, data: &[i8]) -> usize {
        let offset = self.bytes.len().next_multiple_of(WEIGHT_ALIGN);
        self.bytes.resize(offset, 0);
        self.bytes.extend(data.iter().map(|&b| b as u8));
        offset
    }
}

fn dtype_tokens(d: DType) -> Result<TokenStream> {
    Ok(match d {
        DType::Int8 => quote!(mcuc_runtime::DType::Int8),
        DType::UInt8 => quote!(mcuc_runtime::DType::UInt8),
        DType::Int16 => quote!(mcuc_runtime::DType::Int16),
        DType::Int32 => quote!(mcuc_runtime::DType::Int32),
        DType::Float32 => quote!(mcuc_runtime::DType::Float32),
        other => {
            return Err(Error::Usage {
                message: format!("model inputs/outputs of type {other} are not supported"),
            });
        }
    })
}

fn elem_type(d: DType) -> Result<TokenStream> {
    Ok(match d {
        DType::Int8 => quote!(i8),
        DType::Float32 => quote!(f32),
        other => {
            return Err(Error::Usage {
                message: format!("model inputs/outputs of type {other} are not supported"),
            });
        }
    })
}

/// An unsuffixed integer literal (`512`, not `512usize`) for readable output.
fn lit(x: usize) -> proc_macro2::Literal {
    proc_macro2::Literal::usize_unsuffixed(x)
}

/// An unsuffixed `i32` literal expression.
fn lit_i32(x: i32) -> TokenStream {
    let l = proc_macro2::Literal::i64_unsuffixed((x as i64).abs());
    if x < 0 { quote!(-#l) } else { quote!(#l) }
}

/// The expression a kernel gets for constant `data`: i8 data from the
/// weights blob, i32 data as a static named `konst` (added to `statics`);
/// with the bytes it takes in flash.
fn const_arg(
    data: &ConstData,
    konst: &str,
    blob: &mut Blob,
    statics: &mut Vec<TokenStream>,
) -> (TokenStream, usize) {
    match data {
        ConstData::I8(data) => {
            let off = lit(blob.add(data));
            let len = lit(data.len());
            (quote!(weights(#off, #len)), data.len())
        }
        ConstData::I32(data) => {
            let konst = format_ident!("{}", konst);
            let len = lit(data.len());
            let values = data.iter().map(|&x| lit_i32(x));
            statics.push(quote! { static #konst: [i32; #len] = [#(#values),*]; });
            (quote!(&#konst), data.len() * 4)
        }
    }
}

/// The buffer of value `v`.
fn buffer<'p>(plan: &'p VerifiedPlan, g: &Graph, v: ValueId) -> Result<&'p Buffer> {
    plan.plan().buffer(v).ok_or_else(|| Error::Verify {
        stage: "codegen".into(),
        errors: vec![format!("value {v} `{}` has no buffer", g.value(v).name)],
    })
}

/// `(offset, len)` of value `v` in its region's arena.
fn slot(plan: &VerifiedPlan, g: &Graph, v: ValueId) -> Result<(usize, usize)> {
    let b = buffer(plan, g, v)?;
    Ok((b.offset, b.size))
}

/// One arena view a layer takes.
struct View {
    ident: proc_macro2::Ident,
    region: usize,
    offset: usize,
    len: usize,
    mutable: bool,
}

/// The name under which a layer function receives region `r`'s arena:
/// `arena` for region 0 (the `Model`'s own), the region's name otherwise.
fn region_param(plan: &VerifiedPlan, r: usize) -> proc_macro2::Ident {
    match r {
        0 => format_ident!("arena"),
        _ => format_ident!("{}", names::region_param(&plan.regions[r].name)),
    }
}

/// The `let` statements splitting each region's arena into the views, and
/// the regions used (ascending).
fn view_statements(plan: &VerifiedPlan, views: &[View]) -> (Vec<TokenStream>, Vec<usize>) {
    let mut regions: Vec<usize> = views.iter().map(|v| v.region).collect();
    regions.sort_unstable();
    regions.dedup();
    let slot = |v: &View| {
        let (o, l) = (lit(v.offset), lit(v.len));
        quote!((#o, #l))
    };
    let mut stmts = Vec::new();
    for &r in &regions {
        let arena = region_param(plan, r);
        let ro: Vec<&View> = views
            .iter()
            .filter(|v| v.region == r && !v.mutable)
            .collect();
        let rw: Vec<&View> = views
            .iter()
            .filter(|v| v.region == r && v.mutable)
            .collect();
        let (ro_idents, ro_slots) = (ro.iter().map(|v| &v.ident), ro.iter().map(|v| slot(v)));
        if let [out] = rw.as_slice() {
            let (ident, out_slot) = (&out.ident, slot(out));
            stmts.push(quote! {
                let ([#(#ro_idents),*], #ident) =
                    mcuc_runtime::arena::views(#arena, [#(#ro_slots),*], #out_slot);
            });
        } else {
            let (rw_idents, rw_slots) = (rw.iter().map(|v| &v.ident), rw.iter().map(|v| slot(v)));
            stmts.push(quote! {
                let ([#(#ro_idents),*], [#(#rw_idents),*]) =
                    mcuc_runtime::arena::split(#arena, [#(#ro_slots),*], [#(#rw_slots),*]);
            });
        }
    }
    (stmts, regions)
}

/// Generates the module of a per-layer plan.
pub fn emit(g: &Graph, plan: &VerifiedPlan, opts: &EmitOptions<'_>) -> Result<Emitted> {
    emit_with(g, plan, None, opts)
}

/// Generates the module of a patch-based plan: the stage function, then
/// the rest of the network layer by layer. The `Model` keeps the network
/// input in its own buffer, outside the arena, and the stage reads it
/// window by window.
pub fn emit_patched(
    g: &Graph,
    plan: &VerifiedPatchPlan,
    opts: &EmitOptions<'_>,
) -> Result<Emitted> {
    emit_with(g, plan.memory(), Some(plan), opts)
}

fn emit_with(
    g: &Graph,
    plan: &VerifiedPlan,
    patched: Option<&VerifiedPatchPlan>,
    opts: &EmitOptions<'_>,
) -> Result<Emitted> {
    let p = plan.plan();
    let templates = templates::Templates::load()?;
    let mut blob = Blob::default();
    let mut statics = Vec::new();
    let mut layer_fns = Vec::new();
    let mut layer_calls = Vec::new();
    let mut const_bytes = 0usize;
    let mut macs = 0u64;

    let stage = match patched {
        Some(pp) => {
            if p.regions.iter().skip(1).any(|r| r.arena_bytes > 0) {
                return Err(Error::Usage {
                    message: "patch-based plans use one SRAM region".into(),
                });
            }
            if g.inputs != [pp.stage.input] {
                return Err(Error::Usage {
                    message:
                        "patch-based inference needs a model with one input, read by the stage"
                            .into(),
                });
            }
            let code = patch::emit_stage(g, pp, &templates, &mut blob, &mut statics)?;
            const_bytes += code.const_bytes;
            macs += code.macs;
            let f = &code.stage_fn;
            layer_calls.push(quote!(#f(arena, input);));
            layer_fns.extend(code.items.iter().cloned());
            Some((code, pp))
        }
        None => None,
    };
    let in_stage = |n| {
        stage
            .as_ref()
            .is_some_and(|(_, pp)| pp.stage.nodes.contains(&n))
    };

    for &n in &p.order {
        if in_stage(n) {
            continue;
        }
        let node = g.node(n);
        let lowered = kernels::lower(g, n)?;
        let in_facts: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
        let out_facts: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
        let def = node.op.def();
        macs += def.macs(&in_facts, &out_facts);
        let out = node.outputs[0];
        let out_buf = buffer(plan, g, out)?;
        if lowered.alias && lowered.inputs.len() == 1 {
            let in_buf = buffer(plan, g, lowered.inputs[0])?;
            if (in_buf.region, in_buf.offset) == (out_buf.region, out_buf.offset) {
                // The planner gave the reshaped value the same bytes: nothing to do.
                continue;
            }
        }
        let fn_name = names::layer_fn(n, node.op.name());
        let fn_ident = format_ident!("{}", fn_name);
        let err = |m: String| Error::node(&node.name, node.op.name(), m);

        // In place: the calls of the planned form, over one `data` view.
        let form = p.in_place.get(&n);
        let calls: &[kernels::Call] = match form {
            Some(f) => lowered.in_place_calls(f).ok_or_else(|| {
                err(format!(
                    "the plan runs it in place as {f:?}, which its kernel binding does not offer"
                ))
            })?,
            None => &lowered.calls,
        };
        let in_place_value = form.and_then(|f| node.inputs.get(f.input).copied());

        // Activation inputs: arena views, or constants from the blob.
        let mut views = Vec::new();
        let mut input_exprs = Vec::new();
        for (k, &v) in lowered.inputs.iter().enumerate() {
            let ident = format_ident!("in{}", k);
            match &g.value(v).data {
                Some(data) => {
                    let off = lit(blob.add(crate::exec::bytes_as_i8(data)));
                    let len = lit(data.len());
                    const_bytes += data.len();
                    input_exprs.push(Some(quote!(weights(#off, #len))));
                }
                None if Some(v) == in_place_value => input_exprs.push(None),
                None => {
                    let b = buffer(plan, g, v)?;
                    views.push(View {
                        ident: ident.clone(),
                        region: b.region,
                        offset: b.offset,
                        len: b.size,
                        mutable: false,
                    });
                    input_exprs.push(Some(quote!(#ident)));
                }
            }
        }
        match in_place_value {
            Some(x) => {
                let b = buffer(plan, g, x)?;
                views.push(View {
                    ident: format_ident!("data"),
                    region: b.region,
                    offset: b.offset,
                    len: b.size,
                    mutable: true,
                });
            }
            None => views.push(View {
                ident: format_ident!("out"),
                region: out_buf.region,
                offset: out_buf.offset,
                len: out_buf.size,
                mutable: true,
            }),
        }
        if let Some(sc) = p.scratch.iter().find(|s| s.node == n) {
            views.push(View {
                ident: format_ident!("scratch"),
                region: sc.region,
                offset: sc.offset,
                len: sc.size,
                mutable: true,
            });
        }
        let (mut body, regions) = view_statements(plan, &views);
        let has_view = |name: &str| views.iter().any(|v| v.ident == name);

        let multi = calls.len() > 1;
        for (ci, call) in calls.iter().enumerate() {
            let template = templates.get(call.file)?;
            let mut bindings = Vec::new();
            for (name, arg) in &call.args {
                let expr = match arg {
                    Arg::Input(k) => input_exprs.get(*k).cloned().flatten().ok_or_else(|| {
                        err(format!(
                            "kernel argument `{name}` reads an input it may not"
                        ))
                    })?,
                    Arg::Output | Arg::InOut | Arg::Scratch => {
                        let view = match arg {
                            Arg::Output => "out",
                            Arg::InOut => "data",
                            _ => "scratch",
                        };
                        if !has_view(view) {
                            return Err(err(format!(
                                "kernel argument `{name}` needs a `{view}` buffer the plan does not give"
                            )));
                        }
                        let ident = format_ident!("{}", view);
                        if multi {
                            quote!(&mut *#ident)
                        } else {
                            quote!(#ident)
                        }
                    }
                    Arg::Const(data) => {
                        let suffix = if multi {
                            format!("{name}_{ci}")
                        } else {
                            name.to_string()
                        };
                        let konst = names::layer_const(n, &suffix);
                        let (expr, bytes) = const_arg(data, &konst, &mut blob, &mut statics);
                        const_bytes += bytes;
                        expr
                    }
                };
                bindings.push((name.to_string(), expr));
            }
            let inlined = template.inline_call(call.function, &call.params, &bindings)?;
            body.push(if multi { quote!({ #inlined }) } else { inlined });
        }

        let summary = def.summary(&in_facts);
        let ins: Vec<String> = node
            .inputs
            .iter()
            .filter(|&&v| !g.value(v).is_const())
            .map(|&v| shape_str(&g.fact(v).shape))
            .collect();
        let doc = format!(
            " `{}` {}: {} -> {}{}{}{}",
            node.name,
            node.op.name(),
            ins.join(", "),
            shape_str(&g.fact(out).shape),
            if summary.is_empty() {
                String::new()
            } else {
                format!(" ({summary})")
            },
            match def.macs(&in_facts, &out_facts) {
                0 => String::new(),
                m => format!(", {m} MACs"),
            },
            match (in_place_value, p.scratch.iter().find(|s| s.node == n)) {
                (Some(x), Some(sc)) => format!(
                    ", in place over `{}` with {} B of scratch",
                    g.value(x).name,
                    sc.size
                ),
                (Some(x), None) => format!(", in place over `{}`", g.value(x).name),
                (None, Some(sc)) => format!(", {} B of scratch", sc.size),
                (None, None) => String::new(),
            }
        );
        let params: Vec<TokenStream> = regions
            .iter()
            .map(|&r| {
                let a = region_param(plan, r);
                quote!(#a: &mut [u8])
            })
            .collect();
        let args = regions.iter().map(|&r| region_param(plan, r));
        layer_fns.push(quote! {
            #[doc = #doc]
            fn #fn_ident(#(#params),*) {
                #(#body)*
            }
        });
        layer_calls.push(quote!(#fn_ident(#(#args),*);));
    }

    let external = stage.as_ref().map(|(_, pp)| pp.stage.input);
    let io = io_items(g, plan, external)?;
    let own_bytes = p.regions.first().map_or(p.arena_bytes, |r| r.arena_bytes);
    let arena_bytes = lit(own_bytes);
    let total_bytes = if p.arena_bytes == own_bytes {
        quote!(ARENA_BYTES)
    } else {
        let l = lit(p.arena_bytes);
        quote!(#l)
    };
    // Regions besides the Model's own: one static each, in its section.
    let extra: Vec<usize> = (1..p.regions.len())
        .filter(|&r| p.regions[r].arena_bytes > 0)
        .collect();
    let region_statics = extra.iter().map(|&r| {
        let region = &p.regions[r];
        let name = format_ident!("{}", names::region_static(&region.name));
        let section = names::region_section(&region.name);
        let bytes = lit(region.arena_bytes);
        let doc = format!(
            " The part of the arena in {} ({} bytes), in section `{section}`.",
            region.name, region.arena_bytes
        );
        quote! {
            #[doc = #doc]
            mcuc_runtime::region_arena!(#name, #section, #bytes);
        }
    });
    let weights_len = lit(blob.bytes.len());
    let weights_file = format!("{}.weights.bin", opts.name);
    let weights_items = if !blob.bytes.is_empty() {
        quote! {
            static WEIGHTS: &Align16<[u8; #weights_len]> = &Align16(*include_bytes!(#weights_file));

            /// `len` bytes of constant data at `offset` in the weights blob.
            fn weights(offset: usize, len: usize) -> &'static [i8] {
                mcuc_runtime::arena::as_i8(&WEIGHTS.0[offset..offset + len])
            }
        }
    } else {
        quote!()
    };
    let invoke_body = if layer_calls.is_empty() {
        // Every layer aliases its input (e.g. a lone RESHAPE): nothing to run.
        quote!()
    } else {
        // The other regions' arenas are lent for the inference (a second
        // inference started meanwhile, from an interrupt, would find them
        // taken and do nothing).
        let mut calls = quote!(#(#layer_calls)*);
        for &r in extra.iter().rev() {
            let name = format_ident!("{}", names::region_static(&p.regions[r].name));
            let param = region_param(plan, r);
            calls = quote! {
                #name.with(|#param: &mut [u8]| {
                    #calls
                });
            };
        }
        quote! {
            let arena = &mut self.arena.0[..];
            #calls
        }
    };
    // Patch-based: the input has its own buffer; `infer` runs the stage
    // over it and then the rest, and `run` passes the caller's array.
    let patch_items = match &external {
        Some(v) => {
            let bytes = lit(g.fact(*v).bytes());
            let param = format_ident!("{}", names::io_param("input", 0, 1));
            let calls = &layer_calls;
            PatchItems {
                field: quote!(input: Align16<[u8; INPUT_BYTES]>,),
                init: quote!(input: Align16([0; INPUT_BYTES]),),
                consts: quote! {
                    /// Bytes of the network input, which the patch-based stage
                    /// reads window by window from its own buffer, not from the
                    /// arena.
                    pub const INPUT_BYTES: usize = #bytes;

                    /// One inference: the stage reads `input` patch by patch,
                    /// then the rest of the network runs layer by layer.
                    fn infer(arena: &mut [u8], input: &[i8]) {
                        #(#calls)*
                    }
                },
                run: quote! {
                    infer(&mut self.arena.0, #param);
                },
                invoke: quote! {
                    infer(&mut self.arena.0, mcuc_runtime::arena::as_i8(&self.input.0));
                },
            }
        }
        None => PatchItems {
            field: quote!(),
            init: quote!(),
            consts: quote!(),
            run: quote!(self.invoke();),
            invoke: invoke_body,
        },
    };
    let run_doc = if external.is_some() {
        " Runs one inference on the caller's input (the stage reads it window by window, \
         without copying it) and copies the outputs out."
    } else {
        " Copies the inputs into the arena, runs one inference and copies the outputs out."
    };
    let PatchItems {
        field: patch_field,
        init: patch_init,
        consts: patch_consts,
        run: patch_run,
        invoke: patch_invoke,
    } = patch_items;
    let (run_sig, run_copy_in, run_copy_out) = (&io.run_params, &io.copy_in, &io.copy_out);
    let (inputs_info, outputs_info) = (&io.inputs_info, &io.outputs_info);
    let (input_arms, output_arms) = (&io.input_arms, &io.output_arms);
    let arena_doc = if extra.is_empty() {
        " Bytes of the activation arena, fixed at compile time.".to_string()
    } else {
        format!(
            " Bytes of the activation arena in the `Model` itself ({}); the other regions hold {} more.",
            p.regions[0].name,
            p.arena_bytes - own_bytes
        )
    };
    let tokens = quote! {
        #[doc = #arena_doc]
        pub const ARENA_BYTES: usize = #arena_bytes;

        #[repr(C, align(16))]
        struct Align16<T: ?Sized>(T);

        #weights_items

        #(#statics)*

        #(#region_statics)*

        #patch_consts

        /// The compiled model. It owns its arena; all zeros, so a `static`
        /// of it lands in `.bss`.
        pub struct Model {
            arena: Align16<[u8; ARENA_BYTES]>,
            #patch_field
        }

        impl Default for Model {
            fn default() -> Self {
                Self::new()
            }
        }

        // The typed entry points are a toolbox: a firmware may use only
        // `invoke` through the trait, which must not warn.
        #[allow(dead_code)]
        impl Model {
            pub const fn new() -> Self {
                Model { arena: Align16([0; ARENA_BYTES]), #patch_init }
            }

            #[doc = #run_doc]
            pub fn run(&mut self, #(#run_sig),*) {
                #(#run_copy_in)*
                #patch_run
                #(#run_copy_out)*
            }

            /// Runs one inference over the inputs already in place.
            pub fn invoke(&mut self) {
                #patch_invoke
            }
        }

        impl mcuc_runtime::Model for Model {
            const INPUTS: &'static [mcuc_runtime::TensorInfo] = &[#(#inputs_info),*];
            const OUTPUTS: &'static [mcuc_runtime::TensorInfo] = &[#(#outputs_info),*];
            const ARENA_BYTES: usize = #total_bytes;

            fn input_bytes_mut(&mut self, index: usize) -> &mut [u8] {
                match index {
                    #(#input_arms)*
                    _ => &mut [],
                }
            }

            fn output_bytes(&self, index: usize) -> &[u8] {
                match index {
                    #(#output_arms)*
                    _ => &[],
                }
            }

            fn invoke(&mut self) {
                Model::invoke(self)
            }
        }

        #(#layer_fns)*
    };
    let file: syn::File = syn::parse2(tokens).map_err(|e| Error::Usage {
        message: format!("internal error: generated code does not parse: {e}"),
    })?;
    let regions_line = if extra.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = p
            .regions
            .iter()
            .map(|r| format!("{} {}", r.name, r.arena_bytes))
            .collect();
        format!("// regions (bytes): {}\n", parts.join(", "))
    };
    let patch_line = match &stage {
        Some((code, pp)) => format!(
            "// patch-based: layers 0..={} on a {}x{} grid ({} window geometries), input of {} bytes outside the arena\n",
            pp.split_step(),
            pp.grid[0],
            pp.grid[1],
            code.classes,
            g.fact(pp.stage.input).bytes()
        ),
        None => String::new(),
    };
    let header = format!(
        "// @generated by mcuc from {}. Do not edit.\n//\n// arena: {} bytes (lower bound {}), constants: {} bytes, MACs: {}\n{}{}// layers: {}, in place: {}, plan: {}\n\n",
        opts.source,
        p.arena_bytes,
        p.lower_bound_bytes,
        const_bytes,
        macs,
        regions_line,
        patch_line,
        layer_fns.len(),
        p.in_place.len(),
        p.strategy
    );
    let code = header + &format_items(file);
    Ok(Emitted {
        code,
        weights: blob.bytes,
        const_bytes,
    })
}

/// Pretty-prints each top-level item on its own, separated by blank lines
/// (prettyplease packs items together), so diffs of generated code stay
/// local to the item that changed.
fn format_items(file: syn::File) -> String {
    file.items
        .into_iter()
        .map(|item| {
            let single: syn::File = syn::parse_quote!(#item);
            prettyplease::unparse(&single)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The parts of `Model` that differ for patch-based plans.
struct PatchItems {
    field: TokenStream,
    init: TokenStream,
    consts: TokenStream,
    run: TokenStream,
    invoke: TokenStream,
}

/// Items describing the model's inputs and outputs.
struct IoItems {
    run_params: Vec<TokenStream>,
    copy_in: Vec<TokenStream>,
    copy_out: Vec<TokenStream>,
    inputs_info: Vec<TokenStream>,
    outputs_info: Vec<TokenStream>,
    input_arms: Vec<TokenStream>,
    output_arms: Vec<TokenStream>,
}

/// `external`: an input the `Model` keeps in its own buffer (patch-based
/// plans), which `run` does not copy.
fn io_items(g: &Graph, plan: &VerifiedPlan, external: Option<ValueId>) -> Result<IoItems> {
    let mut io = IoItems {
        run_params: Vec::new(),
        copy_in: Vec::new(),
        copy_out: Vec::new(),
        inputs_info: Vec::new(),
        outputs_info: Vec::new(),
        input_arms: Vec::new(),
        output_arms: Vec::new(),
    };
    for (kind, values) in [("input", &g.inputs), ("output", &g.outputs)] {
        for (i, &v) in values.iter().enumerate() {
            let value = g.value(v);
            let fact = &value.fact;
            let own = external == Some(v);
            let (off, len) = if own {
                (0, fact.bytes())
            } else {
                slot(plan, g, v)?
            };
            let (off, end, len) = (lit(off), lit(off + len), lit(len));
            let n = lit(fact.elements());
            let param = format_ident!("{}", names::io_param(kind, i, values.len()));
            let elem = elem_type(fact.dtype)?;
            let dtype = dtype_tokens(fact.dtype)?;
            let name = &value.name;
            let shape = fact.shape.iter().map(|&d| lit(d));
            let (scale, zp) = match &fact.quant {
                Some(q) => (q.scale(), q.zero_point() as i32),
                None => (0.0f32, 0i32),
            };
            let scale = proc_macro2::Literal::f32_unsuffixed(scale);
            let zp = lit_i32(zp);
            let info = quote! {
                mcuc_runtime::TensorInfo {
                    name: #name,
                    shape: &[#(#shape),*],
                    dtype: #dtype,
                    bytes: #len,
                    scale: #scale,
                    zero_point: #zp,
                }
            };
            if own {
                io.run_params.push(quote!(#param: &[#elem; #n]));
                io.inputs_info.push(info);
                let i = lit(i);
                io.input_arms.push(quote!(#i => &mut self.input.0[..],));
            } else if kind == "input" {
                io.run_params.push(quote!(#param: &[#elem; #n]));
                io.copy_in.push(match fact.dtype {
                    DType::Float32 => quote! {
                        for (dst, x) in self.arena.0[#off..#end].chunks_exact_mut(4).zip(#param) {
                            dst.copy_from_slice(&x.to_le_bytes());
                        }
                    },
                    _ => quote! {
                        mcuc_runtime::arena::as_i8_mut(&mut self.arena.0[#off..#end]).copy_from_slice(#param);
                    },
                });
                io.inputs_info.push(info);
                let i = lit(i);
                io.input_arms
                    .push(quote!(#i => &mut self.arena.0[#off..#end],));
            } else {
                io.run_params.push(quote!(#param: &mut [#elem; #n]));
                io.copy_out.push(match fact.dtype {
                    DType::Float32 => quote! {
                        for (y, src) in #param.iter_mut().zip(self.arena.0[#off..#end].chunks_exact(4)) {
                            *y = f32::from_le_bytes([src[0], src[1], src[2], src[3]]);
                        }
                    },
                    _ => quote! {
                        #param.copy_from_slice(mcuc_runtime::arena::as_i8(&self.arena.0[#off..#end]));
                    },
                });
                io.outputs_info.push(info);
                let i = lit(i);
                io.output_arms
                    .push(quote!(#i => &self.arena.0[#off..#end],));
            }
        }
    }
    Ok(io)
}
