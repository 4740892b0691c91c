//! Views into the activation arena.
//!
//! The planner gives every buffer a fixed `(offset, len)` and guarantees that
//! an op's output never overlaps an input it still reads (except for kernels
//! written to run in place, which take a single `&mut` view). These helpers
//! turn those constants into borrow-checked slices; with constant arguments
//! the bounds checks fold away.

/// Reinterprets bytes as `i8` (the arena is stored as `u8`).
#[inline(always)]
pub fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: `u8` and `i8` have the same size and alignment and every bit
    // pattern is valid for both, so the slice layout is identical.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// Mutable form of [`as_i8`].
#[inline(always)]
pub fn as_i8_mut(bytes: &mut [u8]) -> &mut [i8] {
    // SAFETY: as in `as_i8`; the returned slice borrows `bytes` mutably, so no
    // aliasing is introduced.
    unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<i8>(), bytes.len()) }
}

/// Splits `arena` into `N` read-only input views and one output view.
///
/// Each input must lie entirely before or entirely after the output region;
/// inputs may overlap each other (the same tensor fed twice).
#[inline(always)]
pub fn views<const N: usize>(
    arena: &mut [u8],
    inputs: [(usize, usize); N],
    output: (usize, usize),
) -> ([&[i8]; N], &mut [i8]) {
    let (out_off, out_len) = output;
    let (before, rest) = arena.split_at_mut(out_off);
    let (out, after) = rest.split_at_mut(out_len);
    let (before, after): (&[u8], &[u8]) = (before, after);
    let out_end = out_off + out_len;
    let ins = inputs.map(|(off, len)| {
        if off + len <= out_off {
            as_i8(&before[off..off + len])
        } else {
            as_i8(&after[off - out_end..off - out_end + len])
        }
    });
    (ins, as_i8_mut(out))
}

/// A single mutable view, for kernels that run in place.
#[inline(always)]
pub fn view_mut(arena: &mut [u8], (off, len): (usize, usize)) -> &mut [i8] {
    as_i8_mut(&mut arena[off..off + len])
}

/// A single read-only view.
#[inline(always)]
pub fn view(arena: &[u8], (off, len): (usize, usize)) -> &[i8] {
    as_i8(&arena[off..off + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_on_both_sides_of_output() {
        let mut arena = [0u8; 16];
        for (i, b) in arena.iter_mut().enumerate() {
            *b = i as u8;
        }
        let ([a, b], out) = views(&mut arena, [(0, 4), (12, 4)], (4, 8));
        assert_eq!(a, &[0, 1, 2, 3]);
        assert_eq!(b, &[12, 13, 14, 15]);
        assert_eq!(out.len(), 8);
        out[0] = -1;
        assert_eq!(arena[4], 255);
    }

    #[test]
    fn same_input_twice() {
        let mut arena = [7u8; 8];
        let ([a, b], out) = views(&mut arena, [(4, 4), (4, 4)], (0, 4));
        assert_eq!(a, b);
        assert_eq!(out.len(), 4);
    }
}
