//! The streaming validator: each chunk is checked by the kernel chosen for
//! this CPU, and at most three bytes of a code point cut by a chunk boundary
//! are carried to the next call.

use crate::{
    arch::{self, Kernel, BLOCK},
    is_valid_bulk, locate_error,
    scalar::{self, invalid_at},
    Utf8Error, SIMD_THRESHOLD,
};

/// Chunks shorter than this go to the scalar automaton (after the carried
/// code point is completed) rather than padded to a block: copying them and
/// checking a whole block costs more than a byte a step on so few bytes.
const PADDED_MIN: usize = 32;

/// Chunks up to this long, with up to three carried bytes in front and at
/// least one zero after, are
/// padded to one or two blocks; longer ones are checked where they are
/// (`arch::check_to_end`, which needs a block and a vector).
const PADDED_MAX: usize = 2 * BLOCK - 4;

/// Validates a byte stream chunk by chunk, failing on the first chunk after
/// which the stream can no longer be valid UTF-8.
///
/// It holds at most three bytes (an unfinished code point) and the stream
/// position; it copies only chunks shorter than two blocks (128 bytes), to
/// pad them. After an error every call returns that error again until
/// [`reset`](Self::reset).
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
    pub(crate) carry: [u8; 4],
    pub(crate) carry_len: u8,
    /// Stream offset of the first byte not yet known to be complete UTF-8:
    /// the start of the carried code point, if any.
    pub(crate) offset: u64,
    /// Set by the first error; returned by every call until `reset`.
    pub(crate) failed: Option<Utf8Error>,
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
    // Inlined, with the work out of line and its verdict read back from
    // `failed`: returned from a call, the 16-byte `Result` goes through
    // memory, and reading it back stalls on store forwarding (about a
    // fifth of the time of a 16-byte chunk).
    #[inline]
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.failed.is_none() {
            self.feed_recording(chunk);
        } else {
            self.offset += chunk.len() as u64;
        }
        match self.failed {
            None => Ok(()),
            Some(err) => Err(err),
        }
    }

    /// [`feed`](Self::feed)'s work: an error goes into `failed`.
    fn feed_recording(&mut self, chunk: &[u8]) {
        if let Err(err) = self.feed_inner(chunk) {
            self.failed = Some(err);
        }
    }

    /// Records the stream's first error, met with `rest` bytes of the chunk
    /// not yet counted in `position` (each path counts bytes as it judges
    /// them, and stops where it meets the error): afterwards `position`
    /// counts every byte fed and nothing is carried. Worked out here, on the
    /// error, rather than from the position before the chunk, which would
    /// cost every call (3-9 % of the instructions on 16-64 B chunks).
    #[cold]
    pub(crate) fn fail(&mut self, err: Utf8Error, rest: usize) -> Utf8Error {
        self.failed = Some(err);
        self.offset = self.position() + rest as u64;
        self.carry_len = 0;
        err
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
            return Err(self.fail(err, 0));
        }
        Ok(())
    }

    /// Forgets everything: the carried bytes, the position and any error.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The number of bytes of an unfinished code point carried from the
    /// previous chunks (0 to 3; 0 after an error).
    ///
    /// The last `pending()` bytes fed are valid so far but not yet a whole
    /// code point, so a caller that hands text out piece by piece can cut its
    /// pieces at code-point boundaries.
    pub const fn pending(&self) -> usize {
        self.carry_len as usize
    }

    /// The bytes of an unfinished code point carried from the previous
    /// chunks: the last [`pending`](Self::pending) bytes fed (0 to 3), valid
    /// so far (none after an error). A caller handing text out piece by
    /// piece keeps them back until the next piece completes them.
    ///
    /// ```
    /// let mut v = utf8stream::Utf8Validator::new();
    /// v.feed(b"ab\xE2\x82").unwrap();
    /// assert_eq!(v.pending_bytes(), b"\xE2\x82");
    /// v.feed(b"\xAC").unwrap();
    /// assert_eq!(v.pending_bytes(), b"");
    /// ```
    pub fn pending_bytes(&self) -> &[u8] {
        &self.carry[..self.carry_len as usize]
    }

    /// The number of bytes fed so far, carried bytes included; after an
    /// error too, the failing chunk and every later one counted in full.
    ///
    /// ```
    /// let mut v = utf8stream::Utf8Validator::new();
    /// v.feed(b"ab\xE2").unwrap();
    /// assert_eq!(v.position(), 3);
    /// let err = v.feed(b"\x82!?").unwrap_err();
    /// assert_eq!((err.valid_up_to(), v.position(), v.pending()), (2, 6, 0));
    /// ```
    pub const fn position(&self) -> u64 {
        self.offset + self.carry_len as u64
    }

    fn feed_inner(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if chunk.len() < PADDED_MIN {
            return self.feed_small(chunk);
        }
        let kernel = arch::selected();
        if !arch::has_block_check(kernel) {
            return self.feed_without_block_check(chunk);
        }
        if chunk.len() <= PADDED_MAX {
            return self.feed_padded(kernel, chunk);
        }
        // The carried bytes go in as the bytes before the chunk: the block
        // loop judges their code point with the bytes that complete it (the
        // chunk is longer than any code point), and starts where the chunk
        // does, on every call the same length.
        if !arch::check_to_end(kernel, chunk, self.carried_word()) {
            // Invalid: the byte-at-a-time path locates the error.
            return self.feed_without_block_check(chunk);
        }
        let whole = chunk.len() - unfinished_tail_len(chunk);
        let tail = &chunk[whole..];
        let done = self.offset + u64::from(self.carry_len) + whole as u64;
        if let Err(err) = check_prefix(done, tail) {
            return Err(self.fail(err, chunk.len()));
        }
        self.offset = done;
        self.keep(tail);
        Ok(())
    }

    /// The carried bytes at the end of a little-endian word, zeros before
    /// them (0 if none): the bytes before the next chunk, as the block loop
    /// takes them. Slots past `carry_len` may hold stale bytes; the shift
    /// drops them.
    fn carried_word(&self) -> u32 {
        let carried = u64::from(u32::from_le_bytes(self.carry));
        (carried << (32 - 8 * u32::from(self.carry_len))) as u32
    }

    /// A chunk of at most [`PADDED_MAX`] bytes, with the carried bytes in
    /// front, checked as one or two blocks padded with ASCII zeros: a step
    /// or two of the block loop instead of a byte-at-a-time pass, and the
    /// carried code point judged with the rest instead of on its own.
    fn feed_padded(&mut self, kernel: Kernel, chunk: &[u8]) -> Result<(), Utf8Error> {
        let have = self.carry_len as usize;
        if have == 0 && chunk.is_ascii() {
            self.offset += chunk.len() as u64;
            return Ok(());
        }
        let len = have + chunk.len();
        let mut padded = [0u8; 2 * BLOCK];
        padded[..have].copy_from_slice(&self.carry[..have]);
        padded[have..len].copy_from_slice(chunk);
        let tail = unfinished_tail_len(&padded[..len]);
        let whole = len - tail;
        let mut cut = [0u8; 3];
        cut[..tail].copy_from_slice(&padded[whole..len]);
        padded[whole..len].fill(0);
        // At least one zero follows the whole code points: the block check
        // leaves a lead byte at the very end unjudged (a code point the next
        // chunk may finish), so without it a stray lead ending them would
        // pass.
        let end = (whole + 1).div_ceil(BLOCK) * BLOCK;
        if !arch::check_blocks(kernel, &padded[..end]) {
            // Invalid: the byte-at-a-time path locates the error.
            return self.feed_without_block_check(chunk);
        }
        if let Err(err) = check_prefix(self.offset + whole as u64, &cut[..tail]) {
            return Err(self.fail(err, chunk.len()));
        }
        self.offset += whole as u64;
        self.keep(&cut[..tail]);
        Ok(())
    }

    /// A chunk under [`PADDED_MIN`] bytes: the scalar automaton from the
    /// state the carried bytes leave, over the whole chunk (as many steps
    /// on every call of one length, so its loop's exit is predicted, where
    /// completing the carried code point first left a varying rest). An
    /// invalid chunk goes to the exact path, which locates the error.
    // Inlined, as `feed_short`: on chunks of a few bytes a call costs as much
    // as the rest.
    #[inline(always)]
    fn feed_small(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        let have = self.carry_len as usize;
        // Under three bytes, a cut code point at the end may begin in the
        // carried bytes; from three on it lies in the chunk (it has at most
        // three bytes so far).
        if have == 0 && chunk.is_ascii() {
            self.offset += chunk.len() as u64;
            return Ok(());
        }
        if chunk.len() < 3 {
            return self.feed_without_block_check(chunk);
        }
        match scalar::run(self.carried_state(), chunk) {
            scalar::ACCEPT => {
                self.offset += (have + chunk.len()) as u64;
                self.carry_len = 0;
            }
            scalar::ERROR => return self.feed_without_block_check(chunk),
            _ => {
                let whole = chunk.len() - unfinished_tail_len(chunk);
                self.offset += (have + whole) as u64;
                self.keep(&chunk[whole..]);
            }
        }
        Ok(())
    }

    /// The automaton's state after the carried bytes: three steps, each
    /// kept only if its byte is carried (no loop whose length varies).
    #[inline(always)]
    fn carried_state(&self) -> scalar::State {
        let mut state = scalar::ACCEPT;
        for (i, &byte) in self.carry[..3].iter().enumerate() {
            let next = scalar::next_state(state, byte);
            if i < self.carry_len as usize {
                state = next;
            }
        }
        state
    }

    /// After the block loop: `bytes` start on a code-point boundary, and
    /// their first `blocks` bytes got the loop's verdict `valid` (which
    /// leaves a code point cut by their end unjudged). Judges the rest and
    /// carries an unfinished code point at the end.
    pub(crate) fn judge_rest(
        &mut self,
        kernel: Kernel,
        bytes: &[u8],
        blocks: usize,
        valid: bool,
    ) -> Result<(), Utf8Error> {
        if !valid {
            return Err(self.fail(locate_error(self.offset, bytes), bytes.len()));
        }
        // The blocks are valid up to a code point their end may cut; that one
        // and the bytes after the blocks are left, under two blocks.
        let cut = blocks - unfinished_tail_len(&bytes[..blocks]);
        self.offset += cut as u64;
        let rest = &bytes[cut..];
        let whole = rest.len() - unfinished_tail_len(rest);
        if is_valid_short(kernel, &rest[..whole]) {
            self.offset += whole as u64;
            let tail = &rest[whole..];
            if let Err(err) = check_prefix(self.offset, tail) {
                return Err(self.fail(err, tail.len()));
            }
            self.keep(tail);
            return Ok(());
        }
        // Invalid: the byte-at-a-time path locates the error.
        self.feed_without_block_check(rest)
    }

    /// The path of the portable kernel, of short chunks and of errors:
    /// `simdutf8` for the bulk of a long chunk, the scalar automaton for a
    /// short one; `simdutf8`'s `compat` flavour or `core` locate an error
    /// exactly as std does.
    // Inlined: on chunks of a few bytes a call costs as much as the rest.
    #[inline(always)]
    fn feed_without_block_check(&mut self, mut chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len > 0 {
            let used = match self.complete_carry(chunk) {
                Ok(used) => used,
                Err(err) => return Err(self.fail(err, chunk.len())),
            };
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
            return Err(self.fail(locate_error(self.offset, chunk), chunk.len()));
        }
        self.offset += bulk.len() as u64;
        if let Err(err) = check_prefix(self.offset, tail) {
            return Err(self.fail(err, tail.len()));
        }
        self.keep(tail);
        Ok(())
    }

    /// A short chunk in one pass of the scalar automaton (a byte a step,
    /// no set-up), which also leaves a cut code point at the end checked to
    /// be a valid prefix; core locates an error.
    // Inlined, as its caller: on chunks of a few bytes a call costs as much
    // as the rest.
    #[inline(always)]
    fn feed_short(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if chunk.is_ascii() {
            self.offset += chunk.len() as u64;
            return Ok(());
        }
        match scalar::run(scalar::ACCEPT, chunk) {
            scalar::ACCEPT => self.offset += chunk.len() as u64,
            scalar::ERROR => {
                return Err(self.fail(crate::core_error(self.offset, chunk), chunk.len()))
            }
            _ => {
                let whole = chunk.len() - unfinished_tail_len(chunk);
                self.offset += whole as u64;
                self.keep(&chunk[whole..]);
            }
        }
        Ok(())
    }

    /// Carries `tail` (0 to 3 bytes, the start of a cut code point).
    fn keep(&mut self, tail: &[u8]) {
        for (slot, &byte) in self.carry.iter_mut().zip(tail.iter().take(3)) {
            *slot = byte;
        }
        self.carry_len = tail.len() as u8;
    }

    /// Moves bytes from the front of `chunk` into the carried code point until
    /// it is whole or the chunk runs out; returns how many bytes it took.
    pub(crate) fn complete_carry(&mut self, chunk: &[u8]) -> Result<usize, Utf8Error> {
        let have = self.carry_len as usize;
        let width = sequence_width(self.carry[0]);
        let used = (width - have).min(chunk.len());
        // At most 3 bytes, into slots `have + i < 4`: the `& 3` changes no
        // index but keeps the compiler from making this a call to memcpy,
        // which costs more than the copy on chunks of a few bytes.
        for (i, &byte) in chunk[..used].iter().enumerate() {
            self.carry[(have + i) & 3] = byte;
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

/// Whether `bytes`, under two blocks that start and end on code-point
/// boundaries, are valid UTF-8: checked as whole blocks padded with ASCII
/// zeros, so that a short piece costs one or two steps of the block loop.
///
/// At least one zero always follows the bytes: the block check leaves a lead
/// byte at the very end unjudged (a code point the next chunk may finish),
/// so without it a stray lead ending the bytes would pass.
pub(crate) fn is_valid_short(kernel: Kernel, bytes: &[u8]) -> bool {
    debug_assert!(bytes.len() < 2 * BLOCK);
    let mut padded = [0u8; 2 * BLOCK];
    padded[..bytes.len()].copy_from_slice(bytes);
    let end = (bytes.len() + 1).div_ceil(BLOCK) * BLOCK;
    arch::check_blocks(kernel, &padded[..end])
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

/// Checks that `prefix`, an incomplete code point at stream offset `offset`
/// (or nothing), can still be completed into valid UTF-8: `ED A0` (a
/// surrogate) or `F4 90` (beyond U+10FFFF) fail here, at once.
fn check_prefix(offset: u64, prefix: &[u8]) -> Result<(), Utf8Error> {
    if prefix.is_empty() {
        return Ok(());
    }
    match invalid_at(prefix) {
        Some(valid) => Err(Utf8Error::new(offset, Some(valid as u8))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::arch::with_each_kernel;

    /// `feed` against std with every kernel, on text of every width cut
    /// into chunks of every size up to three blocks and a bit (the padded
    /// path, the block loop and its rest), whole and with one byte broken.
    #[test]
    fn feed_agrees_with_std_on_every_chunk_size_with_every_kernel() {
        let text = "aé€😀 naïve κόσμε 我能 ".repeat(14);
        let (sizes, breaks): (_, &[Option<usize>]) = if cfg!(miri) {
            (63..=66, &[None, Some(100)])
        } else {
            (1..=200, &[None, Some(3), Some(100), Some(255)])
        };
        with_each_kernel(|kernel| {
            for size in sizes.clone() {
                for &broken in breaks {
                    let mut bytes = text.as_bytes().to_vec();
                    if let Some(at) = broken {
                        bytes[at] = 0xC0;
                    }
                    let want = core::str::from_utf8(&bytes)
                        .map_err(|e| (e.valid_up_to() as u64, e.error_len()));
                    let mut v = Utf8Validator::new();
                    let mut fed = Vec::new();
                    let got = bytes
                        .chunks(size)
                        .try_for_each(|chunk| {
                            v.feed(chunk)?;
                            fed.extend_from_slice(chunk);
                            let tail = &fed[fed.len() - v.pending()..];
                            assert_eq!(v.pending_bytes(), tail, "{kernel:?} {size}");
                            Ok(())
                        })
                        .and_then(|()| v.finish())
                        .map_err(|e: Utf8Error| (e.valid_up_to(), e.error_len()));
                    assert_eq!(
                        got.is_ok(),
                        want.is_ok(),
                        "{kernel:?} chunks of {size}, broken {broken:?}"
                    );
                    if let (Err(got), Err(want)) = (got, want) {
                        assert_eq!(got, want, "{kernel:?} chunks of {size}, broken {broken:?}");
                    }
                }
            }
        });
    }

    /// A code point carried into a chunk long enough for the block loop
    /// goes in as the bytes before it: with every kernel, every cut of
    /// valid and invalid sequences, completed (or broken) by chunks of
    /// lengths that do and do not end on a block, gives std's verdict, from
    /// the chunk that makes the stream invalid, and the same state after.
    #[test]
    fn a_carried_code_point_is_judged_with_the_long_chunk_after_it() {
        const SEQUENCES: &[&[u8]] = &[
            b"\xC3\xA9",
            b"\xE2\x82\xAC",
            b"\xF0\x9F\x98\x80",
            b"\xF4\x8F\xBF\xBF",
            b"\xE0\x80\xAF",
            b"\xF0\x8F\xBF\xBF",
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
            b"\xE2\x82\x41",
            b"\xF0\x9F\x98\x41",
            b"\xC3\xC3",
            b"\xE2\x82\xAC\xAC",
        ];
        let lens: &[usize] = if cfg!(miri) {
            &[125]
        } else {
            &[125, 128, 129, 191, 256, 4096]
        };
        with_each_kernel(|kernel| {
            for &sequence in SEQUENCES {
                for cut in 1..sequence.len().min(4) {
                    for &len in lens {
                        for filler in ["a", "\u{444}"] {
                            let mut long = sequence[cut..].to_vec();
                            while long.len() < len {
                                long.extend_from_slice(filler.as_bytes());
                            }
                            long.truncate(len);
                            let mut stream = b"ab".to_vec();
                            stream.extend_from_slice(&sequence[..cut]);
                            let first = stream.len();
                            stream.extend_from_slice(&long);
                            let want = core::str::from_utf8(&stream)
                                .map_err(|e| (e.valid_up_to() as u64, e.error_len()));
                            // The call that must fail: the first whose bytes
                            // make a prefix no later bytes can repair.
                            let dead = (1..=stream.len()).find(|&k| {
                                core::str::from_utf8(&stream[..k])
                                    .is_err_and(|e| e.error_len().is_some())
                            });
                            let want_call = match dead {
                                Some(k) if k <= first => 0,
                                Some(_) => 1,
                                None => 2,
                            };
                            let mut v = Utf8Validator::new();
                            let calls = [v.feed(&stream[..first]), v.feed(&long), v.finish()];
                            let what = (kernel, &stream[..first + 4], len);
                            let failed = calls.iter().position(|r| r.is_err());
                            match (failed, want) {
                                (None, Ok(_)) => {}
                                (Some(call), Err(want)) => {
                                    let got = calls[call].unwrap_err();
                                    assert_eq!(
                                        (got.valid_up_to(), got.error_len()),
                                        want,
                                        "{what:02X?}"
                                    );
                                    assert_eq!(call, want_call, "{what:02X?}");
                                }
                                (got, want) => {
                                    panic!("{what:02X?}: failed at {got:?}, std {want:?}")
                                }
                            }
                        }
                    }
                }
            }
        });
    }

    /// A long chunk that starts with ASCII, for any number of bytes (the
    /// block loop goes four blocks a step over it, then a pair a step from
    /// the first four blocks that are not all ASCII), then text, valid or
    /// broken: with every kernel, with and without a code point carried
    /// into it, std's verdict and position.
    #[test]
    fn a_long_chunk_is_judged_after_ascii_of_any_length() {
        let runs: Vec<usize> = if cfg!(miri) {
            [0, 127, 128, 255, 256, 383].into()
        } else {
            (0..=700).collect()
        };
        let text = "é€😀 κόσμε ".repeat(12);
        with_each_kernel(|kernel| {
            for &run in &runs {
                for broken in [None, Some(0), Some(5), Some(100)] {
                    for carried in [&b""[..], b"\xE2\x82"] {
                        let mut chunk = b"\xAC"[..carried.len().min(1)].to_vec();
                        chunk.resize(chunk.len() + run, b'a');
                        let at = chunk.len();
                        chunk.extend_from_slice(text.as_bytes());
                        chunk.truncate(at + 150);
                        if let Some(b) = broken {
                            chunk[at + b] = 0xFF;
                        }
                        let mut stream = b"ab".to_vec();
                        stream.extend_from_slice(carried);
                        let first = stream.len();
                        stream.extend_from_slice(&chunk);
                        let want = core::str::from_utf8(&stream)
                            .map(|_| ())
                            .map_err(|e| (e.valid_up_to() as u64, e.error_len()));
                        let mut v = Utf8Validator::new();
                        v.feed(&stream[..first]).unwrap();
                        let got = v
                            .feed(&chunk)
                            .and_then(|()| v.finish())
                            .map_err(|e| (e.valid_up_to(), e.error_len()));
                        assert_eq!(got, want, "{kernel:?} run {run}, broken {broken:?}");
                    }
                }
            }
        });
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
        assert_eq!(v.pending_bytes(), b"\xF0\x9F\x98");
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
