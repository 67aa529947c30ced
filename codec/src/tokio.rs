//! tokio integration (feature `tokio`): a `tokio_util::codec` Decoder/Encoder
//! over [`Connection`], and [`WebSocket`], an async wrapper over any
//! `AsyncRead + AsyncWrite` stream that does the handshake and the I/O.
//!
//! Both are thin layers on the sans-IO core: the same rules, the same close
//! codes, the same events.
//!
//! Every async method of an open [`WebSocket`] and its halves is
//! cancel-safe (the handshakes, `accept`, `client` and `connect`, are
//! not: put a timeout on the whole call), and its docs say how ("Cancel safety"): the bytes not yet written and the
//! events not yet returned stay in the [`Connection`], written with
//! `pending_output`/`consume_output`, so a `tokio::select!` that drops a
//! call leaves the stream whole. [`WebSocket::split`] gives a reader and a
//! writer for two tasks; with the `futures` feature both halves (and
//! `WebSocket`) are a `Stream` of events and a `Sink` of messages (an echo
//! client that closes must first wait for every echo: once the peer's
//! close arrives, what is still to be sent fails with [`Error::Closed`],
//! RFC 6455 §5.5.1). Keepalive
//! pings and the idle and close timeouts of [`Config`] run on tokio's clock
//! while events are awaited.
//!
//! ```no_run
//! use std::{io, time::Duration};
//! use tokio::time::timeout;
//! use wsframe::{tokio::WebSocket, Config, Event};
//!
//! # async fn serve() -> io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (stream, _) = listener.accept().await?;
//! // A client that never finishes its request must not hold the task:
//! // `accept` returns at its end (or `Error::Io` of kind `UnexpectedEof`
//! // if it hangs up first, `Error::Handshake` after refusing it), the
//! // timeout at a stall.
//! let handshake = timeout(Duration::from_secs(10), WebSocket::accept(stream, Config::default()));
//! let mut ws = handshake.await.map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
//! // `None` once the connection is closed or the peer hung up.
//! while let Some(event) = ws.next().await {
//!     match event? {
//!         Event::Message(message) => ws.send(message).await?,
//!         Event::Closed(closed) => println!("{closed}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod core;
mod error;
#[cfg(feature = "futures")]
#[cfg_attr(docsrs, doc(cfg(feature = "futures")))]
mod futures;
mod split;

use std::{
    future::{poll_fn, Future},
    io,
};

use ::tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use ::tokio_util::codec::{Decoder, Encoder};
use bytes::{Buf, Bytes, BytesMut};

use self::core::{Core, Side};
pub use self::error::Error;
pub use self::split::{ReuniteError, WebSocketReader, WebSocketWriter};
#[cfg(feature = "deflate")]
use crate::handshake::DeflateChoice;
use crate::{
    handshake::{
        Accept, Accepted, BodyEnd, BodyFraming, ClientHandshake, HandshakeError, HeadScan,
        RefusedResponse, Status, UpgradeRequest, MAX_HANDSHAKE_LEN,
    },
    CloseCode, Closed, Config, Connection, Event, Message, Role, State,
};

/// What a [`WsCodec`] can be asked to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A whole message: one frame, or several when its payload as sent is
    /// over [`Config::max_outgoing_frame_size`](crate::Config::max_outgoing_frame_size).
    Message(Message),
    /// A ping with this payload (at most 125 bytes).
    Ping(Bytes),
    /// An unsolicited pong.
    Pong(Bytes),
    /// Start the close handshake.
    Close(CloseCode, String),
    /// Nothing new: only write what the connection queued by itself
    /// (automatic pongs, the reply to a close, a failure's close frame).
    Flush,
}

impl From<Message> for Outgoing {
    fn from(message: Message) -> Self {
        Self::Message(message)
    }
}

/// A `tokio_util::codec` Decoder (yielding [`Event`]s) and Encoder (of
/// [`Outgoing`] and [`Message`]) around a [`Connection`].
///
/// The connection answers pings and close frames by itself, but a decoder
/// cannot write: after an [`Event::Ping`] or [`Event::Closed`], send
/// [`Outgoing::Flush`] through the encoder to put those replies on the wire.
/// [`WebSocket`] does this for you.
///
/// At the end of the stream (`decode_eof`): if the peer hung up inside a
/// frame or a message, or without answering our close frame, the stream
/// fails with [`Error::Io`] of kind `UnexpectedEof`; at a message boundary
/// it just ends (no close frame came: RFC 6455 §7.1.5 calls that 1006).
/// After [`Event::Closed`] the codec yields nothing more, but `Framed`
/// goes on reading until the peer hangs up, and a client waits for the
/// server to close TCP first (§7.1.1): a server flushes, then stops
/// polling and drops the `Framed`.
///
/// The encoder moves all the output into `Framed`'s write buffer at once,
/// so [`Config::max_output_buffer`] never refuses a send here: `Framed`'s
/// backpressure bounds what waits. The codec has no clock and negotiates
/// nothing, where [`WebSocket`] does both: [`Config::ping_interval`],
/// [`Config::idle_timeout`] and [`Config::close_timeout`] run only when
/// the caller drives them through [`connection_mut`](Self::connection_mut),
/// and permessage-deflate is used only by a codec made
/// [`from_connection`](Self::from_connection) with a connection that
/// negotiated it ([`WsCodec::new`] makes one without: a compressed frame is
/// then a protocol error, 1002).
#[derive(Debug)]
pub struct WsCodec {
    conn: Connection,
}

