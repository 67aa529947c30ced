//! The streaming validator: SIMD for the bulk of each chunk, a hand-kept carry
//! of at most three bytes for a code point cut by a chunk boundary.

use core::{mem::MaybeUninit, slice};

use crate::{
    is_valid_bulk, locate_error,
    masked::{
        rotate_key, unmask_and_check, unmask_and_check_in_place, unmask_copy, unmask_in_place,
        BLOCK,
    },
    Utf8Error, SIMD_THRESHOLD,
};

/// Whether `bytes`, under two blocks that start and end on code-point
/// boundaries, are valid UTF-8: checked as whole blocks padded with ASCII
/// zeros, so that a short piece costs one or two steps of the block loop.
///
/// At least one zero always follows the bytes: the block check leaves a lead
/// byte at the very end unjudged (a code point the next chunk may finish),
/// so without it a stray lead ending the bytes would pass.
#[allow(unsafe_code)]
fn is_valid_short(bytes: &[u8]) -> bool {
    debug_assert!(bytes.len() < 2 * BLOCK);
    let mut padded = [0u8; 2 * BLOCK];
    padded[..bytes.len()].copy_from_slice(bytes);
    let end = (bytes.len() + 1).div_ceil(BLOCK) * BLOCK;
    let mut out = [0u8; 2 * BLOCK];
    // SAFETY: `out` is writable for `end <= 2 * BLOCK` bytes and does not
    // overlap `padded`; a zero key leaves the bytes as they are.
    unsafe { unmask_and_check(out.as_mut_ptr(), &padded[..end], [0; 4]) }
}

