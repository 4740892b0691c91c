//! Fixed-point arithmetic, bit-exact with TFLite's reference kernels
//! (`tensorflow/lite/kernels/internal/common.h` and gemmlowp's
//! `fixedpoint.h`, as used by tflite-micro at commit `90b983c2`).
//!
//! Conventions:
//! - Raw fixed-point values are plain `i32`. A value "in Q`m`" has `m`
//!   integer bits and `31 - m` fractional bits (gemmlowp's
//!   `FixedPoint<int32_t, m>`). Functions that depend on the format take it
//!   as a const generic (`INTEGER_BITS`), so specialized code folds it away.
//! - Where the C++ relies on two's-complement wrap-around (signed overflow in
//!   `int32_t` arithmetic that TFLite compiles with
//!   `TFLITE_NO_SANITIZE_INTEGER_OVERFLOW`, or gemmlowp's plain `a + b`), we
//!   use `wrapping_*` so that results match and nothing panics.
//! - Nothing here panics: shift amounts are clamped to the range the C++
//!   documents (`0..=31` for rounding right shifts).
//!
//! TFLM at this commit is built **without** `TFLITE_SINGLE_ROUNDING`, so
//! [`multiply_by_quantized_multiplier`] is the *double-rounding* variant:
//! a saturating rounding doubling high multiply followed by a rounding
//! right shift.

/// gemmlowp `SaturatingRoundingDoublingHighMul` for `int32` (ARM `VQRDMULH`):
/// `floor(a * b / 2^31 + 1/2)`, i.e. ties round toward +infinity (`-1.5`
/// gives `-1`), with the single overflow case `i32::MIN * i32::MIN`
/// saturating to `i32::MAX`.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncates toward zero, as in C++.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties
/// away from zero. `exponent` is clamped to `0..=31` (the C++ asserts that
/// range).
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = clamp_shift(exponent);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// gemmlowp `SaturatingRoundingMultiplyByPOT` (compile-time exponent in C++;
/// here a runtime one, which folds when constant): a saturating left shift
/// for `exponent > 0`, a rounding right shift for `exponent < 0`.
#[inline]
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent > 0 {
        if exponent >= 31 {
            // Every non-zero value saturates.
            return if x > 0 {
                i32::MAX
            } else if x < 0 {
                i32::MIN
            } else {
                0
            };
        }
        let threshold = (1i32 << (31 - exponent)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x << exponent
        }
    } else if exponent < 0 {
        rounding_divide_by_pot(x, -exponent)
    } else {
        x
    }
}

/// TFLite `MultiplyByQuantizedMultiplier(int32_t x, int32_t m, int shift)`,
/// double-rounding variant (the one TFLM uses): `shift > 0` multiplies by
/// `2^shift` first (wrapping, as the C++ does), `shift < 0` divides after the
/// high multiply with rounding.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, quantized_multiplier: i32, shift: i32) -> i32 {
    let left_shift = if shift > 0 { shift } else { 0 };
    let right_shift = if shift > 0 { 0 } else { -shift };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(
            x.wrapping_mul(pot_i32(left_shift)),
            quantized_multiplier,
        ),
        right_shift,
    )
}

/// TFLite `MultiplyByQuantizedMultiplier(int64_t x, int32_t m, int shift)`
/// (used by int16 paths with 64-bit accumulators): the multiplier is reduced
/// to 16 bits and a single rounding shift is applied. Inputs are assumed in
/// TFLite's documented range (`|x| < 2^47`, `-31 <= shift < 8`); outside it
/// the arithmetic wraps instead of panicking.
#[inline]
pub fn multiply_by_quantized_multiplier_i64(x: i64, quantized_multiplier: i32, shift: i32) -> i32 {
    let reduced_multiplier: i64 = if quantized_multiplier < 0x7FFF_0000 {
        ((quantized_multiplier as i64 + (1 << 15)) >> 16) as i32 as i64
    } else {
        0x7FFF
    };
    let total_shift = (15 - shift).clamp(1, 63) as u32;
    let rounded = x
        .wrapping_mul(reduced_multiplier)
        .wrapping_add(1i64 << (total_shift - 1));
    (rounded >> total_shift) as i32
}

