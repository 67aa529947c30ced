//! The message assembler: frames into messages. It keeps the open message
//! (its kind, its length so far, its buffer and its UTF-8 validator), applies
//! the message rules (fragment order, the message limit, the UTF-8 verdict)
//! and decides, at each frame's start, where the frame reader puts the
//! payload ([`Route`]).
//!
//! A whole message in one frame stays where it landed in the read buffer and
//! is handed out as a slice of it (zero-copy), unless it is under 256 bytes
//! (copied out into an allocation of its own, which costs less than sharing
//! the buffer; see the frame reader's `FUSE_MIN`) or large and being
//! copied in anyway: then, like every fragment, it is written straight into a
//! buffer of its message's own, in the same pass that unmasks it, so that a
//! fragmented message is never copied again to be joined and a large frame
//! arriving over many reads is never moved. In streaming mode each piece is
//! handed out as it arrives, text cut on a code point.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use utf8stream::{Utf8Error, Utf8Validator};

use super::Inbound;
use crate::{
    config::Config,
    diagnosis::{InvalidUtf8, CONTEXT_LEN},
    error::ProtocolError,
    ext::InboundSet,
    frame::{FrameHeader, OpCode},
    message::{Message, Text},
};

/// A whole message in one frame at least this long gets a buffer of its own
/// when the reader copies its bytes in, as fragments do: larger frames mostly
/// arrive across reads, and the read buffer would move what has arrived when
/// it makes room for the rest. Below it, sharing the read buffer is cheaper
/// than an allocation per message (`codec_decode/1k_x_16KiB_text` is 10 %
/// slower with 4 KiB here, `1k_x_64KiB_binary` 5-10 % faster with 32 KiB
/// than without).
pub(super) const OWN_BUFFER_MIN: u64 = if cfg!(any(fuzzing, miri)) {
    // Under the fuzz targets' 4 KiB frame limit, so that they reach it, and
    // small enough for Miri to run the tests that cross it.
    1024
} else {
    32 * 1024
};

/// Streaming mode: the most a transformed message's piece holds. A read's
/// compressed bytes may inflate to a thousand times their length (DEFLATE's
/// longest match, 258 bytes, costs about two bits), so a transform stops
/// once a piece holds this much; the rest of its input waits in the
/// assembler, and the frame reader reads nothing more, until the pieces
/// before it are taken.
pub(crate) const STREAMED_PIECE_MAX: usize = 64 * 1024;

/// Where the frame reader puts a frame's payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// In the read buffer, handed over whole at the frame's end: a control
    /// frame's payload, or a whole message as a zero-copy slice.
    Kept {
        /// Validate it as UTF-8 as it lands.
        text: bool,
    },
    /// In the read buffer, handed over as it arrives (streaming mode).
    Streamed {
        /// Validate it as UTF-8 as it lands.
        text: bool,
    },
    /// Straight into the message's own buffer.
    Own {
        /// Validate it as UTF-8 as it lands.
        text: bool,
    },
    /// Unmasked, then through the extension's inbound transform.
    Transform,
    /// Dropped: the message was found invalid.
    Discard,
}

/// The data message being received.
#[derive(Copy, Clone, Debug)]
struct Open {
    text: bool,
    /// Its length so far, with the frame being read, as declared.
    declared: u64,
    /// Its first frame set an extension's RSV bits.
    transformed: bool,
    /// A transformed message: the bytes its transform produced so far
    /// (what counts against the limit; in streaming mode pieces of them
    /// are already handed out).
    produced: u64,
    /// A transformed message: its transform was told it ended.
    ended: bool,
    /// Found invalid: the rest of it is dropped.
    invalid: bool,
    /// Frames begun, counting the one being read (for diagnosis).
    frames: u32,
    /// Where in the message (as declared) the frame being read starts.
    frame_start: u64,
    /// Where the last three non-empty frames before it start, and their
    /// numbers, the latest first (for diagnosis): a code point cut across
    /// frames (4 bytes at most) started in one of them, however many empty
    /// frames came between.
    earlier: [(u64, u32); 3],
}

/// The frame being read, as the assembler needs to end it.
#[derive(Copy, Clone, Debug)]
enum Frame {
    Control(OpCode),
    Data { fin: bool, route: Route },
}

