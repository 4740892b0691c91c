use tflm_difftest::*;
use mcuc_runtime::fixed as fx;
use mcuc_templates::prepare::{self as pp, Activation, Padding, Quant, Window2d};
use mcuc_templates::*;

fn act_code(a: Activation) -> i32 {
    match a {
        Activation::None => 0,
        Activation::Relu => 1,
        Activation::ReluN1To1 => 2,
        Activation::Relu6 => 3,
    }
}

fn rand_act(rng: &mut Rng) -> Activation {
    [
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ][rng.usize(0, 3)]
}

#[test]
fn fixed_point_primitives() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for i in 0..2_000_000u64 {
        let a = match i % 4 {
            0 => rng.i32(),
            1 => rng.i32() >> rng.usize(0, 31),
            2 => [i32::MIN, i32::MAX, 0, 1, -1, 1 << 30, -(1 << 30)][rng.usize(0, 6)],
            _ => rng.range(-100000, 100000) as i32,
        };
        let b = if i % 3 == 0 {
            rng.i32()
        } else {
            [i32::MIN, i32::MAX, 1 << 30, rng.i32()][rng.usize(0, 3)]
        };
        unsafe {
            assert_eq!(
                fx::saturating_rounding_doubling_high_mul(a, b),
                o_srdhm(a, b),
                "srdhm {a} {b}"
            );
            let e = rng.usize(0, 31) as i32;
            assert_eq!(
                fx::rounding_divide_by_pot(a, e),
                o_rdbpot(a, e),
                "rdbpot {a} {e}"
            );
            let m = (rng.next() as u32 >> 1) as i32 | (1 << 30);
            let s = rng.range(-31, 30) as i32;
            // Stay within the C++ contract for left shifts (no int32 overflow of x << s).
            let x = if s > 0 { a >> (s.min(31)) } else { a };
            assert_eq!(
                fx::multiply_by_quantized_multiplier(x, m, s),
                o_mbqm(x, m, s),
                "mbqm {x} {m} {s}"
            );
            let sn = -(rng.usize(0, 31) as i32);
            assert_eq!(
                fx::multiply_by_quantized_multiplier_smaller_than_one_exp(a, m, sn),
                o_mbqm_smaller(a, m, sn)
            );
            let sp = rng.usize(0, 30) as i32;
            let xg = a >> sp.min(31);
            assert_eq!(
                fx::multiply_by_quantized_multiplier_greater_than_one(xg, m, sp),
                o_mbqm_greater(xg, m, sp)
            );
            let x64 = (rng.next() as i64) >> rng.usize(17, 63);
            let s64 = rng.range(-31, 7) as i32;
            let m64 = if i % 5 == 0 {
                i32::MAX - rng.usize(0, 100000) as i32
            } else {
                m
            };
            let r64 = (x64 as i128 * ((m64 as i128 + (1 << 15)) >> 16)) >> (15 - s64);
            if r64.abs() < (1 << 31) {
                assert_eq!(
                    fx::multiply_by_quantized_multiplier_i64(x64, m64, s64),
                    o_mbqm64(x64, m64, s64),
                    "mbqm64 {x64} {m64} {s64}"
                );
            }
            assert_eq!(fx::rescale::<0, 12>(a), o_rescale_0_12(a));
        }
    }
}

