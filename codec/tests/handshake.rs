//! The opening handshake against RFC 6455 §4 as bytes: the RFC's own sample,
//! one test per way a request or a response can be refused (each naming its
//! RFC section), the accept builder, `reject`, and the header-injection
//! refusals. The `http` types: `handshake_http.rs`; the extension grammar:
//! `handshake_extensions.rs`; the round-trip property: `handshake_properties.rs`.

use wsframe::handshake::{
    accept_key, reject, BuildError, ClientHandshake, ExtensionOffer, HandshakeError, Status,
    UpgradeRequest, MAX_HANDSHAKE_LEN, MAX_HEADERS,
};

const GOOD: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn parse(request: &str) -> Result<Status<(UpgradeRequest, usize)>, HandshakeError> {
    UpgradeRequest::parse(request.as_bytes())
}

fn upgrade(request: &str) -> UpgradeRequest {
    match parse(request) {
        Ok(Status::Complete((upgrade, _))) => upgrade,
        other => panic!("refused: {other:?}"),
    }
}

/// `GOOD` with `line` (no CRLF) inserted before the blank line.
fn with_line(line: &str) -> String {
    GOOD.replace("\r\n\r\n", &format!("\r\n{line}\r\n\r\n"))
}

/// Checks that `response` is a well-formed HTTP/1.1 response with `status`,
/// and returns its header fields and body.
fn parsed_response(response: &[u8], status: u16) -> (Vec<(String, String)>, Vec<u8>) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(used) = res.parse(response).unwrap() else {
        panic!("incomplete response");
    };
    assert_eq!(res.code, Some(status));
    let fields: Vec<(String, String)> = res
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8(h.value.to_vec()).unwrap(),
            )
        })
        .collect();
    let body = response[used..].to_vec();
    let length = fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .map(|(_, v)| v.parse::<usize>().unwrap());
    if status != 101 {
        assert_eq!(length, Some(body.len()), "Content-Length");
    }
    (fields, body)
}

fn field<'f>(fields: &'f [(String, String)], name: &str) -> Vec<&'f str> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn rfc6455_1_3_the_sample_key_gives_the_sample_accept_value() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn rfc6455_4_2_1_a_valid_request_is_exposed_and_frames_after_it_are_left_alone() {
    let with_frame = format!("{}\u{81}", with_line("Cookie: a=1"));
    let Ok(Status::Complete((upgrade, used))) = parse(&with_frame) else {
        panic!("refused");
    };
    assert_eq!(used, with_frame.len() - 2, "the head, not the frame byte");
    assert_eq!(upgrade.target(), "/chat?room=1");
    assert_eq!(upgrade.path(), "/chat");
    assert_eq!(upgrade.query(), Some("room=1"));
    assert_eq!(upgrade.host(), "server.example.com");
    assert_eq!(upgrade.origin(), Some("http://example.com"));
    assert_eq!(upgrade.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(upgrade.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(
        upgrade.subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert!(upgrade.offers_subprotocol("chat"));
    assert!(
        !upgrade.offers_subprotocol("Chat"),
        "subprotocols are case-sensitive"
    );
    assert!(upgrade.extensions().is_empty());
    assert_eq!(upgrade.header("COOKIE"), Some(&b"a=1"[..]));
    assert_eq!(upgrade.header("X-Absent"), None);
    let names: Vec<&str> = upgrade.headers().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "Host",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Origin",
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Version",
            "Cookie"
        ]
    );
    assert_eq!(upgrade.head(), &with_frame.as_bytes()[..used]);
}

#[test]
fn rfc9112_3_2_2_an_absolute_form_target_gives_the_same_path_and_query() {
    for (target, path, query) in [
        (
            "ws://server.example.com/chat?room=1",
            "/chat",
            Some("room=1"),
        ),
        ("http://server.example.com/chat", "/chat", None),
        ("ws://server.example.com", "/", None),
        ("ws://server.example.com?x", "/", Some("x")),
        ("/a?b?c", "/a", Some("b?c")),
    ] {
        let upgrade = upgrade(&GOOD.replace("/chat?room=1", target));
        assert_eq!(upgrade.target(), target);
        assert_eq!((upgrade.path(), upgrade.query()), (path, query), "{target}");
    }
}

