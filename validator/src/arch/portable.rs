//! Without SIMD: masking eight bytes a step, and validation by `simdutf8`
//! (or `core` for short inputs). The masking loops are also the tails of the
//! SIMD ones and the path of short buffers, inlined into their callers.

use crate::{scalar::invalid_at, stream::unfinished_tail_len};

/// The key in both halves of a 64-bit word.
#[inline]
fn wide(key: [u8; 4]) -> u64 {
    // From the key as one word, not byte by byte: this runs for every
    // small frame.
    let word = u64::from(u32::from_ne_bytes(key));
    // In memory the key's bytes, then again, in either byte order.
    word | word << 32
}

/// `buf ^= key`, repeating, eight bytes a step; `key` as seen from `buf[0]`.
#[inline]
pub(crate) fn mask_in_place(buf: &mut [u8], key: [u8; 4]) {
    // The ASCII answer is computed beside the stores and dropped here: the
    // compiler removes it.
    let _ = mask_in_place_is_ascii(buf, key);
}

/// [`mask_in_place`], also answering whether every unmasked byte is ASCII:
/// the answer comes from the unmasked words while they are in registers, so
/// a short text payload is not read back right after it was stored (a load
/// spanning the word stores just made waits for them to reach the cache
/// instead of being forwarded from the store buffer). Always inlined: it
/// runs for every small frame, and a call costs about what it does.
#[inline(always)]
pub(crate) fn mask_in_place_is_ascii(buf: &mut [u8], key: [u8; 4]) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let wide = wide(key);
    let mut seen = 0u64;
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let value = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ wide;
        seen |= value;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    // Whole words keep the key's phase: the rest starts at key[0], and
    // after four more bytes at key[0] again.
    let mut rest = words.into_remainder();
    if rest.len() >= 4 {
        let (word, tail) = rest.split_at_mut(4);
        let value =
            u32::from_ne_bytes((&*word).try_into().expect("4 bytes")) ^ u32::from_ne_bytes(key);
        seen |= u64::from(value);
        word.copy_from_slice(&value.to_ne_bytes());
        rest = tail;
    }
    for (byte, k) in rest.iter_mut().zip(key) {
        *byte ^= k;
        seen |= u64::from(*byte);
    }
    seen & HIGH_BITS == 0
}

/// `dst = src ^ key`, eight bytes a step; `key` as seen from `src[0]`.
///
/// # Safety
///
/// `dst` is valid for writes of `src.len()` bytes (initialized or not) and
/// does not overlap `src`.
#[inline]
pub(crate) unsafe fn mask_copy(dst: *mut u8, src: &[u8], key: [u8; 4]) {
    let wide = wide(key);
    let mut words = src.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        let value = u64::from_ne_bytes(word.try_into().expect("8 bytes")) ^ wide;
        // SAFETY: `8 * i + 8 <= src.len()`, all writable at `dst`.
        unsafe { dst.add(8 * i).cast::<u64>().write_unaligned(value) };
    }
    // Whole words keep the key's phase: the rest starts at key[0], and
    // after four more bytes at key[0] again.
    let mut rest = words.remainder();
    let mut done = src.len() - rest.len();
    if rest.len() >= 4 {
        let (word, tail) = rest.split_at(4);
        let value = u32::from_ne_bytes(word.try_into().expect("4 bytes")) ^ u32::from_ne_bytes(key);
        // SAFETY: `done + 4 <= src.len()`, writable at `dst`.
        unsafe { dst.add(done).cast::<u32>().write_unaligned(value) };
        (rest, done) = (tail, done + 4);
    }
    for (n, (byte, k)) in rest.iter().zip(key).enumerate() {
        // SAFETY: `done + n < src.len()`, writable at `dst`.
        unsafe { dst.add(done + n).write(byte ^ k) };
    }
}

/// The portable verdict on unmasked bytes: the regular validator judges
/// them up to the last code-point boundary, and the cut code point by its
/// prefix.
pub(crate) fn is_valid_but_a_cut_end(bytes: &[u8]) -> bool {
    let tail = unfinished_tail_len(bytes);
    let (whole, cut) = bytes.split_at(bytes.len() - tail);
    crate::is_valid_bulk(whole) && (cut.is_empty() || invalid_at(cut).is_none())
}

/// Unmask, then judge as [`is_valid_but_a_cut_end`].
///
/// # Safety
///
/// As [`mask_copy`]; on return all `src.len()` bytes at `dst` are
/// initialized.
pub(crate) unsafe fn unmask_and_check(dst: *mut u8, src: &[u8], key: [u8; 4]) -> bool {
    // SAFETY: the caller gives `dst` for `src.len()` writes; once written
    // they are initialized and only read through the new slice.
    let dst = unsafe {
        mask_copy(dst, src, key);
        core::slice::from_raw_parts(dst, src.len())
    };
    is_valid_but_a_cut_end(dst)
}

/// In place: unmask, then judge as [`is_valid_but_a_cut_end`].
pub(crate) fn unmask_and_check_in_place(buf: &mut [u8], key: [u8; 4]) -> bool {
    mask_in_place(buf, key);
    is_valid_but_a_cut_end(buf)
}