/// Validates a byte stream chunk by chunk, failing on the first chunk after
/// which the stream can no longer be valid UTF-8.
///
/// It holds at most three bytes (an unfinished code point) and the stream
/// position; it never copies a chunk. After an error every call returns that
/// error again until [`reset`](Self::reset).
///
/// ```
/// use utf8stream::Utf8Validator;
///
/// let text = "κόσμε — 😀".as_bytes();
/// let mut v = Utf8Validator::new();
/// for chunk in text.chunks(3) {
///     v.feed(chunk).unwrap();
/// }
/// v.finish().unwrap();
///
/// // A stream that ends inside a code point fails at `finish`.
/// let mut v = Utf8Validator::new();
/// v.feed(&text[..text.len() - 1]).unwrap();
/// let err = v.finish().unwrap_err();
/// assert_eq!(err.error_len(), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of an unfinished code point, `carry[..carry_len]`.
    carry: [u8; 4],
    carry_len: u8,
    /// Stream offset of the first byte not yet known to be complete UTF-8:
    /// the start of the carried code point, if any.
    offset: u64,
    /// Set by the first error; returned by every call until `reset`.
    failed: Option<Utf8Error>,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub const fn new() -> Self {
        Self {
            carry: [0; 4],
            carry_len: 0,
            offset: 0,
            failed: None,
        }
    }

    /// Validates the next chunk of the stream.
    ///
    /// A chunk may end inside a code point; its first bytes are kept until the
    /// next call completes it.
    ///
    /// # Errors
    ///
    /// Returns the stream's first error as soon as the bytes seen so far can no
    /// longer begin valid UTF-8 (a chunk ending in `ED A0` or `F4 90` fails at
    /// once; one ending in `F4` or `F0 9D` does not), and the same error on
    /// every later call until [`reset`](Self::reset).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        self.feed_inner(chunk)
            .inspect_err(|&err| self.failed = Some(err))
    }

    /// Unmasks a WebSocket payload chunk into `dst` and validates it, in one
    /// pass over the bytes: `dst[i] = src[i] ^ key[i % 4]`, then as
    /// [`feed`](Self::feed)`(dst)`.
    ///
    /// `key` is the masking key as seen from `src[0]` (RFC 6455 §5.3): for a
    /// chunk that starts at payload offset `n`, the frame's key rotated left
    /// by `n % 4`. `dst` is written in full whatever the result. With AVX-512
    /// or AVX2 (x86-64) each 64-byte block is loaded once, unmasked, stored and
    /// validated while it is in registers; elsewhere it unmasks, then feeds.
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
    #[allow(unsafe_code)]
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
    #[allow(unsafe_code)]
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
    #[allow(unsafe_code)]
    pub fn feed_unmasking_in_place(
        &mut self,
        buf: &mut [u8],
        key: [u8; 4],
    ) -> Result<(), Utf8Error> {
        let len = buf.len();
        // Below a block plus a carried code point the loop has nothing to
        // do: unmask, then take the regular path.
        if self.failed.is_some() || len < BLOCK + 3 {
            unmask_in_place(buf, key);
            return self.feed(buf);
        }
        let mut start = 0;
        if self.carry_len > 0 {
            // At most three bytes finish the carried code point, and the
            // chunk has them; afterwards the rest starts on a boundary.
            unmask_in_place(&mut buf[..3], key);
            match self.complete_carry(&buf[..3]) {
                Ok(used) => {
                    // The loop unmasks from `used` on: mask again what it
                    // will see (XOR undoes itself).
                    unmask_in_place(&mut buf[used..3], rotate_key(key, used));
                    start = used;
                }
                Err(err) => {
                    unmask_in_place(&mut buf[3..], rotate_key(key, 3));
                    self.failed = Some(err);
                    return Err(err);
                }
            }
        }
        let key = rotate_key(key, start);
        let rest = &mut buf[start..];
        let blocks = rest.len() / BLOCK * BLOCK;
        // SAFETY: `rest` is readable and writable for `blocks <= rest.len()`
        // bytes, and borrowed mutably by this call alone.
        let valid = unsafe { unmask_and_check_in_place(rest.as_mut_ptr(), blocks, key) };
        // `blocks` is a multiple of 4: the key keeps its phase.
        unmask_in_place(&mut rest[blocks..], key);
        self.judge_rest(rest, blocks, valid)
    }

    /// # Safety
    ///
    /// `dst` is valid for writes of `src.len()` bytes (initialized or not)
    /// and does not overlap `src`. Every byte is written before any is read.
    #[allow(unsafe_code)]
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
                    self.failed = Some(err);
                    return Err(err);
                }
            }
        }
        let key = rotate_key(key, start);
        let src = &src[start..];
        let blocks = src.len() / BLOCK * BLOCK;
        // SAFETY: `dst + start` is writable for `src.len()` more bytes: the
        // blocks, then the rest (`blocks` is a multiple of 4, so the key keeps
        // its phase). The slice is made once all of them are written.
        let (valid, dst) = unsafe {
            let out = dst.add(start);
            let valid = unmask_and_check(out, &src[..blocks], key);
            unmask_copy(out.add(blocks), &src[blocks..], key);
            (valid, slice::from_raw_parts(out, src.len()))
        };
        self.judge_rest(dst, blocks, valid)
    }

    /// After the block loop: `dst`, unmasked, starts on a code-point
    /// boundary, and its first `blocks` bytes got the loop's verdict `valid`
    /// (which leaves a code point cut by their end unjudged). Judges the
    /// rest and carries an unfinished code point at the end.
    fn judge_rest(&mut self, dst: &[u8], blocks: usize, valid: bool) -> Result<(), Utf8Error> {
        if !valid {
            let err = locate_error(self.offset, dst);
            self.failed = Some(err);
            return Err(err);
        }
        // The blocks are valid up to a code point their end may cut; that one
        // and the bytes after the blocks are left, under two blocks.
        let cut = blocks - unfinished_tail_len(&dst[..blocks]);
        self.offset += cut as u64;
        let rest = &dst[cut..];
        // Their whole code points go through the block check too, padded
        // (the byte-at-a-time path costs more than the blocks on a 1 KiB
        // message of mixed text); an unfinished one is carried as usual.
        let whole = rest.len() - unfinished_tail_len(rest);
        if is_valid_short(&rest[..whole]) {
            self.offset += whole as u64;
            return self.feed(&rest[whole..]);
        }
        // Invalid: the regular path locates the error.
        self.feed(rest)
    }

    /// Declares the end of the stream (for WebSocket, of the text message).
    ///
    /// It does not reset the validator: call [`reset`](Self::reset) before
    /// the next stream.
    ///
    /// # Errors
    ///
    /// Returns the stream's earlier error, if any, or an error with
    /// [`error_len`](Utf8Error::error_len) `None` if the stream ended inside
    /// a code point.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        if self.carry_len > 0 {
            let err = Utf8Error::new(self.offset, None);
            self.failed = Some(err);
            return Err(err);
        }
        Ok(())
    }

    /// Forgets everything: the carried bytes, the position and any error.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The number of bytes of an unfinished code point carried from the
    /// previous chunks (0 to 3).
    ///
    /// The last `pending()` bytes fed are valid so far but not yet a whole
    /// code point, so a caller that hands text out piece by piece can cut its
    /// pieces at code-point boundaries.
    pub const fn pending(&self) -> usize {
        self.carry_len as usize
    }

    /// The number of bytes fed so far, carried bytes included.
    pub const fn position(&self) -> u64 {
        self.offset + self.carry_len as u64
    }

    fn feed_inner(&mut self, mut chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len > 0 {
            let used = self.complete_carry(chunk)?;
            chunk = &chunk[used..];
            if self.carry_len > 0 {
                // The chunk ended before the code point did.
                return Ok(());
            }
        }
        if chunk.len() < SIMD_THRESHOLD {
            return self.feed_short(chunk);
        }
        let split = chunk.len() - unfinished_tail_len(chunk);
        let (bulk, tail) = chunk.split_at(split);
        if !is_valid_bulk(bulk) {
            // Locate the error in the whole chunk: a code point cut short at
            // the end of `bulk` is only known to be invalid (not incomplete)
            // once the lead byte of `tail` is seen after it.
            return Err(locate_error(self.offset, chunk));
        }
        self.offset += bulk.len() as u64;
        if !tail.is_empty() {
            check_prefix(self.offset, tail)?;
            self.keep(tail);
        }
        Ok(())
    }

    /// A short chunk in one pass of core's validator: it finds the error, or
    /// the cut code point (`error_len() == None`) whose bytes it has already
    /// checked to be a valid prefix.
    fn feed_short(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if chunk.is_ascii() {
            self.offset += chunk.len() as u64;
            return Ok(());
        }
        match core::str::from_utf8(chunk) {
            Ok(_) => self.offset += chunk.len() as u64,
            Err(e) if e.error_len().is_none() => {
                let tail = &chunk[e.valid_up_to()..];
                self.offset += e.valid_up_to() as u64;
                self.keep(tail);
            }
            Err(e) => return Err(Utf8Error::from_core(self.offset, e)),
        }
        Ok(())
    }

    /// Carries `tail` (1 to 3 bytes, the start of a cut code point).
    fn keep(&mut self, tail: &[u8]) {
        for (slot, &byte) in self.carry.iter_mut().zip(tail.iter().take(3)) {
            *slot = byte;
        }
        self.carry_len = tail.len() as u8;
    }

    /// Moves bytes from the front of `chunk` into the carried code point until
    /// it is whole or the chunk runs out; returns how many bytes it took.
    fn complete_carry(&mut self, chunk: &[u8]) -> Result<usize, Utf8Error> {
        let have = self.carry_len as usize;
        let width = sequence_width(self.carry[0]);
        let used = (width - have).min(chunk.len());
        // At most 3 bytes: a bounded loop, not a call to memcpy.
        for (slot, &byte) in self.carry[have..].iter_mut().zip(&chunk[..used]) {
            *slot = byte;
        }
        let candidate = &self.carry[..have + used];
        if let Some(valid) = invalid_at(candidate) {
            return Err(Utf8Error::new(self.offset, Some(valid as u8)));
        }
        if candidate.len() == width {
            self.offset += width as u64;
            self.carry_len = 0;
        } else {
            self.carry_len = candidate.len() as u8;
        }
        Ok(used)
    }
}

