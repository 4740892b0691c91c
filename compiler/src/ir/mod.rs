//! mcuc's graph IR.
//!
//! A [`Graph`] is a DAG of operator [`Node`]s over [`Value`]s (tensors). Every
//! value has a static [`Fact`]: shape, element type and, for quantized
//! tensors, its quantization ([`Quant`], per-tensor or per-channel). Constant
//! values carry their bytes (little-endian, row-major, in the layout the op
//! documents). Values produced by no node are graph inputs or constants.
//!
//! Layout conventions (independent of the source format):
//! - activations are NHWC (`[1, H, W, C]`);
//! - CONV_2D filters are OHWI, DEPTHWISE_CONV_2D filters `[1, H, W, C*M]`,
//!   FULLY_CONNECTED weights `[out, in]`;
//! - biases are int32 `[out]` with scale `input_scale * weight_scale[c]`.
//!
//! The petgraph DAG mirrors the operand lists: an edge `a -> b` labelled with
//! value `v` exists iff `a` produces `v` and `b` reads it. [`verify`] checks
//! that, and everything else a pass may rely on, after every pipeline step.

pub mod ops;
pub mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};

pub use ops::Op;

/// Index of an operator node.
pub type NodeId = NodeIndex<u32>;

/// Index of a value (tensor) in [`Graph::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// Element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Int8,
    UInt8,
    Int16,
    Int32,
    Int64,
    Float32,
    Bool,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::Int8 | DType::UInt8 | DType::Bool => 1,
            DType::Int16 => 2,
            DType::Int32 | DType::Float32 => 4,
            DType::Int64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Int8 => "int8",
            DType::UInt8 => "uint8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Affine quantization: `real = scale * (q - zero_point)`.
///
/// One entry per channel along `axis` for per-channel quantization, or a
/// single entry for per-tensor quantization. Scales are kept as the `f32`
/// the model stores, because the TFLite reference derives its integer
/// multipliers from exactly those values.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Quant {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub axis: usize,
}

impl Quant {
    pub fn per_tensor(scale: f32, zero_point: i64) -> Self {
        Quant {
            scale: vec![scale],
            zero_point: vec![zero_point],
            axis: 0,
        }
    }

    pub fn is_per_tensor(&self) -> bool {
        self.scale.len() == 1
    }

    /// The per-tensor scale (the first one for per-channel quantization).
    pub fn scale(&self) -> f32 {
        self.scale[0]
    }

    /// The per-tensor zero point (the first one for per-channel quantization).
    pub fn zero_point(&self) -> i64 {
        self.zero_point[0]
    }
}

/// The largest tensor mcuc accepts, in bytes (256 MiB). Microcontroller
/// memories are far smaller; the limit keeps sizes, offsets and the host
/// executor's buffers well inside `usize` and memory, so a corrupt shape is
/// an error instead of an overflow or a giant allocation.
pub const MAX_TENSOR_BYTES: usize = 1 << 28;

/// Static facts about a value.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Fact {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub quant: Option<Quant>,
}

impl Fact {
    pub fn new(shape: Vec<usize>, dtype: DType, quant: Option<Quant>) -> Self {
        Fact {
            shape,
            dtype,
            quant,
        }
    }

    /// Number of elements. Saturates at `usize::MAX` instead of
    /// overflowing; graphs that passed [`verify`] have no tensor larger
    /// than [`MAX_TENSOR_BYTES`], so there it is exact.
    pub fn elements(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// Size in bytes, saturating like [`Fact::elements`].
    pub fn bytes(&self) -> usize {
        self.checked_bytes().unwrap_or(usize::MAX)
    }

    /// Size in bytes, `None` if it does not fit in `usize`.
    pub fn checked_bytes(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(self.dtype.size(), |n, &d| n.checked_mul(d))
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// A tensor: its facts, and its bytes if it is a constant.
#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub fact: Fact,
    pub data: Option<Arc<[u8]>>,
}

impl Value {
    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }

    /// Constant data decoded as little-endian `i32`s (from int32, or from
    /// int64 when every value fits: `None` rather than a truncated value).
    pub fn const_i32(&self) -> Option<Vec<i32>> {
        let data = self.data.as_ref()?;
        match self.fact.dtype {
            DType::Int32 => Some(
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::Int64 => data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    i32::try_from(i64::from_le_bytes(b)).ok()
                })
                .collect(),
            _ => None,
        }
    }

    /// Constant data reinterpreted as `i8`.
    pub fn const_i8(&self) -> Option<Vec<i8>> {
        let data = self.data.as_ref()?;
        match self.fact.dtype {
            DType::Int8 => Some(data.iter().map(|&b| b as i8).collect()),
            _ => None,
        }
    }
}

/// An operator application.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

