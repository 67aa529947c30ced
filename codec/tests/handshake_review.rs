//! The handshake as an embedder meets it, tested from RFC 6455 §4, RFC
//! 9110/9112 and the docs alone (a reviewer's attempts; the peers are raw
//! bytes written here).
//!
//! Server: a request followed by two frames, cut at every byte, through
//! `UpgradeRequest::parse` and a `Connection` (`receive` and `read_buf`)
//! and through tokio's `accept` over a stream that hands out exactly those
//! pieces: the handshake waits, succeeds once, and no frame behind it is
//! lost; `Content-Length: 00` as no body; `accept` refusing (426 with the
//! version, 505, 405 with `Allow`, a body, bad keys, 431) and accepting
//! (header names in any case, repeated `Connection`/`Upgrade` lists, an
//! absolute-form target) as the wire shows it; `accept_with` choosing only
//! an offered subprotocol and refusing with its own status, headers and
//! body; `accept` over a buffered stream (the 101 must be flushed, not left
//! in the buffer while `next` waits).
//!
//! Client: `client` reading a 101 and two frames cut at every point, and
//! against a 101 without `Upgrade`, with a subprotocol or an extension not
//! offered, 3xx/4xx with a body, HTTP/1.0, a 101 with a frame and a close
//! behind it in one write; `connect` (feature `http`) to 127.0.0.1 with a
//! port, a path and a query, a query without a path, an IPv6 literal (on
//! `::1`), and `wss` (a clear error, no connection).
//!
//! `from_upgraded` with leftover bytes holding a close frame, a ping and
//! half a message, a message and a close. With `http`: `from_http` on an
//! absolute-form target names the host as the bytes do.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use tokio::{
    io::{duplex, AsyncReadExt, AsyncWriteExt, BufWriter},
    time::timeout,
};
use wsframe::{
    handshake::{reject, ClientHandshake, ExtensionOffer, HandshakeError, Status, UpgradeRequest},
    tokio::{Error, WebSocket},
    CloseCode, Config, Connection, Event, Initiator, Message, Role,
};

use common::tokio_peer::Scripted;
use common::{client as masked, close_payload, feed_cut, parse_server_frames, CLOSE, FIN, PING};
use common::{
    raw_server::client_against,
    sample_handshake::{switching, SAMPLE_ACCEPT, SAMPLE_KEY, SAMPLE_NONCE},
    BINARY, PONG, TEXT,
};

/// Fails the test instead of hanging it.
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 10 s"))
}

/// A valid request as a real client may spell it: names in several cases,
/// `Connection` and `Upgrade` as lists over repeated lines (RFC 9110 §5.3:
/// one list), the key padded with spaces.
fn request() -> Vec<u8> {
    format!(
        "GET /chat?room=1 HTTP/1.1\r\nhost: server.example.com\r\nUPGRADE: h2c\r\n\
         upgrade: WebSocket\r\nconnection: keep-alive\r\nCONNECTION: foo, Upgrade\r\n\
         sec-websocket-key:  {SAMPLE_KEY} \r\nSEC-WEBSOCKET-VERSION: 13\r\n\
         Origin: http://example.com\r\n\r\n"
    )
    .into_bytes()
}

/// The two frames a client sends right behind its request.
fn frames_behind() -> Vec<u8> {
    let mut frames = masked(FIN | TEXT, b"first, in the request's read");
    frames.extend_from_slice(&masked(FIN | BINARY, &[7; 300]));
    frames
}

fn expected_events() -> Vec<Event> {
    vec![
        Event::Message(Message::from("first, in the request's read")),
        Event::Message(Message::from(vec![7; 300])),
    ]
}

/// Every way to cut `len` bytes that the stream rules ask for: whole, byte
/// by byte, and once at every point.
fn cut_sets(len: usize) -> Vec<Vec<usize>> {
    let mut sets = vec![vec![], (1..len).collect()];
    sets.extend((0..=len).map(|cut| vec![cut]));
    sets
}

