//! The receive pipeline: bytes → frames → messages → [`Inbound`] items, in
//! one direction.
//!
//! ```text
//! receive(&[u8]) ─┐                          begin / payload / end, in order
//!                 ├─> FrameReader ───────────────> MessageAssembler ──> queue of Inbound
//! read_buf() ─────┘   (frames.rs)                  (message.rs)          (Receiver::poll)
//! ```
//!
//! The [`Receiver`] owns the read buffer, the [`FrameReader`], the
//! [`MessageAssembler`] and the queue of what is ready. The connection above
//! it sees only [`Inbound`] items: never a header, a stream position or the
//! read buffer. Both ways bytes arrive, copied by
//! [`receive`](Receiver::receive) or put into [`read_buf`](Receiver::read_buf)
//! by the caller, are read by the same reader in the same loop.
//!
//! # Where each rule is checked
//!
//! Each rule has one place; adding a limit or an RSV rule is a change there
//! and nowhere else.
//!
//! | rule | checked in |
//! |---|---|
//! | RSV bits only as the negotiated extensions define (§5.2, RFC 7692 §6) | `FrameReader::read_header`, asking [`AllowedRsv`](crate::ext::AllowedRsv) |
//! | reserved opcodes (§5.2) | `FrameReader::read_header` |
//! | control frames: FIN set, ≤ 125 bytes (§5.5) | `FrameReader::read_header` |
//! | 64-bit length top bit, minimal length encoding (§5.2) | `FrameReader::read_header` |
//! | masking by role (§5.1) | `FrameReader::read_header` |
//! | frame limit (1009) | `FrameReader::read_header` |
//! | fragment order: continuation needs an open message, no interleaving (§5.4) | `MessageAssembler::message_rules` |
//! | message limit (1009) | `MessageAssembler::message_rules` (declared lengths); for a transformed message, the extension's `Inbound` transform (its output) |
//! | UTF-8 of text, fail-fast per read (§8.1, 1007) | the validator the reader feeds, its verdict taken by `MessageAssembler` (`invalid_text`, `end_frame`'s `finish`) |
//! | close frame payload: code and UTF-8 reason (§5.5.1, §7.4) | [`Connection`](crate::Connection) (`on_close`) |
//! | what is read after our close, after the peer's (§5.5.1, §7.1) | [`Connection`](crate::Connection) (`next_event`) |
//!
//! After a violation of a frame or message rule, and after a close frame,
//! nothing more is read. Invalid text only ends its message: the connection
//! fails on it while open, and ignores it after its own close (RFC 6455
//! §5.5.1: data after a close frame is not processed).

mod frames;
mod message;

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::{
    config::{Config, Role},
    error::ProtocolError,
    ext::{AllowedRsv, InboundSet},
    message::Message,
};

use self::{
    frames::{FrameReader, Input},
    message::{MessageAssembler, OWN_BUFFER_MIN},
};

/// What the receive pipeline hands the connection, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A whole data message, its text validated.
    Message(Message),
    /// Streaming mode: the next piece of the data message being received
    /// (text cut on code points).
    Piece {
        /// The piece.
        data: Message,
        /// Whether it ends its message.
        last: bool,
    },
    /// A ping's payload.
    Ping(Bytes),
    /// A pong's payload.
    Pong(Bytes),
    /// A close frame's payload, unjudged: the close handshake's to read.
    Close(Bytes),
    /// The peer broke a rule of the frame or message layer.
    Violation(ProtocolError),
}

impl Inbound {
    /// Payload bytes the item holds.
    fn len(&self) -> usize {
        match self {
            Self::Message(data) | Self::Piece { data, .. } => data.as_bytes().len(),
            Self::Ping(bytes) | Self::Pong(bytes) | Self::Close(bytes) => bytes.len(),
            Self::Violation(_) => 0,
        }
    }
}

/// The receive side of a connection.
#[derive(Debug)]
pub(crate) struct Receiver {
    /// The bytes of the frame being read, then any bytes the caller put
    /// here that are not read yet.
    buf: BytesMut,
    reader: FrameReader,
    assembler: MessageAssembler,
    ready: VecDeque<Inbound>,
}