/// Checks the bytes of one code point, whole or cut short, by the table of
/// RFC 3629 §4 (which std's decoder also follows): returns `Some(n)` if byte
/// `n` can never continue the `n` bytes before it, `None` if every byte so
/// far is allowed. `n` is std's `error_len`: the length of the valid prefix.
///
/// The carry is at most four bytes, so this is cheaper than a call into core.
pub(crate) fn invalid_at(code_point: &[u8]) -> Option<usize> {
    let lead = code_point[0];
    // The second byte's range depends on the lead: it excludes overlong
    // forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    let second = match lead {
        0xC2..=0xDF | 0xE1..=0xEC | 0xEE..=0xEF | 0xF1..=0xF3 => 0x80..=0xBF,
        0xE0 => 0xA0..=0xBF,
        0xED => 0x80..=0x9F,
        0xF0 => 0x90..=0xBF,
        0xF4 => 0x80..=0x8F,
        _ => return Some(1),
    };
    for (i, &byte) in code_point.iter().enumerate().skip(1) {
        let allowed = if i == 1 {
            second.contains(&byte)
        } else {
            byte & 0xC0 == 0x80
        };
        if !allowed {
            return Some(i);
        }
    }
    None
}

/// The length a code point starting with `lead` claims (1 for ASCII and for
/// bytes that cannot start one; those are judged by the bulk validator).
const fn sequence_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