/// A server embedding the sans-IO API: `input` arrives in the pieces that
/// `cuts` make; the head is parsed after each piece until complete (never
/// before its last byte), and the bytes after it go to a `Connection`,
/// through `read_buf` every other piece when `use_read_buf`.
fn sans_io_server(input: &[u8], head_len: usize, cuts: &[usize], use_read_buf: bool) -> Vec<Event> {
    let mut seen = Vec::new();
    let mut completed_at = None;
    for end in cuts.iter().copied().chain([input.len()]) {
        seen.extend_from_slice(&input[seen.len()..end]);
        match UpgradeRequest::parse(&seen) {
            Ok(Status::Partial) => assert!(seen.len() < head_len, "partial with the whole head"),
            Ok(Status::Complete((upgrade, used))) => {
                assert_eq!(used, head_len, "the head's length");
                assert_eq!(upgrade.accept_key(), SAMPLE_ACCEPT);
                completed_at = Some(end);
                break;
            }
            Err(err) => panic!("refused after {} bytes: {err}", seen.len()),
        }
    }
    let completed_at = completed_at.expect("the head never completed");
    // The bytes after the head: what the completing piece held past it, then
    // the later pieces, cut where they were.
    let rest_cuts: Vec<usize> = std::iter::once(completed_at)
        .chain(cuts.iter().copied().filter(|&c| c > completed_at))
        .map(|c| c - head_len)
        .collect();
    let mut conn = Connection::new(Role::Server, Config::default());
    let (events, output) = feed_cut(&mut conn, &input[head_len..], &rest_cuts, use_read_buf);
    assert!(output.is_empty(), "nothing to answer: {output:02x?}");
    events
}

#[test]
fn rfc6455_4_2_1_a_request_cut_anywhere_waits_then_loses_no_frame_behind_it() {
    let request = request();
    let mut input = request.clone();
    input.extend_from_slice(&frames_behind());
    for cuts in cut_sets(input.len()) {
        for use_read_buf in [false, true] {
            assert_eq!(
                sans_io_server(&input, request.len(), &cuts, use_read_buf),
                expected_events(),
                "cuts {cuts:?}, read_buf {use_read_buf}"
            );
        }
    }
}

/// RFC 9110 §8.6: `Content-Length = 1*DIGIT`, so `00` is a length of 0, no
/// body, as `0` is; a length above 0 is still a body.
#[test]
fn rfc9110_8_6_a_zero_content_length_with_more_digits_is_no_body() {
    for (length, accepted) in [("0", true), ("00", true), (" 000 ", true), ("01", false)] {
        let request =
            edited(|r| r.replace("\r\n\r\n", &format!("\r\nContent-Length:{length}\r\n\r\n")));
        let result = UpgradeRequest::parse(&request).map(|_| ());
        let expected = if accepted {
            Ok(())
        } else {
            Err(HandshakeError::RequestBody)
        };
        assert_eq!(result, expected, "Content-Length: {length:?}");
    }
}

/// The status line and header fields of the HTTP response at the front of
/// `bytes` (parsed with httparse, not the code under test), and its body.
fn response_parts(bytes: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(used)) = res.parse(bytes) else {
        panic!("not a whole response: {:?}", String::from_utf8_lossy(bytes));
    };
    let fields = res
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    (res.code.unwrap(), fields, bytes[used..].to_vec())
}

fn field<'f>(fields: &'f [(String, String)], name: &str) -> Vec<&'f str> {
    fields
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test]
async fn tokio_accept_of_a_request_cut_anywhere_answers_101_and_loses_no_frame_behind_it() {
    let request = request();
    let mut input = request.clone();
    input.extend_from_slice(&frames_behind());
    for cuts in cut_sets(input.len()) {
        let stream = Scripted::new(&input, &cuts);
        let mut ws = within("accept", WebSocket::accept(stream, Config::default()))
            .await
            .unwrap_or_else(|err| panic!("cuts {cuts:?}: {err}"));
        let mut events = Vec::new();
        for _ in 0..2 {
            events.push(within("a frame", ws.next()).await.unwrap().unwrap());
        }
        assert_eq!(events, expected_events(), "cuts {cuts:?}");
        let written = ws.into_inner().written;
        let (status, fields, body) = response_parts(&written);
        assert_eq!(status, 101, "cuts {cuts:?}");
        assert_eq!(field(&fields, "sec-websocket-accept"), [SAMPLE_ACCEPT]);
        assert!(body.is_empty(), "nothing after the 101: {body:02x?}");
    }
}

