//! A raw-deflate inflater on zlib-rs's C API (`libz-rs-sys`), for what its
//! safe API (`zlib_rs::Inflate`) does not say: where the decoder stands
//! after a call: zlib's `inflateSyncPoint` (a stored block's header read,
//! its lengths next) and `z_stream.data_type` ([`DecoderState`]).
//!
//! The `z_stream` is boxed (never moved after `inflateInit2_`), its input
//! and output pointers are set from live slices for the length of one
//! `inflate` call and cleared after it, and it is ended once, on drop.

use std::{ffi::c_int, mem::MaybeUninit};

use libz_rs_sys::{
    inflate, inflateCopy, inflateEnd, inflateInit2_, inflateReset, inflateSyncPoint, z_stream,
    zlibVersion, Z_BUF_ERROR, Z_DATA_ERROR, Z_MEM_ERROR, Z_NEED_DICT, Z_NO_FLUSH, Z_OK,
    Z_STREAM_END,
};
use zlib_rs::{InflateError, Status};

/// Raw deflate (negative: no zlib header) with a 32 KiB window.
const RAW_WINDOW_BITS: c_int = -15;

/// An inflater of raw deflate: zlib's `inflateInit2(-15)`, `inflate`,
/// `inflateReset`, `inflateEnd`.
pub(crate) struct RawInflate {
    /// Boxed: never moved between `inflateInit2_` and `inflateEnd`.
    stream: Box<z_stream>,
}

// SAFETY: the `z_stream` and the state it points to are owned by this value
// alone (allocated by `inflateInit2_`, freed by `inflateEnd` in `drop`), and
// its `next_in`/`next_out` pointers are null outside a call of `inflate`
// (which takes `&mut self`), so nothing in it is shared with, or borrowed
// from, another thread's data.
unsafe impl Send for RawInflate {}

/// What one call did.
#[derive(Debug)]
pub(crate) struct Step {
    /// zlib's answer: `Ok(Status::BufError)` when no progress was possible.
    pub(crate) status: Result<Status, InflateError>,
    /// Bytes of the input taken (some may be held in the bit buffer).
    pub(crate) consumed: usize,
    /// Bytes written from the start of the output.
    pub(crate) written: usize,
}

/// zlib's `data_type` after an `inflate` call (zlib-rs's `decoding_state`):
/// the bits held in the bit buffer (the low 6 bits), whether the last block
/// header read was final (64), stopped at a block boundary (128, which
/// zlib-rs reports only when asked to stop there with `Z_BLOCK` or
/// `Z_TREES`: under `Z_NO_FLUSH` it leaves a finished block waiting for the
/// next header, mode `TypeDo`, reported as 0, where zlib reports 128),
/// inside a block's data (256: a stored block's bytes being copied, or at
/// the start of a Huffman block's codes).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct DecoderState(c_int);

impl DecoderState {
    /// The last block header the decoder read had BFINAL set.
    pub(crate) const fn final_block(self) -> bool {
        self.0 & 64 != 0
    }
}

impl RawInflate {
    /// A raw-deflate inflater with a 32 KiB window.
    ///
    /// # Panics
    ///
    /// If the state cannot be allocated (as `zlib_rs::Inflate::new`).
    pub(crate) fn new() -> Self {
        // Null `zalloc`/`zfree`/`opaque`: zlib-rs picks its Rust allocator.
        let mut stream = Box::<z_stream>::default();
        let size = std::mem::size_of::<z_stream>() as c_int;
        // SAFETY: `stream` is a live, exclusively borrowed `z_stream` whose
        // `zalloc`, `zfree` and `opaque` are null (valid values: zlib-rs
        // then uses its default allocator); `zlibVersion()` is zlib-rs's own
        // NUL-terminated version string and `size` the size of the struct,
        // so the version check passes. The box is never moved out of
        // afterwards, so the state's view of the stream stays valid.
        let ret = unsafe { inflateInit2_(&mut *stream, RAW_WINDOW_BITS, zlibVersion(), size) };
        assert_eq!(ret, Z_OK, "inflateInit2_ failed");
        Self { stream }
    }

