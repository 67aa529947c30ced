//! The handshake over the `http` crate's types (feature `http`): each refusal
//! of RFC 6455 §4.2.1 as an `http::Request`, the 101 and the refusals as
//! `http::Response`s, the client request from a `ws://`/`wss://` URI, and
//! each failure of §4.1 from an `http::Response`.
#![cfg(feature = "http")]

use http::{header, Method, Request, Response, StatusCode, Uri, Version};
use wsframe::handshake::{
    accept_key, BuildError, ClientHandshake, ExtensionOffer, HandshakeError, UpgradeRequest,
    MAX_HEADERS,
};

fn good() -> http::request::Builder {
    Request::get("/chat?room=1")
        .header("Host", "server.example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "keep-alive, Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Origin", "http://example.com")
        .header("Sec-WebSocket-Protocol", "chat, superchat")
        .header("Sec-WebSocket-Extensions", "x-a; p=\"1\"")
        .header("Sec-WebSocket-Version", "13")
}

fn check(request: Request<()>) -> Result<UpgradeRequest, HandshakeError> {
    UpgradeRequest::from_http(&request.into_parts().0)
}

/// `good()` with the header `name` removed.
fn without(name: header::HeaderName) -> Request<()> {
    let mut request = good().body(()).unwrap();
    request.headers_mut().remove(name);
    request
}

/// `good()` with the header `name` set to `value` alone.
fn replaced(name: header::HeaderName, value: &'static str) -> Request<()> {
    let mut request = good().body(()).unwrap();
    request
        .headers_mut()
        .insert(name, header::HeaderValue::from_static(value));
    request
}

#[test]
fn rfc6455_4_2_1_an_http_request_is_validated_and_exposed() {
    let request = good().header("Cookie", "id=7").body("a body").unwrap();
    let upgrade = UpgradeRequest::from_http_request(&request).unwrap();
    assert_eq!((upgrade.path(), upgrade.query()), ("/chat", Some("room=1")));
    assert_eq!(upgrade.host(), "server.example.com");
    assert_eq!(upgrade.origin(), Some("http://example.com"));
    assert_eq!(upgrade.header("cookie"), Some(&b"id=7"[..]));
    assert_eq!(
        upgrade.subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert_eq!(
        upgrade.extensions()[0].param("p").unwrap().value(),
        Some("1")
    );
    assert_eq!(upgrade.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn rfc6455_4_2_1_each_broken_rule_is_refused_from_http_types() {
    use HandshakeError::*;
    let extra = |name: &str, value: &str| good().header(name, value).body(()).unwrap();
    let mut many = good();
    for i in 0..MAX_HEADERS {
        many = many.header(format!("x-{i}"), "a");
    }
    let cases = vec![
        // RFC 6585 §5.
        (many.body(()).unwrap(), TooManyHeaders),
        // §4.1 item 2: HTTP/1.1 (HTTP/2's extended CONNECT is not supported).
        (
            good().version(Version::HTTP_10).body(()).unwrap(),
            HttpVersion,
        ),
        (
            good().version(Version::HTTP_2).body(()).unwrap(),
            HttpVersion,
        ),
        // §4.2.1 item 1.
        (good().method(Method::POST).body(()).unwrap(), NotGet),
        // §4.2.1 item 2, RFC 9112 §3.2.
        (without(header::HOST), MissingHost),
        (extra("Host", "evil.example.com"), DuplicateHost),
        // §4.2.1 items 3, 4.
        (without(header::UPGRADE), MissingUpgrade),
        (without(header::CONNECTION), MissingConnectionUpgrade),
        // §4.2.1 item 6, §11.3.5.
        (without(header::SEC_WEBSOCKET_VERSION), MissingVersion),
        (extra("Sec-WebSocket-Version", "8"), DuplicateVersion),
        (
            replaced(header::SEC_WEBSOCKET_VERSION, "8"),
            UnsupportedVersion,
        ),
        // §4.2.1 item 5, §11.3.1.
        (without(header::SEC_WEBSOCKET_KEY), MissingKey),
        (
            extra("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
            DuplicateKey,
        ),
        // §4.2.1 item 7.
        (extra("Origin", "http://evil.example"), BadOrigin),
        // §4.1 item 10, §9.1.
        (
            extra("Sec-WebSocket-Protocol", "a b"),
            MalformedSubprotocols,
        ),
        (extra("Sec-WebSocket-Extensions", "x;"), MalformedExtensions),
    ];
    for (request, error) in cases {
        let shown = format!("{request:?}");
        assert_eq!(check(request).err(), Some(error), "{shown}");
    }
}

#[test]
fn refusals_become_http_responses_with_their_status_and_headers() {
    let cases = [
        (HandshakeError::DuplicateKey, StatusCode::BAD_REQUEST),
        (
            HandshakeError::UnsupportedVersion,
            StatusCode::UPGRADE_REQUIRED,
        ),
        (
            HandshakeError::TooManyHeaders,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            HandshakeError::HeadTooLarge,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (HandshakeError::NotGet, StatusCode::METHOD_NOT_ALLOWED),
        (
            HandshakeError::HttpVersion,
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        ),
    ];
    for (error, status) in cases {
        let response = error.to_http();
        assert_eq!(response.status(), status, "{error:?}");
        assert_eq!(error.status(), status.as_u16());
        let version = response.headers().get(header::SEC_WEBSOCKET_VERSION);
        assert_eq!(version.is_some(), status == StatusCode::UPGRADE_REQUIRED);
        if status == StatusCode::UPGRADE_REQUIRED {
            assert_eq!(version.unwrap(), "13");
        }
        let allow = response.headers().get(header::ALLOW);
        assert_eq!(
            allow.map(|v| v.to_str().unwrap()),
            (status == StatusCode::METHOD_NOT_ALLOWED).then_some("GET")
        );
        assert_eq!(
            response.map(|()| error.to_string()).body(),
            &error.to_string()
        );
    }
}

#[test]
fn rfc6455_4_2_2_the_accept_builder_gives_an_http_101() {
    let upgrade = check(good().body(()).unwrap()).unwrap();
    let response = upgrade
        .accept()
        .subprotocol("chat")
        .unwrap()
        .extension(
            ExtensionOffer::new("x-a")
                .unwrap()
                .with_param("p", Some("2"))
                .unwrap(),
        )
        .unwrap()
        .header("Set-Cookie", "a=1")
        .unwrap()
        .header("Set-Cookie", "b=2")
        .unwrap()
        .to_http();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers();
    assert_eq!(headers[header::UPGRADE], "websocket");
    assert_eq!(headers[header::CONNECTION], "Upgrade");
    assert_eq!(
        headers[header::SEC_WEBSOCKET_ACCEPT],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(headers[header::SEC_WEBSOCKET_PROTOCOL], "chat");
    assert_eq!(headers[header::SEC_WEBSOCKET_EXTENSIONS], "x-a; p=2");
    assert_eq!(headers.get_all(header::SET_COOKIE).iter().count(), 2);
}

#[test]
fn rfc6455_4_1_the_client_request_from_a_uri_omits_default_ports() {
    let cases = [
        ("ws://example.com/chat", "example.com", "/chat"),
        ("ws://example.com:80/chat?x=1", "example.com", "/chat?x=1"),
        ("ws://example.com:443/", "example.com:443", "/"),
        ("wss://example.com:443", "example.com", "/"),
        ("wss://example.com:80/a", "example.com:80", "/a"),
        ("WS://127.0.0.1:9001/echo", "127.0.0.1:9001", "/echo"),
        ("ws://[::1]:9001/", "[::1]:9001", "/"),
        ("ws://[::1]/", "[::1]", "/"),
    ];
    for (uri, host, target) in cases {
        let client = ClientHandshake::new([3; 16])
            .uri(&uri.parse::<Uri>().unwrap())
            .unwrap();
        assert_eq!(
            (client.host(), client.request_target()),
            (host, target),
            "{uri}"
        );
        // Our server accepts what the client sends, as bytes and as http.
        let request = client.to_http();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), target);
        assert_eq!(request.headers()[header::HOST], host);
        let upgrade = UpgradeRequest::from_http_request(&request).unwrap();
        assert_eq!(upgrade.host(), host);
        assert_eq!(upgrade.target(), target);
    }
    for uri in [
        "http://example.com/",
        "https://example.com/",
        "/chat",
        "example.com:80",
    ] {
        assert_eq!(
            ClientHandshake::new([3; 16])
                .uri(&uri.parse::<Uri>().unwrap())
                .err(),
            Some(BuildError::Uri),
            "{uri}"
        );
    }
}

fn client() -> ClientHandshake {
    ClientHandshake::new(*b"sixteen byte key")
        .uri(&"ws://127.0.0.1:9001/echo".parse().unwrap())
        .unwrap()
        .subprotocol("chat")
        .unwrap()
        .extension(ExtensionOffer::new("x-a").unwrap())
}

fn switching() -> http::response::Builder {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header(
            "Sec-WebSocket-Accept",
            accept_key(client().key().as_bytes()),
        )
}

#[test]
fn rfc6455_4_1_an_http_101_is_checked_like_bytes() {
    let accepted = client()
        .check_http(
            &switching()
                .header("Sec-WebSocket-Protocol", "chat")
                .header("Sec-WebSocket-Extensions", "x-a; p")
                .body(())
                .unwrap(),
        )
        .unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
    assert_eq!(accepted.extensions[0].name(), "x-a");

    use HandshakeError::*;
    let with = |name: &str, value: &str| switching().header(name, value).body(()).unwrap();
    let without = |name: header::HeaderName| {
        let mut response = switching().body(()).unwrap();
        response.headers_mut().remove(name);
        response
    };
    let cases = vec![
        (
            Response::builder().status(403).body(()).unwrap(),
            NotSwitching(403),
        ),
        (without(header::UPGRADE), MissingUpgrade),
        (without(header::CONNECTION), MissingConnectionUpgrade),
        (without(header::SEC_WEBSOCKET_ACCEPT), MissingAccept),
        (
            with("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            DuplicateAccept,
        ),
        (
            with("Sec-WebSocket-Protocol", "superchat"),
            UnofferedSubprotocol,
        ),
        (
            with("Sec-WebSocket-Protocol", "chat, chat"),
            SeveralSubprotocols,
        ),
        (
            with("Sec-WebSocket-Extensions", "permessage-deflate"),
            UnofferedExtension,
        ),
    ];
    for (response, error) in cases {
        let shown = format!("{response:?}");
        assert_eq!(client().check_http(&response).err(), Some(error), "{shown}");
    }
    let mut wrong = switching().body(()).unwrap();
    wrong.headers_mut().insert(
        header::SEC_WEBSOCKET_ACCEPT,
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".parse().unwrap(),
    );
    assert_eq!(client().check_http(&wrong).err(), Some(BadAccept));
}

mod as_bytes_and_as_http_alike {
    use proptest::prelude::*;
    use wsframe::handshake::{ClientHandshake, Status, UpgradeRequest};

    proptest! {
        /// The same client request, as bytes and as an `http::Request`, is
        /// accepted with the same path, host, key, subprotocols and headers.
        #[test]
        fn a_built_request_reads_the_same_from_bytes_and_from_http(
            nonce in any::<[u8; 16]>(),
            // Every byte `target` allows (RFC 3986 §2 but `#`), so that `to_http`'s
            // URI is always valid.
            path in "/[A-Za-z0-9._~%!$&'()*+,;=:@/\\[\\]-]{0,12}(\\?[A-Za-z0-9._~%!$&'()*+,;=:@/?\\[\\]-]{0,12})?",
            subprotocols in prop::collection::vec("[a-z0-9.]{1,8}", 0..3),
            cookie in "[!-~]{1,20}",
        ) {
            let mut client = ClientHandshake::new(nonce)
                .uri(&format!("ws://example.com:8080{path}").parse().unwrap())
                .unwrap()
                .header("Cookie", &cookie)
                .unwrap();
            for p in &subprotocols {
                client = client.subprotocol(p).unwrap();
            }
            let Ok(Status::Complete((from_bytes, _))) = UpgradeRequest::parse(&client.to_bytes()) else {
                panic!("refused as bytes");
            };
            let from_http = UpgradeRequest::from_http_request(&client.to_http()).unwrap();
            prop_assert_eq!(from_http.target(), from_bytes.target());
            prop_assert_eq!(from_http.host(), "example.com:8080");
            prop_assert_eq!(from_http.key(), from_bytes.key());
            prop_assert_eq!(from_http.subprotocols().collect::<Vec<_>>(), from_bytes.subprotocols().collect::<Vec<_>>());
            prop_assert_eq!(from_http.header("cookie"), Some(cookie.as_bytes()));
            // The server's 101 as http passes the client's check as http.
            let response = from_http.accept().to_http();
            prop_assert!(client.check_http(&response).is_ok());
        }
    }
}
