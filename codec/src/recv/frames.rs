//! The frame reader: the one place where received frame headers are parsed
//! and judged, and where payloads are unmasked (and, for plain text,
//! validated in the same pass) as their bytes land.
//!
//! It reads bytes in one of two ways, the two ways a socket read lands:
//! copied from the caller's slice ([`Input::Copy`], the copy being the
//! unmasking pass), or where the caller put them at the end of the read
//! buffer ([`Input::InPlace`]). Both go through the same loop; what differs
//! is only where a payload byte is read from.
//!
//! Where the payload goes is the [`MessageAssembler`]'s decision, given at
//! each frame's start as a [`Route`]: kept in the read buffer (a control
//! frame, a whole message handed out as a slice of it, a streamed piece),
//! written straight into the message's own buffer, handed through an
//! extension, or dropped. The reader tells the assembler, in stream order,
//! where each frame starts and ends and what arrived; it never answers
//! questions about positions.
//!
//! The read buffer holds, at its front, only the frame being read: the
//! first bytes of a header cut by the end of a read, or the payload kept so
//! far; everything before it has been handed on. After it come the bytes
//! not read yet: put there by the caller, or left by a read that stopped
//! because [`READY_MAX`] items were waiting (they are read in place when the
//! items are taken).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use utf8stream::{Utf8Error, Utf8Validator};

use super::{
    message::{MessageAssembler, Route, OWN_BUFFER_MIN},
    Inbound,
};
use crate::{
    config::Role,
    error::ProtocolError,
    ext::AllowedRsv,
    frame::{self, FrameHeader, OpCode, Status, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN},
    mask::{apply_mask, rotated, unmask_into},
};

/// A frame whose payload is shorter than this starts a window of
/// [`WINDOW`] bytes that is copied with one `memcpy` and read in place, a
/// whole message this short with one-shot validation, then copied out into
/// an allocation of its own: for small frames the fused copy's set-up
/// costs more than the pass it saves, and sharing the read buffer more
/// than an allocation (`codec_decode/100k_x_20B_text`).
const FUSE_MIN: u64 = 256;

/// How much a small frame's window copies at once: many small frames per
/// `memcpy`, and no more than L1 holds of a large frame that follows them.
const WINDOW: usize = 4096;

/// How many items the reader lets wait before it stops: the rest of the
/// input is read when they are taken. Many small messages in one read then
/// go through the queue a few at a time, while it is in L1, instead of
/// growing it to thousands (`codec_decode/100k_x_20B_text`); a read of
/// larger messages never holds this many.
pub(super) const READY_MAX: usize = 64;

/// The most compressed payload held back to go through the extension with
/// the next frame's (see [`FrameReader::deferred`]); no frame longer joins
/// it, so it holds less than twice this.
const DEFERRED_MAX: usize = 256 * 1024;

/// The most frames whose payload is held back so.
const DEFERRED_FRAMES_MAX: usize = 64;

/// How many reads of the current size the read buffer makes room for when
/// it must make room.
const ROOM_FOR_READS: usize = 4;

/// How much more than has arrived a message's own buffer reserves, if the
/// frame declares that much more: the rest of a frame cut by a read then
/// arrives without moving what is there, and a header alone reserves
/// nothing.
const ROOM_AHEAD: u64 = 64 * 1024;

/// Where the bytes to read are.
#[derive(Copy, Clone, Debug)]
pub(super) enum Input<'a> {
    /// In the caller's slice: copied into place, unmasked on the way.
    Copy(&'a [u8]),
    /// At the end of the read buffer, after the bytes the reader kept.
    InPlace,
}

/// Where the reader is in the stream.
#[derive(Copy, Clone, Debug)]
enum Place {
    /// Between frames (the first bytes of a header may be kept).
    Header,
    /// In a frame's payload.
    Payload {
        remaining: u64,
        /// The key as seen from the next payload byte, if masked.
        key: Option<[u8; 4]>,
        route: Route,
    },
    /// After a close frame or a violation: nothing more is read.
    Stopped,
}

