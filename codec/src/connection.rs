//! The RFC 6455 state machine, sans-IO: bytes in, events and bytes out.
//!
//! Only the connection's life is here: Open, CloseSent, Closed; the close
//! handshake; failing the connection; answering control frames. Frames and
//! messages come from the receive pipeline ([`crate::recv`]) as
//! [`Inbound`] items, and go out through the [`Sender`].

use std::{io::IoSlice, time::Instant};

use bytes::{Bytes, BytesMut};

use crate::{
    close::CloseCode,
    config::{Config, Role},
    diagnosis::InvalidUtf8,
    error::{ProtocolError, SendError},
    ext::Extensions,
    frame::{OpCode, MAX_CONTROL_PAYLOAD},
    message::{Closed, Event, Initiator, Message},
    recv::{Inbound, Receiver},
    send::{FrameEncoder, MaskSource, OsRandomMask, Sender},
    timers::{Expired, Timers},
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
    /// (After an idle timeout, [`Connection::next_event`] still hands out
    /// what the bytes received before it hold, then the close.)
    Closed,
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
    receiver: Receiver,
    sender: Sender,
    timers: Timers,
    /// The length of the input buffer when [`read_buf`](Self::read_buf)
    /// handed it out: a longer one means bytes arrived.
    read_mark: Option<usize>,
    /// The close a timer caused, for the next [`next_event`](Self::next_event).
    timed_out: Option<Event>,
    /// The idle timeout closed the connection with received bytes not read
    /// yet: they arrived in time, so `next_event` hands out the events they
    /// hold before `timed_out` (see [`idle_drain_next`](Self::idle_drain_next)).
    idle_drain: bool,
    /// The read buffer handed out once an idle timeout closed the
    /// connection with bytes in hand: bytes put there are ignored, and
    /// never join those, which the drain still reads. Boxed, and made only
    /// then: a connection carries a pointer for it, not a buffer.
    ignored: Option<Box<BytesMut>>,
    /// The close timeout ran out with received bytes not read yet: the
    /// peer's close may be among them, so they are read first, and the
    /// timeout closes only if they hold none.
    close_expired: bool,
}

