//! The opening handshake (RFC 6455 §4), both roles, over bytes you read and
//! write yourself. HTTP is parsed with `httparse`; there is no HTTP server
//! here.
//!
//! Server: [`UpgradeRequest::parse`] validates a client's upgrade request
//! (§4.2.1) and exposes what a server decides on (path, `Host`, `Origin`,
//! cookies and every other header, the offered subprotocols and extensions);
//! [`UpgradeRequest::accept`] builds the 101 (§4.2.2); a refusal is a
//! [`HandshakeError`] whose [`response`](HandshakeError::response) is the
//! plain HTTP answer it deserves, and [`reject`] writes any other (a 403 for
//! an `Origin` you do not serve, say). permessage-deflate (feature
//! `deflate`) is accepted or declined with `Accept::deflate`, whose
//! `Accept::deflate_params` the [`Connection`](crate::Connection) is then
//! built with (`Connection::with_deflate`).
//!
//! Client: [`ClientHandshake`] builds the request (§4.1) and checks the
//! server's answer with [`ClientHandshake::parse_response`]. The bytes after
//! the answer's head are already WebSocket frames: feed them to the
//! [`Connection`](crate::Connection). An answer other than 101
//! ([`HandshakeError::NotSwitching`]: a redirect, a request to authenticate,
//! a refusal with its reason in the body) is read with
//! [`RefusedResponse::parse`] from the same bytes.
//!
//! With the `http` feature, every step also takes or gives the `http` crate's
//! types (those of hyper and axum): `UpgradeRequest::from_http`,
//! `Accept::to_http`, `HandshakeError::to_http`, `ClientHandshake::to_http`,
//! `ClientHandshake::check_http` and `RefusedResponse::to_http`.
//!
//! ```
//! use wsframe::handshake::{ClientHandshake, Status, UpgradeRequest};
//!
//! // The client's request…
//! let client = ClientHandshake::new(*b"a 16-byte nonce!")
//!     .target("example.com", "/chat")?
//!     .subprotocol("chat")?
//!     .subprotocol("superchat")?;
//! let request = client.to_bytes();
//!
//! // …read by the server, which checks `Origin` and picks a subprotocol…
//! let Status::Complete((upgrade, _)) = UpgradeRequest::parse(&request)? else { unreachable!() };
//! assert_eq!(upgrade.origin(), None);
//! let response = upgrade.accept().subprotocol("superchat")?.to_bytes();
//!
//! // …and the 101 checked by the client.
//! let Status::Complete(accepted) = client.parse_response(&response)? else { unreachable!() };
//! assert_eq!(accepted.subprotocol.as_deref(), Some("superchat"));
//! assert_eq!(accepted.head_len, response.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
mod extensions;
mod head;
mod head_scan;
#[cfg(feature = "http")]
mod http;
mod refused;
mod request;
mod response;
mod uri;

use base64::{engine::general_purpose::STANDARD, Engine};

pub use self::client::{Accepted, ClientHandshake};
pub use self::error::{BuildError, HandshakeError};
pub use self::extensions::{ExtensionOffer, ExtensionParam};
pub use self::head_scan::HeadScan;
pub use self::refused::{BodyEnd, BodyFraming, RefusedResponse};
pub use self::request::UpgradeRequest;
#[cfg(all(feature = "deflate", feature = "tokio"))]
pub(crate) use self::response::DeflateChoice;
pub use self::response::{reject, Accept};
pub use crate::frame::Status;

/// The GUID that RFC 6455 §1.3 appends to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The most header lines a handshake (request or response) may carry; one
/// more is refused with 431 (RFC 6585 §5).
pub const MAX_HEADERS: usize = 64;

/// The largest handshake head accepted, in bytes; a longer one is refused
/// with 431 (RFC 6585 §5) instead of buffered without end. A response's
/// interim 1xx heads (RFC 9110 §15.2) count in it: they and the final head
/// together are at most this long.
pub const MAX_HANDSHAKE_LEN: usize = 16 * 1024;

/// `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2, item 5.4): the
/// `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    STANDARD.encode(sha.digest().bytes())
}

/// Whether `s` is an HTTP `token` (RFC 9110 §5.6.2): one or more `tchar`s.
/// RFC 6455 uses it for subprotocols (§4.1) and extension names and
/// parameters (§9.1).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a comma-separated header value holds `token`, ASCII
/// case-insensitively (the `Connection` and `Upgrade` lists, RFC 9110 §7.6.1,
/// §7.8).
pub(crate) fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Checks a header that we are asked to write: the name a `token`, the value
/// free of control characters other than HTAB (RFC 9110 §5.5), so that no
/// CR, LF or NUL can end the field early and inject another (header
/// injection), and no name that the handshake writes itself.
pub(crate) fn check_header(name: &str, value: &str, reserved: &[&str]) -> Result<(), BuildError> {
    if !is_token(name.as_bytes()) {
        return Err(BuildError::InvalidHeaderName);
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(BuildError::InvalidHeaderValue);
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(BuildError::ReservedHeader);
    }
    Ok(())
}

/// Appends `name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}