/// A request as the other tests write it, with `edit` applied to its text.
fn edited(edit: impl Fn(String) -> String) -> Vec<u8> {
    edit(String::from_utf8(request()).unwrap()).into_bytes()
}

/// What `accept` writes and returns for `request`, read in one piece.
async fn accept_once(request: &[u8]) -> (Result<(), Error>, Scripted) {
    let mut stream = Scripted::new(request, &[]);
    match within("accept", WebSocket::accept(&mut stream, Config::default())).await {
        Ok(ws) => drop(ws),
        Err(err) => return (Err(err), stream),
    }
    (Ok(()), stream)
}

/// A header field's name and value.
type Field = (&'static str, &'static str);

#[tokio::test]
async fn tokio_accept_refuses_as_rfc_6455_4_2_and_http_say_on_the_wire() {
    let too_large = edited(|r| {
        r.replace(
            "\r\n\r\n",
            &format!("\r\nX-Padding: {}\r\n\r\n", "a".repeat(20_000)),
        )
    });
    // (request, status, a header field it must carry)
    let cases: Vec<(Vec<u8>, u16, Option<Field>)> = vec![
        (
            edited(|r| r.replace("VERSION: 13", "VERSION: 8")),
            426,
            Some(("sec-websocket-version", "13")),
        ),
        (
            edited(|r| r.replace("VERSION: 13", "VERSION: 14")),
            426,
            Some(("sec-websocket-version", "13")),
        ),
        (edited(|r| r.replace("HTTP/1.1", "HTTP/1.0")), 505, None),
        (
            edited(|r| r.replace("GET ", "POST ")),
            405,
            Some(("allow", "GET")),
        ),
        (
            edited(|r| r.replace("\r\n\r\n", "\r\nContent-Length: 4\r\n\r\nbody")),
            400,
            None,
        ),
        // §4.2.1 item 5: the base64 of 16 bytes; 15, 17, no padding, none.
        (
            edited(|r| r.replace(SAMPLE_KEY, "AAAAAAAAAAAAAAAAAAAA")),
            400,
            None,
        ),
        (
            edited(|r| r.replace(SAMPLE_KEY, "AAAAAAAAAAAAAAAAAAAAAAA=")),
            400,
            None,
        ),
        (
            edited(|r| r.replace(SAMPLE_KEY, "dGhlIHNhbXBsZSBub25jZQ")),
            400,
            None,
        ),
        (
            edited(|r| r.replace(&format!("sec-websocket-key:  {SAMPLE_KEY} \r\n"), "")),
            400,
            None,
        ),
        (too_large, 431, None),
    ];
    for (request, status, header) in cases {
        let what = String::from_utf8_lossy(&request[..request.len().min(300)]).into_owned();
        let (result, stream) = accept_once(&request).await;
        match result {
            Err(Error::Handshake(err)) => assert_eq!(err.status(), status, "{what}"),
            Err(other) => panic!("{what}: {other}"),
            Ok(()) => panic!("{what}: accepted"),
        }
        let (answered, fields, body) = response_parts(&stream.written);
        assert_eq!(answered, status, "{what}");
        if let Some((name, value)) = header {
            assert_eq!(field(&fields, name), [value], "{what}");
        }
        assert_eq!(field(&fields, "content-length"), [body.len().to_string()]);
        assert!(stream.shut_down, "{what}: the refusal ends the stream");
    }
}

