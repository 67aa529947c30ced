//! The opening handshake (RFC 6455 §4): validate a client's HTTP/1.1 upgrade
//! request and answer it, or build a request and check the server's answer.
//! HTTP is parsed with `httparse`; there is no HTTP server here.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};
use sha1::{Digest, Sha1};

pub use crate::frame::Status;

/// The GUID that RFC 6455 §1.3 appends to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The most header lines a handshake may carry.
const MAX_HEADERS: usize = 64;

/// The largest handshake accepted, in bytes; a longer one is refused (400)
/// instead of buffered without end.
pub const MAX_HANDSHAKE_LEN: usize = 16 * 1024;

/// Why a handshake was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not parseable as HTTP/1.1, or longer than [`MAX_HANDSHAKE_LEN`].
    Malformed,
    /// The method is not GET (§4.2.1, item 1).
    NotGet,
    /// No `Upgrade: websocket` header (§4.2.1, item 3).
    MissingUpgrade,
    /// No `Connection` header containing `upgrade` (§4.2.1, item 4).
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Version` header (§4.2.1, item 6).
    MissingVersion,
    /// A `Sec-WebSocket-Version` other than 13 (§4.2.2: answer 426).
    UnsupportedVersion,
    /// A `Sec-WebSocket-Key` missing or not the base64 of 16 bytes (§4.2.1, item 5).
    BadKey,
    /// The server's answer is not `101` (client side).
    NotSwitching(u16),
    /// The server's `Sec-WebSocket-Accept` does not match our key (§4.1).
    BadAccept,
}

impl HandshakeError {
    /// The HTTP response a server sends for this error: 426 with
    /// `Sec-WebSocket-Version: 13` for a version we do not speak, 400 for the
    /// rest.
    pub fn response(&self) -> Vec<u8> {
        let body = self.to_string();
        let (status, extra) = match self {
            Self::UnsupportedVersion => ("426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n"),
            _ => ("400 Bad Request", ""),
        };
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed or oversized HTTP/1.1 request"),
            Self::NotGet => f.write_str("a WebSocket upgrade must use GET"),
            Self::MissingUpgrade => f.write_str("missing `Upgrade: websocket` header"),
            Self::MissingConnectionUpgrade => f.write_str("missing `Connection: upgrade` header"),
            Self::MissingVersion => f.write_str("missing `Sec-WebSocket-Version` header"),
            Self::UnsupportedVersion => f.write_str("only WebSocket version 13 is supported"),
            Self::BadKey => f.write_str("`Sec-WebSocket-Key` is not the base64 of 16 bytes"),
            Self::NotSwitching(code) => write!(f, "server answered {code}, not 101"),
            Self::BadAccept => f.write_str("`Sec-WebSocket-Accept` does not match the key"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A valid upgrade request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request target, such as `/chat`.
    pub path: String,
    /// The `Sec-WebSocket-Key` as sent.
    pub key: String,
    /// The `Host` header, if present.
    pub host: Option<String>,
    /// The subprotocols offered in `Sec-WebSocket-Protocol`, in order.
    pub protocols: Vec<String>,
}

impl UpgradeRequest {
    /// Parses and validates an upgrade request at the front of `buf`.
    ///
    /// Returns the request and the number of bytes it took (the bytes after
    /// it are already WebSocket frames), or [`Status::Partial`].
    ///
    /// # Errors
    ///
    /// A [`HandshakeError`] naming the first rule of RFC 6455 §4.2.1 that the
    /// request breaks; send its [`response`](HandshakeError::response).
    ///
    /// ```
    /// use wsframe::handshake::{Status, UpgradeRequest};
    /// let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    ///             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///             Sec-WebSocket-Version: 13\r\n\r\n";
    /// let Status::Complete((upgrade, used)) = UpgradeRequest::parse(req).unwrap() else { panic!() };
    /// assert_eq!(used, req.len());
    /// assert_eq!(upgrade.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Status<(Self, usize)>, HandshakeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let Status::Complete(used) = http_status(buf, req.parse(buf))? else {
            return Ok(Status::Partial);
        };
        if req.version != Some(1) {
            return Err(HandshakeError::Malformed);
        }
        if req.method != Some("GET") {
            return Err(HandshakeError::NotGet);
        }
        let header = |name| header_values(req.headers, name);
        check_upgrade_headers(req.headers)?;
        match header("Sec-WebSocket-Version").next().map(str::trim) {
            None => return Err(HandshakeError::MissingVersion),
            Some("13") => {}
            Some(_) => return Err(HandshakeError::UnsupportedVersion),
        }
        let key = header("Sec-WebSocket-Key")
            .next()
            .map(str::trim)
            .filter(|k| STANDARD.decode(k).is_ok_and(|raw| raw.len() == 16))
            .ok_or(HandshakeError::BadKey)?
            .to_owned();
        let protocols = header("Sec-WebSocket-Protocol")
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        let upgrade = Self {
            path: req.path.unwrap_or("/").to_owned(),
            key,
            host: header("Host").next().map(str::to_owned),
            protocols,
        };
        Ok(Status::Complete((upgrade, used)))
    }

    /// The `Sec-WebSocket-Accept` value for this request's key.
    pub fn accept_key(&self) -> String {
        accept_key(self.key.as_bytes())
    }

    /// The `101 Switching Protocols` response, choosing `protocol` if given
    /// (it should be one of [`protocols`](Self::protocols)).
    pub fn response(&self, protocol: Option<&str>) -> Vec<u8> {
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            self.accept_key()
        );
        if let Some(protocol) = protocol {
            response.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
        }
        response.push_str("\r\n");
        response.into_bytes()
    }
}

