//! The server's answers: the 101 that accepts an upgrade (RFC 6455 §4.2.2)
//! and plain HTTP responses that refuse one.

use super::{check_header, write_header, BuildError, ExtensionOffer, UpgradeRequest};
#[cfg(feature = "deflate")]
use crate::{DeflateConfig, DeflateParams};

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
    #[cfg(feature = "deflate")]
    deflate: DeflateChoice,
}

/// What an [`Accept`] says of permessage-deflate (RFC 7692).
#[cfg(feature = "deflate")]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeflateChoice {
    /// Nothing yet: the tokio server negotiates it from
    /// [`Config::deflate`](crate::Config::deflate).
    Open,
    /// Declined for this connection ([`Accept::deflate`] with `None`, or
    /// with preferences that no offer met).
    Declined,
    /// Accepted with these parameters; with the preferences given to
    /// [`Accept::deflate`], or `None` for a response given to
    /// [`Accept::extension`].
    Accepted(DeflateParams, Option<DeflateConfig>),
}

/// Whether `extension` is permessage-deflate, in any case: a spelling the
/// extension code would not recognise must not slip past as another
/// extension.
fn is_permessage_deflate(extension: &ExtensionOffer) -> bool {
    extension.name().eq_ignore_ascii_case("permessage-deflate")
}

impl<'r> Accept<'r> {
    pub(crate) fn new(request: &'r UpgradeRequest) -> Self {
        Self {
            request,
            subprotocol: None,
            extensions: Vec::new(),
            headers: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: DeflateChoice::Open,
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
    /// A permessage-deflate response (RFC 7692 §7.1) is checked against
    /// the client's offers, and its parameters become
    /// [`deflate_params`](Self::deflate_params), which the tokio server
    /// (`tokio::WebSocket::accept_with`, feature `tokio`)
    /// then uses instead of negotiating from
    /// [`Config::deflate`](crate::Config::deflate).
    /// [`deflate`](Self::deflate) does the same in one step (the response
    /// made from the offers, and the threshold and level kept).
    ///
    /// # Errors
    ///
    /// [`BuildError::Extension`] if the client offered no extension of that
    /// name (§4.1 item 5: the client would fail the connection).
    /// [`BuildError::Deflate`] for a permessage-deflate response that
    /// accepts none of the client's offers of it (RFC 7692 §7.1: an unknown
    /// or repeated parameter; `server_no_context_takeover` missing where
    /// asked for, §7.1.1.1; `server_max_window_bits` missing where offered
    /// or above the offer's value, §7.1.2.1; `client_max_window_bits` not
    /// offered, without a value or above the offer's value, §7.1.2.2); for
    /// a second one (permessage-deflate accepted already, here or
    /// with [`deflate`](Self::deflate): a client fails a 101 naming it
    /// twice, §7.1); and, without the `deflate` feature, for any: nothing
    /// could then inflate what the client sends.
    pub fn extension(mut self, accepted: ExtensionOffer) -> Result<Self, BuildError> {
        if !self
            .request
            .extensions()
            .iter()
            .any(|offer| offer.name() == accepted.name())
        {
            return Err(BuildError::Extension);
        }
        if is_permessage_deflate(&accepted) {
            #[cfg(feature = "deflate")]
            {
                if matches!(self.deflate, DeflateChoice::Accepted(..)) {
                    return Err(BuildError::Deflate);
                }
                let params =
                    crate::ext::deflate::response_params(&accepted, self.request.extensions())
                        .ok_or(BuildError::Deflate)?;
                self.deflate = DeflateChoice::Accepted(params, None);
            }
            #[cfg(not(feature = "deflate"))]
            return Err(BuildError::Deflate);
        }
        self.extensions.push(accepted);
        Ok(self)
    }

    /// Decides permessage-deflate (RFC 7692) for this connection: with
    /// `Some(preferences)`, accepts the client's first acceptable offer
    /// with them ([`DeflateConfig::accept`], §5 and §7.1; declined if none
    /// is acceptable), and with `None`, declines it. Either way the choice
    /// is made: the tokio server
    /// (`tokio::WebSocket::accept_with`, feature `tokio`)
    /// no longer negotiates it from [`Config::deflate`](crate::Config::deflate),
    /// and uses `preferences` (their windows and context takeover as
    /// answered, their threshold, level and memory level) for the
    /// connection. A second call replaces the first choice, as it replaces
    /// a permessage-deflate response accepted with
    /// [`extension`](Self::extension); the response is written after the
    /// extensions accepted before it.
    ///
    /// Sans-IO, build the connection with
    /// [`Connection::with_deflate`](crate::Connection::with_deflate) and
    /// [`deflate_params`](Self::deflate_params), in a [`Config`](crate::Config)
    /// whose `deflate` is `preferences` (for the threshold and level).
    ///
    /// ```
    /// use wsframe::{handshake::{Status, UpgradeRequest}, Config, Connection, DeflateConfig, Role};
    /// let req = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    ///             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    /// let Status::Complete((upgrade, _)) = UpgradeRequest::parse(req)? else { unreachable!() };
    ///
    /// // Small windows and no memory held between messages for this path.
    /// let small = DeflateConfig::default().max_window_bits(10).no_context_takeover(true);
    /// let accept = upgrade.accept().deflate(Some(small));
    /// let text = String::from_utf8(accept.to_bytes())?;
    /// assert!(text.contains(
    ///     "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n"
    /// ));
    /// let params = accept.deflate_params().expect("accepted");
    /// assert_eq!((params.server_max_window_bits, params.server_no_context_takeover), (10, true));
    /// let config = Config::builder().deflate(Some(small)).build();
    /// let _server = Connection::with_deflate(Role::Server, config, accept.deflate_params());
    ///
    /// // Declined: the 101 names no extension.
    /// let declined = upgrade.accept().deflate(None);
    /// assert!(declined.deflate_params().is_none());
    /// assert!(!String::from_utf8(declined.to_bytes())?.contains("Sec-WebSocket-Extensions"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, preferences: Option<DeflateConfig>) -> Self {
        self.extensions.retain(|e| !is_permessage_deflate(e));
        let accepted = preferences.and_then(|prefs| {
            prefs
                .accept(self.request.extensions())
                .map(|(params, response)| (prefs, params, response))
        });
        self.deflate = match accepted {
            Some((prefs, params, response)) => {
                self.extensions.push(response);
                DeflateChoice::Accepted(params, Some(prefs))
            }
            None => DeflateChoice::Declined,
        };
        self
    }

    /// The permessage-deflate parameters this 101 accepts (RFC 7692 §7.1),
    /// from [`deflate`](Self::deflate) or [`extension`](Self::extension);
    /// `None` if it accepts none. Sans-IO, give them to
    /// [`Connection::with_deflate`](crate::Connection::with_deflate), so
    /// that the connection does what the 101 says.
    #[cfg(feature = "deflate")]
    pub fn deflate_params(&self) -> Option<DeflateParams> {
        match self.deflate {
            DeflateChoice::Accepted(params, _) => Some(params),
            DeflateChoice::Open | DeflateChoice::Declined => None,
        }
    }

    /// What this 101 says of permessage-deflate (for the tokio server
    /// handshake).
    #[cfg(all(feature = "deflate", feature = "tokio"))]
    pub(crate) fn deflate_choice(&self) -> DeflateChoice {
        self.deflate
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
