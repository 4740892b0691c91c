//! The IR verifier. It runs after import and after every pipeline step, and
//! collects every violation instead of stopping at the first.
//!
//! Invariants checked:
//! 1. The node DAG is acyclic, and its edges are exactly "producer of `v` ->
//!    reader of `v`" for every operand `v`.
//! 2. Every value is produced by at most one node; a node reads only values
//!    that are produced, constant, or graph inputs; graph outputs exist.
//! 3. Facts are self-consistent: no tensor is larger than
//!    [`MAX_TENSOR_BYTES`](super::MAX_TENSOR_BYTES); constant data has
//!    exactly `bytes()` bytes; quantization has finite positive scales, zero
//!    points inside the dtype's range, one entry or one per channel of its
//!    axis.
//! 4. Stored output facts equal what [`OpDef::infer`](super::ops::OpDef::infer)
//!    derives from the input facts (shape and dtype).
//! 5. Each op's own invariants ([`OpDef::check`](super::ops::OpDef::check)).

use std::collections::{BTreeMap, BTreeSet};

use super::{DType, Fact, Graph, MAX_TENSOR_BYTES, NodeId, Value, ValueId};
use crate::error::{Error, Result};

/// Verifies `g`; `stage` names the step that produced it, for the message.
pub fn verify(g: &Graph, stage: &str) -> Result<()> {
    let errors = collect(g);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Verify {
            stage: stage.to_string(),
            errors,
        })
    }
}

/// Every violation, each prefixed with the node or value it concerns.
pub fn collect(g: &Graph) -> Vec<String> {
    let mut errors = Vec::new();
    check_structure(g, &mut errors);
    for (id, v) in g.values() {
        check_fact(v, &mut errors, &format!("value {id} `{}`", v.name));
    }
    for n in g.node_ids() {
        check_node(g, n, &mut errors);
    }
    errors
}

fn check_structure(g: &Graph, errors: &mut Vec<String>) {
    let mut produced: BTreeMap<ValueId, NodeId> = BTreeMap::new();
    for n in g.node_ids() {
        for &v in &g.node(n).outputs {
            if v.index() >= g.value_count() {
                errors.push(format!(
                    "node `{}` writes unknown value {v}",
                    g.node(n).name
                ));
                continue;
            }
            if let Some(prev) = produced.insert(v, n) {
                errors.push(format!(
                    "value {v} `{}` is produced by both `{}` and `{}`",
                    g.value(v).name,
                    g.node(prev).name,
                    g.node(n).name
                ));
            }
            if g.value(v).is_const() {
                errors.push(format!(
                    "node `{}` writes constant value {v} `{}`",
                    g.node(n).name,
                    g.value(v).name
                ));
            }
        }
    }
    let graph_inputs: BTreeSet<ValueId> = g.inputs.iter().copied().collect();
    let mut expected_edges = Vec::new();
    for n in g.node_ids() {
        for &v in &g.node(n).inputs {
            if v.index() >= g.value_count() {
                errors.push(format!("node `{}` reads unknown value {v}", g.node(n).name));
                continue;
            }
            match produced.get(&v) {
                Some(&p) => expected_edges.push((p, n, v)),
                None if g.value(v).is_const() || graph_inputs.contains(&v) => {}
                None => errors.push(format!(
                    "node `{}` reads value {v} `{}`, which nothing produces",
                    g.node(n).name,
                    g.value(v).name
                )),
            }
        }
    }
    expected_edges.sort();
    expected_edges.dedup();
    let mut edges = g.edges();
    edges.dedup();
    if edges != expected_edges {
        errors.push("DAG edges do not match the operand lists (call rebuild_edges)".into());
    }
    for &v in &g.outputs {
        if v.index() >= g.value_count() {
            errors.push(format!("graph output {v} does not exist"));
        } else if !produced.contains_key(&v) && !graph_inputs.contains(&v) {
            errors.push(format!(
                "graph output {v} `{}` is not produced by any node",
                g.value(v).name
            ));
        }
    }
    for &v in &g.inputs {
        if produced.contains_key(&v) {
            errors.push(format!("graph input {v} is also produced by a node"));
        }
    }
    if g.topo_order().is_none() {
        errors.push("the graph has a cycle".into());
    }
}

fn dtype_range(dtype: DType) -> Option<(i64, i64)> {
    match dtype {
        DType::Int8 => Some((-128, 127)),
        DType::UInt8 => Some((0, 255)),
        DType::Int16 => Some((-32768, 32767)),
        DType::Int32 => Some((i32::MIN as i64, i32::MAX as i64)),
        _ => None,
    }
}