/// Splits the received byte stream into frames, judging every header.
#[derive(Debug)]
pub(crate) struct FrameReader {
    role: Role,
    max_frame_size: u64,
    rsv: AllowedRsv,
    place: Place,
    /// Bytes at the front of the read buffer that belong to the frame being
    /// read. Bytes after them are not read yet.
    kept: usize,
    /// Reading a window of small frames copied from the caller's slice:
    /// a transformed payload that goes on past the window is left for the
    /// read to go on with in place, so that the extension gets it in the
    /// pieces a read in place would give it (a streamed inflated message
    /// is handed out in the same pieces whichever way the bytes came).
    in_window: bool,
    /// Unmasked compressed payload of the open message's frames that ended
    /// in this read, held to go through the extension in one call with
    /// what follows them in the read (each call has a fixed cost: zlib
    /// copies its last 32 KiB of output into its window). Handed on before
    /// anything else is read or reported, and at the read's end, so that
    /// nothing is judged later than a read that brings it, in order.
    deferred: BytesMut,
    /// Where each frame's part of [`deferred`](Self::deferred) ends, so
    /// that an error found in the one call's output is told in the frame
    /// whose own call would have found it.
    deferred_ends: Vec<usize>,
}

impl FrameReader {
    /// Whether a frame's payload is being read (its header came, not all
    /// of its payload).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(super) const fn in_payload(&self) -> bool {
        matches!(self.place, Place::Payload { .. })
    }

    pub(super) fn new(role: Role, max_frame_size: u64, rsv: AllowedRsv) -> Self {
        Self {
            role,
            max_frame_size,
            rsv,
            place: Place::Header,
            kept: 0,
            in_window: false,
            deferred: BytesMut::new(),
            deferred_ends: Vec::new(),
        }
    }

    /// Bytes at the front of the read buffer that the reader has read.
    pub(super) const fn kept(&self) -> usize {
        self.kept
    }

    /// Payload bytes still to come of the frame being read when they will
    /// be kept in the read buffer (a whole message read in place, a control
    /// frame); 0 otherwise. Bounded by the frame limit, which its header
    /// passed.
    pub(super) const fn kept_payload_to_come(&self) -> u64 {
        match self.place {
            Place::Payload {
                remaining,
                route: Route::Kept { .. },
                ..
            } => remaining,
            _ => 0,
        }
    }

    /// Reads nothing more.
    pub(super) fn stop(&mut self) {
        self.place = Place::Stopped;
        self.kept = 0;
        self.deferred = BytesMut::new();
        self.deferred_ends = Vec::new();
    }

    /// Hands the deferred payload (see [`FrameReader::deferred`]) to the
    /// extension.
    #[inline(always)]
    fn hand_on_deferred(
        &mut self,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        if !self.deferred.is_empty() {
            self.hand_on_deferred_now(assembler, ready);
        }
    }

    /// [`hand_on_deferred`](Self::hand_on_deferred)'s work, out of line.
    #[inline(never)]
    fn hand_on_deferred_now(
        &mut self,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        assembler.transform(&self.deferred, &self.deferred_ends, ready);
        self.deferred.clear();
        self.deferred_ends.clear();
    }

    /// Before the frame with `header` is acted on: the deferred payload is
    /// handed on, unless the frame goes on with it (a continuation with a
    /// payload of at most [`DEFERRED_MAX`], some of which is `here` in this
    /// read, so that the deferred frames are all before the one being read
    /// when they go on).
    #[inline(always)]
    fn before_frame(
        &mut self,
        header: &FrameHeader,
        here: bool,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        let joins = header.opcode == OpCode::Continuation
            && header.payload_len > 0
            && header.payload_len <= DEFERRED_MAX as u64
            && here;
        if !joins {
            self.hand_on_deferred(assembler, ready);
        }
    }

    /// Reads `input`, telling `assembler` what it finds.
    pub(super) fn read(
        &mut self,
        buf: &mut BytesMut,
        input: Input<'_>,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        if let Input::Copy(bytes) = input {
            if buf.capacity() - buf.len() < bytes.len() {
                // Making room moves what is kept (a frame still arriving)
                // to the front of the allocation, or to a new one: room for
                // several reads at once makes that rare.
                buf.reserve(bytes.len() * ROOM_FOR_READS);
            }
        }
        self.run(buf, input, assembler, ready);
        self.hand_on_deferred(assembler, ready);
        if let Place::Payload {
            route: Route::Streamed { .. },
            ..
        } = self.place
        {
            // Streaming: what arrived of the frame goes out now.
            if self.kept > 0 {
                let piece = buf.split_to(std::mem::take(&mut self.kept));
                assembler.piece(piece, ready);
            }
        }
    }

    fn run(
        &mut self,
        buf: &mut BytesMut,
        mut input: Input<'_>,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        loop {
            let available = match input {
                Input::Copy(bytes) => bytes.len(),
                Input::InPlace => buf.len() - self.kept,
            };
            if available == 0 {
                return;
            }
            if ready.len() >= READY_MAX || assembler.paused() {
                // Enough waits (or a transform holds a full piece's worth
                // more): the rest is read in place when it is taken.
                if let Input::Copy(bytes) = input {
                    buf.extend_from_slice(bytes);
                }
                return;
            }
            input = match self.place {
                Place::Stopped => {
                    buf.truncate(self.kept);
                    return;
                }
                Place::Header => match input {
                    Input::Copy(bytes) if self.kept == 0 && starts_small_frame(bytes) => {
                        // A run of small frames: one copy of a window, then
                        // read in place while it is in L1.
                        let span = bytes.len().min(WINDOW);
                        buf.extend_from_slice(&bytes[..span]);
                        self.in_window = true;
                        self.run(buf, Input::InPlace, assembler, ready);
                        self.in_window = false;
                        if buf.len() > self.kept && ready.len() < READY_MAX && !assembler.paused() {
                            // A transformed payload goes on past the
                            // window: the rest of the read joins it, read
                            // in place.
                            buf.extend_from_slice(&bytes[span..]);
                            Input::InPlace
                        } else {
                            Input::Copy(&bytes[span..])
                        }
                    }
                    Input::InPlace
                        if self.kept == 0 && self.small_frames(buf, assembler, ready) =>
                    {
                        input
                    }
                    _ => self.header(buf, input, assembler, ready),
                },
                Place::Payload {
                    route: Route::Transform,
                    remaining,
                    ..
                } if self.in_window && remaining > available as u64 => return,
                Place::Payload {
                    remaining,
                    key,
                    route,
                } => self.payload(
                    buf,
                    input,
                    available,
                    (remaining, key, route),
                    assembler,
                    ready,
                ),
            };
        }
    }

    /// The common case in a tight loop: small frames lying whole in the
    /// buffer, each a message or a control frame. Every one goes through the
    /// same header rules, the same assembler calls and the same payload pass
    /// as any frame; only the state kept for a frame that arrives in pieces
    /// is skipped. Stops before the first frame that is not small and whole
    /// (the general path reads it) and after one the assembler routes
    /// elsewhere (left with its payload to read). Returns whether it read a
    /// header.
    #[inline]
    fn small_frames(
        &mut self,
        buf: &mut BytesMut,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) -> bool {
        let mut progress = false;
        // (A transform pauses only on the general path: none runs here.)
        while ready.len() < READY_MAX {
            let Some((header, len)) = self.small_frame_header(buf) else {
                break;
            };
            progress = true;
            // Whole in the buffer: its payload is here.
            self.before_frame(&header, true, assembler, ready);
            if let Some(item) = Self::whole_message(buf, &header, len, assembler) {
                ready.push_back(item);
                continue;
            }
            if let Some(item) = Self::whole_transformed_message(buf, &header, len, assembler) {
                ready.push_back(item);
                continue;
            }
            let n = header.payload_len as usize;
            buf.advance(len);
            let route = match assembler.begin(&header, true) {
                Ok(route) => route,
                Err(err) => {
                    self.fail(buf, err, ready);
                    break;
                }
            };
            let Route::Kept { text } = route else {
                self.place = Place::Payload {
                    remaining: header.payload_len,
                    key: header.mask,
                    route,
                };
                if header.payload_len == 0 {
                    self.end_frame(buf, assembler, ready);
                }
                break;
            };
            if let Err(err) = self.keep(buf, None, n, header.mask, text, assembler) {
                assembler.invalid_text(err, Some(&buf[..self.kept]), 0, ready);
                buf.advance(std::mem::take(&mut self.kept));
            }
            self.end_frame(buf, assembler, ready);
            if !matches!(self.place, Place::Header) {
                break;
            }
        }
        progress
    }

    /// Whether `buf`, the read buffer, starts with a frame whose next read
    /// hands on an item without more bytes: a whole final or control frame
    /// (a whole fragment too, in `streaming` mode), or a header that breaks
    /// a rule (its violation). Only between frames: mid-frame it says no.
    #[cfg(feature = "tokio")]
    pub(super) fn item_at_front(&self, buf: &[u8], streaming: bool) -> bool {
        if !matches!(self.place, Place::Header) {
            return false;
        }
        match self.read_header(buf) {
            Err(_) => true,
            Ok(Status::Partial) => false,
            Ok(Status::Complete((header, len))) => {
                (header.fin || streaming) && header.payload_len <= (buf.len() - len) as u64
            }
        }
    }

    /// The next item, if the read buffer starts with the whole frame of a
    /// small message on its own: the common case, handed to the caller
    /// straight, without the queue. `None` (nothing read) for anything else,
    /// which [`read`](Self::read) reads. The queue must be empty: items are
    /// handed out in stream order.
    #[inline]
    pub(super) fn next_small_message(
        &mut self,
        buf: &mut BytesMut,
        assembler: &MessageAssembler,
    ) -> Option<Inbound> {
        if !matches!(self.place, Place::Header) || self.kept != 0 {
            return None;
        }
        let (header, len) = self.small_frame_header(buf)?;
        Self::whole_message(buf, &header, len, assembler)
    }

    /// The header at the front of `buf`, judged, if its frame is small
    /// (under [`FUSE_MIN`]) and lies whole in `buf`.
    #[inline(always)]
    fn small_frame_header(&self, buf: &[u8]) -> Option<(FrameHeader, usize)> {
        match self.read_header(buf) {
            // Under FUSE_MIN, so the length fits a usize.
            Ok(Status::Complete((header, len)))
                if header.payload_len < FUSE_MIN
                    && len + header.payload_len as usize <= buf.len() =>
            {
                Some((header, len))
            }
            _ => None,
        }
    }

    /// If the small frame with `header` (`len` bytes) lying whole at the
    /// front of `buf` is a message on its own, as
    /// [`MessageAssembler::plain_whole_message`] says: the message, split
    /// off and unmasked where it lies, text checked in one shot and handed
    /// out as a slice (or its UTF-8 violation). `None`, with nothing read,
    /// for any other frame.
    #[inline(always)]
    fn whole_message(
        buf: &mut BytesMut,
        header: &FrameHeader,
        len: usize,
        assembler: &MessageAssembler,
    ) -> Option<Inbound> {
        let text = assembler.plain_whole_message(header)?;
        // Under FUSE_MIN, so it fits a usize.
        let n = header.payload_len as usize;
        // Unmasked and judged where it lies, before anything is split off:
        // the split's result then goes straight to `freeze`, not through a
        // copy that reloads it whole from the stores just made (a load
        // spanning two stores is not forwarded from them: it waits).
        let payload = &mut buf[len..len + n];
        let verdict = match (header.mask, text) {
            // Unmasked and judged in one pass over the words.
            (Some(key), true) => utf8stream::check_unmasking_in_place(payload, key),
            (Some(key), false) => {
                apply_mask(payload, key, 0);
                Ok(())
            }
            (None, true) => utf8stream::check(payload),
            (None, false) => Ok(()),
        };
        // Copied out into an allocation of its own, not split off as a
        // view of the read buffer: a split and its drop each update the
        // buffer's shared reference count (an atomic, which first waits for
        // the unmasking's stores), and under FUSE_MIN bytes that costs more
        // than an allocation and a copy (`codec_decode/100k_x_20B_text`
        // 25-30 % faster). A message the caller keeps then holds its own
        // bytes, not a read buffer of up to 64 KiB and more.
        let payload = Bytes::copy_from_slice(&buf[len..len + n]);
        consume_front(buf, len + n);
        Some(MessageAssembler::whole_message(text, payload, verdict))
    }

    /// If the small frame with `header` (`len` bytes) lying whole at the
    /// front of `buf` is a transformed message on its own, as
    /// [`MessageAssembler::transformed_whole_message`] says: its payload
    /// unmasked where it lies and handed to the transform in one step, as
    /// the general path hands a whole message's payload (see
    /// [`MessageAssembler::transformed_message`]), without opening a message
    /// or routing a frame. `None`, with nothing read, for any other frame.
    #[inline(always)]
    fn whole_transformed_message(
        buf: &mut BytesMut,
        header: &FrameHeader,
        len: usize,
        assembler: &mut MessageAssembler,
    ) -> Option<Inbound> {
        let text = assembler.transformed_whole_message(header)?;
        // Under FUSE_MIN, so it fits a usize.
        let n = header.payload_len as usize;
        let payload = &mut buf[len..len + n];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        let item = assembler.transformed_message(text, payload);
        buf.advance(len + n);
        Some(item)
    }

    /// Reads (the rest of) a header and starts its frame.
    fn header<'a>(
        &mut self,
        buf: &mut BytesMut,
        input: Input<'a>,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) -> Input<'a> {
        let parsed = match input {
            // The kept bytes are the header's first ones: read it whole.
            Input::InPlace => self.read_header(buf),
            Input::Copy(bytes) if self.kept == 0 => self.read_header(bytes),
            Input::Copy(bytes) => {
                // The header is cut by the end of a read: join its two parts.
                let mut joined = [0u8; MAX_HEADER_LEN];
                joined[..self.kept].copy_from_slice(&buf[..self.kept]);
                let more = bytes.len().min(MAX_HEADER_LEN - self.kept);
                joined[self.kept..self.kept + more].copy_from_slice(&bytes[..more]);
                self.read_header(&joined[..self.kept + more])
            }
        };
        match &parsed {
            Ok(Status::Complete((header, len))) => {
                let here = match input {
                    Input::Copy(bytes) => bytes.len() + self.kept > *len,
                    Input::InPlace => buf.len() > *len,
                };
                self.before_frame(header, here, assembler, ready);
            }
            _ => self.hand_on_deferred(assembler, ready),
        }
        match parsed {
            Err(err) => {
                self.fail(buf, err, ready);
                input
            }
            Ok(Status::Partial) => match input {
                Input::Copy(bytes) => {
                    buf.extend_from_slice(bytes);
                    self.kept += bytes.len();
                    Input::Copy(&[])
                }
                Input::InPlace => {
                    self.kept = buf.len();
                    input
                }
            },
            Ok(Status::Complete((header, len))) => {
                if let Some((item, rest)) = self.whole_frame(buf, input, &header, len, assembler) {
                    ready.push_back(item);
                    return rest;
                }
                let rest = match input {
                    Input::Copy(bytes) => {
                        let rest = &bytes[len - self.kept..];
                        if self.kept > 0 {
                            // A header cut by the end of the last read.
                            buf.advance(self.kept);
                        }
                        Input::Copy(rest)
                    }
                    Input::InPlace => {
                        buf.advance(len);
                        input
                    }
                };
                self.kept = 0;
                self.begin(
                    buf,
                    &header,
                    matches!(input, Input::InPlace),
                    assembler,
                    ready,
                );
                rest
            }
        }
    }

    /// If the frame whose header (`len` bytes) was just read is a message on
    /// its own, as [`MessageAssembler::plain_whole_message`] says, that would
    /// be kept in the read buffer, and its payload is all here: the message
    /// (or its UTF-8 violation), its payload unmasked and validated in one
    /// pass as on the general path, copied in or where it lies, and the
    /// input after it. Nothing is opened or routed: the reader stays between
    /// frames. `None`, with nothing read, for any other frame.
    #[inline]
    fn whole_frame<'a>(
        &mut self,
        buf: &mut BytesMut,
        input: Input<'a>,
        header: &FrameHeader,
        len: usize,
        assembler: &mut MessageAssembler,
    ) -> Option<(Inbound, Input<'a>)> {
        let text = assembler.plain_whole_message(header)?;
        let n = usize::try_from(header.payload_len).ok()?;
        let key = header.mask;
        let (verdict, payload, rest) = match input {
            // As `begin` routes it: kept only if under OWN_BUFFER_MIN.
            Input::Copy(bytes)
                if self.kept == 0
                    && header.payload_len < OWN_BUFFER_MIN
                    && bytes.len() - len >= n =>
            {
                let (src, rest) = bytes[len..].split_at(n);
                // Nothing kept: the read buffer is empty.
                debug_assert!(buf.is_empty());
                let mut utf8 = assembler.whole_message_validator(text);
                let verdict = copy_payload(buf, src, key, utf8.as_deref_mut());
                let verdict = verdict.and_then(|()| utf8.map_or(Ok(()), Utf8Validator::finish));
                (verdict, buf.split_to(n).freeze(), Input::Copy(rest))
            }
            Input::InPlace if buf.len() - len >= n => {
                let mut utf8 = assembler.whole_message_validator(text);
                let payload = &mut buf[len..len + n];
                let verdict = unmask_in_place(payload, key, utf8.as_deref_mut());
                let verdict = verdict.and_then(|()| utf8.map_or(Ok(()), Utf8Validator::finish));
                self.kept = 0;
                // The header goes with the split, dropped from the view.
                let mut payload = buf.split_to(len + n).freeze();
                payload.advance(len);
                (verdict, payload, input)
            }
            _ => return None,
        };
        Some((
            MessageAssembler::whole_message(text, payload, verdict),
            rest,
        ))
    }

    /// Parses the header at the front of `bytes` and applies every header
    /// rule, each as soon as the bytes it needs are there.
    ///
    /// # Errors
    ///
    /// RSV bits the extensions do not define, reserved opcodes, fragmented
    /// or oversized control frames, lengths with the top bit set or not
    /// minimally encoded (all 1002), masking against the role (1002), and
    /// the frame limit (1009).
    #[inline]
    pub(super) fn read_header(
        &self,
        bytes: &[u8],
    ) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        let Some(&first) = bytes.first() else {
            return Ok(Status::Partial);
        };
        let (fin, rsv, opcode) = frame::first_byte(first);
        // §5.2: "MUST be 0 unless an extension is negotiated that defines
        // meanings for non-zero values".
        if rsv & !self.rsv.for_opcode(opcode) != 0 {
            return Err(ProtocolError::ReservedBits(rsv));
        }
        // §5.2: "If an unknown opcode is received, the receiving endpoint
        // MUST _Fail the WebSocket Connection_."
        if let OpCode::Reserved(bits) = opcode {
            return Err(ProtocolError::ReservedOpcode(bits));
        }
        // §5.5: "All control frames ... MUST NOT be fragmented."
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        let Some(&second) = bytes.get(1) else {
            return Ok(Status::Partial);
        };
        let (_, short_len) = frame::second_byte(second);
        // §5.5: "All control frames MUST have a payload length of 125 bytes
        // or less."
        if opcode.is_control() && usize::from(short_len) > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlFrameTooLong);
        }
        // §5.2: a 64-bit length's "most significant bit MUST be 0" (known
        // from its first byte).
        if short_len == 127 && bytes.get(2).is_some_and(|b| b & 0x80 != 0) {
            return Err(ProtocolError::LengthTopBitSet);
        }
        let Status::Complete((header, len)) = FrameHeader::parse(bytes) else {
            return Ok(Status::Partial);
        };
        // §5.2: "the minimal number of bytes MUST be used to encode the
        // length" (a 7-bit length always is).
        if short_len > 125 && len != header.encoded_len() {
            return Err(ProtocolError::NonMinimalLength);
        }
        // §5.1: "The server MUST close the connection upon receiving a frame
        // that is not masked" / "A client MUST close a connection if it
        // detects a masked frame."
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // §10.4: the frame limit, from the header alone.
        if header.payload_len > self.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                declared: header.payload_len,
                limit: self.max_frame_size,
            });
        }
        Ok(Status::Complete((header, len)))
    }

    /// Starts a frame whose header was read: the assembler routes it.
    fn begin(
        &mut self,
        buf: &mut BytesMut,
        header: &FrameHeader,
        in_place: bool,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        match assembler.begin(header, in_place) {
            Err(err) => self.fail(buf, err, ready),
            Ok(route) => {
                self.place = Place::Payload {
                    remaining: header.payload_len,
                    key: header.mask,
                    route,
                };
                if header.payload_len == 0 {
                    self.end_frame(buf, assembler, ready);
                }
            }
        }
    }

    /// Reads the payload bytes that arrived, up to the frame's end.
    fn payload<'a>(
        &mut self,
        buf: &mut BytesMut,
        input: Input<'a>,
        available: usize,
        (remaining, key, route): (u64, Option<[u8; 4]>, Route),
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) -> Input<'a> {
        // Within `available`, so it fits a usize.
        let n = remaining.min(available as u64) as usize;
        let (src, rest) = match input {
            Input::Copy(bytes) => {
                let (src, rest) = bytes.split_at(n);
                (Some(src), Input::Copy(rest))
            }
            Input::InPlace => (None, input),
        };
        let result = match route {
            Route::Kept { text } | Route::Streamed { text } => {
                self.keep(buf, src, n, key, text, assembler)
            }
            Route::Own { text } => {
                let (message, utf8) = assembler.own_buffer(text);
                make_room(message, n, remaining);
                match src {
                    Some(src) => copy_payload(message, src, key, utf8),
                    None => {
                        // Out of the read buffer into the message, unmasked
                        // (and validated) on the way.
                        let result = copy_payload(message, &buf[..n], key, utf8);
                        buf.advance(n);
                        result
                    }
                }
            }
            Route::Transform
                if !self.deferred.is_empty()
                    || remaining == n as u64
                        && n <= DEFERRED_MAX
                        && assembler.defers_transform() =>
            {
                self.defer(buf, src, n, (remaining, key), assembler, ready);
                Ok(())
            }
            Route::Transform => {
                // Unmasked where it lands, then through the extension.
                match src {
                    Some(src) => {
                        let _ = copy_payload(buf, src, key, None);
                    }
                    None => {
                        let _ = unmask_in_place(&mut buf[..n], key, None);
                    }
                }
                assembler.transform(&buf[..n], &[], ready);
                buf.advance(n);
                Ok(())
            }
            Route::Discard => {
                if src.is_none() {
                    buf.advance(n);
                }
                Ok(())
            }
        };
        let route = match result {
            Ok(()) => route,
            Err(err) => {
                // The message is invalid: the rest of it is dropped.
                let read = match route {
                    Route::Kept { .. } | Route::Streamed { .. } => Some(&buf[..self.kept]),
                    _ => None,
                };
                assembler.invalid_text(err, read, remaining - n as u64, ready);
                buf.advance(std::mem::take(&mut self.kept));
                Route::Discard
            }
        };
        self.place = Place::Payload {
            remaining: remaining - n as u64,
            key: key.map(|k| rotated(k, n)),
            route,
        };
        if remaining == n as u64 {
            self.end_frame(buf, assembler, ready);
        }
        rest
    }

    /// `n` payload bytes of a transformed frame (from `src`, or where they
    /// lie in `buf`), unmasked into the deferred payload (see
    /// [`FrameReader::deferred`]); handed on with it unless the frame ends
    /// here and the message goes on. Out of line: the common paths (a
    /// frame inflated on its own) stay small.
    #[inline(never)]
    fn defer(
        &mut self,
        buf: &mut BytesMut,
        src: Option<&[u8]>,
        n: usize,
        (remaining, key): (u64, Option<[u8; 4]>),
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        match src {
            Some(src) => {
                let _ = copy_payload(&mut self.deferred, src, key, None);
            }
            None => {
                let _ = copy_payload(&mut self.deferred, &buf[..n], key, None);
                buf.advance(n);
            }
        }
        self.deferred_ends.push(self.deferred.len());
        let more = remaining == n as u64
            && self.deferred.len() < DEFERRED_MAX
            && self.deferred_ends.len() < DEFERRED_FRAMES_MAX
            && assembler.defers_transform();
        if !more {
            self.hand_on_deferred(assembler, ready);
        }
    }

    /// Keeps `n` more payload bytes in the read buffer, unmasked (and
    /// validated if `text`): copied from `src`, or where they lie.
    #[inline(always)]
    fn keep(
        &mut self,
        buf: &mut BytesMut,
        src: Option<&[u8]>,
        n: usize,
        key: Option<[u8; 4]>,
        text: bool,
        assembler: &mut MessageAssembler,
    ) -> Result<(), Utf8Error> {
        let start = self.kept;
        self.kept += n;
        let utf8 = assembler.validator(text);
        match src {
            Some(src) => copy_payload(buf, src, key, utf8),
            None => unmask_in_place(&mut buf[start..start + n], key, utf8),
        }
    }

    /// Ends the frame being read: its kept payload goes to the assembler.
    #[inline(always)]
    fn end_frame(
        &mut self,
        buf: &mut BytesMut,
        assembler: &mut MessageAssembler,
        ready: &mut VecDeque<Inbound>,
    ) {
        let kept = match std::mem::take(&mut self.kept) {
            0 => BytesMut::new(),
            n => buf.split_to(n),
        };
        self.place = Place::Header;
        if !assembler.end_frame(kept, ready) {
            self.stop();
        }
    }

    /// A rule was broken: report it, and read nothing more.
    fn fail(&mut self, buf: &mut BytesMut, err: ProtocolError, ready: &mut VecDeque<Inbound>) {
        ready.push_back(Inbound::Violation(err));
        self.stop();
        buf.clear();
    }
}

