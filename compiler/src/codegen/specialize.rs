//! Kernel specialization: template source + parameter values -> one
//! concrete Rust function.
//!
//! A template (see `mcuc-templates`) is `pub fn k(p: &KParams, args...)`.
//! Specializing it for a layer:
//! 1. drops the `p` parameter and renames the function;
//! 2. replaces every `p.field` with an upper-case constant `FIELD`;
//! 3. declares `const FIELD: <type> = <value>;` at the top of the body, for
//!    the fields the body uses, with the type from `KParams`.
//!
//! Before that, calls `helper(p, args..)` of element helpers (private `fn`s
//! of the same file taking the same params, e.g. the per-element arithmetic
//! that `add` and `add_in_place` share) are inlined as block expressions,
//! so the generated function stays self-contained and each kernel's
//! arithmetic is written once in the templates.
//!
//! rustc then folds the constants, so loop bounds, strides, zero points and
//! multipliers are baked into the generated code, and the reviewer reads the
//! layer's geometry at the top of its function.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::visit_mut::{self, VisitMut};

use crate::error::{Error, Result};

/// A template file parsed once.
pub struct Template {
    pub file_name: String,
    file: syn::File,
}

impl Template {
    pub fn parse(file_name: &str, source: &str) -> Result<Self> {
        let file = syn::parse_file(source).map_err(|e| template_error(file_name, e.to_string()))?;
        Ok(Template {
            file_name: file_name.to_string(),
            file,
        })
    }