#[tokio::test]
async fn tokio_accept_takes_an_absolute_form_target_and_any_header_case() {
    for request in [
        request(),
        edited(|r| r.replace("/chat?room=1", "ws://server.example.com/chat?room=1")),
        edited(|r| r.replace("/chat?room=1", "http://other.example:8080/chat?room=1")),
        // Every header name in lower case (RFC 9110 §5.1), the key kept.
        edited(|r| {
            let (line, fields) = r.split_once("\r\n").unwrap();
            let fields = fields.to_ascii_lowercase();
            format!("{line}\r\n{fields}").replace(&SAMPLE_KEY.to_ascii_lowercase(), SAMPLE_KEY)
        }),
    ] {
        let what = String::from_utf8_lossy(&request).into_owned();
        let (result, stream) = accept_once(&request).await;
        result.unwrap_or_else(|err| panic!("{what}: {err}"));
        let (status, fields, _) = response_parts(&stream.written);
        assert_eq!(status, 101, "{what}");
        assert_eq!(field(&fields, "sec-websocket-accept"), [SAMPLE_ACCEPT]);
        assert!(field(&fields, "sec-websocket-protocol").is_empty());
    }
}

#[tokio::test]
async fn accept_with_chooses_only_an_offered_subprotocol_and_refuses_with_its_own_answer() {
    let offering = edited(|r| r.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: v2, v1\r\n\r\n"));
    // The server prefers v3 (not offered), then v1: the builder refuses v3,
    // so v1 is the answer.
    let mut stream = Scripted::new(&offering, &[]);
    let ws = WebSocket::accept_with(&mut stream, Config::default(), |request| {
        assert_eq!(request.subprotocols().collect::<Vec<_>>(), ["v2", "v1"]);
        assert!(request.accept().subprotocol("v3").is_err());
        assert!(
            request.accept().subprotocol("V1").is_err(),
            "case-sensitive"
        );
        Ok(request.accept().subprotocol("v1").unwrap())
    });
    drop(within("accept_with", ws).await.unwrap());
    let (status, fields, _) = response_parts(&stream.written);
    assert_eq!(status, 101);
    assert_eq!(field(&fields, "sec-websocket-protocol"), ["v1"]);

    // Refused with a status, a header and a body of the server's choice.
    let mut stream = Scripted::new(&offering, &[]);
    let refused = WebSocket::accept_with(&mut stream, Config::default(), |request| {
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.origin(), Some("http://example.com"));
        Err(reject(401, &[("WWW-Authenticate", "Bearer")], b"log in first").unwrap())
    });
    let err = within("accept_with", refused).await.map(drop).unwrap_err();
    assert!(matches!(err, Error::Rejected), "{err}");
    let (status, fields, body) = response_parts(&stream.written);
    assert_eq!(status, 401);
    assert_eq!(field(&fields, "www-authenticate"), ["Bearer"]);
    assert_eq!(body, b"log in first");
    assert!(stream.shut_down);
    // `reject` cannot be made to say 101 (or any non-error status).
    assert!(reject(101, &[], b"").is_err());
}

