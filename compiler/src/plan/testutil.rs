//! Small graphs for planner tests. Node semantics do not matter to the
//! planner (only sizes, RESHAPE aliasing and op names do), so generic nodes
//! are CONCATENATIONs over 1-D int8 tensors whose shapes need not add up.

use std::sync::Arc;

use crate::ir::ops::{Activation, Concat, Relu, Reshape};
use crate::ir::{DType, Fact, Graph, Node, NodeId, Op, Quant, Value, ValueId};
use crate::plan::PlanOptions;
use crate::plan::bound::lower_bound_for_order;

pub struct GraphBuilder {
    pub g: Graph,
}

impl GraphBuilder {
    pub fn new() -> Self {
        GraphBuilder {
            g: Graph::new("test"),
        }
    }

    pub fn value(&mut self, name: &str, bytes: usize) -> ValueId {
        self.g.add_value(Value {
            name: name.into(),
            fact: Fact::new(vec![bytes], DType::Int8, Some(Quant::per_tensor(0.5, 0))),
            data: None,
        })
    }

    pub fn constant(&mut self, name: &str, bytes: usize) -> ValueId {
        self.g.add_value(Value {
            name: name.into(),
            fact: Fact::new(vec![bytes], DType::Int8, Some(Quant::per_tensor(0.5, 0))),
            data: Some(Arc::from(vec![0u8; bytes])),
        })
    }

    pub fn input(&mut self, bytes: usize) -> ValueId {
        let name = format!("in{}", self.g.inputs.len());
        let v = self.value(&name, bytes);
        self.g.inputs.push(v);
        v
    }

    pub fn node(&mut self, name: &str, op: Op, inputs: &[ValueId], out_bytes: usize) -> ValueId {
        let out = self.value(name, out_bytes);
        self.g.add_node(Node {
            name: name.into(),
            op,
            inputs: inputs.to_vec(),
            outputs: vec![out],
        });
        out
    }

    pub fn op(&mut self, name: &str, inputs: &[ValueId], out_bytes: usize) -> ValueId {
        let op = Concat {
            axis: 0,
            act: Activation::None,
        };
        self.node(name, op.into(), inputs, out_bytes)
    }

    pub fn relu(&mut self, name: &str, input: ValueId) -> ValueId {
        let bytes = self.g.fact(input).bytes();
        let op = Relu {
            act: Activation::Relu,
        };
        self.node(name, op.into(), &[input], bytes)
    }

    pub fn reshape(&mut self, name: &str, input: ValueId) -> ValueId {
        let bytes = self.g.fact(input).bytes();
        let op = Reshape { shape: vec![bytes] };
        self.node(name, op.into(), &[input], bytes)
    }

    pub fn finish(mut self, outputs: &[ValueId]) -> Graph {
        self.g.outputs = outputs.to_vec();
        self.g
    }
}

/// input(sizes[0]) -> op -> ... -> output(sizes[last]); returns the values too.
pub fn chain(sizes: &[usize]) -> (Graph, Vec<ValueId>) {
    let mut gb = GraphBuilder::new();
    let mut vals = vec![gb.input(sizes[0])];
    for (i, &s) in sizes.iter().enumerate().skip(1) {
        let prev = vals[vals.len() - 1];
        vals.push(gb.op(&format!("n{i}"), &[prev], s));
    }
    let out = vals[vals.len() - 1];
    (gb.finish(&[out]), vals)
}

/// Every topological order of a small graph.
pub fn all_orders(g: &Graph) -> Vec<Vec<NodeId>> {
    fn go(g: &Graph, done: &mut Vec<NodeId>, all: &mut Vec<Vec<NodeId>>) {
        let nodes: Vec<NodeId> = g.node_ids().collect();
        if done.len() == nodes.len() {
            all.push(done.clone());
            return;
        }
        let producers = g.producers();
        for n in nodes {
            if done.contains(&n) {
                continue;
            }
            let ready = g
                .node(n)
                .inputs
                .iter()
                .all(|v| producers.get(v).is_none_or(|p| done.contains(p)));
            if ready {
                done.push(n);
                go(g, done, all);
                done.pop();
            }
        }
    }
    let mut all = Vec::new();
    go(g, &mut Vec::new(), &mut all);
    all
}

pub fn brute_force_min_peak(g: &Graph, opts: &PlanOptions) -> usize {
    all_orders(g)
        .iter()
        .map(|o| lower_bound_for_order(g, o, opts).expect("valid order"))
        .min()
        .unwrap_or(0)
}
