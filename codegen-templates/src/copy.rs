//! RESHAPE / SQUEEZE / FLATTEN / EXPAND_DIMS: the same bytes under a new
//! shape (TFLM copies the buffer when input and output do not alias).
//!
//! Contract: `output[..len] = input[..len]`. The planner normally aliases the
//! two buffers and emits nothing; this kernel covers the case where it
//! cannot.

/// Parameters of [`copy`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "host", derive(serde::Serialize))]
pub struct CopyParams {
    /// Number of bytes.
    pub len: usize,
}

/// Byte copy.
pub fn copy(p: &CopyParams, input: &[i8], output: &mut [i8]) {
    output[..p.len].copy_from_slice(&input[..p.len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_prefix() {
        let mut out = [0i8; 4];
        copy(&CopyParams { len: 3 }, &[1, -2, 3, 4], &mut out);
        assert_eq!(out, [1, -2, 3, 0]);
    }
}
