//! The server side: a client's upgrade request, validated (RFC 6455 §4.2.1).

use std::ops::Range;

use base64::{engine::general_purpose::STANDARD, Engine};

use super::head::{header_slots, parse_status, range_in, within_limit, Head};
use super::uri::{is_authority, parse_target};
use super::{accept_key, has_token, is_token, Accept, ExtensionOffer, HandshakeError, Status};

/// A valid upgrade request: every rule of RFC 6455 §4.2.1 holds.
///
/// It keeps one copy of the request's head; the path, the header values and
/// the offered subprotocols are slices of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequest {
    head: Head,
    target: Range<usize>,
    /// Where, in the target, its origin-form part starts.
    resource: usize,
    host: Range<usize>,
    key: Range<usize>,
    origin: Option<Range<usize>>,
    subprotocols: Vec<Range<usize>>,
    extensions: Vec<ExtensionOffer>,
}

impl UpgradeRequest {
    /// Parses and validates an upgrade request at the front of `buf`.
    ///
    /// Returns the request and the number of bytes its head took (the bytes
    /// after it are already WebSocket frames: feed them to the
    /// [`Connection`](crate::Connection)), or [`Status::Partial`] while the
    /// head is incomplete.
    ///
    /// # Errors
    ///
    /// A [`HandshakeError`] naming the first rule that the request breaks,
    /// checked in this order: HTTP syntax and size (400, 431; but a request
    /// line naming a version other than HTTP/1.0 and 1.1, such as
    /// `HTTP/2.0`, is 505 from that line on), HTTP/1.1 (505), GET (405), a
    /// request target in origin or absolute form (400),
    /// exactly one `Host` holding a host and optional port (400), `Upgrade: websocket`,
    /// `Connection: upgrade`, exactly one `Sec-WebSocket-Version: 13` (400,
    /// 426), exactly one `Sec-WebSocket-Key` of 16 bytes, at most one ASCII
    /// `Origin`, subprotocol tokens, extension offers per §9.1 (400). Send
    /// its [`response`](HandshakeError::response) and close.
    ///
    /// ```
    /// use wsframe::handshake::{Status, UpgradeRequest};
    /// let req = b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    ///             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///             Origin: http://example.com\r\nCookie: id=7\r\nSec-WebSocket-Version: 13\r\n\r\n";
    /// let Status::Complete((upgrade, used)) = UpgradeRequest::parse(req)? else { unreachable!() };
    /// assert_eq!(used, req.len());
    /// assert_eq!((upgrade.path(), upgrade.query()), ("/chat", Some("room=1")));
    /// assert_eq!(upgrade.origin(), Some("http://example.com"));
    /// assert_eq!(upgrade.header("cookie"), Some(&b"id=7"[..]));
    /// assert_eq!(upgrade.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// # Ok::<(), wsframe::handshake::HandshakeError>(())
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Status<(Self, usize)>, HandshakeError> {
        let buf = within_limit(buf);
        let mut slots = header_slots();
        let mut req = httparse::Request::new(&mut slots);
        let parsed = req.parse(buf);
        // httparse reads HTTP/1.0 and 1.1 only: a request line naming
        // another version (HTTP/2.0, HTTP/1.2) is one we do not serve (505,
        // as 1.0), not a malformed head (400).
        if matches!(parsed, Err(httparse::Error::Version)) && names_http_version(buf) {
            return Err(HandshakeError::HttpVersion);
        }
        let Status::Complete(used) = parse_status(buf, parsed)? else {
            return Ok(Status::Partial);
        };
        if req.version != Some(1) {
            return Err(HandshakeError::HttpVersion);
        }
        if req.method != Some("GET") {
            return Err(HandshakeError::NotGet);
        }
        let path = req.path.unwrap_or_default();
        let target = range_in(buf, path.as_bytes());
        let head = Head::new(buf, used, req.headers);
        Ok(Status::Complete((Self::validate(head, target)?, used)))
    }