/// `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2, item 5.4).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    STANDARD.encode(sha.finalize())
}

/// httparse's answer as ours: "partial" while the handshake may still fit in
/// [`MAX_HANDSHAKE_LEN`], "malformed" for a parse error or an oversized one.
fn http_status(
    buf: &[u8],
    parsed: httparse::Result<usize>,
) -> Result<Status<usize>, HandshakeError> {
    match parsed {
        Ok(httparse::Status::Complete(used)) if used <= MAX_HANDSHAKE_LEN => {
            Ok(Status::Complete(used))
        }
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HANDSHAKE_LEN => Ok(Status::Partial),
        _ => Err(HandshakeError::Malformed),
    }
}

/// §4.1 and §4.2.1: both sides of the handshake carry `Upgrade: websocket`
/// and a `Connection` header with the `upgrade` token.
fn check_upgrade_headers(headers: &[httparse::Header<'_>]) -> Result<(), HandshakeError> {
    if !header_values(headers, "Upgrade").any(|v| has_token(v, "websocket")) {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !header_values(headers, "Connection").any(|v| has_token(v, "upgrade")) {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    Ok(())
}

/// The values of every header called `name`, that are valid UTF-8.
fn header_values<'h>(
    headers: &'h [httparse::Header<'h>],
    name: &'static str,
) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
}

/// Whether a comma-separated header value holds `token`, case-insensitively.
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A client's opening handshake: the request to send, and the check of the
/// server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    key: String,
}

impl ClientHandshake {
    /// A handshake whose key is the base64 of `nonce` (§4.1: 16 random bytes,
    /// fresh for every connection).
    pub fn new(nonce: [u8; 16]) -> Self {
        Self {
            key: STANDARD.encode(nonce),
        }
    }

    /// A handshake with a random nonce from the operating system.
    ///
    /// # Errors
    ///
    /// If the operating system's random generator fails.
    pub fn random() -> std::io::Result<Self> {
        let mut nonce = [0; 16];
        getrandom::getrandom(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self::new(nonce))
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The GET request for `path` on `host` (for example `127.0.0.1:9001`).
    pub fn request(&self, host: &str, path: &str) -> Vec<u8> {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.key
        )
        .into_bytes()
    }

    /// Checks the server's response at the front of `buf`; returns how many
    /// bytes it took.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::NotSwitching`] for a status other than 101, and the
    /// header errors of §4.1 (upgrade, connection, accept value).
    pub fn parse_response(&self, buf: &[u8]) -> Result<Status<usize>, HandshakeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut headers);
        let Status::Complete(used) = http_status(buf, res.parse(buf))? else {
            return Ok(Status::Partial);
        };
        if res.code != Some(101) {
            return Err(HandshakeError::NotSwitching(res.code.unwrap_or(0)));
        }
        let header = |name| header_values(res.headers, name);
        check_upgrade_headers(res.headers)?;
        let expected = accept_key(self.key.as_bytes());
        if header("Sec-WebSocket-Accept").next().map(str::trim) != Some(expected.as_str()) {
            return Err(HandshakeError::BadAccept);
        }
        Ok(Status::Complete(used))
    }
}
