//! The server's answers: the 101 that accepts an upgrade (RFC 6455 §4.2.2)
//! and plain HTTP responses that refuse one.

use super::{check_header, write_header, BuildError, ExtensionOffer, UpgradeRequest};

/// The header fields that [`Accept`] writes itself.
const HANDSHAKE_HEADERS: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Version",
    "Content-Length",
    "Transfer-Encoding",
];

/// The header fields that [`reject`] writes itself.
const REJECT_HEADERS: &[&str] = &["Content-Length", "Transfer-Encoding", "Connection"];

/// The 101 Switching Protocols answer to an [`UpgradeRequest`], being built
/// (§4.2.2 item 5). Each step that could produce a response the client must
/// refuse is an error instead.
///
/// ```
/// use wsframe::handshake::{ExtensionOffer, Status, UpgradeRequest};
/// let req = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
///             Sec-WebSocket-Protocol: chat, superchat\r\n\
///             Sec-WebSocket-Extensions: x-test; level=3\r\n\r\n";
/// let Status::Complete((upgrade, _)) = UpgradeRequest::parse(req)? else { unreachable!() };
/// let response = upgrade
///     .accept()
///     .subprotocol("chat")?
///     .extension(ExtensionOffer::new("x-test")?.with_param("level", Some("2"))?)?
///     .header("Set-Cookie", "seen=1")?
///     .to_bytes();
/// let text = String::from_utf8(response)?;
/// assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
/// assert!(text.contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
/// assert!(text.contains("\r\nSec-WebSocket-Extensions: x-test; level=2\r\n"));
/// assert!(text.contains("\r\nSet-Cookie: seen=1\r\n"));
/// // Refused: a subprotocol the client did not offer, an injected header.
/// assert!(upgrade.accept().subprotocol("mqtt").is_err());
/// assert!(upgrade.accept().header("X-A", "1\r\nX-B: 2").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "an Accept does nothing until written with to_bytes or write_to"]
pub struct Accept<'r> {
    request: &'r UpgradeRequest,
    subprotocol: Option<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Vec<(String, String)>,
}

impl<'r> Accept<'r> {
    pub(crate) fn new(request: &'r UpgradeRequest) -> Self {
        Self {
            request,
            subprotocol: None,
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Chooses `subprotocol` (§4.2.2 item 5.5); a second call replaces the
    /// first choice.
    ///
    /// # Errors
    ///
    /// [`BuildError::Subprotocol`] if the client did not offer it: the
    /// client would have to fail the connection (§4.1 item 6).
    pub fn subprotocol(mut self, subprotocol: &str) -> Result<Self, BuildError> {
        if !self.request.offers_subprotocol(subprotocol) {
            return Err(BuildError::Subprotocol);
        }
        self.subprotocol = Some(subprotocol.to_owned());
        Ok(self)
    }

    /// Accepts an extension with the response parameters in `accepted`
    /// (§9.1); written, in the order accepted, into
    /// `Sec-WebSocket-Extensions`.
    ///
    /// # Errors
    ///
    /// [`BuildError::Extension`] if the client offered no extension of that
    /// name (§4.1 item 5: the client would fail the connection).
    pub fn extension(mut self, accepted: ExtensionOffer) -> Result<Self, BuildError> {
        if !self
            .request
            .extensions()
            .iter()
            .any(|offer| offer.name() == accepted.name())
        {
            return Err(BuildError::Extension);
        }
        self.extensions.push(accepted);
        Ok(self)
    }

    /// Adds a header field to the 101 (a `Set-Cookie`, say).
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidHeaderName`] for a name that is not a token,
    /// [`BuildError::InvalidHeaderValue`] for a value holding CR, LF, NUL or
    /// another control character (header injection),
    /// [`BuildError::ReservedHeader`] for a field the handshake writes itself.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, BuildError> {
        check_header(name, value, HANDSHAKE_HEADERS)?;
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// The chosen subprotocol.
    pub fn chosen_subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The accepted extensions, in order.
    pub fn accepted_extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The 101's header fields, in the order written: `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept`, then the subprotocol, the
    /// extensions and the added headers.
    pub(crate) fn fields(&self) -> Vec<(&str, String)> {
        let mut fields = vec![
            ("Upgrade", "websocket".to_owned()),
            ("Connection", "Upgrade".to_owned()),
            ("Sec-WebSocket-Accept", self.request.accept_key()),
        ];
        if let Some(p) = &self.subprotocol {
            fields.push(("Sec-WebSocket-Protocol", p.clone()));
        }
        if !self.extensions.is_empty() {
            let list: Vec<String> = self.extensions.iter().map(ToString::to_string).collect();
            fields.push(("Sec-WebSocket-Extensions", list.join(", ")));
        }
        for (name, value) in &self.headers {
            fields.push((name, value.clone()));
        }
        fields
    }

    /// Appends the 101 response to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        for (name, value) in self.fields() {
            write_header(out, name, &value);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The 101 response.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// A plain HTTP/1.1 response that refuses an upgrade: `status`,
/// `Content-Type: text/plain; charset=utf-8` if `body` is not empty and
/// `headers` name no `Content-Type`, `headers`, then `Content-Length`,
/// `Connection: close` and `body` (403 with a short text for an `Origin` the
/// server does not serve, for instance).
///
/// ```
/// let response = wsframe::handshake::reject(403, &[("Content-Type", "text/plain")], b"origin refused")?;
/// assert!(response.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
/// assert!(response.ends_with(b"\r\nContent-Length: 14\r\nConnection: close\r\n\r\norigin refused"));
/// # Ok::<(), wsframe::handshake::BuildError>(())
/// ```
///
/// # Errors
///
/// [`BuildError::Status`] for a status outside 200..=599; the header errors
/// of [`Accept::header`] (`Content-Length`, `Transfer-Encoding` and
/// `Connection` are written here, so reserved).
pub fn reject(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<Vec<u8>, BuildError> {
    if !(200..=599).contains(&status) {
        return Err(BuildError::Status);
    }
    for (name, value) in headers {
        check_header(name, value, REJECT_HEADERS)?;
    }
    let mut out = Vec::new();
    write_plain_response(&mut out, status, headers, body);
    Ok(out)
}

/// Writes a response whose status and headers are known to be valid.
pub(crate) fn write_plain_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("Content-Type"))
        && !body.is_empty()
    {
        write_header(out, "Content-Type", "text/plain; charset=utf-8");
    }
    for (name, value) in headers {
        write_header(out, name, value);
    }
    write_header(out, "Content-Length", &body.len().to_string());
    write_header(out, "Connection", "close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// The reason phrase of the statuses a handshake typically refuses with;
/// empty for the others (RFC 9112 §4: the phrase is optional).
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
