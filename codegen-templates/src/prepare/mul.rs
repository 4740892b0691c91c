//! MUL prepare (TFLM `mul_common.cc` `CalculateOpDataMul`, int8 branch).

use super::{
    Activation, Quant, Result, activation_range, broadcast_6d, check_scale, check_zero_point,
    quantize_multiplier,
};
use crate::mul::MulParams;

/// Prepares MUL of int8 tensors with numpy broadcasting:
/// `QuantizeMultiplier((double)s1 * (double)s2 / (double)s_out)`.
pub fn mul(
    shape1: &[usize],
    shape2: &[usize],
    in1: Quant,
    in2: Quant,
    out: Quant,
    act: Activation,
) -> Result<MulParams> {
    for (q, role) in [(in1, "input 1"), (in2, "input 2"), (out, "output")] {
        check_scale(q.scale, role)?;
        check_zero_point(q.zero_point, role)?;
    }
    let b = broadcast_6d(shape1, shape2)?;
    let (act_min, act_max) = activation_range(act, out)?;
    let real = in1.scale as f64 * in2.scale as f64 / out.scale as f64;
    let (out_mult, out_shift) = quantize_multiplier(real);
    let [d0, d1, d2, d3, d4, d5] = b.dims;
    let [a_s0, a_s1, a_s2, a_s3, a_s4, a_s5] = b.a_strides;
    let [b_s0, b_s1, b_s2, b_s3, b_s4, b_s5] = b.b_strides;
    Ok(MulParams {
        d0,
        d1,
        d2,
        d3,
        d4,
        d5,
        a_s0,
        a_s1,
        a_s2,
        a_s3,
        a_s4,
        a_s5,
        b_s0,
        b_s1,
        b_s2,
        b_s3,
        b_s4,
        b_s5,
        in1_zp: in1.zero_point,
        in2_zp: in2.zero_point,
        out_mult,
        out_shift,
        out_zp: out.zero_point,
        act_min,
        act_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_and_broadcast() {
        let p = mul(
            &[1, 4, 4, 8],
            &[1, 1, 1, 8],
            Quant::new(0.5, 3),
            Quant::new(0.25, -2),
            Quant::new(0.125, 0),
            Activation::Relu6,
        )
        .unwrap();
        assert_eq!((p.out_mult, p.out_shift), (1 << 30, 1)); // 1.0
        assert_eq!((p.d4, p.d5, p.b_s4, p.b_s5), (16, 8, 0, 1));
        assert_eq!((p.act_min, p.act_max), (0, 48));
    }
}
