//! Which end of the connection we are, and the limits we enforce.

use std::time::Duration;

/// Which end of the connection this is; it decides the masking rules (RFC 6455 §5.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections: requires masked frames, sends unmasked ones.
    Server,
    /// Opens connections: rejects masked frames, masks every frame it sends.
    Client,
}

/// Limits and switches for a [`Connection`](crate::Connection).
///
/// Every limit is checked against the length a frame header *declares*,
/// before a byte of its payload is buffered, so a 14-byte header that declares
/// 2^40 bytes costs nothing and is answered with 1009.
///
/// Built with [`Config::builder`] (or [`Config::default`]); each setting is
/// read back with the getter of the same name, as `tokio_util`'s
/// `LengthDelimitedCodec` does.
///
/// ```
/// use wsframe::Config;
/// let config = Config::builder()
///     .max_frame_size(1 << 20)
///     .max_message_size(4 << 20)
///     .auto_pong(false)
///     .build();
/// assert_eq!(config.max_frame_size(), 1 << 20);
/// assert!(!config.auto_pong());
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    max_frame_size: u64,
    max_message_size: u64,
    auto_pong: bool,
    streaming: bool,
    max_output_buffer: usize,
    max_outgoing_frame_size: u64,
    ping_interval: Option<Duration>,
    idle_timeout: Option<Duration>,
    close_timeout: Option<Duration>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::DeflateConfig>,
}

impl Config {
    /// 16 MiB: larger than any single frame that browsers and common libraries
    /// send by default (they fragment or send whole messages well below it),
    /// small enough that a few hundred connections cannot exhaust a server.
    pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 << 20;
    /// 64 MiB: four maximal frames; a message larger than that should be
    /// received in streaming mode, which never buffers a whole message.
    pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;
    /// 4 MiB: a few round trips of a fast link's worth of unsent bytes; past
    /// it the peer is not reading, and queueing more only grows memory.
    pub const DEFAULT_MAX_OUTPUT_BUFFER: usize = 4 << 20;
    /// 10 s: a peer that answers at all answers a close within a round trip;
    /// ten seconds covers slow mobile links and a busy peer.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

