//! The send side: messages into frames in the output buffer. The [`Sender`]
//! keeps the fragment state of the message being sent, encodes frames with
//! the [`FrameEncoder`], and hands whole messages through the negotiated
//! extension's outbound transform.
//!
//! Whether sending is allowed at all (the connection's state) is the
//! connection's question; the frame rules of what is sent are the sender's.

mod encoder;
mod output;

use std::{io::IoSlice, ops::Range};

use bytes::{Buf, Bytes, BytesMut};

pub use self::encoder::{FrameEncoder, MaskSource, OsRandomMask};
use self::output::{Output, SHARE_MIN};
use crate::{
    close::CloseCode,
    error::SendError,
    ext::OutboundSet,
    frame::{OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN},
    mask::apply_mask,
    message::Message,
};

/// Frames out, into one output queue for the connection's life.
#[derive(Debug)]
pub(crate) struct Sender {
    encoder: FrameEncoder,
    extensions: OutboundSet,
    output: Output,
    /// The opcode of the fragmented message being sent (text or binary).
    sending: Option<OpCode>,
    /// While `output` holds at least this many bytes, new frames are refused.
    limit: usize,
    /// The largest payload of a data frame sent (at least 1): a longer one
    /// is split into continuation frames.
    max_frame: usize,
    /// Where in `output`'s encoded bytes the latest automatic pong lies
    /// while none of it is written yet: with the output full, the next
    /// automatic pong replaces it.
    auto_pong: Option<Range<usize>>,
}

impl Sender {
    /// A sender that refuses new frames while `limit` bytes or more wait,
    /// and sends data frames of at most `max_frame` payload bytes (0 is
    /// taken as 1; more than memory can hold never splits).
    pub(crate) fn new(
        encoder: FrameEncoder,
        extensions: OutboundSet,
        limit: usize,
        max_frame: u64,
    ) -> Self {
        Self {
            encoder,
            extensions,
            output: Output::default(),
            sending: None,
            limit,
            max_frame: usize::try_from(max_frame).unwrap_or(usize::MAX).max(1),
            auto_pong: None,
        }
    }

    /// # Errors
    ///
    /// [`SendError::OutputFull`] while the output is at or over the limit.
    fn check_room(&self) -> Result<(), SendError> {
        if self.output.len() >= self.limit {
            return Err(SendError::OutputFull {
                pending: self.output.len(),
                limit: self.limit,
            });
        }
        Ok(())
    }

    /// Queues a whole message, through the extension's transform if one is
    /// negotiated, as one frame, or several if it is longer than the frame
    /// bound; `choice` as [`OutboundSet::begin`].
    ///
    /// # Errors
    ///
    /// [`SendError::OutputFull`] while the output is at or over the limit,
    /// then [`SendError::FragmentOutOfOrder`] while a fragmented message is
    /// open.
    #[inline]
    pub(crate) fn message(
        &mut self,
        message: &Message,
        choice: Option<bool>,
    ) -> Result<(), SendError> {
        self.check_room()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        let opcode = data_opcode(message);
        match self.extensions.begin(message.as_bytes().len(), choice) {
            Some(rsv) => self.transformed_frame(opcode, rsv, true, message.as_bytes()),
            None => self.frame(opcode, 0, true, message.payload()),
        }
        Ok(())
    }

    /// Queues the header of a whole message and returns its payload, to be
    /// written right after the output (the same bytes for a server, a
    /// masked copy for a client). Not transformed by an extension: a
    /// transformed payload is written straight into the output, so it is
    /// queued whole, and so is a payload longer than the frame bound, as
    /// its frames (a server's large pieces still by reference); both
    /// return an empty payload.
    ///
    /// # Errors
    ///
    /// As [`message`](Self::message).
    pub(crate) fn message_split(&mut self, message: Message) -> Result<Bytes, SendError> {
        self.check_room()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        let opcode = data_opcode(&message);
        if let Some(rsv) = self.extensions.begin(message.as_bytes().len(), None) {
            self.transformed_frame(opcode, rsv, true, message.as_bytes());
            return Ok(Bytes::new());
        }
        if message.as_bytes().len() > self.max_frame {
            self.frame(opcode, 0, true, message.payload());
            return Ok(Bytes::new());
        }
        let payload = match message {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(bytes) => bytes,
        };
        let (payload, _) = self
            .output
            .encode(|out| self.encoder.encode_split(opcode, true, payload, out));
        Ok(payload)
    }

