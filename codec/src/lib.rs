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
//!   length before any payload is buffered, and a new connection holds no
//!   buffer. Once used, it keeps its read and output buffers for reuse, as
//!   large as the largest message received and output queued needed them
//!   (a server's large uncompressed payloads go out by reference and grow
//!   no buffer).
//! - **Explainable**: [`CloseCode::explain`] says what a code means, when you
//!   see it and how to fix it.
//!
//! # Quick start: a blocking echo server
//!
//! A thread per client. Copy the handling of the socket too: a client may
//! send half a request and hang up (`read` returns 0), stall (the deadline),
//! or send something that is not an upgrade (the 4xx or 505 answer).
//!
//! ```
//! use std::{
//!     io::{self, Read, Write},
//!     net::{Shutdown, TcpListener, TcpStream},
//!     time::{Duration, Instant},
//! };
//! use wsframe::{
//!     handshake::{Status, UpgradeRequest},
//!     Config, Connection, Event, Role, SendError, State,
//! };
//!
//! /// One client: the opening handshake, then echo until either side closes.
//! fn echo(mut socket: TcpStream) -> io::Result<()> {
//!     let mut buf = vec![0; 64 * 1024];
//!     let mut request = Vec::new();
//!     // The whole request within 10 s, however slowly it trickles in.
//!     let deadline = Instant::now() + Duration::from_secs(10);
//!     let rest = loop {
//!         let left = deadline.saturating_duration_since(Instant::now());
//!         if left.is_zero() {
//!             return Err(io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"));
//!         }
//!         socket.set_read_timeout(Some(left))?;
//!         let n = match socket.read(&mut buf) {
//!             Err(err) if err.kind() == io::ErrorKind::Interrupted => continue, // a signal
//!             n => n?,
//!         };
//!         if n == 0 {
//!             return Ok(()); // hung up before the request was whole
//!         }
//!         request.extend_from_slice(&buf[..n]);
//!         match UpgradeRequest::parse(&request) {
//!             Ok(Status::Complete((upgrade, used))) => {
//!                 socket.write_all(&upgrade.response(None))?;
//!                 break request.split_off(used); // frames sent right behind it
//!             }
//!             Ok(Status::Partial) => {} // `parse` refuses requests over 16 KiB
//!             Err(err) => return socket.write_all(&err.response()), // 400 or 426
//!         }
//!     };
//!     // A client silent for 60 s is gone; so is one that stops reading.
//!     socket.set_read_timeout(Some(Duration::from_secs(60)))?;
//!     socket.set_write_timeout(Some(Duration::from_secs(60)))?;
//!     let mut conn = Connection::new(Role::Server, Config::default());
//!     conn.receive(&rest);
//!     loop {
//!         while let Some(event) = conn.next_event() {
//!             match event {
//!                 Event::Message(message) => {
//!                     // An output at `Config::max_output_buffer` (4 MiB) refuses
//!                     // the echo: write out what waits, then send it again.
//!                     if let Err(SendError::OutputFull { .. }) = conn.send(message.clone()) {
//!                         socket.write_all(&conn.take_output())?;
//!                         conn.send(message).unwrap_or(()); // fails only after our close
//!                     }
//!                 }
//!                 Event::Closed(closed) => println!("{closed}"), // what the code means
//!                 _ => {} // pongs and the close reply are queued for you
//!             }
//!         }
//!         socket.write_all(&conn.take_output())?;
//!         if conn.state() == State::Closed {
//!             return socket.shutdown(Shutdown::Write); // §7.1.1: the server closes TCP
//!         }
//!         let n = match socket.read(&mut buf) {
//!             Err(err) if err.kind() == io::ErrorKind::Interrupted => continue, // a signal
//!             n => n?,
//!         };
//!         if n == 0 {
//!             return Ok(()); // hung up without a close frame (1006)
//!         }
//!         conn.receive(&buf[..n]);
//!     }
//! }
//!
//! fn main() -> io::Result<()> {
//! #   if true { return half_a_request_then_hang_up(); }
//!     let listener = TcpListener::bind("127.0.0.1:9001")?;
//!     for socket in listener.incoming() {
//!         match socket {
//!             Ok(socket) => {
//!                 std::thread::spawn(move || {
//!                     if let Err(err) = echo(socket) {
//!                         eprintln!("connection failed: {err}");
//!                     }
//!                 });
//!             }
//!             Err(err) => eprintln!("accept failed: {err}"),
//!         }
//!     }
//!     Ok(())
//! }
//! # /// What this doc test checks: a client that sends half an upgrade
//! # /// request and hangs up ends `echo` at once, rather than spinning on
//! # /// `read` returning 0.
//! # fn half_a_request_then_hang_up() -> io::Result<()> {
//! #     let listener = TcpListener::bind("127.0.0.1:0")?;
//! #     let mut client = TcpStream::connect(listener.local_addr()?)?;
//! #     client.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")?;
//! #     drop(client);
//! #     let (socket, _) = listener.accept()?;
//! #     let (returned, outcome) = std::sync::mpsc::channel();
//! #     std::thread::spawn(move || returned.send(echo(socket)));
//! #     let outcome = outcome.recv_timeout(Duration::from_secs(5));
//! #     assert!(matches!(outcome, Ok(Ok(()))), "echo did not return Ok(()) within 5 s: {outcome:?}");
//! #     Ok(())
//! # }
//! ```
//!
//! The full server is `examples/src/bin/echo_server.rs` in the repository:
//! `cargo run --release -p wsframe-examples --bin echo_server`. Every close is
//! logged with [`Closed`]'s `Display`, which carries [`CloseCode::explain`];
//! `cargo run -p wsframe-examples --bin explain -- 1000 1007` prints the
//! explanations, side by side for two codes.
//!
//! # Layers
//!
//! Data flows one way: bytes → frames → messages → events.
//!
//! 1. [`frame`]: the header grammar. [`FrameHeader::parse`] says what a
//!    header's bytes say ("need more" is a [`Status`], not an error) and
//!    [`FrameHeader::encode`] writes one; [`apply_mask`] unmasks
//!    (resumable at any offset).
//! 2. The receive pipeline (private, `recv/`). Its frame reader is the one
//!    place where received headers are parsed and judged: reserved bits as
//!    the negotiated extensions allow, opcodes, control frames, masking by
//!    role, minimal lengths, the frame limit. It unmasks each payload as it
//!    lands, validating text in the same pass (`utf8stream`'s fused AVX-512
//!    or AVX2 loop): in the copy that [`Connection::receive`] makes anyway,
//!    or in place for bytes read straight into [`Connection::read_buf`]
//!    (with the room and read limit [`Connection::prepare_read`] gives, a
//!    large whole message is read where it is handed out, never moved). Its
//!    message assembler applies the message rules (fragment order, the
//!    message limit, the UTF-8 verdict) and decides where each payload goes:
//!    whole messages stay in the read buffer and are handed out as slices
//!    of it, but for those under 256 bytes, copied out into an allocation
//!    of their own (cheaper than sharing the buffer); fragments, and whole
//!    messages of 32 KiB or more being copied in, are written in that same
//!    pass into a buffer of their message's own, so a fragmented message is
//!    never copied again to be joined. Extensions plug in between: the reader asks them which RSV
//!    bits are allowed, the assembler hands their messages' payloads through
//!    them.
//! 3. [`Connection`]: the RFC 6455 state machine (open, close sent, closed;
//!    the close handshake; failing with the right code; answering pings)
//!    over what the pipeline hands it, and the send side, whose
//!    [`FrameEncoder`] writes frames (masked with a fresh key for a client).
//!
//! [`handshake`] validates the HTTP upgrade and computes the accept key.
//!
//! # Features
//!
//! - `deflate` (on by default): permessage-deflate (RFC 7692), off in
//!   [`Config`] until `ConfigBuilder::deflate` turns it on:
//!   `DeflateConfig`, `DeflateParams`, `Connection::with_deflate`.
//! - `tokio` (off by default): the `tokio` module.
//!   `tokio::WebSocket` over any `AsyncRead + AsyncWrite` stream: server
//!   (`accept`, `accept_with` seeing the request), client (`client` over a
//!   stream of yours, TLS included), cancel-safe `next`/`send`/`feed`/
//!   `close`, `split` into a reader and a writer for two tasks, keepalive
//!   and timeouts from [`Config`], backpressure at
//!   [`Config::max_output_buffer`]; one error type, `tokio::Error`. Also
//!   `tokio::WsCodec`, a `tokio_util::codec` Decoder/Encoder. The runtime
//!   needs its time driver. Servers: `examples/src/bin/tokio_echo_server.rs`,
//!   `tokio_chat_server.rs`.
//! - `futures` (off by default; turns on `tokio`): `futures::Stream` of
//!   events and `Sink` of messages for `tokio::WebSocket` and its split
//!   halves.
//! - `http` (off by default): conversions between the handshake and the
//!   `http` crate's types (hyper, axum), the client handshake built from an
//!   `http::Uri`, and with `tokio`, `tokio::WebSocket::connect(uri, config)`
//!   over TCP.
//!
//! # Limits (denial of service)
//!
//! | limit | default | exceeded |
//! |---|---|---|
//! | [`Config::max_frame_size`] | 16 MiB | 1009, before the payload is read |
//! | [`Config::max_message_size`] | 64 MiB | 1009, before the frame's payload is read; a compressed message's inflated bytes, as soon as inflating passes it (in streaming mode the pieces up to the limit are handed out first) |
//! | [`handshake::MAX_HANDSHAKE_LEN`] | 16 KiB of request head | 431 |
//! | [`handshake::MAX_HEADERS`] | 64 header lines | 431 |
//! | [`Config::max_outgoing_frame_size`] | 16 MiB per frame we send | a longer message (compressed or not) sent as several frames, so a peer with the same frame limit takes it |
//! | [`Config::max_output_buffer`] | 4 MiB unsent | sends refused ([`SendError::OutputFull`]) or awaited (tokio); past it, automatic pongs coalesced |
//! | [`Config::idle_timeout`] | off | 1001, see [`Connection::handle_timeout`] |
//! | [`Config::close_timeout`] | 10 s | closed, reported as 1006 |
//!
//! # Close codes
//!
//! | code | sent by this crate when |
//! |---|---|
//! | 1000 | answering a peer's empty close, or by [`Connection::close`] |
//! | 1001 | the idle timeout ([`Config::idle_timeout`]) ran out |
//! | 1002 | any framing or handshake-state violation ([`ProtocolError`]) |
//! | 1007 | a text message or close reason that is not UTF-8, or a compressed message that does not inflate ([`ProtocolError::InflateFailed`]) |
//! | 1009 | a frame or message over the configured limits |
//!
//! A peer's close frame with a code is answered with the same code (RFC
//! 6455 §5.5.1). 1005 (no code in the peer's close frame) and 1006 (no
//! close frame at all, or [`Config::close_timeout`] ran out) are reported
//! in [`Closed`], never sent (§7.4.1).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Docs link to permessage-deflate's items (`DeflateConfig`,
// `Config::deflate`, ...) where they say what it changes; without the
// feature those items do not exist and the links stay text. Every link is
// checked in the default and all-features builds.
#![cfg_attr(not(feature = "deflate"), allow(rustdoc::broken_intra_doc_links))]
#![forbid(unsafe_op_in_unsafe_fn)]

mod close;
mod config;
mod connection;
mod diagnosis;
mod error;
mod ext;
pub mod frame;
pub mod handshake;
mod mask;
mod message;
mod recv;
mod send;
mod timers;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) and
/// [`BytesMut`](bytes::BytesMut) this API takes and returns: name them as
/// `wsframe::bytes::Bytes` and you always have the version it was built with.
pub use bytes;
pub use close::{CloseCode, Explanation};
pub use config::{Config, ConfigBuilder, Role};
pub use connection::{Connection, State};
pub use diagnosis::{Diagnosis, InvalidUtf8, CONTEXT_LEN};
pub use error::{ProtocolError, SendError};
#[cfg(feature = "deflate")]
pub use ext::deflate::{DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE};
pub use frame::{FrameHeader, OpCode, Status};
pub use mask::apply_mask;
#[doc(hidden)]
pub use mask::apply_mask_bytewise;
pub use message::{Closed, Event, Initiator, Message, Text};
pub use send::{FrameEncoder, MaskSource, OsRandomMask};

#[doc(hidden)]
pub mod fuzzing;
