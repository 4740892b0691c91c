//! MEAN prepare (TFLM `reduce_common.cc` `PrepareMeanOrSumHelper` plus the
//! eval-time multiplier adjustment of `reference_ops::QuantizedMeanOrSum`).

use super::{Quant, Result, check_scale, check_zero_point, err, quantize_multiplier, strides};
use crate::mean::MeanParams;

/// Prepares MEAN of an int8 tensor of shape `shape` over `axes` (negative
/// axes count from the end, duplicates are ignored, as TFLM's
/// `ResolveAxis`). `keep_dims` does not change the output layout.
///
/// Multiplier: `QuantizeMultiplier((double)s_in / (double)s_out) = (m, e)`,
/// then with `count` reduced elements `k = min(floor(log2 count), 32, 31 + e)`,
/// `multiplier = (m << k) / count`, `shift = e - k`.
pub fn mean(shape: &[usize], axes: &[i32], input: Quant, output: Quant) -> Result<MeanParams> {
    check_scale(input.scale, "input")?;
    check_scale(output.scale, "output")?;
    check_zero_point(input.zero_point, "input")?;
    check_zero_point(output.zero_point, "output")?;
    let rank = shape.len() as i32;
    let mut reduced = vec![false; shape.len()];
    for &a in axes {
        let r = if a < 0 { a + rank } else { a };
        if r < 0 || r >= rank {
            return err(format!("axis {a} out of range for rank {rank}"));
        }
        reduced[r as usize] = true;
    }
    let st = strides(shape);
    // Non-unit dims, consecutive dims of the same kind merged (row-major).
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut red: Vec<(usize, usize)> = Vec::new();
    let mut last_kind: Option<bool> = None;
    for i in 0..shape.len() {
        if shape[i] == 1 {
            continue;
        }
        let list = if reduced[i] { &mut red } else { &mut kept };
        match list.last_mut() {
            Some(last) if last_kind == Some(reduced[i]) => {
                *last = (last.0 * shape[i], st[i]);
            }
            _ => list.push((shape[i], st[i])),
        }
        last_kind = Some(reduced[i]);
    }
    if kept.len() > 5 || red.len() > 5 {
        return err(format!(
            "MEAN over {axes:?} of {shape:?} needs more than 5 loops per side"
        ));
    }
    let count: usize = red.iter().map(|r| r.0).product();
    if shape.contains(&0) || count == 0 {
        return err("MEAN of an empty tensor");
    }
    if count > i32::MAX as usize {
        return err(format!("MEAN over {count} elements"));
    }
    let (m, e) = quantize_multiplier(input.scale as f64 / output.scale as f64);
    let k = (63 - (count as u64).leading_zeros() as i32)
        .min(32)
        .min(31 + e);
    let multiplier = (((m as i64) << k) / count as i64) as i32;
    let shift = e - k;
    let pad5 = |v: &[(usize, usize)]| -> ([usize; 5], [usize; 5]) {
        let mut d = [1; 5];
        let mut s = [0; 5];
        let off = 5 - v.len();
        for (j, &(dim, stride)) in v.iter().enumerate() {
            d[off + j] = dim;
            s[off + j] = stride;
        }
        (d, s)
    };
    let (o, os) = pad5(&kept);
    let (r, rs) = pad5(&red);
    Ok(MeanParams {
        o0: o[0],
        o1: o[1],
        o2: o[2],
        o3: o[3],
        o4: o[4],
        os0: os[0],
        os1: os[1],
        os2: os[2],
        os3: os[3],
        os4: os[4],
        r0: r[0],
        r1: r[1],
        r2: r[2],
        r3: r[3],
        r4: r[4],
        rs0: rs[0],
        rs1: rs[1],
        rs2: rs[2],
        rs3: rs[3],
        rs4: rs[4],
        count: count as i32,
        in_zp: input.zero_point,
        out_zp: output.zero_point,
        multiplier,
        shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_average_pool_case() {
        // op_global_avgpool: [1,7,7,16] over [1,2].
        let (si, so) = (0.007_842_35_f32, 0.001_772_78_f32);
        let p = mean(
            &[1, 7, 7, 16],
            &[1, 2],
            Quant::new(si, 0),
            Quant::new(so, 16),
        )
        .unwrap();
        assert_eq!((p.o4, p.os4), (16, 1));
        assert_eq!((p.r4, p.rs4), (49, 16)); // H and W merged
        assert_eq!(p.count, 49);
        let (m, e) = quantize_multiplier(si as f64 / so as f64);
        // floor(log2 49) = 5
        assert_eq!(p.multiplier, (((m as i64) << 5) / 49) as i32);
        assert_eq!(p.shift, e - 5);
        // Negative and duplicate axes resolve the same way.
        assert_eq!(
            mean(
                &[1, 7, 7, 16],
                &[-3, 2, 1],
                Quant::new(si, 0),
                Quant::new(so, 16)
            ),
            Ok(p)
        );
    }

    #[test]
    fn interleaved_axes_and_limits() {
        let q = Quant::new(0.1, 0);
        let p = mean(&[2, 3, 4, 5], &[0, 2], q, q).unwrap();
        assert_eq!([p.o3, p.o4], [3, 5]);
        assert_eq!([p.os3, p.os4], [20, 1]);
        assert_eq!([p.r3, p.r4], [2, 4]);
        assert_eq!([p.rs3, p.rs4], [60, 5]);
        assert_eq!(p.count, 8);
        // s_in == s_out: (2^30, 1); k = min(3, 32, 32) = 3 -> 2^33 / 8 = 2^30, shift -2.
        assert_eq!((p.multiplier, p.shift), (1 << 30, -2));
        assert!(mean(&[2, 3], &[2], q, q).is_err());
    }
}
