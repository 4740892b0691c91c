//! Helpers shared by the kernel unit tests.

/// Deterministic xorshift64 generator (tests must not depend on `rand`).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }

    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next_u64() as i8).collect()
    }

    pub fn i32s(&mut self, n: usize, lo: i32, hi: i32) -> Vec<i32> {
        (0..n)
            .map(|_| self.range(lo as i64, hi as i64) as i32)
            .collect()
    }

    /// A realistic per-tensor/per-channel requantization multiplier
    /// (`[2^30, 2^31)`) and a right shift.
    pub fn multiplier(&mut self) -> (i32, i32) {
        let m = (1 << 30) + self.range(0, (1 << 30) - 1) as i32;
        let s = self.range(-12, -1) as i32;
        (m, s)
    }
}
