//! Unmasking and validating in one pass, for WebSocket payloads.
//!
//! A client's payload arrives XORed with a repeating 4-byte key (RFC 6455
//! §5.3). A server must copy it out of its read buffer, unmask it and, for
//! text, validate it: three passes over every byte if each is done on its
//! own. Here each 64-byte block is loaded once, unmasked in registers,
//! stored to its destination (or back where it was) and checked there and
//! then, by the kernel chosen for this CPU (`arch`).

use core::{mem::MaybeUninit, slice};

use crate::{
    arch::{self, BLOCK},
    check,
    mask::{apply_mask, rotate_key, unmask_copy, SIMD_MIN_LEN},
    Utf8Error, Utf8Validator,
};

/// Unmasks a whole payload where it lies and checks that it is UTF-8, as
/// [`apply_mask`]`(buf, key, 0)` then [`check`](crate::check)`(buf)`: the
/// one-shot form for a message that arrived whole (RFC 6455 §5.3, §8.1).
///
/// A short payload (under 128 bytes, most messages) is unmasked a word at a
/// time and, if every byte is ASCII, known valid from the words in
/// registers: it is not read back right after being stored. Otherwise the
/// unmasked bytes are checked as [`check`](crate::check) checks them.
///
/// When it returns, `Ok` or `Err`, every byte of `buf` is unmasked.
///
/// ```
/// let key = [0x12, 0x34, 0x56, 0x78];
/// let mask = |text: &[u8]| -> Vec<u8> {
///     text.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect()
/// };
/// let mut buf = mask("héllo, world".as_bytes());
/// utf8stream::check_unmasking_in_place(&mut buf, key).unwrap();
/// assert_eq!(buf, "héllo, world".as_bytes());
///
/// let mut bad = mask(b"ab\xFFcd");
/// let err = utf8stream::check_unmasking_in_place(&mut bad, key).unwrap_err();
/// assert_eq!((err.valid_up_to(), err.error_len()), (2, Some(1)));
/// assert_eq!(bad, b"ab\xFFcd");
/// ```
///
/// # Errors
///
/// As [`check`](crate::check): std's `valid_up_to` and `error_len`.
#[inline]
pub fn check_unmasking_in_place(buf: &mut [u8], key: [u8; 4]) -> Result<(), Utf8Error> {
    if buf.len() < SIMD_MIN_LEN {
        if arch::portable::mask_in_place_is_ascii(buf, key) {
            return Ok(());
        }
    } else {
        apply_mask(buf, key, 0);
    }
    check(buf)
}

impl Utf8Validator {
    /// Unmasks a WebSocket payload chunk into `dst` and validates it, in one
    /// pass over the bytes: `dst[i] = src[i] ^ key[i % 4]`, then as
    /// [`feed`](Self::feed)`(dst)`.
    ///
    /// `key` is the masking key as seen from `src[0]` (RFC 6455 §5.3): for a
    /// chunk that starts at payload offset `n`, the frame's key rotated left
    /// by `n % 4` ([`mask::rotate_key`](crate::mask::rotate_key)). `dst` is
    /// written in full whatever the result. With a SIMD kernel (AVX-512,
    /// AVX2, NEON) each 64-byte block is loaded once, unmasked, stored and
    /// validated while it is in registers; otherwise it unmasks, then feeds.
    ///
    /// ```
    /// use utf8stream::Utf8Validator;
    ///
    /// let key = [0x12, 0x34, 0x56, 0x78];
    /// let text = "naïve café, 😀 ".repeat(8);
    /// let masked: Vec<u8> = text.bytes().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    ///
    /// let mut plain = vec![0; masked.len()];
    /// let mut v = Utf8Validator::new();
    /// v.feed_unmasking(&mut plain, &masked, key).unwrap();
    /// v.finish().unwrap();
    /// assert_eq!(plain, text.as_bytes());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    ///
    /// # Panics
    ///
    /// If `dst` and `src` differ in length.
    pub fn feed_unmasking(
        &mut self,
        dst: &mut [u8],
        src: &[u8],
        key: [u8; 4],
    ) -> Result<(), Utf8Error> {
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the callee
        // writes only initialized bytes into it, so `dst` stays initialized.
        let dst = unsafe { &mut *(dst as *mut [u8] as *mut [MaybeUninit<u8>]) };
        self.feed_unmasking_uninit(dst, src, key)
    }

