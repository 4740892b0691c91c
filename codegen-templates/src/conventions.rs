//! Checks that every template file follows the conventions the specializer
//! relies on (see the crate docs). A text-level check, so it needs no parser
//! dependency: it finds each `pub fn <kernel>(p: &<Kernel>Params, ...)`,
//! takes its body by brace matching, and inspects body and params struct.

const TEMPLATES: &[(&str, &str)] = &[
    ("add.rs", include_str!("add.rs")),
    ("concatenation.rs", include_str!("concatenation.rs")),
    ("conv2d.rs", include_str!("conv2d.rs")),
    ("copy.rs", include_str!("copy.rs")),
    ("depthwise_conv2d.rs", include_str!("depthwise_conv2d.rs")),
    ("dequantize.rs", include_str!("dequantize.rs")),
    ("fully_connected.rs", include_str!("fully_connected.rs")),
    ("logistic.rs", include_str!("logistic.rs")),
    ("mean.rs", include_str!("mean.rs")),
    ("mul.rs", include_str!("mul.rs")),
    ("pad.rs", include_str!("pad.rs")),
    ("pool2d.rs", include_str!("pool2d.rs")),
    ("quantize.rs", include_str!("quantize.rs")),
    ("relu.rs", include_str!("relu.rs")),
    ("softmax.rs", include_str!("softmax.rs")),
    ("tanh.rs", include_str!("tanh.rs")),
];