/// TFLite `MultiplyByQuantizedMultiplierSmallerThanOneExp` (double rounding):
/// `RoundingDivideByPOT(SRDHM(x, m), -left_shift)` with `left_shift <= 0`.
#[inline]
pub fn multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: i32,
    quantized_multiplier: i32,
    left_shift: i32,
) -> i32 {
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x, quantized_multiplier),
        -left_shift,
    )
}

/// TFLite `MultiplyByQuantizedMultiplierGreaterThanOne` (double rounding):
/// `SRDHM(x * 2^left_shift, m)` with a wrapping pre-shift.
#[inline]
pub fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    quantized_multiplier: i32,
    left_shift: i32,
) -> i32 {
    saturating_rounding_doubling_high_mul(x.wrapping_mul(pot_i32(left_shift)), quantized_multiplier)
}

/// gemmlowp `RoundingHalfSum` for `int32`: `(a + b) / 2` rounded half away
/// from zero, computed in 64 bits.
#[inline]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp `Rescale<DST>` of a value in Q`SRC`: changes the number of
/// integer bits, rounding (fewer fractional bits) or saturating (more).
#[inline]
pub fn rescale<const SRC: i32, const DST: i32>(x: i32) -> i32 {
    saturating_rounding_multiply_by_pot(x, SRC - DST)
}

/// `1.0` in Q`INTEGER_BITS` (gemmlowp `FixedPoint::One()`; `i32::MAX` in Q0).
#[inline]
pub const fn one<const INTEGER_BITS: i32>() -> i32 {
    if INTEGER_BITS == 0 {
        i32::MAX
    } else {
        1 << (31 - INTEGER_BITS)
    }
}

/// gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl`:
/// `exp(a)` for `a` in `[-1/4, 0)`, both in Q0.31 (Taylor expansion around
/// `-1/8`).
#[inline]
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
    const CONSTANT_1_OVER_3: i32 = 715_827_883;
    let mul = saturating_rounding_doubling_high_mul;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        mul(x4_over_4.wrapping_add(x3), CONSTANT_1_OVER_3).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(mul(
        CONSTANT_TERM,
        x.wrapping_add(x4_over_24_plus_x3_over_6_plus_x2_over_2),
    ))
}

/// gemmlowp `exp_on_negative_values`: `exp(a)` for `a <= 0` given in
/// Q`INTEGER_BITS`; the result is in Q0.31 (`exp(0)` gives `i32::MAX`).
#[inline]
pub fn exp_on_negative_values<const INTEGER_BITS: i32>(a: i32) -> i32 {
    let fractional_bits = 31 - INTEGER_BITS;
    let one_quarter = 1i32 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, INTEGER_BITS),
    );
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);

    // Barrel shifter over the integer and top fractional bits of -a:
    // (exponent of 2, exp(-2^exponent) in Q0.31).
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    let mut i = 0;
    while i < BARREL.len() {
        let (exponent, multiplier) = BARREL[i];
        if INTEGER_BITS > exponent {
            let shift_amount = fractional_bits + exponent;
            if remainder & (1i32 << shift_amount) != 0 {
                result = saturating_rounding_doubling_high_mul(result, multiplier);
            }
        }
        i += 1;
    }

    if INTEGER_BITS > 5 {
        let clamp = -(1i32 << (36 - INTEGER_BITS)); // -32.0
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// Newton-Raphson reciprocal shared by [`one_over_one_plus_x_for_x_in_0_1`]
/// and [`one_minus_x_over_one_plus_x_for_x_in_0_1`]: returns `x ~ 1 /
/// ((1 + a) / 2)` in Q2.29.
#[inline]
fn newton_raphson_reciprocal_q2(half_denominator: i32) -> i32 {
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810; // Q2
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540; // Q2
    const ONE_Q2: i32 = 1 << 29;
    let mul = saturating_rounding_doubling_high_mul;
    let mut x = CONSTANT_48_OVER_17.wrapping_add(mul(half_denominator, CONSTANT_NEG_32_OVER_17));
    let mut i = 0;
    while i < 3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus_half_denominator_times_x = ONE_Q2.wrapping_sub(half_denominator_times_x);
        // Q2 * Q2 = Q4, rescaled back to Q2.
        x = x.wrapping_add(rescale::<4, 2>(mul(x, one_minus_half_denominator_times_x)));
        i += 1;
    }
    x
}

