//! The RFC 6455 state machine, sans-IO: bytes in, events and bytes out.

use bytes::{Buf, Bytes, BytesMut};

use crate::{
    close::CloseCode,
    config::{Config, Role},
    decoder::{Decoded, FrameDecoder},
    encoder::{FrameEncoder, MaskSource, OsRandomMask},
    error::{ProtocolError, SendError},
    frame::{FrameHeader, OpCode, Status, MAX_CONTROL_PAYLOAD},
    ingest::Ingest,
    message::{Closed, Event, Initiator, Message, Text},
};

/// Where a connection is in its life (RFC 6455 §7).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's; incoming data is
    /// discarded, control frames are still read.
    CloseSent,
    /// The close handshake finished, or the connection failed. Nothing more is
    /// read or sent; write out [`Connection::take_output`] and close the socket.
    Closed,
}

/// The kind of the fragmented message being received.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// A WebSocket connection without the socket.
///
/// Feed it the bytes you read ([`receive`](Self::receive) or
/// [`read_buf`](Self::read_buf)), pull [`next_event`](Self::next_event) until
/// it returns `None`, and write out [`take_output`](Self::take_output). Pongs
/// and close replies are queued in the output automatically.
///
/// ```
/// use wsframe::{Config, Connection, Event, Message, Role};
///
/// let mut server = Connection::new(Role::Server, Config::default());
/// let mut client = Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [1, 2, 3, 4]));
///
/// client.send(Message::from("hello")).unwrap();
/// server.receive(&client.take_output());
/// match server.next_event() {
///     Some(Event::Message(Message::Text(text))) => assert_eq!(text.as_str(), "hello"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    read_buf: BytesMut,
    /// The first pass over incoming bytes: payloads unmasked and text
    /// validated as they are copied in.
    ingest: Ingest,
    /// How much of `read_buf` the first pass has seen; bytes past it were
    /// put there through [`read_buf`](Self::read_buf).
    ingested_len: usize,
    /// Stream position of the header of the frame whose payload is arriving.
    frame_start: u64,
    output: BytesMut,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    /// The data message being received, if its first frame has arrived.
    receiving: Option<Kind>,
    /// Its declared length so far, for the message size limit.
    received_len: u64,
    /// Streaming mode: bytes of a code point cut at a frame boundary.
    text_carry: BytesMut,
    /// The kind of the fragmented message we are sending, if any.
    sending: Option<Kind>,
}

