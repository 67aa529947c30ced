//! The opening handshake against RFC 6455 §4: the RFC's own sample, and one
//! test per way a request can be refused.

use wsframe::handshake::{accept_key, ClientHandshake, HandshakeError, Status, UpgradeRequest};

const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn parse(request: &str) -> Result<Status<(UpgradeRequest, usize)>, HandshakeError> {
    UpgradeRequest::parse(request.as_bytes())
}

#[test]
fn the_rfc_sample_key_gives_the_rfc_accept_value() {
    // RFC 6455 §1.3.
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn a_valid_request_is_accepted_with_101_and_frames_after_it_are_left_alone() {
    let with_frame = format!("{GOOD}\u{81}");
    let Ok(Status::Complete((upgrade, used))) = parse(&with_frame) else {
        panic!("refused");
    };
    assert_eq!(used, GOOD.len());
    assert_eq!(upgrade.path, "/chat");
    assert_eq!(upgrade.host.as_deref(), Some("server.example.com"));
    assert_eq!(upgrade.protocols, ["chat", "superchat"]);
    let response = String::from_utf8(upgrade.response(Some("chat"))).unwrap();
    assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(response.contains("Sec-WebSocket-Protocol: chat\r\n"));
    assert!(response.ends_with("\r\n\r\n"));
}

#[test]
fn every_strict_prefix_is_partial() {
    for end in 0..GOOD.len() {
        assert_eq!(parse(&GOOD[..end]), Ok(Status::Partial), "prefix {end}");
    }
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let request = GOOD
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: keep-alive, Upgrade", "CONNECTION: UPGRADE");
    assert!(matches!(parse(&request), Ok(Status::Complete(_))));
}

#[test]
fn each_broken_rule_is_refused_with_400_or_426() {
    use HandshakeError::*;
    let cases = [
        (GOOD.replace("GET", "POST"), NotGet),
        (GOOD.replace("Upgrade: websocket\r\n", ""), MissingUpgrade),
        (
            GOOD.replace("Upgrade: websocket", "Upgrade: h2c"),
            MissingUpgrade,
        ),
        (
            GOOD.replace("keep-alive, Upgrade", "keep-alive"),
            MissingConnectionUpgrade,
        ),
        (
            GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""),
            MissingVersion,
        ),
        (
            GOOD.replace("Version: 13", "Version: 8"),
            UnsupportedVersion,
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
            BadKey,
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64!"),
            BadKey,
        ),
        (GOOD.replace("HTTP/1.1", "HTTP/1.0"), Malformed),
        ("GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_owned(), Malformed),
    ];
    for (request, error) in cases {
        assert_eq!(parse(&request), Err(error), "{request}");
        let response = String::from_utf8(error.response()).unwrap();
        if error == UnsupportedVersion {
            assert!(response.starts_with("HTTP/1.1 426 "));
            assert!(response.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        } else {
            assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
        }
    }
}

#[test]
fn an_endless_request_is_refused_not_buffered() {
    let mut request = GOOD.replace("\r\n\r\n", "\r\n");
    while request.len() <= wsframe::handshake::MAX_HANDSHAKE_LEN {
        request.push_str("X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(parse(&request), Err(HandshakeError::Malformed));
}

#[test]
fn a_client_request_is_accepted_by_our_server_and_the_answer_verified() {
    let client = ClientHandshake::new(*b"sixteen byte key");
    let request = client.request("127.0.0.1:9001", "/echo");
    let Ok(Status::Complete((upgrade, _))) = UpgradeRequest::parse(&request) else {
        panic!("our own request refused");
    };
    assert_eq!(upgrade.path, "/echo");
    let response = upgrade.response(None);
    assert_eq!(
        client.parse_response(&response),
        Ok(Status::Complete(response.len()))
    );
    assert_eq!(client.parse_response(&response[..10]), Ok(Status::Partial));
    let other = ClientHandshake::new(*b"another 16 bytes");
    assert_eq!(
        other.parse_response(&response),
        Err(HandshakeError::BadAccept)
    );
    assert_eq!(
        client.parse_response(b"HTTP/1.1 403 Forbidden\r\n\r\n"),
        Err(HandshakeError::NotSwitching(403))
    );
}
