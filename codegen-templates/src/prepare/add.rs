//! ADD prepare (TFLM `add_common.cc` `CalculateOpDataAdd`, int8 branch).

use super::{
    Activation, Quant, Result, activation_range, broadcast_6d, check_scale, check_zero_point,
    quantize_multiplier_smaller_than_one_exp,
};
use crate::add::AddParams;

/// Prepares ADD of int8 tensors of shapes `shape1`, `shape2` (numpy
/// broadcasting, any rank that folds into 6 loops).
///
/// TFLM: `left_shift = 20`, `twice_max = 2 * (double)max(s1, s2)`,
/// input multipliers `QuantizeMultiplierSmallerThanOneExp((double)s_k /
/// twice_max)`, output multiplier `twice_max / (2^20 * (double)s_out)`,
/// which must be below 1 (else TFLM aborts): the output scale must exceed
/// `max(s1, s2) / 2^19`.
pub fn add(
    shape1: &[usize],
    shape2: &[usize],
    in1: Quant,
    in2: Quant,
    out: Quant,
    act: Activation,
) -> Result<AddParams> {
    for (q, role) in [(in1, "input 1"), (in2, "input 2"), (out, "output")] {
        check_scale(q.scale, role)?;
        check_zero_point(q.zero_point, role)?;
    }
    let b = broadcast_6d(shape1, shape2)?;
    let left_shift = 20;
    let twice_max_input_scale = 2.0 * in1.scale.max(in2.scale) as f64;
    let real1 = in1.scale as f64 / twice_max_input_scale;
    let real2 = in2.scale as f64 / twice_max_input_scale;
    let real_out = twice_max_input_scale / ((1i64 << left_shift) as f64 * out.scale as f64);
    let (in1_mult, in1_shift) = quantize_multiplier_smaller_than_one_exp(real1)?;
    let (in2_mult, in2_shift) = quantize_multiplier_smaller_than_one_exp(real2)?;
    let (out_mult, out_shift) = quantize_multiplier_smaller_than_one_exp(real_out)?;
    let (act_min, act_max) = activation_range(act, out)?;
    let [d0, d1, d2, d3, d4, d5] = b.dims;
    let [a_s0, a_s1, a_s2, a_s3, a_s4, a_s5] = b.a_strides;
    let [b_s0, b_s1, b_s2, b_s3, b_s4, b_s5] = b.b_strides;
    Ok(AddParams {
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
        left_shift,
        in1_mult,
        in1_shift,
        in2_mult,
        in2_shift,
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
    use crate::prepare::quantize_multiplier;

    #[test]
    fn multipliers_follow_tflm() {
        // op_add_relu: input 0 is the wide one.
        let (s1, s2, so) = (0.031_368_7_f32, 0.007_839_9_f32, 0.019_502_5_f32);
        let p = add(
            &[1, 6, 6, 8],
            &[1, 6, 6, 8],
            Quant::new(s1, -1),
            Quant::new(s2, -1),
            Quant::new(so, -128),
            Activation::Relu,
        )
        .unwrap();
        let twice = 2.0 * s1 as f64;
        assert_eq!((p.in1_mult, p.in1_shift), (1 << 30, 0)); // exactly 0.5
        assert_eq!(
            (p.in2_mult, p.in2_shift),
            quantize_multiplier(s2 as f64 / twice)
        );
        assert_eq!(
            (p.out_mult, p.out_shift),
            quantize_multiplier(twice / (1048576.0 * so as f64))
        );
        assert_eq!((p.act_min, p.act_max), (-128, 127));
        assert_eq!((p.d5, p.a_s5, p.b_s5), (288, 1, 1));
        // Output scale too small for the 2^20 headroom: TFLM aborts.
        assert!(
            add(
                &[2],
                &[2],
                Quant::new(1.0, 0),
                Quant::new(1.0, 0),
                Quant::new(1e-7, 0),
                Activation::None
            )
            .is_err()
        );
    }
}
