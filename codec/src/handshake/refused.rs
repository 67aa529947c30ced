//! A server's answer other than 101 (RFC 6455 §4.1: "if the status code
//! received from the server is not 101, the client handles the response per
//! HTTP procedures"): its status, headers and what of its body was read,
//! so that a client can follow a redirect, authenticate, or say why.

use std::fmt;

use super::head::{final_response, Head};
use super::{HandshakeError, Status};

/// How a response's body ends (RFC 9112 §6.3), as its head says.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyFraming {
    /// No body: a 1xx, 204 or 304 status (RFC 9112 §6.3 item 1), or
    /// `Content-Length: 0`.
    Empty,
    /// `Content-Length` bytes (RFC 9112 §6.3 item 6; a list of equal values
    /// counts as one).
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked` (RFC 9112 §7.1): the body is
    /// the chunked coding, ended by a zero-length chunk.
    Chunked,
    /// Until the server closes the connection: neither field, a
    /// `Transfer-Encoding` not ending in `chunked` (RFC 9112 §6.3 items 4
    /// and 8), or a `Content-Length` that is not a number (item 5 makes it
    /// an error; the client closes the connection anyway, so what arrived
    /// is kept for diagnosis).
    UntilClose,
}

/// How much of the body [`RefusedResponse::body`] holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyEnd {
    /// Not read: [`RefusedResponse::parse`] reads the head only; the body
    /// is in the caller's bytes after [`head_len`](RefusedResponse::head_len).
    NotRead,
    /// The whole body as [`framing`](RefusedResponse::framing) delimits it
    /// (for [`BodyFraming::UntilClose`]: up to the server's close).
    Whole,
    /// Cut at the reader's cap (the tokio client's
    /// `tokio::MAX_REFUSED_BODY`); the server
    /// sent or announced more.
    Capped,
    /// The reader stopped waiting (the tokio client's
    /// `tokio::REFUSED_BODY_WAIT`): a server
    /// that keeps the connection open after a body whose end the client
    /// does not look for (chunked, or close-delimited), or one that stalls.
    WaitElapsed,
    /// The connection ended (the server closed it, or it failed) before
    /// `Content-Length` bytes arrived, or failed (a reset, not a close)
    /// inside a body that only a close ends.
    ConnectionEnded,
}

/// A complete response head whose status is not 101: the server refused
/// the upgrade (a redirect, a request to authenticate, a refusal with its
/// reason in the body…).
///
/// [`ClientHandshake::parse_response`](super::ClientHandshake::parse_response)
/// answers it with [`HandshakeError::NotSwitching`] (or
/// [`HandshakeError::HttpVersion`] for an HTTP/1.0 answer); the bytes it
/// was given still hold the response: [`parse`](Self::parse) them to read
/// it. The tokio client does so and reads the body too
/// (`tokio::Error::Refused`).
///
/// ```
/// use wsframe::handshake::{BodyFraming, ClientHandshake, HandshakeError, RefusedResponse, Status};
///
/// let client = ClientHandshake::new(*b"a 16-byte nonce!").target("example.com", "/chat")?;
/// let read = b"HTTP/1.1 302 Found\r\nLocation: wss://example.net/chat\r\nContent-Length: 5\r\n\r\nmoved";
/// assert_eq!(client.parse_response(read), Err(HandshakeError::NotSwitching(302)));
/// let Status::Complete(refused) = RefusedResponse::parse(read)? else {
///     unreachable!("parse_response saw the whole head")
/// };
/// assert_eq!((refused.status(), refused.reason()), (302, "Found"));
/// assert_eq!(refused.header("location"), Some(&b"wss://example.net/chat"[..]));
/// assert_eq!(refused.framing(), BodyFraming::Length(5));
/// assert_eq!(&read[refused.head_len()..], b"moved");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedResponse {
    status: u16,
    minor_version: u8,
    reason: String,
    head: Head,
    /// The interim (1xx) responses skipped before the head.
    interim: usize,
    body: Vec<u8>,
    body_end: BodyEnd,
}

impl RefusedResponse {
    /// Reads the response head at the front of `buf`, under the same limits
    /// as [`parse_response`](super::ClientHandshake::parse_response)
    /// ([`MAX_HANDSHAKE_LEN`](super::MAX_HANDSHAKE_LEN),
    /// [`MAX_HEADERS`](super::MAX_HEADERS)); [`Status::Partial`] while it
    /// is incomplete. The body is not read ([`BodyEnd::NotRead`]): it
    /// starts at [`head_len`](Self::head_len), delimited as
    /// [`framing`](Self::framing) says. Interim responses before it (a 1xx
    /// other than 101) are skipped, as `parse_response` does.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Malformed`] for bytes that are not an HTTP/1.x
    /// response head, or a status below 100 (RFC 9110 §15: 100 to 599; up
    /// to 999 is kept); [`HandshakeError::HeadTooLarge`],
    /// [`HandshakeError::TooManyHeaders`]. A 101 parses too, but is no
    /// refusal: check it with `parse_response`.
    pub fn parse(buf: &[u8]) -> Result<Status<Self>, HandshakeError> {
        let Status::Complete(response) = final_response(buf)? else {
            return Ok(Status::Partial);
        };
        if response.code < 100 {
            return Err(HandshakeError::Malformed);
        }
        Ok(Status::Complete(Self {
            status: response.code,
            minor_version: response.minor_version,
            reason: response.reason,
            head: response.head,
            interim: response.interim,
            body: Vec::new(),
            body_end: BodyEnd::NotRead,
        }))
    }

