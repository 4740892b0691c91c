//! Halo geometry against brute force, and patch plans on synthetic graphs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;

use super::stage;
use super::{Window, search};
use crate::ir::ops::{Activation, Conv2d, Padding};
use crate::ir::{DType, Fact, Graph, Node, Quant, Value, ValueId, verify};

#[derive(Clone, Copy, Debug)]
struct Layer {
    k: usize,
    stride: usize,
    dilation: usize,
    pad: [usize; 2],
}

fn act(g: &mut Graph, name: &str, h: usize, w: usize) -> ValueId {
    g.add_value(Value {
        name: name.into(),
        fact: Fact::new(
            vec![1, h, w, 1],
            DType::Int8,
            Some(Quant::per_tensor(0.5, 0)),
        ),
        data: None,
    })
}

/// A chain of 1-channel convolutions; `None` if a layer has no output.
fn conv_stack(h: usize, w: usize, layers: &[Layer]) -> Option<Graph> {
    let mut g = Graph::new("stack");
    let mut x = act(&mut g, "x", h, w);
    g.inputs = vec![x];
    let (mut ch, mut cw) = (h, w);
    for (i, l) in layers.iter().enumerate() {
        let eff = (l.k - 1) * l.dilation + 1;
        let oh = (ch + l.pad[0] + l.pad[1]).checked_sub(eff)? / l.stride + 1;
        let ow = (cw + l.pad[0] + l.pad[1]).checked_sub(eff)? / l.stride + 1;
        let wv = g.add_value(Value {
            name: format!("w{i}"),
            fact: Fact::new(
                vec![1, l.k, l.k, 1],
                DType::Int8,
                Some(Quant::per_tensor(0.1, 0)),
            ),
            data: Some(Arc::from(vec![1u8; l.k * l.k])),
        });
        let y = act(&mut g, &format!("y{i}"), oh, ow);
        g.add_node(Node {
            name: format!("conv{i}"),
            op: Conv2d {
                stride: [l.stride, l.stride],
                dilation: [l.dilation, l.dilation],
                pad: Padding {
                    top: l.pad[0],
                    bottom: l.pad[1],
                    left: l.pad[0],
                    right: l.pad[1],
                },
                act: Activation::None,
            }
            .into(),
            inputs: vec![x, wv],
            outputs: vec![y],
        });
        x = y;
        ch = oh;
        cw = ow;
    }
    g.outputs = vec![x];
    verify::verify(&g, "test").ok()?;
    Some(g)
}

/// Brute force: the input pixels (of every tensor) that the output pixels
/// of `patch` depend on, by walking each pixel's taps back through the
/// stack; returns each tensor's bounding box.
fn brute_windows(g: &Graph, layers: &[Layer], patch: Window) -> Vec<Window> {
    let order = g.topo_order().expect("dag");
    let values: Vec<ValueId> = std::iter::once(g.inputs[0])
        .chain(order.iter().map(|&n| g.node(n).outputs[0]))
        .collect();
    let mut need: BTreeSet<(usize, usize)> = BTreeSet::new();
    for y in patch.y0..patch.y1 {
        for x in patch.x0..patch.x1 {
            need.insert((y, x));
        }
    }
    let mut boxes = vec![Window::default(); values.len()];
    let bbox = |s: &BTreeSet<(usize, usize)>| {
        s.iter().fold(Window::default(), |b, &(y, x)| {
            b.union(&Window::new(y, y + 1, x, x + 1))
        })
    };
    boxes[values.len() - 1] = bbox(&need);
    for (i, l) in layers.iter().enumerate().rev() {
        let (h, w, _) = stage::hwc(g, values[i]).expect("4-D");
        let mut prev = BTreeSet::new();
        for &(oy, ox) in &need {
            for ky in 0..l.k {
                for kx in 0..l.k {
                    let iy = (oy * l.stride + ky * l.dilation) as i64 - l.pad[0] as i64;
                    let ix = (ox * l.stride + kx * l.dilation) as i64 - l.pad[0] as i64;
                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                        prev.insert((iy as usize, ix as usize));
                    }
                }
            }
        }
        boxes[i] = bbox(&prev);
        need = prev;
    }
    boxes
}

