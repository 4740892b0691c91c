//! Planner tests over small graphs: the entry point, aliases, in-place,
//! options, malformed input, and property tests over random DAGs.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::testutil::*;
use super::*;
use crate::ir::{DType, Fact, Node, Value};

fn ok_plan(g: &Graph, opts: &PlanOptions) -> VerifiedPlan {
    let p = plan(g, opts).expect("plans");
    match verify(g, p, &opts.verify_options(None)) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// In place is on by default; RELU's kernel declares it.
fn relu_in_place() -> PlanOptions {
    PlanOptions::default()
}

fn no_in_place() -> PlanOptions {
    PlanOptions {
        in_place: false,
        ..PlanOptions::default()
    }
}

#[test]
fn chain_meets_the_bound_with_aligned_buffers() {
    let (g, vals) = chain(&[100, 50, 200, 10]);
    let p = ok_plan(&g, &PlanOptions::default());
    // Step 1 holds 50 + 200 bytes, rounded up to 64 + 208.
    assert_eq!(p.lower_bound_bytes, 272);
    assert_eq!(p.arena_bytes, 272);
    assert!(p.optimal);
    assert_eq!(p.live_bytes, vec![112 + 64, 64 + 208, 208 + 16]);
    assert!(
        p.buffers
            .iter()
            .all(|b| b.offset % 16 == 0 && b.align == 16)
    );
    // The graph input is live from step 0, the output until the last step.
    let input = p.buffer(vals[0]).expect("input planned");
    assert_eq!((input.first, input.last), (0, 0));
    let out = p.buffer(vals[3]).expect("output planned");
    assert_eq!((out.first, out.last), (2, 2));
}

#[test]
fn constants_are_not_planned_and_inputs_live_from_step_zero() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(32);
    let late = gb.input(48);
    let w = gb.constant("w", 1000);
    let a = gb.op("a", &[x, w], 32);
    let b = gb.op("b", &[a], 32);
    let c = gb.op("c", &[b, late], 32);
    let g = gb.finish(&[a, c]);
    let p = ok_plan(&g, &PlanOptions::default());
    assert!(p.buffer(w).is_none());
    let lb = p.buffer(late).expect("planned");
    assert_eq!((lb.first, lb.last), (0, 2));
    // `a` is a graph output: live until the end although `b` is its last reader.
    let ab = p.buffer(a).expect("planned");
    assert_eq!((ab.first, ab.last), (0, 2));
}

#[test]
fn reshape_output_aliases_its_input_and_extends_its_lifetime() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(64);
    let a = gb.op("a", &[x], 64);
    let r = gb.reshape("r", a);
    let r2 = gb.reshape("r2", r);
    let b = gb.op("b", &[r2], 16);
    let g = gb.finish(&[b]);
    let p = ok_plan(&g, &PlanOptions::default());
    let (ab, rb, r2b) = (
        p.buffer(a).expect("a"),
        p.buffer(r).expect("r"),
        p.buffer(r2).expect("r2"),
    );
    assert_eq!(rb.alias_of, Some(a));
    assert_eq!(r2b.alias_of, Some(a), "aliases point at the owning buffer");
    assert_eq!(rb.offset, ab.offset);
    assert_eq!((ab.first, ab.last), (0, 3));
    assert_eq!((r2b.first, r2b.last), (2, 3));
    // Aliases are counted once: x + a at step 0, a + b at step 3.
    assert_eq!(p.lower_bound_bytes, 128);
    assert_eq!(p.arena_bytes, 128);
}

#[test]
fn reshape_of_a_constant_gets_its_own_buffer() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(16);
    let w = gb.constant("w", 16);
    let r = gb.reshape("r", w);
    let a = gb.op("a", &[x, r], 16);
    let g = gb.finish(&[a]);
    let p = ok_plan(&g, &PlanOptions::default());
    assert_eq!(p.buffer(r).map(|b| b.alias_of), Some(None));
}

