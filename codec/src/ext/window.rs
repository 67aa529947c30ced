//! A raw-deflate inflater whose LZ77 window is exactly `2^bits` bytes, for
//! a peer whose window the handshake limited below 32 KiB (RFC 7692
//! §7.1.2): a distance past `2^bits` is refused, whatever the cuts.
//!
//! miniz_oxide's low-level decoder writes into a ring of `2^bits` bytes,
//! the output copied out of it into the caller's room, and never more per
//! call than that room (`decompress_with_limit`), so nothing is inflated
//! that the caller has no room for. Until the ring first fills, the decoder
//! runs in its non-wrapping mode, where it refuses a distance past the
//! bytes written so far (a reference before the context's start); once it
//! has wrapped, in its wrapping mode, where it refuses a distance past the
//! ring's length (miniz_oxide 0.9: `DistanceOutOfBounds`). The ring then
//! holds exactly the last `2^bits` bytes, so a distance of `2^bits` is read
//! and `2^bits + 1` refused, as zlib's inflater with that window would.
//! Each is a check of the decoder's own state, made when the match is
//! decoded, so the verdict does not depend on how the input was cut.
//!
//! zlib's inflater (zlib-rs) cannot do this: it keeps 32 KiB whatever the
//! window bits, and it also reads back into the current call's output
//! however far.

use std::mem::MaybeUninit;

use miniz_oxide::inflate::{
    core::{decompress_with_limit, inflate_flags, DecompressorOxide},
    TINFLStatus,
};
use zlib_rs::{InflateError, Status};

use super::zstream::Step;

/// The lengths of the empty stored block that ends a sync flush (RFC 7692
/// §7.2.1), once its header byte is in: what a receiver appends (§7.2.2).
const EMPTY_LENGTHS: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The lengths of a stored block of one byte, then that byte: the second
/// probe of [`WindowedInflate::end_at_sync_point`].
const ONE_BYTE_BLOCK: [u8; 5] = [0x01, 0x00, 0xFE, 0xFF, b'Z'];

/// An inflater of raw deflate with a window of exactly `2^bits` bytes
/// (8..=14).
#[derive(Clone)]
pub(crate) struct WindowedInflate {
    /// Boxed: about 11 KiB of Huffman tables, moved with the inflater.
    decoder: Box<DecompressorOxide>,
    /// The last `2^bits` bytes inflated (all of them once `wrapped`).
    ring: Box<[u8]>,
    /// Where the next byte goes in `ring`.
    pos: usize,
    /// The ring has filled once: every byte of it is history.
    wrapped: bool,
}

impl std::fmt::Debug for WindowedInflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedInflate")
            .field("window", &self.ring.len())
            .field("pos", &self.pos)
            .field("wrapped", &self.wrapped)
            .finish()
    }
}

impl WindowedInflate {
    /// An inflater with a window of `2^bits` bytes.
    ///
    /// # Panics
    ///
    /// If `bits` is not 8..=15.
    pub(crate) fn new(bits: u8) -> Self {
        assert!((8..=15).contains(&bits), "window bits {bits}");
        Self {
            decoder: Box::default(),
            ring: vec![0; 1 << bits].into_boxed_slice(),
            pos: 0,
            wrapped: false,
        }
    }

    /// The decoder's flags: more input may follow every call (a message
    /// comes in reads), and the ring is read as one until it has wrapped,
    /// so that a distance before the context's start is refused.
    fn flags(&self) -> u32 {
        let wrapping = match self.wrapped {
            true => 0,
            false => inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
        };
        inflate_flags::TINFL_FLAG_HAS_MORE_INPUT | wrapping
    }

    /// One decoder call from `input` into the ring at `pos`, writing at
    /// most `max` bytes: the status, the bytes taken and written (from
    /// `pos`, not past the ring's end).
    fn step(&mut self, input: &[u8], max: usize, extra_flags: u32) -> (TINFLStatus, usize, usize) {
        let flags = self.flags() | extra_flags;
        decompress_with_limit(
            &mut self.decoder,
            input,
            &mut self.ring,
            self.pos,
            max,
            flags,
        )
    }

