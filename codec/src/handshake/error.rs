//! Why a handshake failed: the peer's violations ([`HandshakeError`], with
//! the HTTP status each deserves) and our own misuse of the builders
//! ([`BuildError`]).

use std::fmt;

use super::response::write_plain_response;

/// Why the peer's handshake was refused: one variant per rule of RFC 6455 §4
/// (and of HTTP) that it broke.
///
/// On the server, answer with [`response`](Self::response) (or
/// `to_http` (feature `http`)) and close; [`status`](Self::status) is the
/// HTTP status that answer carries. On the client (the variants from
/// [`NotSwitching`](Self::NotSwitching) on), §4.1 says to fail the
/// WebSocket connection: close the TCP connection, answer nothing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not parseable as an HTTP/1.x head (400).
    Malformed,
    /// The head is longer than
    /// [`MAX_HANDSHAKE_LEN`](super::MAX_HANDSHAKE_LEN) (431, RFC 6585 §5).
    HeadTooLarge,
    /// More header lines than [`MAX_HEADERS`](super::MAX_HEADERS) (431, RFC
    /// 6585 §5).
    TooManyHeaders,
    /// Not HTTP/1.1 (505; §4.1 item 2 asks for HTTP/1.1 or higher, and an
    /// HTTP/1.0 request cannot be upgraded). On the client: a response that
    /// is not HTTP/1.1.
    HttpVersion,
    /// The method is not GET (405 with `Allow: GET`; §4.2.1 item 1).
    NotGet,
    /// A request target that is neither `/path?query` nor a `ws`, `wss`,
    /// `http` or `https` URI without userinfo or fragment (400; §4.1 item 3,
    /// RFC 9112 §3.2).
    BadTarget,
    /// No `Host` header (400; §4.2.1 item 2, RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` header (400; RFC 9112 §3.2).
    DuplicateHost,
    /// A `Host` value that is not a host with an optional port (400; RFC
    /// 9110 §7.2, RFC 9112 §3.2: `uri-host [ ":" port ]` of RFC 3986).
    BadHost,
    /// A `Content-Length` other than 0, or a `Transfer-Encoding`: a body,
    /// which the bytes after an upgrade's head cannot be (400; RFC 9110
    /// §9.3.1: a GET's body has no meaning, and here it would be read as
    /// frames).
    RequestBody,
    /// No `Upgrade: websocket` header (400; §4.2.1 item 3).
    MissingUpgrade,
    /// No `Connection` header containing `upgrade` (400; §4.2.1 item 4).
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` header (400; §4.2.1 item 5).
    MissingKey,
    /// More than one `Sec-WebSocket-Key` header (400; §11.3.1).
    DuplicateKey,
    /// A `Sec-WebSocket-Key` that is not the base64 of 16 bytes (400; §4.2.1
    /// item 5).
    BadKey,
    /// No `Sec-WebSocket-Version` header (400; §4.2.1 item 6).
    MissingVersion,
    /// More than one `Sec-WebSocket-Version` header (400; §11.3.5).
    DuplicateVersion,
    /// A `Sec-WebSocket-Version` other than 13 (426 with
    /// `Sec-WebSocket-Version: 13`; §4.2.2, §4.4).
    UnsupportedVersion,
    /// More than one `Origin` header, or one that is not ASCII (400; RFC 6454
    /// §7.1: one serialized origin).
    BadOrigin,
    /// A `Sec-WebSocket-Protocol` element that is not a token (400; §4.1
    /// item 10).
    MalformedSubprotocols,
    /// A `Sec-WebSocket-Extensions` value outside the grammar of §9.1 (400).
    MalformedExtensions,
    /// Client side: the server answered this status, not 101 (§4.1). The
    /// response (its `Location`, `WWW-Authenticate`, body…) is still in the
    /// bytes given to `parse_response`: read it with
    /// [`RefusedResponse::parse`](super::RefusedResponse::parse). The tokio
    /// client returns it read, body included, as
    /// `tokio::Error::Refused` instead.
    NotSwitching(u16),
    /// Client side: the 101 has no `Sec-WebSocket-Accept` (§4.1, item 4).
    MissingAccept,
    /// Client side: the 101 has more than one `Sec-WebSocket-Accept`
    /// (§11.3.3).
    DuplicateAccept,
    /// Client side: `Sec-WebSocket-Accept` does not match our key (§4.1,
    /// item 4).
    BadAccept,
    /// Client side: the server chose a subprotocol we did not offer (§4.1,
    /// item 6).
    UnofferedSubprotocol,
    /// Client side: the server named more than one subprotocol (§4.2.2:
    /// "a single value"; §11.3.4).
    SeveralSubprotocols,
    /// Client side: the server accepted an extension we did not offer (§4.1,
    /// item 5).
    UnofferedExtension,
    /// Client side: the server's permessage-deflate response breaks RFC 7692
    /// §7.1 (an unknown, repeated or invalid parameter, a window we did not
    /// allow), or accepts it twice (see `DeflateConfig::check_response`,
    /// feature `deflate`).
    BadExtensionResponse,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with: 400, 405, 426, 431
    /// or 505 (see each variant). The client-side variants are never
    /// answered (§4.1: the client fails the connection); they give 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders => 431,
            Self::HttpVersion => 505,
            Self::NotGet => 405,
            Self::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// The header fields the answer must carry besides the usual ones:
    /// `Sec-WebSocket-Version: 13` with 426 (RFC 6455 §4.4), `Allow: GET`
    /// with 405 (RFC 9110 §15.5.6).
    pub fn headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::UnsupportedVersion => &[("Sec-WebSocket-Version", "13")],
            Self::NotGet => &[("Allow", "GET")],
            _ => &[],
        }
    }

    /// The plain HTTP/1.1 response a server sends for this error: the
    /// [`status`](Self::status), [`headers`](Self::headers),
    /// `Connection: close` and this error's text as a `text/plain` body.
    pub fn response(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_response(&mut out);
        out
    }

    /// Appends [`response`](Self::response) to `out`.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        write_plain_response(
            out,
            self.status(),
            self.headers(),
            self.to_string().as_bytes(),
        );
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Self::NotSwitching(code) = self {
            return write!(f, "the server answered {code}, not 101 Switching Protocols");
        }
        f.write_str(match self {
            Self::Malformed => "the handshake is not a well-formed HTTP/1.1 head",
            // Either side meets these (a server in the request, a client
            // in the response): the advice is for the head's sender.
            Self::HeadTooLarge => {
                "the handshake head is larger than 16 KiB; its sender must send fewer or shorter header fields"
            }
            Self::TooManyHeaders => {
                "the handshake head has more than 64 header fields; its sender must send fewer"
            }
            Self::HttpVersion => "a WebSocket handshake needs HTTP/1.1 (RFC 6455 §4.1)",
            Self::NotGet => "a WebSocket upgrade must use the GET method (RFC 6455 §4.1)",
            Self::MissingHost => "the request has no `Host` header (RFC 6455 §4.1, RFC 9112 §3.2)",
            Self::DuplicateHost => "the request has more than one `Host` header; send exactly one",
            Self::BadTarget => {
                "the request target must be `/path?query` or a ws://, wss://, http:// or https:// URI (RFC 9112 §3.2)"
            }
            Self::BadHost => {
                "the `Host` header must be a host name or IP address with an optional port, such as `example.com:8080` (RFC 9110 §7.2)"
            }
            Self::RequestBody => {
                "the upgrade request has a body (`Content-Length` or `Transfer-Encoding`); send none: the bytes after the head are WebSocket frames"
            }
            Self::MissingUpgrade => "the handshake has no `Upgrade: websocket` header",
            Self::MissingConnectionUpgrade => {
                "the handshake's `Connection` header does not contain `Upgrade`"
            }
            Self::MissingKey => "the request has no `Sec-WebSocket-Key` header",
            Self::DuplicateKey => {
                "`Sec-WebSocket-Key` appears more than once (RFC 6455 §11.3.1); send exactly one"
            }
            Self::BadKey => "`Sec-WebSocket-Key` is not the base64 of 16 random bytes",
            Self::MissingVersion => "the request has no `Sec-WebSocket-Version` header; send 13",
            Self::DuplicateVersion => {
                "`Sec-WebSocket-Version` appears more than once (RFC 6455 §11.3.5); send one: 13"
            }
            Self::UnsupportedVersion => {
                "only WebSocket version 13 is supported; send `Sec-WebSocket-Version: 13`"
            }
            Self::BadOrigin => "`Origin` appears more than once or is not ASCII",
            Self::MalformedSubprotocols => {
                "`Sec-WebSocket-Protocol` must be a comma-separated list of tokens"
            }
            Self::MalformedExtensions => {
                "`Sec-WebSocket-Extensions` does not follow the grammar of RFC 6455 §9.1"
            }
            Self::NotSwitching(_) => "the server did not answer 101 Switching Protocols",
            Self::MissingAccept => "the server's 101 has no `Sec-WebSocket-Accept`",
            Self::DuplicateAccept => "the server's 101 has more than one `Sec-WebSocket-Accept`",
            Self::BadAccept => "the server's `Sec-WebSocket-Accept` does not match our key",
            Self::UnofferedSubprotocol => "the server chose a subprotocol that we did not offer",
            Self::SeveralSubprotocols => "the server named more than one subprotocol",
            Self::UnofferedExtension => "the server accepted an extension that we did not offer",
            Self::BadExtensionResponse => {
                "the server's permessage-deflate parameters break RFC 7692 §7.1 (a parameter \
                 we did not offer, a window larger than we allowed, or one outside 8..=15)"
            }
        })
    }
}

impl std::error::Error for HandshakeError {}

impl From<HandshakeError> for std::io::Error {
    /// `InvalidData`, wrapping the error.
    fn from(err: HandshakeError) -> Self {
        Self::new(std::io::ErrorKind::InvalidData, err)
    }
}

/// A builder was asked for something the handshake cannot carry: our own
/// mistake, not the peer's.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuildError {
    /// A header name that is not a token (RFC 9110 §5.1).
    InvalidHeaderName,
    /// A header value with CR, LF, NUL or another control character other
    /// than HTAB (RFC 9110 §5.5): it could inject header fields.
    InvalidHeaderValue,
    /// A header that the handshake writes itself (`Upgrade`, `Connection`,
    /// the `Sec-WebSocket-*` fields; `Content-Length` in [`reject`](super::reject)).
    ReservedHeader,
    /// A subprotocol the client did not offer (RFC 6455 §4.2.2 item 5.5), or,
    /// on the client, one that is not a token (§4.1 item 10).
    Subprotocol,
    /// An extension the client did not offer (RFC 6455 §9.1), or an
    /// extension name or parameter that is not a token.
    Extension,
    /// A host that is empty, a request target that does not start with `/`,
    /// or either holding a byte that a URI cannot (RFC 3986 §2).
    Target,
    /// A URI that is not `ws://` or `wss://` with a host and an optional
    /// port of at most 65535, without userinfo (RFC 6455 §3).
    Uri,
    /// A status outside 200..=599 for [`reject`](super::reject).
    Status,
    /// A permessage-deflate response given to
    /// [`Accept::extension`](super::Accept::extension) that accepts none of
    /// the client's offers of it (RFC 7692 §7.1), or a second one (a
    /// client fails a 101 naming it twice, §7.1); without the `deflate`
    /// feature, any: nothing could inflate what the client then sends.
    /// `Accept::deflate` (feature `deflate`) makes the response from the
    /// offers.
    Deflate,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidHeaderName => "a header name must be an HTTP token",
            Self::InvalidHeaderValue => {
                "a header value must not contain CR, LF, NUL or other control characters"
            }
            Self::ReservedHeader => "this header is written by the handshake itself",
            Self::Subprotocol => "the subprotocol was not offered or is not a token",
            Self::Extension => {
                "the extension was not offered, or its name or a parameter is not a token"
            }
            Self::Target => {
                "the host must be non-empty and the target start with `/`, both in URI characters"
            }
            Self::Uri => {
                "the URI must be ws:// or wss:// with a host, a port up to 65535 if any, \
                 and no user:password@"
            }
            Self::Status => "an HTTP error status must be within 200..=599",
            Self::Deflate => {
                "permessage-deflate accepted twice, with a response that accepts none of the \
                 client's offers (RFC 7692 section 7.1), or without the deflate feature: \
                 use Accept::deflate"
            }
        })
    }
}

impl std::error::Error for BuildError {}

impl From<BuildError> for std::io::Error {
    /// `InvalidInput`, wrapping the error.
    fn from(err: BuildError) -> Self {
        Self::new(std::io::ErrorKind::InvalidInput, err)
    }
}