#[test]
fn in_place_op_reuses_its_dead_input() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(16);
    let a = gb.op("a", &[x], 256);
    let r = gb.relu("relu", a);
    let b = gb.op("b", &[r], 16);
    let g = gb.finish(&[b]);
    let without = ok_plan(&g, &no_in_place());
    assert_eq!(without.arena_bytes, 512);
    let opts = relu_in_place();
    let with = ok_plan(&g, &opts);
    assert_eq!(with.buffer(r).and_then(|b| b.alias_of), Some(a));
    assert_eq!(with.arena_bytes, 272);
    assert_eq!(with.in_place.len(), 1);
    // The same plan is rejected by a verifier told that nothing runs in place.
    let e = verify(&g, with.clone().into_plan(), &VerifyOptions::default());
    match e {
        Err(Error::Verify { errors, .. }) => {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains("in-place execution is off")),
                "{errors:?}"
            );
        }
        other => panic!("expected a verify error, got {other:?}"),
    }
    // Or without the in-place entry: then the alias is unexplained.
    let mut p = with.into_plan();
    p.in_place.clear();
    let errors = verify::collect(&g, &p, &opts.verify_options(None));
    assert!(
        errors.iter().any(|e| e.contains("does not run in place")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("overlaps input")),
        "{errors:?}"
    );
}

#[test]
fn in_place_is_refused_when_the_input_is_still_needed() {
    // Residual: a feeds relu and the add.
    let mut gb = GraphBuilder::new();
    let x = gb.input(64);
    let a = gb.op("a", &[x], 64);
    let r = gb.relu("relu", a);
    let s = gb.op("add", &[a, r], 64);
    let g = gb.finish(&[s]);
    let p = ok_plan(&g, &relu_in_place());
    assert_eq!(p.buffer(r).and_then(|b| b.alias_of), None);
    // Nor over a graph input or output.
    let mut gb = GraphBuilder::new();
    let x = gb.input(64);
    let r = gb.relu("relu", x);
    let g = gb.finish(&[r]);
    let p = ok_plan(&g, &relu_in_place());
    assert_eq!(p.buffer(r).and_then(|b| b.alias_of), None);
}

#[test]
fn verifier_rejects_unsafe_in_place_plans() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(64);
    let a = gb.op("a", &[x], 64);
    let r = gb.relu("relu", a);
    let s = gb.op("add", &[a, r], 64);
    let g = gb.finish(&[s]);
    let opts = relu_in_place();
    let mut p = plan(&g, &opts).expect("plans");
    // Force relu's output onto `a`, which the add still reads.
    let ab = p.buffer(a).cloned().expect("a");
    let i = p.buffers.iter().position(|b| b.value == r).expect("r");
    let rl = p.buffers[i].clone();
    p.buffers[i] = Buffer {
        offset: ab.offset,
        alias_of: Some(a),
        ..rl
    };
    let relu = g
        .node_ids()
        .find(|&n| g.node(n).name == "relu")
        .expect("relu node");
    p.in_place.insert(relu, InPlace::elementwise(0));
    match verify(&g, p, &opts.verify_options(None)) {
        Err(Error::Verify { errors, .. }) => {
            assert!(
                errors.iter().any(|e| e.contains("still needed")),
                "{errors:?}"
            )
        }
        other => panic!("expected a verify error, got {other:?}"),
    }
}

#[test]
fn verifier_collects_every_violation() {
    let (g, vals) = chain(&[32, 32, 32]);
    let mut p = plan(&g, &PlanOptions::default()).expect("plans");
    // Misalign one buffer, overlap two, drop the output, lie about the bound.
    p.buffers[0].offset = 8;
    p.buffers[1].offset = 0;
    p.buffers.retain(|b| b.value != vals[2]);
    p.lower_bound_bytes = 1;
    let errors = verify::collect(&g, &p, &VerifyOptions::default());
    for needle in [
        "not a multiple of 16",
        "overlaps input",
        "has no buffer",
        "lower_bound_bytes",
        "overlap",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "{needle}: {errors:?}"
        );
    }
}

