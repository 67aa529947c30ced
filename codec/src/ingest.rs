//! The receive side's first pass: as bytes enter the read buffer, frame
//! headers are followed, payloads are unmasked and text is validated, in the
//! copy itself.
//!
//! A server's payloads arrive masked. Copying them out of the caller's read,
//! unmasking them and validating text are three passes over every byte when
//! done one after the other; [`Ingest::append`] does all three in one (with
//! `utf8stream`'s fused loop), and the decoder later finds the payloads
//! already unmasked and the UTF-8 verdict waiting. Bytes put into the buffer
//! by the caller ([`Connection::read_buf`](crate::Connection::read_buf)) are
//! taken in place by [`Ingest::catch_up`] instead.
//!
//! Without streaming, the payloads of a fragmented message, and of a frame
//! of [`OWN_BUFFER_MIN`] bytes or more, do not go into the read buffer at
//! all: they are unmasked (and validated) straight into a buffer of their
//! message's own, and only their headers stay in the read buffer for the
//! connection to account for (`Connection::assembled_frame`). A fragment is
//! then not copied again to join its message, and a large frame still
//! arriving is never moved when the read buffer makes room.
//! Positions ([`Ingest::end`], [`Invalid::frame`], ...) therefore count the
//! bytes that went into the read buffer, not those of the stream.
//!
//! It judges nothing but UTF-8: at a header that breaks a rule it stops and
//! leaves the rest as it came, and the decoder reports that header's error
//! when it gets there. It does not know the connection's state either: a
//! verdict on a message that the connection discards (after our close) is
//! never asked for.

use std::collections::VecDeque;

use bytes::BytesMut;
use utf8stream::Utf8Validator;

use crate::{
    config::{Config, Role},
    frame::{FrameHeader, OpCode, Status, MAX_HEADER_LEN},
    mask::{apply_mask, rotated, unmask_into},
};

/// The first text in the stream that stopped being UTF-8.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// Position of the header of the frame that showed it.
    pub frame: u64,
    /// The position from which it shows: once the frame's bytes up to here
    /// have been read, the message is known to be invalid. (The payload of
    /// an assembled frame has no position: all of it counts as read.)
    pub seen_by: u64,
    /// As `Utf8Error::valid_up_to`: the offset in the message.
    pub valid_up_to: u64,
}

#[derive(Copy, Clone, Debug)]
enum Place {
    /// Between frames; `have` bytes of the next header are at the end of
    /// what was taken.
    Header { have: usize },
    /// In a frame's payload.
    Payload {
        frame: u64,
        remaining: u64,
        /// The key as seen from the next payload byte, if masked.
        key: Option<[u8; 4]>,
        text: bool,
        /// The frame ends a data message.
        ends_message: bool,
        /// A whole message in one frame, or a control frame: once taken in,
        /// one the connection's fast path may take.
        single: bool,
        /// A frame whose payload goes into a buffer of its message's own.
        assembled: bool,
    },
    /// At a header that breaks a rule: everything from here stays as it came.
    Stopped,
}

/// A frame whose payload is shorter than this starts a window of
/// [`WINDOW`] bytes that is copied with one `memcpy` and unmasked in place:
/// for small frames the fused copy's set-up costs more than the pass it saves
/// (`codec_decode/100k_x_20B_text`).
const FUSE_MIN: u64 = 256;

/// How much a small frame's window copies at once: many small frames per
/// `memcpy`, and no more than L1 holds of a large frame that follows them.
const WINDOW: usize = 4096;

/// A whole message in one frame at least this long gets a buffer of its own,
/// as fragments do: larger frames mostly arrive across reads, and the read
/// buffer would move what has arrived when it makes room for the rest. Below
/// it, sharing the read buffer is cheaper than an allocation per message
/// (`codec_decode/1k_x_16KiB_text` is 10 % slower with 4 KiB here,
/// `1k_x_64KiB_binary` 5-10 % faster with 32 KiB than without).
const OWN_BUFFER_MIN: u64 = if cfg!(any(fuzzing, miri)) {
    // Under the fuzz targets' 4 KiB frame limit, so that they reach it, and
    // small enough for Miri to run the tests that cross it.
    1024
} else {
    32 * 1024
};

