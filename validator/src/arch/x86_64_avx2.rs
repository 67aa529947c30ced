//! AVX2: a 64-byte block in two 256-bit registers. The loops are the shared
//! ones of `arch` (the macros), on these primitives.

use core::arch::x86_64::*;

use super::{per_lane, BLOCK, PREV_HIGH, PREV_LOW, THIS_HIGH};

type V = __m256i;
const LANES: usize = 32;

#[target_feature(enable = "avx2")]
#[inline]
fn zero() -> V {
    _mm256_setzero_si256()
}

#[target_feature(enable = "avx2")]
#[inline]
fn splat(byte: u8) -> V {
    _mm256_set1_epi8(byte as i8)
}

#[target_feature(enable = "avx2")]
#[inline]
fn splat_key(key: [u8; 4]) -> V {
    _mm256_set1_epi32(i32::from_ne_bytes(key))
}

#[target_feature(enable = "avx2")]
#[inline]
fn and(a: V, b: V) -> V {
    _mm256_and_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn or(a: V, b: V) -> V {
    _mm256_or_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn xor(a: V, b: V) -> V {
    _mm256_xor_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn saturating_sub(a: V, b: V) -> V {
    _mm256_subs_epu8(a, b)
}

/// Zeros, but for the last four bytes: `word`'s, in memory order.
#[target_feature(enable = "avx2")]
#[inline]
fn ending_with(word: u32) -> V {
    _mm256_insert_epi32::<7>(zero(), word as i32)
}

#[target_feature(enable = "avx2")]
#[inline]
fn is_ascii(v: V) -> bool {
    // `vptest` against the top bits: one instruction and the branch.
    _mm256_testz_si256(v, splat(0x80)) != 0
}

#[target_feature(enable = "avx2")]
#[inline]
fn any(v: V) -> bool {
    _mm256_testz_si256(v, v) == 0
}

/// # Safety
///
/// `at` is readable for 32 bytes (any alignment).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load(at: *const u8) -> V {
    // SAFETY: the caller's contract; the load is unaligned.
    unsafe { _mm256_loadu_si256(at.cast()) }
}

/// # Safety
///
/// `at` is writable for 32 bytes (any alignment).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn store(at: *mut u8, v: V) {
    // SAFETY: the caller's contract; the store is unaligned.
    unsafe { _mm256_storeu_si256(at.cast(), v) }
}

#[target_feature(enable = "avx2")]
#[inline]
fn load_const(bytes: &[u8; LANES]) -> V {
    // SAFETY: `bytes` is 32 readable bytes; the load is unaligned.
    unsafe { load(bytes.as_ptr()) }
}

#[target_feature(enable = "avx2")]
#[inline]
fn prefetch(at: *const u8) {
    _mm_prefetch::<_MM_HINT_T0>(at.cast());
}

/// The bytes `16 - SHIFT` places before each byte of `input`, the first ones
/// from the end of `prev` (`vpalignr` works per 128-bit lane, so the
/// lane-crossing half comes from `vperm2i128` first).
#[target_feature(enable = "avx2")]
#[inline]
fn before<const SHIFT: i32>(input: V, prev: V) -> V {
    let straddle = _mm256_permute2x128_si256::<0x21>(prev, input);
    _mm256_alignr_epi8::<SHIFT>(input, straddle)
}

/// `vpshufb` reads only the low nibble of an index whose top bit is clear.
#[target_feature(enable = "avx2")]
#[inline]
fn high_nibble(v: V) -> V {
    and(_mm256_srli_epi16::<4>(v), splat(0x0F))
}

#[target_feature(enable = "avx2")]
#[inline]
fn lookup_prev_high(prev1: V) -> V {
    const TABLE: [u8; LANES] = per_lane(PREV_HIGH);
    _mm256_shuffle_epi8(load_const(&TABLE), high_nibble(prev1))
}

#[target_feature(enable = "avx2")]
#[inline]
fn lookup_prev_low(prev1: V) -> V {
    const TABLE: [u8; LANES] = per_lane(PREV_LOW);
    _mm256_shuffle_epi8(load_const(&TABLE), and(prev1, splat(0x0F)))
}

#[target_feature(enable = "avx2")]
#[inline]
fn lookup_this_high(input: V) -> V {
    const TABLE: [u8; LANES] = per_lane(THIS_HIGH);
    _mm256_shuffle_epi8(load_const(&TABLE), high_nibble(input))
}

utf8_check!("avx2");
block_loop!("avx2");
mask_loops!("avx2");