/// Joins frames into messages.
#[derive(Debug)]
pub(crate) struct MessageAssembler {
    max_message_size: u64,
    streaming: bool,
    extensions: InboundSet,
    frame: Frame,
    open: Option<Open>,
    /// The open message's own buffer (routes `Own` and `Transform`).
    buffer: BytesMut,
    utf8: Utf8Validator,
    /// Streaming mode: the bytes of a code point that the last piece cut,
    /// held back for the next one.
    held: BytesMut,
    /// Streaming mode: the last bytes of text handed out, the context a
    /// UTF-8 error in the next piece is diagnosed with.
    handed_out_tail: HandedOutTail,
    /// Streaming mode: the transform stopped early, a piece full; the rest
    /// of that step's input (unmasked, at most one read's) waits in
    /// `rest`, and nothing more is read until it is taken (see
    /// [`resume`](Self::resume)).
    paused: bool,
    rest: BytesMut,
    /// The message's last frame ended while paused: it ends once `rest`
    /// is taken.
    end_pending: bool,
}

/// The last [`CONTEXT_LEN`] bytes of the open text message's pieces that
/// were handed out (streaming mode), so a later error is described the same
/// however the reads were cut.
#[derive(Clone, Copy, Debug, Default)]
struct HandedOutTail {
    bytes: [u8; CONTEXT_LEN],
    len: usize,
}