/// How much more than has arrived an assembled frame's buffer reserves, if
/// the frame declares that much more: the rest of a frame cut by a read
/// then arrives without moving what is there, and a header alone reserves
/// nothing.
const ROOM_AHEAD: u64 = 64 * 1024;

/// How many reads of the current size the read buffer makes room for when
/// it must make room.
const ROOM_FOR_READS: usize = 4;

/// Whether `input` is to be copied and starts with a whole header of a frame
/// under [`FUSE_MIN`].
fn starts_with_small_frame(input: &Input<'_>) -> bool {
    matches!(
        input,
        Input::Copy(bytes) if matches!(
            FrameHeader::parse(bytes),
            Ok(Status::Complete((header, _))) if header.payload_len < FUSE_MIN
        )
    )
}

/// Where the bytes to take in are.
enum Input<'a> {
    /// In the caller's slice: append them.
    Copy(&'a [u8]),
    /// Already at the end of the buffer, from this index on.
    InPlace(usize),
}

/// Follows the frames of one direction of a stream as its bytes arrive.
#[derive(Debug)]
pub(crate) struct Ingest {
    role: Role,
    max_frame_size: u64,
    max_message_size: u64,
    /// Whether messages are assembled here (not in streaming mode).
    assembles: bool,
    /// Whether the bytes being taken in came to [`append`](Self::append)
    /// (rather than being put in the buffer by the caller).
    appending: bool,
    place: Place,
    /// Position of the end of what was put into the read buffer.
    end: u64,
    /// Position of the header at which the pass stopped, if it did.
    stopped_at: u64,
    /// Whether a data message is open, and whether it is text.
    message: Option<bool>,
    /// The open message's length so far, as its headers declare it.
    message_len: u64,
    /// The payloads of the open message so far, if it is assembled here.
    assembled: BytesMut,
    /// Assembled messages whose last frame was taken in, oldest first: the
    /// pass runs ahead of the connection by up to a read.
    finished: VecDeque<BytesMut>,
    /// Positions of the headers of whole messages in one frame assembled
    /// here and not yet taken (at most a read's worth, each of at least
    /// [`OWN_BUFFER_MIN`] bytes).
    whole_frames: VecDeque<u64>,
    utf8: Utf8Validator,
    invalid: Option<Invalid>,
    /// The latest run of whole frames taken in, as positions: each a
    /// message in one frame (its text checked) or a control frame.
    checked_run: (u64, u64),
}

impl Ingest {
    pub(crate) fn new(role: Role, config: &Config) -> Self {
        Self {
            role,
            max_frame_size: config.frame_limit(),
            max_message_size: config.message_limit(),
            assembles: !config.is_streaming(),
            appending: false,
            place: Place::Header { have: 0 },
            end: 0,
            stopped_at: u64::MAX,
            message: None,
            message_len: 0,
            assembled: BytesMut::new(),
            finished: VecDeque::new(),
            whole_frames: VecDeque::new(),
            utf8: Utf8Validator::new(),
            invalid: None,
            checked_run: (0, 0),
        }
    }

    /// Position of the end of what was put into the read buffer.
    pub(crate) const fn end(&self) -> u64 {
        self.end
    }

    /// Whether the frame with `header`, whose header is at position `at` of
    /// the read buffer, had its payload put into its message's own buffer
    /// (rather than after its header).
    pub(crate) fn assembled_here(&self, header: &FrameHeader, at: u64) -> bool {
        if is_fragment(header) {
            self.assembles && at < self.stopped_at
        } else {
            self.whole_frames.front() == Some(&at)
        }
    }

    /// Whether the payload of a frame with `header` goes into its message's
    /// own buffer: a fragment's, when not streaming (joining it to its
    /// message would copy it anyway), and a large whole message's if the
    /// caller's bytes are being copied in (bytes the caller put in the
    /// buffer are handed out where they are).
    fn assembles(&self, header: &FrameHeader) -> bool {
        self.assembles
            && (is_fragment(header)
                || (matches!(header.opcode, OpCode::Text | OpCode::Binary)
                    && header.payload_len >= OWN_BUFFER_MIN
                    && self.appending))
    }