/// gemmlowp `one_over_one_plus_x_for_x_in_0_1`: `1 / (1 + a)` for `a` in
/// `[0, 1)`, Q0.31 in and out.
#[inline]
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let x = newton_raphson_reciprocal_q2(half_denominator);
    // ExactMulByPot<-1> turns Q2 into Q1 without touching the raw value.
    rescale::<1, 0>(x)
}

/// gemmlowp `one_minus_x_over_one_plus_x_for_x_in_0_1`: `(1 - a) / (1 + a)`
/// for `a` in `[0, 1)`, Q0.31 in and out.
#[inline]
pub fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let x = newton_raphson_reciprocal_q2(half_denominator);
    rescale::<2, 0>(x.wrapping_sub(1 << 29))
}

/// gemmlowp `tanh` for an input in Q`INTEGER_BITS`; result in Q0.31.
#[inline]
pub fn tanh<const INTEGER_BITS: i32>(a: i32) -> i32 {
    if a == 0 {
        return 0;
    }
    let negative = a < 0;
    let n = if negative { a } else { a.wrapping_neg() };
    // neg_tanh_on_negative_values: ExactMulByPot<1> reinterprets n with one
    // more integer bit, i.e. exp(2n).
    let t = one_minus_x_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values_plus_one::<INTEGER_BITS>(n),
    );
    if negative { t.wrapping_neg() } else { t }
}

/// `exp_on_negative_values` with one more integer bit than `INTEGER_BITS`
/// (gemmlowp's `ExactMulByPot<1>`), for [`tanh`]. Stable Rust cannot write
/// `INTEGER_BITS + 1` as a const argument, so the supported formats are
/// listed explicitly.
#[inline]
fn exp_on_negative_values_plus_one<const INTEGER_BITS: i32>(a: i32) -> i32 {
    match INTEGER_BITS {
        0 => exp_on_negative_values::<1>(a),
        1 => exp_on_negative_values::<2>(a),
        2 => exp_on_negative_values::<3>(a),
        3 => exp_on_negative_values::<4>(a),
        4 => exp_on_negative_values::<5>(a),
        5 => exp_on_negative_values::<6>(a),
        _ => exp_on_negative_values::<7>(a),
    }
}

/// gemmlowp `logistic` for an input in Q`INTEGER_BITS`; result in Q0.31.
#[inline]
pub fn logistic<const INTEGER_BITS: i32>(a: i32) -> i32 {
    if a == 0 {
        return 1 << 30; // one half
    }
    let positive = a > 0;
    let abs_input = if positive { a } else { a.wrapping_neg() };
    let result_if_positive = one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values::<INTEGER_BITS>(abs_input.wrapping_neg()),
    );
    if positive {
        result_if_positive
    } else {
        i32::MAX.wrapping_sub(result_if_positive)
    }
}

/// TFLite `GetReciprocal(x, x_integer_digits, &num_bits_over_unit)` for
/// `x > 0` in Q`x_integer_digits`: returns `(reciprocal in Q0.31 scaled into
/// [0.5, 1), num_bits_over_unit)` so that `1/x = reciprocal * 2^num_bits`.
#[inline]
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    let shifted_sum_minus_one = (x as u32)
        .checked_shl(headroom_plus_one)
        .unwrap_or(0)
        .wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

/// `round(x)` with ties away from zero (C `roundf`, TFLite `TfLiteRound`)
/// converted to `i32`, saturating at the `i32` range (NaN gives 0).
///
/// `core` has no `f32::round`; this is exact: for `|x| < 2^23` the
/// difference between `x` and its truncation is representable, and larger
/// floats are integers already.
#[inline]
pub fn round_f32_to_i32(x: f32) -> i32 {
    let t = x as i32; // truncates toward zero, saturates, NaN -> 0
    if x.abs() < 8_388_608.0 {
        let frac = x - t as f32;
        if frac >= 0.5 {
            return t + 1;
        }
        if frac <= -0.5 {
            return t - 1;
        }
    }
    t
}