    /// Inflates `input` into `output` (from its start) with `Z_NO_FLUSH`.
    /// At most `u32::MAX` bytes of either are offered; the caller goes on
    /// with the rest, as with any call that stops early.
    pub(crate) fn inflate(&mut self, input: &[u8], output: &mut [MaybeUninit<u8>]) -> Step {
        let avail_in = input.len().min(u32::MAX as usize) as u32;
        let avail_out = output.len().min(u32::MAX as usize) as u32;
        let stream = &mut *self.stream;
        stream.next_in = input.as_ptr();
        stream.avail_in = avail_in;
        stream.next_out = output.as_mut_ptr().cast::<u8>();
        stream.avail_out = avail_out;
        // SAFETY: the stream was initialised by `inflateInit2_` in `new` and
        // not ended (that happens only in `drop`). `next_in`/`avail_in` were
        // just set from `input`, a live shared slice, with `avail_in <=
        // input.len()`; `next_out`/`avail_out` from `output`, a live
        // exclusive slice of `MaybeUninit<u8>` (zlib only writes it, never
        // reads it uninitialised), with `avail_out <= output.len()`. Both
        // slices outlive the call, and the pointers are cleared below
        // before they are released.
        let ret = unsafe { inflate(stream, Z_NO_FLUSH) };
        let consumed = (avail_in - stream.avail_in) as usize;
        let written = (avail_out - stream.avail_out) as usize;
        stream.next_in = std::ptr::null();
        stream.avail_in = 0;
        stream.next_out = std::ptr::null_mut();
        stream.avail_out = 0;
        let status = match ret {
            Z_OK => Ok(Status::Ok),
            Z_STREAM_END => Ok(Status::StreamEnd),
            Z_BUF_ERROR => Ok(Status::BufError),
            Z_NEED_DICT => Err(InflateError::NeedDict {
                dict_id: stream.adler as u32,
            }),
            Z_DATA_ERROR => Err(InflateError::DataError),
            Z_MEM_ERROR => Err(InflateError::MemError),
            _ => Err(InflateError::StreamError),
        };
        Step {
            status,
            consumed,
            written,
        }
    }

    /// A copy of the decoder as it stands, its state and window, to go on
    /// from here apart from this one (zlib's `inflateCopy`); `None` if it
    /// cannot be allocated.
    pub(crate) fn try_clone(&mut self) -> Option<Self> {
        let mut copy = Box::<z_stream>::default();
        // zlib-rs refuses to copy a stream whose output pointer is null, as
        // ours is between calls: one to a local byte passes the check, and
        // is cleared before the byte goes (nothing is written through it).
        let mut unused = MaybeUninit::<u8>::uninit();
        self.stream.next_out = unused.as_mut_ptr();
        // SAFETY: `self.stream` was initialised by `inflateInit2_` and not
        // ended, its input pointer is null with `avail_in` 0 between calls,
        // and its output pointer points to `unused`, live for the call;
        // `copy` is a live, exclusively borrowed `z_stream` that zlib-rs
        // overwrites with the source's fields and a new state of its own
        // (allocated with the source's allocator, null here: zlib-rs's).
        // The box is never moved out of afterwards.
        let ret = unsafe { inflateCopy(&mut *copy, &*self.stream) };
        self.stream.next_out = std::ptr::null_mut();
        copy.next_out = std::ptr::null_mut();
        copy.avail_out = 0;
        (ret == Z_OK).then_some(Self { stream: copy })
    }

    /// Where the decoder stood after the last call (zlib's `data_type`).
    pub(crate) fn state(&self) -> DecoderState {
        DecoderState(self.stream.data_type)
    }

    /// The decoder has read a stored block's header, skipped to the byte
    /// boundary after it, holds no bits, and waits for the block's four
    /// bytes of lengths (zlib's `inflateSyncPoint`: mode `STORED`, no bits
    /// held): the point where a sync flush's empty stored block stands
    /// once its `00 00 FF FF` is stripped.
    pub(crate) fn at_sync_point(&mut self) -> bool {
        // SAFETY: the stream was initialised by `inflateInit2_` in `new` and
        // not ended; `inflateSyncPoint` only reads its state.
        unsafe { inflateSyncPoint(&mut *self.stream) == 1 }
    }