impl Receiver {
    pub(crate) fn new(
        role: Role,
        config: &Config,
        rsv: AllowedRsv,
        extensions: InboundSet,
    ) -> Self {
        Self {
            buf: BytesMut::new(),
            reader: FrameReader::new(role, config.max_frame_size(), rsv),
            assembler: MessageAssembler::new(config, extensions),
            ready: VecDeque::new(),
        }
    }

    /// Reads `bytes`, copying what must be kept into the read buffer (the
    /// copy unmasks, and validates text, on the way). Behind bytes not read
    /// yet, they are only appended, to be read in place after them.
    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        if self.buf.len() > self.reader.kept() {
            // Bytes not read yet come first: these are read after them, in
            // place.
            self.buf.extend_from_slice(bytes);
            return;
        }
        self.reader.read(
            &mut self.buf,
            Input::Copy(bytes),
            &mut self.assembler,
            &mut self.ready,
        );
    }

    /// The read buffer, for the caller to append to; appended bytes are
    /// read in place by the next [`poll`](Self::poll).
    pub(crate) fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// How many more bytes the frame being read keeps in the read buffer
    /// beyond those already there (0 if it keeps none, or none is being
    /// read): room for them lets the rest of the frame land where it will
    /// be handed out.
    pub(crate) fn read_hint(&self) -> usize {
        let unread = (self.buf.len() - self.reader.kept()) as u64;
        let to_come = self.reader.kept_payload_to_come().saturating_sub(unread);
        usize::try_from(to_come).unwrap_or(usize::MAX)
    }

    /// Makes room in the read buffer for the next read, and returns how
    /// many bytes that read should take at most.
    ///
    /// The room is the tokio wrapper's rule: once all that was read is
    /// handed out, reading starts over at the front of the allocation if no
    /// message holds it any more (memory the last reads warmed, no
    /// allocation); with less room than the rest of the frame being kept
    /// (or, unless the frame is large, a quarter of `chunk`), room for that
    /// rest (or `chunk`) is reserved at once: the rest of a frame is never
    /// made room for twice. The limit is the room, except while a large frame
    /// ([`OWN_BUFFER_MIN`] or more) is kept: then it is the rest of that
    /// frame, so that the frame ends the read and the next frame starts at
    /// the front of a buffer with room for it. Without the limit, a read
    /// that carries the start of the next large frame lands it at the end
    /// of the allocation, and the reserve for its rest moves all of it.
    #[inline]
    pub(crate) fn prepare_read(&mut self, chunk: usize) -> usize {
        if self.reader.kept_payload_to_come() == 0 {
            // No frame is being read into the buffer (between messages,
            // the common case): the rule below with no rest of a frame to
            // make room for, without working that rest out.
            let buf = &mut self.buf;
            if buf.is_empty() {
                let _ = buf.try_reclaim(chunk);
            }
            if buf.capacity() - buf.len() < (chunk / 4).max(1) {
                buf.reserve(chunk.max(1));
            }
            return buf.capacity() - buf.len();
        }
        self.prepare_read_for_frame(chunk)
    }

    /// [`prepare_read`](Self::prepare_read) while a frame kept in the
    /// buffer is being read.
    fn prepare_read_for_frame(&mut self, chunk: usize) -> usize {
        let frame_rest = self.read_hint();
        let buf = &mut self.buf;
        if buf.is_empty() {
            // Never allocates; fails while a message holds the allocation.
            let _ = buf.try_reclaim(chunk);
        }
        let kept = self.reader.kept() as u64;
        let large = kept + self.reader.kept_payload_to_come() >= OWN_BUFFER_MIN;
        let to_end_of_frame = frame_rest > 0 && large;
        // Room for the rest of a large frame suffices: more would move it.
        let wanted = match to_end_of_frame {
            true => frame_rest,
            false => frame_rest.max(chunk / 4).max(1),
        };
        if buf.capacity() - buf.len() < wanted {
            buf.reserve(frame_rest.max(chunk).max(1));
        }
        match to_end_of_frame {
            true => frame_rest,
            false => buf.capacity() - buf.len(),
        }
    }

    /// Reads the bytes appended through [`read_buf`](Self::read_buf).
    fn catch_up(&mut self) {
        if self.buf.len() > self.reader.kept() {
            self.reader.read(
                &mut self.buf,
                Input::InPlace,
                &mut self.assembler,
                &mut self.ready,
            );
        }
    }

    /// Whether [`poll`](Self::poll) has anything to give or read: items
    /// ready, a streamed message's input held for its next piece, or bytes
    /// appended and not read yet. When not, it returns
    /// `None`.
    #[inline]
    pub(crate) fn has_unread(&self) -> bool {
        !self.ready.is_empty() || self.buf.len() > self.reader.kept() || self.assembler.paused()
    }

    /// Whether a streamed compressed message's input is held for its next
    /// pieces (see [`MessageAssembler::paused`]).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) const fn holds_streamed_input(&self) -> bool {
        self.assembler.paused()
    }

    /// Whether [`poll`](Self::poll) has an item to give without more
    /// bytes: one ready, or a frame at the front of the bytes not read yet
    /// that makes one ([`FrameReader::item_at_front`]). A frame cut by the
    /// end of the last read, or an open message, is not one.
    #[cfg(feature = "tokio")]
    pub(crate) fn item_in_hand(&self, streaming: bool) -> bool {
        !self.ready.is_empty() || self.reader.item_at_front(&self.buf, streaming)
    }

    /// The next item, or `None` until more bytes arrive.
    #[inline]
    pub(crate) fn poll(&mut self) -> Option<Inbound> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        // The common case, a small message in one frame, goes to the caller
        // without the queue.
        if let Some(item) = self
            .reader
            .next_small_message(&mut self.buf, &self.assembler)
        {
            return Some(item);
        }
        // (Only in streaming mode, where the small-message path hands out
        // nothing.)
        if self.assembler.paused() {
            // A streamed message's held input comes before anything read
            // after it.
            self.assembler.resume(&mut self.ready);
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
        }
        self.catch_up();
        self.ready.pop_front()
    }

    /// Bytes held: the read buffer, the open message, and items not polled.
    #[inline]
    pub(crate) fn buffered_len(&self) -> usize {
        let ready = if self.ready.is_empty() {
            // The common case, asked after every message: no walk.
            0
        } else {
            self.ready.iter().map(Inbound::len).sum::<usize>()
        };
        self.buf.len() + self.assembler.buffered_len() + ready
    }

    /// Whether the stream stops inside something: bytes held, a frame's
    /// payload or a message begun and not ended.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn mid_frame_or_message(&self) -> bool {
        self.buffered_len() > 0 || self.reader.in_payload() || self.assembler.is_open()
    }

    /// Reads nothing more and drops everything held.
    pub(crate) fn close(&mut self) {
        self.reader.stop();
        self.buf = BytesMut::new();
        self.assembler.clear();
        self.ready = VecDeque::new();
    }
}