impl WsCodec {
    /// A codec for `role`.
    pub fn new(role: Role, config: Config) -> Self {
        Self {
            conn: Connection::new(role, config),
        }
    }

    /// A codec around `conn`: one built with
    /// [`Connection::with_deflate`] for the permessage-deflate parameters a
    /// handshake negotiated, and with the bytes read after the handshake's
    /// head already [`receive`](Connection::receive)d.
    pub fn from_connection(conn: Connection) -> Self {
        Self { conn }
    }

    /// The connection underneath, for its state.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection underneath, to drive its timers: call
    /// [`handle_timeout`](Connection::handle_timeout) when
    /// [`poll_timeout`](Connection::poll_timeout)'s instant comes (then
    /// send [`Outgoing::Flush`] to write a keepalive ping or a close it
    /// queued), and after each read.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Hands every byte of `src` to the connection and yields its next event.
///
/// # Errors
///
/// `decode` never fails: a peer's protocol violation is an
/// [`Event::Closed`] carrying it. `decode_eof` fails with [`Error::Io`] of
/// kind `UnexpectedEof` when the peer hung up inside a frame or a message,
/// or without answering our close frame.
impl Decoder for WsCodec {
    type Item = Event;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Event>, Error> {
        if !src.is_empty() {
            // O(1) when the connection's buffer is empty, a copy otherwise.
            self.conn.read_buf().unsplit(src.split());
        }
        Ok(self.conn.next_event())
    }

    /// The bytes are all handed to the connection, so `Decoder`'s default
    /// (an error if bytes are left in `src`) would never fail: the
    /// connection says whether the peer's hang-up cut something.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Event>, Error> {
        if let Some(event) = self.decode(src)? {
            return Ok(Some(event));
        }
        hang_up_cut(&self.conn).map_or(Ok(None), Err)
    }
}

/// The error for a peer that hung up with a frame or a message part-way
/// in (the connection open, or our close waiting for its answer), or
/// without answering our close: [`Error::Io`] of kind `UnexpectedEof`.
fn hang_up_cut(conn: &Connection) -> Option<Error> {
    let why = match conn.state() {
        State::Open | State::CloseSent if conn.mid_frame_or_message() => {
            "the peer hung up inside a frame or a message"
        }
        State::CloseSent => "the peer hung up without answering our close frame",
        State::Open | State::Closed => return None,
    };
    Some(Error::Io(io::Error::new(io::ErrorKind::UnexpectedEof, why)))
}

/// Queues the item in the connection, then moves all its output (replies
/// the decoder queued first) into `dst`.
///
/// # Errors
///
/// As [`Connection::send`], [`ping`](Connection::ping),
/// [`pong`](Connection::pong) and [`close`](Connection::close) for each
/// item: [`Error::Closed`] after our close or the peer's, [`Error::Send`]
/// for the rest ([`SendError::FragmentOutOfOrder`](crate::SendError::FragmentOutOfOrder),
/// a control payload over 125 bytes, an unsendable close code; never
/// `OutputFull`, as the output is emptied into `dst` on every call).
/// Nothing is queued on an error.
impl Encoder<Outgoing> for WsCodec {
    type Error = Error;

    fn encode(&mut self, item: Outgoing, dst: &mut BytesMut) -> Result<(), Error> {
        // What the decoder queued (automatic pongs, a close reply) goes
        // first, so that it cannot hold the output at its limit and refuse
        // this send.
        dst.unsplit(self.conn.take_output());
        match item {
            Outgoing::Message(message) => self.conn.send(message),
            Outgoing::Ping(payload) => self.conn.ping(&payload),
            Outgoing::Pong(payload) => self.conn.pong(&payload),
            Outgoing::Close(code, reason) => self.conn.close(code, &reason),
            Outgoing::Flush => Ok(()),
        }?;
        dst.unsplit(self.conn.take_output());
        Ok(())
    }
}

