//! A stream that keeps what passes through it, for tests that check what
//! a `WebSocket` read and wrote, or how many reads and writes it made.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `io` with a copy of every byte read and written, and the number of
/// reads and of writes that moved bytes (a read at the end of the stream,
/// or one still pending, is not counted).
#[derive(Debug)]
pub struct Tap<S> {
    pub io: S,
    pub read: Vec<u8>,
    pub written: Vec<u8>,
    pub reads: usize,
    pub writes: usize,
}

impl<S> Tap<S> {
    pub fn new(io: S) -> Self {
        Self {
            io,
            read: Vec::new(),
            written: Vec::new(),
            reads: 0,
            writes: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            let new = buf.filled()[before..].to_vec();
            self.read.extend_from_slice(&new);
            self.reads += 1;
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n @ 1..)) = polled {
            self.written.extend_from_slice(&buf[..n]);
            self.writes += 1;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
