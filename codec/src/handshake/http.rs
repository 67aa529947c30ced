//! The handshake over the `http` crate's types (feature `http`): what hyper
//! and axum hand a server and a client.
//!
//! A refusal ([`RefusedResponse`]) converts to an `http::Response` with
//! its body.
//!
//! Each conversion goes through the same checks as the bytes: an `http`
//! request or response is written once into a head and validated by
//! [`UpgradeRequest::parse`] or [`ClientHandshake::parse_response`].

use http::{header::HeaderName, HeaderMap, HeaderValue, StatusCode, Uri, Version};

use super::{
    Accept, Accepted, BuildError, ClientHandshake, HandshakeError, RefusedResponse, Status,
    UpgradeRequest,
};

impl UpgradeRequest {
    /// Validates the upgrade request whose parts hyper or axum parsed: the
    /// same checks as [`parse`](Self::parse), on one copy of the head written
    /// from `parts`.
    ///
    /// ```
    /// use wsframe::handshake::UpgradeRequest;
    /// let request = http::Request::get("/chat")
    ///     .header("Host", "example.com")
    ///     .header("Upgrade", "websocket")
    ///     .header("Connection", "Upgrade")
    ///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("Sec-WebSocket-Version", "13")
    ///     .body(())?;
    /// let upgrade = UpgradeRequest::from_http(&request.into_parts().0)?;
    /// let response = upgrade.accept().to_http();
    /// assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    /// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The [`HandshakeError`]s of [`parse`](Self::parse);
    /// [`HandshakeError::HttpVersion`] for anything but HTTP/1.1 (an HTTP/2
    /// extended CONNECT, RFC 8441, is not supported).
    pub fn from_http(parts: &http::request::Parts) -> Result<Self, HandshakeError> {
        Self::from_http_head(parts.version, &parts.method, &parts.uri, &parts.headers)
    }

    /// [`from_http`](Self::from_http) on a whole request (its body unused).
    ///
    /// # Errors
    ///
    /// As [`from_http`](Self::from_http).
    pub fn from_http_request<B>(request: &http::Request<B>) -> Result<Self, HandshakeError> {
        Self::from_http_head(
            request.version(),
            request.method(),
            request.uri(),
            request.headers(),
        )
    }

    fn from_http_head(
        version: Version,
        method: &http::Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Self, HandshakeError> {
        if version != Version::HTTP_11 {
            return Err(HandshakeError::HttpVersion);
        }
        if method != http::Method::GET {
            return Err(HandshakeError::NotGet);
        }
        // An absolute-form target (hyper keeps it whole in the URI) names
        // the host instead of `Host` (RFC 9112 §3.2.2), as in the bytes.
        let target = match (uri.scheme(), uri.authority()) {
            (Some(_), Some(_)) => uri.to_string(),
            _ => uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        };
        let head = write_head(&format!("GET {target} HTTP/1.1"), headers);
        match Self::parse(&head)? {
            Status::Complete((request, _)) => Ok(request),
            Status::Partial => Err(HandshakeError::Malformed),
        }
    }
}

impl Accept<'_> {
    /// The 101 as an `http::Response<()>` (for hyper: return it, then take
    /// the upgraded connection with `hyper::upgrade::on`).
    ///
    /// # Panics
    ///
    /// Never: every name and value was checked when added.
    pub fn to_http(&self) -> http::Response<()> {
        let mut response = http::Response::new(());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        for (name, value) in self.fields() {
            append(response.headers_mut(), name, &value);
        }
        response
    }
}

impl HandshakeError {
    /// The refusal as an `http::Response<()>`: [`status`](Self::status) and
    /// [`headers`](Self::headers). The body is the caller's to choose; this
    /// error's `Display` is a good one:
    /// `err.to_http().map(|()| err.to_string())`.
    ///
    /// # Panics
    ///
    /// Never: the statuses and headers are constants.
    pub fn to_http(&self) -> http::Response<()> {
        let mut response = http::Response::new(());
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        for (name, value) in self.headers() {
            append(response.headers_mut(), name, value);
        }
        response
    }
}