/// How many bytes at the end of `chunk` are the start of a code point that the
/// chunk cuts off (0 to 3).
pub(crate) fn unfinished_tail_len(chunk: &[u8]) -> usize {
    for back in 1..=chunk.len().min(3) {
        let byte = chunk[chunk.len() - back];
        if byte & 0xC0 != 0x80 {
            // The last lead byte: is its code point cut?
            return if sequence_width(byte) > back { back } else { 0 };
        }
    }
    0
}

/// Checks that `prefix`, an incomplete code point at stream offset `offset`,
/// can still be completed into valid UTF-8: `ED A0` (a surrogate) or `F4 90`
/// (beyond U+10FFFF) fail here, at once.
fn check_prefix(offset: u64, prefix: &[u8]) -> Result<(), Utf8Error> {
    match invalid_at(prefix) {
        Some(valid) => Err(Utf8Error::new(offset, Some(valid as u8))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::{vec, vec::Vec};

    use super::*;

    #[test]
    fn short_pieces_padded_to_blocks_are_judged_as_std_judges_them() {
        let text = "aé€😀".repeat(20);
        let bytes = text.as_bytes();
        // Every piece under two blocks long between code-point boundaries,
        // as it is and with one byte broken.
        // (Under Miri, a sample: a few starts, every 37th byte broken.)
        let (starts, stride) = if cfg!(miri) { (2, 37) } else { (16, 1) };
        for start in (0..starts).filter(|&i| text.is_char_boundary(i)) {
            for end in (start..start + 2 * BLOCK).filter(|&i| text.is_char_boundary(i)) {
                let piece = &bytes[start..end];
                assert!(is_valid_short(piece), "{start}..{end}");
                for at in (0..piece.len()).step_by(stride) {
                    for bad in [0x80, 0xC0, 0xF8] {
                        let mut broken = piece.to_vec();
                        broken[at] = bad;
                        let std_says = core::str::from_utf8(&broken).is_ok();
                        let whole = broken.len() - unfinished_tail_len(&broken);
                        if whole == broken.len() {
                            assert_eq!(is_valid_short(&broken), std_says, "{start}..{end} {at}");
                        }
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

    #[test]
    fn tail_length_counts_only_cut_code_points() {
        assert_eq!(unfinished_tail_len(b""), 0);
        assert_eq!(unfinished_tail_len(b"abc"), 0);
        assert_eq!(unfinished_tail_len(b"a\xE2\x82"), 2);
        assert_eq!(unfinished_tail_len(b"a\xE2\x82\xAC"), 0);
        assert_eq!(unfinished_tail_len(b"\xF0\x9F\x98"), 3);
        assert_eq!(unfinished_tail_len(b"\x80\x80\x80"), 0);
        assert_eq!(unfinished_tail_len(b"\xC3"), 1);
    }

    #[test]
    fn carry_survives_one_byte_chunks_and_reports_absolute_offsets() {
        let mut v = Utf8Validator::new();
        for b in b"ab\xF0\x9F\x98" {
            v.feed(&[*b]).unwrap();
        }
        assert_eq!(v.pending(), 3);
        assert_eq!(v.position(), 5);
        let err = v.feed(b"A").unwrap_err();
        assert_eq!((err.valid_up_to(), err.error_len()), (2, Some(3)));
        // Sticky until reset.
        assert_eq!(v.feed(b"ok"), Err(err));
        assert_eq!(v.finish(), Err(err));
        v.reset();
        v.feed(b"ok").unwrap();
        v.finish().unwrap();
    }
}