    /// Whether the payload of the frame whose header is at `at` is still
    /// arriving.
    pub(crate) fn is_arriving(&self, at: u64) -> bool {
        matches!(self.place, Place::Payload { frame, .. } if frame == at)
    }

    /// Takes the oldest assembled message whose last frame was taken in,
    /// or else what there is of the open one; `at` is the position of the
    /// header of the frame that ends it.
    pub(crate) fn take_message(&mut self, at: u64) -> BytesMut {
        if self.whole_frames.front() == Some(&at) {
            self.whole_frames.pop_front();
        }
        self.finished
            .pop_front()
            .unwrap_or_else(|| std::mem::take(&mut self.assembled))
    }

    /// Drops every message assembled.
    pub(crate) fn discard_messages(&mut self) {
        self.assembled = BytesMut::new();
        self.finished = VecDeque::new();
        self.whole_frames = VecDeque::new();
    }

    /// Bytes of the messages assembled.
    pub(crate) fn assembled_len(&self) -> usize {
        self.assembled.len() + self.finished.iter().map(BytesMut::len).sum::<usize>()
    }

    /// The first invalid text seen, if any.
    pub(crate) const fn invalid(&self) -> Option<Invalid> {
        self.invalid
    }

    /// Whether the frame that starts at stream position `at` was taken in
    /// whole and is a message in one frame (FIN set, not a continuation;
    /// masked as the role requires, within the frame limit, its text checked)
    /// or a control frame.
    pub(crate) const fn is_checked_frame_at(&self, at: u64) -> bool {
        self.checked_run.0 <= at && at < self.checked_run.1
    }

    /// Appends `input` to `buf`: header bytes as they are, payload bytes
    /// unmasked (and text validated) on the way.
    pub(crate) fn append(&mut self, buf: &mut BytesMut, input: &[u8]) {
        if buf.capacity() - buf.len() < input.len() {
            // Making room moves what is buffered (a frame still arriving) to
            // the front of the allocation, or to a new one: room for several
            // reads at once makes that rare.
            buf.reserve(input.len() * ROOM_FOR_READS);
        }
        self.appending = true;
        self.take(buf, Input::Copy(input));
    }

    /// Takes in bytes the caller appended to `buf` directly: those from
    /// index `from` on.
    pub(crate) fn catch_up(&mut self, buf: &mut BytesMut, from: usize) {
        if from < buf.len() {
            self.appending = false;
            self.take(buf, Input::InPlace(from));
        }
    }

