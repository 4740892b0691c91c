//! The ONNX front end: clear errors for bad input (each tested), and the
//! QDQ import of person_detect recovering the same int8 graph as the TFLite
//! model it was exported from.

use std::path::{Path, PathBuf};

use mcuc::Error;
use mcuc::import::onnx::onnx_proto as pb;
use mcuc::import::onnx::{ImportOptions, import};
use prost::Message;

fn dim(d: &str) -> pb::tensor_shape_proto::Dimension {
    use pb::tensor_shape_proto::dimension::Value;
    pb::tensor_shape_proto::Dimension {
        value: Some(match d.parse::<i64>() {
            Ok(v) => Value::DimValue(v),
            Err(_) => Value::DimParam(d.to_string()),
        }),
        ..Default::default()
    }
}

fn tensor_info(name: &str, dims: &[&str]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: Some(pb::tensor_proto::DataType::Float as i32),
                shape: Some(pb::TensorShapeProto {
                    dim: dims.iter().map(|d| dim(d)).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// `x -> nodes -> y` with opset 17.
fn model(input_dims: &[&str], nodes: Vec<pb::NodeProto>, inits: Vec<pb::TensorProto>) -> Vec<u8> {
    pb::ModelProto {
        ir_version: Some(8),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(pb::GraphProto {
            name: Some("t".into()),
            node: nodes,
            initializer: inits,
            input: vec![tensor_info("x", input_dims)],
            output: vec![tensor_info("y", &[])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn path() -> &'static Path {
    Path::new("test.onnx")
}

#[test]
fn a_corrupt_file_is_a_clear_error() {
    let good = model(&["1", "4"], vec![node("Relu", "r", &["x"], &["y"])], vec![]);
    for bad in [
        &good[..good.len() / 2],
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"",
    ] {
        match import(bad, path(), &ImportOptions::default()) {
            Err(Error::CorruptModel { format, .. }) => assert_eq!(format, "ONNX"),
            other => panic!("expected CorruptModel, got {other:?}"),
        }
    }
    // And through the file-level loader, with the path in the message.
    let dir = std::env::temp_dir().join(format!("mcuc-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("broken.onnx");
    std::fs::write(&file, &good[..good.len() - 3]).expect("write");
    let e = mcuc::pipeline::load(&file).expect_err("corrupt");
    assert!(e.to_string().contains("broken.onnx"), "{e}");
    assert!(e.to_string().contains("not a valid ONNX model"), "{e}");
}

#[test]
fn dynamic_input_dimensions_need_input_shape() {
    let bytes = model(&["N", "4"], vec![node("Relu", "r", &["x"], &["y"])], vec![]);
    let e = import(&bytes, path(), &ImportOptions::default()).expect_err("dynamic");
    let msg = e.to_string();
    assert!(msg.contains("dynamic") && msg.contains("`N`"), "{msg}");
    assert!(msg.contains("--input-shape x=1,4"), "{msg}");
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("x".into(), vec![1, 4]);
    let g = import(&bytes, path(), &opts)
        .expect("static with --input-shape")
        .graph;
    assert_eq!(g.fact(g.inputs[0]).shape, vec![1, 4]);
    // A given shape must agree with the static dimensions, and name an input.
    opts.input_shapes.insert("x".into(), vec![1, 5]);
    assert!(import(&bytes, path(), &opts).is_err());
    let fixed = model(&["1", "4"], vec![node("Relu", "r", &["x"], &["y"])], vec![]);
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("nope".into(), vec![1, 4]);
    let e = import(&fixed, path(), &opts).expect_err("unknown input");
    assert!(e.to_string().contains("`nope`"), "{e}");
}

#[test]
fn an_unsupported_op_names_node_op_and_opset() {
    let bytes = model(
        &["1", "4"],
        vec![node("Erf", "my_erf", &["x"], &["y"])],
        vec![],
    );
    match import(&bytes, path(), &ImportOptions::default()) {
        Err(Error::UnsupportedOp {
            op,
            node,
            supported,
            ..
        }) => {
            assert_eq!(node, "my_erf");
            assert_eq!(op, "Erf (opset 17)");
            assert!(supported.contains("Conv"));
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    // An unknown attribute of a known op is refused, not ignored.
    let mut n = node("Relu", "r", &["x"], &["y"]);
    n.attribute.push(pb::AttributeProto {
        name: Some("weird".into()),
        i: Some(1),
        ..Default::default()
    });
    let bytes = model(&["1", "4"], vec![n], vec![]);
    let e = import(&bytes, path(), &ImportOptions::default()).expect_err("attr");
    assert!(matches!(e, Error::UnsupportedAttr { .. }), "{e}");
}

#[test]
fn external_data_is_a_clear_error() {
    let w = pb::TensorProto {
        name: Some("w".into()),
        dims: vec![4],
        data_type: Some(pb::tensor_proto::DataType::Float as i32),
        data_location: Some(pb::tensor_proto::DataLocation::External as i32),
        external_data: vec![pb::StringStringEntryProto {
            key: Some("location".into()),
            value: Some("weights.bin".into()),
        }],
        ..Default::default()
    };
    let bytes = model(
        &["1", "4"],
        vec![node("Add", "a", &["x", "w"], &["y"])],
        vec![w],
    );
    let e = import(&bytes, path(), &ImportOptions::default()).expect_err("external");
    let msg = e.to_string();
    assert!(
        msg.contains("external file") && msg.contains("weights.bin"),
        "{msg}"
    );
}

#[test]
fn a_float_model_without_calibration_says_how_to_calibrate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/models/kws_ref_model_float32");
    let e = mcuc::pipeline::load(&dir.join("model.onnx")).expect_err("needs calibration");
    let msg = e.to_string();
    assert!(msg.contains("--calib"), "{msg}");
    // Lowering a float graph directly is refused too.
    let g = mcuc::pipeline::load_float(&dir.join("model.onnx"), &ImportOptions::default())
        .expect("float graph");
    let n = g.node_ids().next().expect("a node");
    let e = mcuc::kernels::lower(&g, n)
        .err()
        .expect("float lowering refused");
    assert!(e.to_string().contains("quantize first"), "{e}");
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/models")
}

/// A DEPTHWISE_CONV_2D of a 1-channel input is the CONV_2D with the same
/// filters (TFLite's converter picks either; tf2onnx writes a Conv): both
/// are described as the CONV_2D, with OHWI weights.
fn canonical(g: &mcuc::ir::Graph, n: mcuc::ir::NodeId) -> (mcuc::ir::Op, Option<Vec<u8>>) {
    use mcuc::ir::Op;
    use mcuc::ir::ops::Conv2d;
    let node = g.node(n);
    match &node.op {
        Op::DepthwiseConv2d(d) if g.fact(node.inputs[0]).shape.last() == Some(&1) => {
            let w = g.value(node.inputs[1]);
            let s = &w.fact.shape;
            let (taps, c) = (s[1] * s[2], s[3]);
            let data = w.data.as_deref().unwrap_or(&[]);
            let ohwi = (0..c)
                .flat_map(|o| (0..taps).map(move |t| data[t * c + o]))
                .collect();
            let op = Conv2d {
                stride: d.stride,
                dilation: d.dilation,
                pad: d.pad,
                act: d.act,
            };
            (op.into(), Some(ohwi))
        }
        op => (op.clone(), None),
    }
}

/// Ops, attributes, shapes and quantization of every node in order.
fn structure(g: &mcuc::ir::Graph) -> Vec<String> {
    let order = g.topo_order().expect("acyclic");
    order
        .into_iter()
        .map(|n| {
            let node = g.node(n);
            let (op, reordered) = canonical(g, n);
            let facts: Vec<String> = node
                .inputs
                .iter()
                .chain(&node.outputs)
                .enumerate()
                .map(|(i, &v)| {
                    let f = g.fact(v);
                    let mut shape = f.shape.clone();
                    if i == 1 && reordered.is_some() {
                        shape = vec![shape[3], shape[1], shape[2], 1];
                    }
                    format!(
                        "{:?} {} {:?} const={}",
                        shape,
                        f.dtype,
                        f.quant.as_ref().map(|q| (&q.scale, &q.zero_point)),
                        g.value(v).is_const()
                    )
                })
                .collect();
            format!("{op:?} {}", facts.join(" | "))
        })
        .collect()
}

#[test]
fn person_detect_qdq_is_the_tflite_int8_graph() {
    let dir = corpus().join("person_detect");
    let from_onnx = mcuc::pipeline::load(&dir.join("model.onnx")).expect("onnx");
    let from_tflite = mcuc::pipeline::load(&dir.join("model.tflite")).expect("tflite");
    let (a, b) = (structure(&from_onnx), structure(&from_tflite));
    assert_eq!(a.len(), b.len(), "op count");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "node {i}");
    }
    // Same weights, byte for byte.
    let consts = |g: &mcuc::ir::Graph| -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        for n in g.topo_order().expect("acyclic") {
            let reordered = canonical(g, n).1;
            for (i, &v) in g.node(n).inputs.iter().enumerate() {
                match (&reordered, &g.value(v).data) {
                    (Some(w), _) if i == 1 => all.push(w.clone()),
                    (_, Some(d)) => all.push(d.to_vec()),
                    _ => {}
                }
            }
        }
        all
    };
    assert_eq!(consts(&from_onnx), consts(&from_tflite));
}