impl Connection {
    /// A connection for `role`; a client masks with keys from the OS.
    ///
    /// It never compresses, whatever `Config::deflate` says:
    /// permessage-deflate is on only where the handshake negotiated it,
    /// and such a connection is made with `Connection::with_deflate`.
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_mask_source(role, config, Box::new(OsRandomMask))
    }

    /// A connection whose masking keys (client role) come from `masks`: a
    /// deterministic source makes tests and fuzzing reproducible.
    pub fn with_mask_source(role: Role, config: Config, masks: Box<dyn MaskSource>) -> Self {
        Self::with_extensions(role, config, masks, Extensions::none())
    }

    /// A connection with permessage-deflate (RFC 7692) as the handshake
    /// negotiated it ([`DeflateConfig::accept`](crate::DeflateConfig::accept)
    /// on a server, [`DeflateConfig::check_response`](crate::DeflateConfig::check_response)
    /// on a client), or without it for `None`. RSV1 marks a compressed
    /// message; compressed messages count their inflated size against the
    /// message limit. The threshold and level come from
    /// [`Config::deflate`] (defaults if it is off).
    #[cfg(feature = "deflate")]
    pub fn with_deflate(
        role: Role,
        config: Config,
        negotiated: Option<crate::DeflateParams>,
    ) -> Self {
        Self::with_deflate_and_mask_source(role, config, negotiated, Box::new(OsRandomMask))
    }

    /// As [`with_deflate`](Self::with_deflate) (permessage-deflate, RFC
    /// 7692, as the handshake negotiated it, or none for `None`), with
    /// masking keys (client role) from `masks`, as
    /// [`with_mask_source`](Self::with_mask_source):
    /// with a deterministic source, a client's output, compressed messages
    /// included, is the same bytes on every run (tests, fuzzing, replay).
    /// RFC 6455 §5.3 wants unpredictable keys on a real connection: use
    /// [`OsRandomMask`] there.
    ///
    /// ```
    /// use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Message, Role};
    ///
    /// let params = DeflateParams {
    ///     server_no_context_takeover: false,
    ///     client_no_context_takeover: false,
    ///     server_max_window_bits: 15,
    ///     client_max_window_bits: 15,
    /// };
    /// let config = Config::builder().deflate(Some(DeflateConfig::default().threshold(0))).build();
    /// let run = || {
    ///     let mut client = Connection::with_deflate_and_mask_source(
    ///         Role::Client, config, Some(params), Box::new(|| [1, 2, 3, 4]),
    ///     );
    ///     client.send(Message::from("hello hello hello")).unwrap();
    ///     client.take_output()
    /// };
    /// let wire = run();
    /// assert_eq!(wire[0], 0x80 | 0x40 | 0x1, "FIN, RSV1 (compressed), text");
    /// assert_eq!(&wire[2..6], [1, 2, 3, 4], "the key from the source");
    /// assert_eq!(run(), wire);
    /// ```
    #[cfg(feature = "deflate")]
    pub fn with_deflate_and_mask_source(
        role: Role,
        config: Config,
        negotiated: Option<crate::DeflateParams>,
        masks: Box<dyn MaskSource>,
    ) -> Self {
        let extensions = match negotiated {
            Some(params) => {
                Extensions::deflate(params, role, &config.deflate().unwrap_or_default())
            }
            None => Extensions::none(),
        };
        Self::with_extensions(role, config, masks, extensions)
    }

    /// A connection with the extensions the handshake negotiated.
    pub(crate) fn with_extensions(
        role: Role,
        config: Config,
        masks: Box<dyn MaskSource>,
        extensions: Extensions,
    ) -> Self {
        let (rsv, inbound, outbound) = extensions.split();
        Self {
            role,
            config,
            state: State::Open,
            receiver: Receiver::new(role, &config, rsv, inbound),
            sender: Sender::new(
                FrameEncoder::new(role, masks),
                outbound,
                config.max_output_buffer(),
                config.max_outgoing_frame_size(),
            ),
            timers: Timers::default(),
            read_mark: None,
            timed_out: None,
            idle_drain: false,
            ignored: None,
            close_expired: false,
        }
    }

    /// Our role.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The limits and switches it was made with.
    pub const fn config(&self) -> &Config {
        &self.config
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
        if self.state != State::Closed && !bytes.is_empty() {
            self.receiver.receive(bytes);
            self.timers.on_received(&self.config, self.state);
        }
    }

    /// The buffer incoming bytes go into, for reading into it directly
    /// (for example with `bytes::BufMut` and a socket). Only append to it:
    /// the bytes already there are the connection's. Bytes appended after
    /// the connection closed are ignored, and dropped by the next call.
    ///
    /// Appended bytes are unmasked and validated in place by the next call
    /// to [`next_event`](Self::next_event) (payloads of fragments are then
    /// moved into their message's own buffer); [`receive`](Self::receive)
    /// does the same work in the copy it makes anyway.
    ///
    /// With `std::io::Read`, which reads into initialized bytes: `resize`
    /// the buffer by [`prepare_read`](Self::prepare_read)'s limit, read
    /// into that new tail, then `truncate` it to the bytes the read
    /// returned (none on an error or a timeout), before any other call.
    #[inline]
    pub fn read_buf(&mut self) -> &mut BytesMut {
        self.note_appended();
        if self.state == State::Closed {
            return self.ignored_read_buf();
        }
        let buf = self.receiver.read_buf();
        self.read_mark = Some(buf.len());
        buf
    }

    /// [`read_buf`](Self::read_buf) once closed: after an idle timeout with
    /// bytes in hand, a buffer apart from the receiver's, so that bytes
    /// read after it never join those, which
    /// [`next_event`](Self::next_event) still reads. Emptied at each call:
    /// a caller that goes on reading after the close holds one read's
    /// bytes at most, not all of them.
    #[cold]
    #[inline(never)]
    fn ignored_read_buf(&mut self) -> &mut BytesMut {
        self.read_mark = None;
        let buf = match &mut self.ignored {
            Some(ignored) => ignored,
            None => self.receiver.read_buf(),
        };
        buf.clear();
        buf
    }

    /// How much room [`read_buf`](Self::read_buf) should have for the next
    /// read, in bytes: the rest of the frame being read when its payload is
    /// handed out where it lands (a whole message read in place, returned
    /// as a slice of the read buffer, and control frames), not counting
    /// bytes already appended; 0 when no such frame is being read, or its
    /// header is not complete, and any read size does.
    ///
    /// The value comes from a header that passed the frame limit, so it is
    /// at most [`Config::max_frame_size`] (RFC 6455 §5.2: the payload
    /// length). Reserving it before reading lets a large message be read
    /// straight into the buffer it is handed out in: one allocation, no
    /// regrowth that moves what arrived. The cost is that a peer's header
    /// alone makes the caller reserve up to the frame limit (the pages are
    /// touched only as bytes arrive); the connection itself reserves
    /// nothing on a header's word.
    ///
    /// ```
    /// use wsframe::{Config, Connection, Event, Message, Role};
    ///
    /// let mut client = Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [1, 2, 3, 4]));
    /// client.send(Message::from(vec![7; 100_000])).unwrap();
    /// let wire = client.take_output();
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// assert_eq!(server.read_hint(), 0, "no header yet");
    /// server.read_buf().extend_from_slice(&wire[..4096]);
    /// assert!(server.next_event().is_none());
    /// // 14 bytes of header and 4082 of payload are in.
    /// assert_eq!(server.read_hint(), 100_000 - 4082);
    /// let buf = server.read_buf();
    /// buf.reserve(100_000 - 4082);
    /// buf.extend_from_slice(&wire[4096..]);
    /// assert!(matches!(server.next_event(), Some(Event::Message(m)) if m.as_bytes().len() == 100_000));
    /// assert_eq!(server.read_hint(), 0);
    /// ```
    pub fn read_hint(&self) -> usize {
        match self.state {
            State::Closed => 0,
            _ => self.receiver.read_hint(),
        }
    }

    /// Makes room in [`read_buf`](Self::read_buf) for the next read from
    /// the peer, and returns how many bytes that read should take at most
    /// (never more than the room there is, never 0): the tokio wrapper's way
    /// to read, for callers that read into `read_buf` themselves. `chunk` is
    /// the read size the caller wants room for, in bytes; while no frame is
    /// part-read, that is what is reserved at most. For a frame part-read,
    /// it is the rest of that frame, as the next paragraph says.
    ///
    /// Once everything read has been handed out, reading starts over at the
    /// front of the buffer's allocation if no [`Message`] holds it any
    /// more (no allocation); with less room than
    /// [`read_hint`](Self::read_hint) (or, unless a large message is being
    /// read, a quarter of `chunk`), room for `read_hint` bytes (or `chunk`)
    /// is reserved at once, so the rest of a frame is made room for only
    /// once and never moved by a later reserve. So this reserves
    /// on a header's word, as `read_hint` documents: at most
    /// [`Config::max_frame_size`] (RFC 6455 §5.2).
    ///
    /// The limit is the room, except while a large whole message (32 KiB or
    /// more) is read in place: then it is the rest of its frame, so that
    /// the read ends with the message and the next frame starts at the
    /// front of a buffer with room for it. A large message is then read
    /// straight into the buffer it is handed out in, never moved.
    ///
    /// ```
    /// use wsframe::{Config, Connection, Event, Message, Role};
    ///
    /// let mut client = Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [1, 2, 3, 4]));
    /// for _ in 0..2 {
    ///     client.send(Message::from(vec![7; 40_000])).unwrap();
    /// }
    /// let wire = client.take_output();
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let (mut read, mut messages) = (0, 0);
    /// while read < wire.len() {
    ///     let limit = server.prepare_read(16_384);
    ///     // A socket read of up to 16 KiB into the room, up to the limit.
    ///     let n = limit.min(16_384).min(wire.len() - read);
    ///     server.read_buf().extend_from_slice(&wire[read..read + n]);
    ///     read += n;
    ///     while let Some(event) = server.next_event() {
    ///         assert!(matches!(event, Event::Message(m) if m.as_bytes().len() == 40_000));
    ///         messages += 1;
    ///         // Each message ended a read: nothing of the next one is here.
    ///         assert!(server.read_buf().is_empty());
    ///     }
    /// }
    /// assert_eq!(messages, 2);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`BytesMut::reserve`]: if `chunk` bytes more than the buffer holds
    /// overflow `isize` (a `chunk` the allocator cannot give aborts).
    #[inline]
    pub fn prepare_read(&mut self, chunk: usize) -> usize {
        self.note_appended();
        match self.state {
            State::Closed => {
                // What is read now is ignored: it goes over what was
                // ignored before, in room made for it as for any read.
                let buf = self.ignored_read_buf();
                buf.reserve(chunk.max(1));
                buf.capacity()
            }
            _ => self.receiver.prepare_read(chunk),
        }
    }

    /// Bytes appended to [`read_buf`](Self::read_buf) since it was handed
    /// out restart the idle clock.
    #[inline]
    fn note_appended(&mut self) {
        if let Some(mark) = self.read_mark {
            if self.receiver.read_buf().len() != mark {
                self.read_mark = None;
                self.timers.on_received(&self.config, self.state);
            }
        }
    }

    /// Tells the connection the time is `now`, and acts on what ran out
    /// (quinn-proto's convention: time is an input, the core reads no clock).
    ///
    /// Call it once when the connection opens (it starts the clocks), when
    /// [`poll_timeout`](Self::poll_timeout)'s instant is reached, and after
    /// receiving bytes or closing (an event that restarts a clock takes the
    /// next `now` as its start; `poll_timeout` returns the last `now` until
    /// then). An earlier `now` than one already given is taken as that one.
    ///
    /// A blocking socket (a thread per connection) drives it with its read
    /// timeout: before each read, the time left until `poll_timeout`'s
    /// instant (`None`: block), at least 1 ms, since `std` refuses a zero
    /// timeout and the instant may have passed; after each read, whether
    /// it brought bytes or timed out, `handle_timeout(Instant::now())`,
    /// then [`next_event`](Self::next_event) until `None` (a timer that
    /// closes the connection leaves its [`Event::Closed`] there).
    ///
    /// # Order with `receive` and `next_event`
    ///
    /// After a read, [`receive`](Self::receive) the bytes (or append them
    /// to [`read_buf`](Self::read_buf)), then call `handle_timeout(now)`,
    /// then [`next_event`](Self::next_event) until `None`. After a timer
    /// fired (the read timed out, nothing came), `handle_timeout(now)`,
    /// then `next_event` until `None`, then write the output out (a
    /// keepalive ping, the idle timeout's close frame). Why:
    /// - Bytes received before a `now` are a sign of life at that `now`.
    ///   The other way round, a `now` at the idle deadline closes the
    ///   connection although the bytes came in time, and they are then
    ///   ignored (the example below shows both).
    /// - A timer that closes the connection (the idle or close timeout)
    ///   leaves its [`Event::Closed`] for `next_event`: called after, it is
    ///   seen in the same turn, before the loop blocks in its next read,
    ///   where, with `poll_timeout` `None` once closed, only the peer
    ///   would wake it. (Called before, the close still happens; only its
    ///   event waits.)
    ///
    /// What can run out (each configured in [`Config`]):
    /// - the ping interval, while open: an empty ping is queued (RFC 6455
    ///   §5.5.2), unless the output is full;
    /// - the idle timeout, while open: a close frame with 1001 (Going Away)
    ///   is queued, the connection is [`State::Closed`] (sends are refused,
    ///   bytes received from now on are ignored), and
    ///   [`next_event`](Self::next_event) returns [`Event::Closed`] with code
    ///   1001 and reason `"idle timeout"`. Received bytes not read yet
    ///   arrived in time (the application was busy, or stopped reading for
    ///   backpressure): if some are in hand, `next_event` first returns
    ///   every event they hold, as it would have in time, and then the
    ///   close; see "Bytes in hand at the idle timeout" below;
    /// - the close timeout, while our close frame waits for the peer's: the
    ///   connection is closed, and the next event is [`Event::Closed`] with
    ///   code 1006 (Abnormal Closure, never sent) and reason `"close timeout"`.
    ///   Received bytes not read yet arrived in time: if some are in hand,
    ///   [`next_event`](Self::next_event) reads them first, and the peer's
    ///   close among them is the answer (the 1006 comes only after them,
    ///   if they hold none; until then the state stays
    ///   [`State::CloseSent`] and `poll_timeout` is `None`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsframe::{CloseCode, Config, Connection, Event, Role, State};
    ///
    /// let config = Config::builder().close_timeout(Some(Duration::from_secs(5))).build();
    /// let mut conn = Connection::new(Role::Server, config);
    /// let start = Instant::now();
    /// conn.handle_timeout(start);
    /// conn.close(CloseCode::NORMAL, "bye").unwrap();
    /// conn.handle_timeout(start);
    /// assert_eq!(conn.poll_timeout(), Some(start + Duration::from_secs(5)));
    /// conn.handle_timeout(start + Duration::from_secs(5));
    /// assert_eq!(conn.state(), State::Closed);
    /// match conn.next_event() {
    ///     Some(Event::Closed(closed)) => assert_eq!(closed.code, CloseCode::ABNORMAL),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    ///
    /// # Bytes in hand at the idle timeout
    ///
    /// The close is decided at the deadline (the peer learns of it from
    /// the 1001 close frame queued then); what was received before it is
    /// handed out after it, each event as it would have been had it been
    /// read in time, but for what the connection sends, since its close
    /// frame already went and nothing follows it:
    /// - messages, pongs, and, in streaming mode, pieces, in order;
    /// - a ping, handed out but not answered. RFC 6455 §5.5.1 forbids only
    ///   data frames after our close frame, and §5.5.2 asks for a pong to
    ///   every ping; the conservative choice is still none, as after
    ///   [`close`](Self::close): the pong would answer a question of
    ///   liveness the close has settled, a peer that has read our close
    ///   need not read further (it may fail on a frame behind it), and a
    ///   server shuts its write side once the close is written (§7.1.1);
    /// - an incomplete frame or message at the end of the bytes in hand is
    ///   dropped: it can never be completed (in streaming mode, its pieces
    ///   that arrived are handed out; the last never comes);
    /// - the peer's close frame: it was sent before our deadline, so the
    ///   peer closed, cleanly: [`Event::Closed`] with its code and reason
    ///   and [`Initiator::Peer`] ends the events (no 1001 event after it),
    ///   our 1001 frame being its answer. What follows it is not read;
    /// - a protocol violation (invalid UTF-8, a bad close frame, any frame
    ///   rule) is reported as in time, [`Event::Closed`] with its code
    ///   (1007, 1002...) and the error, after the events before it; it ends
    ///   the events, and the close frame on the wire stays the 1001.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsframe::{CloseCode, Config, Connection, Event, Message, Role, State};
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_secs(30))).build();
    /// let mut conn = Connection::new(Role::Server, config);
    /// let start = Instant::now();
    /// conn.handle_timeout(start);
    /// // A client's masked "hi", received, and not read: the application is busy.
    /// conn.receive(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    /// conn.handle_timeout(start); // a sign of life at `start`
    /// conn.handle_timeout(start + Duration::from_secs(30)); // then silence
    /// assert_eq!(conn.state(), State::Closed);
    /// assert_eq!(&conn.take_output()[..], b"\x88\x0e\x03\xe9idle timeout");
    /// assert_eq!(conn.next_event(), Some(Event::Message(Message::from("hi"))));
    /// match conn.next_event() {
    ///     Some(Event::Closed(closed)) => assert_eq!(closed.code, CloseCode::GOING_AWAY),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(conn.next_event(), None);
    /// ```
    ///
    /// The order after a read, with a pong that arrived just before the
    /// idle deadline:
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsframe::{Config, Connection, Event, Role, State};
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_secs(30))).build();
    /// let pong = [0x8A, 0x80, 1, 2, 3, 4]; // a client's empty pong, masked
    /// let start = Instant::now();
    /// let deadline = start + Duration::from_secs(30);
    ///
    /// // The bytes, then the time: they came in time, the connection lives.
    /// let mut conn = Connection::new(Role::Server, config);
    /// conn.handle_timeout(start);
    /// conn.receive(&pong);
    /// conn.handle_timeout(deadline);
    /// assert!(matches!(conn.next_event(), Some(Event::Pong(_))));
    /// assert_eq!(conn.state(), State::Open);
    /// assert_eq!(conn.poll_timeout(), Some(deadline + Duration::from_secs(30)));
    ///
    /// // The time, then the bytes: closed at the deadline, the pong ignored.
    /// let mut conn = Connection::new(Role::Server, config);
    /// conn.handle_timeout(start);
    /// conn.handle_timeout(deadline);
    /// conn.receive(&pong);
    /// assert_eq!(conn.state(), State::Closed);
    /// assert!(matches!(conn.next_event(), Some(Event::Closed(_))));
    /// assert!(conn.next_event().is_none());
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.note_appended();
        match self.timers.expire(now, &self.config, self.state) {
            Expired::Nothing => {}
            // A full output means the peer is not reading: a ping would
            // only add to it, and the idle timeout is the cure.
            Expired::Ping => drop(self.sender.control(OpCode::Ping, &[])),
            // The close is decided now, and the peer told now; bytes in
            // hand arrived in time, and `next_event` hands out what they
            // hold before the close.
            Expired::Idle => {
                self.sender.close(CloseCode::GOING_AWAY, IDLE_TIMEOUT);
                if self.receiver.has_unread() {
                    self.idle_drain = true;
                    self.ignored = Some(Box::default());
                    self.state = State::Closed;
                    self.timed_out = Some(timeout_closed(CloseCode::GOING_AWAY, IDLE_TIMEOUT));
                } else {
                    self.close_for_timeout(CloseCode::GOING_AWAY, IDLE_TIMEOUT);
                }
            }
            // Bytes in hand arrived by `now`: the peer's close among
            // them is in time. `next_event` decides once they are read.
            Expired::Close if self.receiver.has_unread() => self.close_expired = true,
            Expired::Close => self.close_for_timeout(CloseCode::ABNORMAL, CLOSE_TIMEOUT),
        }
    }

    fn close_for_timeout(&mut self, code: CloseCode, reason: &str) {
        self.shut();
        self.timed_out = Some(timeout_closed(code, reason));
    }

    /// The instant at which [`handle_timeout`](Self::handle_timeout) has
    /// work next, or `None` when no timer runs (none configured, the
    /// connection closed, the close timeout run out with received bytes
    /// for [`next_event`](Self::next_event) to read first, or
    /// `handle_timeout` never called).
    ///
    /// # Cancel safety
    ///
    /// Not a future (quinn-proto's `poll_timeout`, not `Future::poll`): it
    /// only reads the timers, so calling it or not changes nothing; a
    /// caller's sleep until the instant can be dropped at any point, as
    /// nothing happens until `handle_timeout` is given the time.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Closed, or closed once the bytes in hand are read: no timer left.
        if self.state == State::Closed || self.close_expired {
            return None;
        }
        self.timers.deadline()
    }

    /// Bytes of received data held in memory: input not read yet (with a
    /// streamed compressed message's input waiting for its next pieces),
    /// the message being received, and messages read but not yet returned by
    /// [`next_event`](Self::next_event). After `next_event` returns `None`
    /// it is at most the frame size limit plus a header, plus the message
    /// size limit (nothing of the message in streaming mode). Once closed,
    /// it also counts the bytes last appended to [`read_buf`](Self::read_buf),
    /// which are ignored but held until the next call that reads.
    #[inline]
    pub fn buffered_len(&self) -> usize {
        // After an idle timeout with bytes in hand, the late reads go to a
        // buffer of their own (see `ignored_read_buf`).
        let ignored = self.ignored.as_ref().map_or(0, |buf| buf.len());
        self.receiver.buffered_len() + ignored
    }

    /// [`Config::max_output_buffer`], read where the output's length is:
    /// the wrapper compares the two before every send, and the config's
    /// cache line is then left alone (one miss fewer per message with a
    /// thousand connections).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) const fn output_limit(&self) -> usize {
        self.sender.limit()
    }

    /// Whether a streamed compressed message's input is held for its next
    /// pieces: the events up to its end are one message, not a batch (the
    /// tokio wrapper writes what is queued before the caller works on it).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) const fn holds_streamed_input(&self) -> bool {
        self.receiver.holds_streamed_input()
    }

    /// Whether [`next_event`](Self::next_event) has an event to return
    /// without more bytes from the peer: a timer's close, or a whole frame
    /// in hand. The tokio wrapper writes what is queued once none is, so
    /// that a pong is not held behind a frame the last read cut.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn event_in_hand(&self) -> bool {
        self.timed_out.is_some()
            || (self.state != State::Closed && self.receiver.item_in_hand(self.config.streaming()))
    }

    /// Whether what was received stops inside a frame or a message: a
    /// peer hanging up now cut it (the tokio codec's `decode_eof`).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn mid_frame_or_message(&self) -> bool {
        self.receiver.mid_frame_or_message()
    }

    /// Whether bytes are waiting to be written to the peer.
    pub fn has_output(&self) -> bool {
        self.sender.pending_len() > 0
    }

    /// How many bytes are waiting to be written to the peer, in all (what
    /// [`Config::max_output_buffer`] is compared with).
    pub fn output_len(&self) -> usize {
        self.sender.pending_len()
    }

    /// Takes the bytes to write to the peer, as one buffer. A server's
    /// large payloads, held by reference in the output (see
    /// [`pending_output_vectored`](Self::pending_output_vectored)), are
    /// copied into it.
    pub fn take_output(&mut self) -> BytesMut {
        self.sender.take()
    }

    /// The first run of bytes waiting to be written to the peer, left in
    /// place: write what the socket takes, then
    /// [`consume_output`](Self::consume_output) that many, and ask again
    /// while [`has_output`](Self::has_output). Unlike
    /// [`take_output`](Self::take_output) this keeps one output buffer for
    /// the life of the connection (no buffer changes hands per write), and
    /// a partial write of a non-blocking socket needs no buffer of the
    /// caller's own.
    ///
    /// It is all of the output unless a server queued a large payload
    /// (16 KiB or more, unmasked, not compressed): that payload is held by
    /// reference, the very [`Bytes`] that was sent, and is a run of its
    /// own, so that it is written without being copied; the encoded frames
    /// around it are runs too. [`output_len`](Self::output_len) counts
    /// them all; [`pending_output_vectored`](Self::pending_output_vectored)
    /// gives them all at once, for a vectored write.
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
        self.sender.pending()
    }

    /// All the runs of bytes waiting to be written to the peer, in order,
    /// into `dst` (as many as fit); returns how many it filled. Write them
    /// with one vectored write (`write_vectored`, tokio's
    /// `poll_write_vectored`), then [`consume_output`](Self::consume_output)
    /// the bytes the socket took, which may end inside any run. A server's
    /// large payload is one of the runs, written from the buffer it was
    /// sent in (see [`pending_output`](Self::pending_output)).
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use wsframe::{Config, Connection, Message, Role};
    ///
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// conn.send(Message::from(vec![7u8; 100_000])).unwrap();
    /// conn.ping(b"p").unwrap();
    /// let mut socket = Vec::new();
    /// while conn.has_output() {
    ///     let mut slices = [IoSlice::new(&[]); 8];
    ///     let n = conn.pending_output_vectored(&mut slices);
    ///     // Header, payload (by reference), ping.
    ///     assert!(n <= 3);
    ///     let written = socket.write_vectored(&slices[..n]).unwrap();
    ///     conn.consume_output(written);
    /// }
    /// assert_eq!(socket.len(), 10 + 100_000 + 3);
    /// ```
    pub fn pending_output_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.sender.pending_vectored(dst)
    }

    /// Drops the first `written` bytes of the output, the ones the socket
    /// took: from [`pending_output`](Self::pending_output) and, past it,
    /// from the runs after it (as a vectored write takes them).
    ///
    /// # Panics
    ///
    /// If `written` is more than [`output_len`](Self::output_len): that
    /// would drop bytes that were never written, a bug in the caller's
    /// loop.
    pub fn consume_output(&mut self, written: usize) {
        self.sender.consume(written);
    }

    /// The next event from the bytes received so far, or `None` when more
    /// bytes are needed (or the connection is closed).
    ///
    /// Call it until it returns `None` after every [`receive`](Self::receive):
    /// a text message's bytes are validated as they arrive, so invalid UTF-8
    /// is reported (and the 1007 close queued) by the call that sees it.
    /// A caller may also stop earlier, to apply backpressure (a relay whose
    /// other side's output is full): the bytes not read yet stay in the
    /// connection, more may be received meanwhile, and the next calls go
    /// on where it stopped.
    ///
    /// With timers ([`Config::ping_interval`], [`Config::idle_timeout`],
    /// [`Config::close_timeout`]), call it after
    /// [`handle_timeout`](Self::handle_timeout), which comes after
    /// [`receive`](Self::receive): a timer that closes the connection
    /// leaves its [`Event::Closed`] (1001 `"idle timeout"`, or 1006
    /// `"close timeout"`) to be returned here, after the events of the
    /// bytes in hand, which arrived in time: the close timeout's only if
    /// the peer's close is not among them; the idle timeout's only if
    /// neither the peer's close nor a protocol violation is (its close
    /// frame went at the deadline, so no pong answers a ping among them,
    /// and an incomplete message is dropped: see `handle_timeout`'s "Bytes
    /// in hand at the idle timeout"). Bytes received before the `now`
    /// count as a sign of life at it. See `handle_timeout`'s "Order"
    /// section for the reasons and an example.
    #[inline]
    pub fn next_event(&mut self) -> Option<Event> {
        if self.timed_out.is_none() && !self.receiver.has_unread() {
            // Asked again after the last event, or before the next read:
            // nothing to read, answered without the whole call.
            self.note_appended();
            return self.close_expired_unanswered();
        }
        self.read_event()
    }

    /// The close timeout's event, if it ran out while bytes were in hand
    /// and all of them are now read without the peer's close among them.
    ///
    /// Asked whenever the bytes in hand run out (twice per message in the
    /// tokio wrapper's loop): the common answer, no close timeout pending,
    /// is inlined, the rest out of line.
    #[inline(always)]
    fn close_expired_unanswered(&mut self) -> Option<Event> {
        if !self.close_expired {
            return None;
        }
        self.close_expired_now()
    }

    /// [`close_expired_unanswered`](Self::close_expired_unanswered) once
    /// the close timeout ran out with bytes in hand.
    #[cold]
    #[inline(never)]
    fn close_expired_now(&mut self) -> Option<Event> {
        self.close_expired = false;
        if self.state != State::CloseSent {
            return None;
        }
        self.close_for_timeout(CloseCode::ABNORMAL, CLOSE_TIMEOUT);
        self.timed_out.take()
    }

    /// [`next_event`](Self::next_event) with something to read.
    #[inline]
    fn read_event(&mut self) -> Option<Event> {
        if self.timed_out.is_some() {
            return self.timer_event();
        }
        self.note_appended();
        while self.state != State::Closed {
            let Some(inbound) = self.receiver.poll() else {
                return self.close_expired_unanswered();
            };
            let event = match inbound {
                // The common case, handed straight out.
                Inbound::Message(message) if self.state == State::Open => {
                    return Some(Event::Message(message))
                }
                // §5.5.1: after our close frame, data is not processed.
                Inbound::Message(_) | Inbound::Piece { .. } if self.state == State::CloseSent => {
                    continue
                }
                Inbound::Violation(ProtocolError::InvalidUtf8(_))
                    if self.state == State::CloseSent =>
                {
                    continue
                }
                Inbound::Message(message) => Ok(Event::Message(message)),
                Inbound::Piece { data, last } => Ok(Event::Chunk { data, last }),
                Inbound::Ping(payload) => Ok(self.on_ping(payload)),
                Inbound::Pong(payload) => Ok(Event::Pong(payload)),
                Inbound::Close(payload) => self.on_close(&payload),
                Inbound::Violation(err) => Err(err),
            };
            return Some(event.unwrap_or_else(|err| self.fail(err)));
        }
        None
    }

    /// A timer's close, once the events an idle timeout left in hand are
    /// handed out (one per call).
    #[cold]
    #[inline(never)]
    fn timer_event(&mut self) -> Option<Event> {
        if self.idle_drain {
            if let Some(event) = self.idle_drain_next() {
                return Some(event);
            }
        }
        self.timed_out.take()
    }

    /// The next event the bytes in hand at the idle timeout hold, as it
    /// would have been had they been read in time, but for what the
    /// connection sends: its 1001 close frame went out at the deadline, and
    /// nothing follows it, so a ping gets no pong and a close frame no echo
    /// (see `handle_timeout`'s "Bytes in hand at the idle timeout" for
    /// why). Messages, pieces (streaming
    /// mode), pings and pongs come out in order; the drain ends, with
    /// `None` (the idle timeout's close follows), when the bytes in hand
    /// run out (an incomplete frame or message is dropped), or with the
    /// close that ends it otherwise: the peer's close (it was first: our
    /// 1001 is its answer, and the connection closed cleanly, by the peer)
    /// or a protocol violation (reported as it would have been, its code
    /// differing from the 1001 on the wire).
    fn idle_drain_next(&mut self) -> Option<Event> {
        let end = match self.receiver.poll() {
            Some(Inbound::Message(message)) => return Some(Event::Message(message)),
            Some(Inbound::Piece { data, last }) => return Some(Event::Chunk { data, last }),
            Some(Inbound::Ping(payload)) => return Some(Event::Ping(payload)),
            Some(Inbound::Pong(payload)) => return Some(Event::Pong(payload)),
            Some(Inbound::Close(payload)) => Some(match judge_close(&payload) {
                Ok((code, reason)) => Event::Closed(Box::new(Closed {
                    code,
                    reason: reason.to_owned(),
                    initiator: Initiator::Peer,
                    error: None,
                })),
                Err(err) => self.fail(err),
            }),
            Some(Inbound::Violation(err)) => Some(self.fail(err)),
            None => None,
        };
        self.idle_drain = false;
        self.receiver.close();
        if end.is_some() {
            self.timed_out = None;
        }
        end
    }

    /// §5.5.2: a ping is answered with a pong carrying the same payload;
    /// none after our close frame (§5.5.1: we are done sending). Under the
    /// output limit every ping gets its pong; at or over it, an earlier
    /// answer not yet begun is replaced (§5.5.3: the latest ping may be the
    /// only one answered), so unread pongs never pile up.
    fn on_ping(&mut self, payload: Bytes) -> Event {
        if self.config.auto_pong() && self.state == State::Open {
            self.sender.auto_pong(&payload);
        }
        Event::Ping(payload)
    }

    /// The peer's close frame, judged by [`judge_close`]: answered with
    /// ours while open (§5.5.1), the end of our close handshake after it.
    fn on_close(&mut self, payload: &[u8]) -> Result<Event, ProtocolError> {
        let (code, reason) = judge_close(payload)?;
        let initiator = match self.state {
            State::Open => {
                // §5.5.1: answer with a close frame, echoing the status code.
                let echo = if payload.is_empty() {
                    CloseCode::NORMAL
                } else {
                    code
                };
                self.sender.close(echo, "");
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
            self.sender
                .close(err.close_code(), truncate_reason(&reason));
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
        self.receiver.close();
    }

    /// Queues a whole message as one frame, or as several if its payload
    /// (compressed, where permessage-deflate compressed it) is longer than
    /// [`Config::max_outgoing_frame_size`].
    ///
    /// # Errors
    ///
    /// Checked in this order, nothing queued on any of them:
    /// [`SendError::Closed`] after our close frame;
    /// [`SendError::OutputFull`] while
    /// [`pending_output`](Self::pending_output) holds
    /// [`Config::max_output_buffer`] bytes or more (write some out and
    /// retry); [`SendError::FragmentOutOfOrder`] while a fragmented message
    /// is being sent with [`send_fragment`](Self::send_fragment). A full
    /// output is reported before an open fragmented message.
    #[inline]
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.check_open()?;
        self.sender.message(&message, None)
    }

    /// [`send`](Self::send) into room promised earlier: past the output
    /// limit if an automatic pong or keepalive ping took it since (a
    /// `Sink`'s `start_send` after its `poll_ready`).
    #[cfg(feature = "futures")]
    pub(crate) fn send_in_promised_room(&mut self, message: Message) -> Result<(), SendError> {
        self.check_open()?;
        self.sender
            .past_limit(|sender| sender.message(&message, None))
    }

    /// Queues a whole message as [`send`](Self::send) does, compressed (`compress`) or not
    /// whatever its size, where permessage-deflate (RFC 7692) was
    /// negotiated; without it, the same as [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_compressed(&mut self, message: Message, compress: bool) -> Result<(), SendError> {
        self.check_open()?;
        self.sender.message(&message, Some(compress))
    }

    /// Queues the header of `message` as one frame and returns its payload,
    /// to be written right after all the output
    /// ([`take_output`](Self::take_output)): the same shared bytes for a
    /// server, a masked copy for a client. Take and write the output, then
    /// the payload, before anything else can queue output
    /// ([`next_event`](Self::next_event) with its automatic pongs and close
    /// replies, [`handle_timeout`](Self::handle_timeout), any send): bytes
    /// queued in between would go out inside this frame. [`send`](Self::send) does the
    /// same for a server's large payloads inside the output (see
    /// [`pending_output_vectored`](Self::pending_output_vectored)), where
    /// cancel safety and the output limit cover them. A payload longer
    /// than [`Config::max_outgoing_frame_size`] cannot go as one frame: it
    /// is queued as `send` queues it, and the payload returned is empty
    /// (as for a message permessage-deflate compresses).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_split(&mut self, message: Message) -> Result<Bytes, SendError> {
        self.check_open()?;
        self.sender.message_split(message)
    }

    /// Queues one fragment of a message (§5.4): the first call opens the
    /// message with the fragment's kind, later calls must be of the same kind,
    /// and `fin` ends it. Control frames may be sent in between. A fragment
    /// longer than [`Config::max_outgoing_frame_size`] goes as several
    /// frames, FIN on the last only if `fin`.
    ///
    /// With permessage-deflate, the first fragment decides whether the
    /// whole message is compressed (RSV1 goes on its first frame, RFC 7692
    /// §6.1): by [`DeflateConfig::threshold`](crate::DeflateConfig::threshold)
    /// against that fragment's length. A streaming relay, whose first
    /// pieces are often short, sets `threshold(0)` to compress every
    /// message. Each fragment is flushed as it is sent, a DEFLATE block and
    /// a few bytes of framing apiece: forwarding many tiny pieces to a
    /// compressing peer costs more than joining them first.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] after our close frame, and
    /// [`SendError::FragmentOutOfOrder`] if the kind differs from the open
    /// message's; [`SendError::OutputFull`] as for [`send`](Self::send).
    pub fn send_fragment(&mut self, fragment: Message, fin: bool) -> Result<(), SendError> {
        self.check_open()?;
        self.sender.fragment(&fragment, fin)
    }

    /// Queues a ping.
    ///
    /// # Errors
    ///
    /// [`SendError::ControlPayloadTooLong`] over 125 bytes, and
    /// [`SendError::Closed`] after our close frame, and
    /// [`SendError::OutputFull`] as for [`send`](Self::send).
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
        self.check_open()?;
        self.sender.control(opcode, payload)
    }

    /// §5.5.1: nothing is sent after our close frame.
    fn check_open(&self) -> Result<(), SendError> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(SendError::Closed),
        }
    }

    /// Starts the close handshake (§7.1.2): queues a close frame; then only
    /// control frames and the peer's close are read, and the
    /// [`Event::Closed`] comes when the peer answers.
    ///
    /// It is also the way to abandon a message being sent with
    /// [`send_fragment`](Self::send_fragment): RFC 6455 has no other, and
    /// the peer sees the open message end with the close. The close frame
    /// is queued whatever [`Config::max_output_buffer`] says. Every close
    /// frame we send carries a code: 1005 is refused, so a relay forwarding
    /// a peer's close that had none (reported as 1005) passes 1000 itself.
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
        self.sender.close(code, reason);
        self.state = State::CloseSent;
        self.timers.on_close_sent(&self.config, self.state);
        Ok(())
    }
}

/// The reason of the close an idle timeout sends and reports.
const IDLE_TIMEOUT: &str = "idle timeout";
/// The reason reported when the peer did not answer our close in time.
const CLOSE_TIMEOUT: &str = "close timeout";

/// The close a timer caused, as [`Connection::next_event`] reports it.
fn timeout_closed(code: CloseCode, reason: &str) -> Event {
    Event::Closed(Box::new(Closed {
        code,
        reason: reason.to_owned(),
        initiator: Initiator::Local,
        error: None,
    }))
}

/// §5.5.1 and §7.1.5: a close frame's payload is empty (reported as 1005)
/// or a sendable code followed by a UTF-8 reason.
fn judge_close(payload: &[u8]) -> Result<(CloseCode, &str), ProtocolError> {
    match payload {
        [] => Ok((CloseCode::NO_STATUS_RECEIVED, "")),
        [_] => Err(ProtocolError::CloseFrameTooShort),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            let reason = utf8stream::validate(reason).map_err(|err| {
                ProtocolError::InvalidCloseReason(InvalidUtf8::capture(&[reason], 0, &err, 1))
            })?;
            Ok((code, reason))
        }
    }
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
