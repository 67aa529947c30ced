//! The bytes waiting to go to the peer, in wire order: frames encoded into
//! one buffer, with large payloads of a server's frames held by reference
//! between them (the same [`Bytes`] the application sent), so that a
//! vectored write sends them without copying them into the buffer first.
//! A client masks its payloads, so it always copies them (RFC 6455 §5.3).
//!
//! ```text
//! encoded: [hdr A][small frame][hdr B]      [ping]
//! shared:                       ^ payload B  (after 3 frames' bytes)
//! wire:    [hdr A][small frame][hdr B][payload B][ping]
//! ```

use std::{collections::VecDeque, io::IoSlice, ops::Range};

use bytes::{Buf, Bytes, BytesMut};

/// A payload this long or longer is held by reference: below it, copying
/// costs less than a slice of its own in every write (and a write call of
/// its own where the stream is not vectored).
pub(crate) const SHARE_MIN: usize = if cfg!(any(fuzzing, miri)) {
    // Under the fuzz targets' message sizes, so that they reach it.
    64
} else {
    16 * 1024
};

/// The output queue of a connection.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Encoded frames; the shared payloads go between its bytes.
    encoded: BytesMut,
    /// Payloads held by reference, in order, each with the position in the
    /// stream of encoded bytes (counted since the queue was last empty)
    /// after which it goes.
    shared: VecDeque<(usize, Bytes)>,
    /// Encoded bytes written since the queue was last empty: where the
    /// front of `encoded` is in that count.
    encoded_written: usize,
    /// Bytes waiting, encoded and shared.
    len: usize,
}

impl Output {
    /// Bytes waiting.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Appends to the encoded bytes with `encode`, after everything queued
    /// so far; returns what `encode` returns and where the bytes it
    /// appended are in the stream of encoded bytes (stable across writes,
    /// for [`remove`](Self::remove)).
    pub(crate) fn encode<R>(
        &mut self,
        encode: impl FnOnce(&mut BytesMut) -> R,
    ) -> (R, Range<usize>) {
        let before = self.encoded.len();
        let result = encode(&mut self.encoded);
        self.len += self.encoded.len() - before;
        let start = self.encoded_written + before;
        (result, start..self.encoded_written + self.encoded.len())
    }

    /// Queues `payload` by reference, after everything queued so far.
    pub(crate) fn push_shared(&mut self, payload: Bytes) {
        if payload.is_empty() {
            return;
        }
        self.len += payload.len();
        self.shared
            .push_back((self.encoded_written + self.encoded.len(), payload));
    }

    /// Whether no byte of the encoded bytes at `stable` (as [`encode`](Self::encode)
    /// gave them) was written yet.
    pub(crate) const fn unwritten(&self, stable: &Range<usize>) -> bool {
        stable.start >= self.encoded_written
    }

    /// Removes the encoded bytes at `stable`, none of them written yet; the
    /// bytes queued after them move down.
    pub(crate) fn remove(&mut self, stable: &Range<usize>) {
        debug_assert!(self.unwritten(stable));
        let start = stable.start - self.encoded_written;
        let end = stable.end - self.encoded_written;
        let removed = end - start;
        if end == self.encoded.len() {
            self.encoded.truncate(start);
        } else {
            let after = self.encoded.split_off(end);
            self.encoded.truncate(start);
            self.encoded.extend_from_slice(&after);
        }
        for (at, _) in &mut self.shared {
            if *at >= stable.end {
                *at -= removed;
            }
        }
        self.len -= removed;
    }

    /// The first contiguous run of bytes waiting (empty if none).
    pub(crate) fn first(&self) -> &[u8] {
        match self.shared.front() {
            Some((at, payload)) if *at == self.encoded_written => payload,
            Some((at, _)) => &self.encoded[..*at - self.encoded_written],
            None => &self.encoded,
        }
    }

    /// The runs of bytes waiting, in wire order, none empty.
    fn runs(&self) -> impl Iterator<Item = &[u8]> {
        let base = self.encoded_written;
        let tail = self.shared.back().map_or(0, |(at, _)| at - base);
        self.shared
            .iter()
            .scan(0, move |from, (at, payload)| {
                let to = at - base;
                let encoded = &self.encoded[*from..to];
                *from = to;
                Some([encoded, &payload[..]])
            })
            .flatten()
            .chain(std::iter::once(&self.encoded[tail..]))
            .filter(|run| !run.is_empty())
    }

    /// Fills `dst` with the runs of bytes waiting, in order; returns how
    /// many it filled.
    pub(crate) fn vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for (slot, run) in dst.iter_mut().zip(self.runs()) {
            *slot = IoSlice::new(run);
            filled += 1;
        }
        filled
    }

    /// Drops the first `written` bytes waiting.
    ///
    /// # Panics
    ///
    /// If `written` is more than [`len`](Self::len).
    pub(crate) fn consume(&mut self, mut written: usize) {
        assert!(
            written <= self.len,
            "consume_output({written}) with only {} bytes pending",
            self.len
        );
        if written == self.len {
            // All written: start over at the front of the same allocation.
            self.clear();
            return;
        }
        self.len -= written;
        while written > 0 {
            match self.shared.front_mut() {
                Some((at, payload)) if *at == self.encoded_written => {
                    if written < payload.len() {
                        payload.advance(written);
                        return;
                    }
                    written -= payload.len();
                    self.shared.pop_front();
                }
                front => {
                    let run =
                        front.map_or(self.encoded.len(), |(at, _)| *at - self.encoded_written);
                    let n = written.min(run);
                    self.encoded.advance(n);
                    self.encoded_written += n;
                    written -= n;
                }
            }
        }
    }

    /// Takes everything waiting as one buffer (copying the shared payloads
    /// into it, if any).
    pub(crate) fn take(&mut self) -> BytesMut {
        let taken = if self.shared.is_empty() {
            self.encoded.split()
        } else {
            let mut all = BytesMut::with_capacity(self.len);
            for run in self.runs() {
                all.extend_from_slice(run);
            }
            all
        };
        self.clear();
        taken
    }

    fn clear(&mut self) {
        self.encoded.clear();
        self.shared.clear();
        self.encoded_written = 0;
        self.len = 0;
    }
}