fn layer() -> impl Strategy<Value = Layer> {
    (1usize..5, 1usize..3, 1usize..3, 0usize..3, 0usize..3).prop_map(
        |(k, stride, dilation, a, b)| Layer {
            k,
            stride,
            dilation,
            pad: [a, b],
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn windows_equal_brute_force_dependencies(
        h in 4usize..24, w in 4usize..24,
        layers in proptest::collection::vec(layer(), 1..5),
        r in 0usize..8, c in 0usize..8, rows in 1usize..4, cols in 1usize..4,
    ) {
        let Some(g) = conv_stack(h, w, &layers) else { return Ok(()) };
        let order = g.topo_order().expect("dag");
        let st = stage::stage(&g, &order, order.len() - 1).expect("a conv chain is a stage");
        let patches = stage::grid(&g, &st, rows, cols);
        let patch = patches[(r * cols + c) % patches.len()];
        let win = stage::windows(&g, &st, patch);
        let brute = brute_windows(&g, &layers, patch);
        let values: Vec<ValueId> = std::iter::once(g.inputs[0])
            .chain(order.iter().map(|&n| g.node(n).outputs[0]))
            .collect();
        // Without gaps between taps (dilation 1, kernel >= stride) every
        // dependency set is contiguous, so windows must be exact; with gaps a
        // window is the smallest box over the boxes it depends on, so it
        // must cover the true dependencies.
        let contiguous = layers.iter().all(|l| l.dilation == 1 && l.k >= l.stride);
        for (v, expected) in values.iter().zip(&brute) {
            let got = win.get(v).copied().unwrap_or_default();
            prop_assert!(got.contains(expected), "tensor {}: {got:?} misses {expected:?}", g.value(*v).name);
            if contiguous && !expected.is_empty() {
                prop_assert_eq!(got, *expected, "tensor {}", g.value(*v).name);
            }
        }
    }
}

#[test]
fn patch_plan_of_a_stack_verifies_and_shrinks_the_arena() {
    let layers = [
        Layer {
            k: 3,
            stride: 2,
            dilation: 1,
            pad: [1, 1],
        },
        Layer {
            k: 3,
            stride: 1,
            dilation: 1,
            pad: [1, 1],
        },
        Layer {
            k: 3,
            stride: 2,
            dilation: 1,
            pad: [1, 1],
        },
    ];
    let g = conv_stack(64, 64, &layers).expect("graph");
    let order = g.topo_order().expect("dag");
    let (plan, c) = search::evaluate(
        &g,
        &order,
        order.len() - 1,
        4,
        4,
        &Default::default(),
        true,
        true,
    )
    .expect("evaluate")
    .expect("valid stage");
    assert_eq!(c.grid, [4, 4]);
    assert!(c.extra_macs > 0, "halos are recomputed");
    let per_layer = crate::plan::plan(&g, &Default::default())
        .expect("plan")
        .arena_bytes;
    // The input (4096 B) is read from the caller's buffer; the biggest
    // intermediate (32x32) is planned per patch.
    assert!(
        plan.arena_bytes() < per_layer / 2,
        "{} vs {per_layer}",
        plan.arena_bytes()
    );
    assert!(
        c.arena_with_input_bytes
            .is_some_and(|b| b > plan.arena_bytes())
    );
    let windows: BTreeMap<_, _> = plan.windows[5].clone();
    assert!(!windows.is_empty());
    let verified = super::verify(&g, plan.clone()).expect("plan verifies");
    assert_eq!(verified.memory().arena_bytes, plan.arena_bytes());
    // A plan whose windows are too small for a halo is refused.
    let mut bad = plan;
    let first = bad.stage.nodes[1];
    let x = g.node(first).inputs[0];
    if let Some(w) = bad.windows[5].get_mut(&x) {
        w.y1 = w.y0 + 1;
    }
    let e = super::verify::collect(&g, &bad);
    assert!(e.iter().any(|e| e.contains("needs")), "{e:?}");
}
