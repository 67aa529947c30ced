//! Payload masking (RFC 6455 §5.3): `byte[i] ^= key[i % 4]`, resumable at any
//! offset so a payload can be unmasked piece by piece as it arrives.
//!
//! Three paths: AVX2 (32 bytes a step, chosen at run time), SSE2 (16 bytes, the
//! x86-64 baseline) or NEON (16 bytes, the aarch64 baseline), and a 64-bit
//! word loop for everything else and for short buffers. Miri runs the x86-64
//! paths it can interpret (SSE2, and AVX2 where the target enables it);
//! NEON is routed to the word loop under Miri.

use std::mem::MaybeUninit;

/// Buffers shorter than this skip the SIMD set-up.
const SIMD_MIN_LEN: usize = 128;

/// XORs `buf` with the masking `key`, as if `buf` started at byte `offset` of
/// the payload.
///
/// Unmasking a payload in pieces gives the same bytes as unmasking it whole:
///
/// ```
/// use wsframe::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut whole = *b"Hello, WebSocket";
/// apply_mask(&mut whole, key, 0);
///
/// let mut pieces = *b"Hello, WebSocket";
/// let (a, b) = pieces.split_at_mut(5);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 5);
/// assert_eq!(whole, pieces);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that `buf[0]` pairs with `key[0]`.
    let key = rotated(key, offset);
    if buf.len() < SIMD_MIN_LEN {
        // Short payloads (most messages) stay inline in the caller.
        mask_words(buf, key);
    } else {
        mask_simd(buf, key);
    }
}

/// The SIMD paths, out of line; `key` already rotated to `buf[0]`.
#[inline(never)]
fn mask_simd(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the AVX2 feature was detected at run time just above.
            unsafe { x86::mask_avx2(buf, key) };
        } else {
            x86::mask_sse2(buf, key);
        }
    }
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    neon::mask_neon(buf, key);
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "aarch64", not(miri)))))]
    mask_words(buf, key);
}

/// The key as seen from payload byte `offset`.
pub(crate) const fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset % 4;
    [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]]
}

/// Eight bytes a step with a 64-bit key, then byte by byte; `key` already
/// rotated to `buf[0]`.
#[inline]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let value = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ wide;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    // Whole words keep the key's phase, so the tail starts at key[0].
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// Writes `src` unmasked with `key` (as seen from `src[0]`) into `dst`, which
/// need not be initialized: a copy out of a read that is also the unmasking
/// pass. Afterwards every byte of `dst` is initialized.
///
/// # Panics
///
/// If `dst` and `src` differ in length.
pub(crate) fn unmask_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    assert_eq!(
        dst.len(),
        src.len(),
        "dst and src must have the same length"
    );
    #[allow(unused_mut)] // only x86-64 has a SIMD copy
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if src.len() >= SIMD_MIN_LEN && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected just above; `dst` is writable for
        // `src.len()` bytes (`MaybeUninit<u8>` has `u8`'s layout) and, being a
        // `&mut`, does not overlap `src`.
        done = unsafe { x86::unmask_into_avx2(dst.as_mut_ptr().cast(), src, key) };
    }
    // `done` is a multiple of 32: the key keeps its phase.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut out = dst[done..].chunks_exact_mut(8);
    let mut input = src[done..].chunks_exact(8);
    for (o, i) in (&mut out).zip(&mut input) {
        let word = u64::from_ne_bytes(i.try_into().expect("8 bytes")) ^ wide;
        for (slot, byte) in o.iter_mut().zip(word.to_ne_bytes()) {
            slot.write(byte);
        }
    }
    for (n, (slot, byte)) in out
        .into_remainder()
        .iter_mut()
        .zip(input.remainder())
        .enumerate()
    {
        slot.write(byte ^ key[n % 4]);
    }
}