#[test]
fn gemmlowp_transcendentals() {
    let mut rng = Rng(77);
    unsafe {
        for i in 0..3_000_000u64 {
            let a = rng.i32();
            let neg = if a > 0 { -a } else { a };
            let neg = if i % 7 == 0 {
                neg >> rng.usize(0, 31)
            } else {
                neg
            };
            assert_eq!(
                fx::exp_on_negative_values::<5>(neg),
                o_exp_neg(neg, 5),
                "exp5 {neg}"
            );
            assert_eq!(
                fx::exp_on_negative_values::<4>(neg),
                o_exp_neg(neg, 4),
                "exp4 {neg}"
            );
            assert_eq!(
                fx::exp_on_negative_values::<6>(neg),
                o_exp_neg(neg, 6),
                "exp6 {neg}"
            );
            assert_eq!(
                fx::exp_on_negative_values::<1>(neg),
                o_exp_neg(neg, 1),
                "exp1 {neg}"
            );
            let v = if i % 3 == 0 { a >> rng.usize(0, 31) } else { a };
            assert_eq!(fx::logistic::<4>(v), o_logistic4(v), "logistic {v}");
            assert_eq!(fx::tanh::<4>(v), o_tanh4(v), "tanh {v}");
            let p = (a & 0x7fff_ffff) as i32;
            assert_eq!(
                fx::one_over_one_plus_x_for_x_in_0_1(p),
                o_one_over(p),
                "1/(1+x) {p}"
            );
            let x = (rng.next() as u32 >> rng.usize(1, 31)) as i32;
            if x > 0 {
                let mut bits = 0;
                let r = o_get_reciprocal(x, 12, &mut bits);
                assert_eq!(fx::get_reciprocal(x, 12), (r, bits), "recip {x}");
            }
        }
        for v in [i32::MIN, i32::MAX, 0, 1, -1, i32::MIN + 1] {
            assert_eq!(fx::logistic::<4>(v), o_logistic4(v), "logistic {v}");
            assert_eq!(fx::tanh::<4>(v), o_tanh4(v), "tanh {v}");
        }
    }
}

#[test]
fn prepare_primitives() {
    let mut rng = Rng(5);
    unsafe {
        for i in 0..1_000_000 {
            let r = match i % 4 {
                0 => rng.f01() * 2.0,
                1 => (rng.scale(1e-12, 1e6)) as f64,
                2 => {
                    rng.scale(1e-5, 1.0) as f64 * rng.scale(1e-5, 1.0) as f64
                        / rng.scale(1e-5, 1.0) as f64
                }
                _ => {
                    f64::from_bits(rng.next() & 0x3fff_ffff_ffff_ffff)
                        * if rng.next() & 1 == 0 { 1.0 } else { 1e-300 }
                }
            };
            if !r.is_finite() || r > 1e300 {
                continue;
            }
            let (mut m, mut s) = (0, 0);
            o_quantize_multiplier(r, &mut m, &mut s);
            assert_eq!(
                pp::quantize_multiplier(r),
                (m, s),
                "QuantizeMultiplier({r:e})"
            );
            // Activation ranges.
            let scale = rng.scale(1e-4, 1.0);
            let zp = rng.zp();
            let act = rand_act(&mut rng);
            let (mut mn, mut mx) = (0, 0);
            assert_eq!(o_act_range(scale, zp, act_code(act), &mut mn, &mut mx), 0);
            assert_eq!(
                pp::activation_range(act, Quant::new(scale, zp)),
                Ok((mn, mx))
            );
            // Softmax scaling + radius.
            let beta = if i % 3 == 0 { 1.0 } else { rng.scale(0.1, 3.0) };
            let sin = rng.scale(1e-3, 1.0);
            let real = beta as f64 * sin as f64 * 67108864.0;
            if real > 1.0 {
                o_preprocess_softmax(beta as f64, sin as f64, 5, &mut m, &mut s);
                assert_eq!(
                    pp::preprocess_softmax_scaling(beta as f64, sin as f64, 5),
                    Ok((m, s))
                );
                assert_eq!(
                    pp::calculate_input_radius(5, s, 31),
                    o_input_radius(5, s, 31)
                );
            }
            let ls = rng.range(0, 40) as i32;
            assert_eq!(
                pp::calculate_input_radius(4, ls, 31),
                o_input_radius(4, ls, 31)
            );
        }
    }
}

fn rand_scales(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.scale(1e-4, 0.05)).collect()
}