/// Text of the block starting at the first `{` at or after `from`.
fn block(src: &str, from: usize) -> &str {
    let start = from + src[from..].find('{').expect("block");
    let mut depth = 0;
    for (i, c) in src[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &src[start..=start + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces");
}

/// Source without the `#[cfg(test)]` module (it sits at the end of each file).
fn non_test(src: &str) -> &str {
    match src.find("#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    }
}

/// `(kernel name, params type, body)` of every kernel in a file.
fn kernels(src: &str) -> Vec<(String, String, &str)> {
    functions(src, "\npub fn ")
}

/// `(name, params type, body)` of every element helper in a file: private
/// functions that kernels call as `name(p, ..)` and the specializer inlines.
fn helpers(src: &str) -> Vec<(String, String, &str)> {
    functions(src, "\nfn ")
}

/// Kernels and helpers: every function whose body the specializer copies.
fn specialized(src: &str) -> Vec<(String, String, &str)> {
    let mut all = kernels(src);
    all.extend(helpers(src));
    all
}

/// Functions at the start of a line after `prefix`, outside the tests.
fn functions<'s>(src: &'s str, prefix: &str) -> Vec<(String, String, &'s str)> {
    let src = non_test(src);
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = src[at..].find(prefix) {
        let start = at + i + prefix.len();
        let name: String = src[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let sig_end = start + src[start..].find('{').unwrap();
        let sig = &src[start..sig_end];
        let params = sig
            .split("p: &")
            .nth(1)
            .unwrap_or_else(|| {
                panic!("kernel `{name}`: first argument must be `p: &<Kernel>Params`")
            })
            .split([',', ')'])
            .next()
            .unwrap()
            .trim()
            .to_string();
        assert!(
            sig[name.len()..].trim_start().starts_with("(\n    p: &")
                || sig[name.len()..].trim_start().starts_with("(p: &"),
            "kernel `{name}`: `p` must be the first argument"
        );
        out.push((name, params, block(src, sig_end)));
        at = sig_end;
    }
    out
}

#[test]
fn every_file_has_a_kernel() {
    for (file, src) in TEMPLATES {
        assert!(!kernels(src).is_empty(), "{file} has no kernel");
    }
}

#[test]
fn kernel_bodies_use_p_only_as_field_access() {
    for (file, src) in TEMPLATES {
        let helper_names: Vec<String> = helpers(src).into_iter().map(|h| h.0).collect();
        for (name, _, body) in specialized(src) {
            let bytes = body.as_bytes();
            for (i, _) in body.match_indices('p') {
                let before = if i == 0 { b' ' } else { bytes[i - 1] };
                let after = bytes.get(i + 1).copied().unwrap_or(b' ');
                let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                if ident(before) || ident(after) {
                    continue; // part of another identifier
                }
                // `helper(p, ..)`: handed on whole to a helper of this file.
                let call = body[..i].trim_end();
                if after == b',' && call.ends_with('(') {
                    let callee: String = call[..call.len() - 1]
                        .chars()
                        .rev()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                        .chars()
                        .rev()
                        .collect();
                    assert!(
                        helper_names.contains(&callee),
                        "{file}: `{name}` passes `p` to `{callee}`, which is not a helper of this file"
                    );
                    continue;
                }
                assert_eq!(
                    after, b'.',
                    "{file}: `{name}` uses `p` other than as `p.<field>` or `helper(p, ..)`"
                );
            }
        }
    }
}

#[test]
fn helpers_are_inlined_and_take_their_kernels_params() {
    for (file, src) in TEMPLATES {
        let kernel_params: Vec<String> = kernels(src).into_iter().map(|k| k.1).collect();
        for (name, params, _) in helpers(src) {
            let decl = format!("\nfn {name}(");
            let before = &src[..src.find(&decl).expect("helper")];
            let attributes = before
                .lines()
                .rev()
                .take_while(|l| l.starts_with("#["))
                .collect::<Vec<_>>();
            assert!(
                attributes.contains(&"#[inline(always)]"),
                "{file}: helper `{name}` must be #[inline(always)], like the generated code it becomes"
            );
            assert!(
                kernel_params.contains(&params),
                "{file}: helper `{name}` takes `{params}`, which no kernel of this file takes"
            );
        }
    }
}

#[test]
fn kernel_bodies_have_no_forbidden_constructs() {
    const FORBIDDEN: &[&str] = &[
        "unsafe",
        "panic!",
        "unwrap()",
        "expect(",
        "unreachable!",
        "todo!",
        "assert",
        "vec!",
        "Vec<",
        "Box<",
        "String",
        "format!",
        "println!",
        "std::",
        "alloc::",
    ];
    for (file, src) in TEMPLATES {
        for (name, _, body) in specialized(src) {
            for f in FORBIDDEN {
                assert!(!body.contains(f), "{file}: `{name}` contains `{f}`");
            }
            assert!(
                !body.lines().any(|l| l.trim_start().starts_with("use ")),
                "{file}: `{name}` has a `use` item"
            );
            // Free functions are called by full path.
            for (i, _) in body.match_indices("::") {
                let head: String = body[..i]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect();
                let root = head.split("::").next().unwrap_or("");
                assert!(
                    matches!(
                        root,
                        "mcuc_runtime"
                            | "core"
                            | "i8"
                            | "i32"
                            | "u8"
                            | "f32"
                            | "isize"
                            | "usize"
                            | ""
                    ),
                    "{file}: `{name}` calls `{head}::..` (use a full mcuc_runtime/core path)"
                );
            }
        }
    }
}

#[test]
fn params_structs_have_scalar_fields_only() {
    for (file, src) in TEMPLATES {
        let src = non_test(src);
        for (name, params, _) in kernels(src) {
            let decl = format!("pub struct {params} ");
            let at = src.find(&decl).unwrap_or_else(|| {
                panic!("{file}: `{name}` params `{params}` not in the same file")
            });
            let body = block(src, at);
            let before = &src[..at];
            assert!(
                before.contains("#[cfg_attr(feature = \"host\", derive(serde::Serialize))]")
                    && before.contains("#[derive(Debug, Clone, Copy, PartialEq)]"),
                "{file}: `{params}` must derive Debug, Clone, Copy, PartialEq and serde::Serialize under host"
            );
            for line in body
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("pub "))
            {
                let ty = line
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .trim()
                    .trim_end_matches(',');
                assert!(
                    matches!(ty, "usize" | "i32" | "bool" | "f32"),
                    "{file}: `{params}` field `{line}` is not a scalar"
                );
            }
        }
    }
}

#[test]
fn finds_all_kernels() {
    let mut names: Vec<String> = TEMPLATES
        .iter()
        .flat_map(|(_, src)| kernels(src))
        .map(|k| k.0)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "add",
            "add_in_place",
            "avg_pool2d",
            "concatenation",
            "conv2d",
            "copy",
            "depthwise_conv2d",
            "depthwise_conv2d_in_place",
            "dequantize",
            "fully_connected",
            "logistic",
            "logistic_in_place",
            "max_pool2d",
            "mean",
            "mul",
            "mul_in_place",
            "pad",
            "quantize",
            "relu",
            "relu_in_place",
            "requantize",
            "requantize_in_place",
            "softmax",
            "tanh",
            "tanh_in_place",
        ]
    );
}
