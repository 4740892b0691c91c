//! Code generation: a verified graph + verified memory plan -> a Rust
//! module (`<name>.rs`), its weights blob and a `memory.x`.
//!
//! The module is `no_std`, has no `unsafe`, and is deterministic: the same
//! model and options give the same bytes. Each layer is one function with a
//! stable name (`layer_<node>_<op>`) whose body is the specialized kernel
//! template: shapes, strides, zero points and multipliers are constants.

pub mod names;
pub mod specialize;
pub mod templates;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::error::{Error, Result};
use crate::ir::ops::shape_str;
use crate::ir::{DType, Graph, ValueId};
use crate::kernels::{self, Arg, ConstData};
use crate::plan::VerifiedPlan;

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

/// `(offset, len)` of value `v` in the arena.
fn slot(plan: &VerifiedPlan, g: &Graph, v: ValueId) -> Result<(usize, usize)> {
    let b = plan.plan().buffer(v).ok_or_else(|| Error::Verify {
        stage: "codegen".into(),
        errors: vec![format!("value {v} `{}` has no buffer", g.value(v).name)],
    })?;
    Ok((b.offset, b.size))
}

/// Generates the module.
pub fn emit(g: &Graph, plan: &VerifiedPlan, opts: &EmitOptions<'_>) -> Result<Emitted> {
    let p = plan.plan();
    let templates = templates::Templates::load()?;
    let mut blob = Blob::default();
    let mut statics = Vec::new();
    let mut layer_fns = Vec::new();
    let mut layer_calls = Vec::new();
    let mut const_bytes = 0usize;
    let mut macs = 0u64;

    for &n in &p.order {
        let node = g.node(n);
        let lowered = kernels::lower(g, n)?;
        let in_facts: Vec<_> = node.inputs.iter().map(|&v| g.fact(v)).collect();
        let out_facts: Vec<_> = node.outputs.iter().map(|&v| g.fact(v)).collect();
        let def = node.op.def();
        macs += def.macs(&in_facts, &out_facts);
        let out = node.outputs[0];
        let out_slot = slot(plan, g, out)?;
        if lowered.alias
            && lowered.inputs.len() == 1
            && slot(plan, g, lowered.inputs[0])?.0 == out_slot.0
        {
            // The planner gave the reshaped value the same bytes: nothing to do.
            continue;
        }
        let fn_name = names::layer_fn(n, node.op.name());
        let fn_ident = format_ident!("{}", fn_name);

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
                    input_exprs.push(quote!(weights(#off, #len)));
                }
                None => {
                    let (off, len) = slot(plan, g, v)?;
                    views.push((ident.clone(), off, len));
                    input_exprs.push(quote!(#ident));
                }
            }
        }
        let view_idents = views.iter().map(|(i, _, _)| i);
        let view_slots = views.iter().map(|(_, o, l)| {
            let (o, l) = (lit(*o), lit(*l));
            quote!((#o, #l))
        });
        let (out_off, out_len) = (lit(out_slot.0), lit(out_slot.1));
        let mut body = vec![quote! {
            let ([#(#view_idents),*], out) =
                mcuc_runtime::arena::views(arena, [#(#view_slots),*], (#out_off, #out_len));
        }];

        let multi = lowered.calls.len() > 1;
        for (ci, call) in lowered.calls.iter().enumerate() {
            let template = templates.get(call.file)?;
            let mut bindings = Vec::new();
            for (name, arg) in &call.args {
                let expr = match arg {
                    Arg::Input(k) => input_exprs.get(*k).cloned().ok_or_else(|| {
                        Error::node(&node.name, node.op.name(), "kernel input out of range")
                    })?,
                    Arg::Output if multi => quote!(&mut *out),
                    Arg::Output => quote!(out),
                    Arg::Const(ConstData::I8(data)) => {
                        let off = lit(blob.add(data));
                        let len = lit(data.len());
                        const_bytes += data.len();
                        quote!(weights(#off, #len))
                    }
                    Arg::Const(ConstData::I32(data)) => {
                        let suffix = if multi {
                            format!("{name}_{ci}")
                        } else {
                            name.to_string()
                        };
                        let konst = format_ident!("{}", names::layer_const(n, &suffix));
                        let len = lit(data.len());
                        const_bytes += data.len() * 4;
                        let values = data.iter().map(|&x| lit_i32(x));
                        statics.push(quote! { static #konst: [i32; #len] = [#(#values),*]; });
                        quote!(&#konst)
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
            " `{}` {}: {} -> {}{}{}",
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
            }
        );
        layer_fns.push(quote! {
            #[doc = #doc]
            fn #fn_ident(arena: &mut [u8]) {
                #(#body)*
            }
        });
        layer_calls.push(quote!(#fn_ident(arena);));
    }

    let io = io_items(g, plan)?;
    let arena_bytes = lit(p.arena_bytes);
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
        quote! {
            let arena = &mut self.arena.0[..];
            #(#layer_calls)*
        }
    };
    let (run_sig, run_copy_in, run_copy_out) = (&io.run_params, &io.copy_in, &io.copy_out);
    let (inputs_info, outputs_info) = (&io.inputs_info, &io.outputs_info);
    let (input_arms, output_arms) = (&io.input_arms, &io.output_arms);
    let tokens = quote! {
        /// Bytes of the activation arena, fixed at compile time.
        pub const ARENA_BYTES: usize = #arena_bytes;

        #[repr(C, align(16))]
        struct Align16<T: ?Sized>(T);

        #weights_items

        #(#statics)*

        /// The compiled model. It owns its arena; all zeros, so a `static`
        /// of it lands in `.bss`.
        pub struct Model {
            arena: Align16<[u8; ARENA_BYTES]>,
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
                Model { arena: Align16([0; ARENA_BYTES]) }
            }

            /// Copies the inputs into the arena, runs one inference and
            /// copies the outputs out.
            pub fn run(&mut self, #(#run_sig),*) {
                #(#run_copy_in)*
                self.invoke();
                #(#run_copy_out)*
            }

            /// Runs one inference over the inputs already in the arena.
            pub fn invoke(&mut self) {
                #invoke_body
            }
        }

        impl mcuc_runtime::Model for Model {
            const INPUTS: &'static [mcuc_runtime::TensorInfo] = &[#(#inputs_info),*];
            const OUTPUTS: &'static [mcuc_runtime::TensorInfo] = &[#(#outputs_info),*];
            const ARENA_BYTES: usize = ARENA_BYTES;

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
    let header = format!(
        "// @generated by mcuc from {}. Do not edit.\n//\n// arena: {} bytes (lower bound {}), constants: {} bytes, MACs: {}\n// layers: {}, plan: {}\n\n",
        opts.source,
        arena_bytes,
        p.lower_bound_bytes,
        const_bytes,
        macs,
        layer_fns.len(),
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

fn io_items(g: &Graph, plan: &VerifiedPlan) -> Result<IoItems> {
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
            let (off, len) = slot(plan, g, v)?;
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
            if kind == "input" {
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