/// The graph: nodes in a petgraph DAG, values in a table.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    dag: StableDiGraph<Node, ValueId, u32>,
    values: Vec<Value>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            ..Default::default()
        }
    }

    pub fn add_value(&mut self, value: Value) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(value);
        id
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.index()]
    }

    pub fn fact(&self, id: ValueId) -> &Fact {
        &self.values[id.index()].fact
    }

    /// All values ever added (some may be unused after rewrites).
    pub fn values(&self) -> impl Iterator<Item = (ValueId, &Value)> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (ValueId(i as u32), v))
    }

    pub fn value_count(&self) -> usize {
        self.values.len()
    }

    /// Adds a node and wires it to the producers of its inputs.
    pub fn add_node(&mut self, node: Node) -> NodeId {
        let inputs = node.inputs.clone();
        let id = self.dag.add_node(node);
        for v in inputs {
            if let Some(p) = self.producer(v) {
                self.dag.add_edge(p, id, v);
            }
        }
        id
    }

    /// Removes a node. Its outputs become dangling (no producer); the caller
    /// must rewire or drop their consumers.
    pub fn remove_node(&mut self, id: NodeId) -> Option<Node> {
        self.dag.remove_node(id)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.dag[id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.dag[id]
    }

    pub fn node_count(&self) -> usize {
        self.dag.node_count()
    }

    /// Node ids in ascending index order (insertion order).
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.dag.node_indices()
    }

    /// The node that produces `v`, if any.
    pub fn producer(&self, v: ValueId) -> Option<NodeId> {
        self.dag
            .node_indices()
            .find(|&n| self.dag[n].outputs.contains(&v))
    }

    /// Map from each produced value to its producer.
    pub fn producers(&self) -> BTreeMap<ValueId, NodeId> {
        let mut map = BTreeMap::new();
        for n in self.dag.node_indices() {
            for &v in &self.dag[n].outputs {
                map.insert(v, n);
            }
        }
        map
    }

    /// Nodes that read `v`, in ascending id order.
    pub fn consumers(&self, v: ValueId) -> Vec<NodeId> {
        self.dag
            .node_indices()
            .filter(|&n| self.dag[n].inputs.contains(&v))
            .collect()
    }

    /// Recomputes the DAG edges from the operand lists, after a rewrite that
    /// changed node inputs or outputs.
    pub fn rebuild_edges(&mut self) {
        self.dag.clear_edges();
        let producers = self.producers();
        let ids: Vec<NodeId> = self.dag.node_indices().collect();
        for n in ids {
            let inputs = self.dag[n].inputs.clone();
            for v in inputs {
                if let Some(&p) = producers.get(&v) {
                    self.dag.add_edge(p, n, v);
                }
            }
        }
    }

    /// Edges as `(producer, consumer, value)`, sorted.
    pub fn edges(&self) -> Vec<(NodeId, NodeId, ValueId)> {
        let mut e: Vec<_> = self
            .dag
            .edge_references()
            .map(|e| (e.source(), e.target(), *e.weight()))
            .collect();
        e.sort();
        e
    }

    /// A deterministic topological order: Kahn's algorithm, always taking the
    /// ready node with the smallest id, so the source model's operator order
    /// is kept when it is already topological. `None` if there is a cycle.
    pub fn topo_order(&self) -> Option<Vec<NodeId>> {
        use std::collections::BTreeSet;
        let mut indegree: BTreeMap<NodeId, usize> = BTreeMap::new();
        for n in self.dag.node_indices() {
            let preds: BTreeSet<NodeId> = self
                .dag
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .collect();
            indegree.insert(n, preds.len());
        }
        let mut ready: BTreeSet<NodeId> = indegree
            .iter()
            .filter(|&(_, &d)| d == 0)
            .map(|(&n, _)| n)
            .collect();
        let mut order = Vec::with_capacity(indegree.len());
        while let Some(n) = ready.pop_first() {
            order.push(n);
            let succs: BTreeSet<NodeId> = self
                .dag
                .neighbors_directed(n, petgraph::Direction::Outgoing)
                .collect();
            for s in succs {
                let d = indegree.get_mut(&s)?;
                *d -= 1;
                if *d == 0 {
                    ready.insert(s);
                }
            }
        }
        (order.len() == indegree.len()).then_some(order)
    }

    /// Total bytes of constant values that some node reads.
    pub fn weight_bytes(&self) -> usize {
        let mut used = std::collections::BTreeSet::new();
        for n in self.dag.node_indices() {
            used.extend(self.dag[n].inputs.iter().copied());
        }
        used.iter()
            .map(|&v| self.value(v))
            .filter(|v| v.is_const())
            .map(|v| v.data.as_ref().map_or(0, |d| d.len()))
            .sum()
    }
}
