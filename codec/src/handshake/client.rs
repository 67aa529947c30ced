//! The client side: the upgrade request (RFC 6455 §4.1) and the check of the
//! server's answer.

use base64::{engine::general_purpose::STANDARD, Engine};

use super::head::{final_response, Head};
use super::uri::{is_authority, is_uri_char, parse_target};
use super::{
    accept_key, check_header, has_token, is_token, write_header, BuildError, ExtensionOffer,
    HandshakeError, Status,
};

/// The header fields that [`ClientHandshake`] writes itself.
const HANDSHAKE_HEADERS: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// A client's opening handshake: the request to send, and the check of the
/// server's answer (§4.1).
///
/// Build it from a key ([`new`](Self::new) with 16 bytes you chose, or
/// [`random`](Self::random)), then a destination ([`target`](Self::target),
/// or with the `http` feature `uri`), the subprotocols and
/// extensions you offer, and extra headers. Write [`to_bytes`](Self::to_bytes),
/// then read until [`parse_response`](Self::parse_response) is complete.
///
/// The bytes after the response's head are WebSocket frames the server
/// already sent (a greeting can arrive in the same read as the 101): feed
/// them to the [`Connection`](crate::Connection) before anything else.
///
/// ```
/// use wsframe::{handshake::{ClientHandshake, Status}, Config, Connection, Event, Role};
///
/// let client = ClientHandshake::new(*b"a 16-byte nonce!")
///     .target("example.com:8080", "/chat")?
///     .subprotocol("chat")?
///     .header("Cookie", "id=7")?;
/// let request = client.to_bytes(); // write it to the socket
/// # let upgrade = match wsframe::handshake::UpgradeRequest::parse(&request)? { Status::Complete((u, _)) => u, _ => unreachable!() };
/// # let mut read = upgrade.accept().subprotocol("chat")?.to_bytes();
/// # read.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
/// // `read` holds what the socket gave: the 101 and, here, a first frame.
/// let Status::Complete(accepted) = client.parse_response(&read)? else {
///     unreachable!("read more and call parse_response again")
/// };
/// assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
/// let mut conn = Connection::new(Role::Client, Config::default());
/// conn.receive(&read[accepted.head_len..]); // the frames after the head
/// assert!(matches!(conn.next_event(), Some(Event::Message(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    key: String,
    host: String,
    target: String,
    subprotocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Vec<(String, String)>,
}

/// A server's valid 101 answer (§4.1), as
/// [`ClientHandshake::parse_response`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// How many bytes the response's head took; the bytes after it are
    /// WebSocket frames for the [`Connection`](crate::Connection).
    pub head_len: usize,
    /// The subprotocol the server chose, one of those offered.
    pub subprotocol: Option<String>,
    /// The extensions the server accepted, with its parameters, in order
    /// (each one of those offered).
    pub extensions: Vec<ExtensionOffer>,
    head: Head,
}

impl Accepted {
    /// The value of the first header of the response called `name` (ASCII
    /// case-insensitive), such as a `Set-Cookie`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.values(name).next()
    }
}