    /// Queues one fragment (§5.4): the first opens a message of its kind,
    /// later ones must be of the same kind, `fin` ends it. A message the
    /// extension transforms is transformed as one stream across its
    /// fragments, its RSV bits on the first only (RFC 7692 §6.1).
    ///
    /// # Errors
    ///
    /// [`SendError::FragmentOutOfOrder`] if the kind differs from the open
    /// message's.
    pub(crate) fn fragment(&mut self, fragment: &Message, fin: bool) -> Result<(), SendError> {
        self.check_room()?;
        let kind = data_opcode(fragment);
        let opcode = match self.sending {
            None => kind,
            Some(open) if open == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::FragmentOutOfOrder),
        };
        let payload = fragment.as_bytes();
        let transformed = match self.sending {
            None => self.extensions.begin(payload.len(), None),
            Some(_) => self.extensions.transforming().then_some(0),
        };
        match transformed {
            Some(rsv) => self.transformed_frame(opcode, rsv, fin, payload),
            None => self.frame(opcode, 0, fin, fragment.payload()),
        }
        self.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Queues a ping or pong.
    ///
    /// # Errors
    ///
    /// [`SendError::ControlPayloadTooLong`] over 125 bytes (§5.5), and
    /// [`SendError::OutputFull`].
    pub(crate) fn control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.check_room()?;
        self.output
            .encode(|out| self.encoder.encode(opcode, true, payload, out));
        Ok(())
    }

    /// Queues one data frame with the RSV bits `rsv` carrying `payload`
    /// (as sent, or as an extension transformed it): a server's large
    /// payload by reference (written from where it is), any other copied
    /// (and masked by a client, RFC 6455 §5.3, which needs a copy). Longer
    /// than the frame bound, it goes as several ([`frames`](Self::frames)).
    #[inline]
    fn frame(&mut self, opcode: OpCode, rsv: u8, fin: bool, payload: &Bytes) {
        if payload.len() > self.max_frame {
            self.frames(opcode, rsv, fin, payload);
        } else if self.encoder.masks() || payload.len() < SHARE_MIN {
            self.output.encode(|out| {
                self.encoder.encode_with_rsv(opcode, rsv, fin, payload, out);
            });
        } else {
            self.output.encode(|out| {
                self.encoder
                    .encode_header(opcode, rsv, fin, payload.len(), out)
            });
            self.output.push_shared(payload.clone());
        }
    }

    /// Queues one data frame with the RSV bits `rsv` carrying `payload` as
    /// the extension transforms it, transformed straight into the output
    /// after room for the shortest header (no buffer of its own, no copy):
    /// the header goes in front once the transformed length is known, the
    /// payload moving up only if it needs a longer one (past 125 bytes, a
    /// copy small next to compressing them), then is masked in place by a
    /// client. Longer than the frame bound, it is taken back out and goes
    /// as several ([`frames`](Self::frames)).
    #[inline]
    fn transformed_frame(&mut self, opcode: OpCode, rsv: u8, fin: bool, payload: &[u8]) {
        let room = if self.encoder.masks() { 2 + 4 } else { 2 };
        let max_frame = self.max_frame;
        let (extensions, encoder) = (&mut self.extensions, &mut self.encoder);
        let (fits, at) = self.output.encode(|out| {
            let start = out.len();
            out.resize(start + room, 0);
            extensions.transform(payload, fin, out);
            let len = out.len() - start - room;
            if len > max_frame {
                return false;
            }
            // The masking key is drawn here, after the transform, as for
            // any frame: one per frame, in the frames' order.
            let header = encoder.header(opcode, rsv, fin, len);
            let mut bytes = [0; MAX_HEADER_LEN];
            let header_len = header.write_to(&mut bytes);
            let end = start + header_len + len;
            if header_len > room {
                out.resize(end, 0);
                out.copy_within(start + room..start + room + len, start + header_len);
            }
            out[start..start + header_len].copy_from_slice(&bytes[..header_len]);
            if let Some(key) = header.mask {
                apply_mask(&mut out[start + header_len..end], key, 0);
            }
            true
        });
        if !fits {
            self.frames_taken_back(opcode, rsv, fin, &at, room);
        }
    }

    /// The transformed payload longer than the frame bound that
    /// [`transformed_frame`](Self::transformed_frame) queued at `at` after
    /// `room` bytes for its header, taken back out and queued as frames.
    #[cold]
    #[inline(never)]
    fn frames_taken_back(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        fin: bool,
        at: &Range<usize>,
        room: usize,
    ) {
        let mut payload = self.output.take_back(at);
        payload.advance(room);
        self.frames(opcode, rsv, fin, &payload.freeze());
    }

    /// Queues `payload`, longer than the frame bound, as frames of at most
    /// that many bytes (§5.4): `opcode` and `rsv` on the first (RFC 7692
    /// §6.1), continuations with RSV 0 after it, `fin` on the last. Out of
    /// line, so that the common one-frame send stays as short as it was.
    #[cold]
    #[inline(never)]
    fn frames(&mut self, opcode: OpCode, rsv: u8, fin: bool, payload: &Bytes) {
        let (mut opcode, mut rsv) = (opcode, rsv);
        let mut start = 0;
        while start < payload.len() {
            let end = start + self.max_frame.min(payload.len() - start);
            let last = end == payload.len();
            self.frame(opcode, rsv, fin && last, &payload.slice(start..end));
            (opcode, rsv) = (OpCode::Continuation, 0);
            start = end;
        }
    }

    /// Queues the automatic answer to a ping (§5.5.2), which the caller
    /// checked is at most 125 bytes. Under the output limit every ping gets
    /// its pong (peers expect each: Autobahn 2.10 and 2.11 check it). At or
    /// over the limit, the automatic pong of which no byte is written yet is
    /// replaced by this one: §5.5.3 allows answering only the latest ping,
    /// so pings that are never read cannot grow the output past the limit by
    /// more than one pong. Never refused for a full output.
    pub(crate) fn auto_pong(&mut self, payload: &[u8]) {
        if self.output.len() >= self.limit {
            if let Some(unsent) = self.auto_pong.take() {
                self.output.remove(&unsent);
            }
        }
        let ((), at) = self
            .output
            .encode(|out| self.encoder.encode(OpCode::Pong, true, payload, out));
        self.auto_pong = Some(at);
    }

    /// Queues a close frame with `code` and `reason`, which the caller
    /// checked fit (§5.5.1: at most 123 bytes of reason).
    pub(crate) fn close(&mut self, code: CloseCode, reason: &str) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&code.0.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.output.encode(|out| {
            self.encoder
                .encode(OpCode::Close, true, &payload[..2 + reason.len()], out);
        });
    }

    /// Runs `queue` with the output limit lifted: for room promised before
    /// an automatic pong or keepalive ping took it (a `Sink`'s
    /// `poll_ready`, then `start_send`).
    #[cfg(feature = "futures")]
    pub(crate) fn past_limit<R>(&mut self, queue: impl FnOnce(&mut Self) -> R) -> R {
        let limit = std::mem::replace(&mut self.limit, usize::MAX);
        let queued = queue(self);
        self.limit = limit;
        queued
    }

    /// The output limit it was made with
    /// ([`Config::max_output_buffer`](crate::Config::max_output_buffer)).
    #[cfg(feature = "tokio")]
    pub(crate) const fn limit(&self) -> usize {
        self.limit
    }

    /// How many bytes wait to be written.
    pub(crate) const fn pending_len(&self) -> usize {
        self.output.len()
    }

    /// The first run of bytes waiting to be written.
    pub(crate) fn pending(&self) -> &[u8] {
        self.output.first()
    }

    /// The runs of bytes waiting, in order, into `dst`; how many it filled.
    pub(crate) fn pending_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.output.vectored(dst)
    }

    /// Takes the bytes waiting to be written.
    pub(crate) fn take(&mut self) -> BytesMut {
        self.auto_pong = None;
        self.output.take()
    }

    /// Drops the first `written` bytes waiting.
    ///
    /// # Panics
    ///
    /// If `written` is more than are waiting.
    #[inline]
    pub(crate) fn consume(&mut self, written: usize) {
        self.output.consume(written);
        // Once any byte of the automatic pong is written, it must go out
        // whole (and once all is, its place is gone).
        if self.auto_pong.is_some() {
            self.auto_pong = self
                .auto_pong
                .take()
                .filter(|unsent| self.output.len() > 0 && self.output.unwritten(unsent));
        }
    }
}

/// The opcode that starts a data message of `message`'s kind.
fn data_opcode(message: &Message) -> OpCode {
    match message {
        Message::Text(_) => OpCode::Text,
        Message::Binary(_) => OpCode::Binary,
    }
}