impl Connection {
    /// A connection for `role`; a client masks with keys from the OS.
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_mask_source(role, config, Box::new(OsRandomMask))
    }

    /// A connection whose masking keys (client role) come from `masks`: a
    /// deterministic source makes tests and fuzzing reproducible.
    pub fn with_mask_source(role: Role, config: Config, masks: Box<dyn MaskSource>) -> Self {
        Self {
            role,
            config,
            state: State::Open,
            read_buf: BytesMut::new(),
            ingest: Ingest::new(role, &config),
            ingested_len: 0,
            frame_start: 0,
            output: BytesMut::new(),
            decoder: FrameDecoder::for_unmasked_payloads(role, config.frame_limit()),
            encoder: FrameEncoder::new(role, masks),
            receiving: None,
            received_len: 0,
            text_carry: BytesMut::new(),
            sending: None,
        }
    }

    /// Our role.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// Where the connection is in its life.
    pub const fn state(&self) -> State {
        self.state
    }

    /// Appends bytes read from the peer. Ignored once the connection is closed.
    ///
    /// The copy is also the unmasking pass, and text is validated in it:
    /// each payload byte is touched once on its way in.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.state != State::Closed {
            self.catch_up();
            self.ingest.append(&mut self.read_buf, bytes);
            self.ingested_len = self.read_buf.len();
        }
    }

    /// The buffer incoming bytes go into, for reading into it directly
    /// (for example with `bytes::BufMut` and a socket). Only append to it:
    /// the bytes already there are the connection's. Bytes appended after
    /// the connection closed are ignored.
    ///
    /// Appended bytes are unmasked and validated in place by the next call
    /// to [`next_event`](Self::next_event) (payloads of fragments and of
    /// large messages are then moved into their message's own buffer);
    /// [`receive`](Self::receive) does the same work in the copy it makes
    /// anyway.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Runs the first pass over bytes appended through `read_buf`.
    fn catch_up(&mut self) {
        self.ingest.catch_up(&mut self.read_buf, self.ingested_len);
        self.ingested_len = self.read_buf.len();
    }

    /// Position of the first byte in `read_buf` (all of it ingested), as
    /// the first pass counts them.
    fn front(&self) -> u64 {
        self.ingest.end() - self.read_buf.len() as u64
    }

    /// Bytes of received data held in memory: unparsed input plus the parts
    /// of messages received so far. After [`next_event`](Self::next_event)
    /// returns `None` it is at most the frame size limit plus a header, plus
    /// the message size limit (nothing of the message in streaming mode).
    pub fn buffered_len(&self) -> usize {
        self.read_buf.len() + self.ingest.assembled_len() + self.text_carry.len()
    }

    /// Whether bytes are waiting to be written to the peer.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Takes the bytes to write to the peer.
    pub fn take_output(&mut self) -> BytesMut {
        self.output.split()
    }

    /// The bytes waiting to be written to the peer, left in place: write
    /// what the socket takes, then [`consume_output`](Self::consume_output)
    /// that many. Unlike [`take_output`](Self::take_output) this keeps one
    /// output buffer for the life of the connection (no buffer changes hands
    /// per write), and a partial write of a non-blocking socket needs no
    /// buffer of the caller's own.
    ///
    /// ```
    /// use wsframe::{Config, Connection, Message, Role};
    ///
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// conn.send(Message::from("hi")).unwrap();
    /// let mut socket = Vec::new();
    /// while conn.has_output() {
    ///     // A socket that takes one byte a call, as a full one may.
    ///     let written = conn.pending_output()[..1].len();
    ///     socket.extend_from_slice(&conn.pending_output()[..written]);
    ///     conn.consume_output(written);
    /// }
    /// assert_eq!(socket, [0x81, 2, b'h', b'i']);
    /// ```
    pub fn pending_output(&self) -> &[u8] {
        &self.output
    }

    /// Drops the first `written` bytes of
    /// [`pending_output`](Self::pending_output), the ones the socket took.
    ///
    /// # Panics
    ///
    /// If `written` is more than `pending_output().len()`: that would drop
    /// bytes that were never written, a bug in the caller's loop.
    pub fn consume_output(&mut self, written: usize) {
        assert!(
            written <= self.output.len(),
            "consume_output({written}) with only {} bytes pending",
            self.output.len()
        );
        if written == self.output.len() {
            // All written: start over at the front of the same allocation.
            self.output.clear();
        } else {
            self.output.advance(written);
        }
    }

    /// The next event from the bytes received so far, or `None` when more
    /// bytes are needed (or the connection is closed).
    ///
    /// Call it until it returns `None` after every [`receive`](Self::receive):
    /// a text message's bytes are validated as they arrive, so invalid UTF-8
    /// is reported (and the 1007 close queued) by the call that sees it.
    pub fn next_event(&mut self) -> Option<Event> {
        if self.state == State::Closed {
            return None;
        }
        self.catch_up();
        let event = self.decode_event();
        self.ingested_len = self.read_buf.len();
        event
    }

    fn decode_event(&mut self) -> Option<Event> {
        while self.state != State::Closed {
            let at = self.front();
            if let Some(event) = self.single_frame_message(at) {
                return Some(event);
            }
            let step = match self.assembled_frame(at) {
                Assembled::Done(step) => step,
                Assembled::Arriving => return None,
                Assembled::NotOne => match self.decoder.decode(&mut self.read_buf) {
                    Ok(None) => return None,
                    Ok(Some(Decoded::Frame(header, payload))) => {
                        self.on_frame(&header, payload, at)
                    }
                    Ok(Some(Decoded::Header(header))) => {
                        self.frame_start = at;
                        self.on_header(&header).map(|()| None)
                    }
                    Ok(Some(Decoded::Payload { new, complete })) => self.on_payload(new, complete),
                    Err(err) => Err(err),
                },
            };
            match step {
                Ok(None) => {}
                Ok(Some(event)) => return Some(event),
                Err(err) => return Some(self.fail(err)),
            }
        }
        None
    }

    /// The fast path for the commonest frame: a whole message in one frame
    /// at `at`, all of it here, that the first pass has already checked
    /// (header rules, masking, frame limit, UTF-8), arriving while no other
    /// message is open. Any other case, including one that must fail, takes
    /// the general path.
    fn single_frame_message(&mut self, at: u64) -> Option<Event> {
        if !self.ingest.is_checked_frame_at(at)
            || self.state != State::Open
            || self.receiving.is_some()
            || self.config.is_streaming()
            || self.decoder.current().is_some()
        {
            return None;
        }
        let [first, second, ..] = self.read_buf[..] else {
            return None;
        };
        let kind = match first & 0x0F {
            0x1 => Kind::Text,
            0x2 => Kind::Binary,
            _ => return None,
        };
        // The first pass checked the header (minimal length encoding, the
        // frame limit) and took the whole frame in: it is all in the buffer.
        let (payload_len, mut header_len) = match second & 0x7F {
            126 => (
                u16::from_be_bytes([self.read_buf[2], self.read_buf[3]]) as u64,
                4,
            ),
            127 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&self.read_buf[2..10]);
                (u64::from_be_bytes(len), 10)
            }
            short => (u64::from(short), 2),
        };
        if second & 0x80 != 0 {
            header_len += 4;
        }
        let invalid_here =
            kind == Kind::Text && self.ingest.invalid().is_some_and(|i| i.frame == at);
        if invalid_here || payload_len > self.config.message_limit() {
            return None;
        }
        // A frame taken in whole is in memory, so its length fits a usize.
        let mut frame = self.read_buf.split_to(header_len + payload_len as usize);
        frame.advance(header_len);
        Some(Event::Message(self.message(kind, frame.freeze())))
    }

    /// A frame whose payload the first pass put straight into its message's
    /// own buffer (a fragment, or a large whole message), so that only its
    /// header, at `at`, is in the read buffer. Taken once its payload is all
    /// in, or at once if the payload showed invalid text.
    fn assembled_frame(&mut self, at: u64) -> Assembled {
        if self.decoder.current().is_some() {
            return Assembled::NotOne;
        }
        let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(&self.read_buf) else {
            return Assembled::NotOne;
        };
        if !self.ingest.assembled_here(&header, at) {
            return Assembled::NotOne;
        }
        let invalid_here = self.ingest.invalid().is_some_and(|i| i.frame == at);
        if self.ingest.is_arriving(at) && !invalid_here {
            return Assembled::Arriving;
        }
        self.read_buf.advance(header_len);
        Assembled::Done(self.on_assembled_frame(&header, at))
    }

    fn on_assembled_frame(
        &mut self,
        header: &FrameHeader,
        at: u64,
    ) -> Result<Option<Event>, ProtocolError> {
        self.on_header(header)?;
        if self.state == State::CloseSent {
            if header.fin {
                self.ingest.take_message(at);
                self.end_message();
            }
            return Ok(None);
        }
        if self.receiving == Some(Kind::Text) {
            // All of the payload that has arrived was validated on its way
            // in: whatever the first pass found in it.
            self.text_verdict(at, u64::MAX)?;
        }
        if !header.fin {
            return Ok(None);
        }
        let kind = self.end_message_kind();
        let bytes = self.ingest.take_message(at).freeze();
        Ok(Some(Event::Message(self.message(kind, bytes))))
    }

    /// Checks a new frame against the message state (§5.4) and the message
    /// size limit, before its payload is read.
    fn on_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        let kind = match header.opcode {
            OpCode::Text => Kind::Text,
            OpCode::Binary => Kind::Binary,
            OpCode::Continuation => {
                // §5.4: a continuation belongs to an open fragmented message.
                self.receiving
                    .ok_or(ProtocolError::UnexpectedContinuation)?
            }
            _ => return Ok(()),
        };
        if header.opcode != OpCode::Continuation {
            // §5.4: "fragments of one message MUST NOT be interleaved".
            if self.receiving.is_some() {
                return Err(ProtocolError::ExpectedContinuation);
            }
            self.receiving = Some(kind);
            self.received_len = 0;
        }
        // §10.4: the message limit, against the running total plus this frame.
        let declared = self.received_len.saturating_add(header.payload_len);
        if declared > self.config.message_limit() {
            return Err(ProtocolError::MessageTooBig {
                declared,
                limit: self.config.message_limit(),
            });
        }
        self.received_len = declared;
        Ok(())
    }

    /// A whole frame at once: the fast path for every frame that arrived
    /// with its payload.
    fn on_frame(
        &mut self,
        header: &FrameHeader,
        payload: BytesMut,
        frame_start: u64,
    ) -> Result<Option<Event>, ProtocolError> {
        self.on_header(header)?;
        if header.opcode.is_control() {
            return self.on_control(header.opcode, payload.freeze());
        }
        if self.state == State::CloseSent {
            if header.fin {
                self.end_message();
            }
            return Ok(None);
        }
        if self.receiving == Some(Kind::Text) {
            // The whole frame is here: whatever the first pass found in it.
            self.text_verdict(frame_start, u64::MAX)?;
        }
        self.deliver(payload, header.fin)
    }

    /// More payload of a frame that is arriving in pieces.
    fn on_payload(
        &mut self,
        new: std::ops::Range<usize>,
        complete: bool,
    ) -> Result<Option<Event>, ProtocolError> {
        let header = *self.decoder.current().expect("payload without a frame");
        if header.opcode.is_control() {
            if !complete {
                return Ok(None);
            }
            let len = self.decoder.unmasked();
            let payload = self.decoder.take(&mut self.read_buf, len).freeze();
            return self.on_control(header.opcode, payload);
        }
        let last = complete && header.fin;
        if self.state == State::CloseSent {
            let len = self.decoder.unmasked();
            self.decoder.take(&mut self.read_buf, len);
            if last {
                self.end_message();
            }
            return Ok(None);
        }
        if self.receiving == Some(Kind::Text) {
            // §8.1 and §5.6: fail as soon as the text stops being UTF-8, even
            // in the middle of a frame.
            self.text_verdict(self.frame_start, self.front() + new.end as u64)?;
        }
        if !complete && !self.config.is_streaming() {
            return Ok(None);
        }
        let len = self.decoder.unmasked();
        let payload = self.decoder.take(&mut self.read_buf, len);
        self.deliver(payload, last)
    }

    /// The first pass's verdict on the text of the frame whose header is at
    /// stream position `frame`, once its bytes up to `read_to` are read.
    fn text_verdict(&self, frame: u64, read_to: u64) -> Result<(), ProtocolError> {
        match self.ingest.invalid() {
            Some(invalid) if invalid.frame == frame && invalid.seen_by <= read_to => {
                Err(ProtocolError::InvalidUtf8 {
                    valid_up_to: invalid.valid_up_to,
                })
            }
            _ => Ok(()),
        }
    }

    /// Hands validated payload on: as a piece in streaming mode, else as
    /// the message it is.
    fn deliver(&mut self, payload: BytesMut, last: bool) -> Result<Option<Event>, ProtocolError> {
        if self.config.is_streaming() {
            return self.stream_piece(payload, last);
        }
        // Without streaming, the first pass assembles fragments and
        // `assembled_frame` takes them: a data frame that comes this way is
        // a whole message. (A fragment would come only if that pass
        // stopped at it, and it stops only where the decoder or `on_header`
        // fails the connection first; the fuzz targets check this.)
        debug_assert!(last, "a fragment the first pass did not assemble");
        let kind = self.end_message_kind();
        Ok(Some(Event::Message(self.message(kind, payload.freeze()))))
    }

    /// Streaming mode: hands out every payload byte that has arrived, keeping
    /// back only the bytes of a code point that is not complete yet.
    fn stream_piece(
        &mut self,
        mut piece: BytesMut,
        last: bool,
    ) -> Result<Option<Event>, ProtocolError> {
        let kind = self.receiving.expect("data frame without a message");
        if kind == Kind::Text {
            if !self.text_carry.is_empty() {
                let mut joined = std::mem::take(&mut self.text_carry);
                joined.extend_from_slice(&piece);
                piece = joined;
            }
            // The piece starts on a code point and is valid so far: keep
            // back a code point its end cuts until it is whole.
            let keep = utf8stream::unfinished_tail_len(&piece);
            self.text_carry = piece.split_off(piece.len() - keep);
        }
        if last {
            self.end_message_kind();
        } else if piece.is_empty() {
            return Ok(None);
        }
        let data = self.message(kind, piece.freeze());
        Ok(Some(Event::Chunk { data, last }))
    }

    /// Ends the message being received. (A text message that ends inside a
    /// code point was reported by the first pass against its last frame.)
    fn end_message_kind(&mut self) -> Kind {
        let kind = self.receiving.expect("data frame without a message");
        self.end_message();
        kind
    }

    fn end_message(&mut self) {
        self.receiving = None;
        self.received_len = 0;
    }

    fn message(&self, kind: Kind, bytes: Bytes) -> Message {
        match kind {
            Kind::Text => Message::Text(Text::from_validated(bytes)),
            Kind::Binary => Message::Binary(bytes),
        }
    }

    fn on_control(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
    ) -> Result<Option<Event>, ProtocolError> {
        match opcode {
            OpCode::Ping => {
                // §5.5.2: answer with a pong carrying the same payload; none
                // after our close frame (§5.5.1: we are done sending).
                if self.config.answers_pings() && self.state == State::Open {
                    self.encoder
                        .encode(OpCode::Pong, true, &payload, &mut self.output);
                }
                Ok(Some(Event::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Event::Pong(payload))),
            OpCode::Close => self.on_close(&payload).map(Some),
            _ => unreachable!("data opcodes are not control frames"),
        }
    }

    /// §5.5.1 and §7.1.5: a close frame's payload is empty or a sendable code
    /// followed by a UTF-8 reason.
    fn on_close(&mut self, payload: &[u8]) -> Result<Event, ProtocolError> {
        let (code, reason) = match payload {
            [] => (CloseCode::NO_STATUS_RECEIVED, ""),
            [_] => return Err(ProtocolError::CloseFrameTooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason =
                    utf8stream::validate(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
                (code, reason)
            }
        };
        let initiator = match self.state {
            State::Open => {
                // §5.5.1: answer with a close frame, echoing the status code.
                let echo = if payload.is_empty() {
                    CloseCode::NORMAL
                } else {
                    code
                };
                self.write_close(echo, "");
                Initiator::Peer
            }
            _ => Initiator::Local,
        };
        self.shut();
        Ok(Event::Closed(Box::new(Closed {
            code,
            reason: reason.to_owned(),
            initiator,
            error: None,
        })))
    }

    /// _Fail the WebSocket Connection_ (§7.1.7): queue a close frame with the
    /// error's code, stop reading, and report why.
    fn fail(&mut self, err: ProtocolError) -> Event {
        let reason = err.to_string();
        if self.state == State::Open {
            self.write_close(err.close_code(), truncate_reason(&reason));
        }
        self.shut();
        Event::Closed(Box::new(Closed {
            code: err.close_code(),
            reason,
            initiator: Initiator::Local,
            error: Some(err),
        }))
    }

    fn shut(&mut self) {
        self.state = State::Closed;
        self.read_buf = BytesMut::new();
        self.ingested_len = 0;
        self.ingest.discard_messages();
        self.text_carry = BytesMut::new();
    }

    fn write_close(&mut self, code: CloseCode, reason: &str) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&code.0.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.encoder.encode(
            OpCode::Close,
            true,
            &payload[..2 + reason.len()],
            &mut self.output,
        );
    }

    /// Queues a whole message as one frame.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] after our close frame, and
    /// [`SendError::FragmentOutOfOrder`] while a fragmented message is being
    /// sent with [`send_fragment`](Self::send_fragment).
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        if self.sending.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        self.send_fragment(message, true)
    }

    /// Queues the header of `message` as one frame and returns its payload,
    /// to be written right after [`take_output`](Self::take_output): the
    /// same shared bytes for a server, a masked copy for a client. Writing
    /// the two with a vectored write sends a large message without copying
    /// it into the output buffer.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_split(&mut self, message: Message) -> Result<Bytes, SendError> {
        if self.sending.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.into_bytes()),
            Message::Binary(bytes) => (OpCode::Binary, bytes),
        };
        Ok(self
            .encoder
            .encode_split(opcode, true, payload, &mut self.output))
    }

    /// Queues one fragment of a message (§5.4): the first call opens the
    /// message with the fragment's kind, later calls must be of the same kind,
    /// and `fin` ends it. Control frames may be sent in between.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] after our close frame, and
    /// [`SendError::FragmentOutOfOrder`] if the kind differs from the open
    /// message's.
    pub fn send_fragment(&mut self, fragment: Message, fin: bool) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        let kind = if fragment.is_text() {
            Kind::Text
        } else {
            Kind::Binary
        };
        let opcode = match self.sending {
            None if kind == Kind::Text => OpCode::Text,
            None => OpCode::Binary,
            Some(open) if open == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::FragmentOutOfOrder),
        };
        self.encoder
            .encode(opcode, fin, fragment.as_bytes(), &mut self.output);
        self.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Queues a ping.
    ///
    /// # Errors
    ///
    /// [`SendError::ControlPayloadTooLong`] over 125 bytes, and
    /// [`SendError::Closed`] after our close frame.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (a unidirectional heartbeat, §5.5.3).
    ///
    /// # Errors
    ///
    /// As for [`ping`](Self::ping).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.encoder.encode(opcode, true, payload, &mut self.output);
        Ok(())
    }

    /// Starts the close handshake (§7.1.2): queues a close frame; then only
    /// control frames and the peer's close are read, and the
    /// [`Event::Closed`] comes when the peer answers.
    ///
    /// # Errors
    ///
    /// [`SendError::UnsendableCloseCode`] for a code that may not go on the
    /// wire (1005, 1006, 1015, ...), [`SendError::ControlPayloadTooLong`] for a
    /// reason over 123 bytes, [`SendError::Closed`] if a close was already
    /// sent.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        if !code.is_sendable() {
            return Err(SendError::UnsendableCloseCode(code.0));
        }
        if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
            return Err(SendError::ControlPayloadTooLong(reason.len() + 2));
        }
        self.write_close(code, reason);
        self.state = State::CloseSent;
        Ok(())
    }
}

/// What [`Connection::assembled_frame`] found at the front of the buffer.
enum Assembled {
    /// Not an assembled frame: the decoder's turn.
    NotOne,
    /// One whose payload is still arriving.
    Arriving,
    /// One, taken.
    Done(Result<Option<Event>, ProtocolError>),
}

/// A failure's reason cut to what fits in a close frame (123 bytes), on a
/// character boundary.
fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