    /// The checks of RFC 6455 §4.2.1 on the header fields of a GET request
    /// whose head is `head` and request target `head[target]`.
    pub(crate) fn validate(head: Head, target: Range<usize>) -> Result<Self, HandshakeError> {
        // §4.1 item 3, RFC 9112 §3.2: `/path?query`, or a whole URI.
        let parts = parse_target(head.get(&target)).ok_or(HandshakeError::BadTarget)?;
        // §4.2.1 item 2, RFC 9112 §3.2: exactly one valid Host, which an
        // absolute-form target's authority overrides (RFC 9112 §3.2.2).
        let host_field = head
            .single("Host")
            .map_err(|()| HandshakeError::DuplicateHost)?
            .ok_or(HandshakeError::MissingHost)?;
        let host_field = trimmed(&head, host_field);
        if !is_authority(head.get(&host_field)) {
            return Err(HandshakeError::BadHost);
        }
        let host = match parts.authority {
            Some(authority) => target.start + authority.start..target.start + authority.end,
            None => host_field,
        };
        // A GET has no body here (RFC 9110 §9.3.1): bytes after the head
        // are frames, so a body would be read as frames a proxy never saw.
        // RFC 9110 §8.6: `1*DIGIT`, so `00` is a length of 0 as well.
        let empty = |v: &[u8]| {
            let digits = v.trim_ascii();
            !digits.is_empty() && digits.iter().all(|&b| b == b'0')
        };
        if head.values("Transfer-Encoding").next().is_some()
            || head.values("Content-Length").any(|v| !empty(v))
        {
            return Err(HandshakeError::RequestBody);
        }
        // Items 3 and 4.
        if !head.values("Upgrade").any(|v| has_token(v, "websocket")) {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !head.values("Connection").any(|v| has_token(v, "upgrade")) {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // Item 6 and §11.3.5: one version, 13 (§4.4: else 426).
        let version = head
            .single("Sec-WebSocket-Version")
            .map_err(|()| HandshakeError::DuplicateVersion)?
            .ok_or(HandshakeError::MissingVersion)?;
        if head.get(&version).trim_ascii() != b"13" {
            return Err(HandshakeError::UnsupportedVersion);
        }
        // Item 5 and §11.3.1: one key, the base64 of 16 bytes.
        let key = head
            .single("Sec-WebSocket-Key")
            .map_err(|()| HandshakeError::DuplicateKey)?
            .ok_or(HandshakeError::MissingKey)?;
        let key = trimmed(&head, key);
        if !STANDARD
            .decode(head.get(&key))
            .is_ok_and(|raw| raw.len() == 16)
        {
            return Err(HandshakeError::BadKey);
        }
        // Item 7, RFC 6454 §7: at most one Origin, a serialized origin.
        let origin = head
            .single("Origin")
            .map_err(|()| HandshakeError::BadOrigin)?;
        if origin.as_ref().is_some_and(|o| !head.get(o).is_ascii()) {
            return Err(HandshakeError::BadOrigin);
        }
        // Item 8 and §4.1 item 10: a list of tokens, across all lines.
        let mut subprotocols = Vec::new();
        for line in head.value_ranges("Sec-WebSocket-Protocol") {
            for element in split_list(&head, line) {
                if !is_token(head.get(&element)) {
                    return Err(HandshakeError::MalformedSubprotocols);
                }
                subprotocols.push(element);
            }
        }
        // Item 9 and §9.1.
        let extensions = ExtensionOffer::parse_list(head.values("Sec-WebSocket-Extensions"))?;
        Ok(Self {
            head,
            target,
            resource: parts.resource,
            host,
            key,
            origin,
            subprotocols,
            extensions,
        })
    }

    /// The request target as sent, such as `/chat?room=1` (§4.1 item 3: the
    /// resource name).
    pub fn target(&self) -> &str {
        self.str_at(&self.target)
    }

    /// The target's path, before any `?` (of an absolute-form target such
    /// as `ws://host/chat`, RFC 9112 §3.2.2, the path after the authority).
    pub fn path(&self) -> &str {
        let resource = self.resource();
        match resource.split_once('?').map_or(resource, |(path, _)| path) {
            // RFC 3986 §6.2.3: an empty path is `/`.
            "" => "/",
            path => path,
        }
    }

    /// The target's query, after the first `?`.
    pub fn query(&self) -> Option<&str> {
        self.resource().split_once('?').map(|(_, query)| query)
    }

    /// The target in origin form (`/path?query`): as sent, or without the
    /// scheme and authority of an absolute-form target.
    fn resource(&self) -> &str {
        &self.target()[self.resource..]
    }

    /// The host and optional port the request is for, such as
    /// `server.example.com:8080`: the `Host` header, or the authority of an
    /// absolute-form target, which takes precedence (RFC 9112 §3.2.2).
    pub fn host(&self) -> &str {
        self.str_at(&self.host)
    }

    /// The `Origin` header (§4.2.1 item 7; sent by every browser). A server
    /// that browsers reach should refuse the origins it does not serve (for
    /// example with [`reject`](super::reject) and 403): the browser sends the
    /// user's cookies with any page's request (§10.2, cross-site WebSocket
    /// hijacking).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_ref().map(|o| self.str_at(o))
    }

    /// The `Sec-WebSocket-Key` as sent (without surrounding spaces).
    pub fn key(&self) -> &str {
        self.str_at(&self.key)
    }

    /// The `Sec-WebSocket-Accept` value for this request's key (§4.2.2 item
    /// 5.4).
    pub fn accept_key(&self) -> String {
        accept_key(self.key().as_bytes())
    }

    /// The subprotocols offered in `Sec-WebSocket-Protocol`, in the client's
    /// order of preference, across all its lines.
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> {
        self.subprotocols.iter().map(|p| self.str_at(p))
    }

    /// Whether the client offered `subprotocol` (compared exactly: §4.1
    /// lists subprotocol names as case-sensitive tokens).
    pub fn offers_subprotocol(&self, subprotocol: &str) -> bool {
        self.subprotocols().any(|p| p == subprotocol)
    }

    /// The extensions offered in `Sec-WebSocket-Extensions`, parsed (§9.1),
    /// in the client's order of preference, across all its lines.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The value of the first header called `name` (ASCII case-insensitive),
    /// as bytes (HTTP allows non-ASCII bytes in values).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.values(name).next()
    }