/// As `Encoder<Outgoing>` with [`Outgoing::Message`].
impl Encoder<Message> for WsCodec {
    type Error = Error;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), Error> {
        Encoder::<Outgoing>::encode(self, Outgoing::Message(message), dst)
    }
}

/// A WebSocket over an async stream: [`next`](Self::next) for events,
/// [`send`](Self::send) and [`close`](Self::close) to talk,
/// [`split`](Self::split) to do both from two tasks.
///
/// Every unsent byte and every event not yet returned stays in the
/// [`Connection`] underneath, so every async method past the handshake
/// is cancel-safe (each says how): a `tokio::select!` may drop any of them
/// and the stream stays whole. Pongs and close replies are written by [`next`](Self::next);
/// keepalive pings and the idle and close timeouts
/// ([`Config::ping_interval`], [`Config::idle_timeout`],
/// [`Config::close_timeout`]) run while `next` is awaited, on tokio's
/// clock (the runtime needs its time driver: `enable_time`).
///
/// With the `futures` feature, `WebSocket` and both halves of
/// [`split`](Self::split) are a `futures::Stream` of
/// `Result<`[`Event`]`, `[`Error`]`>` (as [`next`](Self::next)) and a
/// `futures::Sink<`[`Message`]`>`: `poll_ready` waits for room under
/// [`Config::max_output_buffer`], `start_send` queues the message (as
/// [`feed`](Self::feed)), `poll_flush` writes all output, and
/// `poll_close` sends a 1000 close frame and writes it out (the peer's
/// answer then arrives on the stream; a write that makes no progress for
/// [`Config::close_timeout`] fails with [`Error::Io`] of kind `TimedOut`).
///
/// I/O: a large whole message is read straight into the buffer it is
/// handed out in (once its header is in, room for the rest of the frame,
/// as [`Connection::read_hint`] gives it, is reserved at once: up to
/// [`Config::max_frame_size`] on a header's word, touched only as bytes
/// arrive); a server's large payloads are written from the sender's
/// buffer with a vectored write where the stream supports them
/// ([`Connection::pending_output_vectored`]), output in one run with a
/// plain write; once all that was read is handed out and no message holds
/// the read buffer any more, reading starts over at its front.
#[derive(Debug)]
pub struct WebSocket<S> {
    core: Core<S>,
}

/// `request`, offering permessage-deflate too when [`Config::deflate`] is
/// on and it does not offer it already.
fn with_deflate_offer(request: &ClientHandshake, config: &Config) -> ClientHandshake {
    #[cfg(feature = "deflate")]
    if let Some(deflate) = config.deflate() {
        let offered = request
            .extensions()
            .iter()
            .any(|e| e.name() == crate::PERMESSAGE_DEFLATE);
        if !offered {
            return request.clone().extension(deflate.offer());
        }
    }
    #[cfg(not(feature = "deflate"))]
    let _ = config;
    request.clone()
}

/// The client's connection for the server's 101: with permessage-deflate
/// as the server accepted it (checked by RFC 7692 §7.1), without it if it
/// did not.
fn client_connection(accepted: &Accepted, config: Config) -> Result<Connection, Error> {
    let deflate_accepted = accepted
        .extensions
        .iter()
        .any(|e| e.name() == "permessage-deflate");
    #[cfg(feature = "deflate")]
    if let Some(deflate) = config.deflate() {
        let params = deflate.check_response(&accepted.extensions)?;
        return Ok(Connection::with_deflate(Role::Client, config, params));
    }
    if deflate_accepted {
        // Offered in the request without `Config::deflate`: nothing here
        // could inflate what the server will send.
        return Err(Error::Handshake(HandshakeError::BadExtensionResponse));
    }
    Ok(Connection::new(Role::Client, config))
}

/// The 101 that `accept` writes and the server's connection, doing what
/// the 101 says of permessage-deflate: what `decide` chose with
/// [`Accept::deflate`] or [`Accept::extension`] (with, for the latter, the
/// threshold and level of [`Config::deflate`]); else, when
/// [`Config::deflate`] is on and the client offered it acceptably, accepted
/// with it (RFC 7692 §5); else without it.
fn with_deflate(config: Config, accept: Accept<'_>) -> (Vec<u8>, Connection) {
    #[cfg(feature = "deflate")]
    let accept = match (accept.deflate_choice(), config.deflate()) {
        (DeflateChoice::Open, Some(preferences)) => accept.deflate(Some(preferences)),
        _ => accept,
    };
    #[cfg(feature = "deflate")]
    if let DeflateChoice::Accepted(params, preferences) = accept.deflate_choice() {
        // `decide`'s own preferences: for the threshold, level and memory
        // level, and for `Connection::config` to tell.
        let config = preferences.map_or(config, |p| config.with_deflate(Some(p)));
        let conn = Connection::with_deflate(Role::Server, config, Some(params));
        return (accept.to_bytes(), conn);
    }
    (accept.to_bytes(), Connection::new(Role::Server, config))
}