fn check_fact(v: &Value, errors: &mut Vec<String>, what: &str) {
    let fact: &Fact = &v.fact;
    if fact.checked_bytes().is_none_or(|b| b > MAX_TENSOR_BYTES) {
        errors.push(format!(
            "{what}: shape {:?} of {} exceeds the {MAX_TENSOR_BYTES}-byte tensor size limit",
            fact.shape, fact.dtype
        ));
        return;
    }
    if let Some(data) = &v.data
        && data.len() != fact.bytes()
    {
        errors.push(format!(
            "{what}: constant has {} bytes, shape {:?} of {} needs {}",
            data.len(),
            fact.shape,
            fact.dtype,
            fact.bytes()
        ));
    }
    let Some(q) = &fact.quant else { return };
    if q.scale.is_empty() || q.scale.len() != q.zero_point.len() {
        errors.push(format!(
            "{what}: {} scales and {} zero points",
            q.scale.len(),
            q.zero_point.len()
        ));
        return;
    }
    if let Some(s) = q.scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        errors.push(format!("{what}: scale {s} is not finite and positive"));
    }
    if let Some((lo, hi)) = dtype_range(fact.dtype)
        && let Some(z) = q.zero_point.iter().find(|&&z| z < lo || z > hi)
    {
        errors.push(format!("{what}: zero point {z} outside {}", fact.dtype));
    }
    if !q.is_per_tensor() {
        let dim = fact.shape.get(q.axis).copied();
        if dim != Some(q.scale.len()) {
            errors.push(format!(
                "{what}: {} per-channel scales on axis {} of shape {:?}",
                q.scale.len(),
                q.axis,
                fact.shape
            ));
        }
    }
}

fn check_node(g: &Graph, n: NodeId, errors: &mut Vec<String>) {
    let node = g.node(n);
    let where_ = format!("node `{}` ({})", node.name, node.op.name());
    if node
        .inputs
        .iter()
        .chain(&node.outputs)
        .any(|v| v.index() >= g.value_count())
    {
        return; // reported by check_structure
    }
    let in_facts: Vec<&Fact> = node.inputs.iter().map(|&v| g.fact(v)).collect();
    let def = node.op.def();
    match def.infer(&in_facts) {
        Err(e) => errors.push(format!("{where_}: {e}")),
        Ok(expected) => {
            if expected.len() != node.outputs.len() {
                errors.push(format!(
                    "{where_}: {} outputs, the op defines {}",
                    node.outputs.len(),
                    expected.len()
                ));
            }
            for ((shape, dtype), &v) in expected.iter().zip(&node.outputs) {
                let f = g.fact(v);
                if &f.shape != shape || f.dtype != *dtype {
                    errors.push(format!(
                        "{where_}: output `{}` is {:?} {}, inferred {:?} {}",
                        g.value(v).name,
                        f.shape,
                        f.dtype,
                        shape,
                        dtype
                    ));
                }
            }
        }
    }
    let ins: Vec<&Value> = node.inputs.iter().map(|&v| g.value(v)).collect();
    let outs: Vec<&Value> = node.outputs.iter().map(|&v| g.value(v)).collect();
    for e in def.check(&ins, &outs) {
        errors.push(format!("{where_}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ops::{Activation, Relu};
    use crate::ir::{Node, Quant};

    fn act(g: &mut Graph, name: &str, shape: &[usize]) -> ValueId {
        g.add_value(Value {
            name: name.into(),
            fact: Fact::new(
                shape.to_vec(),
                DType::Int8,
                Some(Quant::per_tensor(0.5, -1)),
            ),
            data: None,
        })
    }

    fn relu_graph() -> Graph {
        let mut g = Graph::new("t");
        let x = act(&mut g, "x", &[1, 4]);
        let y = act(&mut g, "y", &[1, 4]);
        g.inputs = vec![x];
        g.outputs = vec![y];
        g.add_node(Node {
            name: "relu".into(),
            op: Relu {
                act: Activation::Relu,
            }
            .into(),
            inputs: vec![x],
            outputs: vec![y],
        });
        g
    }

    #[test]
    fn valid_graph_passes() {
        assert_eq!(collect(&relu_graph()), Vec::<String>::new());
    }

    #[test]
    fn wrong_output_shape_is_reported_with_node_name() {
        let mut g = relu_graph();
        g.value_mut(ValueId(1)).fact.shape = vec![1, 5];
        let errors = collect(&g);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("node `relu`") && e.contains("inferred")),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_quantization_and_dangling_input_are_all_reported() {
        let mut g = relu_graph();
        g.value_mut(ValueId(0)).fact.quant = Some(Quant::per_tensor(-1.0, 300));
        g.inputs.clear();
        let errors = collect(&g);
        assert!(
            errors.iter().any(|e| e.contains("not finite and positive")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("zero point 300")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("nothing produces")),
            "{errors:?}"
        );
    }

    #[test]
    fn stale_edges_are_reported() {
        let mut g = relu_graph();
        let z = act(&mut g, "z", &[1, 4]);
        g.add_node(Node {
            name: "relu2".into(),
            op: Relu {
                act: Activation::Relu6,
            }
            .into(),
            inputs: vec![ValueId(1)],
            outputs: vec![z],
        });
        assert_eq!(collect(&g), Vec::<String>::new());
        let relu2 = g.node_ids().last().expect("node");
        g.node_mut(relu2).inputs = vec![ValueId(0)];
        assert!(collect(&g).iter().any(|e| e.contains("DAG edges")));
        g.rebuild_edges();
        assert_eq!(collect(&g), Vec::<String>::new());
    }
}