    /// `written` bytes went into the ring at `pos`: past its end, it wraps.
    fn advance(&mut self, written: usize) {
        self.pos += written;
        if self.pos == self.ring.len() {
            self.pos = 0;
            self.wrapped = true;
        }
    }

    /// Inflates `input` into `output` (from its start), as
    /// [`RawInflate::inflate`](super::zstream::RawInflate::inflate) does:
    /// until all input is taken and all the output it makes is out, or the
    /// output is full, or the data ends (a final block:
    /// `Ok(Status::StreamEnd)`) or is corrupt (`Err(DataError)`, which it
    /// stays). No more is inflated than `output` has room for.
    /// `Ok(Status::BufError)` when no progress was possible.
    pub(crate) fn inflate(&mut self, input: &[u8], output: &mut [MaybeUninit<u8>]) -> Step {
        let (mut consumed, mut written) = (0, 0);
        let status = loop {
            let (status, used, wrote) = self.step(&input[consumed..], output.len() - written, 0);
            let made = &self.ring[self.pos..self.pos + wrote];
            for (to, &byte) in output[written..written + wrote].iter_mut().zip(made) {
                to.write(byte);
            }
            consumed += used;
            written += wrote;
            self.advance(wrote);
            match status {
                TINFLStatus::Done => break Ok(Status::StreamEnd),
                // It stopped at the ring's end, with room left: go on from
                // its start.
                TINFLStatus::HasMoreOutput if written < output.len() && used + wrote > 0 => {}
                TINFLStatus::HasMoreOutput | TINFLStatus::NeedsMoreInput => {
                    break Ok(match consumed + written {
                        0 => Status::BufError,
                        _ => Status::Ok,
                    })
                }
                // `DistanceOutOfBounds` among them.
                _ => break Err(InflateError::DataError),
            }
        };
        Step {
            status,
            consumed,
            written,
        }
    }

    /// At the end of a message: whether the data ended at the sync point,
    /// a stored block's header read and its lengths next, as
    /// [`RawInflate::at_sync_point`](super::zstream::RawInflate::at_sync_point)
    /// tells, and if so gives the decoder those lengths, the tail
    /// `00 00 FF FF` (RFC 7692 §7.2.2). `Some(true)` if that stored block
    /// was BFINAL (the stream ended), `Some(false)` if not, `None` if the
    /// data ended anywhere else (the inflater is then not to be used
    /// again).
    ///
    /// miniz_oxide does not say where its decoder stands, so this asks it
    /// twice what only a decoder at the sync point answers: given the
    /// lengths of a one-byte stored block and that byte (on a copy), it
    /// writes that byte and stops at the block's end; given the tail, it
    /// takes all four bytes, writes nothing and stops at the block's end
    /// holding no bits. Data that ends inside a stored block's lengths or
    /// content, inside a Huffman block's codes, between blocks or in a
    /// fixed block's header fails one of them. The one difference from
    /// zlib's exact check: a dynamic block's header cut so that each probe's
    /// bits complete it and then end the block at the probe's last bit (with
    /// the byte `Z` first for the second) passes both; a sender makes no such
    /// data (it ends a message with a sync flush), and what follows is
    /// inflated from a block boundary as any other message.
    pub(crate) fn end_at_sync_point(&mut self) -> Option<bool> {
        let until_block_end = inflate_flags::TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY;
        // The copy writes its byte where the next byte goes, the oldest of
        // the ring once it has wrapped: put that back after.
        let oldest = self.ring[self.pos];
        let mut copy = (*self.decoder).clone();
        let flags = self.flags() | until_block_end;
        let (status, used, wrote) = decompress_with_limit(
            &mut copy,
            &ONE_BYTE_BLOCK,
            &mut self.ring,
            self.pos,
            1,
            flags,
        );
        let one_byte = matches!(status, TINFLStatus::BlockBoundary | TINFLStatus::Done)
            && (used, wrote) == (ONE_BYTE_BLOCK.len(), 1)
            && self.ring[self.pos] == b'Z';
        self.ring[self.pos] = oldest;
        if !one_byte {
            return None;
        }
        let (status, used, wrote) = self.step(&EMPTY_LENGTHS, 0, until_block_end);
        if (used, wrote) != (EMPTY_LENGTHS.len(), 0) {
            return None;
        }
        match status {
            TINFLStatus::Done => Some(true),
            TINFLStatus::BlockBoundary => self
                .decoder
                .block_boundary_state()
                .filter(|state| state.num_bits == 0)
                .map(|_| false),
            _ => None,
        }
    }

