//! What the application sends and receives: messages, validated text, events.

use std::{fmt, ops::Deref};

use bytes::Bytes;

use crate::{close::CloseCode, error::ProtocolError};

/// A complete data message (or, in streaming mode, a piece of one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// UTF-8 text.
    Text(Text),
    /// Arbitrary bytes.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }

    /// The payload, shared.
    pub(crate) const fn payload(&self) -> &Bytes {
        match self {
            Self::Text(text) => &text.0,
            Self::Binary(bytes) => bytes,
        }
    }

    /// Whether this is a text message.
    pub const fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.into())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Binary(bytes.into())
    }
}

impl From<&[u8]> for Message {
    fn from(bytes: &[u8]) -> Self {
        Self::Binary(Bytes::copy_from_slice(bytes))
    }
}

/// Text known to be valid UTF-8, sharing its buffer (a [`Bytes`]) with the
/// bytes it was received in: no copy and no second validation.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);

impl Text {
    /// Wraps bytes after validating them.
    ///
    /// # Errors
    ///
    /// If `bytes` is not valid UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, utf8stream::Utf8Error> {
        utf8stream::validate(&bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps bytes without validating them.
    ///
    /// # Safety
    ///
    /// `bytes` must be valid UTF-8: [`as_str`](Self::as_str) hands them out
    /// as a `str` unchecked. The receive pipeline calls it only with the
    /// bytes a `Utf8Validator` accepted whole (see `recv::message`).
    pub(crate) unsafe fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: a `Text` holds valid UTF-8 from its construction on (its
        // bytes are never changed): `try_from_bytes` validates,
        // `From<String>`/`From<&str>` start from a `str`, and the unsafe
        // `from_validated` requires it of its caller.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self(Bytes::from(text.into_bytes()))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened on a connection; pulled with
/// [`Connection::next_event`](crate::Connection::next_event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete message (all fragments joined; text already validated).
    Message(Message),
    /// Streaming mode only: the next piece of the current message. Text pieces
    /// are validated and end on code-point boundaries.
    ///
    /// A piece may be empty: the last one is empty when the message's end
    /// comes after its bytes were handed out (an empty final fragment; a
    /// compressed message whose last bytes filled the piece before). After
    /// our close frame, the rest of a message being received is not
    /// handed out (we are done with data once our close is sent, §5.5.1,
    /// and read only control frames until the peer's answers), so a message
    /// cut by [`Connection::close`](crate::Connection::close) gets no piece
    /// with `last` set. Nor does a message cut by a failure (1007 for
    /// invalid UTF-8, 1009 past the message limit, 1002): its pieces stop,
    /// and [`Event::Closed`] follows; every piece handed out before was
    /// valid and within the limit.
    Chunk {
        /// The piece.
        data: Message,
        /// Whether it ends the message.
        last: bool,
    },
    /// A ping; with [`Config::auto_pong`](crate::Config::auto_pong) on, its pong is already queued.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The connection closed: by a close handshake, or because the peer broke
    /// the protocol. Nothing more will be read; send the remaining output,
    /// then close the socket. When the peer closed first, our answering
    /// close frame is already queued: it echoes the peer's code (1000 if
    /// its frame had none) without a reason, as RFC 6455 §5.5.1 allows.
    /// (Boxed: it comes once, and keeps every other event small.)
    Closed(Box<Closed>),
}

/// Which end started the close.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// The peer sent the first close frame.
    Peer,
    /// We did: by [`Connection::close`](crate::Connection::close), by
    /// failing the connection on a protocol error, or by a timeout
    /// ([`Config::idle_timeout`](crate::Config::idle_timeout), 1001;
    /// [`Config::close_timeout`](crate::Config::close_timeout), 1006).
    Local,
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The code: the peer's (1005 if its close frame had none, RFC 6455
    /// §7.1.5), also when it answered ours; ours when we failed the
    /// connection; 1001 when the idle timeout closed it, 1006 when our
    /// close frame went unanswered for the close timeout (§7.1.5: no close
    /// frame came).
    pub code: CloseCode,
    /// The reason text from the close frame, or the cause of the failure
    /// (`"idle timeout"`, `"close timeout"` for the timeouts).
    pub reason: String,
    /// Who started the close.
    pub initiator: Initiator,
    /// The peer's protocol violation, if that is why the connection closed.
    pub error: Option<ProtocolError>,
}

impl fmt::Display for Closed {
    /// The line a server logs: who closed, the code and its name, the
    /// reason, and what the code means and how to fix its cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let explanation = self.code.explain();
        let by = match self.initiator {
            Initiator::Peer => "the peer",
            Initiator::Local => "us",
        };
        write!(
            f,
            "closed by {by}: {} {} (reason: {:?})\n  meaning: {}\n  ",
            self.code.0, explanation.name, self.reason, explanation.meaning
        )?;
        // Invalid UTF-8 says which bytes and what the sender likely did;
        // its fix is more precise than the code's.
        match self.error.as_ref().and_then(ProtocolError::invalid_utf8) {
            Some(evidence) => write!(f, "{}", evidence.long()),
            None => write!(f, "fix: {}", explanation.fix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_built_every_way_reads_back_as_the_same_str() {
        let original = "héllo 😀";
        let from_bytes = Text::try_from_bytes(Bytes::from_static(original.as_bytes())).unwrap();
        // SAFETY: copied from a `str`.
        let validated =
            unsafe { Text::from_validated(Bytes::copy_from_slice(original.as_bytes())) };
        for text in [
            Text::from(original),
            Text::from(original.to_owned()),
            from_bytes,
            validated,
        ] {
            assert_eq!(text.as_str(), original);
            assert_eq!(&*text, original);
            assert_eq!(text.to_string(), original);
        }
        assert!(Text::try_from_bytes(Bytes::from_static(b"\xC0")).is_err());
    }
}
