//! AVX-512 (F, BW and VBMI): the fused unmask-and-validate loop with a
//! 64-byte block in one register. The block check is the shared one
//! (`utf8_check!`) on these primitives; the loop is this ISA's own, shaped by
//! what paid on Zen 4, where a 512-bit operation costs two 256-bit ones and
//! the loop is bound by vector operations: `vpermb` lookups, which index by
//! six bits and so need no masking of the nibble; the bytes one, two and
//! three before a block loaded again from the source (unmasked with the key
//! turned to their offset) instead of shifted in across lanes; and the ASCII
//! test on two blocks at once. Masking and validation alone use the AVX2
//! loops, which this CPU also runs.

use core::arch::x86_64::*;

use super::{BLOCK, PREFETCH, PREV_HIGH, PREV_LOW, THIS_HIGH};
use crate::mask::rotate_key;

type V = __m512i;
const LANES: usize = 64;

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn splat(byte: u8) -> V {
    _mm512_set1_epi8(byte as i8)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn splat_key(key: [u8; 4]) -> V {
    _mm512_set1_epi32(i32::from_ne_bytes(key))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn and(a: V, b: V) -> V {
    _mm512_and_si512(a, b)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn or(a: V, b: V) -> V {
    _mm512_or_si512(a, b)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn xor(a: V, b: V) -> V {
    _mm512_xor_si512(a, b)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn saturating_sub(a: V, b: V) -> V {
    _mm512_subs_epu8(a, b)
}

/// # Safety
///
/// `at` is readable for 64 bytes (any alignment).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
unsafe fn load(at: *const u8) -> V {
    // SAFETY: the caller's contract; the load is unaligned.
    unsafe { _mm512_loadu_si512(at.cast()) }
}

/// # Safety
///
/// `at` is writable for 64 bytes (any alignment).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
unsafe fn store(at: *mut u8, v: V) {
    // SAFETY: the caller's contract; the store is unaligned.
    unsafe { _mm512_storeu_si512(at.cast(), v) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn load_const(bytes: &[u8; LANES]) -> V {
    // SAFETY: `bytes` is 64 readable bytes; the load is unaligned.
    unsafe { load(bytes.as_ptr()) }
}

/// The bytes `16 - SHIFT` places before each byte of `input`: `valignd`
/// brings the last 16 bytes of `prev` in front of `input`, then `vpalignr`
/// shifts each lane.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn before<const SHIFT: i32>(input: V, prev: V) -> V {
    let straddle = _mm512_alignr_epi32::<12>(input, prev);
    _mm512_alignr_epi8::<SHIFT>(input, straddle)
}

/// A 16-entry table spread over the 64 entries of `vpermb`, which looks up
/// by the low six bits of each index byte: by the low nibble
/// (`by_high == false`), or by the high nibble of a byte shifted right by
/// two (`by_high`). Built at compile time: built per call, the tables cost
/// 1 KiB messages a fifth of their speed.
const fn spread(t: [u8; 16], by_high: bool) -> [u8; 64] {
    let mut wide = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        wide[i] = if by_high { t[i >> 2] } else { t[i & 15] };
        i += 1;
    }
    wide
}

/// `vpermb` ignores the two top bits of an index: a 16-bit shift by two
/// brings the high nibble down, whatever comes in from above.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn high_nibble_times_four(v: V) -> V {
    _mm512_srli_epi16::<2>(v)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn lookup_prev_high(prev1: V) -> V {
    const TABLE: [u8; LANES] = spread(PREV_HIGH, true);
    _mm512_permutexvar_epi8(high_nibble_times_four(prev1), load_const(&TABLE))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn lookup_prev_low(prev1: V) -> V {
    const TABLE: [u8; LANES] = spread(PREV_LOW, false);
    _mm512_permutexvar_epi8(prev1, load_const(&TABLE))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn lookup_this_high(input: V) -> V {
    const TABLE: [u8; LANES] = spread(THIS_HIGH, true);
    _mm512_permutexvar_epi8(high_nibble_times_four(input), load_const(&TABLE))
}

utf8_check!("avx512f,avx512bw,avx512vbmi");

/// Over `len` bytes (a multiple of 64) at `src`: unmasks them with `key` (as
/// seen from `src[0]`), stores them at `dst`, and says whether they are valid
/// UTF-8 apart from a code point that their end may cut short. They start on
/// a code-point boundary. `IN_PLACE` takes the bytes before each block from
/// the previous block's register (`dst == src` allowed) instead of loading
/// them again from `src` (faster, but `src` must stay as it was).
///
/// # Safety
///
/// AVX-512 F, BW and VBMI are available; `src` is readable and `dst`
/// writable for `len` bytes; unless `IN_PLACE`, they do not overlap.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(super) unsafe fn unmask_and_check<const IN_PLACE: bool>(
    dst: *mut u8,
    src: *const u8,
    len: usize,
    key: [u8; 4],
) -> bool {
    debug_assert_eq!(len % BLOCK, 0);
    if len == 0 {
        return true;
    }
    let key_bytes = key;
    let key = splat_key(key);
    let mut error = _mm512_setzero_si512();
    let mut prev_incomplete = _mm512_setzero_si512();
    // SAFETY: only called with `at + 64 <= len`, which the caller guarantees
    // readable from `src`.
    let load_at = |at: usize| unsafe { xor(load(src.add(at)), key) };
    // Past the first block, the bytes before a block are read again from
    // `src` (unaligned loads, unmasked with the key turned to their offset)
    // instead of shifted in from the previous block: a load is cheaper than
    // the lane-crossing shuffles.
    let key1 = splat_key(rotate_key(key_bytes, 3));
    let key2 = splat_key(rotate_key(key_bytes, 2));
    let key3 = splat_key(rotate_key(key_bytes, 1));
    // SAFETY: only called with `64 <= at` and `at + 64 <= len`: the bytes
    // from `at - 3` are readable from `src` (and, not `IN_PLACE`, not yet
    // written over).
    let check_at = |v: V, at: usize, prev: V| unsafe {
        if IN_PLACE {
            return check_after(v, prev);
        }
        check_with(
            v,
            xor(load(src.add(at - 1)), key1),
            xor(load(src.add(at - 2)), key2),
            xor(load(src.add(at - 3)), key3),
        )
    };
    let first = load_at(0);
    // SAFETY: `64 <= len`, writable at `dst`.
    unsafe { store(dst, first) };
    if _mm512_movepi8_mask(first) != 0 {
        error = check_after(first, _mm512_setzero_si512());
        prev_incomplete = incomplete_at_end(first);
    }
    let mut prev = first;
    let mut at = BLOCK;
    // Two blocks a step, tested for ASCII as one: text that is not all ASCII
    // rarely has 128 bytes of it, so the branch stays predictable.
    while at + 2 * BLOCK <= len {
        let (a, b) = (load_at(at), load_at(at + BLOCK));
        // Prefetching is a hint: any address is allowed.
        _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(at + PREFETCH).cast());
        _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(at + BLOCK + PREFETCH).cast());
        if _mm512_movepi8_mask(or(a, b)) == 0 {
            error = or(error, prev_incomplete);
            prev_incomplete = _mm512_setzero_si512();
        } else {
            error = or(error, check_at(a, at, prev));
            error = or(error, check_at(b, at + BLOCK, a));
            prev_incomplete = incomplete_at_end(b);
        }
        // SAFETY: `at + 128 <= len`, which the caller guarantees writable at
        // `dst`.
        unsafe {
            store(dst.add(at), a);
            store(dst.add(at + BLOCK), b);
        }
        prev = b;
        at += 2 * BLOCK;
    }
    if at < len {
        // One block left: the full check also judges a code point that the
        // block before cut.
        let a = load_at(at);
        error = or(error, check_at(a, at, prev));
        // SAFETY: `at + 64 == len`, writable at `dst`.
        unsafe { store(dst.add(at), a) };
    }
    // A code point cut at the very end is the caller's to complete.
    _mm512_test_epi8_mask(error, error) == 0
}
