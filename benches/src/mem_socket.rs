//! An in-memory socket for the benches: reads come from a byte slice, at most
//! 64 KiB at a time (as from a real socket); writes are counted and dropped.

use std::{
    io::{self, Read, Write},
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one read returns.
pub const READ_SIZE: usize = 64 << 10;

/// Reads from a slice, counts what is written.
pub struct MemSocket<'a> {
    input: &'a [u8],
    /// Bytes written so far.
    pub written: usize,
    /// At the end of the input: "would block" (an idle peer) rather than EOF.
    idle_at_end: bool,
}

impl<'a> MemSocket<'a> {
    /// A socket that reaches end-of-file after `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            written: 0,
            idle_at_end: false,
        }
    }

    /// A socket whose peer goes quiet after `input`: reads then block
    /// (`WouldBlock`, or `Pending` for async readers).
    pub fn idle(input: &'a [u8]) -> Self {
        Self {
            idle_at_end: true,
            ..Self::new(input)
        }
    }

    /// Copies the next read into `buf`; returns its length (0 at the end).
    pub fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len()).min(READ_SIZE);
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        n
    }
}

impl Read for MemSocket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.read_into(buf) {
            0 if self.idle_at_end && !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl Write for MemSocket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemSocket<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.input.is_empty() && this.idle_at_end {
            return Poll::Pending;
        }
        let n = this.read_into(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemSocket<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
