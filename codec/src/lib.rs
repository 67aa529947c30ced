//! A sans-IO WebSocket (RFC 6455) codec with exact close codes.
//!
//! Bytes in, events and bytes out: no sockets, no runtime, no threads. It
//! embeds in a blocking server, an async one, a proxy or a fuzzer alike.
//!
//! - **Every violation gets the close code RFC 6455 asks for**: 1002 for a
//!   protocol error, **1007 the moment a text message stops being valid
//!   UTF-8** (checked per received chunk, mid-frame and mid-code-point, by
//!   [`utf8stream`]), 1009 for a frame or message over the limits.
//! - **Bounded memory**: limits are checked against a frame header's declared
//!   length before any payload is buffered; nothing is reserved up front.
//! - **Explainable**: [`CloseCode::explain`] says what a code means, when you
//!   see it and how to fix it.
//!
//! # Quick start: a blocking echo loop
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use wsframe::{handshake::{Status, UpgradeRequest}, Config, Connection, Event, Role, State};
//!
//! # fn main() -> std::io::Result<()> {
//! let listener = std::net::TcpListener::bind("127.0.0.1:9001")?;
//! let (mut socket, _) = listener.accept()?;
//! let mut buf = vec![0; 64 * 1024];
//! let mut request = Vec::new();
//! let rest = loop {
//!     let n = socket.read(&mut buf)?;
//!     request.extend_from_slice(&buf[..n]);
//!     match UpgradeRequest::parse(&request) {
//!         Ok(Status::Complete((upgrade, used))) => {
//!             socket.write_all(&upgrade.response(None))?;
//!             break request.split_off(used);
//!         }
//!         Ok(Status::Partial) => continue,
//!         Err(err) => return socket.write_all(&err.response()),
//!     }
//! };
//! let mut conn = Connection::new(Role::Server, Config::default());
//! conn.receive(&rest);
//! loop {
//!     while let Some(event) = conn.next_event() {
//!         match event {
//!             Event::Message(message) => conn.send(message).expect("open"),
//!             Event::Closed(closed) => println!("{}", closed.code.explain()),
//!             _ => {} // pongs are queued automatically
//!         }
//!     }
//!     socket.write_all(&conn.take_output())?;
//!     if conn.state() == State::Closed { break; }
//!     let n = socket.read(&mut buf)?;
//!     if n == 0 { break; }
//!     conn.receive(&buf[..n]);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The full server is `examples/echo_server.rs`:
//! `cargo run --release -p wsframe --example echo_server`. Every close is
//! logged with [`Closed`]'s `Display`, which carries [`CloseCode::explain`];
//! `cargo run -p wsframe --example explain -- 1000 1007` prints the
//! explanations, side by side for two codes.
//!
//! # Layers
//!
//! 1. [`frame`]: [`FrameHeader`] parsing ("need more" is a [`Status`], not an
//!    error) and encoding, and [`apply_mask`] (AVX2/SSE2/NEON, resumable).
//! 2. [`FrameDecoder`] / [`FrameEncoder`]: frames out of a caller's buffer,
//!    payload unmasked in place as it arrives, limits before allocation.
//! 3. [`Connection`]: the RFC 6455 state machine. Its first pass follows
//!    the frame headers as bytes come in and unmasks payloads and validates
//!    text in the copy that [`Connection::receive`] makes anyway, so each
//!    payload byte is touched once (`utf8stream`'s fused AVX-512 or AVX2 loop); bytes
//!    read straight into [`Connection::read_buf`] get the same pass in place.
//!    Small whole messages are then handed out as slices of the read buffer;
//!    fragments, and whole messages of 32 KiB or more, are written in that
//!    same pass into a buffer of their message's own, so a fragmented
//!    message is never copied again to be joined.
//!
//! [`handshake`] validates the HTTP upgrade and computes the accept key.
//!
//! # Features
//!
//! - `tokio` (off by default): `tokio::WsCodec`, a `tokio_util::codec`
//!   Decoder/Encoder, and `tokio::WebSocket`, an async wrapper over any
//!   `AsyncRead + AsyncWrite` stream that does the handshake and the I/O
//!   (large payloads are written after their header with vectored writes, not
//!   copied). A tokio quick start is in the `tokio` module's docs; the full
//!   server is `examples/tokio_echo_server.rs`.
//!
//! # Limits (denial of service)
//!
//! | limit | default | exceeded |
//! |---|---|---|
//! | [`Config::max_frame_size`] | 16 MiB | 1009, before the payload is read |
//! | [`Config::max_message_size`] | 64 MiB | 1009, before the frame's payload is read |
//! | [`handshake::MAX_HANDSHAKE_LEN`] | 16 KiB | 400 |
//!
//! # Close codes
//!
//! | code | sent by this crate when |
//! |---|---|
//! | 1000 | answering a peer's empty close, or by [`Connection::close`] |
//! | 1002 | any framing or handshake-state violation ([`ProtocolError`]) |
//! | 1007 | a text message or close reason that is not UTF-8 |
//! | 1009 | a frame or message over the configured limits |
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

mod close;
mod config;
mod connection;
mod decoder;
mod diagnosis;
mod encoder;
mod error;
pub mod frame;
pub mod handshake;
mod ingest;
mod mask;
mod message;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use close::{CloseCode, Explanation};
pub use config::{Config, Role};
pub use connection::{Connection, State};
pub use decoder::{Decoded, FrameDecoder};
pub use diagnosis::{Diagnosis, InvalidUtf8, CONTEXT_LEN};
pub use encoder::{FrameEncoder, MaskSource, OsRandomMask};
pub use error::{ProtocolError, SendError};
pub use frame::{FrameHeader, OpCode, Status};
pub use mask::apply_mask;
#[doc(hidden)]
pub use mask::apply_mask_bytewise;
pub use message::{Closed, Event, Initiator, Message, Text};

#[doc(hidden)]
pub mod fuzzing;