/// Writes a refusal of the upgrade and shuts the stream down, ignoring a
/// failure to: the caller reports the refusal, which says more than a
/// broken pipe would.
async fn refuse<S: AsyncWrite + Unpin>(io: &mut S, response: &[u8]) {
    if io.write_all(response).await.is_ok() {
        let _ = io.shutdown().await;
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Performs the server side of the opening handshake on `io`: reads the
    /// upgrade request, answers 101, or refuses it and fails: 400 for a
    /// malformed upgrade (a header missing or wrong), 405 for a method other
    /// than GET, 426 for a WebSocket version other than 13, 431 for a head
    /// over the handshake's size limit, 505 for an HTTP version other than
    /// 1.1 ([`HandshakeError::status`](crate::handshake::HandshakeError::status)).
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] for a request that was refused (the refusal has
    /// been written to `io` and the stream shut down), also when writing
    /// the refusal or shutting down failed (the client hung up, say: the
    /// refusal is the news, and that failure is dropped);
    /// [`Error::Io`] when reading the request or writing the 101 failed.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropped midway, the request read so far is lost;
    /// put a timeout on the whole handshake, not on parts of it.
    pub async fn accept(io: S, config: Config) -> Result<Self, Error> {
        Self::accept_with(io, config, |request| Ok(request.accept())).await
    }

    /// As [`accept`](Self::accept), but `decide` sees the request (path,
    /// `Origin`, offered subprotocols and extensions, every header) and
    /// either accepts it, choosing a subprotocol or extensions with the
    /// [`Accept`] builder, or refuses it with the bytes of a response (such
    /// as [`reject`](crate::handshake::reject)'s 403).
    ///
    /// permessage-deflate (RFC 7692) is negotiated with [`Config::deflate`]
    /// unless `decide` chooses for this request: with
    /// [`Accept::deflate`]`(None)` it declines it, with
    /// `Accept::deflate(Some(preferences))` it accepts the client's offer
    /// with those (smaller windows for one path, compression for one path
    /// though `Config::deflate` is off), and the connection then uses
    /// `preferences`' threshold, level and memory level. A response of its
    /// own given to [`Accept::extension`] is used as written (checked
    /// against the client's offers there, with [`BuildError::Deflate`](crate::handshake::BuildError::Deflate)
    /// for one that accepts none, or a second one), with the threshold and
    /// level of `Config::deflate` (its defaults if off). Either way the
    /// 101 names it once and the connection does what it says.
    ///
    /// ```no_run
    /// use wsframe::{handshake::reject, tokio::WebSocket, Config};
    ///
    /// # async fn serve(stream: tokio::net::TcpStream) -> Result<(), wsframe::tokio::Error> {
    /// let ws = WebSocket::accept_with(stream, Config::default(), |request| {
    ///     if request.origin() != Some("https://example.com") {
    ///         return Err(reject(403, &[], b"unknown origin").expect("a valid response"));
    ///     }
    ///     Ok(request.accept().subprotocol("chat").unwrap_or_else(|_| request.accept()))
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Compression per path:
    ///
    /// ```no_run
    /// use wsframe::{tokio::WebSocket, Config, DeflateConfig};
    ///
    /// # async fn serve(stream: tokio::net::TcpStream) -> Result<(), wsframe::tokio::Error> {
    /// let config = Config::builder().deflate(Some(DeflateConfig::default())).build();
    /// let ws = WebSocket::accept_with(stream, config, |request| {
    ///     let accept = request.accept();
    ///     Ok(match request.path() {
    ///         // Already compressed: deflate would cost memory and time for nothing.
    ///         "/video" => accept.deflate(None),
    ///         // Many small chats: small windows, no memory kept between messages.
    ///         "/chat" => accept.deflate(Some(
    ///             DeflateConfig::default().max_window_bits(10).no_context_takeover(true),
    ///         )),
    ///         // As `Config::deflate` says.
    ///         _ => accept,
    ///     })
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept), and [`Error::Rejected`] when `decide`
    /// refused (also when writing its response failed, as for `accept`'s
    /// refusals). (A permessage-deflate `decide` cannot keep to fails in
    /// `decide`, with [`Accept::extension`]'s [`BuildError::Deflate`](crate::handshake::BuildError::Deflate).)
    ///
    /// # Cancel safety
    ///
    /// As [`accept`](Self::accept).
    pub async fn accept_with<F>(mut io: S, config: Config, decide: F) -> Result<Self, Error>
    where
        F: FnOnce(&UpgradeRequest) -> Result<Accept<'_>, Vec<u8>>,
    {
        let mut request = BytesMut::with_capacity(1024);
        let mut scan = HeadScan::new();
        let (upgrade, used) = loop {
            if io.read_buf(&mut request).await? == 0 {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the client hung up before its upgrade request was complete",
                )));
            }
            if !scan.worth_parsing(&request) {
                continue;
            }
            match UpgradeRequest::parse(&request) {
                Ok(Status::Complete(parsed)) => break parsed,
                Ok(Status::Partial) if request.len() <= MAX_HANDSHAKE_LEN => {}
                Ok(Status::Partial) => unreachable!("parse refuses oversized requests"),
                Err(err) => {
                    // The refusal is the news: a peer that hung up before
                    // reading it does not turn it into an `Io` error.
                    refuse(&mut io, &err.response()).await;
                    return Err(Error::Handshake(err));
                }
            }
        };
        let accept = match decide(&upgrade) {
            Ok(accept) => accept,
            Err(refusal) => {
                refuse(&mut io, &refusal).await;
                return Err(Error::Rejected);
            }
        };
        let (response, mut conn) = with_deflate(config, accept);
        io.write_all(&response).await?;
        // A buffered stream (TLS, `BufStream`) would otherwise hold the 101
        // while `next` waits for a first message the client sends after it.
        io.flush().await?;
        request.advance(used);
        conn.receive(&request);
        Ok(Self {
            core: Core::new(io, conn),
        })
    }

    /// Wraps a stream whose handshake is already done (by hyper, say).
    /// `leftover` holds the bytes read after the handshake's head, already
    /// WebSocket frames: they are read first.
    ///
    /// The connection has no extension; for one whose handshake negotiated
    /// permessage-deflate, build it with [`Connection::with_deflate`] and
    /// use [`from_connection`](Self::from_connection).
    pub fn from_upgraded(io: S, role: Role, config: Config, leftover: Bytes) -> Self {
        let mut conn = Connection::new(role, config);
        conn.receive(&leftover);
        Self::from_connection(io, conn)
    }

    /// Wraps a stream whose handshake is done and the sans-IO connection
    /// made for it (with the extensions the handshake negotiated, and
    /// the bytes read after the handshake's head already
    /// [`receive`](Connection::receive)d).
    pub fn from_connection(io: S, conn: Connection) -> Self {
        Self {
            core: Core::new(io, conn),
        }
    }

    /// Performs the client side of the opening handshake over `io` (TCP,
    /// or TLS set up by the caller): writes `request`, checks the 101.
    /// Returns the socket and what the server chose (subprotocol,
    /// extensions, its headers).
    ///
    /// With [`Config::deflate`] on, permessage-deflate is offered (RFC
    /// 7692 §5, unless `request` already offers it) and, if the server
    /// accepts, used as it answered. The answer is checked against
    /// `Config::deflate`'s preferences (RFC 7692 §7.1), also when `request`
    /// made the offer itself: make that offer with
    /// [`DeflateConfig::offer`](crate::DeflateConfig::offer) of the same
    /// preferences, or leave it to `Config::deflate`.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for an answer other than 101 (HTTP/1.1 or 1.0),
    /// with its status, headers and body: read as far as `Content-Length`
    /// says, or to the server's close, at most [`MAX_REFUSED_BODY`] bytes
    /// and for at most [`REFUSED_BODY_WAIT`] after the head (a chunked body
    /// is kept as sent, not decoded); [`Error::Handshake`] for a response
    /// that is not a valid 101 for this request (including a permessage-deflate answer that RFC 7692
    /// §7.1 refuses, or one to an offer made without [`Config::deflate`]),
    /// [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe; put a timeout on the whole call: a server that
    /// never completes its answer's head holds it until then (only the body
    /// of a refusal has a wait of its own).
    pub async fn client(
        mut io: S,
        request: &ClientHandshake,
        config: Config,
    ) -> Result<(Self, Accepted), Error> {
        let request = with_deflate_offer(request, &config);
        io.write_all(&request.to_bytes()).await?;
        io.flush().await?;
        let mut response = BytesMut::with_capacity(1024);
        let mut scan = HeadScan::new();
        loop {
            if io.read_buf(&mut response).await? == 0 {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server hung up before its handshake response was complete",
                )));
            }
            if !scan.worth_parsing(&response) {
                continue;
            }
            match request.parse_response(&response) {
                Ok(Status::Complete(accepted)) => {
                    response.advance(accepted.head_len);
                    let mut conn = client_connection(&accepted, config)?;
                    conn.receive(&response);
                    return Ok((Self::from_connection(io, conn), accepted));
                }
                Ok(Status::Partial) => {}
                // An answer other than 101, HTTP/1.1 or 1.0 (a proxy's
                // 403 may be either): a refusal to read, body included.
                Err(err @ (HandshakeError::NotSwitching(_) | HandshakeError::HttpVersion)) => {
                    return Err(match RefusedResponse::parse(&response) {
                        Ok(Status::Complete(refused)) if refused.status() != 101 => {
                            let refused = read_refused_body(&mut io, refused, response).await;
                            Error::Refused(Box::new(refused))
                        }
                        _ => Error::Handshake(err),
                    });
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// The next event, reading as needed; `None` once the connection is
    /// closed (after its [`Event::Closed`]) or the peer hung up.
    ///
    /// All the messages one read brought are returned before the next read,
    /// and what is queued (pongs, messages [`feed`](Self::feed) queued) is
    /// written as the last of them is returned (so that a pong is not held
    /// while the caller works on that message), and again before the next
    /// read; in streaming mode, also as each piece of a compressed message
    /// whose input is held is returned (a read may inflate to a thousand
    /// times its size, handed out in pieces of at most 64 KiB), so that
    /// such a message is not taken as one batch. A batch of small messages
    /// answered with `feed` thus costs one read and two writes: the answers
    /// fed before its last message was returned, then the last answer. What the stream does not take at
    /// once goes out on the next call. A close frame is written before
    /// [`Event::Closed`] is returned, and then a server shuts its write side
    /// (RFC 6455 §7.1.1: the server closes TCP first); a peer that reads
    /// nothing cannot hold it there: once the write has made no progress for
    /// [`Config::close_timeout`], the close is returned without it, and any
    /// write still waiting fails with [`Error::Io`] of kind `TimedOut`.
    ///
    /// The keepalive and the timeouts run here. At a deadline that passed
    /// while the caller was away, what the stream holds is read first (it
    /// arrived in time); when the idle timeout ([`Config::idle_timeout`])
    /// then closes, its 1001 close frame is written at once, and the
    /// events already in hand (messages one read brought with the last
    /// one returned) are returned before its [`Event::Closed`], as
    /// [`Connection::handle_timeout`] describes ("Bytes in hand at the idle
    /// timeout": no pong to a ping among them; a peer's close among them
    /// is the end).
    ///
    /// # Errors
    ///
    /// [`Error::Io`]; of kind `UnexpectedEof`, once, when the peer hung up
    /// inside a frame or a message, or without answering our close frame
    /// (then `None`; a hang-up between messages with no close begun is
    /// just `None`, RFC 6455 §7.1.5's 1006 with no event). A write that
    /// fails (the peer gone: broken pipe, reset) is reported once; `next`
    /// then reads on to the end of what the peer sent, and every later
    /// call that writes (`send`, `flush`, `ping`, `close`...) fails at once
    /// with the same error: an OS error's code, or else its kind and text,
    /// holding the stream's error as an `Arc<io::Error>` (`get_ref`, then
    /// `downcast_ref`, gives it back; its source is the `source`). `feed`,
    /// which only queues, still queues while there is room. A read that fails is
    /// reported once and ends the stream as a hang-up does (the events
    /// read before it are returned first; then `None`, the stream not read
    /// again). A peer's protocol violation is an [`Event::Closed`]
    /// carrying it, not an error.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped before it returns, no event is lost and no
    /// byte of a pong or close frame half written; the next call goes on.
    #[expect(
        clippy::should_implement_trait,
        reason = "the async method's future (an async fn before), not an iterator's next"
    )]
    pub fn next(&mut self) -> impl Future<Output = Option<Result<Event, Error>>> + '_ {
        // The poll function's future itself, not an `async fn` around it
        // (one state machine fewer per call).
        poll_fn(|cx| self.core.poll_next(cx))
    }

    /// Sends a whole message, after waiting for room while
    /// [`Config::max_output_buffer`] bytes are unsent (backpressure).
    ///
    /// The wait (for room, then for the write) has no limit of its own:
    /// [`Config::idle_timeout`] and the keepalive run in
    /// [`next`](Self::next), not here, so a peer that reads nothing holds
    /// it for as long as it stays. Put a timeout on it (a send dropped
    /// midway cuts nothing; see below), or read in a task of its own
    /// ([`split`](Self::split): a peer silent as well is then closed by
    /// the reader's idle timeout, and the wait ends, with
    /// [`Error::Closed`] while waiting for room, or, for a message already
    /// queued, with [`Error::Io`] of kind `TimedOut` once
    /// [`Config::close_timeout`] gives the output up). The same holds for
    /// every call that writes ([`feed`](Self::feed) and
    /// [`flush`](Self::flush) included), but [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after our close or the peer's (at once, also while
    /// waiting for room); [`Error::Send`]
    /// ([`SendError::FragmentOutOfOrder`](crate::SendError::FragmentOutOfOrder))
    /// while a message sent with [`send_fragment`](Self::send_fragment) is
    /// not finished; [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe in that nothing is ever cut: dropped while waiting for
    /// room, the message was not queued; dropped while it is written, it is
    /// queued whole and goes out, whole, with the next call that writes
    /// ([`next`](Self::next), [`flush`](Self::flush), any send). To know
    /// which, use [`feed`](Self::feed) (then [`flush`](Self::flush)).
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        core::send(&mut self.core, Side::Writer, message)
    }

    /// Sends a whole message compressed (`compress`) or not, whatever its
    /// size and [`DeflateConfig::threshold`](crate::DeflateConfig::threshold),
    /// where permessage-deflate was negotiated (RFC 7692 §6: compression is
    /// chosen per message); without it, the same as [`send`](Self::send).
    /// Skip compression for payloads that do not shrink (already
    /// compressed, random): compressing runs in this call, on the task's
    /// thread, and a large message at a high level holds the runtime's
    /// thread for as long.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    pub async fn send_compressed(&mut self, message: Message, compress: bool) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| {
            conn.send_compressed(message, compress)
        })
        .await
    }

    /// Queues a whole message once there is room (below
    /// [`Config::max_output_buffer`]), without waiting for it to be written:
    /// [`next`](Self::next), [`flush`](Self::flush) or the next send write
    /// it. The send to use in a `tokio::select!` loop, and to answer a
    /// batch of messages with one write: `feed` each answer, and `next`
    /// writes them all when the messages in hand are done.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, strictly: dropped before it completes, the message was
    /// not queued.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        core::queue_when_room(&mut self.core, Side::Writer, |conn| conn.send(message)).await
    }

    /// Sends one fragment of a message (RFC 6455 §5.4); see
    /// [`Connection::send_fragment`].
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and [`Error::Send`] for a fragment out of
    /// order.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send): dropped midway, the fragment may or may not
    /// have been queued. To know which (before sending the next fragment),
    /// use [`feed_fragment`](Self::feed_fragment), then
    /// [`flush`](Self::flush).
    pub async fn send_fragment(&mut self, fragment: Message, fin: bool) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| {
            conn.send_fragment(fragment, fin)
        })
        .await
    }

    /// Queues one fragment of a message (RFC 6455 §5.4) once there is room
    /// (below [`Config::max_output_buffer`]), without waiting for it to be
    /// written: [`feed`](Self::feed) for fragments. It goes out with the
    /// next call that writes ([`flush`](Self::flush), [`next`](Self::next),
    /// any send).
    ///
    /// # Errors
    ///
    /// As [`send_fragment`](Self::send_fragment).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, strictly: dropped before it completes, the fragment was
    /// not queued; once it returns `Ok`, it was.
    pub async fn feed_fragment(&mut self, fragment: Message, fin: bool) -> Result<(), Error> {
        core::queue_when_room(&mut self.core, Side::Writer, |conn| {
            conn.send_fragment(fragment, fin)
        })
        .await
    }

    /// Sends a ping (at most 125 bytes).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and [`Error::Send`] for a payload over 125
    /// bytes.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| conn.ping(payload)).await
    }

    /// Sends an unsolicited pong (a heartbeat, RFC 6455 §5.5.3).
    ///
    /// # Errors
    ///
    /// As [`ping`](Self::ping).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| conn.pong(payload)).await
    }

    /// Writes everything queued and flushes the stream.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: what was not written stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        core::flush(&mut self.core, Side::Writer).await
    }

    /// Closes the connection (RFC 6455 §7.1.2): sends our close frame, then
    /// reads until the peer's answer, for at most
    /// [`Config::close_timeout`] (a peer that reads nothing, so that the
    /// frame cannot even be written, times out the same way). Events that arrive meanwhile are
    /// dropped: once our close is sent, only control frames are read
    /// (the sans-IO core's rule; see [`Event::Chunk`]).
    ///
    /// # Errors
    ///
    /// [`Error::Send`] for an unsendable code or a reason over 123 bytes,
    /// [`Error::Closed`] if the connection was already closed,
    /// [`Error::Timeout`] when the peer did not answer in time,
    /// [`Error::Io`] (`UnexpectedEof` if it hung up without answering).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: called again after being dropped, it does not send a
    /// second close frame but goes on waiting for the answer.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<Closed, Error> {
        // Queued only: `await_close` writes it while the close timeout runs,
        // so a peer that reads nothing cannot hold the call.
        core::queue_close(&mut self.core, code, reason)?;
        core::await_close(&mut self.core).await
    }

    /// Splits into a reader and a writer for two tasks. The reader drives
    /// the connection (pongs, close replies, keepalive and timeouts): keep
    /// it polled. [`WebSocketReader::reunite`] joins them again.
    pub fn split(self) -> (WebSocketReader<S>, WebSocketWriter<S>) {
        split::split(self.core)
    }

    /// The connection underneath, for its state.
    pub fn connection(&self) -> &Connection {
        &self.core.conn
    }

    /// The stream. Unsent output still in the connection is dropped with it.
    pub fn into_inner(self) -> S {
        self.core.io
    }
}