    /// The same head with `body`, read as far as `end` says.
    #[cfg(feature = "tokio")]
    pub(crate) fn with_body(mut self, body: Vec<u8>, end: BodyEnd) -> Self {
        self.body = body;
        self.body_end = end;
        self
    }

    /// The status code (302, 401, 403…).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, such as `Found` (empty when the server sent none
    /// or one that is not UTF-8; RFC 9112 §4: clients should ignore it).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// The value of the first header called `name` (ASCII
    /// case-insensitive): `Location`, `WWW-Authenticate`, `Retry-After`…
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.values(name).next()
    }

    /// Every header field in order, `(name, value)`, duplicates included
    /// (several `WWW-Authenticate` challenges, say).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.fields()
    }

    /// How many bytes the head took (status line, fields, blank line),
    /// with the interim responses skipped before it: the body starts here.
    pub fn head_len(&self) -> usize {
        self.interim + self.head.bytes().len()
    }

    /// The head's bytes as received.
    pub fn head_bytes(&self) -> &[u8] {
        self.head.bytes()
    }

    /// How the body ends, by RFC 9112 §6.3.
    pub fn framing(&self) -> BodyFraming {
        if (100..200).contains(&self.status) || self.status == 204 || self.status == 304 {
            return BodyFraming::Empty;
        }
        if let Some(last) = self.head.values("Transfer-Encoding").last() {
            let chunked = last
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            return if chunked {
                BodyFraming::Chunked
            } else {
                BodyFraming::UntilClose
            };
        }
        let mut lengths = self
            .head
            .values("Content-Length")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|v| parse_length(v.trim_ascii()));
        let Some(first) = lengths.next() else {
            return BodyFraming::UntilClose;
        };
        match first {
            Some(length) if lengths.all(|l| l == Some(length)) => match length {
                0 => BodyFraming::Empty,
                n => BodyFraming::Length(n),
            },
            _ => BodyFraming::UntilClose,
        }
    }

    /// What was read of the body: nothing after [`parse`](Self::parse);
    /// in the tokio client's error, up to its cap. A chunked body
    /// ([`BodyFraming::Chunked`]) is kept as sent, chunk sizes included:
    /// decode it with an HTTP library if you need its content.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// How much of the body [`body`](Self::body) holds.
    pub fn body_end(&self) -> BodyEnd {
        self.body_end
    }

    /// What a client should do about this status, briefly (for `Display`).
    fn advice(&self) -> String {
        // Printable ASCII as sent; anything else escaped, so that no
        // control byte of the server's reaches a log line.
        let header = |name| {
            self.header(name).map(|v| match std::str::from_utf8(v) {
                Ok(text) if v.iter().all(|&b| (b' '..=b'~').contains(&b)) => text.to_owned(),
                _ => v.escape_ascii().to_string(),
            })
        };
        match self.status {
            300..=399 => match header("Location") {
                Some(location) => format!(
                    "follow its Location ({location}) with a new handshake (RFC 9110 §15.4)"
                ),
                None => "a redirect without a Location (RFC 9110 §15.4)".to_owned(),
            },
            401 => match header("WWW-Authenticate") {
                Some(challenge) => format!(
                    "authenticate: answer its challenge ({challenge}) with an Authorization \
                     header (RFC 9110 §11.6.1)"
                ),
                None => "authenticate: send an Authorization header (RFC 9110 §11.6.1)".to_owned(),
            },
            407 => {
                "authenticate to the proxy: send Proxy-Authorization (RFC 9110 §11.7.1)".to_owned()
            }
            403 => "the server forbids this connection (check Origin and credentials)".to_owned(),
            404 => "no WebSocket at this path".to_owned(),
            426 => "the server wants another protocol version (see its Upgrade and \
                    Sec-WebSocket-Version headers)"
                .to_owned(),
            429 | 503 => match header("Retry-After") {
                Some(after) => format!("retry after {after} (Retry-After)"),
                None => "retry later".to_owned(),
            },
            500..=599 => "the server failed; retry later".to_owned(),
            _ => "the server refused the upgrade (RFC 6455 §4.1)".to_owned(),
        }
    }
}

/// A `Content-Length` value: one or more digits (RFC 9110 §8.6), that fits.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// How much of a body `Display` quotes.
const QUOTED_BODY: usize = 200;

impl fmt::Display for RefusedResponse {
    /// `the server answered 302 Found, not 101 Switching Protocols: follow
    /// its Location (…) with a new handshake…`, then the start of the body
    /// and whether it was cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server answered {}", self.status)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason.escape_debug())?;
        }
        write!(f, ", not 101 Switching Protocols: {}", self.advice())?;
        if !self.body.is_empty() {
            let shown = &self.body[..self.body.len().min(QUOTED_BODY)];
            let text = String::from_utf8_lossy(shown);
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let more = if self.body.len() > QUOTED_BODY {
                "…"
            } else {
                ""
            };
            write!(f, "; its body: \"{}{more}\"", text.escape_debug())?;
        }
        match self.body_end {
            BodyEnd::Capped => write!(f, " (body cut at {} bytes)", self.body.len()),
            BodyEnd::WaitElapsed if !self.body.is_empty() => {
                f.write_str(" (body as far as it arrived)")
            }
            BodyEnd::ConnectionEnded => f.write_str(" (the connection ended inside the body)"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for RefusedResponse {}
