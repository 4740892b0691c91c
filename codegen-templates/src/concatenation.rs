//! CONCATENATION of int8 tensors along one axis (TFLM
//! `reference_ops::Concatenation`: a byte copy, no requantization).
//!
//! TFLM rejects int8 inputs whose scale or zero point differ from the
//! output's, so concatenation never rescales. The generated code calls
//! [`concatenation`] once per input; each call copies that input's slab into
//! its place:
//!
//! ```text
//! for k in 0..outer:
//!     output[k*out_stride + out_offset ..][..copy_size] = input[k*copy_size ..][..copy_size]
//! ```
//!
//! with `outer` = product of dims before the axis, `inner` = product after,
//! `copy_size = input_axis_dim * inner`, `out_stride = output_axis_dim *
//! inner`, `out_offset = (sum of previous inputs' axis dims) * inner`.
//! Params come from [`crate::prepare::concatenation`].

/// Parameters of one [`concatenation`] call (one input).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct ConcatenationParams {
    pub outer: usize,
    pub copy_size: usize,
    pub out_stride: usize,
    pub out_offset: usize,
}

/// Copies one input of a concatenation into the output.
pub fn concatenation(p: &ConcatenationParams, input: &[i8], output: &mut [i8]) {
    for k in 0..p.outer {
        output[k * p.out_stride + p.out_offset..][..p.copy_size]
            .copy_from_slice(&input[k * p.copy_size..][..p.copy_size]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_concat_of_two_inputs() {
        // [2, 2] ++ [2, 3] along axis 1 -> [2, 5]
        let a = [1i8, 2, 3, 4];
        let b = [10i8, 11, 12, 13, 14, 15];
        let mut out = [0i8; 10];
        concatenation(
            &ConcatenationParams {
                outer: 2,
                copy_size: 2,
                out_stride: 5,
                out_offset: 0,
            },
            &a,
            &mut out,
        );
        concatenation(
            &ConcatenationParams {
                outer: 2,
                copy_size: 3,
                out_stride: 5,
                out_offset: 2,
            },
            &b,
            &mut out,
        );
        assert_eq!(out, [1, 2, 10, 11, 12, 3, 4, 13, 14, 15]);
    }

    #[test]
    fn middle_axis_with_inner_size() {
        // [2, 1, 2] ++ [2, 2, 2] along axis 1 -> [2, 3, 2]; inner = 2
        let a = [1i8, 2, 3, 4];
        let b = [5i8, 6, 7, 8, 9, 10, 11, 12];
        let mut out = [0i8; 12];
        concatenation(
            &ConcatenationParams {
                outer: 2,
                copy_size: 2,
                out_stride: 6,
                out_offset: 0,
            },
            &a,
            &mut out,
        );
        concatenation(
            &ConcatenationParams {
                outer: 2,
                copy_size: 4,
                out_stride: 6,
                out_offset: 2,
            },
            &b,
            &mut out,
        );
        assert_eq!(out, [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12]);
    }
}
