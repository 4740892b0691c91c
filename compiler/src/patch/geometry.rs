//! Receptive-field geometry: which input window an op needs to compute an
//! output window.
//!
//! Windows are half-open boxes `[y0, y1) x [x0, x1)` over the spatial dims of
//! an NHWC tensor, always clipped to the tensor. For a windowed op (conv,
//! depthwise conv, pooling) output row `oy` reads input rows
//! `oy*stride - pad_top + ky*dilation` for `ky` in `0..k`; rows outside the
//! input are padding and need no data. Elementwise ops need the same window.

use serde::Serialize;

/// A half-open spatial window of a tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Window {
    pub y0: usize,
    pub y1: usize,
    pub x0: usize,
    pub x1: usize,
}

impl Window {
    pub fn new(y0: usize, y1: usize, x0: usize, x1: usize) -> Window {
        Window { y0, y1, x0, x1 }
    }

    /// The whole `h x w` tensor.
    pub fn full(h: usize, w: usize) -> Window {
        Window::new(0, h, 0, w)
    }

    pub fn h(&self) -> usize {
        self.y1.saturating_sub(self.y0)
    }

    pub fn w(&self) -> usize {
        self.x1.saturating_sub(self.x0)
    }

    pub fn is_empty(&self) -> bool {
        self.h() == 0 || self.w() == 0
    }

    /// Spatial positions.
    pub fn area(&self) -> usize {
        self.h() * self.w()
    }

    /// Bounding box of both (an empty window is the identity).
    pub fn union(&self, other: &Window) -> Window {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        Window::new(
            self.y0.min(other.y0),
            self.y1.max(other.y1),
            self.x0.min(other.x0),
            self.x1.max(other.x1),
        )
    }

    pub fn contains(&self, other: &Window) -> bool {
        other.is_empty()
            || (self.y0 <= other.y0
                && other.y1 <= self.y1
                && self.x0 <= other.x0
                && other.x1 <= self.x1)
    }
}

/// The window geometry of one spatial dimension of a windowed op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    /// Padding before the first element.
    pub pad: usize,
    /// Input extent.
    pub input: usize,
}

impl Axis {
    /// Input range `[a, b)` that output range `[o0, o1)` reads: the
    /// smallest range holding every tap that lands inside the input. Taps are
    /// enumerated because with dilation the last output need not hold the
    /// last tap inside the input.
    pub fn needs(&self, o0: usize, o1: usize) -> (usize, usize) {
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        for o in o0..o1 {
            for k in 0..self.kernel {
                let r = (o * self.stride + k * self.dilation) as i64 - self.pad as i64;
                if r >= 0 && (r as usize) < self.input {
                    lo = lo.min(r as usize);
                    hi = hi.max(r as usize + 1);
                }
            }
        }
        if lo == usize::MAX { (0, 0) } else { (lo, hi) }
    }
}

/// Input window a windowed op needs for output window `out`.
pub fn needs(y: Axis, x: Axis, out: &Window) -> Window {
    let (y0, y1) = y.needs(out.y0, out.y1);
    let (x0, x1) = x.needs(out.x0, out.x1);
    Window::new(y0, y1, x0, x1)
}

/// Splits `extent` into `parts` contiguous ranges of nearly equal size (the
/// first ones one larger when it does not divide).
pub fn split(extent: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, extent.max(1));
    let base = extent / parts;
    let extra = extent % parts;
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let len = base + usize::from(i < extra);
        out.push((start, start + len));
        start += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute force: the set of input rows any output row in `[o0, o1)`
    /// touches, clipped.
    fn brute(ax: Axis, o0: usize, o1: usize) -> Option<(usize, usize)> {
        let mut rows = Vec::new();
        for o in o0..o1 {
            for k in 0..ax.kernel {
                let r = (o * ax.stride + k * ax.dilation) as i64 - ax.pad as i64;
                if r >= 0 && (r as usize) < ax.input {
                    rows.push(r as usize);
                }
            }
        }
        Some((*rows.iter().min()?, *rows.iter().max()? + 1))
    }

    #[test]
    fn stride_two_same_padding() {
        // 16 -> 8, k3 s2, pad 0 before (TFLite SAME on even input).
        let ax = Axis {
            kernel: 3,
            stride: 2,
            dilation: 1,
            pad: 0,
            input: 16,
        };
        assert_eq!(ax.needs(0, 4), (0, 9));
        assert_eq!(ax.needs(4, 8), (8, 16));
    }

    #[test]
    fn split_is_near_equal_and_covers() {
        assert_eq!(split(10, 3), vec![(0, 4), (4, 7), (7, 10)]);
        assert_eq!(split(4, 8), vec![(0, 1), (1, 2), (2, 3), (3, 4)]);
    }

    proptest! {
        #[test]
        fn needs_equals_brute_force(
            kernel in 1usize..6, stride in 1usize..4, dilation in 1usize..3,
            pad in 0usize..4, input in 1usize..40, a in 0usize..40, len in 1usize..10,
        ) {
            let ax = Axis { kernel, stride, dilation, pad, input };
            let eff = (kernel - 1) * dilation + 1;
            prop_assume!(input + 2 * pad >= eff);
            let out_extent = (input + 2 * pad - eff) / stride + 1;
            prop_assume!(a < out_extent);
            let b = (a + len).min(out_extent);
            let (x, y) = ax.needs(a, b);
            match brute(ax, a, b) {
                Some(expected) => prop_assert_eq!((x, y), expected),
                // Only padding is read: the window is empty.
                None => prop_assert!(x >= y),
            }
        }
    }
}