    fn function(&self, name: &str) -> Result<&syn::ItemFn> {
        self.file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(f) if f.sig.ident == name => Some(f),
                _ => None,
            })
            .ok_or_else(|| template_error(&self.file_name, format!("no function `{name}`")))
    }

    fn params_struct(&self, name: &str) -> Result<&syn::ItemStruct> {
        self.file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Struct(s) if s.ident == name => Some(s),
                _ => None,
            })
            .ok_or_else(|| template_error(&self.file_name, format!("no struct `{name}`")))
    }

    /// Parameter names of `function` after `p`, in order.
    pub fn arg_names(&self, function: &str) -> Result<Vec<String>> {
        let f = self.function(function)?;
        Ok(f.sig
            .inputs
            .iter()
            .skip(1)
            .filter_map(|arg| match arg {
                syn::FnArg::Typed(t) => match &*t.pat {
                    syn::Pat::Ident(i) => Some(i.ident.to_string()),
                    _ => None,
                },
                syn::FnArg::Receiver(_) => None,
            })
            .collect())
    }

    /// Specializes `function` with the JSON object `params` (field -> value)
    /// into a function called `new_name`, preceded by `doc` lines.
    pub fn specialize(
        &self,
        function: &str,
        params: &serde_json::Value,
        new_name: &str,
        doc: &[String],
    ) -> Result<TokenStream> {
        let s = self.substitute(function, params)?;
        let mut f = s.function;
        f.sig.ident = syn::Ident::new(new_name, Span::call_site());
        let (consts, stmts, attrs, sig) = (&s.consts, &f.block.stmts, &f.attrs, &f.sig);
        let docs = doc.iter().map(|d| quote! { #[doc = #d] });
        Ok(quote! {
            #(#docs)*
            #(#attrs)*
            #sig {
                #(#consts)*
                #(#stmts)*
            }
        })
    }

    /// The statements of `function` specialized with `params`, preceded by
    /// `let <arg>: <type> = <expr>;` for every argument: the body of a call
    /// inlined where the arguments are. Every argument must be bound, and
    /// only arguments may be.
    pub fn inline_call(
        &self,
        function: &str,
        params: &serde_json::Value,
        bindings: &[(String, TokenStream)],
    ) -> Result<TokenStream> {
        let s = self.substitute(function, params)?;
        let err = |m: String| template_error(&self.file_name, format!("`{function}`: {m}"));
        let mut lets = Vec::new();
        for arg in &s.function.sig.inputs {
            let syn::FnArg::Typed(t) = arg else { continue };
            let syn::Pat::Ident(pat) = &*t.pat else {
                return Err(err("arguments must be plain identifiers".into()));
            };
            let name = pat.ident.to_string();
            let expr = bindings
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, e)| e)
                .ok_or_else(|| err(format!("argument `{name}` is not bound")))?;
            let ident = &pat.ident;
            let ty = &t.ty;
            lets.push(quote! { let #ident: #ty = #expr; });
        }
        if let Some((extra, _)) = bindings.iter().find(|(n, _)| {
            !s.function.sig.inputs.iter().any(|a| match a {
                syn::FnArg::Typed(t) => {
                    matches!(&*t.pat, syn::Pat::Ident(i) if i.ident == n.as_str())
                }
                syn::FnArg::Receiver(_) => false,
            })
        }) {
            return Err(err(format!("has no argument `{extra}`")));
        }
        let (consts, stmts) = (&s.consts, &s.function.block.stmts);
        Ok(quote! {
            #(#lets)*
            #(#consts)*
            #(#stmts)*
        })
    }

    /// Drops `p`, substitutes `p.field` and builds the `const` items.
    fn substitute(&self, function: &str, params: &serde_json::Value) -> Result<Substituted> {
        let err = |m: String| template_error(&self.file_name, format!("`{function}`: {m}"));
        let mut f = self.function(function)?.clone();
        let first = f
            .sig
            .inputs
            .first()
            .cloned()
            .ok_or_else(|| err("has no parameters".into()))?;
        let (p_name, struct_name) = params_arg(&first)
            .ok_or_else(|| err("first parameter must be `p: &<Kernel>Params`".into()))?;
        let fields = self.params_struct(&struct_name)?;
        let values = params
            .as_object()
            .ok_or_else(|| err("parameters are not a JSON object".into()))?;

        f.sig.inputs = f.sig.inputs.into_iter().skip(1).collect();
        f.vis = syn::Visibility::Inherited;
        f.attrs.retain(|a| !a.path().is_ident("doc"));

        let mut helpers = InlineHelpers {
            template: self,
            p: p_name.clone(),
            params_struct: struct_name.clone(),
            stack: vec![function.to_string()],
            error: None,
        };
        helpers.visit_block_mut(&mut f.block);
        if let Some(e) = helpers.error {
            return Err(err(e));
        }

        let mut subst = SubstituteParams {
            p: p_name.clone(),
            used: BTreeSet::new(),
            stray: false,
        };
        subst.visit_block_mut(&mut f.block);
        if subst.stray {
            return Err(err(format!(
                "uses `{p_name}` other than as `{p_name}.field`; templates may only read fields"
            )));
        }
        if let Some(unknown) = subst.used.iter().find(|u| {
            !fields
                .fields
                .iter()
                .any(|f| f.ident.as_ref().is_some_and(|i| i == u.as_str()))
        }) {
            return Err(err(format!("reads unknown parameter `{unknown}`")));
        }
        let mut consts = Vec::new();
        for field in &fields.fields {
            let Some(ident) = &field.ident else { continue };
            let name = ident.to_string();
            if !subst.used.contains(&name) {
                continue;
            }
            let value = values
                .get(&name)
                .ok_or_else(|| err(format!("no value for parameter `{name}`")))?;
            let ty = &field.ty;
            let lit = literal(value, ty).ok_or_else(|| {
                err(format!(
                    "value {value} does not fit parameter `{name}: {}`",
                    quote!(#ty)
                ))
            })?;
            let konst = format_ident!("{}", name.to_uppercase());
            consts.push(quote! { const #konst: #ty = #lit; });
        }
        Ok(Substituted {
            function: f,
            consts,
        })
    }
}

struct Substituted {
    function: syn::ItemFn,
    consts: Vec<TokenStream>,
}

fn template_error(file: &str, message: String) -> Error {
    Error::Usage {
        message: format!("kernel template {file}: {message}"),
    }
}

/// `p: &Struct` -> ("p", "Struct").
fn params_arg(arg: &syn::FnArg) -> Option<(String, String)> {
    let syn::FnArg::Typed(t) = arg else {
        return None;
    };
    let syn::Pat::Ident(pat) = &*t.pat else {
        return None;
    };
    let syn::Type::Reference(r) = &*t.ty else {
        return None;
    };
    let syn::Type::Path(path) = &*r.elem else {
        return None;
    };
    let last = path.path.segments.last()?;
    Some((pat.ident.to_string(), last.ident.to_string()))
}

/// A literal of type `ty` for a JSON value.
fn literal(value: &serde_json::Value, ty: &syn::Type) -> Option<TokenStream> {
    let ty_name = match ty {
        syn::Type::Path(p) => p.path.segments.last()?.ident.to_string(),
        _ => return None,
    };
    let int = |v: i128| -> Option<TokenStream> {
        let lit = proc_macro2::Literal::i128_unsuffixed(v.unsigned_abs() as i128);
        Some(if v < 0 { quote!(-#lit) } else { quote!(#lit) })
    };
    match ty_name.as_str() {
        "bool" => value.as_bool().map(|b| quote!(#b)),
        "usize" | "u8" | "u16" | "u32" | "u64" => {
            let v = value.as_u64()?;
            let fits = match ty_name.as_str() {
                "u8" => v <= u8::MAX as u64,
                "u16" => v <= u16::MAX as u64,
                "u32" | "usize" => v <= u32::MAX as u64,
                _ => true,
            };
            fits.then(|| int(v as i128)).flatten()
        }
        "i8" | "i16" | "i32" | "i64" | "isize" => {
            let v = value.as_i64()?;
            let fits = match ty_name.as_str() {
                "i8" => i8::try_from(v).is_ok(),
                "i16" => i16::try_from(v).is_ok(),
                "i32" | "isize" => i32::try_from(v).is_ok(),
                _ => true,
            };
            fits.then(|| int(v as i128)).flatten()
        }
        "f32" => {
            let v = value.as_f64()? as f32;
            v.is_finite().then(|| {
                let lit = proc_macro2::Literal::f32_unsuffixed(v.abs());
                if v.is_sign_negative() {
                    quote!(-#lit)
                } else {
                    quote!(#lit)
                }
            })
        }
        _ => None,
    }
}

/// Replaces each call `helper(p, a, b)` of a function `helper(p: &Params,
/// x: X, y: Y) -> R` of the same template file by the block
/// `{ let (x, y): (X, Y) = (a, b); <helper body> }`. Binding all arguments
/// in one tuple keeps an argument that names another parameter (`(y, x)`)
/// from reading the new binding; an argument that is the parameter's own
/// name (`h(p, x)` for parameter `x`) is not rebound at all. Helpers may
/// call helpers, but not recursively, and may not `return` (the body is a
/// block expression).
struct InlineHelpers<'t> {
    template: &'t Template,
    p: String,
    params_struct: String,
    /// Functions being inlined, outermost first (recursion check).
    stack: Vec<String>,
    error: Option<String>,
}

impl InlineHelpers<'_> {
    /// The helper a call invokes, if it is `name(p, ..)` with `name` a
    /// function of this file.
    fn callee(&self, call: &syn::ExprCall) -> Option<&syn::ItemFn> {
        let syn::Expr::Path(func) = &*call.func else {
            return None;
        };
        let name = func.path.get_ident()?.to_string();
        let passes_p =
            matches!(call.args.first(), Some(syn::Expr::Path(a)) if a.path.is_ident(&self.p));
        if !passes_p {
            return None;
        }
        self.template.function(&name).ok()
    }

    fn inline(&mut self, call: &syn::ExprCall, helper: &syn::ItemFn) -> Result<syn::Expr, String> {
        let name = helper.sig.ident.to_string();
        if self.stack.contains(&name) {
            return Err(format!("helper `{name}` is recursive"));
        }
        let first = helper.sig.inputs.first().and_then(params_arg);
        if first != Some((self.p.clone(), self.params_struct.clone())) {
            return Err(format!(
                "helper `{name}` must take `{}: &{}` first",
                self.p, self.params_struct
            ));
        }
        let mut names = Vec::new();
        let mut types = Vec::new();
        for arg in helper.sig.inputs.iter().skip(1) {
            let syn::FnArg::Typed(t) = arg else {
                return Err(format!("helper `{name}` takes `self`"));
            };
            let syn::Pat::Ident(pat) = &*t.pat else {
                return Err(format!(
                    "helper `{name}`: arguments must be plain identifiers"
                ));
            };
            names.push(pat.ident.clone());
            types.push((*t.ty).clone());
        }
        let args: Vec<&syn::Expr> = call.args.iter().skip(1).collect();
        if args.len() != names.len() {
            return Err(format!(
                "helper `{name}` takes {} arguments after `{}`, called with {}",
                names.len(),
                self.p,
                args.len()
            ));
        }
        let mut body = helper.block.clone();
        let mut returns = FindReturn(false);
        returns.visit_block_mut(&mut body);
        if returns.0 {
            return Err(format!(
                "helper `{name}` uses `return`; end with its value instead"
            ));
        }
        self.stack.push(name);
        self.visit_block_mut(&mut body);
        self.stack.pop();
        // `h(p, x)` for a parameter `x` needs no `let x = x;`: the name
        // already holds the value (and is never rebound here).
        let (names, (types, args)): (Vec<_>, (Vec<_>, Vec<_>)) = names
            .into_iter()
            .zip(types.into_iter().zip(args))
            .filter(|(n, (_, a))| !matches!(a, syn::Expr::Path(path) if path.path.is_ident(n)))
            .unzip();
        let stmts = &body.stmts;
        Ok(match names.len() {
            0 => syn::parse_quote!({ #(#stmts)* }),
            1 => {
                let (n, t, a) = (&names[0], &types[0], args[0]);
                syn::parse_quote!({ let #n: #t = #a; #(#stmts)* })
            }
            _ => syn::parse_quote!({
                let (#(#names),*): (#(#types),*) = (#(#args),*);
                #(#stmts)*
            }),
        })
    }
}

impl VisitMut for InlineHelpers<'_> {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        // Arguments first, so `h(p, g(p, x))` inlines `g` inside `h`'s binding.
        visit_mut::visit_expr_mut(self, expr);
        if self.error.is_some() {
            return;
        }
        let syn::Expr::Call(call) = expr else { return };
        let Some(helper) = self.callee(call).cloned() else {
            return;
        };
        match self.inline(call, &helper) {
            Ok(block) => *expr = block,
            Err(e) => self.error = Some(e),
        }
    }
}

struct FindReturn(bool);

impl VisitMut for FindReturn {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        if matches!(expr, syn::Expr::Return(_)) {
            self.0 = true;
        }
        // A closure's `return` is its own; templates have none anyway.
        if !matches!(expr, syn::Expr::Closure(_)) {
            visit_mut::visit_expr_mut(self, expr);
        }
    }
}

struct SubstituteParams {
    p: String,
    used: BTreeSet<String>,
    stray: bool,
}

impl VisitMut for SubstituteParams {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        if let syn::Expr::Field(field) = expr
            && let syn::Expr::Path(base) = &*field.base
            && base.path.is_ident(&self.p)
            && let syn::Member::Named(member) = &field.member
        {
            let name = member.to_string();
            let konst = format_ident!("{}", name.to_uppercase());
            self.used.insert(name);
            *expr = syn::parse_quote!(#konst);
            return;
        }
        if let syn::Expr::Path(path) = expr
            && path.path.is_ident(&self.p)
        {
            self.stray = true;
        }
        visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        // Parameters inside macro invocations (e.g. `debug_assert!`) would
        // escape substitution; templates must not do that.
        if mac
            .tokens
            .to_string()
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|t| t == self.p)
        {
            self.stray = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
        pub struct ScaleParams { pub len: usize, pub offset: i32, pub clamp: bool, pub gain: f32 }
        /// Adds an offset.
        #[inline]
        pub fn scale(p: &ScaleParams, input: &[i8], output: &mut [i8]) {
            for i in 0..p.len {
                let mut v = input[i] as i32 + p.offset;
                if p.clamp { v = v.clamp(-128, 127); }
                output[i] = v as i8;
            }
        }
        pub fn leaky(p: &ScaleParams, input: &[i8]) -> usize { helper(p) + input.len() }
        #[inline(always)]
        fn shifted(p: &ScaleParams, x: i8, y: i32) -> i32 { x as i32 + p.offset + y }
        pub fn twice(p: &ScaleParams, input: &[i8], output: &mut [i8]) {
            for i in 0..p.len { output[i] = shifted(p, input[i], shifted(p, input[i], 0)) as i8; }
        }
        fn difference(p: &ScaleParams, x: i32, y: i32) -> i32 { (x - y) * p.offset }
        pub fn swapped(p: &ScaleParams, x: i32, y: i32) -> i32 { difference(p, y, x) }
        pub fn swapped_back(p: &ScaleParams, x: i32) -> i32 { difference(p, x, 2) }
        fn looped(p: &ScaleParams) -> i32 { looped(p) }
        pub fn recursive(p: &ScaleParams) -> i32 { looped(p) }
        fn early(p: &ScaleParams, x: i32) -> i32 { if x > 0 { return p.offset; } x }
        pub fn returns(p: &ScaleParams, x: i32) -> i32 { early(p, x) }
        fn other(q: &ScaleParams, x: i32) -> i32 { x + q.offset }
        pub fn renamed(p: &ScaleParams, x: i32) -> i32 { other(p, x) }
    "#;

    fn pretty(ts: TokenStream) -> String {
        prettyplease::unparse(&syn::parse2(ts).expect("valid file"))
    }

    #[test]
    fn substitutes_used_fields_as_typed_constants() {
        let t = Template::parse("scale.rs", TEMPLATE).expect("parse");
        let params = serde_json::json!({"len": 4, "offset": -3, "clamp": true, "gain": 0.5});
        let ts = t
            .specialize("scale", &params, "layer_007_scale", &[" Layer 7.".into()])
            .expect("specialize");
        let code = pretty(ts);
        assert!(
            code.contains("fn layer_007_scale(input: &[i8], output: &mut [i8])"),
            "{code}"
        );
        assert!(code.contains("const LEN: usize = 4;"), "{code}");
        assert!(code.contains("const OFFSET: i32 = -3;"), "{code}");
        assert!(code.contains("const CLAMP: bool = true;"), "{code}");
        assert!(
            !code.contains("GAIN"),
            "unused field must not be declared: {code}"
        );
        assert!(code.contains("for i in 0..LEN"), "{code}");
        assert!(code.contains("/// Layer 7."), "{code}");
        assert!(!code.contains("Adds an offset"), "{code}");
        assert_eq!(t.arg_names("scale").expect("args"), vec!["input", "output"]);
    }

    #[test]
    fn inlines_a_call_with_bound_arguments() {
        let t = Template::parse("scale.rs", TEMPLATE).expect("parse");
        let params = serde_json::json!({"len": 2, "offset": 1, "clamp": false, "gain": 1.0});
        let body = t
            .inline_call(
                "scale",
                &params,
                &[("input".into(), quote!(a)), ("output".into(), quote!(b))],
            )
            .expect("inline");
        let code = pretty(quote! { fn f(a: &[i8], b: &mut [i8]) { #body } });
        assert!(code.contains("let input: &[i8] = a;"), "{code}");
        assert!(code.contains("let output: &mut [i8] = b;"), "{code}");
        assert!(code.contains("const OFFSET: i32 = 1;"), "{code}");
        let missing = t.inline_call("scale", &params, &[("input".into(), quote!(a))]);
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("`output` is not bound")
        );
        let extra = t.inline_call(
            "scale",
            &params,
            &[
                ("input".into(), quote!(a)),
                ("output".into(), quote!(b)),
                ("bias".into(), quote!(c)),
            ],
        );
        assert!(
            extra
                .unwrap_err()
                .to_string()
                .contains("no argument `bias`")
        );
    }

    #[test]
    fn inlines_element_helpers_as_blocks() {
        let t = Template::parse("scale.rs", TEMPLATE).expect("parse");
        let params = serde_json::json!({"len": 3, "offset": 5, "clamp": false, "gain": 1.0});
        let code = pretty(
            t.specialize("twice", &params, "layer_001_twice", &[])
                .expect("twice"),
        );
        assert!(
            !code.contains("shifted"),
            "helper calls must be inlined: {code}"
        );
        assert!(code.contains("let (x, y): (i8, i32) = ("), "{code}");
        assert!(code.contains("x as i32 + OFFSET + y"), "{code}");
        assert!(code.contains("const OFFSET: i32 = 5;"), "{code}");

        // Arguments that are the parameters' own names need no binding.
        let code = pretty(
            t.specialize("swapped_back", &params, "s", &[])
                .expect("same"),
        );
        assert!(code.contains("let y: i32 = 2;"), "{code}");
        assert!(!code.contains("let x"), "{code}");

        // Arguments that name the helper's own parameters bind together.
        let code = pretty(t.specialize("swapped", &params, "s", &[]).expect("swapped"));
        assert!(code.contains("let (x, y): (i32, i32) = (y, x);"), "{code}");
        assert!(code.contains("(x - y) * OFFSET"), "{code}");
    }

    #[test]
    fn rejects_helpers_it_cannot_inline() {
        let t = Template::parse("scale.rs", TEMPLATE).expect("parse");
        let params = serde_json::json!({"len": 3, "offset": 5, "clamp": false, "gain": 1.0});
        for (kernel, message) in [
            ("recursive", "helper `looped` is recursive"),
            ("returns", "helper `early` uses `return`"),
            (
                "renamed",
                "helper `other` must take `p: &ScaleParams` first",
            ),
        ] {
            let e = t
                .specialize(kernel, &params, "x", &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains(message), "{kernel}: {e}");
        }
    }

    #[test]
    fn rejects_params_escaping_field_access() {
        let t = Template::parse("scale.rs", TEMPLATE).expect("parse");
        let params = serde_json::json!({"len": 4, "offset": 0, "clamp": false, "gain": 1.0});
        let e = t
            .specialize("leaky", &params, "x", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("other than as `p.field`"), "{e}");
    }

    #[test]
    fn rejects_missing_or_out_of_range_values() {
        let t = Template::parse("scale.rs", TEMPLATE).expect("parse");
        let e = t
            .specialize("scale", &serde_json::json!({"len": 4}), "x", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no value for parameter"), "{e}");
        let e = t
            .specialize(
                "scale",
                &serde_json::json!({"len": -1, "offset": 0, "clamp": true}),
                "x",
                &[],
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not fit parameter `len: usize`"), "{e}");
    }
}
