//! The one error type of the async layer.

use std::{error::Error as StdError, fmt, io};

use crate::{
    handshake::{HandshakeError, RefusedResponse},
    ProtocolError, SendError,
};

/// What went wrong in [`WebSocket`](super::WebSocket) or its halves; match on
/// it, or turn it into an [`io::Error`] with `?` in a function returning
/// `io::Result`.
///
/// Its `Display` holds the inner error's text, so its
/// [`source`](StdError::source) is the inner error's own source, not the
/// inner error (a chain printer shows each message once); the inner error
/// is the variant's field.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed (reset, broken pipe, the peer hung up mid-frame).
    Io(io::Error),
    /// The peer broke RFC 6455; the close frame with the code it deserves
    /// was sent.
    ///
    /// Not returned by this crate's calls today: [`next`](super::WebSocket::next)
    /// reports a violation as [`Event::Closed`](crate::Event::Closed), whose
    /// [`Closed`](crate::Closed) holds the code sent and the
    /// [`ProtocolError`], then ends. The variant is for code that turns such
    /// a close into an error of its own, and for later versions.
    Protocol(ProtocolError),
    /// The connection is closing or closed: nothing more can be sent
    /// (RFC 6455 §5.5.1).
    Closed,
    /// The opening handshake failed: the peer's request or response was
    /// refused (a server has written the refusal, or tried to: a failure
    /// to write it is not reported, the refusal is).
    Handshake(HandshakeError),
    /// The server answered the client's upgrade with a status other than
    /// 101 (RFC 6455 §4.1): a redirect (3xx with `Location`), a request to
    /// authenticate (401 with `WWW-Authenticate`, RFC 9110 §11.6.1), a
    /// refusal (403, 429…) with its reason in the body. It holds the
    /// status, every header and the body as far as
    /// [`client`](super::WebSocket::client) read it (at most
    /// [`MAX_REFUSED_BODY`](super::MAX_REFUSED_BODY) bytes, waiting at most
    /// [`REFUSED_BODY_WAIT`](super::REFUSED_BODY_WAIT) after the head;
    /// [`RefusedResponse::body_end`] says whether it is whole). Boxed: a
    /// head and a body are large next to the other variants.
    ///
    /// Other answers that are not a valid 101 stay [`Error::Handshake`].
    Refused(Box<RefusedResponse>),
    /// The accept callback of
    /// [`WebSocket::accept_with`](super::WebSocket::accept_with) refused the
    /// request; its response was written and the stream shut down (or
    /// tried: a failure to write it, the client gone, is not reported).
    Rejected,
    /// A message, fragment or control frame we asked to send was refused
    /// before anything was queued (too long, out of order, ...).
    Send(SendError),
    /// Our close frame was not answered within
    /// [`Config::close_timeout`](crate::Config::close_timeout); the
    /// connection is closed.
    Timeout,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "WebSocket stream failed: {err}"),
            Self::Protocol(err) => write!(
                f,
                "the peer broke the WebSocket protocol and was closed with {}: {err}",
                err.close_code().0
            ),
            Self::Closed => f.write_str(
                "the WebSocket connection is closing or closed: nothing more can be sent",
            ),
            Self::Handshake(err) => write!(f, "WebSocket handshake failed: {err}"),
            Self::Refused(response) => write!(f, "WebSocket handshake refused: {response}"),
            Self::Rejected => f.write_str("the upgrade request was refused by the accept callback"),
            Self::Send(err) => write!(f, "not sent: {err}"),
            Self::Timeout => f.write_str(
                "the peer did not answer our close frame within the close timeout \
                 (Config::close_timeout); the connection is dropped",
            ),
        }
    }
}

/// The inner error's text is part of `Display`, so `source` is the inner
/// error's own source, not the inner error: a chain printer (anyhow's
/// `{:#}`, `tracing`'s error fields) shows each message once. This is
/// `std::io::Error`'s rule for a wrapped error. The inner error itself is
/// the variant's field.
impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Io(err) => err.source(),
            Self::Protocol(err) => err.source(),
            Self::Handshake(err) => err.source(),
            Self::Refused(response) => response.source(),
            Self::Send(err) => err.source(),
            Self::Closed | Self::Rejected | Self::Timeout => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

impl From<HandshakeError> for Error {
    fn from(err: HandshakeError) -> Self {
        Self::Handshake(err)
    }
}

impl From<SendError> for Error {
    /// [`SendError::Closed`] is [`Error::Closed`]; the rest are [`Error::Send`].
    fn from(err: SendError) -> Self {
        match err {
            SendError::Closed => Self::Closed,
            err => Self::Send(err),
        }
    }
}

impl From<Error> for io::Error {
    /// `Io` as it was; the others with the kind closest to them
    /// (`InvalidData`, `ConnectionRefused` for `Rejected` and `Refused`,
    /// `NotConnected`, `InvalidInput`, `TimedOut`), holding the `Error`
    /// ([`get_ref`](io::Error::get_ref), then `downcast_ref::<Error>`): the
    /// `io::Error`'s text and source are the `Error`'s.
    fn from(err: Error) -> Self {
        let kind = match &err {
            Error::Io(_) => match err {
                Error::Io(err) => return err,
                _ => unreachable!("matched as Io"),
            },
            Error::Protocol(_) | Error::Handshake(_) => io::ErrorKind::InvalidData,
            Error::Rejected | Error::Refused(_) => io::ErrorKind::ConnectionRefused,
            Error::Closed => io::ErrorKind::NotConnected,
            Error::Send(_) => io::ErrorKind::InvalidInput,
            Error::Timeout => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, err)
    }
}