    /// [`feed_unmasking`](Self::feed_unmasking) into memory that is not
    /// initialized yet, such as the spare capacity of a read buffer: the
    /// copy out of the caller's bytes is the unmasking pass itself.
    ///
    /// When it returns, `Ok` or `Err`, every byte of `dst` is initialized to
    /// `src[i] ^ key[i % 4]`.
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    ///
    /// # Panics
    ///
    /// If `dst` and `src` differ in length.
    pub fn feed_unmasking_uninit(
        &mut self,
        dst: &mut [MaybeUninit<u8>],
        src: &[u8],
        key: [u8; 4],
    ) -> Result<(), Utf8Error> {
        assert_eq!(
            dst.len(),
            src.len(),
            "dst and src must have the same length"
        );
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`; `dst` is writable
        // for `src.len()` bytes and, being a `&mut`, does not overlap `src`.
        unsafe { self.feed_unmasking_raw(dst.as_mut_ptr().cast(), src, key) }
    }

    /// [`feed_unmasking`](Self::feed_unmasking) where the masked bytes
    /// already are, such as a payload read straight into a connection's
    /// buffer: each 64-byte block is unmasked and validated in registers
    /// and stored back over itself, one pass instead of two.
    ///
    /// When it returns, `Ok` or `Err`, every byte of `buf` is unmasked.
    ///
    /// ```
    /// use utf8stream::Utf8Validator;
    ///
    /// let key = [0x12, 0x34, 0x56, 0x78];
    /// let text = "naïve café, 😀 ".repeat(8);
    /// let mut buf: Vec<u8> = text.bytes().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    ///
    /// let mut v = Utf8Validator::new();
    /// v.feed_unmasking_in_place(&mut buf, key).unwrap();
    /// v.finish().unwrap();
    /// assert_eq!(buf, text.as_bytes());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    pub fn feed_unmasking_in_place(
        &mut self,
        buf: &mut [u8],
        key: [u8; 4],
    ) -> Result<(), Utf8Error> {
        // Below a block plus a carried code point the loop has nothing to
        // do: unmask, then take the regular path.
        if self.failed.is_some() || buf.len() < BLOCK + 3 {
            apply_mask(buf, key, 0);
            return self.feed(buf);
        }
        let mut start = 0;
        if self.carry_len > 0 {
            // At most three bytes finish the carried code point, and the
            // chunk has them; afterwards the rest starts on a boundary.
            apply_mask(&mut buf[..3], key, 0);
            match self.complete_carry(&buf[..3]) {
                Ok(used) => {
                    // The loop unmasks from `used` on: mask again what it
                    // will see (XOR undoes itself).
                    apply_mask(&mut buf[used..3], key, used);
                    start = used;
                }
                Err(err) => {
                    apply_mask(&mut buf[3..], key, 3);
                    return Err(self.fail(err, buf.len()));
                }
            }
        }
        let key = rotate_key(key, start);
        let rest = &mut buf[start..];
        let blocks = rest.len() / BLOCK * BLOCK;
        let kernel = arch::selected();
        let valid = arch::unmask_and_check_in_place(kernel, &mut rest[..blocks], key);
        // `blocks` is a multiple of 4: the key keeps its phase.
        apply_mask(&mut rest[blocks..], key, 0);
        self.judge_rest(kernel, rest, blocks, valid)
            .inspect_err(|&err| self.failed = Some(err))
    }