#[test]
fn rfc9112_3_2_2_an_absolute_form_target_names_the_host() {
    // The server "MUST ignore the received Host header field" and use the
    // target's authority; Host must still be there and valid (§3.2).
    let absolute = upgrade(&GOOD.replace("/chat?room=1", "wss://[::1]:9443/chat"));
    assert_eq!(absolute.host(), "[::1]:9443");
    assert_eq!(absolute.path(), "/chat");
    let origin_form = upgrade(&GOOD.replace("server.example.com", " server.example.com:80 "));
    assert_eq!(origin_form.host(), "server.example.com:80");
}

#[test]
fn header_values_are_bytes_and_repeated_headers_are_all_visible() {
    let request = with_line("Cookie: a=1\r\nX-Bytes: caf\u{e9}\r\ncookie: b=2");
    let upgrade = upgrade(&request);
    assert_eq!(
        upgrade.header_values("Cookie").collect::<Vec<_>>(),
        [&b"a=1"[..], &b"b=2"[..]]
    );
    assert_eq!(upgrade.header("x-bytes"), Some("caf\u{e9}".as_bytes()));
}

#[test]
fn subprotocols_are_collected_in_order_across_lines_and_empty_elements_skipped() {
    // RFC 6455 §4.2.1 item 8; RFC 9110 §5.6.1 (empty list elements).
    let request = with_line("Sec-WebSocket-Protocol: , v3 ,,v4");
    assert_eq!(
        upgrade(&request).subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat", "v3", "v4"]
    );
}

#[test]
fn every_strict_prefix_is_partial_and_byte_by_byte_gives_the_same_request() {
    let whole = upgrade(GOOD);
    let mut fed = Vec::new();
    for (i, &byte) in GOOD.as_bytes().iter().enumerate() {
        assert_eq!(
            UpgradeRequest::parse(&fed),
            Ok(Status::Partial),
            "prefix {i}"
        );
        fed.push(byte);
    }
    assert_eq!(
        UpgradeRequest::parse(&fed),
        Ok(Status::Complete((whole, GOOD.len())))
    );
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let request = GOOD
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: keep-alive, Upgrade", "CONNECTION: UPGRADE")
        .replace("Host:", "hOST:");
    assert!(matches!(parse(&request), Ok(Status::Complete(_))));
}

