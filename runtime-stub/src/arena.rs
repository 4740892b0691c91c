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

/// Splits `arena` into `N` read-only views and `M` mutable views, for layers
/// with several outputs, a scratch buffer or an in-place operand.
///
/// The mutable views must be pairwise disjoint, and every read-only view
/// must lie entirely between them (read-only views may overlap each other).
/// The generated code's offsets are checked by the planner's verifier;
/// other offsets panic like an out-of-bounds index.
#[inline(always)]
pub fn split<const N: usize, const M: usize>(
    arena: &mut [u8],
    inputs: [(usize, usize); N],
    outputs: [(usize, usize); M],
) -> ([&[i8]; N], [&mut [i8]; M]) {
    let mut order: [usize; M] = core::array::from_fn(|i| i);
    order.sort_unstable_by_key(|&i| outputs[i].0);
    let mut outs: [&mut [i8]; M] = core::array::from_fn(|_| Default::default());
    // The read-only gap before each mutable view, then the tail.
    let mut gaps: [(usize, &[u8]); M] = [(0, &[]); M];
    let mut rest: &mut [u8] = arena;
    let mut base = 0;
    for (k, &i) in order.iter().enumerate() {
        let (off, len) = outputs[i];
        let (gap, tail) = core::mem::take(&mut rest).split_at_mut(off - base);
        let (out, tail) = tail.split_at_mut(len);
        gaps[k] = (base, gap);
        outs[i] = as_i8_mut(out);
        rest = tail;
        base = off + len;
    }
    let tail: (usize, &[u8]) = (base, rest);
    let ins = inputs.map(|(off, len)| {
        let (start, bytes) = gaps
            .iter()
            .copied()
            .find(|&(b, g)| b <= off && off + len <= b + g.len())
            .unwrap_or(tail);
        as_i8(&bytes[off - start..off - start + len])
    });
    (ins, outs)
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

/// The bytes of an arena placed in a memory region of its own (a linker
/// section of the generated `memory.x`), 16-byte aligned. Used only through
/// [`RegionArena`] and [`crate::region_arena!`].
#[repr(C, align(16))]
pub struct RegionBytes<const N: usize>(core::cell::UnsafeCell<[u8; N]>);

// SAFETY: the bytes are only reached through `RegionArena::with`, which
// hands out one `&mut` at a time.
unsafe impl<const N: usize> Sync for RegionBytes<N> {}

impl<const N: usize> RegionBytes<N> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        RegionBytes(core::cell::UnsafeCell::new([0; N]))
    }
}

/// An arena in another SRAM region than the model's own (e.g. the
/// STM32H743's AXI SRAM next to its DTCM), lent to one inference at a time.
///
/// Its bytes live in a section that startup code need not initialize (the
/// planner never reads a byte before writing it); the busy flag lives here,
/// in `.data`/`.bss`, which it does initialize.
pub struct RegionArena<const N: usize> {
    bytes: &'static RegionBytes<N>,
    busy: core::sync::atomic::AtomicBool,
}

impl<const N: usize> RegionArena<N> {
    /// # Safety
    ///
    /// `bytes` must be used by this `RegionArena` only (the
    /// [`crate::region_arena!`] macro declares them together, privately).
    pub const unsafe fn new(bytes: &'static RegionBytes<N>) -> Self {
        RegionArena {
            bytes,
            busy: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `f` with the arena's bytes; `None` (without running `f`) if they
    /// are already lent, e.g. to an inference this one interrupted.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        if !self.acquire() {
            return None;
        }
        // SAFETY: `acquire` succeeded, so no other `&mut` to the bytes
        // exists until `release`, and only this arena uses them.
        let bytes = unsafe { &mut *self.bytes.0.get() };
        let r = f(&mut bytes[..]);
        self.busy
            .store(false, core::sync::atomic::Ordering::Release);
        Some(r)
    }

    #[cfg(target_has_atomic = "8")]
    fn acquire(&self) -> bool {
        !self.busy.swap(true, core::sync::atomic::Ordering::Acquire)
    }

    /// Cores without atomic swap (ARMv6-M) are single-core: an interrupt
    /// between the load and the store would have released the flag again
    /// before returning, unless it was an inference itself, which then
    /// finds the flag set.
    #[cfg(not(target_has_atomic = "8"))]
    fn acquire(&self) -> bool {
        use core::sync::atomic::Ordering;
        if self.busy.load(Ordering::Acquire) {
            return false;
        }
        self.busy.store(true, Ordering::Release);
        true
    }
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

    #[test]
    fn split_gives_disjoint_mutable_views_and_inputs_between_them() {
        let mut arena = [0u8; 32];
        for (i, b) in arena.iter_mut().enumerate() {
            *b = i as u8;
        }
        // Mutable views given out of offset order; inputs in the gaps.
        let ([a, b, c], [data, scratch]) =
            split(&mut arena, [(0, 4), (26, 6), (8, 2)], [(16, 8), (4, 4)]);
        assert_eq!(a, &[0, 1, 2, 3]);
        assert_eq!(b, &[26, 27, 28, 29, 30, 31]);
        assert_eq!(c, &[8, 9]);
        assert_eq!(data.len(), 8);
        assert_eq!(scratch.len(), 4);
        data[0] = -1;
        scratch[3] = -2;
        assert_eq!((arena[16], arena[7]), (255, 254));
        // No inputs, no outputs.
        let ([], []) = split(&mut arena, [], []);
    }

    #[test]
    #[should_panic]
    fn split_panics_on_an_input_overlapping_a_mutable_view() {
        let mut arena = [0u8; 16];
        let _ = split(&mut arena, [(2, 4)], [(4, 4)]);
    }

    crate::region_arena!(TEST_REGION, ".mcuc.test", 64);

    #[test]
    fn region_arena_lends_its_bytes_once_at_a_time() {
        let r = TEST_REGION.with(|bytes| {
            bytes[63] = 7;
            // Nested use finds it lent.
            assert!(TEST_REGION.with(|_| ()).is_none());
            bytes.len()
        });
        assert_eq!(r, Some(64));
        assert_eq!(TEST_REGION.with(|bytes| bytes[63]), Some(7));
    }
}
