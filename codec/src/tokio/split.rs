//! [`WebSocket::split`](super::WebSocket::split): a reader and a writer
//! over one shared core, locked only inside a poll (never across an
//! `.await`), so the two run in two tasks at once.

use std::{
    fmt,
    future::{poll_fn, Future},
    sync::{Arc, Mutex, PoisonError},
};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::{
    core::{self, Core, Side, WithCore},
    Error, WebSocket,
};
use crate::{CloseCode, Event, Message, State};

pub(crate) fn split<S>(core: Core<S>) -> (WebSocketReader<S>, WebSocketWriter<S>) {
    let shared = Arc::new(Mutex::new(core));
    (
        WebSocketReader {
            core: Arc::clone(&shared),
        },
        WebSocketWriter { core: shared },
    )
}

/// The receiving half of a split [`WebSocket`](super::WebSocket). It also
/// writes what the connection answers by itself (pongs, the close reply)
/// and runs the keepalive and timeouts, even while the writer is idle.
#[derive(Debug)]
pub struct WebSocketReader<S> {
    pub(super) core: Arc<Mutex<Core<S>>>,
}

/// The sending half of a split [`WebSocket`](super::WebSocket).
#[derive(Debug)]
pub struct WebSocketWriter<S> {
    pub(super) core: Arc<Mutex<Core<S>>>,
}

impl<S> WebSocketReader<S> {
    /// Joins the two halves of one [`WebSocket`] again (as tokio's
    /// `OwnedReadHalf::reunite`): nothing queued or buffered is lost.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`], holding both halves unchanged, if they came from
    /// two different sockets.
    pub fn reunite(self, writer: WebSocketWriter<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.core, &writer.core) {
            return Err(ReuniteError(self, writer));
        }
        drop(writer);
        let core = Arc::into_inner(self.core)
            .expect("the two halves hold the only references to their core");
        Ok(WebSocket {
            core: core.into_inner().unwrap_or_else(PoisonError::into_inner),
        })
    }
}

/// [`WebSocketReader::reunite`] was given halves of two different
/// sockets; here they are back.
pub struct ReuniteError<S>(pub WebSocketReader<S>, pub WebSocketWriter<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReuniteError").finish_non_exhaustive()
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "tried to reunite the reader and writer of two different WebSockets: \
             pass each reader the writer split from the same socket",
        )
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketReader<S> {
    /// As [`WebSocket::next`](super::WebSocket::next).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::next`](super::WebSocket::next).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`WebSocket::next`](super::WebSocket::next).
    #[expect(
        clippy::should_implement_trait,
        reason = "the async method's future (an async fn before), not an iterator's next"
    )]
    pub fn next(&mut self) -> impl Future<Output = Option<Result<Event, Error>>> + '_ {
        poll_fn(|cx| self.core.with(|core| core.poll_next(cx)))
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.core.clone().with(|core| core.conn.state())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketWriter<S> {
    /// As [`WebSocket::send`](super::WebSocket::send).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`](super::WebSocket::send).
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`](super::WebSocket::send): never cut; queued
    /// or not.
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        core::send(&mut self.core, Side::Writer, message)
    }

    /// As [`WebSocket::send_compressed`](super::WebSocket::send_compressed).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`](super::WebSocket::send).
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`](super::WebSocket::send): never cut; queued
    /// or not.
    pub async fn send_compressed(&mut self, message: Message, compress: bool) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| {
            conn.send_compressed(message, compress)
        })
        .await
    }

    /// As [`WebSocket::feed`](super::WebSocket::feed): the reader writes
    /// the message out if this half does not flush it.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`](super::WebSocket::send).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, strictly: dropped before it completes, the message was
    /// not queued.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        core::queue_when_room(&mut self.core, Side::Writer, |conn| conn.send(message)).await?;
        self.core.with(|core| core.wake_reader());
        Ok(())
    }

    /// As [`WebSocket::send_fragment`](super::WebSocket::send_fragment).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send_fragment`](super::WebSocket::send_fragment).
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send_fragment`](super::WebSocket::send_fragment).
    pub async fn send_fragment(&mut self, fragment: Message, fin: bool) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| {
            conn.send_fragment(fragment, fin)
        })
        .await
    }

    /// As [`WebSocket::feed_fragment`](super::WebSocket::feed_fragment):
    /// the reader writes the fragment out if this half does not flush it.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send_fragment`](super::WebSocket::send_fragment).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, strictly: dropped before it completes, the fragment was
    /// not queued.
    pub async fn feed_fragment(&mut self, fragment: Message, fin: bool) -> Result<(), Error> {
        core::queue_when_room(&mut self.core, Side::Writer, |conn| {
            conn.send_fragment(fragment, fin)
        })
        .await?;
        self.core.with(|core| core.wake_reader());
        Ok(())
    }

    /// As [`WebSocket::ping`](super::WebSocket::ping).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::ping`](super::WebSocket::ping).
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`](super::WebSocket::send).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| conn.ping(payload)).await
    }

    /// As [`WebSocket::pong`](super::WebSocket::pong).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::pong`](super::WebSocket::pong).
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`](super::WebSocket::send).
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        core::queue_and_flush(&mut self.core, Side::Writer, |conn| conn.pong(payload)).await
    }

    /// As [`WebSocket::flush`](super::WebSocket::flush).
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

    /// Sends our close frame (RFC 6455 §7.1.2). The reader receives the
    /// peer's answer as [`Event::Closed`], or, after
    /// [`Config::close_timeout`](crate::Config::close_timeout), an
    /// `Event::Closed` with code 1006 and reason `"close timeout"`.
    ///
    /// # Errors
    ///
    /// [`Error::Send`] for an unsendable code or a reason over 123 bytes,
    /// [`Error::Closed`] if the connection was already closed (not while
    /// our close frame waits for its answer: then `Ok`, nothing sent
    /// again), [`Error::Io`] when writing the frame fails. No
    /// [`Error::Timeout`], unlike [`WebSocket::close`](super::WebSocket::close):
    /// this call does not wait for the answer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: called again, it sends no second close frame.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        core::start_close(&mut self.core, Side::Writer, code, reason).await
    }
}
