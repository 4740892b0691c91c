//! CONCATENATION prepare (TFLM `concatenation.cc` `ConcatenationPrepare`).

use super::{Quant, Result, err};
use crate::concatenation::ConcatenationParams;

/// Prepares one [`crate::concatenation::concatenation`] call per input.
///
/// TFLM's int8 kernel copies bytes: it requires every input to have exactly
/// the output's scale and zero point (else Prepare fails), at most 10
/// inputs, and no fused activation. `axis` may be negative.
pub fn concatenation(
    shapes: &[&[usize]],
    axis: i32,
    inputs: &[Quant],
    output: Quant,
) -> Result<Vec<ConcatenationParams>> {
    let Some(first) = shapes.first() else {
        return err("CONCATENATION needs at least one input");
    };
    if shapes.len() > 10 {
        return err(format!(
            "CONCATENATION supports at most 10 inputs, got {}",
            shapes.len()
        ));
    }
    if inputs.len() != shapes.len() {
        return err("one quantization per input expected");
    }
    for (i, q) in inputs.iter().enumerate() {
        if q.scale != output.scale || q.zero_point != output.zero_point {
            return err(format!(
                "CONCATENATION input {i} quantization ({}, {}) differs from the output's ({}, {}); \
                 TFLM's int8 kernel does not rescale",
                q.scale, q.zero_point, output.scale, output.zero_point
            ));
        }
    }
    let rank = first.len() as i32;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return err(format!("axis {axis} out of range for rank {rank}"));
    }
    let a = a as usize;
    for s in shapes {
        if s.len() != first.len() || (0..s.len()).any(|k| k != a && s[k] != first[k]) {
            return err(format!("input shapes {shapes:?} differ off the axis {a}"));
        }
    }
    let outer: usize = first[..a].iter().product();
    let inner: usize = first[a + 1..].iter().product();
    let total_axis: usize = shapes.iter().map(|s| s[a]).sum();
    let mut offset = 0;
    Ok(shapes
        .iter()
        .map(|s| {
            let p = ConcatenationParams {
                outer,
                copy_size: s[a] * inner,
                out_stride: total_axis * inner,
                out_offset: offset,
            };
            offset += s[a] * inner;
            p
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_concat_and_quant_check() {
        let q = Quant::new(0.023_522_5, -1);
        let ps = concatenation(&[&[1, 6, 6, 5], &[1, 6, 6, 3]], -1, &[q, q], q).unwrap();
        assert_eq!(
            ps[0],
            ConcatenationParams {
                outer: 36,
                copy_size: 5,
                out_stride: 8,
                out_offset: 0
            }
        );
        assert_eq!(
            ps[1],
            ConcatenationParams {
                outer: 36,
                copy_size: 3,
                out_stride: 8,
                out_offset: 5
            }
        );
        let other = Quant::new(0.05, -1);
        assert!(concatenation(&[&[1, 2], &[1, 2]], 1, &[q, other], q).is_err());
        assert!(concatenation(&[&[1, 2], &[2, 2]], 1, &[q, q], q).is_err());
    }
}