impl ClientHandshake {
    /// A handshake whose key is the base64 of `nonce` (§4.1 item 7: 16
    /// random bytes, fresh for every connection; choose them yourself only
    /// in tests), to `/` on an empty host until [`target`](Self::target).
    pub fn new(nonce: [u8; 16]) -> Self {
        Self {
            key: STANDARD.encode(nonce),
            host: String::new(),
            target: "/".to_owned(),
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// A handshake with a nonce from the operating system's random
    /// generator.
    ///
    /// # Errors
    ///
    /// If the operating system's random generator fails.
    pub fn random() -> std::io::Result<Self> {
        let mut nonce = [0; 16];
        getrandom::getrandom(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self::new(nonce))
    }

    /// Sets the `Host` header (such as `example.com` or `127.0.0.1:9001`)
    /// and the request target (such as `/chat?room=1`; §4.1 items 3 and 4).
    ///
    /// # Errors
    ///
    /// [`BuildError::Target`] for a host that is not a host name or IP
    /// address with an optional port (`uri-host [ ":" port ]`, RFC 9110
    /// §7.2; an IPv6 address in brackets), or a target that is not
    /// `/path?query` in RFC 3986's characters (a space, a control character,
    /// a non-ASCII byte, `"`, `#`… must be percent-encoded).
    pub fn target(mut self, host: &str, target: &str) -> Result<Self, BuildError> {
        let origin_form = parse_target(target.as_bytes()).is_some_and(|t| t.authority.is_none());
        if !is_authority(host.as_bytes()) || !origin_form || !target.bytes().all(is_uri_char) {
            return Err(BuildError::Target);
        }
        host.clone_into(&mut self.host);
        target.clone_into(&mut self.target);
        Ok(self)
    }

    /// Offers a subprotocol, after those already offered (§4.1 item 10).
    ///
    /// # Errors
    ///
    /// [`BuildError::Subprotocol`] if it is not a token.
    pub fn subprotocol(mut self, subprotocol: &str) -> Result<Self, BuildError> {
        if !is_token(subprotocol.as_bytes()) {
            return Err(BuildError::Subprotocol);
        }
        self.subprotocols.push(subprotocol.to_owned());
        Ok(self)
    }

    /// Offers an extension, after those already offered (§4.1 item 11, §9.1).
    pub fn extension(mut self, offer: ExtensionOffer) -> Self {
        self.extensions.push(offer);
        self
    }

    /// Adds a header field (`Origin`, `Cookie`, `Authorization`…).
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

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Host` header sent.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The request target sent.
    pub fn request_target(&self) -> &str {
        &self.target
    }

    /// The extensions offered, in the order written.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The request's header fields, in the order written.
    pub(crate) fn fields(&self) -> Vec<(&str, String)> {
        let mut fields = vec![
            ("Host", self.host.clone()),
            ("Upgrade", "websocket".to_owned()),
            ("Connection", "Upgrade".to_owned()),
            ("Sec-WebSocket-Key", self.key.clone()),
            ("Sec-WebSocket-Version", "13".to_owned()),
        ];
        if !self.subprotocols.is_empty() {
            fields.push(("Sec-WebSocket-Protocol", self.subprotocols.join(", ")));
        }
        if !self.extensions.is_empty() {
            let offers: Vec<String> = self.extensions.iter().map(ToString::to_string).collect();
            fields.push(("Sec-WebSocket-Extensions", offers.join(", ")));
        }
        fields.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.clone())));
        fields
    }

    /// Appends the GET request to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("GET {} HTTP/1.1\r\n", self.target).as_bytes());
        for (name, value) in self.fields() {
            write_header(out, name, &value);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The GET request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Checks the server's response at the front of `buf`.
    ///
    /// On success, the [`Accepted`] answer says how many bytes its head took
    /// ([`head_len`](Accepted::head_len)): the bytes after it are frames and
    /// must be fed to the [`Connection`](crate::Connection); returns
    /// [`Status::Partial`] while the head is incomplete. Interim responses
    /// before it (a 1xx other than 101: 100 Continue, 103 Early Hints) are
    /// skipped, as RFC 9110 §15.2 asks of a client, and counted in
    /// `head_len`.
    ///
    /// # Errors
    ///
    /// Every failure §4.1 requires: [`HandshakeError::HttpVersion`] for a
    /// response that is not HTTP/1.1, [`HandshakeError::NotSwitching`] (with
    /// the status) for anything but 101 (read that response with
    /// [`RefusedResponse::parse`](super::RefusedResponse::parse) on the same
    /// `buf`); a missing or wrong `Upgrade` or
    /// `Connection`; a missing, duplicated or wrong `Sec-WebSocket-Accept`;
    /// more than one subprotocol or one we did not offer; an extension we
    /// did not offer; and the HTTP errors of [`UpgradeRequest::parse`](super::UpgradeRequest::parse).
    pub fn parse_response(&self, buf: &[u8]) -> Result<Status<Accepted>, HandshakeError> {
        let Status::Complete(response) = final_response(buf)? else {
            return Ok(Status::Partial);
        };
        // §4.1: the answer to an HTTP/1.1 upgrade; an HTTP/1.0 peer cannot
        // have switched protocols (RFC 9110 §7.8).
        if response.minor_version != 1 {
            return Err(HandshakeError::HttpVersion);
        }
        let mut accepted = self.check(response.code, response.head)?;
        accepted.head_len += response.interim;
        Ok(Status::Complete(accepted))
    }

    /// The checks of §4.1 on a response with status `code` and head `head`.
    pub(crate) fn check(&self, code: u16, head: Head) -> Result<Accepted, HandshakeError> {
        if code != 101 {
            return Err(HandshakeError::NotSwitching(code));
        }
        // Items 2 and 3.
        let websocket = |v: &[u8]| v.trim_ascii().eq_ignore_ascii_case(b"websocket");
        if head.values("Upgrade").next().is_none() || !head.values("Upgrade").all(websocket) {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !head.values("Connection").any(|v| has_token(v, "upgrade")) {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // Item 4 and §11.3.3: one accept value, ours.
        let accept = head
            .single("Sec-WebSocket-Accept")
            .map_err(|()| HandshakeError::DuplicateAccept)?
            .ok_or(HandshakeError::MissingAccept)?;
        if head.get(&accept).trim_ascii() != accept_key(self.key.as_bytes()).as_bytes() {
            return Err(HandshakeError::BadAccept);
        }
        // Item 5: only extensions we offered.
        let extensions = ExtensionOffer::parse_list(head.values("Sec-WebSocket-Extensions"))?;
        if !extensions
            .iter()
            .all(|e| self.extensions.iter().any(|o| o.name() == e.name()))
        {
            return Err(HandshakeError::UnofferedExtension);
        }
        // Item 6 and §4.2.2 item 5.5: at most one subprotocol, one we offered.
        let subprotocol = {
            let mut chosen = head
                .values("Sec-WebSocket-Protocol")
                .flat_map(|v| v.split(|&b| b == b','))
                .map(<[u8]>::trim_ascii)
                .filter(|p| !p.is_empty());
            match (chosen.next(), chosen.next()) {
                (None, _) => None,
                (Some(_), Some(_)) => return Err(HandshakeError::SeveralSubprotocols),
                (Some(p), None) => Some(
                    self.subprotocols
                        .iter()
                        .find(|o| o.as_bytes() == p)
                        .ok_or(HandshakeError::UnofferedSubprotocol)?
                        .clone(),
                ),
            }
        };
        Ok(Accepted {
            head_len: head.bytes().len(),
            subprotocol,
            extensions,
            head,
        })
    }
}
