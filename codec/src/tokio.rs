//! tokio integration (feature `tokio`): a `tokio_util::codec` Decoder/Encoder
//! over [`Connection`], and [`WebSocket`], an async wrapper over any
//! `AsyncRead + AsyncWrite` stream that does the handshake and the I/O.
//!
//! Both are thin layers on the sans-IO core: the same rules, the same close
//! codes, the same events.
//!
//! ```no_run
//! use wsframe::{tokio::WebSocket, Config, Event};
//!
//! # async fn serve() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (stream, _) = listener.accept().await?;
//! let mut ws = WebSocket::accept(stream, Config::default()).await?;
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

use std::io;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio_util::codec::{Decoder, Encoder};
use bytes::{Buf, Bytes, BytesMut};

use crate::{
    handshake::{Status, UpgradeRequest, MAX_HANDSHAKE_LEN},
    CloseCode, Config, Connection, Event, Message, Role, SendError, State,
};

/// Messages at least this long are written header-then-payload with a
/// vectored write instead of being copied into the output buffer.
const VECTORED_MIN_LEN: usize = 4096;

/// How much room a read asks for.
const READ_CHUNK: usize = 64 * 1024;

fn invalid_input(err: SendError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, err)
}

/// What a [`WsCodec`] can be asked to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A whole message, as one frame.
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

    /// The connection underneath, for its state.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Decoder for WsCodec {
    type Item = Event;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Event>> {
        if !src.is_empty() {
            // O(1) when the connection's buffer is empty, a copy otherwise.
            self.conn.read_buf().unsplit(src.split());
        }
        Ok(self.conn.next_event())
    }
}

impl Encoder<Outgoing> for WsCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Outgoing, dst: &mut BytesMut) -> io::Result<()> {
        match item {
            Outgoing::Message(message) => self.conn.send(message),
            Outgoing::Ping(payload) => self.conn.ping(&payload),
            Outgoing::Pong(payload) => self.conn.pong(&payload),
            Outgoing::Close(code, reason) => self.conn.close(code, &reason),
            Outgoing::Flush => Ok(()),
        }
        .map_err(invalid_input)?;
        dst.unsplit(self.conn.take_output());
        Ok(())
    }
}

impl Encoder<Message> for WsCodec {
    type Error = io::Error;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> io::Result<()> {
        Encoder::<Outgoing>::encode(self, Outgoing::Message(message), dst)
    }
}

/// A WebSocket over an async stream: [`next`](Self::next) for events,
/// [`send`](Self::send) and [`close`](Self::close) to talk.
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    conn: Connection,
}

/// The 101 for `upgrade` and the server's connection: with
/// permessage-deflate if [`Config::deflate`] is on and the client offered
/// it acceptably.
fn answer(upgrade: &crate::handshake::UpgradeRequest, config: Config) -> (Vec<u8>, Connection) {
    #[cfg(feature = "deflate")]
    if let Some((params, accepted)) = config
        .deflate_config()
        .and_then(|deflate| deflate.accept(upgrade.extensions()))
    {
        if let Ok(accept) = upgrade.accept().extension(accepted) {
            let conn = Connection::with_deflate(Role::Server, config, Some(params));
            return (accept.to_bytes(), conn);
        }
    }
    (
        upgrade.response(None),
        Connection::new(Role::Server, config),
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Performs the server side of the opening handshake on `io`: reads the
    /// upgrade request, answers 101, or answers 400/426 and fails.
    ///
    /// # Errors
    ///
    /// I/O errors, and `InvalidData` (wrapping the
    /// [`HandshakeError`](crate::handshake::HandshakeError)) for a request
    /// that was refused; the refusal has been written to `io`.
    pub async fn accept(mut io: S, config: Config) -> io::Result<Self> {
        let mut request = BytesMut::with_capacity(1024);
        loop {
            if io.read_buf(&mut request).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            match UpgradeRequest::parse(&request) {
                Ok(Status::Complete((upgrade, used))) => {
                    let (response, conn) = answer(&upgrade, config);
                    io.write_all(&response).await?;
                    request.advance(used);
                    let mut ws = Self { io, conn };
                    ws.conn.receive(&request);
                    return Ok(ws);
                }
                Ok(Status::Partial) if request.len() <= MAX_HANDSHAKE_LEN => {}
                Ok(Status::Partial) => unreachable!("parse refuses oversized requests"),
                Err(err) => {
                    io.write_all(&err.response()).await?;
                    io.shutdown().await?;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, err));
                }
            }
        }
    }

    /// Wraps a stream whose handshake is already done.
    pub fn from_upgraded(io: S, role: Role, config: Config) -> Self {
        Self {
            io,
            conn: Connection::new(role, config),
        }
    }

    /// The next event, reading as needed; `None` once the connection is
    /// closed (after its [`Event::Closed`]) or the peer hung up.
    ///
    /// Automatic replies (pongs, the close reply) are written before the
    /// event is returned; after the close, a server shuts its write side
    /// (RFC 6455 §7.1.1: the server closes TCP first).
    ///
    /// # Errors
    ///
    /// I/O errors of the stream.
    pub async fn next(&mut self) -> Option<io::Result<Event>> {
        loop {
            let event = self.conn.next_event();
            if let Err(err) = self.write_output().await {
                return Some(Err(err));
            }
            if let Some(event) = event {
                if matches!(event, Event::Closed(_)) && self.conn.role() == Role::Server {
                    // Best effort: the peer may already be gone.
                    let _ = self.io.shutdown().await;
                }
                return Some(Ok(event));
            }
            if self.conn.state() == State::Closed {
                return None;
            }
            let buf = self.conn.read_buf();
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            match self.io.read_buf(buf).await {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// Sends a whole message. Large payloads are written after their header
    /// with a vectored write, never copied into an output buffer (a client
    /// still masks into a copy, as it must).
    ///
    /// # Errors
    ///
    /// `InvalidInput` (wrapping a [`SendError`]) after our close, and I/O
    /// errors.
    pub async fn send(&mut self, message: Message) -> io::Result<()> {
        if message.as_bytes().len() < VECTORED_MIN_LEN {
            self.conn.send(message).map_err(invalid_input)?;
            return self.write_output().await;
        }
        let payload = self.conn.send_split(message).map_err(invalid_input)?;
        let mut frame = self.conn.take_output().freeze().chain(payload);
        self.io.write_all_buf(&mut frame).await?;
        self.io.flush().await
    }

    /// Sends a ping.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and for a payload over 125 bytes.
    pub async fn ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.conn.ping(payload).map_err(invalid_input)?;
        self.write_output().await
    }

    /// Starts the close handshake; keep calling [`next`](Self::next) to
    /// receive the peer's answer as [`Event::Closed`].
    ///
    /// # Errors
    ///
    /// As [`Connection::close`], and I/O errors.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        self.conn.close(code, reason).map_err(invalid_input)?;
        self.write_output().await
    }

    /// The connection underneath, for its state.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The stream.
    pub fn into_inner(self) -> S {
        self.io
    }

    async fn write_output(&mut self) -> io::Result<()> {
        if self.conn.has_output() {
            let mut output = self.conn.take_output();
            self.io.write_all_buf(&mut output).await?;
            self.io.flush().await?;
        }
        Ok(())
    }
}