/// TFLite `AffineQuantize` of one float to int8: `round(x / scale) + zp`
/// clamped to `[-128, 127]`, with the division in `f32` as TFLite does it.
/// Out-of-range quotients saturate (TFLite's `static_cast<int32_t>` is
/// undefined there; on the x86 goldens host it yields `INT32_MIN`).
#[inline]
pub fn quantize_f32_to_i8(x: f32, scale: f32, zero_point: i32) -> i8 {
    let q = round_f32_to_i32(x / scale).saturating_add(zero_point);
    q.clamp(-128, 127) as i8
}

/// TFLite `Dequantize` of one int8: `scale * (q - zp)` rounded once to `f32`.
/// TFLite multiplies in `double` and casts; the exact product of a float
/// scale and a 9-bit integer fits in a double, so a single `f32` multiply
/// (correctly rounded) gives the same bits.
#[inline]
pub fn dequantize_i8_to_f32(q: i8, scale: f32, zero_point: i32) -> f32 {
    scale * (q as i32 - zero_point) as f32
}

#[inline]
fn clamp_shift(exponent: i32) -> i32 {
    exponent.clamp(0, 31)
}

/// `1 << shift` as C computes it for `0 <= shift <= 31` (`1 << 31` is
/// `i32::MIN`); shifts outside that range give 0.
#[inline]
fn pot_i32(shift: i32) -> i32 {
    if (0..32).contains(&shift) {
        1i32.wrapping_shl(shift as u32)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift for property tests (no dependencies).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn i32(&mut self) -> i32 {
            self.next() as i32
        }
    }

    /// Exact reference: round-half-away-from-zero of `num / den` for den > 0.
    fn div_round_away(num: i128, den: i128) -> i128 {
        let q = num.abs() * 2 + den;
        let r = q / (2 * den);
        if num < 0 { -r } else { r }
    }

    /// Exact reference: round-half-up (`floor(num / den + 1/2)`), den > 0.
    fn div_round_half_up(num: i128, den: i128) -> i128 {
        (2 * num + den).div_euclid(2 * den)
    }

    #[test]
    fn srdhm_known_values() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX),
            -i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MAX, i32::MAX),
            i32::MAX - 1
        );
        assert_eq!(saturating_rounding_doubling_high_mul(0, i32::MIN), 0);
        // 0.5 * 0.5 = 0.25
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // Ties round up: 1.5 -> 2, -1.5 -> -1, 0.5 -> 1, -0.5 -> 0.
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        // Non-ties round to nearest: -2.25 -> -2, -2.75 -> -3.
        assert_eq!(saturating_rounding_doubling_high_mul(-9, 1 << 29), -2);
        assert_eq!(saturating_rounding_doubling_high_mul(-11, 1 << 29), -3);
    }

    #[test]
    fn srdhm_matches_exact_rounding() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..200_000 {
            let (a, b) = (rng.i32(), rng.i32());
            if a == i32::MIN && b == i32::MIN {
                continue;
            }
            let exact = div_round_half_up(a as i128 * b as i128, 1 << 31);
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b) as i128,
                exact,
                "{a} {b}"
            );
        }
        // Ties specifically (b = 2^30 makes a*b/2^31 = a/2).
        for a in -1000..1000 {
            let exact = div_round_half_up(a as i128, 2);
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, 1 << 30) as i128,
                exact
            );
        }
    }

    #[test]
    fn rounding_divide_by_pot_known_values() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5 -> 3
        assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5 -> -3
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // -1.5 -> -2
        assert_eq!(rounding_divide_by_pot(-5, 2), -1); // -1.25 -> -1
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(-(1 << 30), 31), -1); // -0.5 -> -1
        assert_eq!(rounding_divide_by_pot((1 << 30) - 1, 31), 0);
        // Out-of-range exponents are clamped rather than panicking.
        assert_eq!(rounding_divide_by_pot(-5, -3), -5);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 40), -1);
    }

    #[test]
    fn rounding_divide_by_pot_matches_exact_rounding() {
        let mut rng = Rng(42);
        for _ in 0..200_000 {
            let x = rng.i32();
            let e = (rng.next() % 32) as i32;
            let exact = div_round_away(x as i128, 1i128 << e);
            assert_eq!(rounding_divide_by_pot(x, e) as i128, exact, "{x} >> {e}");
        }
    }

    #[test]
    fn multiply_by_quantized_multiplier_double_rounds() {
        // 0.75 (m = 0.75 * 2^31 = 1610612736, shift 0)
        assert_eq!(multiply_by_quantized_multiplier(100, 1_610_612_736, 0), 75);
        // 0.75 * 2^-3 = 0.09375: 100 -> 9.375 -> 9
        assert_eq!(multiply_by_quantized_multiplier(100, 1_610_612_736, -3), 9);
        // Double rounding differs from single rounding: x = 3, m = 0.5 + 2^-31
        // (1073741825), shift -1: SRDHM gives round(1.5000...) = 2, then
        // 2 / 2 = 1; single rounding of 0.75000... would give 1 as well, but
        // with x = 5: SRDHM(5) = round(2.5000..) = 3, 3/2 = 1.5 -> 2, while
        // 5 * 0.25 = 1.25 -> 1.
        assert_eq!(multiply_by_quantized_multiplier(5, 1_073_741_825, -1), 2);
        // Left shift: 3 * 2^2 * 0.5 = 6.
        assert_eq!(multiply_by_quantized_multiplier(3, 1 << 30, 2), 6);
    }

    #[test]
    fn multiply_by_quantized_multiplier_negative_rounding_steps() {
        // SRDHM(-5, 0.5) rounds the tie -2.5 up to -2; RDBPOT(-2, 1) = -1,
        // whereas RDBPOT rounds its own ties away from zero: -3/2 -> -2.
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
        assert_eq!(rounding_divide_by_pot(-2, 1), -1);
        assert_eq!(rounding_divide_by_pot(-3, 1), -2);
        // The combined helper equals the two steps for random inputs.
        let mut rng = Rng(7);
        for _ in 0..100_000 {
            let x = rng.i32() >> 8;
            let m = (rng.i32() & 0x7fff_ffff) | (1 << 30);
            let shift = (rng.next() % 40) as i32 - 31;
            let expected = if shift > 0 {
                saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << shift), m)
            } else {
                rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, m), -shift)
            };
            assert_eq!(multiply_by_quantized_multiplier(x, m, shift), expected);
        }
        assert_eq!(multiply_by_quantized_multiplier(-5, 1 << 30, -1), -1);
    }

    #[test]
    fn multiply_by_quantized_multiplier_is_close_to_real_product() {
        let mut rng = Rng(99);
        for _ in 0..100_000 {
            let x = (rng.i32() >> 12) as i64;
            let m = ((rng.next() as u32) >> 1 | (1 << 30)) as i32;
            let shift = (rng.next() % 20) as i32 - 15;
            let real = x as f64 * m as f64 / 2f64.powi(31) * 2f64.powi(shift);
            if real.abs() > 2e9 {
                continue;
            }
            let got = multiply_by_quantized_multiplier(x as i32, m, shift) as f64;
            // Two roundings: within one unit of the real product.
            assert!(
                (got - real).abs() <= 1.0,
                "{x} {m} {shift}: {got} vs {real}"
            );
        }
    }

    #[test]
    fn smaller_and_greater_than_one_variants() {
        assert_eq!(
            multiply_by_quantized_multiplier_smaller_than_one_exp(1000, 1 << 30, -2),
            125
        );
        assert_eq!(
            multiply_by_quantized_multiplier_smaller_than_one_exp(-1001, 1 << 30, -2),
            -125
        );
        assert_eq!(
            multiply_by_quantized_multiplier_greater_than_one(-7, 1 << 30, 3),
            -28
        );
        // Pre-shift wraps like the C++ int32 multiply.
        assert_eq!(
            multiply_by_quantized_multiplier_greater_than_one(1 << 30, i32::MAX, 2),
            saturating_rounding_doubling_high_mul(0, i32::MAX)
        );
    }

    #[test]
    fn multiply_by_quantized_multiplier_i64_single_rounds() {
        // m = 0.5 -> reduced 16384 (0.5 in Q15); 3 * 0.5 = 1.5 -> 2.
        assert_eq!(multiply_by_quantized_multiplier_i64(3, 1 << 30, 0), 2);
        assert_eq!(multiply_by_quantized_multiplier_i64(-3, 1 << 30, 0), -1); // floor(-1.5 + 0.5)
        assert_eq!(
            multiply_by_quantized_multiplier_i64(1 << 40, 1 << 30, -10),
            1 << 29
        );
        // Multipliers near 1.0 clamp the reduced multiplier to 0x7FFF.
        assert_eq!(
            multiply_by_quantized_multiplier_i64(1 << 20, i32::MAX, 0),
            (((1i64 << 20) * 0x7FFF + (1 << 14)) >> 15) as i32
        );
    }

    #[test]
    fn saturating_pot_and_rescale() {
        assert_eq!(saturating_rounding_multiply_by_pot(1 << 29, 1), 1 << 30);
        assert_eq!(saturating_rounding_multiply_by_pot(1 << 30, 1), i32::MAX);
        assert_eq!(saturating_rounding_multiply_by_pot(-(1 << 30), 1), i32::MIN);
        assert_eq!(
            saturating_rounding_multiply_by_pot(-(1 << 30) + 1, 1),
            i32::MIN + 2
        );
        assert_eq!(saturating_rounding_multiply_by_pot(6, -2), 2); // 1.5 -> 2
        assert_eq!(saturating_rounding_multiply_by_pot(5, 31), i32::MAX);
        assert_eq!(rescale::<0, 12>(i32::MAX), 1 << 19);
        assert_eq!(rescale::<4, 2>(1 << 25), 1 << 27);
        assert_eq!(rounding_half_sum(3, 4), 4);
        assert_eq!(rounding_half_sum(-3, -4), -4);
        assert_eq!(rounding_half_sum(i32::MAX, i32::MAX), i32::MAX);
        assert_eq!(one::<0>(), i32::MAX);
        assert_eq!(one::<2>(), 1 << 29);
    }

    fn q(x: f64, integer_bits: i32) -> i32 {
        (x * 2f64.powi(31 - integer_bits)).round() as i32
    }

    fn real(raw: i32, integer_bits: i32) -> f64 {
        raw as f64 / 2f64.powi(31 - integer_bits)
    }

    #[test]
    fn exp_on_negative_values_approximates_exp() {
        assert_eq!(exp_on_negative_values::<5>(0), i32::MAX);
        let mut x = -31.9;
        while x < 0.0 {
            let got = real(exp_on_negative_values::<5>(q(x, 5)), 0);
            assert!((got - x.exp()).abs() < 2e-7, "exp({x}) = {got}");
            x += 0.0137;
        }
        // Q4 inputs (logistic) and Q6 (clamp at -32 is active above 5 bits).
        assert!((real(exp_on_negative_values::<4>(q(-1.0, 4)), 0) - (-1f64).exp()).abs() < 2e-7);
        assert_eq!(exp_on_negative_values::<6>(q(-33.0, 6)), 0);
    }

    #[test]
    fn exp_on_quarter_interval_known_value() {
        // exp(-1/8) is the expansion point: x = 0 gives the constant term.
        assert_eq!(
            exp_on_interval_between_negative_one_quarter_and_0_excl(-(1 << 28)),
            1_895_147_668
        );
    }

    #[test]
    fn reciprocal_helpers_approximate() {
        for i in 0..1000 {
            let a = i as f64 / 1000.0;
            let r = real(one_over_one_plus_x_for_x_in_0_1(q(a, 0)), 0);
            assert!((r - 1.0 / (1.0 + a)).abs() < 1e-8, "1/(1+{a}) = {r}");
            let t = real(one_minus_x_over_one_plus_x_for_x_in_0_1(q(a, 0)), 0);
            assert!(
                (t - (1.0 - a) / (1.0 + a)).abs() < 1e-8,
                "(1-a)/(1+a) {a} = {t}"
            );
        }
        // sum = 3.0 in Q12: 1/3 = 0.6666 * 2^-1.
        let (scale, bits) = get_reciprocal(3 << 19, 12);
        assert_eq!(bits, 1);
        assert!((real(scale, 0) * 2f64.powi(-bits) - 1.0 / 3.0).abs() < 1e-8);
        // No panic for zero (never produced by softmax, whose sum is >= 1).
        let _ = get_reciprocal(0, 12);
    }

    #[test]
    fn logistic_and_tanh_approximate() {
        assert_eq!(logistic::<4>(0), 1 << 30);
        assert_eq!(tanh::<4>(0), 0);
        let mut x = -15.9;
        while x < 15.9 {
            let l = real(logistic::<4>(q(x, 4)), 0);
            assert!(
                (l - 1.0 / (1.0 + (-x).exp())).abs() < 1e-7,
                "logistic({x}) = {l}"
            );
            let t = real(tanh::<4>(q(x, 4)), 0);
            assert!((t - x.tanh()).abs() < 1e-7, "tanh({x}) = {t}");
            x += 0.0371;
        }
        // Odd / complementary symmetry holds exactly in the raw values.
        let v = q(1.3, 4);
        assert_eq!(tanh::<4>(-v), -tanh::<4>(v));
        assert_eq!(logistic::<4>(-v), i32::MAX - logistic::<4>(v));
    }

    #[test]
    fn float_rounding_is_half_away_from_zero() {
        assert_eq!(round_f32_to_i32(0.5), 1);
        assert_eq!(round_f32_to_i32(-0.5), -1);
        assert_eq!(round_f32_to_i32(1.5), 2);
        assert_eq!(round_f32_to_i32(2.5), 3);
        assert_eq!(round_f32_to_i32(-2.5), -3);
        assert_eq!(round_f32_to_i32(0.49999997), 0);
        assert_eq!(round_f32_to_i32(-0.49999997), 0);
        assert_eq!(round_f32_to_i32(8_388_607.5), 8_388_608);
        assert_eq!(round_f32_to_i32(16_777_216.0), 16_777_216);
        assert_eq!(round_f32_to_i32(3.0e9), i32::MAX);
        assert_eq!(round_f32_to_i32(-3.0e9), i32::MIN);
        assert_eq!(round_f32_to_i32(f32::NAN), 0);
        // Against f64 rounding (std is available in tests).
        let mut rng = Rng(5);
        for _ in 0..100_000 {
            let x = f32::from_bits(rng.next() as u32);
            if !x.is_finite() || x.abs() > 1e9 {
                continue;
            }
            assert_eq!(round_f32_to_i32(x), (x as f64).round() as i32, "{x}");
        }
    }

    #[test]
    fn quantize_and_dequantize_one_value() {
        assert_eq!(quantize_f32_to_i8(0.5, 0.25, -1), 1);
        assert_eq!(quantize_f32_to_i8(-0.375, 0.25, 0), -2); // -1.5 -> -2
        assert_eq!(quantize_f32_to_i8(1.0e6, 0.25, 0), 127);
        assert_eq!(quantize_f32_to_i8(-1.0e6, 0.25, 0), -128);
        assert_eq!(dequantize_i8_to_f32(-128, 0.5, -128), 0.0);
        assert_eq!(
            dequantize_i8_to_f32(127, 0.1, 0),
            (0.1f32 as f64 * 127.0) as f32
        );
        // f32 product equals TFLite's double product cast to float.
        let mut rng = Rng(11);
        for _ in 0..100_000 {
            let scale = f32::from_bits((rng.next() as u32 & 0x007f_ffff) | 0x3800_0000);
            let zp = (rng.next() % 256) as i32 - 128;
            let v = rng.next() as i8;
            let expected = (scale as f64 * (v as i32 - zp) as f64) as f32;
            assert_eq!(
                dequantize_i8_to_f32(v, scale, zp).to_bits(),
                expected.to_bits()
            );
        }
    }
}