/// Each refusal of §4.2.1 (and of HTTP): the request, the error, its status.
fn refusals() -> Vec<(String, HandshakeError, u16)> {
    use HandshakeError::*;
    let many_headers: String = (0..MAX_HEADERS).map(|i| format!("X-{i}: a\r\n")).collect();
    let mut too_large = GOOD.replace("\r\n\r\n", "\r\n");
    while too_large.len() <= MAX_HANDSHAKE_LEN {
        too_large.push_str(&format!("X-Padding: {}\r\n", "a".repeat(1000)));
    }
    vec![
        // RFC 9112 §2.2 / httparse: not HTTP at all.
        (
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_owned(),
            Malformed,
            400,
        ),
        // RFC 6585 §5: too many header fields, and too large a head.
        (
            GOOD.replace("\r\n\r\n", &format!("\r\n{many_headers}\r\n")),
            TooManyHeaders,
            431,
        ),
        (too_large, HeadTooLarge, 431),
        // §4.1 item 2 (HTTP/1.1 or higher).
        (GOOD.replace("HTTP/1.1", "HTTP/1.0"), HttpVersion, 505),
        // §4.2.1 item 1: GET (RFC 9110 §15.5.6: 405).
        (GOOD.replace("GET", "POST"), NotGet, 405),
        // §4.2.1 item 2, RFC 9112 §3.2: exactly one Host.
        (
            GOOD.replace("Host: server.example.com\r\n", ""),
            MissingHost,
            400,
        ),
        (with_line("Host: evil.example.com"), DuplicateHost, 400),
        (with_line("Host: server.example.com"), DuplicateHost, 400),
        (
            GOOD.replace("server.example.com", "h\u{e9}te"),
            BadHost,
            400,
        ),
        // RFC 9110 §7.2: uri-host [ ":" port ].
        (GOOD.replace("server.example.com", "x/evil"), BadHost, 400),
        (GOOD.replace("server.example.com", ""), BadHost, 400),
        (GOOD.replace("server.example.com", "a b"), BadHost, 400),
        (GOOD.replace("server.example.com", "u@h"), BadHost, 400),
        (GOOD.replace("server.example.com", "h:99999"), BadHost, 400),
        (
            GOOD.replace("/chat?room=1", "ws://ok.example/")
                .replace("server.example.com", "x/evil"),
            BadHost,
            400,
        ),
        // §4.1 item 3, RFC 9112 §3.2: origin or absolute form only.
        (GOOD.replace("/chat?room=1", "chat"), BadTarget, 400),
        (GOOD.replace("/chat?room=1", "*"), BadTarget, 400),
        (
            GOOD.replace("/chat?room=1", "server.example.com:443"),
            BadTarget,
            400,
        ),
        (GOOD.replace("/chat?room=1", "ftp://h/chat"), BadTarget, 400),
        (
            GOOD.replace("/chat?room=1", "ws://u@h/chat"),
            BadTarget,
            400,
        ),
        (GOOD.replace("/chat?room=1", "/chat#top"), BadTarget, 400),
        // §4.2.1 item 3.
        (
            GOOD.replace("Upgrade: websocket\r\n", ""),
            MissingUpgrade,
            400,
        ),
        (
            GOOD.replace("Upgrade: websocket", "Upgrade: h2c"),
            MissingUpgrade,
            400,
        ),
        // §4.2.1 item 4.
        (
            GOOD.replace("keep-alive, Upgrade", "keep-alive"),
            MissingConnectionUpgrade,
            400,
        ),
        // §4.2.1 item 6, §11.3.5, §4.4.
        (
            GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""),
            MissingVersion,
            400,
        ),
        (with_line("Sec-WebSocket-Version: 8"), DuplicateVersion, 400),
        (
            with_line("Sec-WebSocket-Version: 13"),
            DuplicateVersion,
            400,
        ),
        (
            GOOD.replace("Version: 13", "Version: 8"),
            UnsupportedVersion,
            426,
        ),
        (
            GOOD.replace("Version: 13", "Version: 13, 8"),
            UnsupportedVersion,
            426,
        ),
        // §4.2.1 item 5, §11.3.1.
        (
            GOOD.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            MissingKey,
            400,
        ),
        (
            with_line("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="),
            DuplicateKey,
            400,
        ),
        (
            with_line("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
            DuplicateKey,
            400,
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
            BadKey,
            400,
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64!"),
            BadKey,
            400,
        ),
        // §4.2.1 item 7, RFC 6454 §7.1: one serialized origin.
        (with_line("Origin: http://evil.example"), BadOrigin, 400),
        (
            GOOD.replace("http://example.com", "http://\u{e9}.example"),
            BadOrigin,
            400,
        ),
        // §4.1 item 10: subprotocols are tokens.
        (
            GOOD.replace("chat, superchat", "chat, super chat"),
            MalformedSubprotocols,
            400,
        ),
        (
            GOOD.replace("chat, superchat", "chat; v=1"),
            MalformedSubprotocols,
            400,
        ),
        // §9.1.
        (
            with_line("Sec-WebSocket-Extensions: permessage-deflate;"),
            MalformedExtensions,
            400,
        ),
        // RFC 9110 §9.3.1: no body; after the head come frames.
        (
            format!("{}hello", with_line("Content-Length: 5")),
            RequestBody,
            400,
        ),
        (
            format!("{}0\r\n\r\n", with_line("Transfer-Encoding: chunked")),
            RequestBody,
            400,
        ),
    ]
}

