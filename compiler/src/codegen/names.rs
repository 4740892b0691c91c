//! The one namer for generated identifiers: stable (derived from the node's
//! index in the source model and its op), keyword-safe, deterministic.

use crate::ir::NodeId;

/// `layer_007_depthwise_conv_2d`.
pub fn layer_fn(node: NodeId, op: &str) -> String {
    format!("layer_{:03}_{}", node.index(), op.to_lowercase())
}

/// `LAYER_007_BIAS` for a constant argument of a layer.
pub fn layer_const(node: NodeId, arg: &str) -> String {
    format!("LAYER_{:03}_{}", node.index(), arg.to_uppercase())
}

/// The identifier under which layer functions receive a region's arena:
/// `arena_axisram` for region `AXISRAM` (never clashes with the names of
/// views or kernel arguments).
pub fn region_param(region: &str) -> String {
    format!("arena_{}", module_name(region).trim_start_matches("model_"))
}

/// The static holding a region's arena: `ARENA_AXISRAM`.
pub fn region_static(region: &str) -> String {
    format!("ARENA_{}", module_name(region).to_uppercase())
}

/// The linker section of a region's arena: `.mcuc.axisram`.
pub fn region_section(region: &str) -> String {
    format!(".mcuc.{}", module_name(region))
}

/// Parameter names of `Model::run`: `input`/`output` for a single tensor,
/// `input_0`, `input_1`... otherwise.
pub fn io_param(kind: &str, index: usize, count: usize) -> String {
    if count == 1 {
        kind.to_string()
    } else {
        format!("{kind}_{index}")
    }
}

/// Lower-case identifier from a model name: `person_detect`.
pub fn module_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "model_");
    }
    if syn::parse_str::<syn::Ident>(&s).is_err() {
        s.push('_');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_valid() {
        assert_eq!(
            layer_fn(NodeId::new(7), "DEPTHWISE_CONV_2D"),
            "layer_007_depthwise_conv_2d"
        );
        assert_eq!(
            layer_const(NodeId::new(12), "out_mult"),
            "LAYER_012_OUT_MULT"
        );
        assert_eq!(io_param("input", 0, 1), "input");
        assert_eq!(io_param("output", 1, 2), "output_1");
        assert_eq!(module_name("person-detect.v2"), "person_detect_v2");
        assert_eq!(module_name("8bit"), "model_8bit");
        assert_eq!(module_name("fn"), "fn_");
        assert_eq!(region_param("AXISRAM"), "arena_axisram");
        assert_eq!(region_static("SRAM123"), "ARENA_SRAM123");
        assert_eq!(region_section("DTCM"), ".mcuc.dtcm");
    }
}