    /// # Safety
    ///
    /// `dst` is valid for writes of `src.len()` bytes (initialized or not)
    /// and does not overlap `src`. Every byte is written before any is read.
    unsafe fn feed_unmasking_raw(
        &mut self,
        dst: *mut u8,
        src: &[u8],
        key: [u8; 4],
    ) -> Result<(), Utf8Error> {
        let len = src.len();
        // Below a block plus a carried code point the fused loop has nothing
        // to do: unmask, then take the regular path.
        if self.failed.is_some() || len < BLOCK + 3 {
            // SAFETY: the caller's contract; the slice is made after the
            // bytes are written.
            let dst = unsafe {
                unmask_copy(dst, src, key);
                slice::from_raw_parts(dst, len)
            };
            return self.feed(dst);
        }
        let mut start = 0;
        if self.carry_len > 0 {
            // At most three bytes finish the carried code point, and the
            // chunk has them: afterwards the rest starts on a boundary.
            // SAFETY: `3 <= len`; the slice is made after the bytes are
            // written and is not used after the next write.
            let head = unsafe {
                unmask_copy(dst, &src[..3], key);
                slice::from_raw_parts(dst, 3)
            };
            match self.complete_carry(head) {
                Ok(used) => start = used,
                Err(err) => {
                    // SAFETY: the remaining `len - 3` bytes of `dst`.
                    unsafe { unmask_copy(dst.add(3), &src[3..], rotate_key(key, 3)) };
                    return Err(self.fail(err, len));
                }
            }
        }
        let key = rotate_key(key, start);
        let src = &src[start..];
        let blocks = src.len() / BLOCK * BLOCK;
        let kernel = arch::selected();
        // SAFETY: `dst + start` is writable for `src.len()` more bytes and
        // does not overlap `src`: the blocks, then the rest (`blocks` is a
        // multiple of 4, so the key keeps its phase). `selected` hands out
        // only kernels this CPU runs. The slice is made once all of them are
        // written.
        let (valid, dst) = unsafe {
            let out = dst.add(start);
            let valid = arch::unmask_and_check(kernel, out, &src[..blocks], key);
            unmask_copy(out.add(blocks), &src[blocks..], key);
            (valid, slice::from_raw_parts(out, src.len()))
        };
        self.judge_rest(kernel, dst, blocks, valid)
            .inspect_err(|&err| self.failed = Some(err))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::{vec, vec::Vec};

    use crate::{
        arch::{with_each_kernel, BLOCK},
        mask::rotate_key,
        stream::{is_valid_short, unfinished_tail_len},
        Utf8Validator,
    };

    #[test]
    fn short_pieces_padded_to_blocks_are_judged_as_std_judges_them() {
        with_each_kernel(short_pieces_padded_to_blocks_with);
    }

    fn short_pieces_padded_to_blocks_with(kernel: crate::arch::Kernel) {
        let text = "aé€😀".repeat(20);
        let bytes = text.as_bytes();
        // Every piece under two blocks long between code-point boundaries,
        // as it is and with one byte broken.
        // (Under Miri, a sample: a few starts, every 37th byte broken.)
        let (starts, stride) = if cfg!(miri) { (2, 37) } else { (16, 1) };
        for start in (0..starts).filter(|&i| text.is_char_boundary(i)) {
            for end in (start..start + 2 * BLOCK).filter(|&i| text.is_char_boundary(i)) {
                let piece = &bytes[start..end];
                assert!(is_valid_short(kernel, piece), "{start}..{end}");
                for at in (0..piece.len()).step_by(stride) {
                    for bad in [0x80, 0xC0, 0xF8] {
                        let mut broken = piece.to_vec();
                        broken[at] = bad;
                        let std_says = core::str::from_utf8(&broken).is_ok();
                        let whole = broken.len() - unfinished_tail_len(&broken);
                        if whole == broken.len() {
                            assert_eq!(
                                is_valid_short(kernel, &broken),
                                std_says,
                                "{start}..{end} {at}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The one-shot entry against std: every length across the short
    /// path's words and tail and past it into the kernels' (128), ASCII and
    /// not, valid and with one byte broken at every position (a high bit
    /// in the words, in the 4-byte step, in the byte tail), under every key
    /// rotation; the bytes always come back unmasked.
    #[test]
    fn check_unmasking_in_place_agrees_with_std() {
        let text = "ascii, then aé€😀 ".repeat(20);
        let (lengths, stride) = if cfg!(miri) {
            (vec![0, 7, 20, 21, 130], 5)
        } else {
            ((0..=200).collect(), 1)
        };
        for len in lengths {
            for start in [0, 11] {
                let plain = &text.as_bytes()[start..start + len];
                let mut cases = vec![plain.to_vec()];
                for at in (0..len).step_by(stride) {
                    for bad in [0x80, 0xC3, 0xFF] {
                        let mut broken = plain.to_vec();
                        broken[at] = bad;
                        cases.push(broken);
                    }
                }
                for case in cases {
                    let want = core::str::from_utf8(&case)
                        .map(|_| ())
                        .map_err(|e| (e.valid_up_to(), e.error_len()));
                    for rotation in 0..4 {
                        let key = rotate_key([0x9C, 0x01, 0xF7, 0x42], rotation);
                        let mut buf: Vec<u8> = case
                            .iter()
                            .enumerate()
                            .map(|(i, x)| x ^ key[i % 4])
                            .collect();
                        let got = crate::check_unmasking_in_place(&mut buf, key)
                            .map_err(|e| (e.valid_up_to() as usize, e.error_len()));
                        assert_eq!(got, want, "len {len}, start {start}, {case:02x?}");
                        assert_eq!(buf, case, "len {len}, start {start}, rotation {rotation}");
                    }
                }
            }
        }
    }

    /// Feeds `chunks`, masked with `key` from the stream's start, through
    /// `feed_unmasking` or `feed_unmasking_in_place`, checking that each
    /// comes back unmasked; the stream's verdict as std gives it.
    fn fused_outcome(chunks: &[&[u8]], key: [u8; 4], in_place: bool) -> Result<(), usize> {
        let mut v = Utf8Validator::new();
        let mut at = 0;
        for chunk in chunks {
            let mut masked: Vec<u8> = chunk
                .iter()
                .enumerate()
                .map(|(i, x)| x ^ key[(at + i) % 4])
                .collect();
            let key = rotate_key(key, at);
            at += chunk.len();
            let mut out = vec![0u8; chunk.len()];
            let result = if in_place {
                let result = v.feed_unmasking_in_place(&mut masked, key);
                out.copy_from_slice(&masked);
                result
            } else {
                v.feed_unmasking(&mut out, &masked, key)
            };
            assert_eq!(&out, chunk);
            result.map_err(|e| e.valid_up_to() as usize)?;
        }
        v.finish().map_err(|e| e.valid_up_to() as usize)
    }

    /// Both fused entries against std on text cut into chunks of every
    /// size up to three blocks and a bit, carrying code points across,
    /// with one byte broken or none.
    #[test]
    fn fused_entries_agree_with_std_on_every_chunk_size() {
        with_each_kernel(|_| fused_entries_agree_with_std());
    }

    fn fused_entries_agree_with_std() {
        let key = [0x9C, 0x01, 0xF7, 0x42];
        let text = "aé€😀 naïve κόσμε ".repeat(12);
        let (sizes, breaks): (_, &[Option<usize>]) = if cfg!(miri) {
            (63..=66, &[None, Some(100)])
        } else {
            (1..=200, &[None, Some(100), Some(255)])
        };
        for size in sizes {
            for &broken in breaks {
                let mut bytes = text.as_bytes().to_vec();
                if let Some(at) = broken {
                    bytes[at] = 0xC0;
                }
                let want = core::str::from_utf8(&bytes)
                    .map(|_| ())
                    .map_err(|e| e.valid_up_to());
                let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
                for in_place in [false, true] {
                    let got = fused_outcome(&chunks, key, in_place);
                    assert_eq!(
                        got, want,
                        "chunks of {size}, broken {broken:?}, in place {in_place}"
                    );
                }
            }
        }
    }

    /// A chunk's short rest (after its blocks) can end in a lead byte that
    /// the next chunk seems to need even when the byte before it is a lead
    /// too (`.. C3 | C3` then `A9`): the first lead must still be judged.
    /// Every length near two and three blocks, a code point cut by the
    /// blocks' end or not, and pairs of byte classes at the chunk's end,
    /// then a chunk that finishes the last lead or not, masked through the
    /// fused path against std.
    #[test]
    fn fused_chunks_judge_a_lead_that_ends_the_short_rest() {
        with_each_kernel(|_| fused_chunks_judge_a_lead_with());
    }

    fn fused_chunks_judge_a_lead_with() {
        let key = [0x5A, 0xC3, 0x01, 0xFE];
        // Miri interprets slowly: there, one length and three classes.
        let classes: &[u8] = if cfg!(miri) {
            &[0x41, 0xC3, 0xFE]
        } else {
            &[0x41, 0x80, 0xC3, 0xE2, 0xF0, 0xFE]
        };
        let lengths = if cfg!(miri) { 191..=191 } else { 128..=260 };
        for len in lengths {
            for cut_at in [0, 1, 2, 3] {
                for &a in classes {
                    for &b in classes {
                        let mut first = vec![b'x'; len];
                        // A three-byte code point ending `cut_at` bytes
                        // after the blocks' end (where it fits).
                        let blocks = len / BLOCK * BLOCK;
                        if blocks >= 3 && blocks + cut_at < len - 2 && cut_at > 0 {
                            let at = blocks + cut_at - 3;
                            first[at..at + 3].copy_from_slice("€".as_bytes());
                        }
                        first[len - 2] = a;
                        first[len - 1] = b;
                        for second in [&b"\xA9abc"[..], b"\xA9\xA9\xA9abc"] {
                            let stream = [&first[..], second].concat();
                            let want = core::str::from_utf8(&stream)
                                .map(|_| ())
                                .map_err(|e| e.valid_up_to());

                            for in_place in [false, true] {
                                let got = fused_outcome(&[&first, second], key, in_place);
                                assert_eq!(
                                    got, want,
                                    "len {len}, cut {cut_at}, {a:02x} {b:02x} {second:02x?}, \
                                     in place {in_place}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