/// The most bytes of a refusal's body that [`WebSocket::client`] reads
/// into [`Error::Refused`]; a longer body is cut there
/// ([`BodyEnd::Capped`]).
pub const MAX_REFUSED_BODY: usize = 64 * 1024;

/// How long [`WebSocket::client`] reads a refusal's body after its head,
/// at most: a server may keep the connection open after a body whose end
/// the client does not look for (chunked, close-delimited) or stall
/// inside one; what arrived by then is kept ([`BodyEnd::WaitElapsed`]).
/// A body without any (`Content-Length: 0`, 204, 304) is not waited for.
pub const REFUSED_BODY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the body of `refused`, whose head is at the front of `read`, as
/// its framing says, under [`MAX_REFUSED_BODY`] and [`REFUSED_BODY_WAIT`].
async fn read_refused_body<S: AsyncRead + Unpin>(
    io: &mut S,
    refused: RefusedResponse,
    mut read: BytesMut,
) -> RefusedResponse {
    read.advance(refused.head_len());
    // A body whose end only a close tells is read one byte past the cap,
    // to tell a body of exactly the cap from a longer one.
    let (want, known_length) = match refused.framing() {
        BodyFraming::Empty => return refused.with_body(Vec::new(), BodyEnd::Whole),
        BodyFraming::Length(length) => (
            usize::try_from(length).map_or(MAX_REFUSED_BODY, |l| l.min(MAX_REFUSED_BODY)),
            Some(length),
        ),
        _ => (MAX_REFUSED_BODY + 1, None),
    };
    let mut body = read[..read.len().min(want)].to_vec();
    let deadline = ::tokio::time::Instant::now() + REFUSED_BODY_WAIT;
    let end = loop {
        if body.len() == want {
            break match known_length {
                Some(length) if length == want as u64 => BodyEnd::Whole,
                _ => BodyEnd::Capped,
            };
        }
        let rest = (want - body.len()) as u64;
        body.reserve(usize::try_from(rest).unwrap_or(0).min(16 * 1024));
        let mut limited = (&mut *io).take(rest);
        match ::tokio::time::timeout_at(deadline, limited.read_buf(&mut body)).await {
            Err(_elapsed) => break BodyEnd::WaitElapsed,
            Ok(Ok(0) | Err(_)) if known_length.is_some() => break BodyEnd::ConnectionEnded,
            Ok(Ok(0)) => break BodyEnd::Whole,
            // A reset after a close-delimited body's bytes: its end is unknown.
            Ok(Err(_)) => break BodyEnd::ConnectionEnded,
            Ok(Ok(_)) => {}
        }
    };
    body.truncate(MAX_REFUSED_BODY);
    refused.with_body(body, end)
}