/// `accept` over a stream that buffers writes until flushed (a `BufWriter`,
/// as TLS streams and `BufStream` do): the client must get the 101 while
/// the server waits in `next` for the client's first message, which the
/// client sends only after the 101.
#[tokio::test]
async fn accept_over_a_buffered_stream_flushes_the_101() {
    let (ours, mut theirs) = duplex(1 << 16);
    let server = tokio::spawn(async move {
        let mut ws = WebSocket::accept(BufWriter::new(ours), Config::default()).await?;
        ws.next().await.transpose()
    });
    theirs.write_all(&request()).await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    let got_101 = timeout(Duration::from_secs(3), async {
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = theirs.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server hung up");
            response.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    server.abort();
    assert!(
        got_101.is_ok(),
        "the 101 is still in the server's write buffer after 3 s"
    );
    assert_eq!(response_parts(&response).0, 101);
}

// ---- Client ----

/// A client offering the subprotocol `chat` and the extension `x-a`.
fn offering_client() -> ClientHandshake {
    ClientHandshake::new(SAMPLE_NONCE)
        .target("example.com", "/chat")
        .unwrap()
        .subprotocol("chat")
        .unwrap()
        .extension(ExtensionOffer::new("x-a").unwrap())
}

/// [`offering_client`] against a server that reads the request and
/// answers `response` in one write, then waits.
async fn client_meets(
    response: Vec<u8>,
) -> Result<
    (
        WebSocket<tokio::io::DuplexStream>,
        wsframe::handshake::Accepted,
    ),
    Error,
> {
    let piece = response.len().max(1);
    client_against(&offering_client(), response, piece, false).await
}

#[tokio::test]
async fn client_fails_each_answer_rfc_6455_4_1_refuses() {
    use HandshakeError::*;
    let cases: Vec<(Vec<u8>, HandshakeError)> = vec![
        (
            String::from_utf8(switching(""))
                .unwrap()
                .replace("Upgrade: websocket\r\n", "")
                .into_bytes(),
            MissingUpgrade,
        ),
        (
            switching("Sec-WebSocket-Protocol: superchat\r\n"),
            UnofferedSubprotocol,
        ),
        (
            switching("Sec-WebSocket-Extensions: x-b\r\n"),
            UnofferedExtension,
        ),
        (
            String::from_utf8(switching(""))
                .unwrap()
                .replace("HTTP/1.1", "HTTP/1.0")
                .into_bytes(),
            HttpVersion,
        ),
    ];
    for (response, expected) in cases {
        let what = String::from_utf8_lossy(&response).into_owned();
        match client_meets(response).await {
            Err(Error::Handshake(err)) => assert_eq!(err, expected, "{what}"),
            Err(other) => panic!("{what}: {other}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    // Not 101: the refusal itself, body included (handshake_refusal.rs
    // tests it whole).
    let refusals: [(&[u8], u16, &[u8]); 2] = [
        (
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 9\r\n\r\nelsewhere",
            302,
            b"elsewhere",
        ),
        (
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nlog in first",
            401,
            b"log in first",
        ),
    ];
    for (response, status, body) in refusals {
        let what = String::from_utf8_lossy(response).into_owned();
        match client_meets(response.to_vec()).await {
            Err(Error::Refused(refused)) => {
                assert_eq!((refused.status(), refused.body()), (status, body), "{what}");
            }
            Err(other) => panic!("{what}: {other}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}

#[tokio::test]
async fn client_keeps_a_message_and_a_close_sent_in_the_101s_write() {
    let mut response = switching("Sec-WebSocket-Protocol: chat\r\n");
    response.extend_from_slice(&[FIN | TEXT, 5]);
    response.extend_from_slice(b"hello");
    response.extend_from_slice(&[FIN | CLOSE, 2, 0x03, 0xE8]);
    let (mut ws, _) = client_meets(response).await.unwrap();
    let event = within("the message", ws.next()).await.unwrap().unwrap();
    assert_eq!(event, Event::Message(Message::from("hello")));
    let event = within("the close", ws.next()).await.unwrap().unwrap();
    assert!(
        matches!(&event, Event::Closed(c) if c.code == CloseCode(1000)),
        "{event:?}"
    );
}

/// The 101 and two frames behind it, cut at every point: the handshake
/// waits for the whole head, then both frames come out, in order.
#[tokio::test]
async fn client_of_a_101_cut_anywhere_loses_no_frame_behind_it() {
    let head = switching("Sec-WebSocket-Protocol: chat\r\n");
    let mut input = head.clone();
    input.extend_from_slice(&[FIN | TEXT, 5]);
    input.extend_from_slice(b"hello");
    input.extend_from_slice(&[FIN | BINARY, 126, 0x01, 0x2C]);
    input.extend_from_slice(&[7; 300]);
    for cuts in cut_sets(input.len()) {
        let mut stream = Scripted::new(&input, &cuts);
        let (mut ws, accepted) = within(
            "client",
            WebSocket::client(&mut stream, &offering_client(), Config::default()),
        )
        .await
        .unwrap_or_else(|err| panic!("cuts {cuts:?}: {err}"));
        assert_eq!(accepted.head_len, head.len());
        assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
        let mut events = Vec::new();
        for _ in 0..2 {
            events.push(within("a frame", ws.next()).await.unwrap().unwrap());
        }
        assert_eq!(
            events,
            [
                Event::Message(Message::from("hello")),
                Event::Message(Message::from(vec![7; 300]))
            ],
            "cuts {cuts:?}"
        );
        drop(ws);
        assert!(
            stream.written.starts_with(b"GET /chat HTTP/1.1\r\n"),
            "the request went out first"
        );
    }
}

// ---- from_upgraded ----

/// A server `WebSocket` made by `from_upgraded` with `leftover`, and the
/// peer's end of its pipe.
fn upgraded(leftover: Vec<u8>) -> (WebSocket<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
    let (ours, theirs) = duplex(1 << 16);
    let ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), leftover.into());
    (ws, theirs)
}

#[tokio::test]
async fn from_upgraded_with_a_close_frame_left_over_answers_it_and_ends() {
    let (mut ws, mut theirs) = upgraded(masked(FIN | CLOSE, &close_payload(1001, b"bye")));
    let Event::Closed(closed) = within("the close", ws.next()).await.unwrap().unwrap() else {
        panic!("not a close");
    };
    assert_eq!(
        (closed.code, closed.initiator, closed.reason.as_str()),
        (CloseCode(1001), Initiator::Peer, "bye")
    );
    assert!(within("the end", ws.next()).await.is_none());
    // The server answered with a close frame echoing the code (§5.5.1)
    // and, the server, ended TCP first (§7.1.1).
    let mut wire = Vec::new();
    within("the reply", theirs.read_to_end(&mut wire))
        .await
        .unwrap();
    let frames = parse_server_frames(&wire);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].0, FIN | CLOSE);
    assert_eq!(frames[0].1[..2], 1001u16.to_be_bytes());
}

#[tokio::test]
async fn from_upgraded_with_a_ping_and_half_a_message_left_over() {
    let message = masked(FIN | TEXT, "a message cut in the leftover".as_bytes());
    let mut leftover = masked(FIN | PING, b"are you there");
    leftover.extend_from_slice(&message[..9]);
    let (mut ws, mut theirs) = upgraded(leftover);
    let event = within("the ping", ws.next()).await.unwrap().unwrap();
    assert_eq!(event, Event::Ping("are you there".into()));
    theirs.write_all(&message[9..]).await.unwrap();
    let event = within("the message", ws.next()).await.unwrap().unwrap();
    assert_eq!(
        event,
        Event::Message(Message::from("a message cut in the leftover"))
    );
    // The pong went out, with the ping's payload (§5.5.3).
    let mut wire = vec![0; 64];
    let n = within("the pong", theirs.read(&mut wire)).await.unwrap();
    assert_eq!(
        parse_server_frames(&wire[..n]),
        [(FIN | PONG, b"are you there".to_vec())]
    );
}

#[tokio::test]
async fn from_upgraded_with_a_message_and_a_close_left_over_gives_both_in_order() {
    let mut leftover = masked(FIN | BINARY, &[1, 2, 3]);
    leftover.extend_from_slice(&masked(FIN | CLOSE, &close_payload(1000, b"")));
    let (mut ws, _theirs) = upgraded(leftover);
    let event = within("the message", ws.next()).await.unwrap().unwrap();
    assert_eq!(event, Event::Message(Message::from(vec![1, 2, 3])));
    let event = within("the close", ws.next()).await.unwrap().unwrap();
    assert!(
        matches!(&event, Event::Closed(c) if c.code == CloseCode(1000)),
        "{event:?}"
    );
}

// ---- connect and the `http` types ----

#[cfg(feature = "http")]
mod over_tcp {
    use super::*;
    use tokio::net::TcpListener;
    use wsframe::handshake::accept_key;

    /// Accepts one connection on `listener`, reads the request's head,
    /// answers a 101 with a text frame behind it (one write), and returns
    /// the head.
    async fn serve_once(listener: TcpListener) -> String {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client hung up");
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("a key")
            .to_owned();
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key.as_bytes())
        )
        .into_bytes();
        response.extend_from_slice(&[FIN | TEXT, 2, b'h', b'i']);
        stream.write_all(&response).await.unwrap();
        // Keep the stream open until the client has read.
        let _ = stream.read(&mut buf).await;
        head
    }

    /// `connect(uri)` to a server on `listener`: the request's head the
    /// server read, after checking the frame behind the 101 arrived.
    async fn connect_to(listener: TcpListener, uri: &str) -> Result<String, Error> {
        let server = tokio::spawn(serve_once(listener));
        let uri: http::Uri = uri.parse().unwrap();
        let connected = within("connect", WebSocket::connect(&uri, Config::default())).await;
        let (mut ws, _) = match connected {
            Ok(connected) => connected,
            Err(err) => {
                server.abort();
                return Err(err);
            }
        };
        let event = within("the frame", ws.next()).await.unwrap().unwrap();
        assert_eq!(event, Event::Message(Message::from("hi")));
        drop(ws);
        Ok(within("the server", server).await.unwrap())
    }

    #[tokio::test]
    async fn connect_sends_the_port_path_and_query_and_keeps_the_frame_behind_the_101() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let head = connect_to(
            listener,
            &format!("ws://127.0.0.1:{port}/chat/x?room=1&a=%20"),
        )
        .await
        .unwrap();
        assert!(
            head.starts_with("GET /chat/x?room=1&a=%20 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
    }

    /// RFC 6455 §3: the resource name is `/` when the path is empty, then
    /// `?` and the query.
    #[tokio::test]
    async fn connect_to_a_uri_with_a_query_and_no_path_asks_for_slash_query() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let head = connect_to(listener, &format!("ws://127.0.0.1:{port}?room=1"))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(head.starts_with("GET /?room=1 HTTP/1.1\r\n"), "{head}");
    }

    /// The same without a connection: the builder's target.
    #[test]
    fn a_uri_with_a_query_and_no_path_targets_slash_query() {
        let uri: http::Uri = "ws://example.com?room=1".parse().unwrap();
        let client = ClientHandshake::new([7; 16]).uri(&uri);
        assert_eq!(
            client.as_ref().map(ClientHandshake::request_target),
            Ok("/?room=1")
        );
    }

    /// An IPv6 literal (RFC 3986 §3.2.2: in brackets in the URI and in
    /// `Host`, not in the address connected to). Loopback `::1` only.
    #[tokio::test]
    async fn connect_to_an_ipv6_literal() {
        let Ok(listener) = TcpListener::bind("[::1]:0").await else {
            return; // no IPv6 loopback here
        };
        let port = listener.local_addr().unwrap().port();
        let head = connect_to(listener, &format!("ws://[::1]:{port}/v6"))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(head.starts_with("GET /v6 HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nHost: [::1]:{port}\r\n")),
            "{head}"
        );
    }

    /// `wss` needs TLS, which `connect` does not do (its docs: set it up
    /// and use `client`): the error must say so, before any connection.
    #[tokio::test]
    async fn connect_to_wss_says_tls_is_the_callers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let uri: http::Uri = format!("wss://127.0.0.1:{port}/").parse().unwrap();
        let err = within("connect", WebSocket::connect(&uri, Config::default()))
            .await
            .map(drop)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("wss") || text.contains("TLS"),
            "say that wss needs TLS: {text}"
        );
        // Nothing connected.
        let accepted = timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "connected anyway");
    }

    /// RFC 9112 §3.2.2: a server given an absolute-form target uses its
    /// authority, not `Host`; hyper keeps such a target in the request's
    /// URI, and `from_http` promises the checks of the bytes.
    #[test]
    fn from_http_names_the_host_of_an_absolute_form_target_as_the_bytes_do() {
        let bytes = edited(|r| r.replace("/chat?room=1", "ws://target.example:9001/chat?room=1"));
        let Ok(Status::Complete((from_bytes, _))) = UpgradeRequest::parse(&bytes) else {
            panic!("refused");
        };
        assert_eq!(from_bytes.host(), "target.example:9001");
        let mut parts = http::Request::new(()).into_parts().0;
        parts.uri = "ws://target.example:9001/chat?room=1".parse().unwrap();
        for (name, value) in from_bytes.headers() {
            parts.headers.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        let from_http = UpgradeRequest::from_http(&parts).unwrap();
        assert_eq!(from_http.host(), from_bytes.host());
        assert_eq!(
            (from_http.path(), from_http.query()),
            (from_bytes.path(), from_bytes.query())
        );
    }
}