/// Whether `bytes` starts with a whole header of a frame under [`FUSE_MIN`]
/// (whatever the rules say of it: the loop judges it).
fn starts_small_frame(bytes: &[u8]) -> bool {
    matches!(
        FrameHeader::parse(bytes),
        Status::Complete((header, _)) if header.payload_len < FUSE_MIN
    )
}

/// Makes room in a message's own buffer for `n` more bytes of a frame that
/// has `remaining` bytes to come: for what arrived and some of what the
/// frame declares, growing with the message, so that each byte is moved
/// O(1) times.
fn make_room(message: &mut BytesMut, n: usize, remaining: u64) {
    if message.capacity() - message.len() < n {
        let ahead = remaining.min(n as u64 + ROOM_AHEAD) as usize;
        message.reserve(n.max(message.len()).max(ahead));
    }
}

/// Appends `src` to `buf`, unmasked with `key` if there is one and
/// validated with `utf8` if it is text: one pass over the bytes.
fn copy_payload(
    buf: &mut BytesMut,
    src: &[u8],
    key: Option<[u8; 4]>,
    utf8: Option<&mut Utf8Validator>,
) -> Result<(), Utf8Error> {
    let Some(key) = key else {
        buf.extend_from_slice(src);
        return utf8.map_or(Ok(()), |utf8| utf8.feed(src));
    };
    buf.reserve(src.len());
    let spare = &mut buf.spare_capacity_mut()[..src.len()];
    let result = match utf8 {
        Some(utf8) => utf8.feed_unmasking_uninit(spare, src, key),
        None => {
            unmask_into(spare, src, key);
            Ok(())
        }
    };
    // SAFETY: both calls above initialize all of `spare`, the first
    // `src.len()` bytes past the buffer's length, whatever they return.
    unsafe { buf.set_len(buf.len() + src.len()) };
    result
}

/// Unmasks `payload` where it lies, validating it with `utf8` if it is
/// text: one pass over the bytes.
fn unmask_in_place(
    payload: &mut [u8],
    key: Option<[u8; 4]>,
    utf8: Option<&mut Utf8Validator>,
) -> Result<(), Utf8Error> {
    match (key, utf8) {
        (Some(key), Some(utf8)) => utf8.feed_unmasking_in_place(payload, key),
        (key, utf8) => {
            if let Some(key) = key {
                apply_mask(payload, key, 0);
            }
            utf8.map_or(Ok(()), |utf8| utf8.feed(payload))
        }
    }
}

/// Drops the first `n` bytes of `buf`. When they are all it holds (a
/// read that brought one small message, as an echo's does), it is emptied
/// where it lies: its front stays the allocation's front, where the next
/// read goes without the reclaim an advance would need first (and the
/// advance's own bookkeeping is skipped).
#[inline(always)]
fn consume_front(buf: &mut BytesMut, n: usize) {
    if n == buf.len() {
        buf.clear();
    } else {
        buf.advance(n);
    }
}