impl WebSocket<TcpStream> {
    /// Connects to `uri` (`ws://host[:port]/path?query`, port 80 by
    /// default; a host name, an IPv4 address or an IPv6 one in brackets)
    /// over TCP and performs the client handshake; for `wss://`, set up
    /// TLS yourself and use [`client`](Self::client).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] of kind `InvalidInput`, before connecting, for a URI
    /// that is not `ws://` with a host (`wss://` says that TLS is the
    /// caller's), one with userinfo or a port past 65535, or a path or
    /// query that the request cannot carry
    /// ([`ClientHandshake::uri`]'s error inside it, as `get_ref`); as for
    /// [`client`](Self::client) otherwise.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe; put a timeout on the whole call.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub async fn connect(uri: &http::Uri, config: Config) -> Result<(Self, Accepted), Error> {
        let invalid =
            |why: &str| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") => {}
            Some(s) if s.eq_ignore_ascii_case("wss") => {
                return Err(invalid(
                    "connect does not do TLS, which wss:// needs: connect a TcpStream, \
                     set up TLS over it and call WebSocket::client",
                ))
            }
            _ => return Err(invalid("connect takes a ws:// URI")),
        }
        // Built before connecting: a URI it cannot carry costs no connection.
        let request = ClientHandshake::random()?
            .uri(uri)
            .map_err(|err| Error::Io(err.into()))?;
        let host = uri.host().ok_or_else(|| invalid("the URI has no host"))?;
        // An IPv6 literal is bracketed in a URI (RFC 3986 §3.2.2), not in
        // the address connected to.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = uri.port_u16().unwrap_or(80);
        let stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Self::client(stream, &request, config).await
    }
}