    fn take(&mut self, buf: &mut BytesMut, mut input: Input<'_>) {
        loop {
            let available = match input {
                Input::Copy(bytes) => bytes.len(),
                Input::InPlace(at) => buf.len() - at,
            };
            if available == 0 {
                return;
            }
            if let (Place::Header { have: 0 }, Input::InPlace(at)) = (self.place, &mut input) {
                let taken = self.take_small_frames(&mut buf[*at..]);
                *at += taken;
                if taken == available {
                    return;
                }
            }
            match self.place {
                Place::Stopped => {
                    if let Input::Copy(bytes) = input {
                        buf.extend_from_slice(bytes);
                    }
                    self.end += available as u64;
                    return;
                }
                Place::Header { have: 0 } if starts_with_small_frame(&input) => {
                    // A run of small frames: one copy of a window, then
                    // taken in place while it is in L1.
                    let Input::Copy(bytes) = input else {
                        unreachable!("only copied input starts a window")
                    };
                    let at = buf.len();
                    let span = bytes.len().min(WINDOW);
                    buf.extend_from_slice(&bytes[..span]);
                    self.take(buf, Input::InPlace(at));
                    input = Input::Copy(&bytes[span..]);
                }
                Place::Header { have } => {
                    let taken = self.take_header(buf, &input, have);
                    self.end += taken as u64;
                    input = match input {
                        Input::Copy(bytes) => {
                            buf.extend_from_slice(&bytes[..taken]);
                            Input::Copy(&bytes[taken..])
                        }
                        Input::InPlace(at) => Input::InPlace(at + taken),
                    };
                    if let Place::Payload { remaining: 0, .. } = self.place {
                        self.end_frame();
                    }
                }
                Place::Payload {
                    frame,
                    remaining,
                    key,
                    text,
                    ends_message,
                    single,
                    assembled,
                } => {
                    let n = remaining.min(available as u64) as usize;
                    let utf8 = if text { Some(&mut self.utf8) } else { None };
                    let result = match input {
                        Input::Copy(bytes) => {
                            let dst = if assembled {
                                make_room(&mut self.assembled, n, remaining);
                                &mut self.assembled
                            } else {
                                &mut *buf
                            };
                            input = Input::Copy(&bytes[n..]);
                            copy_payload(dst, &bytes[..n], key, utf8)
                        }
                        Input::InPlace(at) if assembled => {
                            // Out of the read buffer into the message,
                            // unmasked on the way; the rest moves up.
                            make_room(&mut self.assembled, n, remaining);
                            let result =
                                copy_payload(&mut self.assembled, &buf[at..at + n], key, utf8);
                            buf.copy_within(at + n.., at);
                            buf.truncate(buf.len() - n);
                            result
                        }
                        Input::InPlace(at) => {
                            let payload = &mut buf[at..at + n];
                            input = Input::InPlace(at + n);
                            match (key, utf8) {
                                // Text: unmasked and validated in one pass.
                                (Some(key), Some(utf8)) => {
                                    utf8.feed_unmasking_in_place(payload, key)
                                }
                                (key, utf8) => {
                                    if let Some(key) = key {
                                        apply_mask(payload, key, 0);
                                    }
                                    utf8.map_or(Ok(()), |utf8| utf8.feed(payload))
                                }
                            }
                        }
                    };
                    if !assembled {
                        self.end += n as u64;
                    }
                    if let Err(err) = result {
                        self.note_invalid(frame, err.valid_up_to());
                    }
                    self.place = Place::Payload {
                        frame,
                        remaining: remaining - n as u64,
                        key: key.map(|k| rotated(k, n)),
                        text,
                        ends_message,
                        single,
                        assembled,
                    };
                    if remaining == n as u64 {
                        self.end_frame();
                    }
                }
            }
        }
    }

    /// The common case in a tight loop: whole, small, unfragmented frames,
    /// in place. Returns how many bytes it took; it stops before the first
    /// frame that needs the general path (cut, large, fragmented, or against
    /// a rule), which then takes it.
    fn take_small_frames(&mut self, bytes: &mut [u8]) -> usize {
        let start = self.end;
        let mut at = 0;
        while self.message.is_none() {
            let Ok(Status::Complete((header, len))) = FrameHeader::parse(&bytes[at..]) else {
                break;
            };
            let masked_ok = match self.role {
                Role::Server => header.mask.is_some(),
                Role::Client => header.mask.is_none(),
            };
            let simple = masked_ok
                && header.fin
                && header.opcode != OpCode::Continuation
                && header.payload_len < FUSE_MIN
                && header.payload_len <= self.max_frame_size
                && header.payload_len <= self.max_message_size;
            // Below FUSE_MIN the length fits a usize.
            let end = at + len + header.payload_len as usize;
            if !simple || end > bytes.len() {
                break;
            }
            let payload = &mut bytes[at + len..end];
            if let Some(key) = header.mask {
                apply_mask(payload, key, 0);
            }
            let frame = self.end;
            self.end += (end - at) as u64;
            at = end;
            if header.opcode == OpCode::Text {
                // A whole message: the one-shot check.
                if let Err(err) = utf8stream::check(payload) {
                    self.note_invalid(frame, err.valid_up_to());
                }
            }
        }
        if at > 0 {
            self.extend_checked_run(start);
        }
        at
    }

    /// Parses as much of the next header as there is; returns how many of
    /// the available bytes belong to it (all of them if it is not whole).
    fn take_header(&mut self, buf: &BytesMut, input: &Input<'_>, have: usize) -> usize {
        let parsed = match *input {
            Input::InPlace(at) => FrameHeader::parse(&buf[at - have..]),
            Input::Copy(bytes) if have == 0 => FrameHeader::parse(bytes),
            Input::Copy(bytes) => {
                // The header is cut by the end of a read: join its two parts.
                let mut joined = [0u8; MAX_HEADER_LEN];
                joined[..have].copy_from_slice(&buf[buf.len() - have..]);
                let more = bytes.len().min(MAX_HEADER_LEN - have);
                joined[have..have + more].copy_from_slice(&bytes[..more]);
                FrameHeader::parse(&joined[..have + more])
            }
        };
        let available = match *input {
            Input::Copy(bytes) => bytes.len(),
            Input::InPlace(at) => buf.len() - at,
        };
        match parsed {
            Ok(Status::Partial) => {
                self.place = Place::Header {
                    have: have + available,
                };
                available
            }
            Ok(Status::Complete((header, len))) => {
                let frame = self.end - have as u64;
                self.enter(&header, frame);
                len - have
            }
            Err(_) => {
                self.stop(self.end - have as u64);
                0
            }
        }
    }

