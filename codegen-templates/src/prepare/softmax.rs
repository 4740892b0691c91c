//! SOFTMAX prepare (TFLM `softmax_common.cc` `CalculateSoftmaxParams`,
//! int8 -> int8 branch).

use super::{
    Quant, Result, calculate_input_radius, check_scale, check_zero_point, err,
    preprocess_softmax_scaling,
};
use crate::softmax::SoftmaxParams;

/// Prepares SOFTMAX over the last axis of `shape`.
///
/// TFLM requires the int8 output to have zero point -128 and scale exactly
/// `1/256`. `PreprocessSoftmaxScaling((double)beta, (double)s_in, 5)` gives
/// the multiplier (and fails when `beta * s_in * 2^26 <= 1`), `diff_min =
/// -CalculateInputRadius(5, left_shift, 31)`.
pub fn softmax(shape: &[usize], beta: f32, input: Quant, output: Quant) -> Result<SoftmaxParams> {
    let Some(&depth) = shape.last() else {
        return err("SOFTMAX input must have at least one dimension");
    };
    check_scale(input.scale, "input")?;
    check_zero_point(input.zero_point, "input")?;
    if output.zero_point != -128 {
        return err(format!(
            "SOFTMAX int8 output zero point must be -128, is {}",
            output.zero_point
        ));
    }
    if output.scale != 1.0 / 256.0 {
        return err(format!(
            "SOFTMAX int8 output scale must be 1/256, is {}",
            output.scale
        ));
    }
    let (input_multiplier, input_left_shift) =
        preprocess_softmax_scaling(beta as f64, input.scale as f64, 5)?;
    let diff_min = -calculate_input_radius(5, input_left_shift, 31);
    let outer = shape
        .iter()
        .product::<usize>()
        .checked_div(depth)
        .unwrap_or(0);
    Ok(SoftmaxParams {
        outer,
        depth,
        input_multiplier,
        input_left_shift,
        diff_min,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_like_case() {
        let out = Quant::new(1.0 / 256.0, -128);
        let p = softmax(&[1, 10], 1.0, Quant::new(0.023_382, -1), out).unwrap();
        assert_eq!((p.outer, p.depth), (1, 10));
        let (m, s) = preprocess_softmax_scaling(1.0, 0.023_382f32 as f64, 5).unwrap();
        assert_eq!((p.input_multiplier, p.input_left_shift), (m, s));
        assert_eq!(p.diff_min, -calculate_input_radius(5, s, 31));
        assert!(
            softmax(
                &[10],
                1.0,
                Quant::new(0.02, 0),
                Quant::new(1.0 / 255.0, -128)
            )
            .is_err()
        );
        assert!(softmax(&[10], 1.0, Quant::new(0.02, 0), Quant::new(1.0 / 256.0, 0)).is_err());
    }
}