    /// The values of every header called `name`, in order (a `Cookie` may
    /// come in several lines).
    pub fn header_values<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r [u8]> + 'r {
        self.head.values(name)
    }

    /// Every header as `(name, value)`, in the order received, duplicates
    /// included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.fields()
    }

    /// The request's head as received (or, from an `http` request, as
    /// written from its parts).
    pub fn head(&self) -> &[u8] {
        self.head.bytes()
    }

    /// Starts the 101 answer: choose a subprotocol, accept extensions, add
    /// headers, then write it (§4.2.2).
    pub fn accept(&self) -> Accept<'_> {
        Accept::new(self)
    }

    /// The plain 101 answer (no extension, no extra header), naming
    /// `subprotocol` if the client offered it and no subprotocol otherwise
    /// (§4.2.2 item 5.5: the server may choose none). Use
    /// [`accept`](Self::accept) to treat an unoffered subprotocol as an error.
    pub fn response(&self, subprotocol: Option<&str>) -> Vec<u8> {
        let mut accept = self.accept();
        if let Some(p) = subprotocol {
            // An unoffered subprotocol is not chosen (the error is dropped).
            accept = accept.subprotocol(p).unwrap_or_else(|_| self.accept());
        }
        accept.to_bytes()
    }

    /// `self.head[range]` as text; the ranges kept are ASCII (checked in
    /// `validate`, or httparse's token and path rules).
    fn str_at(&self, range: &Range<usize>) -> &str {
        std::str::from_utf8(self.head.get(range)).unwrap_or_default()
    }
}

/// Whether the request line at the front of `buf` (whole or not, after
/// the empty lines httparse skips) has a version field of HTTP's form,
/// `HTTP/` and more, where httparse reads it: after the method and the
/// target, each followed by one space. The same field at every cut, so
/// the verdict does not depend on how the reads cut the line.
fn names_http_version(buf: &[u8]) -> bool {
    let start = buf.iter().position(|&b| !matches!(b, b'\r' | b'\n'));
    let line = buf[start.unwrap_or(buf.len())..]
        .split(|&b| b == b'\n')
        .next();
    let version = line.and_then(|line| line.splitn(3, |&b| b == b' ').nth(2));
    version.is_some_and(|v| v.starts_with(b"HTTP/"))
}

/// `range` without leading and trailing spaces and tabs.
fn trimmed(head: &Head, range: Range<usize>) -> Range<usize> {
    let bytes = head.get(&range);
    let start = bytes.len() - bytes.trim_ascii_start().len();
    let end = bytes.trim_ascii_end().len().max(start);
    range.start + start..range.start + end
}

/// The non-empty elements of the comma-separated list at `line`, trimmed
/// (RFC 9110 §5.6.1: empty elements are ignored).
fn split_list(head: &Head, line: Range<usize>) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = line.start;
    head.get(&line)
        .split(|&b| b == b',')
        .map(move |part| {
            let range = start..start + part.len();
            start += part.len() + 1;
            trimmed(head, range)
        })
        .filter(|r| !r.is_empty())
}