#[test]
fn rfc9110_9_3_1_an_empty_body_is_no_body() {
    assert!(matches!(
        parse(&with_line("Content-Length: 0")),
        Ok(Status::Complete(_))
    ));
}

#[test]
fn rfc6455_4_2_1_each_broken_rule_is_refused_with_its_own_error_and_status() {
    for (request, error, status) in refusals() {
        assert_eq!(parse(&request).map(|_| ()), Err(error), "{request}");
        assert_eq!(error.status(), status, "{error:?}");
    }
}

#[test]
fn each_refusal_writes_a_plain_http_response_a_person_can_act_on() {
    for (_, error, status) in refusals() {
        let (fields, body) = parsed_response(&error.response(), status);
        assert_eq!(body, error.to_string().as_bytes());
        assert!(body.len() > 20, "{error:?} explains itself");
        assert_eq!(field(&fields, "Connection"), ["close"]);
        // RFC 6455 §4.4: a 426 names the versions we speak.
        let versions = field(&fields, "Sec-WebSocket-Version");
        assert_eq!(versions, if status == 426 { vec!["13"] } else { vec![] });
        // RFC 9110 §15.5.6: a 405 lists the allowed methods.
        let allow = field(&fields, "Allow");
        assert_eq!(allow, if status == 405 { vec!["GET"] } else { vec![] });
    }
}

#[test]
fn rfc6585_5_the_header_count_limit_is_exact() {
    // GOOD has 7 fields; up to MAX_HEADERS in all are accepted.
    let fill = |n: usize| -> String {
        let lines: String = (0..n).map(|i| format!("X-{i}: a\r\n")).collect();
        GOOD.replace("\r\n\r\n", &format!("\r\n{lines}\r\n"))
    };
    assert!(matches!(
        parse(&fill(MAX_HEADERS - 7)),
        Ok(Status::Complete(_))
    ));
    assert_eq!(
        parse(&fill(MAX_HEADERS - 6)).map(|_| ()),
        Err(HandshakeError::TooManyHeaders)
    );
}

#[test]
fn rfc6585_5_an_endless_request_is_refused_with_431_not_buffered() {
    let mut request = GOOD.replace("\r\n\r\n", "\r\n");
    // Few, long lines: the size limit, not the count, is reached.
    while request.len() <= MAX_HANDSHAKE_LEN {
        request.push_str(&format!("X-Padding: {}\r\n", "a".repeat(2000)));
    }
    // Still partial (no blank line), but already too long to wait for.
    assert_eq!(
        parse(&request).map(|_| ()),
        Err(HandshakeError::HeadTooLarge)
    );
    assert_eq!(HandshakeError::HeadTooLarge.status(), 431);
}

#[test]
fn rfc6455_4_2_2_the_accept_builder_writes_subprotocol_extensions_and_headers() {
    let request = with_line("Sec-WebSocket-Extensions: x-a; p=1, x-b");
    let upgrade = upgrade(&request);
    let response = upgrade
        .accept()
        .subprotocol("superchat")
        .unwrap()
        .extension(
            ExtensionOffer::new("x-b")
                .unwrap()
                .with_param("q", None)
                .unwrap(),
        )
        .unwrap()
        .header("Set-Cookie", "id=7; HttpOnly")
        .unwrap()
        .header("X-Tab", "a\tb")
        .unwrap()
        .to_bytes();
    let (fields, body) = parsed_response(&response, 101);
    assert!(body.is_empty());
    assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert_eq!(field(&fields, "Upgrade"), ["websocket"]);
    assert_eq!(field(&fields, "Connection"), ["Upgrade"]);
    assert_eq!(
        field(&fields, "Sec-WebSocket-Accept"),
        ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    );
    assert_eq!(field(&fields, "Sec-WebSocket-Protocol"), ["superchat"]);
    assert_eq!(field(&fields, "Sec-WebSocket-Extensions"), ["x-b; q"]);
    assert_eq!(field(&fields, "Set-Cookie"), ["id=7; HttpOnly"]);
    assert_eq!(field(&fields, "X-Tab"), ["a\tb"]);
    let mut appended = b"before".to_vec();
    upgrade.accept().write_to(&mut appended);
    assert_eq!(&appended[6..], upgrade.accept().to_bytes());
}

