//! NEON (the aarch64 baseline): a 64-byte block in four 128-bit registers.
//! The loops are the shared ones of `arch` (the macros), on these
//! primitives.

use core::arch::aarch64::*;

use super::{BLOCK, PREV_HIGH, PREV_LOW, THIS_HIGH};

type V = uint8x16_t;
const LANES: usize = 16;

#[target_feature(enable = "neon")]
#[inline]
fn zero() -> V {
    vdupq_n_u8(0)
}

#[target_feature(enable = "neon")]
#[inline]
fn splat(byte: u8) -> V {
    vdupq_n_u8(byte)
}

#[target_feature(enable = "neon")]
#[inline]
fn splat_key(key: [u8; 4]) -> V {
    vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(key)))
}

#[target_feature(enable = "neon")]
#[inline]
fn and(a: V, b: V) -> V {
    vandq_u8(a, b)
}

#[target_feature(enable = "neon")]
#[inline]
fn or(a: V, b: V) -> V {
    vorrq_u8(a, b)
}

#[target_feature(enable = "neon")]
#[inline]
fn xor(a: V, b: V) -> V {
    veorq_u8(a, b)
}

#[target_feature(enable = "neon")]
#[inline]
fn saturating_sub(a: V, b: V) -> V {
    vqsubq_u8(a, b)
}

/// Zeros, but for the last four bytes: `word`'s, in memory order.
#[target_feature(enable = "neon")]
#[inline]
fn ending_with(word: u32) -> V {
    vreinterpretq_u8_u32(vsetq_lane_u32::<3>(word, vdupq_n_u32(0)))
}

#[target_feature(enable = "neon")]
#[inline]
fn is_ascii(v: V) -> bool {
    vmaxvq_u8(v) < 0x80
}

#[target_feature(enable = "neon")]
#[inline]
fn any(v: V) -> bool {
    vmaxvq_u8(v) != 0
}

/// # Safety
///
/// `at` is readable for 16 bytes (any alignment).
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load(at: *const u8) -> V {
    // SAFETY: the caller's contract; `vld1q` accepts any alignment.
    unsafe { vld1q_u8(at) }
}

/// # Safety
///
/// `at` is writable for 16 bytes (any alignment).
#[target_feature(enable = "neon")]
#[inline]
unsafe fn store(at: *mut u8, v: V) {
    // SAFETY: the caller's contract; `vst1q` accepts any alignment.
    unsafe { vst1q_u8(at, v) }
}

#[target_feature(enable = "neon")]
#[inline]
fn load_const(bytes: &[u8; LANES]) -> V {
    // SAFETY: `bytes` is 16 readable bytes.
    unsafe { load(bytes.as_ptr()) }
}

/// No stable prefetch intrinsic on aarch64; the hardware prefetcher sees
/// the loops' sequential loads.
#[target_feature(enable = "neon")]
#[inline]
fn prefetch(_at: *const u8) {}

/// The bytes `16 - SHIFT` places before each byte of `input`, the first ones
/// from the end of `prev`.
#[target_feature(enable = "neon")]
#[inline]
fn before<const SHIFT: i32>(input: V, prev: V) -> V {
    vextq_u8::<SHIFT>(prev, input)
}

#[target_feature(enable = "neon")]
#[inline]
fn lookup_prev_high(prev1: V) -> V {
    vqtbl1q_u8(load_const(&PREV_HIGH), vshrq_n_u8::<4>(prev1))
}

/// `tbl` answers 0 for an index past the table: the low nibble is masked.
#[target_feature(enable = "neon")]
#[inline]
fn lookup_prev_low(prev1: V) -> V {
    vqtbl1q_u8(load_const(&PREV_LOW), and(prev1, splat(0x0F)))
}

#[target_feature(enable = "neon")]
#[inline]
fn lookup_this_high(input: V) -> V {
    vqtbl1q_u8(load_const(&THIS_HIGH), vshrq_n_u8::<4>(input))
}

utf8_check!("neon");
block_loop!("neon");
mask_loops!("neon");
