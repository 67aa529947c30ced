//! `futures::Stream` and `Sink` (feature `futures`), over the same polls as
//! the async methods: a `Stream` of [`Event`]s, a `Sink` of [`Message`]s
//! (`poll_ready` waits for room under
//! [`Config::max_output_buffer`](crate::Config::max_output_buffer),
//! `poll_close` sends a 1000 close frame and writes it out; the peer's
//! answer arrives on the stream).

use std::{
    pin::Pin,
    task::{ready, Context, Poll},
};

use ::tokio::io::{AsyncRead, AsyncWrite};
use futures_core::Stream;
use futures_sink::Sink;

use super::{
    core::{abandoned_output, Core, Side, WithCore},
    Error, WebSocket, WebSocketReader, WebSocketWriter,
};
use crate::{CloseCode, Event, Message, State};

/// Sends our close frame and writes it out. `bounded`: this task alone
/// polls the connection (a whole `WebSocket`), so it gives the write up as
/// the reader would, once it made no progress for
/// [`Config::close_timeout`](crate::Config::close_timeout); a split
/// writer leaves that to its reader.
fn poll_close<S: AsyncRead + AsyncWrite + Unpin>(
    core: &mut Core<S>,
    cx: &mut Context<'_>,
    bounded: bool,
) -> Poll<Result<(), Error>> {
    if core.conn.state() == State::Open {
        core.conn.close(CloseCode::NORMAL, "")?;
    }
    match core.poll_write_output(cx, Side::Writer, 0) {
        Poll::Pending if bounded && core.close_write_given_up(cx) => {
            Poll::Ready(Err(abandoned_output().into()))
        }
        Poll::Pending => Poll::Pending,
        Poll::Ready(result) => Poll::Ready(result.map_err(Error::from)),
    }
}

/// Ready once there is room; the room is then the next message's.
fn poll_ready<S: AsyncRead + AsyncWrite + Unpin>(
    core: &mut Core<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    let ready = ready!(core.poll_room(cx, Side::Writer));
    core.room_promised = ready.is_ok();
    Poll::Ready(ready.map_err(Error::from))
}

/// Queues `message`, past the output limit if `poll_ready` promised room
/// that an automatic pong or keepalive ping took since (the `Sink`
/// contract: after `poll_ready`, `start_send` takes the item).
fn start_send<S: AsyncRead + AsyncWrite + Unpin>(
    core: &mut Core<S>,
    message: Message,
) -> Result<(), Error> {
    if std::mem::take(&mut core.room_promised) {
        core.conn.send_in_promised_room(message)?;
    } else {
        core.conn.send(message)?;
    }
    core.wake_reader();
    Ok(())
}

macro_rules! stream_and_sink {
    ($stream:ident, $sink:ident, $field:ident, $bounded_close:expr) => {
        /// The events of [`next`](WebSocket::next), through the same poll
        /// (feature `futures`): `None` once the connection ended.
        ///
        /// # Cancel safety
        ///
        /// `poll_next` keeps nothing between polls but the connection's
        /// own state: a `StreamExt::next` future dropped before it is
        /// ready loses no event and cuts no pong or close frame, as
        /// [`WebSocket::next`].
        impl<S: AsyncRead + AsyncWrite + Unpin> Stream for $stream<S> {
            type Item = Result<Event, Error>;

            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                self.$field.with(|core| core.poll_next(cx))
            }
        }

        /// Messages sent as [`feed`](WebSocket::feed) then
        /// [`flush`](WebSocket::flush) do (feature `futures`): `poll_ready`
        /// waits for room under
        /// [`Config::max_output_buffer`](crate::Config::max_output_buffer),
        /// `start_send` queues the message (into that room, even if an
        /// automatic pong took it since), `poll_flush` writes all that is
        /// queued, `poll_close` queues a 1000 close frame (RFC 6455
        /// §7.1.2) once and writes it out; the peer's answer arrives on the
        /// `Stream`.
        ///
        /// # Errors
        ///
        /// [`Error::Closed`] after our close or the peer's (from
        /// `poll_ready` and `start_send`); [`Error::Send`] from
        /// `start_send` while a fragmented message is open
        /// ([`SendError::FragmentOutOfOrder`](crate::SendError::FragmentOutOfOrder))
        /// or, called without `poll_ready`, on a full output
        /// ([`SendError::OutputFull`](crate::SendError::OutputFull));
        /// [`Error::Io`]; and, from a whole
        /// `WebSocket`'s `poll_close`, [`Error::Io`] of kind `TimedOut`
        /// once its close frame could not be written for
        /// [`Config::close_timeout`](crate::Config::close_timeout).
        ///
        /// # Cancel safety
        ///
        /// A message is queued whole by `start_send` or not at all; a poll
        /// abandoned (a `SinkExt::send` or `close` future dropped) leaves
        /// what was queued to go out with the next call that writes, as
        /// [`WebSocket::send`]; `poll_close` polled again after being
        /// abandoned queues no second close frame.
        impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for $sink<S> {
            type Error = Error;

            fn poll_ready(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), Error>> {
                self.$field.with(|core| poll_ready(core, cx))
            }

            fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
                self.$field.with(|core| start_send(core, message))
            }

            fn poll_flush(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), Error>> {
                self.$field
                    .with(|core| core.poll_write_output(cx, Side::Writer, 0))
                    .map_err(Error::from)
            }

            fn poll_close(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), Error>> {
                self.$field
                    .with(|core| poll_close(core, cx, $bounded_close))
            }
        }
    };
}

stream_and_sink!(WebSocket, WebSocket, core, true);
stream_and_sink!(WebSocketReader, WebSocketWriter, core, false);