impl ClientHandshake {
    /// Sets the `Host` and request target from a `ws://host[:port]/path?query`
    /// or `wss://…` URI; the port is written into `Host` only when it is not
    /// the scheme's default (80, 443). TLS for `wss` is the caller's.
    ///
    /// ```
    /// use wsframe::handshake::ClientHandshake;
    /// let client = ClientHandshake::new([7; 16]).uri(&"wss://example.com:443/chat?room=1".parse()?)?;
    /// assert_eq!((client.host(), client.request_target()), ("example.com", "/chat?room=1"));
    /// let client = ClientHandshake::new([7; 16]).uri(&"ws://127.0.0.1:9001".parse()?)?;
    /// assert_eq!((client.host(), client.request_target()), ("127.0.0.1:9001", "/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::Uri`] for another scheme, no host, userinfo
    /// (`user:password@`, which RFC 6455 §3's URIs do not have) or a port
    /// past 65535;
    /// [`BuildError::Target`] for a path or query holding a byte that
    /// [`target`](Self::target) wants percent-encoded.
    pub fn uri(self, uri: &Uri) -> Result<Self, BuildError> {
        let default_port = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") => 80,
            Some(s) if s.eq_ignore_ascii_case("wss") => 443,
            _ => return Err(BuildError::Uri),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(BuildError::Uri)?;
        // RFC 6455 §3: `host [ ":" port ]`. Userinfo would be dropped
        // unsent (RFC 9110 §4.2.4 has recipients take it as an error), and
        // a port past 65535, which `port_u16` gives as none, is not the
        // default port.
        let port = uri
            .authority()
            .and_then(|a| a.as_str().strip_prefix(host))
            .ok_or(BuildError::Uri)?;
        match port.strip_prefix(':') {
            None if port.is_empty() => {}
            Some(digits) if digits.is_empty() || digits.parse::<u16>().is_ok() => {}
            _ => return Err(BuildError::Uri),
        }
        let host = match uri.port_u16() {
            Some(port) if port != default_port => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        // RFC 6455 §3: the resource name is `/` when the path is empty,
        // then the query (`ws://host?x` asks for `/?x`).
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        match target {
            "" => self.target(&host, "/"),
            query if query.starts_with('?') => self.target(&host, &format!("/{query}")),
            _ => self.target(&host, target),
        }
    }

    /// The request as an `http::Request<()>`: GET, HTTP/1.1, the target as
    /// its URI, every header field.
    ///
    /// # Panics
    ///
    /// Never: the target and every header were checked when set.
    pub fn to_http(&self) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.uri_mut() = self
            .request_target()
            .parse()
            .expect("an origin-form target of RFC 3986 characters is a valid URI");
        for (name, value) in self.fields() {
            append(request.headers_mut(), name, &value);
        }
        request
    }

    /// Checks a response that hyper parsed, as
    /// [`parse_response`](Self::parse_response) checks bytes (its body is
    /// unused; hyper keeps any bytes after the head in the upgraded
    /// connection). [`Accepted::head_len`] is the length of the head as
    /// written from the response.
    ///
    /// # Errors
    ///
    /// As [`parse_response`](Self::parse_response).
    pub fn check_http<B>(&self, response: &http::Response<B>) -> Result<Accepted, HandshakeError> {
        let status = response.status().as_u16();
        let head = write_head(&format!("HTTP/1.1 {status} "), response.headers());
        match self.parse_response(&head)? {
            Status::Complete(accepted) => Ok(accepted),
            Status::Partial => Err(HandshakeError::Malformed),
        }
    }
}

/// A head: `first_line`, each header field in the map's order, the blank
/// line.
fn write_head(first_line: &str, headers: &HeaderMap) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(first_line.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Appends a header field already checked by
/// [`check_header`](super::check_header) (or one of ours).
fn append(headers: &mut HeaderMap, name: &str, value: &str) {
    let name = HeaderName::from_bytes(name.as_bytes()).expect("a token is a valid header name");
    let value = HeaderValue::from_str(value).expect("no control character but HTAB");
    headers.append(name, value);
}

impl RefusedResponse {
    /// The refusal as an `http::Response<Vec<u8>>`: its status, version,
    /// every header field in order and [`body`](Self::body) (what was read
    /// of it: see [`body_end`](Self::body_end)).
    ///
    /// ```
    /// use wsframe::handshake::{RefusedResponse, Status};
    /// let read = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\n\r\n";
    /// let Status::Complete(refused) = RefusedResponse::parse(read)? else { unreachable!() };
    /// let response = refused.to_http();
    /// assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
    /// assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"ws\"");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_http(&self) -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(self.body().to_vec());
        // `parse` keeps three-digit statuses from 100 on, all valid here.
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_GATEWAY);
        *response.version_mut() = match self.minor_version() {
            0 => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        for (name, value) in self.headers() {
            // httparse's names are tokens and its values free of controls
            // but HTAB: both valid `http` names and values.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}