    /// A copy of the decoder as it stands, its state and window, to go on
    /// from here apart from this one.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }

    /// Starts a new stream: no history, no block begun (keeping the
    /// allocations; the ring's old bytes are not read, as it has not
    /// wrapped).
    pub(crate) fn reset(&mut self) {
        self.decoder.init();
        self.pos = 0;
        self.wrapped = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data` compressed with a sync flush, its `00 00 FF FF` stripped.
    fn sync_compressed(data: &[u8]) -> Vec<u8> {
        let mut compress = flate2::Compress::new(flate2::Compression::new(6), false);
        let mut wire = Vec::with_capacity(data.len() + 1024);
        compress
            .compress_vec(data, &mut wire, flate2::FlushCompress::Sync)
            .unwrap();
        assert!(wire.ends_with(&EMPTY_LENGTHS));
        wire.truncate(wire.len() - EMPTY_LENGTHS.len());
        wire
    }

    fn bytes(room: &[MaybeUninit<u8>], step: &Step) -> Vec<u8> {
        room[..step.written]
            .iter()
            // SAFETY: `inflate` wrote the first `written` bytes.
            .map(|byte| unsafe { byte.assume_init() })
            .collect()
    }

    #[test]
    fn no_more_is_inflated_than_the_room_and_the_rest_follows() {
        // 100 KB of zeros: a few hundred bytes that inflate 300 times over,
        // through a 512-byte ring, into rooms of 1000 bytes. 10 KB under
        // Miri, which inflates a few KB a second: still 20 rings' worth.
        let data = vec![0u8; if cfg!(miri) { 10_000 } else { 100_000 }];
        let wire = sync_compressed(&data);
        let mut inflater = WindowedInflate::new(9);
        let mut room = [MaybeUninit::<u8>::uninit(); 1000];
        let (mut out, mut input) = (Vec::new(), &wire[..]);
        loop {
            let step = inflater.inflate(input, &mut room);
            assert!(matches!(step.status, Ok(Status::Ok | Status::BufError)));
            assert!(step.written <= room.len());
            out.extend(bytes(&room, &step));
            input = &input[step.consumed..];
            if step.written < room.len() && input.is_empty() {
                break;
            }
        }
        assert_eq!(out, data);
        assert_eq!(inflater.end_at_sync_point(), Some(false));
    }

    #[test]
    fn the_end_is_found_at_the_sync_point_only() {
        // "Hello" then the empty stored block's header (RFC 7692 §7.2.3.1).
        let hello = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];
        let mut room = [MaybeUninit::<u8>::uninit(); 64];
        for cut in 0..hello.len() {
            let mut inflater = WindowedInflate::new(10);
            let step = inflater.inflate(&hello[..cut], &mut room);
            assert!(step.status.is_ok());
            assert_eq!(inflater.end_at_sync_point(), None, "cut at {cut}");
        }
        let mut inflater = WindowedInflate::new(10);
        let step = inflater.inflate(&hello, &mut room);
        assert_eq!(bytes(&room, &step), b"Hello");
        assert_eq!(inflater.end_at_sync_point(), Some(false));
        // The next message goes on from the block boundary, its context
        // kept (§7.2.3.2: "Hello" again, as a match 5 back).
        let step = inflater.inflate(&[0xF2, 0x00, 0x11, 0x00, 0x00], &mut room);
        assert_eq!(bytes(&room, &step), b"Hello");
        assert_eq!(inflater.end_at_sync_point(), Some(false));
        // An empty final stored block's header, `01`: the tail ends the
        // stream (§7.2.3.4).
        let step = inflater.inflate(&[0x01], &mut room);
        assert_eq!((step.consumed, step.written), (1, 0));
        assert_eq!(inflater.end_at_sync_point(), Some(true));
        // A reset starts afresh: a distance back into "Hello" is refused.
        inflater.reset();
        let step = inflater.inflate(&[0xF2, 0x00, 0x11, 0x00, 0x00], &mut room);
        assert!(matches!(step.status, Err(InflateError::DataError)));
    }
}