impl HandedOutTail {
    /// Records that `piece` was handed out after what was recorded.
    fn push(&mut self, piece: &[u8]) {
        let keep = (CONTEXT_LEN - piece.len().min(CONTEXT_LEN)).min(self.len);
        self.bytes.copy_within(self.len - keep..self.len, 0);
        let new = &piece[piece.len().saturating_sub(CONTEXT_LEN)..];
        self.bytes[keep..keep + new.len()].copy_from_slice(new);
        self.len = keep + new.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl MessageAssembler {
    pub(super) fn new(config: &Config, extensions: InboundSet) -> Self {
        Self {
            max_message_size: config.max_message_size(),
            streaming: config.streaming(),
            extensions,
            frame: Frame::Control(OpCode::Ping),
            open: None,
            buffer: BytesMut::new(),
            utf8: Utf8Validator::new(),
            held: BytesMut::new(),
            handed_out_tail: HandedOutTail::default(),
            paused: false,
            rest: BytesMut::new(),
            end_pending: false,
        }
    }

    /// Bytes of messages held: the open message's so far.
    pub(super) fn buffered_len(&self) -> usize {
        self.buffer.len() + self.held.len() + self.rest.len()
    }

    /// Streaming mode: a piece is full and the transform holds more (see
    /// [`STREAMED_PIECE_MAX`]); nothing more is read until
    /// [`resume`](Self::resume) drained it.
    #[inline(always)]
    pub(super) const fn paused(&self) -> bool {
        self.paused
    }

    /// While [`paused`](Self::paused): the next piece of the held input,
    /// then, once it is all taken, the message's end if its last frame
    /// ended meanwhile.
    pub(super) fn resume(&mut self, ready: &mut VecDeque<Inbound>) {
        let mut rest = std::mem::take(&mut self.rest);
        match self.stream_piece(&rest, ready) {
            Some(taken) => {
                rest.advance(taken);
                self.rest = rest;
            }
            None => {
                self.paused = false;
                if std::mem::take(&mut self.end_pending) {
                    self.end_frame(BytesMut::new(), ready);
                }
            }
        }
    }

    /// Whether a message is being received: its first frame came, its end
    /// not yet.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(super) const fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Drops the open message.
    pub(super) fn clear(&mut self) {
        self.open = None;
        self.buffer = BytesMut::new();
        self.held = BytesMut::new();
        self.paused = false;
        self.rest = BytesMut::new();
        self.end_pending = false;
    }

    /// The message rules for a data frame with `header`, against the open
    /// message: the one place they are checked. Returns the message's
    /// declared length with this frame.
    ///
    /// # Errors
    ///
    /// A continuation with no message open, a new message while one is open
    /// (§5.4, 1002), and the message limit (§10.4, 1009), checked against the
    /// declared length before any payload is kept (for a transformed
    /// message, against what the transform puts out instead).
    #[inline(always)]
    fn message_rules(&self, header: &FrameHeader) -> Result<u64, ProtocolError> {
        let (so_far, transformed) = match (header.opcode, &self.open) {
            (OpCode::Continuation, Some(open)) => (open.declared, open.transformed),
            // §5.4: a continuation belongs to an open fragmented message.
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            // §5.4: "fragments of one message MUST NOT be interleaved".
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            // Only bits an extension defines get past the reader.
            (_, None) => (0, header.rsv != 0),
        };
        // §10.4: the running total plus this frame.
        let declared = so_far.saturating_add(header.payload_len);
        if declared > self.max_message_size && !transformed {
            return Err(ProtocolError::MessageTooBig {
                declared,
                limit: self.max_message_size,
            });
        }
        Ok(declared)
    }

    /// A small frame lying whole in the read buffer: if it is a message on
    /// its own, plain (not streamed, not transformed), and keeps the message
    /// rules, `Some(text)`: the reader hands it to
    /// [`whole_message`](Self::whole_message) without opening a message.
    /// `None` for any other frame, which goes through [`begin`](Self::begin).
    #[inline(always)]
    pub(super) fn plain_whole_message(&self, header: &FrameHeader) -> Option<bool> {
        let plain = header.fin
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && header.rsv == 0
            && !self.streaming;
        (plain && self.message_rules(header).is_ok()).then_some(header.opcode == OpCode::Text)
    }

    /// A message whose frame [`plain_whole_message`](Self::plain_whole_message)
    /// accepted: `payload` is all of its payload, unmasked, and for text the
    /// verdict of the one-shot check over all of it.
    #[inline(always)]
    pub(super) fn whole_message(
        text: bool,
        payload: Bytes,
        verdict: Result<(), Utf8Error>,
    ) -> Inbound {
        match verdict {
            Ok(()) => Inbound::Message(message(text, payload)),
            Err(err) => Inbound::Violation(ProtocolError::InvalidUtf8(InvalidUtf8::capture(
                &[&payload],
                0,
                &err,
                1,
            ))),
        }
    }

    /// A small frame lying whole in the read buffer: if it is a transformed
    /// message on its own with a payload (not streamed: its output is
    /// handed out whole), `Some(text)`: the reader hands its payload to
    /// [`transformed_message`](Self::transformed_message) without opening a
    /// message. `None` for any other frame, which goes through
    /// [`begin`](Self::begin). (An empty payload goes there too: its
    /// message is ended with no payload step, however it arrives.)
    #[inline(always)]
    pub(super) fn transformed_whole_message(&self, header: &FrameHeader) -> Option<bool> {
        // No message open, so the message rules hold: a transformed
        // message's limit applies to its output.
        let whole = header.fin
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && header.rsv != 0
            && header.payload_len != 0
            && !self.streaming
            && self.open.is_none();
        whole.then_some(header.opcode == OpCode::Text)
    }

    /// A message [`transformed_whole_message`](Self::transformed_whole_message)
    /// accepted: `payload` (unmasked) is all of its payload. It goes through
    /// the transform in one step, as [`transform`](Self::transform) hands a
    /// whole message's payload, and text is checked in one shot; the
    /// message, or the violation the general path reports.
    #[inline]
    pub(super) fn transformed_message(&mut self, text: bool, payload: &[u8]) -> Inbound {
        let mut out = BytesMut::new();
        let result = self
            .extensions
            .transform()
            .message(payload, &mut out, self.max_message_size);
        let verdict = match text {
            true => utf8stream::check(&out),
            false => Ok(()),
        };
        match (result, verdict) {
            (Ok(()), Ok(())) => Inbound::Message(message(text, out.freeze())),
            (result, _) => match self.judge_in_order(text, &out, result) {
                Ok(()) => Inbound::Message(message(text, out.freeze())),
                Err(err) => Inbound::Violation(err),
            },
        }
    }

    /// The verdict on a message [`transformed_message`](Self::transformed_message)
    /// found invalid, as the general path reaches it: what came out judged
    /// first, fed to the message's validator (as
    /// [`after_transform`](Self::after_transform) does), then the
    /// transform's `result` (counted from its call, the message's start),
    /// then the end of the text (as [`end_frame`](Self::end_frame)'s
    /// `finish`).
    #[cold]
    fn judge_in_order(
        &mut self,
        text: bool,
        out: &[u8],
        result: Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        if !text {
            return result;
        }
        let evidence =
            |err: Utf8Error| ProtocolError::InvalidUtf8(InvalidUtf8::capture(&[out], 0, &err, 1));
        self.utf8.reset();
        self.utf8.feed(out).map_err(evidence)?;
        result?;
        self.utf8.finish().map_err(evidence)
    }

    /// A frame with `header` starts (its header rules already checked):
    /// applies the message rules and routes its payload. `in_place`: its
    /// bytes are being read where they lie in the read buffer.
    ///
    /// # Errors
    ///
    /// As [`message_rules`](Self::message_rules).
    #[inline(always)]
    pub(super) fn begin(
        &mut self,
        header: &FrameHeader,
        in_place: bool,
    ) -> Result<Route, ProtocolError> {
        if header.opcode.is_control() {
            self.frame = Frame::Control(header.opcode);
            return Ok(Route::Kept { text: false });
        }
        let declared = self.message_rules(header)?;
        let open = match header.opcode {
            OpCode::Continuation => self.open.as_mut().expect("checked by the rules"),
            _ => {
                self.utf8.reset();
                self.handed_out_tail = HandedOutTail::default();
                self.open.insert(Open {
                    text: header.opcode == OpCode::Text,
                    declared: 0,
                    transformed: header.rsv != 0,
                    produced: 0,
                    ended: false,
                    invalid: false,
                    frames: 0,
                    frame_start: 0,
                    earlier: [(0, 0); 3],
                })
            }
        };
        if open.declared > open.frame_start {
            // The frame before held bytes: one a code point may start in.
            open.earlier = [
                (open.frame_start, open.frames),
                open.earlier[0],
                open.earlier[1],
            ];
        }
        open.frame_start = open.declared;
        open.declared = declared;
        open.frames = open.frames.saturating_add(1);
        let text = open.text;
        let whole = header.fin && header.opcode != OpCode::Continuation;
        let route = if open.invalid {
            Route::Discard
        } else if open.transformed {
            Route::Transform
        } else if self.streaming {
            Route::Streamed { text }
        } else if whole && (in_place || header.payload_len < OWN_BUFFER_MIN) {
            Route::Kept { text }
        } else {
            Route::Own { text }
        };
        self.frame = Frame::Data {
            fin: header.fin,
            route,
        };
        Ok(route)
    }

    /// The validator the payload of a frame goes through, if it is `text`.
    #[inline]
    pub(super) fn validator(&mut self, text: bool) -> Option<&mut Utf8Validator> {
        text.then_some(&mut self.utf8)
    }

    /// For a message [`plain_whole_message`](Self::plain_whole_message)
    /// accepted whose payload is all here: the validator, started afresh, if
    /// it is `text`. No message is opened.
    #[inline]
    pub(super) fn whole_message_validator(&mut self, text: bool) -> Option<&mut Utf8Validator> {
        text.then(|| {
            self.utf8.reset();
            &mut self.utf8
        })
    }

    /// The open message's own buffer, and its validator if it is `text`.
    #[inline]
    pub(super) fn own_buffer(&mut self, text: bool) -> (&mut BytesMut, Option<&mut Utf8Validator>) {
        (&mut self.buffer, text.then_some(&mut self.utf8))
    }

    /// The open message's text stopped being UTF-8: reported now (§8.1:
    /// fail as soon as it is known), and the rest of the message dropped.
    /// `read`: where the frame reader kept the payload it fed the validator
    /// (`None`: into the message's own buffer), with `left_in_frame` bytes
    /// of the frame still to come.
    pub(super) fn invalid_text(
        &mut self,
        err: Utf8Error,
        read: Option<&[u8]>,
        left_in_frame: u64,
        ready: &mut VecDeque<Inbound>,
    ) {
        let evidence = self.evidence(self.open, &err, read, left_in_frame);
        self.poison(ProtocolError::InvalidUtf8(evidence), ready);
    }

    /// The bytes around a UTF-8 error, from wherever the message's bytes
    /// still are: its own buffer (from its first byte), or the frame's
    /// payload kept in the read buffer, after the bytes held back from the
    /// last streamed piece. Only on the error path.
    #[cold]
    fn evidence(
        &self,
        open: Option<Open>,
        err: &Utf8Error,
        read: Option<&[u8]>,
        left_in_frame: u64,
    ) -> InvalidUtf8 {
        let open = open.unwrap_or(Open {
            text: true,
            declared: 0,
            transformed: false,
            invalid: false,
            frames: 1,
            frame_start: 0,
            earlier: [(0, 0); 3],
            produced: 0,
            ended: false,
        });
        let (window, window_start) = match read {
            Some(read) => {
                let tail = self.handed_out_tail.as_slice();
                let end = open.declared.saturating_sub(left_in_frame);
                let len = (tail.len() + self.held.len() + read.len()) as u64;
                ([tail, &self.held[..], read], end.saturating_sub(len))
            }
            None => {
                // The message's own buffer: from its first byte, or for a
                // transformed message streamed out, the last piece's output.
                let tail = self.handed_out_tail.as_slice();
                let end = match open.transformed {
                    true => open.produced,
                    false => self.buffer.len() as u64,
                };
                let len = (tail.len() + self.held.len() + self.buffer.len()) as u64;
                (
                    [tail, &self.held[..], &self.buffer[..]],
                    end.saturating_sub(len),
                )
            }
        };
        // A code point cut across frames started in an earlier non-empty
        // frame (the declared offsets are the inflated ones only without a
        // transform).
        let at = err.valid_up_to();
        let frame = if !open.transformed && at < open.frame_start {
            open.earlier
                .iter()
                .find(|&&(start, _)| start <= at)
                .map_or(1, |&(_, frame)| frame)
                .max(1)
        } else {
            open.frames.max(1)
        };
        InvalidUtf8::capture(&window, window_start, err, frame)
    }

    fn poison(&mut self, err: ProtocolError, ready: &mut VecDeque<Inbound>) {
        ready.push_back(Inbound::Violation(err));
        if let Some(open) = &mut self.open {
            open.invalid = true;
        }
        if let Frame::Data { route, .. } = &mut self.frame {
            *route = Route::Discard;
        }
        self.buffer = BytesMut::new();
        self.held = BytesMut::new();
        // Nothing held is inflated any more (a pending end still ends the
        // message: see `resume`).
        self.paused = false;
        self.rest = BytesMut::new();
    }

    /// Whether the payload of the transformed frame being read, which ends
    /// here, may wait to go through the transform with the next frame's: a
    /// message kept whole (streamed pieces come out per call), still valid,
    /// that goes on.
    pub(super) fn defers_transform(&self) -> bool {
        !self.streaming
            && matches!(
                self.frame,
                Frame::Data {
                    fin: false,
                    route: Route::Transform
                }
            )
            && self.open.is_some_and(|open| !open.invalid)
    }

    /// Unmasked payload of a transformed message: through the extension
    /// into the message's buffer, where text is validated as it comes out
    /// of this call (fail-fast per read). In streaming mode what came out
    /// is handed out at once as a piece of at most [`STREAMED_PIECE_MAX`]
    /// bytes, so only the transform's own state is kept, and the rest of
    /// `payload` when the piece filled first (the assembler is then
    /// [`paused`](Self::paused)).
    /// `ends`: where each frame's part of `payload` ends, when it is the
    /// payload of several frames (see [`FrameReader`]'s `deferred`), so
    /// that invalid text in the output is told in the frame whose own call
    /// would have brought it.
    ///
    /// [`FrameReader`]: super::frames::FrameReader
    pub(super) fn transform(
        &mut self,
        payload: &[u8],
        ends: &[usize],
        ready: &mut VecDeque<Inbound>,
    ) {
        if self.streaming {
            if let Some(taken) = self.stream_piece(payload, ready) {
                self.rest.extend_from_slice(&payload[taken..]);
                self.paused = true;
            }
            return;
        }
        // A message in one frame whose payload is all here: the transform
        // takes it and the end in one step (not streamed, so that pieces
        // come out as they do for any other cut).
        let whole = !self.streaming
            && matches!(self.frame, Frame::Data { fin: true, .. })
            && self
                .open
                .is_some_and(|open| open.frames == 1 && open.declared == payload.len() as u64);
        let several = ends.len() > 1 && self.open.is_some_and(|open| open.text);
        if whole {
            self.run_transform(Step::Message(payload), Frames::One { earlier: 0 }, ready);
        } else if several && self.extensions.transform().frame_by_frame(ends) {
            self.transform_frames(payload, ends, ready);
        } else if several {
            // One call, the transform keeping where it stood, to tell the
            // frame of an error found in the output.
            let frames = Frames::Several { payload, ends };
            self.run_transform(Step::Payload(payload), frames, ready);
        } else {
            self.run_transform(Step::Payload(payload), Frames::One { earlier: 0 }, ready);
        }
    }

    /// Several frames' payload of a text message kept whole, `ends` where
    /// each frame's part ends: through the transform one frame at a time,
    /// each call's output validated before the next, so that invalid text
    /// is told in the frame whose payload brought it, and nothing after
    /// that frame is inflated (as when each frame comes in a read of its
    /// own). The message's room is reserved for all of `payload`, as for
    /// one call, so that it is not moved more often.
    fn transform_frames(&mut self, payload: &[u8], ends: &[usize], ready: &mut VecDeque<Inbound>) {
        self.reserve_message_room(payload.len());
        let mut from = 0;
        for (i, &end) in ends.iter().enumerate() {
            if self.open.is_none_or(|open| open.invalid) {
                break;
            }
            let part = payload.get(from..end).unwrap_or_default();
            from = end;
            // Frame `i` of `ends.len()`, the last of them the one being read.
            let earlier = (ends.len() - 1 - i) as u32;
            self.run_transform(Step::Payload(part), Frames::One { earlier }, ready);
        }
    }

    /// Before the first call of a message kept whole whose payload comes
    /// in several calls, the first of `first_len` bytes: the room the
    /// transform expects it to need, within the budget (plus the byte
    /// that shows a message over it).
    fn reserve_message_room(&mut self, first_len: usize) {
        let Some(open) = &self.open else {
            return;
        };
        if self.streaming || open.produced != 0 || self.buffer.capacity() != 0 {
            return;
        }
        let limit = self.max_message_size.saturating_sub(open.produced);
        let room = self
            .extensions
            .transform()
            .message_room(first_len)
            .min(limit.saturating_add(1));
        self.buffer.reserve(room as usize);
    }

    /// Streaming mode: `payload` through the transform into one piece of
    /// at most [`STREAMED_PIECE_MAX`] bytes, handed out. `Some(taken)`: the
    /// piece filled before the transform gave all it could of `payload`,
    /// of which it took `taken` bytes.
    fn stream_piece(&mut self, payload: &[u8], ready: &mut VecDeque<Inbound>) -> Option<usize> {
        let open = self.open.filter(|open| !open.invalid)?;
        let stopped = self.run_transform(Step::Piece(payload), Frames::One { earlier: 0 }, ready);
        if self.open.is_some_and(|open| !open.invalid) {
            let bytes = std::mem::take(&mut self.buffer);
            self.hand_out_piece(bytes, open.text, false, ready);
        }
        stopped
    }

    /// Hands `step` to the inbound transform with the message's remaining
    /// budget, counts what came out, and validates it; `frames`: whose
    /// payload the step's input is, the frame invalid text in its output
    /// is told in. `Some(taken)`: a [`Step::Piece`] stopped early, having
    /// taken `taken` bytes.
    fn run_transform(
        &mut self,
        step: Step<'_>,
        frames: Frames<'_>,
        ready: &mut VecDeque<Inbound>,
    ) -> Option<usize> {
        if let Step::Payload(payload) = step {
            // The first piece of a message kept whole.
            self.reserve_message_room(payload.len());
        }
        let Some(open) = &mut self.open else {
            return None;
        };
        let produced = open.produced;
        let limit = self.max_message_size.saturating_sub(produced);
        let start = self.buffer.len();
        let transform = self.extensions.transform();
        if let Frames::Several { .. } = frames {
            transform.checkpoint();
        }
        let mut stopped = None;
        let result = match step {
            Step::Payload(payload) => transform.payload(payload, &mut self.buffer, limit),
            Step::Piece(payload) => {
                // Room for the bytes of a code point held from the last
                // piece, which join this one in front.
                let piece_max = STREAMED_PIECE_MAX - self.held.len();
                transform
                    .payload_piece(payload, &mut self.buffer, limit, piece_max)
                    .map(|(taken, early)| stopped = early.then_some(taken))
            }
            Step::Message(payload) => transform.message(payload, &mut self.buffer, limit),
            Step::End => transform.end(&mut self.buffer, limit),
        }
        .map_err(|err| match err {
            // The transform counts from its call; the message, from its start.
            ProtocolError::MessageTooBig { declared, .. } => ProtocolError::MessageTooBig {
                declared: produced.saturating_add(declared),
                limit: self.max_message_size,
            },
            other => other,
        });
        open.produced += (self.buffer.len() - start) as u64;
        open.ended = !matches!(step, Step::Payload(_) | Step::Piece(_));
        self.after_transform(start, result, frames, ready);
        if let Frames::Several { .. } = frames {
            self.extensions.transform().forget_checkpoint();
        }
        stopped.filter(|_| self.open.is_some_and(|open| !open.invalid))
    }

    /// Validates what a transform appended from `start` on, or reports its
    /// error; invalid text is told in the frame `frames` names.
    fn after_transform(
        &mut self,
        start: usize,
        result: Result<(), ProtocolError>,
        frames: Frames<'_>,
        ready: &mut VecDeque<Inbound>,
    ) {
        // What came out is judged first, even when the transform then
        // failed: in stream order an invalid byte it produced comes before
        // the input it could not take, however the reads were cut.
        let text = self.open.is_some_and(|open| open.text);
        let verdict = match text {
            true => self.utf8.feed(&self.buffer[start..]).map_err(|err| {
                let open = self.open.map(|open| Open {
                    frames: match frames {
                        Frames::One { earlier } => open.frames.saturating_sub(earlier),
                        Frames::Several { payload, ends } => {
                            self.frame_of_invalid_text(start, payload, ends, open.frames)
                        }
                    },
                    ..open
                });
                ProtocolError::InvalidUtf8(self.evidence(open, &err, None, 0))
            }),
            false => Ok(()),
        };
        if let Err(err) = verdict.and(result) {
            self.poison(err, ready);
        }
    }

    /// The frame whose own call would have found the invalid text in the
    /// output appended from `start` on, when that output came of several
    /// frames' `payload` in one call (the frames ending where `ends` says,
    /// the last of them frame `last`): the transform replays the call frame
    /// by frame from where it stood to tell how much each gave, and the
    /// text so far is checked again up to each. Only on the error path;
    /// the message is kept whole (not streamed), so all its output is in
    /// its buffer.
    #[cold]
    fn frame_of_invalid_text(
        &mut self,
        start: usize,
        payload: &[u8],
        ends: &[usize],
        last: u32,
    ) -> u32 {
        let Some(outputs) =
            self.extensions
                .transform()
                .replay(payload, ends, (self.buffer.len() - start) as u64)
        else {
            return last;
        };
        let mut utf8 = Utf8Validator::new();
        let mut checked = 0;
        for (i, output) in outputs.iter().enumerate() {
            let end = (start as u64).saturating_add(*output);
            let end =
                usize::try_from(end).map_or(self.buffer.len(), |end| end.min(self.buffer.len()));
            if utf8.feed(&self.buffer[checked..end]).is_err() {
                // `ends.len()` frames, the last of them `last`.
                return last.saturating_sub((ends.len() - 1 - i) as u32);
            }
            checked = end;
        }
        last
    }

    /// Streaming mode: the payload of the frame being read that arrived,
    /// handed out as a piece.
    pub(super) fn piece(&mut self, payload: BytesMut, ready: &mut VecDeque<Inbound>) {
        if let Some(open) = self.open {
            if !open.invalid {
                self.hand_out_piece(payload, open.text, false, ready);
            }
        }
    }

    /// The frame being read ended; `kept` is its payload if its route kept
    /// it in the read buffer. Returns whether reading goes on (not after a
    /// close frame).
    #[inline(always)]
    pub(super) fn end_frame(&mut self, kept: BytesMut, ready: &mut VecDeque<Inbound>) -> bool {
        let (fin, route) = match self.frame {
            Frame::Control(opcode) => {
                let payload = kept.freeze();
                ready.push_back(match opcode {
                    OpCode::Ping => Inbound::Ping(payload),
                    OpCode::Pong => Inbound::Pong(payload),
                    _ => Inbound::Close(payload),
                });
                return opcode != OpCode::Close;
            }
            Frame::Data { fin, route } => (fin, route),
        };
        if self.paused {
            // The transform still holds this message's input: its end
            // comes once that is taken (see `resume`).
            self.end_pending |= fin;
            return true;
        }
        if route == Route::Transform && fin && !self.open.is_some_and(|open| open.ended) {
            self.run_transform(Step::End, Frames::One { earlier: 0 }, ready);
        }
        let Some(open) = self.open else {
            unreachable!("a data frame without a message");
        };
        if fin {
            self.open = None;
        }
        if open.invalid || !fin && !matches!(route, Route::Streamed { .. }) {
            return true;
        }
        if open.text && fin {
            // A message may not end inside a code point.
            if let Err(err) = self.utf8.finish() {
                let read = matches!(route, Route::Kept { .. } | Route::Streamed { .. });
                let evidence = self.evidence(Some(open), &err, read.then_some(&kept[..]), 0);
                self.poison(ProtocolError::InvalidUtf8(evidence), ready);
                return true;
            }
        }
        match route {
            Route::Streamed { .. } => self.hand_out_piece(kept, open.text, fin, ready),
            Route::Kept { .. } => {
                ready.push_back(Inbound::Message(message(open.text, kept.freeze())))
            }
            _ => {
                let bytes = std::mem::take(&mut self.buffer);
                if self.streaming {
                    // A transformed message's last piece: what its end
                    // produced (its earlier output went out as it came).
                    self.hand_out_piece(bytes, open.text, true, ready);
                } else {
                    ready.push_back(Inbound::Message(message(open.text, bytes.freeze())));
                }
            }
        }
        true
    }

    /// Streaming mode: hands out `payload`, joining in front (for text)
    /// the bytes held from the last piece and holding back those of a code
    /// point its end cuts.
    fn hand_out_piece(
        &mut self,
        mut payload: BytesMut,
        text: bool,
        last: bool,
        ready: &mut VecDeque<Inbound>,
    ) {
        if text {
            if !self.held.is_empty() {
                let mut joined = std::mem::take(&mut self.held);
                joined.extend_from_slice(&payload);
                payload = joined;
            }
            // The validator accepted every byte so far; the last
            // `pending()` of them start a code point it has not seen end
            // (none after `finish`).
            let pending = self.utf8.pending();
            if pending > 0 {
                self.held = payload.split_off(payload.len() - pending);
            }
            self.handed_out_tail.push(&payload);
        }
        if last || !payload.is_empty() {
            ready.push_back(Inbound::Piece {
                data: message(text, payload.freeze()),
                last,
            });
        }
    }
}

/// Whose payload a step's input is: the frame invalid text in its output
/// is told in.
#[derive(Copy, Clone, Debug)]
enum Frames<'a> {
    /// One frame's, the frame `earlier` frames before the one being read
    /// (0: that one).
    One { earlier: u32 },
    /// Several frames' in one call, each ending in `payload` where `ends`
    /// says, the last of them the one being read: the transform keeps a
    /// checkpoint to replay them frame by frame from on an error.
    Several {
        payload: &'a [u8],
        ends: &'a [usize],
    },
}

/// What the inbound transform is handed.
#[derive(Copy, Clone, Debug)]
enum Step<'a> {
    /// More of the message's payload.
    Payload(&'a [u8]),
    /// More of a message streamed out in pieces: as much of it as one
    /// piece holds.
    Piece(&'a [u8]),
    /// All of a one-frame message's payload, and its end.
    Message(&'a [u8]),
    /// The message's end.
    End,
}

/// A message of validated bytes.
#[inline(always)]
fn message(text: bool, bytes: Bytes) -> Message {
    if text {
        // SAFETY: `from_validated` requires `bytes` to be valid UTF-8.
        // Every byte of a text message went, in order, through the
        // message's `Utf8Validator` (or, for a small whole message read in
        // place, the one-shot `utf8stream::check` or
        // `check_unmasking_in_place` over all of it, whose `Ok` verdict
        // `whole_message` requires; for a small transformed message read
        // whole, `utf8stream::check` over all of its output, or the
        // validator fed all of it then finished, whose `Ok` verdicts
        // `transformed_message` requires), which accepted all of them: a
        // message or piece with a rejected byte is dropped before it gets
        // here. A message is complete only after `finish` confirmed it does
        // not end inside a code point; a streamed piece starts with the
        // bytes held back from the last one and holds back those of a code
        // point its end cuts, so it starts and ends on code-point
        // boundaries.
        Message::Text(unsafe { Text::from_validated(bytes) })
    } else {
        Message::Binary(bytes)
    }
}