#[test]
fn rfc6455_4_2_2_a_subprotocol_or_extension_the_client_did_not_offer_is_an_error() {
    let upgrade = upgrade(GOOD);
    assert_eq!(
        upgrade.accept().subprotocol("mqtt").err(),
        Some(BuildError::Subprotocol)
    );
    assert_eq!(
        upgrade.accept().subprotocol("CHAT").err(),
        Some(BuildError::Subprotocol)
    );
    let deflate = ExtensionOffer::new("permessage-deflate").unwrap();
    assert_eq!(
        upgrade.accept().extension(deflate).err(),
        Some(BuildError::Extension)
    );
    // The compatibility shortcut names an offered subprotocol, never another.
    let named = String::from_utf8(upgrade.response(Some("chat"))).unwrap();
    assert!(named.contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
    let unnamed = String::from_utf8(upgrade.response(Some("mqtt"))).unwrap();
    assert!(!unnamed.contains("Sec-WebSocket-Protocol"));
    assert_eq!(upgrade.response(None), upgrade.accept().to_bytes());
}

/// Names and values that would inject header fields or break the head.
const BAD_NAMES: &[&str] = &["", "X A", "X:A", "X\r\nA", "X\nA", "X\0A", "Caf\u{e9}"];
const BAD_VALUES: &[&str] = &[
    "a\r\nX-Injected: 1",
    "a\nX-Injected: 1",
    "a\rb",
    "a\0b",
    "a\x7fb",
    "a\x01b",
];

#[test]
fn rfc9110_5_header_injection_is_refused_by_every_builder() {
    let upgrade = upgrade(GOOD);
    let client = ClientHandshake::new([1; 16]);
    for name in BAD_NAMES {
        assert_eq!(
            upgrade.accept().header(name, "v").err(),
            Some(BuildError::InvalidHeaderName),
            "{name:?}"
        );
        assert_eq!(
            client.clone().header(name, "v").err(),
            Some(BuildError::InvalidHeaderName)
        );
        assert_eq!(
            reject(403, &[(name, "v")], b"").err(),
            Some(BuildError::InvalidHeaderName)
        );
    }
    for value in BAD_VALUES {
        assert_eq!(
            upgrade.accept().header("X-A", value).err(),
            Some(BuildError::InvalidHeaderValue),
            "{value:?}"
        );
        assert_eq!(
            client.clone().header("X-A", value).err(),
            Some(BuildError::InvalidHeaderValue)
        );
        assert_eq!(
            reject(403, &[("X-A", value)], b"").err(),
            Some(BuildError::InvalidHeaderValue)
        );
    }
    // The fields the handshake writes itself cannot be set twice.
    for name in [
        "sec-websocket-accept",
        "Upgrade",
        "Connection",
        "Content-Length",
    ] {
        assert_eq!(
            upgrade.accept().header(name, "x").err(),
            Some(BuildError::ReservedHeader)
        );
    }
    for name in ["Host", "sec-websocket-key", "Sec-WebSocket-Version"] {
        assert_eq!(
            client.clone().header(name, "x").err(),
            Some(BuildError::ReservedHeader)
        );
    }
    // Targets and hosts too.
    for (host, target) in [
        ("", "/"),
        ("a b", "/"),
        ("a\r\nX: 1", "/"),
        ("a", ""),
        ("a", "chat"),
        ("a", "/c hat"),
        ("a", "/chat\r\nX: 1"),
        ("a", "/#frag"),
        ("x/evil", "/"),
        ("a:99999", "/"),
        ("[::1", "/"),
        ("a", "ws://a/chat"),
        ("a", "/{x}"),
    ] {
        assert_eq!(
            client.clone().target(host, target).err(),
            Some(BuildError::Target),
            "{host:?} {target:?}"
        );
    }
    assert_eq!(
        client.clone().subprotocol("two words").err(),
        Some(BuildError::Subprotocol)
    );
}

#[test]
fn reject_writes_a_plain_response_with_its_headers_and_body() {
    let response = reject(403, &[("X-Reason", "origin")], b"origin refused").unwrap();
    let (fields, body) = parsed_response(&response, 403);
    assert!(response.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    assert_eq!(body, b"origin refused");
    assert_eq!(field(&fields, "X-Reason"), ["origin"]);
    assert_eq!(
        field(&fields, "Content-Type"),
        ["text/plain; charset=utf-8"]
    );
    assert_eq!(field(&fields, "Connection"), ["close"]);
    let (_, body) = parsed_response(&reject(418, &[], b"").unwrap(), 418);
    assert!(body.is_empty());
    for status in [0, 101, 199, 600] {
        assert_eq!(reject(status, &[], b"").err(), Some(BuildError::Status));
    }
    assert_eq!(
        reject(400, &[("content-length", "0")], b"x").err(),
        Some(BuildError::ReservedHeader)
    );
}

// ---- Client side ----

const NONCE: [u8; 16] = *b"sixteen byte key";

fn client() -> ClientHandshake {
    ClientHandshake::new(NONCE)
        .target("127.0.0.1:9001", "/echo")
        .unwrap()
        .subprotocol("chat")
        .unwrap()
        .subprotocol("superchat")
        .unwrap()
        .extension(ExtensionOffer::new("x-a").unwrap())
}

/// A valid 101 for `client()`, with `lines` (each ending in CRLF) added.
fn switching(lines: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{lines}\r\n",
        accept_key(client().key().as_bytes())
    )
}

#[test]
fn rfc6455_4_1_the_client_request_carries_what_was_built_and_our_server_accepts_it() {
    let client = client()
        .header("Origin", "http://127.0.0.1")
        .unwrap()
        .header("Cookie", "id=7")
        .unwrap();
    let request = client.to_bytes();
    let text = String::from_utf8(request.clone()).unwrap();
    assert!(text.starts_with("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Protocol: chat, superchat\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Extensions: x-a\r\n"));
    let upgrade = match UpgradeRequest::parse(&request) {
        Ok(Status::Complete((upgrade, used))) => {
            assert_eq!(used, request.len());
            upgrade
        }
        other => panic!("our own request refused: {other:?}"),
    };
    assert_eq!(upgrade.path(), "/echo");
    assert_eq!(upgrade.host(), "127.0.0.1:9001");
    assert_eq!(upgrade.origin(), Some("http://127.0.0.1"));
    assert_eq!(upgrade.header("cookie"), Some(&b"id=7"[..]));
    assert_eq!(upgrade.key(), client.key());
    assert_eq!(upgrade.extensions()[0].name(), "x-a");
}

#[test]
fn rfc6455_4_1_a_valid_101_gives_head_length_subprotocol_extensions_and_leaves_frames() {
    let response = switching("Sec-WebSocket-Protocol: superchat\r\nSec-WebSocket-Extensions: x-a; p=\"1\"\r\nSet-Cookie: k=v\r\n");
    let mut read = response.clone().into_bytes();
    read.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    let Ok(Status::Complete(accepted)) = client().parse_response(&read) else {
        panic!("refused");
    };
    assert_eq!(accepted.head_len, response.len());
    assert_eq!(&read[accepted.head_len..], [0x81, 0x02, b'h', b'i']);
    assert_eq!(accepted.subprotocol.as_deref(), Some("superchat"));
    assert_eq!(accepted.extensions.len(), 1);
    assert_eq!(
        accepted.extensions[0].param("p").unwrap().value(),
        Some("1")
    );
    assert_eq!(accepted.header("set-cookie"), Some(&b"k=v"[..]));
    // Every cut of the head is partial; then the same answer.
    for end in 0..response.len() {
        assert_eq!(
            client().parse_response(&read[..end]),
            Ok(Status::Partial),
            "prefix {end}"
        );
    }
    // No subprotocol, no extension: allowed (§4.1 items 5 and 6).
    let plain = switching("");
    let Ok(Status::Complete(accepted)) = client().parse_response(plain.as_bytes()) else {
        panic!("refused");
    };
    assert_eq!((accepted.subprotocol, accepted.extensions), (None, vec![]));
}

#[test]
fn rfc6455_4_1_each_bad_answer_fails_the_client() {
    use HandshakeError::*;
    let accept = accept_key(client().key().as_bytes());
    let base = switching("");
    let cases: Vec<(String, HandshakeError)> = vec![
        // §4.1: anything but 101, with its status kept.
        (
            "HTTP/1.1 403 Forbidden\r\n\r\n".to_owned(),
            NotSwitching(403),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned(),
            NotSwitching(200),
        ),
        // An HTTP/1.0 peer cannot switch protocols (RFC 9110 §7.8).
        (base.replace("HTTP/1.1 101", "HTTP/1.0 101"), HttpVersion),
        // §4.1 item 2.
        (base.replace("Upgrade: websocket\r\n", ""), MissingUpgrade),
        (
            base.replace("Upgrade: websocket", "Upgrade: h2c"),
            MissingUpgrade,
        ),
        (switching("Upgrade: h2c\r\n"), MissingUpgrade),
        // §4.1 item 3.
        (
            base.replace("Connection: Upgrade\r\n", ""),
            MissingConnectionUpgrade,
        ),
        (
            base.replace("Connection: Upgrade", "Connection: close"),
            MissingConnectionUpgrade,
        ),
        // §4.1 item 4, §11.3.3.
        (
            base.replace(&format!("Sec-WebSocket-Accept: {accept}\r\n"), ""),
            MissingAccept,
        ),
        (
            base.replace(&accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            BadAccept,
        ),
        (
            switching("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            DuplicateAccept,
        ),
        (
            switching(&format!("Sec-WebSocket-Accept: {accept}\r\n")),
            DuplicateAccept,
        ),
        // §4.1 item 5.
        (
            switching("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            UnofferedExtension,
        ),
        (
            switching("Sec-WebSocket-Extensions: x-a, x-b\r\n"),
            UnofferedExtension,
        ),
        (
            switching("Sec-WebSocket-Extensions: x-a;\r\n"),
            MalformedExtensions,
        ),
        // §4.1 item 6, §4.2.2 item 5.5 (a single value).
        (
            switching("Sec-WebSocket-Protocol: mqtt\r\n"),
            UnofferedSubprotocol,
        ),
        (
            switching("Sec-WebSocket-Protocol: Chat\r\n"),
            UnofferedSubprotocol,
        ),
        (
            switching("Sec-WebSocket-Protocol: chat, superchat\r\n"),
            SeveralSubprotocols,
        ),
        (
            switching("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
            SeveralSubprotocols,
        ),
        // RFC 6585 §5 applies to what we read too.
        (
            base.replace(
                "\r\n\r\n",
                &format!("\r\n{}\r\n", "X: a\r\n".repeat(MAX_HEADERS)),
            ),
            TooManyHeaders,
        ),
        ("HTTP/1.1 101\r\nBad Header\r\n\r\n".to_owned(), Malformed),
    ];
    for (response, error) in cases {
        assert_eq!(
            client().parse_response(response.as_bytes()),
            Err(error),
            "{response}"
        );
    }
    // A subprotocol when none was offered.
    assert_eq!(
        ClientHandshake::new(NONCE)
            .parse_response(switching("Sec-WebSocket-Protocol: chat\r\n").as_bytes()),
        Err(UnofferedSubprotocol)
    );
}

#[test]
fn random_keys_are_fresh_16_byte_nonces() {
    use base64::Engine;
    let a = ClientHandshake::random().unwrap();
    let b = ClientHandshake::random().unwrap();
    assert_ne!(a.key(), b.key());
    let raw = base64::engine::general_purpose::STANDARD
        .decode(a.key())
        .unwrap();
    assert_eq!(raw.len(), 16);
}