    /// Goes into a new frame's payload, or stops if the decoder or the
    /// connection will refuse the frame (the same rules as theirs).
    fn enter(&mut self, header: &FrameHeader, frame: u64) {
        let masked_ok = match self.role {
            Role::Server => header.mask.is_some(),
            Role::Client => header.mask.is_none(),
        };
        if !masked_ok || header.payload_len > self.max_frame_size {
            return self.stop(frame);
        }
        let text = match (header.opcode, self.message) {
            (OpCode::Text | OpCode::Binary, Some(_)) | (OpCode::Continuation, None) => {
                return self.stop(frame);
            }
            (OpCode::Text | OpCode::Binary, None) => {
                let text = header.opcode == OpCode::Text;
                self.message = Some(text);
                self.message_len = 0;
                self.utf8.reset();
                text
            }
            (OpCode::Continuation, Some(text)) => text,
            // Control frames: the connection checks a close reason itself.
            _ => false,
        };
        if !header.opcode.is_control() {
            self.message_len = self.message_len.saturating_add(header.payload_len);
            if self.message_len > self.max_message_size {
                return self.stop(frame);
            }
        }
        let assembled = self.assembles(header);
        if assembled && !is_fragment(header) {
            self.whole_frames.push_back(frame);
        }
        self.place = Place::Payload {
            frame,
            remaining: header.payload_len,
            key: header.mask,
            text,
            ends_message: header.fin && !header.opcode.is_control(),
            single: header.fin && header.opcode != OpCode::Continuation && !assembled,
            assembled,
        };
    }

    /// Stops at the header at position `at`: it and what follows stay as
    /// they came.
    fn stop(&mut self, at: u64) {
        self.place = Place::Stopped;
        self.stopped_at = at;
    }

    fn end_frame(&mut self) {
        if let Place::Payload {
            frame,
            ends_message,
            text,
            single,
            assembled,
            ..
        } = self.place
        {
            if ends_message {
                if text {
                    if let Err(err) = self.utf8.finish() {
                        self.note_invalid(frame, err.valid_up_to());
                    }
                }
                if assembled {
                    let message = std::mem::take(&mut self.assembled);
                    self.finished.push_back(message);
                }
                self.message = None;
            }
            if single {
                self.extend_checked_run(frame);
            }
        }
        self.place = Place::Header { have: 0 };
    }

    /// Adds the frames from position `from` to `end` to the run of
    /// checked frames, or starts a new run with them.
    fn extend_checked_run(&mut self, from: u64) {
        if self.checked_run.1 != from {
            self.checked_run.0 = from;
        }
        self.checked_run.1 = self.end;
    }

    fn note_invalid(&mut self, frame: u64, valid_up_to: u64) {
        // Only the first matters: the connection fails there, or it is
        // discarding data since its close and will discard the rest too.
        if self.invalid.is_none() {
            self.invalid = Some(Invalid {
                frame,
                seen_by: self.end,
                valid_up_to,
            });
        }
    }
}