#[test]
fn conv2d_vs_tflm() {
    let mut rng = Rng(1234);
    for case in 0..3000 {
        let k_h = rng.usize(1, 5);
        let k_w = rng.usize(1, 5);
        let stride_h = rng.usize(1, 3);
        let stride_w = rng.usize(1, 3);
        let (dil_h, dil_w) = if case % 5 == 0 {
            (rng.usize(1, 3), rng.usize(1, 3))
        } else {
            (1, 1)
        };
        let same = rng.next() & 1 == 0;
        let in_h = rng.usize((k_h - 1) * dil_h + 1, 14);
        let in_w = rng.usize((k_w - 1) * dil_w + 1, 14);
        let groups = if case % 7 == 0 { rng.usize(2, 3) } else { 1 };
        let fin = rng.usize(1, 9);
        let in_c = fin * groups;
        let out_c = groups * rng.usize(1, 6);
        let window = Window2d {
            in_h,
            in_w,
            k_h,
            k_w,
            stride_h,
            stride_w,
            dil_h,
            dil_w,
            padding: if same { Padding::Same } else { Padding::Valid },
        };
        let wo = window.resolve().unwrap();
        let scales = if case % 4 == 0 {
            rand_scales(&mut rng, 1)
        } else {
            rand_scales(&mut rng, out_c)
        };
        let input_q = Quant::new(rng.scale(1e-3, 0.1), rng.zp());
        let output_q = Quant::new(rng.scale(1e-3, 0.5), rng.zp());
        let act = rand_act(&mut rng);
        let has_bias = case % 3 != 0;
        let input = rng.i8s(in_h * in_w * in_c);
        let filter = rng.i8s(out_c * k_h * k_w * fin);
        let bias: Vec<i32> = (0..out_c)
            .map(|_| rng.range(-40000, 40000) as i32)
            .collect();
        let in_dims = [1, in_h as i32, in_w as i32, in_c as i32];
        let f_dims = [out_c as i32, k_h as i32, k_w as i32, fin as i32];
        let out_dims = [1, wo.out_h as i32, wo.out_w as i32, out_c as i32];
        let mut want = vec![0i8; wo.out_h * wo.out_w * out_c];
        let st = unsafe {
            o_conv(
                in_dims.as_ptr(),
                input.as_ptr(),
                f_dims.as_ptr(),
                filter.as_ptr(),
                if has_bias {
                    bias.as_ptr()
                } else {
                    std::ptr::null()
                },
                input_q.scale,
                input_q.zero_point,
                scales.as_ptr(),
                scales.len() as i32,
                output_q.scale,
                output_q.zero_point,
                act_code(act),
                stride_h as i32,
                stride_w as i32,
                dil_h as i32,
                dil_w as i32,
                if same { 1 } else { 2 },
                out_dims.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        assert_eq!(st, 0);
        let q = pp::conv2d::ConvQuant {
            input: input_q,
            filter_scales: &scales,
            output: output_q,
        };
        let p = pp::conv2d::conv2d(&window, in_c, out_c, fin, &q, act, has_bias).unwrap();
        let mut got = vec![0i8; want.len()];
        conv2d::conv2d(
            &p.params,
            &input,
            &filter,
            if has_bias { &bias } else { &[] },
            &p.out_mult,
            &p.out_shift,
            &mut got,
        );
        assert_eq!(got, want, "case {case}: {:?}", p.params);
    }
}

#[test]
fn depthwise_vs_tflm() {
    let mut rng = Rng(99);
    for case in 0..3000 {
        let k_h = rng.usize(1, 5);
        let k_w = rng.usize(1, 5);
        let stride_h = rng.usize(1, 3);
        let stride_w = rng.usize(1, 3);
        let (dil_h, dil_w) = if case % 5 == 0 {
            (rng.usize(1, 3), rng.usize(1, 3))
        } else {
            (1, 1)
        };
        let same = rng.next() & 1 == 0;
        let in_h = rng.usize((k_h - 1) * dil_h + 1, 14);
        let in_w = rng.usize((k_w - 1) * dil_w + 1, 14);
        let in_c = rng.usize(1, 12);
        let dm = if case % 4 == 0 { rng.usize(2, 3) } else { 1 };
        let out_c = in_c * dm;
        let window = Window2d {
            in_h,
            in_w,
            k_h,
            k_w,
            stride_h,
            stride_w,
            dil_h,
            dil_w,
            padding: if same { Padding::Same } else { Padding::Valid },
        };
        let wo = window.resolve().unwrap();
        let scales = if case % 6 == 0 {
            rand_scales(&mut rng, 1)
        } else {
            rand_scales(&mut rng, out_c)
        };
        let input_q = Quant::new(rng.scale(1e-3, 0.1), rng.zp());
        let output_q = Quant::new(rng.scale(1e-3, 0.5), rng.zp());
        let act = rand_act(&mut rng);
        let input = rng.i8s(in_h * in_w * in_c);
        let filter = rng.i8s(k_h * k_w * out_c);
        let bias: Vec<i32> = (0..out_c)
            .map(|_| rng.range(-40000, 40000) as i32)
            .collect();
        let in_dims = [1, in_h as i32, in_w as i32, in_c as i32];
        let f_dims = [1, k_h as i32, k_w as i32, out_c as i32];
        let out_dims = [1, wo.out_h as i32, wo.out_w as i32, out_c as i32];
        let mut want = vec![0i8; wo.out_h * wo.out_w * out_c];
        let st = unsafe {
            o_dwconv(
                in_dims.as_ptr(),
                input.as_ptr(),
                f_dims.as_ptr(),
                filter.as_ptr(),
                bias.as_ptr(),
                input_q.scale,
                input_q.zero_point,
                scales.as_ptr(),
                scales.len() as i32,
                output_q.scale,
                output_q.zero_point,
                act_code(act),
                stride_h as i32,
                stride_w as i32,
                dil_h as i32,
                dil_w as i32,
                if same { 1 } else { 2 },
                dm as i32,
                out_dims.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        assert_eq!(st, 0);
        let q = pp::conv2d::ConvQuant {
            input: input_q,
            filter_scales: &scales,
            output: output_q,
        };
        let p = pp::depthwise_conv2d::depthwise_conv2d(&window, in_c, dm, &q, act, true).unwrap();
        let mut got = vec![0i8; want.len()];
        depthwise_conv2d::depthwise_conv2d(
            &p.params,
            &input,
            &filter,
            &bias,
            &p.out_mult,
            &p.out_shift,
            &mut got,
        );
        assert_eq!(got, want, "case {case}: {:?}", p.params);
    }
}

#[test]
fn fully_connected_vs_tflm() {
    let mut rng = Rng(4321);
    for case in 0..5000 {
        let rows = rng.usize(1, 3);
        let depth = rng.usize(1, 100);
        let units = rng.usize(1, 20);
        let per_channel = case % 2 == 0 && units > 1;
        let scales = if per_channel {
            rand_scales(&mut rng, units)
        } else {
            rand_scales(&mut rng, 1)
        };
        let f_zp = if per_channel || case % 3 != 0 {
            0
        } else {
            rng.range(-5, 5) as i32
        };
        let input_q = Quant::new(rng.scale(1e-3, 0.5), rng.zp());
        let output_q = Quant::new(rng.scale(1e-3, 1.0), rng.zp());
        let has_bias = case % 4 != 0;
        // Bias scale near s_in*s_f, sometimes far (TFLM rejects).
        let bias_scale = input_q.scale
            * scales[0]
            * if case % 10 == 0 {
                rng.scale(0.1, 100.0)
            } else {
                1.0
            };
        let act = rand_act(&mut rng);
        let input = rng.i8s(rows * depth);
        let filter = rng.i8s(units * depth);
        let bias: Vec<i32> = (0..units)
            .map(|_| rng.range(-100000, 100000) as i32)
            .collect();
        let mut want = vec![0i8; rows * units];
        let st = unsafe {
            o_fc(
                rows as i32,
                depth as i32,
                units as i32,
                input.as_ptr(),
                filter.as_ptr(),
                if has_bias {
                    bias.as_ptr()
                } else {
                    std::ptr::null()
                },
                input_q.scale,
                input_q.zero_point,
                scales.as_ptr(),
                scales.len() as i32,
                f_zp,
                bias_scale,
                output_q.scale,
                output_q.zero_point,
                act_code(act),
                want.as_mut_ptr(),
            )
        };
        let q = pp::fully_connected::FcQuant {
            input: input_q,
            filter_scales: &scales,
            filter_zero_point: f_zp,
            output: output_q,
            bias_scale: Some(bias_scale),
        };
        let p = pp::fully_connected::fully_connected(rows, depth, units, &q, act, has_bias);
        assert_eq!(st != 0, p.is_err(), "case {case}: prepare agreement {p:?}");
        let Ok(p) = p else { continue };
        let mut got = vec![0i8; want.len()];
        fully_connected::fully_connected(
            &p.params,
            &input,
            &filter,
            if has_bias { &bias } else { &[] },
            &p.out_mult,
            &p.out_shift,
            &mut got,
        );
        assert_eq!(got, want, "case {case}: {:?}", p.params);
    }
}

#[test]
fn pooling_vs_tflm() {
    let mut rng = Rng(555);
    for case in 0..4000 {
        let k_h = rng.usize(1, 5);
        let k_w = rng.usize(1, 5);
        let stride_h = rng.usize(1, 3);
        let stride_w = rng.usize(1, 3);
        let same = rng.next() & 1 == 0;
        let in_h = rng.usize(k_h, 13);
        let in_w = rng.usize(k_w, 13);
        let c = rng.usize(1, 8);
        let g = pp::pool2d::PoolGeometry {
            in_h,
            in_w,
            channels: c,
            k_h,
            k_w,
            stride_h,
            stride_w,
            padding: if same { Padding::Same } else { Padding::Valid },
        };
        let q = Quant::new(rng.scale(1e-3, 0.1), rng.zp());
        let act = rand_act(&mut rng);
        let avg = case % 2 == 0;
        let p = if avg {
            pp::pool2d::avg_pool2d(&g, q, q, act)
        } else {
            pp::pool2d::max_pool2d(&g, q, q, act)
        }
        .unwrap();
        let input = rng.i8s(in_h * in_w * c);
        let in_dims = [1, in_h as i32, in_w as i32, c as i32];
        let out_dims = [1, p.out_h as i32, p.out_w as i32, c as i32];
        let mut want = vec![0i8; p.out_h * p.out_w * c];
        let st = unsafe {
            o_pool(
                avg as i32,
                in_dims.as_ptr(),
                input.as_ptr(),
                q.scale,
                q.zero_point,
                q.scale,
                q.zero_point,
                act_code(act),
                k_h as i32,
                k_w as i32,
                stride_h as i32,
                stride_w as i32,
                if same { 1 } else { 2 },
                out_dims.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        assert_eq!(st, 0);
        let mut got = vec![0i8; want.len()];
        if avg {
            pool2d::avg_pool2d(&p, &input, &mut got)
        } else {
            pool2d::max_pool2d(&p, &input, &mut got)
        }
        assert_eq!(got, want, "case {case}: {p:?}");
    }
}

fn rand_broadcast_shapes(rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let rank = rng.usize(0, 6);
    let full: Vec<usize> = (0..rank).map(|_| rng.usize(1, 4)).collect();
    let mk = |rng: &mut Rng| -> Vec<usize> {
        let r = rng.usize(0, rank);
        full[rank - r..]
            .iter()
            .map(|&d| if rng.next() % 3 == 0 { 1 } else { d })
            .collect()
    };
    (mk(rng), mk(rng))
}

#[test]
fn add_mul_vs_tflm() {
    let mut rng = Rng(31337);
    for case in 0..6000 {
        let (s1, s2) = if case % 3 == 0 {
            let s: Vec<usize> = (0..rng.usize(1, 4)).map(|_| rng.usize(1, 5)).collect();
            (s.clone(), s)
        } else {
            rand_broadcast_shapes(&mut rng)
        };
        let q1 = Quant::new(rng.scale(1e-3, 1.0), rng.zp());
        let q2 = Quant::new(
            if case % 5 == 0 {
                q1.scale
            } else {
                rng.scale(1e-3, 1.0)
            },
            rng.zp(),
        );
        let qo = Quant::new(rng.scale(1e-3, 2.0), rng.zp());
        let act = rand_act(&mut rng);
        let n1: usize = s1.iter().product();
        let n2: usize = s2.iter().product();
        let x1 = rng.i8s(n1);
        let x2 = rng.i8s(n2);
        let d1: Vec<i32> = s1.iter().map(|&d| d as i32).collect();
        let d2: Vec<i32> = s2.iter().map(|&d| d as i32).collect();
        let is_add = case % 2 == 0;
        let out_shape = pp::broadcast_6d(&s1, &s2).unwrap().out_shape;
        let n: usize = out_shape.iter().product();
        let mut want = vec![0i8; n];
        let st = unsafe {
            let f = if is_add { o_add } else { o_mul };
            f(
                d1.as_ptr(),
                d1.len() as i32,
                x1.as_ptr(),
                d2.as_ptr(),
                d2.len() as i32,
                x2.as_ptr(),
                q1.scale,
                q1.zero_point,
                q2.scale,
                q2.zero_point,
                qo.scale,
                qo.zero_point,
                act_code(act),
                want.as_mut_ptr(),
            )
        };
        let mut got = vec![0i8; n];
        if is_add {
            let p = pp::add::add(&s1, &s2, q1, q2, qo, act);
            assert_eq!(st != 0, p.is_err());
            let Ok(p) = p else { continue };
            add::add(&p, &x1, &x2, &mut got);
        } else {
            let p = pp::mul::mul(&s1, &s2, q1, q2, qo, act).unwrap();
            assert_eq!(st, 0);
            mul::mul(&p, &x1, &x2, &mut got);
        }
        assert_eq!(got, want, "case {case} add={is_add} {s1:?} {s2:?}");
    }
}

#[test]
fn mean_vs_tflm() {
    let mut rng = Rng(8080);
    for case in 0..4000 {
        let rank = rng.usize(1, 5);
        let shape: Vec<usize> = (0..rank)
            .map(|_| rng.usize(1, if case % 10 == 0 { 40 } else { 5 }))
            .collect();
        let mut axes: Vec<i32> = (0..rank as i32).filter(|_| rng.next() & 1 == 0).collect();
        if axes.is_empty() {
            axes.push(rng.range(0, rank as i64 - 1) as i32);
        }
        // Sometimes negative or duplicated axes.
        if case % 4 == 0 {
            axes = axes.iter().map(|&a| a - rank as i32).collect();
            axes.push(axes[0]);
        }
        let qi = Quant::new(rng.scale(1e-3, 0.1), rng.zp());
        let qo = Quant::new(rng.scale(1e-4, 0.2), rng.zp());
        let n: usize = shape.iter().product();
        let input = rng.i8s(n);
        let dims: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
        let p = pp::mean::mean(&shape, &axes, qi, qo).unwrap();
        let n_out = p.o0 * p.o1 * p.o2 * p.o3 * p.o4;
        let mut want = vec![0i8; n_out];
        let st = unsafe {
            o_mean(
                dims.as_ptr(),
                rank as i32,
                axes.as_ptr(),
                axes.len() as i32,
                input.as_ptr(),
                qi.scale,
                qi.zero_point,
                qo.scale,
                qo.zero_point,
                want.as_mut_ptr(),
            )
        };
        assert_eq!(st, 0);
        let mut got = vec![0i8; n_out];
        mean::mean(&p, &input, &mut got);
        assert_eq!(got, want, "case {case} {shape:?} {axes:?}");
    }
}

#[test]
fn softmax_vs_tflm() {
    let mut rng = Rng(42);
    let out_q = Quant::new(1.0 / 256.0, -128);
    for case in 0..20000 {
        let depth = rng.usize(1, 40);
        let outer = rng.usize(1, 3);
        let beta = if case % 3 == 0 {
            rng.scale(0.2, 4.0)
        } else {
            1.0
        };
        let qi = Quant::new(rng.scale(1e-3, 2.0), rng.zp());
        let mut input = rng.i8s(outer * depth);
        if case % 4 == 0 {
            // Narrow-range rows (the sensitive case: many values near the max).
            let base = rng.range(-100, 100) as i8;
            for v in input.iter_mut() {
                *v = base.saturating_add((*v as i32 % 6) as i8);
            }
        }
        let dims = [outer as i32, depth as i32];
        let mut want = vec![0i8; input.len()];
        let st = unsafe {
            o_softmax(
                dims.as_ptr(),
                2,
                beta,
                qi.scale,
                qi.zero_point,
                out_q.scale,
                out_q.zero_point,
                input.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let p = pp::softmax::softmax(&[outer, depth], beta, qi, out_q);
        assert_eq!(st != 0, p.is_err(), "{beta} {qi:?}");
        let Ok(p) = p else { continue };
        let mut got = vec![0i8; input.len()];
        softmax::softmax(&p, &input, &mut got);
        assert_eq!(got, want, "case {case} {p:?}");
    }
}

#[test]
fn logistic_tanh_vs_tflm() {
    let mut rng = Rng(7);
    for case in 0..20000 {
        let qi = Quant::new(rng.scale(1e-4, 2.0), rng.zp());
        let input: Vec<i8> = if case % 2 == 0 {
            (-128..=127).collect()
        } else {
            rng.i8s(64)
        };
        let n = input.len();
        let mut want = vec![0i8; n];
        let mut params = [0i32; 3];
        unsafe {
            o_logistic(
                n as i32,
                qi.scale,
                qi.zero_point,
                input.as_ptr(),
                want.as_mut_ptr(),
                params.as_mut_ptr(),
            )
        };
        let p = pp::logistic::logistic(n, qi, Quant::new(1.0 / 256.0, -128)).unwrap();
        assert_eq!(
            [p.input_multiplier, p.input_left_shift, p.input_range_radius],
            params
        );
        let mut got = vec![0i8; n];
        logistic::logistic(&p, &input, &mut got);
        assert_eq!(got, want, "logistic case {case} {p:?}");
        unsafe {
            o_tanh(
                n as i32,
                qi.scale,
                qi.zero_point,
                input.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let p = pp::tanh::tanh(n, qi, Quant::new(1.0 / 128.0, 0)).unwrap();
        tanh::tanh(&p, &input, &mut got);
        assert_eq!(got, want, "tanh case {case} {p:?}");
    }
}

#[test]
fn relu_vs_tflm() {
    let mut rng = Rng(11);
    let input: Vec<i8> = (-128..=127).collect();
    for case in 0..20000 {
        let qi = Quant::new(rng.scale(1e-3, 1.0), rng.zp());
        let qo = if case % 3 == 0 {
            qi
        } else {
            Quant::new(rng.scale(1e-3, 1.0), rng.zp())
        };
        let mut want = vec![0i8; 256];
        let mut got = vec![0i8; 256];
        unsafe {
            o_relu(
                256,
                qi.scale,
                qi.zero_point,
                qo.scale,
                qo.zero_point,
                input.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let p = pp::relu::relu(Activation::Relu, 256, qi, qo).unwrap();
        relu::relu(&p, &input, &mut got);
        assert_eq!(got, want, "relu {p:?}");
        unsafe {
            o_relu6(
                256,
                qi.scale,
                qi.zero_point,
                input.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let p = pp::relu::relu(Activation::Relu6, 256, qi, qo).unwrap();
        relu::relu(&p, &input, &mut got);
        assert_eq!(got, want, "relu6 {p:?}");
    }
}

#[test]
fn pad_concat_quant_vs_tflm() {
    let mut rng = Rng(2024);
    for case in 0..3000 {
        // PAD
        let rank = rng.usize(1, 5);
        let shape: Vec<usize> = (0..rank).map(|_| rng.usize(1, 4)).collect();
        let pads: Vec<[usize; 2]> = (0..rank)
            .map(|_| [rng.usize(0, 2), rng.usize(0, 2)])
            .collect();
        let zp = rng.zp();
        let input = rng.i8s(shape.iter().product());
        let dims: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
        let flat_pads: Vec<i32> = pads
            .iter()
            .flat_map(|p| [p[0] as i32, p[1] as i32])
            .collect();
        let n_out: usize = shape
            .iter()
            .zip(&pads)
            .map(|(d, p)| d + p[0] + p[1])
            .product();
        let mut want = vec![0i8; n_out];
        unsafe {
            o_pad(
                dims.as_ptr(),
                rank as i32,
                flat_pads.as_ptr(),
                zp,
                input.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let p = pp::pad::pad(&shape, &pads, zp).unwrap();
        let mut got = vec![0i8; n_out];
        pad::pad(&p, &input, &mut got);
        assert_eq!(got, want, "pad {shape:?} {pads:?}");

        // CONCATENATION
        let n_in = rng.usize(1, 4);
        let axis = rng.usize(0, rank - 1);
        let shapes: Vec<Vec<usize>> = (0..n_in)
            .map(|_| {
                shape
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| if k == axis { rng.usize(1, 3) } else { d })
                    .collect()
            })
            .collect();
        let datas: Vec<Vec<i8>> = shapes.iter().map(|s| rng.i8s(s.iter().product())).collect();
        let flat_dims: Vec<i32> = shapes
            .iter()
            .flat_map(|s| s.iter().map(|&d| d as i32))
            .collect();
        let ptrs: Vec<*const i8> = datas.iter().map(|d| d.as_ptr()).collect();
        let total: usize = datas.iter().map(|d| d.len()).sum();
        let mut want = vec![0i8; total];
        unsafe {
            o_concat(
                n_in as i32,
                flat_dims.as_ptr(),
                rank as i32,
                axis as i32,
                ptrs.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let q = Quant::new(0.1, 3);
        let srefs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
        let neg_axis = if case % 2 == 0 {
            axis as i32
        } else {
            axis as i32 - rank as i32
        };
        let ps = pp::concatenation::concatenation(&srefs, neg_axis, &vec![q; n_in], q).unwrap();
        let mut got = vec![0i8; total];
        for (p, d) in ps.iter().zip(&datas) {
            concatenation::concatenation(p, d, &mut got);
        }
        assert_eq!(got, want, "concat {shapes:?} axis {axis}");

        // QUANTIZE / REQUANTIZE / DEQUANTIZE
        let qi = Quant::new(rng.scale(1e-3, 1.0), rng.zp());
        let qo = Quant::new(rng.scale(1e-3, 1.0), rng.zp());
        let xs: Vec<f32> = (0..200)
            .map(|i| match i % 4 {
                0 => (rng.f01() as f32 - 0.5) * 300.0 * qo.scale,
                1 => ((rng.range(-200, 200) as f32) + 0.5) * qo.scale, // near ties
                2 => (rng.range(-128, 127) as f32 - qo.zero_point as f32) * qo.scale,
                _ => f32::from_bits(rng.next() as u32),
            })
            .filter(|x| x.is_finite() && (x / qo.scale).abs() < 2e9)
            .collect();
        let mut want = vec![0i8; xs.len()];
        unsafe {
            o_quantize(
                xs.len() as i32,
                xs.as_ptr(),
                qo.scale,
                qo.zero_point,
                want.as_mut_ptr(),
            )
        };
        let p = pp::quantize::quantize(xs.len(), qo).unwrap();
        let bytes: Vec<i8> = xs
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .map(|b| b as i8)
            .collect();
        let mut got = vec![0i8; xs.len()];
        quantize::quantize(&p, &bytes, &mut got);
        assert_eq!(got, want, "quantize {qo:?}");

        let input: Vec<i8> = (-128..=127).collect();
        let mut want = vec![0i8; 256];
        unsafe {
            o_requantize(
                256,
                qi.scale,
                qi.zero_point,
                qo.scale,
                qo.zero_point,
                input.as_ptr(),
                want.as_mut_ptr(),
            )
        };
        let p = pp::quantize::requantize(256, qi, qo).unwrap();
        let mut got = vec![0i8; 256];
        quantize::requantize(&p, &input, &mut got);
        assert_eq!(got, want, "requantize {qi:?} {qo:?}");

        let mut wantf = vec![0f32; 256];
        unsafe {
            o_dequantize(
                256,
                qi.scale,
                qi.zero_point,
                input.as_ptr(),
                wantf.as_mut_ptr(),
            )
        };
        let p = pp::dequantize::dequantize(256, qi).unwrap();
        let mut gotb = vec![0i8; 1024];
        dequantize::dequantize(&p, &input, &mut gotb);
        let gotf: Vec<u32> = gotb
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]).to_bits())
            .collect();
        let wantb: Vec<u32> = wantf.iter().map(|f| f.to_bits()).collect();
        assert_eq!(gotf, wantb, "dequantize {qi:?}");
    }
}