    /// A builder starting from the defaults.
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Self::DEFAULT,
        }
    }

    const DEFAULT: Self = Self {
        max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
        max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
        auto_pong: true,
        streaming: false,
        max_output_buffer: Self::DEFAULT_MAX_OUTPUT_BUFFER,
        max_outgoing_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
        ping_interval: None,
        idle_timeout: None,
        close_timeout: Some(Self::DEFAULT_CLOSE_TIMEOUT),
        #[cfg(feature = "deflate")]
        deflate: None,
    };

    /// The largest frame payload accepted, in bytes; see
    /// [`ConfigBuilder::max_frame_size`].
    pub const fn max_frame_size(&self) -> u64 {
        self.max_frame_size
    }

    /// The largest message accepted, all fragments together, in bytes of
    /// payload (inflated, for a compressed message); see
    /// [`ConfigBuilder::max_message_size`].
    pub const fn max_message_size(&self) -> u64 {
        self.max_message_size
    }

    /// Whether pings are answered with a pong automatically.
    pub const fn auto_pong(&self) -> bool {
        self.auto_pong
    }

    /// Whether streaming mode is on.
    pub const fn streaming(&self) -> bool {
        self.streaming
    }

    /// The bound on unsent output, in bytes; see
    /// [`ConfigBuilder::max_output_buffer`] for what a full output refuses
    /// and what a blocking server does then.
    pub const fn max_output_buffer(&self) -> usize {
        self.max_output_buffer
    }

    /// The largest payload of a data frame we send, in bytes.
    pub const fn max_outgoing_frame_size(&self) -> u64 {
        self.max_outgoing_frame_size
    }

    /// The keepalive interval, if on.
    pub const fn ping_interval(&self) -> Option<Duration> {
        self.ping_interval
    }

    /// The idle timeout, if on.
    pub const fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// How long our close frame waits for the peer's, if bounded.
    pub const fn close_timeout(&self) -> Option<Duration> {
        self.close_timeout
    }

    /// The permessage-deflate preferences, if it is on.
    #[cfg(feature = "deflate")]
    pub const fn deflate(&self) -> Option<crate::DeflateConfig> {
        self.deflate
    }

    /// This config with other permessage-deflate preferences: those a
    /// server chose for one connection (for the tokio server handshake).
    #[cfg(all(feature = "deflate", feature = "tokio"))]
    pub(crate) const fn with_deflate(mut self, deflate: Option<crate::DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Builds a [`Config`]; from [`Config::builder`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// permessage-deflate (RFC 7692) with these preferences (default: off,
    /// as it costs memory per connection): a server accepts a client's
    /// offer with them, a client offers it. What the handshake agrees on is
    /// given to [`Connection::with_deflate`](crate::Connection::with_deflate).
    /// Every window RFC 7692 allows, 8 to 15 bits, is honoured in either
    /// role (see [`DeflateConfig`](crate::DeflateConfig)).
    /// A tokio server can decide otherwise for one request:
    /// [`Accept::deflate`](crate::handshake::Accept::deflate) in
    /// `WebSocket::accept_with`'s `decide`.
    #[cfg(feature = "deflate")]
    pub const fn deflate(mut self, deflate: Option<crate::DeflateConfig>) -> Self {
        self.config.deflate = deflate;
        self
    }

    /// The largest frame payload accepted, in bytes of payload as declared
    /// by the frame header (default 16 MiB,
    /// [`Config::DEFAULT_MAX_FRAME_SIZE`]); more is 1009 (RFC 6455 §10.4,
    /// §7.4.1), before any of the payload is buffered.
    ///
    /// Most peers (Python `websockets`, Node `ws`, browsers) send a whole
    /// message as one frame, however long: to receive their messages above
    /// 16 MiB, raise this together with
    /// [`max_message_size`](Self::max_message_size). A compressed message
    /// counts here as sent, before inflating.
    pub const fn max_frame_size(mut self, bytes: u64) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// The largest message accepted, all fragments together, in bytes of
    /// payload as the application receives it (default 64 MiB,
    /// [`Config::DEFAULT_MAX_MESSAGE_SIZE`]); more is 1009 (RFC 6455
    /// §10.4): checked against the frames' declared lengths, and for a
    /// compressed message against the inflated bytes, as inflating passes
    /// it. In streaming mode nothing is
    /// buffered, so it can be lifted with `u64::MAX`, also with
    /// permessage-deflate: a compressed message's pieces hold at most
    /// 64 KiB each however much a read inflates to (DEFLATE inflates up
    /// to about 1032 times, so a 64 KiB read may give 64 MiB); the rest of
    /// the read's compressed bytes is held, and nothing after it read,
    /// until the pieces before it are taken with
    /// [`next_event`](crate::Connection::next_event).
    pub const fn max_message_size(mut self, bytes: u64) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Whether a ping is answered with a pong automatically (default: yes).
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.config.auto_pong = on;
        self
    }

    /// Streaming mode (default: off): data arrives as
    /// [`Event::Chunk`](crate::Event::Chunk) pieces as soon as their bytes do,
    /// instead of whole [`Event::Message`](crate::Event::Message)s.
    pub const fn streaming(mut self, on: bool) -> Self {
        self.config.streaming = on;
        self
    }

    /// Bounds the bytes waiting to be written, on the wire (headers and
    /// payloads as sent; default 4 MiB,
    /// [`Config::DEFAULT_MAX_OUTPUT_BUFFER`]): while
    /// [`output_len`](crate::Connection::output_len) is this many
    /// or more, sending a message, fragment, ping or pong is refused with
    /// [`SendError::OutputFull`](crate::SendError::OutputFull) and nothing is
    /// queued. A message is accepted whenever the output is under the limit,
    /// so the output never exceeds it by more than one message (in several
    /// frames if [`max_outgoing_frame_size`](Self::max_outgoing_frame_size)
    /// splits it), plus the one
    /// coalesced automatic pong and one close frame the connection may add.
    /// Payloads held by reference (a server's large ones) count as fully as
    /// copied ones. 0 is taken as 1: a send needs an empty output (the
    /// tokio wrapper's `send` waits until the last write is taken; the
    /// `Connection`'s is refused while anything is unsent), where 0 would
    /// refuse every send.
    ///
    /// What still goes out when the output is full: the automatic pong
    /// (past the limit, one at most: a newer ping's answer replaces an
    /// unsent one) and every close frame (ours, the reply to the peer's,
    /// the idle timeout's, a protocol error's). A keepalive ping that
    /// falls due is skipped.
    ///
    /// # A blocking server
    ///
    /// A thread per connection writes
    /// [`take_output`](crate::Connection::take_output) out with
    /// `write_all` after each batch of events, so the output empties on
    /// every turn and only a batch that sends more than the limit fills
    /// it. `write_all` blocks while the peer does not read (the socket's
    /// send buffer is full): that is the backpressure. When a send is
    /// refused with `OutputFull`, nothing was queued: write the output out
    /// (blocking), then send the same message again, which an empty
    /// output accepts. Give the socket a write timeout
    /// (`TcpStream::set_write_timeout`) so that a peer that stops reading
    /// fails the write (`TimedOut` or `WouldBlock`, by platform) instead
    /// of holding the thread for ever; then drop the connection, as a
    /// close frame would not get through either.
    ///
    /// ```
    /// use std::io::{self, Write};
    /// use wsframe::{Config, Connection, Message, Role, SendError};
    ///
    /// /// Sends `message`, first writing out what waits if the output is full.
    /// fn send(conn: &mut Connection, socket: &mut impl Write, message: Message) -> io::Result<()> {
    ///     match conn.send(message.clone()) {
    ///         Err(SendError::OutputFull { .. }) => {
    ///             socket.write_all(&conn.take_output())?; // blocks while the peer reads nothing
    ///             conn.send(message).map_err(io::Error::other)
    ///         }
    ///         sent => sent.map_err(io::Error::other), // `Closed` after our close frame
    ///     }
    /// }
    ///
    /// let config = Config::builder().max_output_buffer(1000).build();
    /// let mut conn = Connection::new(Role::Server, config);
    /// let mut socket = Vec::new(); // stands for a `TcpStream`
    /// for _ in 0..10 {
    ///     send(&mut conn, &mut socket, Message::from(vec![7; 300]))?;
    ///     assert!(conn.output_len() < 1000 + 304, "over the limit by one message at most");
    /// }
    /// socket.write_all(&conn.take_output())?; // the end of the batch
    /// assert_eq!(socket.len(), 10 * 304, "ten frames of a 4-byte header and 300 bytes");
    /// # Ok::<(), io::Error>(())
    /// ```
    pub const fn max_output_buffer(mut self, bytes: usize) -> Self {
        self.config.max_output_buffer = if bytes == 0 { 1 } else { bytes };
        self
    }

    /// The largest payload of a data frame we send, in bytes (default
    /// 16 MiB, [`Config::DEFAULT_MAX_FRAME_SIZE`]): a message, or a fragment
    /// given to [`send_fragment`](crate::Connection::send_fragment), whose
    /// payload as it goes on the wire is longer is sent as several frames
    /// (RFC 6455 §5.4) of at most this many bytes each: the first with the
    /// message's opcode and the extension's RSV bits (RFC 7692 §6.1: RSV1
    /// on the first frame only), the rest continuation frames, FIN on the
    /// last. A payload at or under it goes out as one frame, as before.
    ///
    /// It counts the bytes sent, compressed ones when permessage-deflate
    /// compressed the message: a 16 MiB message that does not shrink
    /// deflates to a little more, and as one frame a peer with the common
    /// 16 MiB frame limit (ours, [`max_frame_size`](Self::max_frame_size),
    /// and tungstenite's) refuses it with 1009. Set it to the peer's frame
    /// limit if that is lower. Control frames (at most 125 bytes, never
    /// fragmented, §5.5) are not split. 0 is taken as 1, as a frame
    /// carries at least one byte of a non-empty payload; `u64::MAX` never
    /// splits.
    pub const fn max_outgoing_frame_size(mut self, bytes: u64) -> Self {
        self.config.max_outgoing_frame_size = if bytes == 0 { 1 } else { bytes };
        self
    }

    /// Keepalive (default `None`, off): when nothing has been received from
    /// the peer for `interval`, a ping with an empty payload is queued, and
    /// again every `interval` while the silence lasts (RFC 6455 §5.5.2). The
    /// peer's pong restarts the [`idle_timeout`](Self::idle_timeout) clock.
    /// No ping is queued while the output is full. A zero interval is
    /// taken as `None`: it would be due again at the very `now` that
    /// pinged, a ping at every call and a caller sleeping until
    /// [`poll_timeout`](crate::Connection::poll_timeout) never sleeping.
    pub const fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.ping_interval = match interval {
            Some(interval) if interval.is_zero() => None,
            interval => interval,
        };
        self
    }

    /// Closes a connection on which nothing has been received for
    /// `timeout` (default `None`, off). A close frame with code 1001 (Going
    /// Away, RFC 6455 §7.4.1: we are leaving; 1011 would claim an error of
    /// our own) and the reason `"idle timeout"` is queued (even into a full
    /// output), the connection is closed at once without waiting
    /// for the peer's answer (a silent peer would not send one), and
    /// [`Event::Closed`](crate::Event::Closed) reports the same code and
    /// reason, [`Initiator::Local`](crate::Initiator::Local). It runs in
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout),
    /// which is given the time; the event comes from
    /// [`next_event`](crate::Connection::next_event), after the events of
    /// any bytes received before the deadline and not read yet (they
    /// arrived in time: an application that stopped reading loses none of
    /// them; an incomplete message among them is dropped, and a ping gets
    /// no pong after our close; a peer's close among them, which came
    /// first, ends the connection as the peer's instead, and a protocol
    /// violation as in time: see
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout)).
    /// Pair it with a shorter [`ping_interval`](Self::ping_interval) so a
    /// live but quiet peer is asked to answer. Both run while the
    /// connection is open: once our close frame is queued, only
    /// [`close_timeout`](Self::close_timeout) bounds the wait for the
    /// peer's (with `None` there, a silent peer keeps the connection
    /// closing for ever).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsframe::{CloseCode, Config, Connection, Event, Role, State};
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_secs(30))).build();
    /// let mut conn = Connection::new(Role::Server, config);
    /// let start = Instant::now();
    /// conn.handle_timeout(start); // the clocks start
    /// conn.handle_timeout(start + Duration::from_secs(30)); // nothing came
    /// assert_eq!(conn.state(), State::Closed);
    /// // FIN and close, a 14-byte payload: 1001 (0x03E9), then the reason.
    /// assert_eq!(&conn.take_output()[..], b"\x88\x0e\x03\xe9idle timeout");
    /// match conn.next_event() {
    ///     Some(Event::Closed(closed)) => {
    ///         assert_eq!(closed.code, CloseCode::GOING_AWAY);
    ///         assert_eq!(closed.reason, "idle timeout");
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub const fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long our close frame waits for the peer's (default 10 s,
    /// [`Config::DEFAULT_CLOSE_TIMEOUT`]; RFC 6455 §7.1.2). When it runs out the connection is closed and
    /// [`Event::Closed`](crate::Event::Closed) reports code 1006 (Abnormal
    /// Closure: no close frame came back; it is never sent on the wire)
    /// with the reason `"close timeout"`. `None` waits forever.
    ///
    /// With `tokio`, it also bounds how long a close frame (ours, or the
    /// reply to the peer's) may wait to be written while the peer reads
    /// nothing: after that long without progress the close is reported
    /// without it.
    pub const fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// The configuration.
    pub const fn build(self) -> Config {
        self.config
    }
}
