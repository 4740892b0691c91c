//! PAD / PADV2 prepare (TFLM `pad_common.cc` `PadPrepare`).

use super::{Result, err};
use crate::pad::PadParams;

/// Prepares PAD of an int8 tensor of rank <= 5. `pads[k] = [before, after]`
/// per input dim. `pad_value` is the output zero point for PAD (TFLM pads
/// with the quantized 0.0) or the int8 constant for PADV2 (whose scale and
/// zero point TFLM requires to equal the output's).
pub fn pad(shape: &[usize], pads: &[[usize; 2]], pad_value: i32) -> Result<PadParams> {
    if shape.len() > 5 {
        return err(format!("PAD supports rank <= 5, got {}", shape.len()));
    }
    if pads.len() != shape.len() {
        return err(format!(
            "{} padding pairs for rank {}",
            pads.len(),
            shape.len()
        ));
    }
    if !(-128..=127).contains(&pad_value) {
        return err(format!("pad value {pad_value} outside int8"));
    }
    let off = 5 - shape.len();
    let mut ind = [1; 5];
    let mut outd = [1; 5];
    let mut before = [0; 5];
    for (k, (&d, &[b, a])) in shape.iter().zip(pads).enumerate() {
        ind[off + k] = d;
        outd[off + k] = d + b + a;
        before[off + k] = b;
    }
    Ok(PadParams {
        in_d0: ind[0],
        in_d1: ind[1],
        in_d2: ind[2],
        in_d3: ind[3],
        in_d4: ind[4],
        out_d0: outd[0],
        out_d1: outd[1],
        out_d2: outd[2],
        out_d3: outd[3],
        out_d4: outd[4],
        pad0: before[0],
        pad1: before[1],
        pad2: before[2],
        pad3: before[3],
        pad4: before[4],
        pad_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_aligns_to_5d() {
        let p = pad(&[1, 7, 7, 4], &[[0, 0], [1, 2], [2, 1], [0, 0]], -1).unwrap();
        assert_eq!(
            [p.in_d0, p.in_d1, p.in_d2, p.in_d3, p.in_d4],
            [1, 1, 7, 7, 4]
        );
        assert_eq!([p.out_d1, p.out_d2, p.out_d3, p.out_d4], [1, 10, 10, 4]);
        assert_eq!([p.pad2, p.pad3, p.pad4], [1, 2, 0]);
        assert!(pad(&[1; 6], &[[0, 0]; 6], 0).is_err());
    }
}
