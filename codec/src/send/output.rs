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
    #[inline]
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

    /// Takes back the encoded bytes at `stable`, the last queued and none
    /// of them written yet.
    pub(crate) fn take_back(&mut self, stable: &Range<usize>) -> BytesMut {
        debug_assert!(self.unwritten(stable));
        debug_assert_eq!(stable.end, self.encoded_written + self.encoded.len());
        let taken = self.encoded.split_off(stable.start - self.encoded_written);
        self.len -= taken.len();
        taken
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
        if let (1, Some((at, payload))) = (self.shared.len(), self.shared.front()) {
            // One payload held (a server's large message, as an echo sends
            // it): the bytes before it, it, the bytes after, without the
            // general walk (half the instructions of a 16 KiB echo's write).
            let split = at - self.encoded_written;
            let runs = [&self.encoded[..split], &payload[..], &self.encoded[split..]];
            let mut filled = 0;
            for run in runs.into_iter().filter(|run| !run.is_empty()) {
                let Some(slot) = dst.get_mut(filled) else {
                    break;
                };
                *slot = IoSlice::new(run);
                filled += 1;
            }
            return filled;
        }
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
    #[inline]
    pub(crate) fn consume(&mut self, written: usize) {
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
        self.consume_part(written);
    }

    /// [`consume`](Self::consume) of some of the bytes waiting, not all.
    fn consume_part(&mut self, mut written: usize) {
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

    #[inline]
    fn clear(&mut self) {
        self.encoded.clear();
        if !self.shared.is_empty() {
            // (`VecDeque::clear` is a call even when there is nothing to
            // drop; small messages hold no payload by reference.)
            self.shared.clear();
        }
        self.encoded_written = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `dst` slots of [`Output::vectored`] hold, joined.
    fn gathered(output: &Output, slots: usize) -> Vec<u8> {
        let mut dst = vec![IoSlice::new(&[]); slots];
        let filled = output.vectored(&mut dst);
        assert!(dst[..filled].iter().all(|run| !run.is_empty()));
        dst[..filled]
            .iter()
            .flat_map(|run| run.iter().copied())
            .collect()
    }

    /// One payload held, with encoded bytes before and after it (the
    /// one-payload shortcut) or a second payload (the general walk): at
    /// every point a write may have stopped, the runs are the bytes left,
    /// in order, cut short only by the room in `dst`.
    #[test]
    fn the_runs_are_the_bytes_left_after_every_partial_write() {
        for second in [false, true] {
            let mut wire = Vec::new();
            let queue = |output: &mut Output, wire: &mut Vec<u8>| {
                output.encode(|buf| buf.extend_from_slice(b"HDR"));
                let payload: Vec<u8> = (0..8).collect();
                output.push_shared(Bytes::from(payload.clone()));
                output.encode(|buf| buf.extend_from_slice(b"ping"));
                wire.extend_from_slice(b"HDR");
                wire.extend_from_slice(&payload);
                wire.extend_from_slice(b"ping");
            };
            let frames = 1 + usize::from(second);
            for _ in 0..frames {
                queue(&mut Output::default(), &mut wire);
            }
            for written in 0..wire.len() {
                let mut left = Output::default();
                for _ in 0..frames {
                    queue(&mut left, &mut Vec::new());
                }
                left.consume(written);
                let all = gathered(&left, 8);
                assert_eq!(all, wire[written..], "{written} written");
                for slots in 1..4 {
                    let some = gathered(&left, slots);
                    assert!(all.starts_with(&some), "{written} written, {slots} slots");
                    assert!(!some.is_empty(), "{written} written, {slots} slots");
                }
            }
        }
    }
}