#[test]
fn verifier_rejects_a_non_topological_order() {
    let (g, _) = chain(&[16, 16, 16]);
    let mut p = plan(&g, &PlanOptions::default()).expect("plans");
    p.order.reverse();
    let errors = verify::collect(&g, &p, &VerifyOptions::default());
    assert!(
        errors.iter().any(|e| e.contains("before step")),
        "{errors:?}"
    );
}

#[test]
fn capacity_overflow_is_does_not_fit() {
    let (g, _) = chain(&[64, 64]);
    let p = plan(&g, &PlanOptions::default()).expect("plans");
    assert_eq!(p.arena_bytes, 128);
    let e = verify(
        &g,
        p.clone(),
        &VerifyOptions {
            capacity: Some(100),
            ..Default::default()
        },
    );
    assert!(matches!(e, Err(Error::DoesNotFit { .. })), "{e:?}");
    assert!(
        verify(
            &g,
            p,
            &VerifyOptions {
                capacity: Some(128),
                ..Default::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn alignment_is_an_option_and_must_be_a_power_of_two() {
    let (g, _) = chain(&[10, 20, 30]);
    let opts = PlanOptions {
        align: 64,
        ..PlanOptions::default()
    };
    let p = ok_plan(&g, &opts);
    assert!(p.buffers.iter().all(|b| b.offset % 64 == 0));
    assert_eq!(p.arena_bytes, 128);
    let p1 = ok_plan(
        &g,
        &PlanOptions {
            align: 1,
            ..PlanOptions::default()
        },
    );
    assert_eq!(p1.arena_bytes, 50);
    let e = plan(
        &g,
        &PlanOptions {
            align: 12,
            ..PlanOptions::default()
        },
    );
    assert!(matches!(e, Err(Error::Usage { .. })));
}

#[test]
fn wide_elements_raise_the_alignment() {
    let mut g = Graph::new("f32");
    let x = g.add_value(Value {
        name: "x".into(),
        fact: Fact::new(vec![3], DType::Float32, None),
        data: None,
    });
    let y = g.add_value(Value {
        name: "y".into(),
        fact: Fact::new(vec![3], DType::Float32, None),
        data: None,
    });
    g.inputs = vec![x];
    g.outputs = vec![y];
    g.add_node(Node {
        name: "relu".into(),
        op: crate::ir::ops::Relu {
            act: crate::ir::ops::Activation::Relu,
        }
        .into(),
        inputs: vec![x],
        outputs: vec![y],
    });
    let p = ok_plan(
        &g,
        &PlanOptions {
            align: 1,
            ..PlanOptions::default()
        },
    );
    assert_eq!(p.align, 4);
    assert_eq!(p.arena_bytes, 24);
}

#[test]
fn every_strategy_can_be_forced_and_unknown_ones_are_errors() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(48);
    let a = gb.op("a", &[x], 96);
    let b = gb.op("b", &[x], 32);
    let c = gb.op("c", &[a, b], 64);
    let g = gb.finish(&[c]);
    for &s in alloc::STRATEGIES {
        let p = ok_plan(
            &g,
            &PlanOptions {
                strategy: Some(s.to_string()),
                ..PlanOptions::default()
            },
        );
        assert_eq!(p.strategy, s);
    }
    let e = plan(
        &g,
        &PlanOptions {
            strategy: Some("magic".into()),
            ..PlanOptions::default()
        },
    );
    assert!(matches!(e, Err(Error::Usage { .. })));
}

#[test]
fn schedule_choice_parses_and_min_peak_wins_on_branches() {
    assert_eq!(
        "min-peak".parse::<ScheduleChoice>().ok(),
        Some(ScheduleChoice::MinPeak)
    );
    assert!("fastest".parse::<ScheduleChoice>().is_err());
    let mut gb = GraphBuilder::new();
    let x = gb.input(16);
    let a = gb.op("a", &[x], 512);
    let b = gb.op("b", &[x], 512);
    let a2 = gb.op("a2", &[a], 16);
    let b2 = gb.op("b2", &[b], 16);
    let c = gb.op("c", &[a2, b2], 32);
    let g = gb.finish(&[c]);
    let src = ok_plan(
        &g,
        &PlanOptions {
            schedule: ScheduleChoice::Source,
            ..PlanOptions::default()
        },
    );
    let auto = ok_plan(&g, &PlanOptions::default());
    assert_eq!(auto.schedule, "min-peak");
    assert!(auto.arena_bytes < src.arena_bytes);
}

#[test]
fn plans_are_deterministic() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(40);
    let mut vals = vec![x];
    for i in 0..12 {
        let ins = [vals[i], vals[i / 2]];
        vals.push(gb.op(&format!("n{i}"), &ins, 16 + (i * 37) % 100));
    }
    let g = gb.finish(&[vals[12]]);
    let a = plan(&g, &PlanOptions::default()).expect("plans");
    let b = plan(&g, &PlanOptions::default()).expect("plans");
    assert_eq!(a, b);
}

#[test]
fn a_graph_without_nodes_plans_its_inputs_and_outputs() {
    let mut gb = GraphBuilder::new();
    let x = gb.input(16);
    let g = gb.finish(&[x]);
    let p = ok_plan(&g, &PlanOptions::default());
    assert_eq!(p.order, vec![]);
    assert_eq!(p.arena_bytes, 16);
    assert_eq!(p.live_bytes, vec![16]);
}

#[test]
fn malformed_graphs_are_errors_not_panics() {
    // A cycle.
    let mut gb = GraphBuilder::new();
    let x = gb.input(16);
    let a = gb.op("a", &[x], 16);
    let b = gb.op("b", &[a], 16);
    let mut g = gb.finish(&[b]);
    let first = g.node_ids().next().expect("node");
    g.node_mut(first).inputs.push(b);
    g.rebuild_edges();
    assert!(plan(&g, &PlanOptions::default()).is_err());
    assert!(schedule::min_peak_order(&g, &PlanOptions::default()).is_err());

    // An unknown value, and a value nobody produces.
    let (mut g, _) = chain(&[16, 16]);
    let n = g.node_ids().next().expect("node");
    g.node_mut(n).inputs.push(crate::ir::ValueId(99));
    assert!(plan(&g, &PlanOptions::default()).is_err());
    let (mut g, _) = chain(&[16, 16]);
    g.inputs.clear();
    assert!(plan(&g, &PlanOptions::default()).is_err());

    // A shape whose byte size overflows.
    let mut gb = GraphBuilder::new();
    let x = gb.input(16);
    let a = gb.op("a", &[x], 16);
    let mut g = gb.finish(&[a]);
    g.value_mut(a).fact.shape = vec![usize::MAX, 4];
    assert!(plan(&g, &PlanOptions::default()).is_err());
}

#[test]
fn verified_plan_is_only_built_by_verify() {
    let (g, _) = chain(&[16, 32]);
    let v = ok_plan(&g, &PlanOptions::default());
    assert_eq!(v.plan().arena_bytes, v.arena_bytes);
    assert_eq!(v.clone().into_plan(), *v.plan());
}

/// A random DAG: each entry makes one node from the values made so far.
#[derive(Clone, Debug)]
struct Spec {
    inputs: usize,
    nodes: Vec<(u8, Vec<usize>, usize, bool)>,
    extra_outputs: Vec<usize>,
}

fn spec(max_nodes: usize) -> impl Strategy<Value = Spec> {
    (
        1..=2usize,
        prop::collection::vec(
            (
                0..6u8,
                prop::collection::vec(any::<usize>(), 1..=3),
                0..=200usize,
                any::<bool>(),
            ),
            1..=max_nodes,
        ),
        prop::collection::vec(any::<usize>(), 0..=2),
    )
        .prop_map(|(inputs, nodes, extra_outputs)| Spec {
            inputs,
            nodes,
            extra_outputs,
        })
}

fn build(s: &Spec) -> Graph {
    let mut gb = GraphBuilder::new();
    let mut vals: Vec<_> = (0..s.inputs).map(|i| gb.input(16 + 40 * i)).collect();
    for (i, (kind, picks, size, with_const)) in s.nodes.iter().enumerate() {
        let name = format!("n{i}");
        let pick = |p: usize| vals[p % vals.len()];
        let v = match kind {
            0 => gb.reshape(&name, pick(picks[0])),
            1 => gb.relu(&name, pick(picks[0])),
            _ => {
                let mut ins: Vec<_> = picks.iter().map(|&p| pick(p)).collect();
                if *with_const {
                    ins.push(gb.constant(&format!("w{i}"), 8));
                }
                gb.op(&name, &ins, *size)
            }
        };
        vals.push(v);
    }
    let mut outs = vec![vals[vals.len() - 1]];
    for &o in &s.extra_outputs {
        let v = vals[o % vals.len()];
        if !outs.contains(&v) {
            outs.push(v);
        }
    }
    gb.finish(&outs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Plans of random DAGs verify (no live overlap, aligned, everything
    /// planned), stay above the bound, and are reproducible; with in-place
    /// RELU too.
    #[test]
    fn random_dags_plan_and_verify(s in spec(12)) {
        let g = build(&s);
        for opts in [PlanOptions::default(), relu_in_place()] {
            let p = plan(&g, &opts).expect("plans");
            prop_assert!(p.arena_bytes >= p.lower_bound_bytes);
            prop_assert!(p.buffers.iter().all(|b| b.offset % p.align == 0));
            let again = plan(&g, &opts).expect("plans");
            prop_assert_eq!(&p, &again);
            if let Err(e) = verify(&g, p, &opts.verify_options(None)) {
                return Err(TestCaseError::fail(format!("{e}")));
            }
        }
    }

    /// On small DAGs the exact schedule reaches the brute-force minimum
    /// peak over every topological order.
    #[test]
    fn min_peak_schedule_is_optimal_on_small_dags(s in spec(6)) {
        let g = build(&s);
        // The schedule search ignores in-place sharing.
        let opts = no_in_place();
        let sched = schedule::min_peak_order(&g, &opts).expect("schedules");
        prop_assert!(sched.exact);
        let lb = bound::lower_bound_for_order(&g, &sched.order, &opts).expect("bound");
        prop_assert_eq!(sched.peak, lb);
        prop_assert_eq!(lb, brute_force_min_peak(&g, &opts));
    }
}

/// Whether `p` keeps every value's bytes intact while the graph needs them,
/// derived from the graph alone: values needed at a common step with
/// different owners never share a byte.
fn no_live_overlap(g: &Graph, p: &MemoryPlan) -> bool {
    let steps = p.order.len().max(1);
    let mut span: BTreeMap<ValueId, (usize, usize)> = BTreeMap::new();
    for &v in &g.inputs {
        span.insert(v, (0, 0));
    }
    for (t, &n) in p.order.iter().enumerate() {
        for &v in &g.node(n).outputs {
            span.insert(v, (t, t));
        }
        for &v in &g.node(n).inputs {
            if let Some(s) = span.get_mut(&v) {
                s.1 = s.1.max(t);
            }
        }
    }
    for &v in &g.outputs {
        if let Some(s) = span.get_mut(&v) {
            s.1 = steps - 1;
        }
    }
    let vals: Vec<(ValueId, (usize, usize))> = span
        .into_iter()
        .filter(|(v, _)| !g.value(*v).is_const())
        .collect();
    for (i, &(u, (uf, ul))) in vals.iter().enumerate() {
        for &(v, (vf, vl)) in &vals[i + 1..] {
            let (Some(a), Some(b)) = (p.buffer(u), p.buffer(v)) else {
                return false;
            };
            let same_owner = a.alias_of.unwrap_or(u) == b.alias_of.unwrap_or(v);
            let together = uf <= vl && vf <= ul;
            let disjoint = a.size == 0 || b.size == 0 || a.end() <= b.offset || b.end() <= a.offset;
            if together && !same_owner && !disjoint {
                return false;
            }
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The verifier is sound: after moving one buffer anywhere, it accepts
    /// the plan only if no two values needed together share a byte.
    #[test]
    fn verifier_rejects_every_moved_buffer_that_overlaps(
        s in spec(10),
        which in any::<usize>(),
        slot in 0..64usize,
    ) {
        let g = build(&s);
        let opts = PlanOptions::default();
        let mut p = plan(&g, &opts).expect("plans");
        prop_assert!(no_live_overlap(&g, &p));
        let i = which % p.buffers.len();
        let new_offset = slot * p.align;
        let moved = p.buffers[i].value;
        for b in &mut p.buffers {
            if b.value == moved || b.alias_of == Some(moved) {
                b.offset = new_offset;
            }
        }
        let accepted = verify::collect(&g, &p, &opts.verify_options(None)).is_empty();
        if accepted {
            prop_assert!(no_live_overlap(&g, &p));
        }
    }
}

fn two_regions(fast: usize) -> PlanOptions {
    PlanOptions {
        regions: vec![
            RegionSpec {
                name: "FAST".into(),
                capacity: Some(fast),
            },
            RegionSpec {
                name: "SLOW".into(),
                capacity: Some(1 << 20),
            },
        ],
        ..PlanOptions::default()
    }
}

#[test]
fn a_plan_too_big_for_the_first_region_spills_to_the_next() {
    // in(64) -> a(1024) -> b(64) -> c(1024) -> out(64): one region needs 1088.
    let (g, vals) = chain(&[64, 1024, 64, 1024, 64]);
    let one = ok_plan(&g, &PlanOptions::default());
    assert_eq!(one.arena_bytes, 1088);
    assert_eq!(one.regions.len(), 1);
    // Fits the first region: nothing moves.
    let fits = ok_plan(&g, &two_regions(2048));
    assert_eq!(fits.regions[0].arena_bytes, 1088);
    assert_eq!(fits.regions[1].arena_bytes, 0);
    assert!(fits.buffers.iter().all(|b| b.region == 0));
    // 512 bytes of fast memory: the big tensors go to the slow region, the
    // graph input and output stay in region 0.
    let split = ok_plan(&g, &two_regions(512));
    assert!(split.regions[0].arena_bytes <= 512, "{:?}", split.regions);
    assert!(split.regions[1].arena_bytes > 0);
    assert_eq!(
        split.arena_bytes,
        split.regions.iter().map(|r| r.arena_bytes).sum::<usize>()
    );
    for v in [vals[0], vals[4]] {
        assert_eq!(split.buffer(v).map(|b| b.region), Some(0));
    }
    for v in [vals[1], vals[3]] {
        assert_eq!(split.buffer(v).map(|b| b.region), Some(1));
    }
    // Too small even for the graph's inputs and outputs: one region, which
    // the fit check then refuses.
    let p = plan(&g, &two_regions(32)).expect("plans");
    assert_eq!(p.regions[1].arena_bytes, 0);
    assert_eq!(p.regions[0].arena_bytes, 1088);
}

#[test]
fn the_verifier_checks_regions() {
    let (g, vals) = chain(&[64, 1024, 64, 1024, 64]);
    let opts = two_regions(512);
    let p = plan(&g, &opts).expect("plans");
    // Moving the graph output out of region 0, or a buffer into a region
    // that does not exist, is refused; so is a wrong total.
    let mut bad = p.clone();
    let i = bad
        .buffers
        .iter()
        .position(|b| b.value == vals[4])
        .expect("out");
    bad.buffers[i].region = 1;
    let e = verify::collect(&g, &bad, &opts.verify_options(None));
    assert!(
        e.iter().any(|e| e.contains("must live in region 0")),
        "{e:?}"
    );
    let mut bad = p.clone();
    bad.buffers[0].region = 7;
    let e = verify::collect(&g, &bad, &opts.verify_options(None));
    assert!(
        e.iter().any(|e| e.contains("region 7 does not exist")),
        "{e:?}"
    );
    let mut bad = p;
    bad.arena_bytes += 16;
    let e = verify::collect(&g, &bad, &opts.verify_options(None));
    assert!(e.iter().any(|e| e.contains("not the sum")), "{e:?}");
}