    /// Starts a new stream: no history, no block begun (zlib's
    /// `inflateReset`, keeping the allocation).
    pub(crate) fn reset(&mut self) {
        // SAFETY: the stream was initialised by `inflateInit2_` in `new` and
        // not ended; its input and output pointers are null between calls.
        let ret = unsafe { inflateReset(&mut *self.stream) };
        debug_assert_eq!(ret, Z_OK);
    }
}

impl Drop for RawInflate {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by `inflateInit2_` in `new`, and
        // this is the one place it is ended; it is not used afterwards.
        unsafe { inflateEnd(&mut *self.stream) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(inflater: &mut RawInflate, input: &[u8]) -> (Step, Vec<u8>) {
        let mut room = [MaybeUninit::<u8>::uninit(); 64];
        let step = inflater.inflate(input, &mut room);
        let out = room[..step.written]
            .iter()
            // SAFETY: `inflate` wrote the first `written` bytes.
            .map(|byte| unsafe { byte.assume_init() })
            .collect();
        (step, out)
    }

    #[test]
    fn the_state_after_a_sync_flushed_message_and_a_final_one() {
        let mut inflater = RawInflate::new();
        // "Hello" in a non-final fixed block, then the empty stored block's
        // header byte: the decoder waits for the lengths, holding nothing.
        let (step, out) = inflate_all(&mut inflater, &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]);
        assert_eq!(out, b"Hello");
        assert!(matches!(step.status, Ok(Status::Ok)));
        assert_eq!((step.consumed, inflater.state()), (7, DecoderState(0)));
        assert!(inflater.at_sync_point());
        // The lengths' first two bytes are held: 16 bits, no sync point.
        let (step, _) = inflate_all(&mut inflater, &[0x00, 0x00]);
        assert_eq!((step.consumed, inflater.state()), (2, DecoderState(16)));
        assert!(!inflater.at_sync_point());
        // The rest: a block boundary, waiting for the next header (0, not
        // 128: zlib-rs leaves the mode at `TypeDo` under `Z_NO_FLUSH`).
        let (step, out) = inflate_all(&mut inflater, &[0xFF, 0xFF]);
        assert!(out.is_empty());
        assert_eq!((step.consumed, inflater.state()), (2, DecoderState(0)));
        assert!(!inflater.at_sync_point());
        // An empty final stored block's header: a sync point, BFINAL.
        let (_, out) = inflate_all(&mut inflater, &[0x01]);
        assert!(out.is_empty() && inflater.at_sync_point());
        assert!(inflater.state().final_block());
        // A final block ends the stream at once.
        inflater.reset();
        let (step, out) = inflate_all(&mut inflater, &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]);
        assert_eq!(out, b"Hello");
        assert!(matches!(step.status, Ok(Status::StreamEnd)));
        assert!(inflater.state().final_block());
        // Corrupt: an invalid block type.
        inflater.reset();
        let (step, _) = inflate_all(&mut inflater, &[0x06]);
        assert!(matches!(step.status, Err(InflateError::DataError)));
    }

    #[test]
    fn a_copy_goes_on_as_the_decoder_would() {
        let mut inflater = RawInflate::new();
        // "Hello" in a non-final fixed block, cut inside it.
        let data = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];
        let (_, out) = inflate_all(&mut inflater, &data[..3]);
        let mut copy = inflater.try_clone().expect("allocated");
        let (_, rest) = inflate_all(&mut inflater, &data[3..]);
        let (_, copy_rest) = inflate_all(&mut copy, &data[3..]);
        assert_eq!([&out[..], &rest[..]].concat(), b"Hello");
        assert_eq!(copy_rest, rest);
        assert!(copy.at_sync_point() && inflater.at_sync_point());
    }
}