/// The frame reader's verdict on the header at the front of `bytes`, for a
/// connection of `role` with the frame limit `max_frame_size` and no
/// extension: the fuzz harness's and the tests' way to it.
pub(crate) fn judge_header(
    role: Role,
    max_frame_size: u64,
    bytes: &[u8],
) -> Result<crate::frame::Status<(crate::frame::FrameHeader, usize)>, ProtocolError> {
    FrameReader::new(role, max_frame_size, AllowedRsv::default()).read_header(bytes)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::{
        frame::{FrameHeader, OpCode, Status},
        mask::apply_mask_bytewise,
    };

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    /// A masked client frame with any first byte.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin: first & 0x80 != 0,
            rsv: (first >> 4) & 0x07,
            opcode: OpCode::from_bits(first),
            mask: Some(KEY),
            payload_len: payload.len() as u64,
        };
        let mut wire = BytesMut::new();
        header.encode(&mut wire);
        let body = wire.len();
        wire.extend_from_slice(payload);
        apply_mask_bytewise(&mut wire[body..], KEY, 0);
        wire.to_vec()
    }

    fn config(streaming: bool) -> Config {
        Config::builder()
            .max_frame_size(1 << 20)
            .streaming(streaming)
            .build()
    }

    /// Feeds `wire` in pieces of `size`, every other one in place if
    /// `in_place`, polling after each; returns everything polled.
    /// The violation for `message`'s invalid UTF-8 found in its `frame`th
    /// frame, with only what every way of cutting the reads gives alike.
    fn utf8_violation(message: &[u8], frame: u32) -> Inbound {
        let evidence = crate::InvalidUtf8::of(message).unwrap();
        Inbound::Violation(ProtocolError::InvalidUtf8(evidence.essentials(frame)))
    }

    fn run(config: Config, wire: &[u8], size: usize, in_place: bool) -> Vec<Inbound> {
        let mut receiver = Receiver::new(
            Role::Server,
            &config,
            AllowedRsv::default(),
            InboundSet::default(),
        );
        let mut items = Vec::new();
        for (i, piece) in wire.chunks(size.max(1)).enumerate() {
            if in_place && i % 2 == 1 {
                receiver.read_buf().extend_from_slice(piece);
            } else {
                receiver.receive(piece);
            }
            while let Some(item) = receiver.poll() {
                items.push(match item {
                    Inbound::Violation(ProtocolError::InvalidUtf8(evidence)) => Inbound::Violation(
                        ProtocolError::InvalidUtf8(evidence.essentials(evidence.frame())),
                    ),
                    item => item,
                });
            }
        }
        items
    }

    /// Streamed pieces joined into the messages they make, for comparing
    /// runs whose reads were cut differently.
    fn joined(items: Vec<Inbound>) -> Vec<Inbound> {
        let mut out = Vec::new();
        let mut open: Option<(bool, Vec<u8>)> = None;
        for item in items {
            match item {
                Inbound::Piece { data, last } => {
                    let entry = open.get_or_insert_with(|| (data.is_text(), Vec::new()));
                    entry.1.extend_from_slice(data.as_bytes());
                    if last {
                        let (text, bytes) = open.take().expect("open");
                        out.push(Inbound::Message(if text {
                            Message::from(String::from_utf8(bytes).expect("validated"))
                        } else {
                            Message::from(bytes)
                        }));
                    }
                }
                other => out.push(other),
            }
        }
        out
    }

    /// Frames of every route: small and large, text and binary, a control
    /// frame between fragments, a code point cut by a fragment boundary, a
    /// whole message large enough for a buffer of its own.
    fn frames() -> (Vec<u8>, Vec<Inbound>) {
        let text: String = "κόσμε 😀 a".repeat(40);
        let bytes = text.as_bytes();
        let large: Vec<u8> = (0..OWN_BUFFER_MIN + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        let wire = [
            frame(0x81, b"hello"),
            frame(0x82, &[0xA7; 300]),
            frame(0x81, bytes),
            // "😀" cut after its second byte by the fragment boundary.
            frame(0x01, &bytes[..13]),
            frame(0x89, b"ping"),
            frame(0x80, &bytes[13..]),
            frame(0x82, &(0..=255).collect::<Vec<u8>>()),
            frame(0x82, &large),
            frame(0x88, &[0x03, 0xE8]),
            frame(0x81, b"after the close: never read"),
        ]
        .concat();
        let items = vec![
            Inbound::Message(Message::from("hello")),
            Inbound::Message(Message::from(vec![0xA7; 300])),
            Inbound::Message(Message::from(text.as_str())),
            Inbound::Ping(Bytes::from_static(b"ping")),
            Inbound::Message(Message::from(text.as_str())),
            Inbound::Message(Message::from((0..=255).collect::<Vec<u8>>())),
            Inbound::Message(Message::from(large)),
            Inbound::Close(Bytes::from_static(&[0x03, 0xE8])),
        ];
        (wire, items)
    }

    #[test]
    fn every_route_gives_the_same_items_for_reads_of_any_size_copied_or_in_place() {
        let (wire, want) = frames();
        let sizes: &[usize] = if cfg!(miri) {
            &[5000, 997]
        } else {
            &[1, 2, 3, 7, 64, 97, 4096, 70000]
        };
        for &size in sizes {
            for in_place in [false, true] {
                for streaming in [false, true] {
                    let items = run(config(streaming), &wire, size, in_place);
                    let items = if streaming { joined(items) } else { items };
                    assert_eq!(
                        items, want,
                        "size {size}, in place {in_place}, streaming {streaming}"
                    );
                }
            }
        }
    }

    #[test]
    fn text_in_place_is_judged_as_std_judges_it_in_the_read_that_brings_it() {
        let mut text = "añ😀".repeat(1300).into_bytes();
        for bad in [None, Some(9001)] {
            if let Some(at) = bad {
                text[at] = 0xFF;
            }
            let want = match std::str::from_utf8(&text) {
                Ok(s) => vec![Inbound::Message(Message::from(s))],
                Err(_) => vec![utf8_violation(&text, 1)],
            };
            let wire = frame(0x81, &text);
            for in_place in [false, true] {
                assert_eq!(run(config(false), &wire, wire.len(), in_place), want);
            }
            // Cut just after the bad byte: reported by that read.
            if let Some(at) = bad {
                let items = run(config(false), &wire[..8 + at + 1], 8 + at + 1, true);
                assert_eq!(items, want);
            }
        }
    }

    #[test]
    fn a_whole_frame_read_at_once_is_judged_as_one_read_byte_by_byte() {
        // Over the small frames' size: read at once, copied or in place, a
        // whole message goes out without opening one; byte by byte, through
        // the general path. Both say the same, valid, invalid inside or cut
        // inside a code point at the end, text or binary.
        let text = "añ😀".repeat(100).into_bytes();
        let mut bad = text.clone();
        bad[301] = 0xFF;
        let cut = &text[..text.len() - 1];
        for (first, payload) in [
            (0x81, &text[..]),
            (0x81, &bad[..]),
            (0x81, cut),
            (0x82, cut),
        ] {
            let wire = [frame(first, payload), frame(0x81, b"next")].concat();
            let want = run(config(false), &wire, 1, false);
            assert_eq!(want.len(), 2);
            if first == 0x81 && std::str::from_utf8(payload).is_err() {
                assert_eq!(want[0], utf8_violation(payload, 1));
            }
            for size in [wire.len(), wire.len() - 3] {
                assert_eq!(run(config(false), &wire, size, false), want);
            }
            // All of it put in the read buffer, read in place.
            let mut receiver = Receiver::new(
                Role::Server,
                &config(false),
                AllowedRsv::default(),
                InboundSet::default(),
            );
            receiver.read_buf().extend_from_slice(&wire);
            let mut items = Vec::new();
            while let Some(item) = receiver.poll() {
                items.push(item);
            }
            let normalized = items
                .into_iter()
                .map(|item| match item {
                    Inbound::Violation(ProtocolError::InvalidUtf8(evidence)) => Inbound::Violation(
                        ProtocolError::InvalidUtf8(evidence.essentials(evidence.frame())),
                    ),
                    item => item,
                })
                .collect::<Vec<_>>();
            assert_eq!(normalized, want);
        }
    }

    #[test]
    fn a_large_copied_message_lands_in_its_own_buffer_and_one_in_place_stays_put() {
        let payload = vec![7u8; OWN_BUFFER_MIN as usize + 10];
        let wire = frame(0x82, &payload);
        let half = wire.len() / 2;
        let mut receiver = Receiver::new(
            Role::Server,
            &config(false),
            AllowedRsv::default(),
            InboundSet::default(),
        );
        receiver.receive(&wire[..half]);
        assert_eq!(
            receiver.buf.len(),
            0,
            "the header is read, the payload moved on"
        );
        assert_eq!(receiver.assembler.buffered_len(), half - 8);
        receiver.read_buf().extend_from_slice(&wire[half..]);
        assert!(matches!(receiver.poll(), Some(Inbound::Message(m)) if m.as_bytes() == payload));

        let mut receiver = Receiver::new(
            Role::Server,
            &config(false),
            AllowedRsv::default(),
            InboundSet::default(),
        );
        receiver.read_buf().extend_from_slice(&wire[..half]);
        assert_eq!(receiver.poll(), None);
        assert_eq!(receiver.buf.len(), half - 8, "kept where it landed");
        assert_eq!(receiver.assembler.buffered_len(), 0);
        receiver.read_buf().extend_from_slice(&wire[half..]);
        let start = receiver.buf.as_ptr();
        let Some(Inbound::Message(message)) = receiver.poll() else {
            panic!("a message")
        };
        assert_eq!(message.as_bytes().as_ptr(), start, "zero-copy");
    }

    /// Reads `wire` as socket reads of at most `chunk` bytes into the read
    /// buffer, with the room and limit `prepare_read` gives; `hold` keeps
    /// every message (their allocations cannot be reclaimed). Returns the
    /// messages, where each wire byte landed, and which read brought it.
    fn read_through_prepare_read(
        wire: &[u8],
        chunk: usize,
        hold: bool,
        mut on_message: impl FnMut(&Message, &[*const u8], &[usize], &Receiver),
    ) {
        let mut receiver = Receiver::new(
            Role::Server,
            &config(false),
            AllowedRsv::default(),
            InboundSet::default(),
        );
        let mut landed = vec![std::ptr::null(); wire.len()];
        let mut read_of = vec![0; wire.len()];
        let (mut read, mut reads, mut held) = (0, 0, Vec::new());
        while read < wire.len() {
            let limit = receiver.prepare_read(chunk);
            let buf = receiver.read_buf();
            assert!((1..=buf.capacity() - buf.len()).contains(&limit));
            let n = limit.min(chunk).min(wire.len() - read);
            let base = buf.as_ptr().wrapping_add(buf.len());
            buf.extend_from_slice(&wire[read..read + n]);
            for i in read..read + n {
                landed[i] = base.wrapping_add(i - read);
                read_of[i] = reads;
            }
            read += n;
            reads += 1;
            while let Some(item) = receiver.poll() {
                let Inbound::Message(message) = item else {
                    panic!("a message: {item:?}")
                };
                on_message(&message, &landed, &read_of, &receiver);
                if hold {
                    held.push(message);
                }
            }
        }
    }

    #[test]
    fn a_large_message_read_through_prepare_read_is_read_where_it_is_handed_out() {
        let large: Vec<u8> = (0..OWN_BUFFER_MIN as usize * 2 + 7)
            .map(|i| (i % 251) as u8)
            .collect();
        let want = [
            large.clone(),
            large.clone(),
            b"small".to_vec(),
            large.clone(),
            large[..OWN_BUFFER_MIN as usize].to_vec(),
        ];
        let frames: Vec<Vec<u8>> = want
            .iter()
            .map(|payload| frame(if payload.len() < 10 { 0x81 } else { 0x82 }, payload))
            .collect();
        // Where each frame's payload starts in the stream.
        let mut payload_at = Vec::new();
        let mut at = 0;
        for (frame, payload) in frames.iter().zip(&want) {
            payload_at.push(at + frame.len() - payload.len());
            at += frame.len();
        }
        let wire = frames.concat();
        // Under Miri (`OWN_BUFFER_MIN` 1 KiB), reads shorter than a large
        // message and one read of all: 4096 mixes the two, through the
        // same code, for 12 s more.
        let chunks: &[usize] = if cfg!(miri) {
            &[1000, 65536]
        } else {
            &[1000, 4096, 65536]
        };
        for &chunk in chunks {
            for hold in [false, true] {
                let mut got = 0;
                read_through_prepare_read(
                    &wire,
                    chunk,
                    hold,
                    |message, landed, read_of, receiver| {
                        assert_eq!(message.as_bytes(), want[got], "chunk {chunk}");
                        let (start, len) = (payload_at[got], want[got].len());
                        if len >= OWN_BUFFER_MIN as usize {
                            if read_of[start + len - 1] > read_of[start - 1] {
                                // It came over more than one read: the last
                                // one ended with it.
                                assert!(receiver.buf.is_empty(), "it ended the read");
                            }
                            // Only what came with its header may have been moved
                            // (once, by the reserve for the rest); what came after
                            // was read where it is handed out.
                            let base = message.as_bytes().as_ptr();
                            for i in start..start + len {
                                if read_of[i] > read_of[start - 1] {
                                    assert_eq!(
                                        landed[i],
                                        base.wrapping_add(i - start),
                                        "message {got}, chunk {chunk}, hold {hold}"
                                    );
                                }
                            }
                            if !hold && chunk == 65536 && got > 0 {
                                // Reads of the size the room was made for, and
                                // messages dropped: nothing at all was moved.
                                assert_eq!(landed[start], base, "message {got}");
                            }
                        }
                        got += 1;
                    },
                );
                assert_eq!(got, want.len());
            }
        }
    }

    #[test]
    fn each_header_rule_has_its_error_as_soon_as_its_byte_is_there() {
        use ProtocolError::*;
        let judge = |bytes: &[u8]| judge_header(Role::Server, 1000, bytes);
        assert_eq!(judge(&[0xC1]), Err(ReservedBits(4)));
        assert_eq!(judge(&[0x91]), Err(ReservedBits(1)));
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(judge(&[0x80 | op]), Err(ReservedOpcode(op)));
        }
        assert_eq!(judge(&[0x09]), Err(FragmentedControlFrame));
        assert_eq!(judge(&[0x89, 0x80 | 126]), Err(ControlFrameTooLong));
        assert_eq!(judge(&[0x82, 0x80 | 127, 0x80]), Err(LengthTopBitSet));
        assert_eq!(
            judge(&[0x82, 0x80 | 126, 0, 125, 1, 2, 3, 4]),
            Err(NonMinimalLength)
        );
        assert_eq!(
            judge(&[0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4]),
            Err(NonMinimalLength)
        );
        assert_eq!(judge(&[0x82, 5]), Err(UnmaskedFrame));
        assert_eq!(
            judge_header(Role::Client, 1000, &[0x82, 0x85, 1, 2, 3, 4]),
            Err(MaskedFrame)
        );
        assert_eq!(
            judge(&[0x82, 0x80 | 126, 0x10, 0, 1, 2, 3, 4]),
            Err(FrameTooBig {
                declared: 4096,
                limit: 1000
            })
        );
        assert_eq!(judge(&[0x82, 0x80 | 126, 0x10]), Ok(Status::Partial));
        assert!(matches!(
            judge(&[0x89, 0x80 | 125, 1, 2, 3, 4]),
            Ok(Status::Complete(_))
        ));
    }

    #[test]
    fn after_a_broken_rule_or_a_close_nothing_more_is_read() {
        let good = frame(0x81, b"fine");
        let unmasked = [0x81, 0x02, b'h', b'i'];
        let wire = [&good[..], &unmasked[..], &good[..]].concat();
        for in_place in [false, true] {
            assert_eq!(
                run(config(false), &wire, wire.len(), in_place),
                vec![
                    Inbound::Message(Message::from("fine")),
                    Inbound::Violation(ProtocolError::UnmaskedFrame)
                ]
            );
        }
    }

    #[test]
    fn invalid_text_drops_its_message_and_reading_goes_on() {
        // Reported once, in the fragment that shows it; its message's later
        // fragments are dropped; the frames after it are read.
        let wire = [
            frame(0x01, b"ok "),
            frame(0x00, b"\xC0 bad"),
            frame(0x89, b"p"),
            frame(0x80, b"more"),
            frame(0x81, b"next"),
        ]
        .concat();
        for streaming in [false, true] {
            let mut want = vec![
                utf8_violation(b"ok \xC0 bad", 2),
                Inbound::Ping(Bytes::from_static(b"p")),
                Inbound::Message(Message::from("next")),
            ];
            if streaming {
                // The valid start went out before the bad byte came.
                want.insert(
                    0,
                    Inbound::Piece {
                        data: Message::from("ok "),
                        last: false,
                    },
                );
                want[3] = Inbound::Piece {
                    data: Message::from("next"),
                    last: true,
                };
            }
            assert_eq!(
                run(config(streaming), &wire, wire.len(), false),
                want,
                "streaming {streaming}"
            );
        }
    }

    #[test]
    fn a_message_over_the_limit_is_refused_before_its_payload_is_kept() {
        let config = Config::builder()
            .max_frame_size(1 << 20)
            .max_message_size(4096)
            .build();
        let wire = [frame(0x02, &[7; 3072]), frame(0x80, &[9; 3072])].concat();
        let mut receiver = Receiver::new(
            Role::Server,
            &config,
            AllowedRsv::default(),
            InboundSet::default(),
        );
        receiver.receive(&wire);
        assert_eq!(
            receiver.poll(),
            Some(Inbound::Violation(ProtocolError::MessageTooBig {
                declared: 6144,
                limit: 4096
            }))
        );
        assert_eq!(receiver.buf.len(), 0);
    }
}