/// The obvious byte loop: the reference the fast paths are tested against.
#[doc(hidden)]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256,
        _mm256_xor_si256, _mm_loadu_si128, _mm_prefetch, _mm_set1_epi32, _mm_storeu_si128,
        _mm_xor_si128, _MM_HINT_T0,
    };

    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
        let wide = _mm256_set1_epi32(i32::from_ne_bytes(key));
        let mut blocks = buf.chunks_exact_mut(32);
        for block in &mut blocks {
            let ptr = block.as_mut_ptr().cast::<__m256i>();
            // SAFETY: `block` is exactly 32 bytes, valid for reads and writes;
            // loadu/storeu accept any alignment.
            unsafe {
                let masked = _mm256_xor_si256(_mm256_loadu_si256(ptr), wide);
                _mm256_storeu_si256(ptr, masked);
            }
        }
        // 32 is a multiple of 4: the remainder starts at key phase 0.
        super::mask_words(blocks.into_remainder(), key);
    }

    /// Unmasks whole 32-byte blocks of `src` into `dst`; returns how many
    /// bytes it wrote (a multiple of 32).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2; `dst` must be writable for `src.len()`
    /// bytes (initialized or not) and not overlap `src`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn unmask_into_avx2(dst: *mut u8, src: &[u8], key: [u8; 4]) -> usize {
        let wide = _mm256_set1_epi32(i32::from_ne_bytes(key));
        // Four vectors a step: the loads of a cache line pair go out
        // together, ahead of their stores.
        let lines = src.chunks_exact(128);
        let tail = lines.remainder();
        for (i, line) in lines.enumerate() {
            // A source not in cache is read at about half speed without this
            // hint (the same 4 KiB ahead as `utf8stream`'s fused loop); it is
            // only a hint, so any address will do.
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().wrapping_add(4096).cast());
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().wrapping_add(4096 + 64).cast());
            let from = line.as_ptr();
            // SAFETY: `line` is 128 readable bytes; `dst + 128 * i` has 128
            // writable ones (`128 * i + 128 <= src.len()`); loadu/storeu
            // accept any alignment.
            unsafe {
                let to = dst.add(128 * i);
                let a = _mm256_xor_si256(_mm256_loadu_si256(from.cast()), wide);
                let b = _mm256_xor_si256(_mm256_loadu_si256(from.add(32).cast()), wide);
                let c = _mm256_xor_si256(_mm256_loadu_si256(from.add(64).cast()), wide);
                let d = _mm256_xor_si256(_mm256_loadu_si256(from.add(96).cast()), wide);
                _mm256_storeu_si256(to.cast(), a);
                _mm256_storeu_si256(to.add(32).cast(), b);
                _mm256_storeu_si256(to.add(64).cast(), c);
                _mm256_storeu_si256(to.add(96).cast(), d);
            }
        }
        let mut done = src.len() - tail.len();
        for block in tail.chunks_exact(32) {
            // SAFETY: `block` is 32 readable bytes at `src[done..]`; `dst +
            // done` has 32 writable ones; unaligned load and store.
            unsafe {
                let masked = _mm256_xor_si256(_mm256_loadu_si256(block.as_ptr().cast()), wide);
                _mm256_storeu_si256(dst.add(done).cast(), masked);
            }
            done += 32;
        }
        done
    }

    /// SSE2 is part of the x86-64 baseline, so this needs no run-time check.
    pub(super) fn mask_sse2(buf: &mut [u8], key: [u8; 4]) {
        // SAFETY: SSE2 is always available on x86-64.
        let wide = unsafe { _mm_set1_epi32(i32::from_ne_bytes(key)) };
        let mut blocks = buf.chunks_exact_mut(16);
        for block in &mut blocks {
            let ptr = block.as_mut_ptr().cast::<__m128i>();
            // SAFETY: `block` is exactly 16 bytes, valid for reads and writes;
            // loadu/storeu accept any alignment; SSE2 is baseline on x86-64.
            unsafe {
                let masked = _mm_xor_si128(_mm_loadu_si128(ptr), wide);
                _mm_storeu_si128(ptr, masked);
            }
        }
        super::mask_words(blocks.into_remainder(), key);
    }

    #[cfg(test)]
    #[test]
    fn sse2_path_equals_the_byte_loop() {
        let step = if cfg!(miri) { 13 } else { 1 };
        for len in (0..200).step_by(step) {
            for offset in 0..4 {
                let mut fast: Vec<u8> = (0..len as u8).collect();
                let mut slow = fast.clone();
                mask_sse2(&mut fast, super::rotated([9, 8, 7, 6], offset));
                super::apply_mask_bytewise(&mut slow, [9, 8, 7, 6], offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }
}

#[cfg(all(target_arch = "aarch64", not(miri)))]
mod neon {
    use std::arch::aarch64::{vdupq_n_u32, veorq_u8, vld1q_u8, vreinterpretq_u8_u32, vst1q_u8};

    /// NEON is part of the aarch64 baseline, so this needs no run-time check.
    pub(super) fn mask_neon(buf: &mut [u8], key: [u8; 4]) {
        // SAFETY: NEON is always available on aarch64.
        let wide = unsafe { vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(key))) };
        let mut blocks = buf.chunks_exact_mut(16);
        for block in &mut blocks {
            let ptr = block.as_mut_ptr();
            // SAFETY: `block` is exactly 16 bytes, valid for reads and writes;
            // vld1q/vst1q accept any alignment; NEON is baseline on aarch64.
            unsafe { vst1q_u8(ptr, veorq_u8(vld1q_u8(ptr), wide)) };
        }
        super::mask_words(blocks.into_remainder(), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_byte_loop_for_every_length_offset_and_alignment() {
        let key = [0xA5, 0x3C, 0x0F, 0xF0];
        let backing: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        // Miri interprets slowly: there, the lengths around each path's edges.
        let lengths: Vec<usize> = if cfg!(miri) {
            vec![0, 1, 7, 8, 9, 15, 16, 17, 33, 63, 64, 65, 95, 96, 97, 130]
        } else {
            (0..300).collect()
        };
        let aligns = if cfg!(miri) { 0..3 } else { 0..8 };
        for len in lengths {
            for offset in 0..4 {
                for align in aligns.clone() {
                    let mut fast = backing.clone();
                    let mut slow = backing.clone();
                    apply_mask(&mut fast[align..align + len], key, offset);
                    apply_mask_bytewise(&mut slow[align..align + len], key, offset);
                    assert_eq!(fast, slow, "len {len} offset {offset} align {align}");
                }
            }
        }
    }

    #[test]
    fn unmask_into_equals_the_byte_loop_for_every_length_and_offset() {
        let key = [0x5A, 0xC3, 0x17, 0x8E];
        let lengths: Vec<usize> = if cfg!(miri) {
            vec![0, 1, 7, 8, 9, 31, 32, 33, 127, 128, 129, 160, 200]
        } else {
            (0..300).collect()
        };
        for len in lengths {
            for offset in 0..4 {
                let src: Vec<u8> = (0..len as u32).map(|i| (i * 13 + 5) as u8).collect();
                let mut want = src.clone();
                apply_mask_bytewise(&mut want, key, offset);
                let mut dst: Vec<u8> = Vec::with_capacity(len);
                unmask_into(
                    &mut dst.spare_capacity_mut()[..len],
                    &src,
                    rotated(key, offset),
                );
                // SAFETY: `unmask_into` initializes all `len` bytes.
                unsafe { dst.set_len(len) };
                assert_eq!(dst, want, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_payload_and_pieces_equal_whole() {
        let key = [1, 2, 3, 250];
        let original: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut whole = original.clone();
        apply_mask(&mut whole, key, 0);
        assert_ne!(whole, original);
        let mut pieces = original.clone();
        let mut start = 0;
        for size in [1, 3, 64, 65, 7, 200, 31, 33] {
            let end = (start + size).min(pieces.len());
            apply_mask(&mut pieces[start..end], key, start);
            start = end;
        }
        apply_mask(&mut pieces[start..], key, start);
        assert_eq!(pieces, whole);
        apply_mask(&mut whole, key, 0);
        assert_eq!(whole, original);
    }
}