/// Whether a frame is part of a fragmented data message.
fn is_fragment(header: &FrameHeader) -> bool {
    match header.opcode {
        OpCode::Continuation => true,
        OpCode::Text | OpCode::Binary => !header.fin,
        _ => false,
    }
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

/// Unmasks `src` into the spare capacity of `buf`, validating it with
/// `utf8` if it is text.
fn copy_payload(
    buf: &mut BytesMut,
    src: &[u8],
    key: Option<[u8; 4]>,
    utf8: Option<&mut Utf8Validator>,
) -> Result<(), utf8stream::Utf8Error> {
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

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::mask::apply_mask_bytewise;

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    /// A masked client frame: its bytes on the wire, its header, and its
    /// payload unmasked.
    fn frame(first: u8, payload: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let header = FrameHeader {
            fin: first & 0x80 != 0,
            rsv: 0,
            opcode: OpCode::from_u8(first & 0x0F).expect("opcode"),
            mask: Some(KEY),
            payload_len: payload.len() as u64,
        };
        let mut head = BytesMut::new();
        header.encode(&mut head);
        let mut wire = head.to_vec();
        let mut masked = payload.to_vec();
        apply_mask_bytewise(&mut masked, KEY, 0);
        wire.extend_from_slice(&masked);
        (wire, head.to_vec(), payload.to_vec())
    }

    /// A frame as [`frame`] gives it.
    type Frame = (Vec<u8>, Vec<u8>, Vec<u8>);

    /// Frames of every path: small and large, text and binary, a control
    /// frame between fragments, a code point cut by a fragment boundary, and
    /// last a whole message large enough for a buffer of its own.
    fn frames() -> Vec<Frame> {
        let text: String = "κόσμε 😀 a".repeat(40);
        let bytes = text.as_bytes();
        let large: Vec<u8> = (0..OWN_BUFFER_MIN + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        vec![
            frame(0x81, b"hello"),
            frame(0x82, &[0xA7; 300]),
            frame(0x81, bytes),
            // "😀" cut after its second byte by the fragment boundary.
            frame(0x01, &bytes[..13]),
            frame(0x89, b"ping"),
            frame(0x80, &bytes[13..]),
            frame(0x82, &(0..=255).collect::<Vec<u8>>()),
            frame(0x82, &large),
        ]
    }

    /// What the first pass must leave in the read buffer, and the messages
    /// it must assemble (with the position of the header of each one's last
    /// frame).
    fn expected(
        frames: &[Frame],
        streaming: bool,
        in_place: bool,
    ) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
        let mut buffer = Vec::new();
        let mut messages = Vec::new();
        let mut open = Vec::new();
        for (wire, head, payload) in frames {
            let fragment = wire[0] & 0x80 == 0 || wire[0] == 0x80;
            let large = payload.len() as u64 >= OWN_BUFFER_MIN;
            buffer.extend_from_slice(head);
            if streaming || !(fragment || (large && !in_place)) {
                buffer.extend_from_slice(payload);
                continue;
            }
            open.extend_from_slice(payload);
            if wire[0] & 0x80 != 0 {
                let at = (buffer.len() - head.len()) as u64;
                messages.push((at, std::mem::take(&mut open)));
            }
        }
        (buffer, messages)
    }

    fn config(streaming: bool) -> Config {
        Config::default()
            .max_frame_size(1 << 20)
            .streaming(streaming)
    }

    #[test]
    fn every_cut_gives_the_unmasked_stream_and_no_verdict() {
        let frames = frames();
        let wire: Vec<u8> = frames.iter().flat_map(|f| f.0.clone()).collect();
        let sizes: &[usize] = if cfg!(miri) {
            &[5000, 997]
        } else {
            &[1, 2, 3, 7, 64, 97, 4096, 70000]
        };
        for &size in sizes {
            for (streaming, in_place) in
                [(true, false), (true, true), (false, false), (false, true)]
            {
                let mut ingest = Ingest::new(Role::Server, &config(streaming));
                let mut buf = BytesMut::new();
                for piece in wire.chunks(size) {
                    if in_place {
                        let from = buf.len();
                        buf.extend_from_slice(piece);
                        ingest.catch_up(&mut buf, from);
                    } else {
                        ingest.append(&mut buf, piece);
                    }
                }
                let case = format!("size {size}, in place {in_place}, streaming {streaming}");
                let (buffer, messages) = expected(&frames, streaming, in_place);
                assert_eq!(&buf[..], &buffer[..], "{case}");
                assert_eq!(
                    ingest.assembled_len(),
                    messages.iter().map(|m| m.1.len()).sum()
                );
                for (at, message) in messages {
                    assert_eq!(&ingest.take_message(at)[..], &message[..], "{case}");
                }
                assert!(ingest.whole_frames.is_empty(), "{case}");
                assert_eq!(ingest.invalid(), None);
                assert_eq!(ingest.end(), buffer.len() as u64);
            }
        }
    }

    #[test]
    fn invalid_text_is_pinned_to_its_frame_and_the_first_place_it_shows() {
        let mut text = "ok ".repeat(100).into_bytes();
        text[150] = 0xFF;
        let (first, ..) = frame(0x82, b"binary first");
        let (bad, ..) = frame(0x81, &text);
        let wire = [first.clone(), bad.clone()].concat();
        let mut ingest = Ingest::new(Role::Server, &config(false));
        let mut buf = BytesMut::new();
        ingest.append(&mut buf, &wire);
        let invalid = ingest.invalid().expect("found");
        assert_eq!(invalid.frame, first.len() as u64);
        assert_eq!(invalid.valid_up_to, 150);
        assert_eq!(invalid.seen_by, wire.len() as u64);
    }

    #[test]
    fn a_header_against_the_rules_stops_the_pass_and_keeps_the_bytes() {
        // Unmasked client frame: the decoder will refuse it; the first pass
        // leaves it and everything after it as it came.
        let (good, head, payload) = frame(0x81, b"fine");
        let unmasked = [0x81, 0x02, b'h', b'i'];
        let wire = [&good[..], &unmasked[..], &good[..]].concat();
        let mut ingest = Ingest::new(Role::Server, &config(false));
        let mut buf = BytesMut::new();
        ingest.append(&mut buf, &wire);
        let want = [&head[..], &payload[..], &unmasked[..], &good[..]].concat();
        assert_eq!(&buf[..], &want[..]);
    }

    #[test]
    fn text_in_place_is_unmasked_whole_and_judged_as_std_judges_it() {
        // Several pieces of the in-place loop, the bad byte in the third.
        let mut text = "añ😀".repeat(1300).into_bytes();
        for bad in [None, Some(9001)] {
            if let Some(at) = bad {
                text[at] = 0xFF;
            }
            let want = std::str::from_utf8(&text).map_err(|e| e.valid_up_to() as u64);
            let (wire, head, payload) = frame(0x81, &text);
            let mut ingest = Ingest::new(Role::Server, &config(false));
            let mut buf = BytesMut::from(&wire[..]);
            ingest.catch_up(&mut buf, 0);
            assert_eq!(&buf[..], &[head, payload].concat()[..]);
            let got = ingest.invalid().map_or(Ok(()), |i| Err(i.valid_up_to));
            assert_eq!(got, want.map(|_| ()));
        }
    }

    #[test]
    fn invalid_text_in_an_assembled_fragment_is_pinned_to_its_header() {
        let (first, first_head, _) = frame(0x01, "é".repeat(200).as_bytes());
        let mut text = "ok ".repeat(100).into_bytes();
        text[290] = 0xC0;
        let (bad, ..) = frame(0x80, &text);
        let mut ingest = Ingest::new(Role::Server, &config(false));
        let mut buf = BytesMut::new();
        ingest.append(&mut buf, &[first, bad].concat());
        let invalid = ingest.invalid().expect("found");
        assert_eq!(invalid.frame, first_head.len() as u64);
        assert_eq!(invalid.valid_up_to, 400 + 290);
    }

    #[test]
    fn a_message_over_the_limit_stops_the_pass_before_its_payload_is_kept() {
        // Two fragments of 3 KiB against a 4 KiB message limit: the second
        // header stops the pass, and its payload stays where it came.
        let config = config(false).max_message_size(4096);
        let (first, head, payload) = frame(0x02, &[7; 3072]);
        let (second, ..) = frame(0x80, &[9; 3072]);
        let mut ingest = Ingest::new(Role::Server, &config);
        let mut buf = BytesMut::new();
        ingest.append(&mut buf, &[&first[..], &second[..]].concat());
        assert_eq!(&buf[..], &[&head[..], &second[..]].concat()[..]);
        assert_eq!(&ingest.take_message(0)[..], &payload[..]);
        let at = head.len() as u64;
        let second_header = FrameHeader::parse(&second).expect("parses");
        let Status::Complete((second_header, _)) = second_header else {
            panic!("whole header")
        };
        assert!(!ingest.assembled_here(&second_header, at));
    }
}
