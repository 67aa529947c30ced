//! A sans-IO peer reading what a `wsframe::tokio::WebSocket` wrote into a
//! `tokio::io::duplex` pipe, and a stream that hands out scripted pieces.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use tokio::io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream, ReadBuf};
use wsframe::{tokio::WebSocket, Config, Connection, Event, Role};

/// A server `WebSocket` over one end of a `duplex(buffer)` pipe, and the
/// other end for the peer.
pub fn server(buffer: usize, config: Config) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (ours, theirs) = duplex(buffer);
    (
        WebSocket::from_upgraded(ours, Role::Server, config, Bytes::new()),
        theirs,
    )
}

/// The sans-IO client on the other end, with a fixed mask.
pub fn peer() -> Connection {
    Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [9, 8, 7, 6]))
}

/// Reads `io` in reads of at most `read_size` bytes until `peer` has
/// `count` events. A corrupted stream shows as a protocol violation, hence
/// a `Closed` event, not as a hang.
///
/// # Panics
///
/// If the other end hangs up first.
pub async fn read_events(
    io: &mut DuplexStream,
    peer: &mut Connection,
    count: usize,
    read_size: usize,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buf = vec![0; read_size];
    while events.len() < count {
        if let Some(event) = peer.next_event() {
            events.push(event);
            continue;
        }
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0, "hung up after {events:?}");
        peer.receive(&buf[..n]);
    }
    events
}

/// The next unmasked frame on `io` (as a server writes it), read by hand
/// from RFC 6455 §5.2, not by the code under test: its first byte (FIN,
/// RSV bits, opcode) and payload.
pub async fn read_frame(io: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut head = [0; 2];
    io.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "a server frame is never masked (§5.1)");
    let len = match head[1] {
        126 => usize::from(io.read_u16().await.unwrap()),
        127 => usize::try_from(io.read_u64().await.unwrap()).unwrap(),
        len => usize::from(len),
    };
    let mut payload = vec![0; len];
    io.read_exact(&mut payload).await.unwrap();
    (head[0], payload)
}

/// A stream whose reads hand out `pieces` one at a time (each whole when it
/// fits), then nothing more, ever (or, after [`Scripted::then_eof`], the
/// end of the stream); writes are kept, and so is whether it was shut down,
/// unless `write_error` or `shutdown_error` makes them fail.
#[derive(Default)]
pub struct Scripted {
    pieces: VecDeque<Vec<u8>>,
    eof: bool,
    pub written: Vec<u8>,
    pub shut_down: bool,
    /// Every write fails with this error (after `taken_before_error`
    /// bytes).
    pub write_error: Option<fn() -> io::Error>,
    /// How many bytes the writes take before `write_error` (a write cut
    /// short at that point, then failing).
    pub taken_before_error: usize,
    /// The shutdown fails with this error.
    pub shutdown_error: Option<fn() -> io::Error>,
}

impl Scripted {
    /// `input` in pieces cut at `cuts` (ascending).
    pub fn new(input: &[u8], cuts: &[usize]) -> Self {
        let mut pieces = VecDeque::new();
        let mut start = 0;
        for end in cuts.iter().copied().chain([input.len()]) {
            if end > start {
                pieces.push_back(input[start..end].to_vec());
            }
            start = end;
        }
        Self {
            pieces,
            ..Self::default()
        }
    }

    /// Reads end the stream (0 bytes) once the pieces are out.
    pub fn then_eof(mut self) -> Self {
        self.eof = true;
        self
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(mut piece) = self.pieces.pop_front() else {
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            // The peer waits for an answer: no byte, no end.
            return Poll::Pending;
        };
        let n = piece.len().min(buf.remaining());
        buf.put_slice(&piece[..n]);
        if n < piece.len() {
            piece.drain(..n);
            self.pieces.push_front(piece);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(error) = self.write_error {
            let left = self.taken_before_error.saturating_sub(self.written.len());
            if left == 0 {
                return Poll::Ready(Err(error()));
            }
            let taken = left.min(buf.len());
            self.written.extend_from_slice(&buf[..taken]);
            return Poll::Ready(Ok(taken));
        }
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.shutdown_error {
            return Poll::Ready(Err(error()));
        }
        self.shut_down = true;
        Poll::Ready(Ok(()))
    }
}
