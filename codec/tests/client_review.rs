//! A fresh review of the tokio client (`WebSocket::client`, `connect`)
//! against servers that answer in raw bytes: the 101 cut at every point and
//! byte by byte, frames in the same read as the 101, interim (1xx)
//! responses before it, 101s that RFC 6455 §4.1 makes the client fail,
//! refusals with every kind of body (`Error::Refused`, `MAX_REFUSED_BODY`,
//! `REFUSED_BODY_WAIT`) and what their `Display` says; `connect`'s URIs and
//! the `Host` a server receives for each; and permessage-deflate against
//! real servers (Python `websockets`, Node `ws`, installed as
//! conformance/peers.sh installs them; skipped with a reason when absent)
//! and against a raw server's answers (RFC 7692 §7.1).
#![cfg(all(feature = "tokio", feature = "http", feature = "deflate"))]

mod common;

use std::time::Duration;

use common::{
    raw_frame,
    sample_handshake::{switching, SAMPLE_ACCEPT, SAMPLE_NONCE},
    tokio_peer::Scripted,
    BINARY, FIN, TEXT,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use wsframe::{
    handshake::{Accepted, BodyEnd, ClientHandshake, HandshakeError},
    tokio::{Error, WebSocket, MAX_REFUSED_BODY, REFUSED_BODY_WAIT},
    Config, DeflateConfig, Event, Message,
};

fn sample_request() -> ClientHandshake {
    ClientHandshake::new(SAMPLE_NONCE)
        .target("example.com", "/chat")
        .unwrap()
}

/// The sample client over a stream that hands out `input` cut at `cuts`,
/// then ends (`eof`) or waits forever.
async fn client_over(
    input: &[u8],
    cuts: &[usize],
    eof: bool,
    request: &ClientHandshake,
    config: Config,
) -> Result<(WebSocket<Scripted>, Accepted), Error> {
    let stream = Scripted::new(input, cuts);
    let stream = if eof { stream.then_eof() } else { stream };
    WebSocket::client(stream, request, config).await
}

/// Every way to cut `input` once, and byte by byte.
fn every_cutting(input: &[u8]) -> Vec<Vec<usize>> {
    let mut cuttings: Vec<Vec<usize>> = (0..=input.len()).map(|cut| vec![cut]).collect();
    cuttings.push((1..input.len()).collect());
    cuttings
}

/// The next `count` events, as a client reads them.
async fn events<S>(ws: &mut WebSocket<S>, count: usize) -> Vec<Event>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(ws.next().await.expect("an event").expect("no error"));
    }
    out
}

fn handshake_error(result: Result<(WebSocket<Scripted>, Accepted), Error>) -> HandshakeError {
    match result {
        Err(Error::Handshake(err)) => err,
        Err(other) => panic!("expected Error::Handshake, got {other:?}"),
        Ok((_, accepted)) => panic!("expected a failure, got {accepted:?}"),
    }
}

// ---------------------------------------------------------------------------
// The 101, cut every way, with frames and interim responses.

/// The 101 followed in the same bytes by two frames: whole, cut at every
/// point and byte by byte, the client accepts it and then reads both
/// frames as frames (none lost, none taken as part of the head).
#[tokio::test]
async fn a_101_cut_anywhere_then_frames_in_the_same_read() {
    let head = switching("Set-Cookie: id=7\r\n");
    let frames = [
        raw_frame(FIN | TEXT, b"greeting", None),
        raw_frame(FIN | BINARY, &[0, 1, 2, 255], None),
    ]
    .concat();
    let input = [head.clone(), frames].concat();
    for cuts in every_cutting(&input) {
        let (mut ws, accepted) =
            client_over(&input, &cuts, false, &sample_request(), Config::default())
                .await
                .unwrap_or_else(|e| panic!("cuts {cuts:?}: {e}"));
        assert_eq!(accepted.head_len, head.len(), "cuts {cuts:?}");
        assert_eq!(accepted.header("set-cookie"), Some(&b"id=7"[..]));
        assert_eq!(
            events(&mut ws, 2).await,
            vec![
                Event::Message(Message::from("greeting")),
                Event::Message(Message::Binary(vec![0, 1, 2, 255].into())),
            ],
            "cuts {cuts:?}"
        );
    }
}

/// RFC 9110 §15.2: a client MUST parse one or more 1xx responses before
/// the final one. 100 Continue, 103 Early Hints with headers, several of
/// them: skipped, at every cut, and the frames after the 101 intact.
#[tokio::test]
async fn interim_responses_before_the_101_are_skipped_at_every_cut() {
    let interims: [&[u8]; 3] = [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nLink: </a.js>; rel=preload\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n",
    ];
    for interim in interims {
        let head = [interim, &switching("")[..]].concat();
        let input = [head.clone(), raw_frame(FIN | TEXT, b"after", None)].concat();
        for cuts in every_cutting(&input) {
            let (mut ws, accepted) =
                client_over(&input, &cuts, false, &sample_request(), Config::default())
                    .await
                    .unwrap_or_else(|e| panic!("cuts {cuts:?}: {e}"));
            assert_eq!(accepted.head_len, head.len());
            // The 101's headers, not the interim's.
            assert_eq!(accepted.header("link"), None);
            assert_eq!(
                events(&mut ws, 1).await,
                vec![Event::Message(Message::from("after"))]
            );
        }
    }
}

/// A server that sends 100 Continue forever: the client must give up
/// within its head limit with a handshake error, not take a 1xx as the
/// final answer (a 100 is no refusal, RFC 9110 §15.2) nor wait forever.
#[tokio::test]
async fn endless_interim_responses_fail_the_handshake() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(4096); // 100 KiB
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        client_over(&input, &[], false, &sample_request(), Config::default()),
    )
    .await
    .expect("no hang");
    match result {
        Err(Error::Handshake(HandshakeError::HeadTooLarge)) => {}
        Err(other) => panic!("expected HeadTooLarge, got {other:?}: {other}"),
        Ok(_) => panic!("accepted"),
    }
    // The sans-IO checks say the same.
    assert_eq!(
        sample_request().parse_response(&input),
        Err(HandshakeError::HeadTooLarge)
    );
    assert_eq!(
        wsframe::handshake::RefusedResponse::parse(&input),
        Err(HandshakeError::HeadTooLarge)
    );
}

/// A 101 too large for the client, by its length or its count of header
/// fields: the error's text must not tell the client's user to send
/// less (it was the server that sent too much), on its own and as the
/// tokio client reports it.
#[tokio::test]
async fn a_head_too_large_from_the_server_does_not_tell_the_client_to_send_less() {
    let long = switching(&format!("X-Padding: {}\r\n", "a".repeat(1000)).repeat(20)); // 20 KB
    let many = switching(&"X-A: b\r\n".repeat(100));
    for (input, want) in [
        (long, HandshakeError::HeadTooLarge),
        (many, HandshakeError::TooManyHeaders),
    ] {
        assert_eq!(sample_request().parse_response(&input), Err(want));
        let result = client_over(&input, &[], true, &sample_request(), Config::default()).await;
        let reported = match result {
            Err(err @ Error::Handshake(_)) => err.to_string(),
            Err(other) => panic!("{want:?}: got {other:?}"),
            Ok(_) => panic!("{want:?}: accepted"),
        };
        for text in [want.to_string(), reported] {
            assert!(!text.contains("; send fewer"), "{text}");
            assert!(text.contains("its sender must send fewer"), "{text}");
        }
    }
}

/// One interim response whose head never ends (header lines forever).
#[tokio::test]
async fn an_interim_head_that_never_ends_fails_the_handshake() {
    let mut input = b"HTTP/1.1 103 Early Hints\r\n".to_vec();
    input.extend(b"Link: </x>; rel=preload\r\n".repeat(4096));
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        client_over(&input, &[], false, &sample_request(), Config::default()),
    )
    .await
    .expect("no hang");
    let err = handshake_error(result);
    assert!(
        matches!(
            err,
            HandshakeError::HeadTooLarge | HandshakeError::TooManyHeaders
        ),
        "{err:?}"
    );
}

/// The checks of §4.1 on a 101: which ones fail and which pass.
#[tokio::test]
async fn the_101_checks_of_section_4_1() {
    let ok = |head: Vec<u8>| async move {
        client_over(&head, &[], false, &sample_request(), Config::default())
            .await
            .map(|(_, accepted)| accepted)
    };
    // Passes: a token list in Connection, names in any case, values in
    // any case (`Upgrade` is case-insensitive, §4.1 item 2-3).
    let token_list = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\n\
         sec-websocket-accept: {SAMPLE_ACCEPT}\r\n\r\n"
    );
    ok(token_list.into_bytes()).await.expect("token list");
    // Fails: each rule broken once.
    let cases: Vec<(&str, String, HandshakeError)> = vec![
        (
            "wrong accept",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                .into(),
            HandshakeError::BadAccept,
        ),
        (
            "no accept",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                .into(),
            HandshakeError::MissingAccept,
        ),
        (
            "no Upgrade",
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n\r\n"
            ),
            HandshakeError::MissingUpgrade,
        ),
        (
            "Upgrade: h2c",
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n\r\n"
            ),
            HandshakeError::MissingUpgrade,
        ),
        (
            "Connection: keep-alive only",
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\
                 Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n\r\n"
            ),
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            "a subprotocol not offered",
            String::from_utf8(switching("Sec-WebSocket-Protocol: chat\r\n")).unwrap(),
            HandshakeError::UnofferedSubprotocol,
        ),
        (
            "an extension not offered",
            String::from_utf8(switching("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"))
                .unwrap(),
            HandshakeError::UnofferedExtension,
        ),
        (
            "HTTP/1.0 101",
            String::from_utf8(switching(""))
                .unwrap()
                .replacen("HTTP/1.1", "HTTP/1.0", 1),
            HandshakeError::HttpVersion,
        ),
    ];
    for (what, head, want) in cases {
        match ok(head.into_bytes()).await {
            Err(Error::Handshake(err)) => {
                assert_eq!(err, want, "{what}");
                // Display names the rule (checked loosely: not empty, says handshake).
                let text = Error::Handshake(err).to_string();
                assert!(
                    text.starts_with("WebSocket handshake failed: "),
                    "{what}: {text}"
                );
            }
            other => panic!("{what}: expected {want:?}, got {other:?}"),
        }
    }
}

/// permessage-deflate answered when `Config::deflate` is off (so it was
/// not offered): §4.1 item 5 fails the connection.
#[tokio::test]
async fn permessage_deflate_not_offered_fails() {
    let head = switching("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    let err =
        handshake_error(client_over(&head, &[], false, &sample_request(), Config::default()).await);
    assert_eq!(err, HandshakeError::UnofferedExtension);
}

// ---------------------------------------------------------------------------
// Refusals: status, headers and body reachable, the body read as framed.

/// What `client` made of a refusal: the `Error::Refused` inside.
fn refused(
    result: Result<(WebSocket<Scripted>, Accepted), Error>,
) -> Box<wsframe::handshake::RefusedResponse> {
    match result {
        Err(Error::Refused(response)) => response,
        Err(other) => panic!("expected Error::Refused, got {other:?}"),
        Ok((_, accepted)) => panic!("expected a refusal, got {accepted:?}"),
    }
}

/// Refusals whose body ends as framed (a length, or the server's close),
/// whole and byte by byte: status, reason, every header and the body as
/// sent, and a `Display` that says what to do.
#[tokio::test]
async fn refusals_with_their_bodies_every_way() {
    struct Case {
        response: &'static [u8],
        status: u16,
        header: (&'static str, &'static [u8]),
        body: &'static [u8],
        end: BodyEnd,
        display: &'static [&'static str],
    }
    let cases = [
        Case {
            response: b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nno chat!\n",
            status: 404,
            header: ("content-type", b"text/plain"),
            body: b"no chat!\n",
            end: BodyEnd::Whole,
            display: &["404 Not Found", "no WebSocket at this path", "no chat!"],
        },
        Case {
            response: b"HTTP/1.1 302 Found\r\nLocation: ws://example.net/chat\r\nContent-Length: 0\r\n\r\n",
            status: 302,
            header: ("Location", b"ws://example.net/chat"),
            body: b"",
            end: BodyEnd::Whole,
            display: &["302 Found", "ws://example.net/chat"],
        },
        Case {
            response: b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"chat\"\r\nWWW-Authenticate: Bearer\r\nContent-Length: 4\r\n\r\nauth",
            status: 401,
            header: ("www-authenticate", b"Basic realm=\"chat\""),
            body: b"auth",
            end: BodyEnd::Whole,
            display: &["401", "Basic realm=\"chat\"", "Authorization"],
        },
        Case {
            response: b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>not a websocket</html>",
            status: 200,
            header: ("content-type", b"text/html"),
            body: b"<html>not a websocket</html>",
            end: BodyEnd::Whole,
            display: &["200 OK", "not a websocket"],
        },
        Case {
            response: b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 40\r\n\r\ncut short",
            status: 500,
            header: ("content-length", b"40"),
            body: b"cut short",
            end: BodyEnd::ConnectionEnded,
            display: &["500", "retry later", "cut short", "ended inside the body"],
        },
        Case {
            response: b"HTTP/1.0 403 Forbidden\r\nServer: proxy\r\n\r\nblocked by policy",
            status: 403,
            header: ("server", b"proxy"),
            body: b"blocked by policy",
            end: BodyEnd::Whole,
            display: &["403 Forbidden", "forbids", "blocked by policy"],
        },
        Case {
            response: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nbusy",
            status: 503,
            header: ("retry-after", b"30"),
            body: b"busy",
            end: BodyEnd::Whole,
            display: &["503", "retry after 30", "busy"],
        },
        Case {
            response: b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
            status: 404,
            header: ("transfer-encoding", b"chunked"),
            body: b"4\r\nnope\r\n0\r\n\r\n",
            end: BodyEnd::Whole,
            display: &["404", "nope"],
        },
    ];
    for case in &cases {
        let what = String::from_utf8_lossy(case.response).into_owned();
        let input = case.response;
        let bytewise: Vec<usize> = (1..input.len()).collect();
        for cuts in [vec![], bytewise] {
            let response = refused(
                client_over(input, &cuts, true, &sample_request(), Config::default()).await,
            );
            assert_eq!(response.status(), case.status, "{what}");
            assert_eq!(
                response.header(case.header.0),
                Some(case.header.1),
                "{what}"
            );
            assert_eq!(response.body(), case.body, "{what}");
            assert_eq!(response.body_end(), case.end, "{what}");
            let shown = Error::Refused(response).to_string();
            for part in case.display {
                assert!(shown.contains(part), "{what}: {shown:?} lacks {part:?}");
            }
        }
    }
    // Every header, duplicates included.
    let response = refused(
        client_over(
            cases[2].response,
            &[],
            true,
            &sample_request(),
            Config::default(),
        )
        .await,
    );
    let challenges: Vec<_> = response
        .headers()
        .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, value)| value.to_vec())
        .collect();
    assert_eq!(challenges, [&b"Basic realm=\"chat\""[..], b"Bearer"]);
}

/// A body longer than `MAX_REFUSED_BODY`, announced or up to the close:
/// cut at the cap exactly; one of exactly the cap up to the close is whole.
#[tokio::test]
async fn refusal_bodies_at_and_past_the_cap() {
    let big = vec![b'x'; MAX_REFUSED_BODY + 100];
    let with_length = [
        format!("HTTP/1.1 500 Oops\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes(),
        big.clone(),
    ]
    .concat();
    let to_close = [b"HTTP/1.1 500 Oops\r\n\r\n".to_vec(), big.clone()].concat();
    let exact_to_close = [
        b"HTTP/1.1 500 Oops\r\n\r\n".to_vec(),
        vec![b'x'; MAX_REFUSED_BODY],
    ]
    .concat();
    let huge_length = b"HTTP/1.1 500 Oops\r\nContent-Length: 99999999999999999999999\r\n\r\nxx";
    for (what, input, len, end) in [
        (
            "length",
            &with_length[..],
            MAX_REFUSED_BODY,
            BodyEnd::Capped,
        ),
        ("to close", &to_close[..], MAX_REFUSED_BODY, BodyEnd::Capped),
        (
            "exactly the cap, to close",
            &exact_to_close[..],
            MAX_REFUSED_BODY,
            BodyEnd::Whole,
        ),
        // Not a number that fits: read to the close (RFC 9112 §6.3 item 5).
        ("length past u64", &huge_length[..], 2, BodyEnd::Whole),
    ] {
        let response =
            refused(client_over(input, &[], true, &sample_request(), Config::default()).await);
        assert_eq!(
            (response.body().len(), response.body_end()),
            (len, end),
            "{what}"
        );
        assert!(response.body().iter().all(|&b| b == b'x'), "{what}");
        if end == BodyEnd::Capped {
            let shown = Error::Refused(response).to_string();
            assert!(shown.contains("cut at 65536"), "{shown}");
        }
    }
}

/// A server that sends the head and then sits: the client returns after
/// `REFUSED_BODY_WAIT`, with what arrived (on tokio's paused clock).
#[tokio::test(start_paused = true)]
async fn a_refusal_whose_body_stalls_is_returned_after_the_wait() {
    for (what, input, body) in [
        (
            "length, nothing sent",
            &b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n"[..],
            &b""[..],
        ),
        (
            "length, half sent",
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nhalf",
            b"half",
        ),
        (
            "to close, open",
            b"HTTP/1.1 404 Not Found\r\n\r\nsome",
            b"some",
        ),
        (
            "chunked, ended but open",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
            b"2\r\nno\r\n0\r\n\r\n",
        ),
    ] {
        let start = tokio::time::Instant::now();
        let response =
            refused(client_over(input, &[], false, &sample_request(), Config::default()).await);
        assert_eq!(start.elapsed(), REFUSED_BODY_WAIT, "{what}");
        assert_eq!(response.body(), body, "{what}");
        assert_eq!(response.body_end(), BodyEnd::WaitElapsed, "{what}");
    }
    // A body that cannot exist is not waited for.
    let start = tokio::time::Instant::now();
    for input in [
        &b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ] {
        let response =
            refused(client_over(input, &[], false, &sample_request(), Config::default()).await);
        assert_eq!(response.body_end(), BodyEnd::Whole);
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// The refusal's head cut at every point before its end: still a refusal
/// (never a parse error of a partial head), with the body whole.
#[tokio::test]
async fn a_refusal_cut_at_every_point() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 3\r\n\r\nno!";
    for cuts in every_cutting(input) {
        let response =
            refused(client_over(input, &cuts, true, &sample_request(), Config::default()).await);
        assert_eq!(
            (response.status(), response.body(), response.body_end()),
            (401, &b"no!"[..], BodyEnd::Whole),
            "cuts {cuts:?}"
        );
    }
}

/// The server hangs up inside the head: `Error::Io` of kind UnexpectedEof,
/// at every cut.
#[tokio::test]
async fn a_head_cut_short_by_the_close_is_unexpected_eof() {
    let head = switching("");
    for end in 0..head.len() {
        match client_over(
            &head[..end],
            &[],
            true,
            &sample_request(),
            Config::default(),
        )
        .await
        {
            Err(Error::Io(err)) => {
                assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "end {end}")
            }
            other => panic!("end {end}: {:?}", other.map(|(_, a)| a)),
        }
    }
}

// ---------------------------------------------------------------------------
// A raw server on 127.0.0.1, and `connect`.

/// The accept value for `key`, from RFC 6455 §4.2.2 item 5.4 (SHA-1 and
/// base64 composed here, not the crate's function).
fn accept_for(key: &str) -> String {
    use base64::Engine;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// The value of header `name` in a request head, by hand.
fn request_header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one request head from `stream`.
async fn read_request(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A server that accepts one connection on `listener`, reads the request
/// and writes what `respond` makes of it (the request, its accept value),
/// piece by piece with a pause between, then keeps the connection open a
/// while; it returns the request.
fn serve_once(
    listener: TcpListener,
    respond: impl FnOnce(&str, &str) -> Vec<Vec<u8>> + Send + 'static,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let request = read_request(&mut stream).await;
        let accept = accept_for(request_header(&request, "Sec-WebSocket-Key").unwrap_or(""));
        for piece in respond(&request, &accept) {
            if stream.write_all(&piece).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        request
    })
}

fn plain_101(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// Over real TCP: interim responses, then the 101 and two frames, sent
/// byte by byte; and the same in one write.
#[tokio::test]
async fn over_tcp_byte_by_byte_and_in_one_write() {
    for bytewise in [true, false] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = serve_once(listener, move |_, accept| {
            let all = [
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    .to_vec(),
                plain_101(accept),
                raw_frame(FIN | TEXT, b"one", None),
                raw_frame(FIN | TEXT, "κόσμε".as_bytes(), None),
            ]
            .concat();
            if bytewise {
                all.chunks(1).map(<[u8]>::to_vec).collect()
            } else {
                vec![all]
            }
        });
        let uri: http::Uri = format!("ws://127.0.0.1:{port}/feed").parse().unwrap();
        let (mut ws, _) = WebSocket::connect(&uri, Config::default()).await.unwrap();
        assert_eq!(
            events(&mut ws, 2).await,
            vec![
                Event::Message(Message::from("one")),
                Event::Message(Message::from("κόσμε")),
            ]
        );
        server.await.unwrap();
    }
}

/// `connect` with each URI: the request target and `Host` the server
/// receives (RFC 6455 §3: an empty path is `/`; §4.1 item 4: host, and the
/// port unless it is the default).
#[tokio::test]
async fn connect_sends_the_target_and_host_of_its_uri() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cases = vec![
        (
            format!("ws://127.0.0.1:{port}/path?q=1&r"),
            "/path?q=1&r",
            format!("127.0.0.1:{port}"),
            "127.0.0.1",
        ),
        (
            format!("ws://127.0.0.1:{port}"),
            "/",
            format!("127.0.0.1:{port}"),
            "127.0.0.1",
        ),
        (
            format!("ws://127.0.0.1:{port}?x=y"),
            "/?x=y",
            format!("127.0.0.1:{port}"),
            "127.0.0.1",
        ),
        (
            format!("WS://127.0.0.1:{port}/Up"),
            "/Up",
            format!("127.0.0.1:{port}"),
            "127.0.0.1",
        ),
        (
            format!("ws://localhost:{port}/"),
            "/",
            format!("localhost:{port}"),
            "127.0.0.1",
        ),
    ];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        cases.push((
            format!("ws://[::1]:{port}/six"),
            "/six",
            format!("[::1]:{port}"),
            "::1",
        ));
    } else {
        println!("skipped ws://[::1]: IPv6 loopback is unavailable here");
    }
    let mut keys = Vec::new();
    for (uri, target, host, bind) in cases {
        let listener = TcpListener::bind((bind, port)).await.unwrap();
        let server = serve_once(listener, |_, accept| vec![plain_101(accept)]);
        let parsed: http::Uri = uri.parse().unwrap();
        let result = WebSocket::connect(&parsed, Config::default()).await;
        assert!(result.is_ok(), "{uri}: {:?}", result.err());
        let request = server.await.unwrap();
        let line = request.lines().next().unwrap();
        assert_eq!(line, format!("GET {target} HTTP/1.1"), "{uri}");
        assert_eq!(
            request_header(&request, "Host"),
            Some(host.as_str()),
            "{uri}"
        );
        // §4.1 items 5-9: the upgrade fields, a fresh 16-byte key.
        assert_eq!(request_header(&request, "Upgrade"), Some("websocket"));
        assert_eq!(request_header(&request, "Connection"), Some("Upgrade"));
        assert_eq!(
            request_header(&request, "Sec-WebSocket-Version"),
            Some("13")
        );
        let key = request_header(&request, "Sec-WebSocket-Key")
            .unwrap()
            .to_owned();
        use base64::Engine;
        let nonce = base64::engine::general_purpose::STANDARD
            .decode(&key)
            .unwrap();
        assert_eq!(nonce.len(), 16, "{key}");
        assert!(!keys.contains(&key), "a key used twice: {key}");
        keys.push(key);
    }
}

/// The default port is left out of `Host` (§4.1 item 4), any other kept.
#[test]
fn the_default_port_is_not_in_host() {
    for (uri, host) in [
        ("ws://example.com:80/", "example.com"),
        ("ws://example.com:8080/", "example.com:8080"),
        ("wss://example.com:443/", "example.com"),
        ("wss://example.com:80/", "example.com:80"),
        ("ws://[::1]:80/", "[::1]"),
    ] {
        let request = ClientHandshake::new(SAMPLE_NONCE)
            .uri(&uri.parse().unwrap())
            .unwrap();
        assert_eq!(request.host(), host, "{uri}");
    }
}

/// URIs `connect` must refuse before connecting, with `Error::Io` of kind
/// `InvalidInput` and a message that says why.
#[tokio::test]
async fn connect_refuses_what_is_not_a_ws_uri() {
    for (uri, says) in [
        ("wss://127.0.0.1:1/", "TLS"),
        ("http://127.0.0.1:1/", "ws://"),
        ("https://127.0.0.1:1/", "ws://"),
        ("/just/a/path", "ws://"),
        ("127.0.0.1:1", "ws://"),
        ("ftp://127.0.0.1:1/", "ws://"),
    ] {
        let parsed: http::Uri = uri.parse().unwrap();
        match WebSocket::connect(&parsed, Config::default()).await {
            Err(Error::Io(err)) => {
                assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{uri}: {err}");
                assert!(err.to_string().contains(says), "{uri}: {err}");
            }
            other => panic!("{uri}: {:?}", other.map(|(_, a)| a)),
        }
    }
}

/// RFC 6455 §3's ws-URI has no userinfo; credentials in one would be
/// dropped without a word (the server never sees them): refused, as
/// `ClientHandshake::target` refuses them in a target.
#[tokio::test]
async fn connect_refuses_userinfo() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = serve_once(listener, |_, accept| vec![plain_101(accept)]);
    let parsed: http::Uri = format!("ws://user:secret@127.0.0.1:{port}/")
        .parse()
        .unwrap();
    let result = WebSocket::connect(&parsed, Config::default()).await;
    server.abort();
    match result {
        Err(Error::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}"),
        other => panic!(
            "connected without the credentials: {:?}",
            other.map(|(_, a)| a)
        ),
    }
}

/// A port past 65535 is no port: refused, not replaced by the default 80.
#[tokio::test]
async fn connect_refuses_a_port_out_of_range() {
    let parsed: http::Uri = "ws://127.0.0.1:70000/".parse().unwrap();
    match WebSocket::connect(&parsed, Config::default()).await {
        Err(Error::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}"),
        other => panic!("{:?}", other.map(|(_, a)| a)),
    }
}

// ---------------------------------------------------------------------------
// permessage-deflate: a raw server's answers (RFC 7692 §7.1).

fn deflate_config() -> Config {
    Config::builder()
        .deflate(Some(DeflateConfig::default()))
        .build()
}

/// The offer the client wrote, by hand from its request bytes.
fn offered_extensions(written: &[u8]) -> String {
    let text = String::from_utf8_lossy(written).into_owned();
    request_header(&text, "Sec-WebSocket-Extensions")
        .unwrap_or("")
        .to_owned()
}

/// The answers a client with the default `DeflateConfig` (it offers
/// `permessage-deflate; client_max_window_bits`) must accept, and then
/// read a compressed frame by: a server limiting its own window unasked
/// (§7.1.2.1: "A server MAY include the server_max_window_bits extension
/// parameter ... even if the extension negotiation offer being accepted by
/// the response didn't include" it), our window limited (§7.1.2.2), and
/// either no-context-takeover.
#[tokio::test]
async fn deflate_answers_the_client_accepts() {
    let hello = common::deflate::sync_compressed(b"Hello, compressed", 6);
    for answer in [
        "permessage-deflate",
        "permessage-deflate; server_max_window_bits=9",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=10",
        // The smallest window, 256 bytes: our compressor keeps to it.
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate;server_max_window_bits=15;client_max_window_bits=9",
        // §9.1: a quoted-string value is its unescaped content.
        "permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=\"1\\1\"",
    ] {
        let input = [
            switching(&format!("Sec-WebSocket-Extensions: {answer}\r\n")),
            raw_frame(FIN | common::deflate::RSV1 | TEXT, &hello, None),
        ]
        .concat();
        let (mut ws, accepted) =
            client_over(&input, &[], false, &sample_request(), deflate_config())
                .await
                .unwrap_or_else(|e| panic!("{answer}: {e}"));
        assert_eq!(accepted.extensions.len(), 1, "{answer}");
        assert_eq!(accepted.extensions[0].name(), "permessage-deflate");
        let params: Vec<(String, Option<String>)> = accepted.extensions[0]
            .params()
            .iter()
            .map(|p| (p.name().to_owned(), p.value().map(str::to_owned)))
            .collect();
        let want: Vec<(String, Option<String>)> = answer
            .split(';')
            .skip(1)
            .map(|p| match p.trim().split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.replace(['"', '\\'], ""))),
                None => (p.trim().to_owned(), None),
            })
            .collect();
        assert_eq!(
            params, want,
            "{answer}: the server's parameters as it sent them"
        );
        assert_eq!(
            events(&mut ws, 1).await,
            vec![Event::Message(Message::from("Hello, compressed"))],
            "{answer}"
        );
        let offer = offered_extensions(&ws.into_inner().written);
        assert_eq!(
            offer, "permessage-deflate; client_max_window_bits",
            "{answer}"
        );
    }
}

/// Answers §7.1 makes the client fail: a parameter we did not allow, a
/// window larger than asked or outside 8..=15, an unknown or duplicated
/// parameter, a value on a flag, permessage-deflate twice (§7.1: "the
/// client MUST Fail the WebSocket Connection" for each).
#[tokio::test]
async fn deflate_answers_the_client_fails() {
    let limited = Config::builder()
        .deflate(Some(
            DeflateConfig::default()
                .peer_max_window_bits(10)
                .peer_no_context_takeover(true)
                .max_window_bits(11),
        ))
        .build();
    let cases: &[(&str, Config)] = &[
        ("permessage-deflate, permessage-deflate", deflate_config()),
        (
            "permessage-deflate; server_max_window_bits=9, permessage-deflate",
            deflate_config(),
        ),
        ("permessage-deflate; client_max_window_bits", deflate_config()),
        ("permessage-deflate; server_max_window_bits", deflate_config()),
        ("permessage-deflate; server_max_window_bits=16", deflate_config()),
        ("permessage-deflate; server_max_window_bits=7", deflate_config()),
        ("permessage-deflate; server_max_window_bits=09", deflate_config()),
        ("permessage-deflate; client_max_window_bits=16", deflate_config()),
        ("permessage-deflate; x_unknown", deflate_config()),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            deflate_config(),
        ),
        ("permessage-deflate; server_no_context_takeover=1", deflate_config()),
        ("permessage-deflate; client_max_window_bits=7", deflate_config()),
        // Against our limits: the server's window larger than we asked,
        // our context-takeover request ignored, our window raised.
        (
            "permessage-deflate; server_max_window_bits=11; server_no_context_takeover",
            limited,
        ),
        ("permessage-deflate; server_max_window_bits=10", limited),
        (
            "permessage-deflate; server_no_context_takeover",
            limited,
        ),
        (
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover; client_max_window_bits=12",
            limited,
        ),
    ];
    for (answer, config) in cases {
        let input = switching(&format!("Sec-WebSocket-Extensions: {answer}\r\n"));
        let err =
            handshake_error(client_over(&input, &[], false, &sample_request(), *config).await);
        assert_eq!(err, HandshakeError::BadExtensionResponse, "{answer}");
    }
    // The limited client's acceptable answer, for contrast.
    let input = switching(
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; \
         server_no_context_takeover; client_max_window_bits=11\r\n",
    );
    client_over(&input, &[], false, &sample_request(), limited)
        .await
        .expect("within every limit");
}

/// A server that does not answer the offer: no extension, plain frames;
/// a compressed frame (RSV1) is then a protocol error (1002).
#[tokio::test]
async fn deflate_offered_but_not_accepted() {
    let input = [
        switching(""),
        raw_frame(FIN | TEXT, b"plain", None),
        raw_frame(
            FIN | common::deflate::RSV1 | TEXT,
            &common::deflate::sync_compressed(b"x", 6),
            None,
        ),
    ]
    .concat();
    let (mut ws, accepted) = client_over(&input, &[], false, &sample_request(), deflate_config())
        .await
        .unwrap();
    assert!(accepted.extensions.is_empty());
    let events = events(&mut ws, 2).await;
    assert_eq!(events[0], Event::Message(Message::from("plain")));
    match &events[1] {
        Event::Closed(closed) => assert_eq!(closed.code.0, 1002, "{closed}"),
        other => panic!("{other:?}"),
    }
}

/// A compressed text that inflates to invalid UTF-8, in a frame after the
/// 101 in the same read: 1007, at every cut.
#[tokio::test]
async fn compressed_invalid_text_from_the_server_is_1007() {
    let bad = common::deflate::sync_compressed(b"valid start \xC3\x28 then", 6);
    let input = [
        switching("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        raw_frame(FIN | common::deflate::RSV1 | TEXT, &bad, None),
    ]
    .concat();
    for cuts in every_cutting(&input) {
        let (mut ws, _) = client_over(&input, &cuts, false, &sample_request(), deflate_config())
            .await
            .unwrap();
        match events(&mut ws, 1).await.pop() {
            Some(Event::Closed(closed)) => assert_eq!(closed.code.0, 1007, "cuts {cuts:?}"),
            other => panic!("cuts {cuts:?}: {other:?}"),
        }
        let written = ws.into_inner().written;
        // Our close frame on the wire after the request: masked, 1007.
        let request_end = written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let frame = &written[request_end..];
        assert_eq!(frame[0], 0x88, "cuts {cuts:?}");
        let key = [frame[2], frame[3], frame[4], frame[5]];
        let code = [frame[6] ^ key[0], frame[7] ^ key[1]];
        assert_eq!(u16::from_be_bytes(code), 1007);
    }
}

// ---------------------------------------------------------------------------
// permessage-deflate against real servers: Python `websockets` and Node
// `ws`, installed where conformance/peers.sh installs them (the venv at the
// repository's .venv, conformance/node/node_modules).

/// The repository's root.
fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

const PYTHON_ECHO: &str = r#"
import asyncio, websockets
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"#;

const NODE_ECHO: &str = r#"
const { WebSocketServer } = require('ws');
const perMessageDeflate = process.argv[1] ? JSON.parse(process.argv[1]) : true;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, maxPayload: 0 });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
"#;

/// A peer server process, killed when dropped.
struct PeerServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args` in `dir`, which prints the port it listens on;
/// `None` (with the reason printed) if it cannot.
fn start_peer(
    what: &str,
    program: &std::path::Path,
    args: &[&str],
    dir: &std::path::Path,
) -> Option<PeerServer> {
    use std::io::BufRead;
    let child = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            println!("skipped {what}: cannot run {}: {err}", program.display());
            return None;
        }
    };
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    match line.trim().parse() {
        Ok(port) => Some(PeerServer { child, port }),
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            println!(
                "skipped {what}: it did not start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
    }
}

fn python_server() -> Option<PeerServer> {
    let python = repo_root().join(".venv/bin/python");
    if !python.exists() {
        println!(
            "skipped Python websockets: no venv at {} (conformance/peers.sh installs it)",
            python.display()
        );
        return None;
    }
    start_peer(
        "Python websockets",
        &python,
        &["-c", PYTHON_ECHO],
        &repo_root(),
    )
}

/// Node `ws` with `perMessageDeflate` set to `options` (JSON; empty for
/// `true`).
fn node_server(options: &str) -> Option<PeerServer> {
    let dir = repo_root().join("conformance/node");
    if !dir.join("node_modules/ws").exists() {
        println!(
            "skipped Node ws: not installed in {} (conformance/peers.sh installs it)",
            dir.display()
        );
        return None;
    }
    start_peer(
        "Node ws",
        std::path::Path::new("node"),
        &["-e", NODE_ECHO, options],
        &dir,
    )
}

/// Text and binary of 0 B, 1 B, 1 KiB and 1 MiB, compressible and not
/// (random bytes; random letters for text).
fn echo_messages() -> Vec<Message> {
    let mut rng = common::Rng(0x7692);
    let random: Vec<u8> = (0..1 << 20).map(|_| rng.next() as u8).collect();
    let letters: String = (0..1 << 20)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    let prose = "κόσμε, a text that compresses well. ".repeat(30_000);
    let mut messages = Vec::new();
    for len in [0, 1, 1024, 1 << 20] {
        messages.push(Message::from(
            &prose[..prose
                .char_indices()
                .nth(len)
                .map_or(prose.len(), |(i, _)| i)],
        ));
        messages.push(Message::from(letters[..len].to_owned()));
        messages.push(Message::Binary(vec![7; len].into()));
        messages.push(Message::Binary(random[..len].to_vec().into()));
    }
    messages
}

/// Sends every message to the echo server at `port` with `config` and
/// checks each echo; returns what the server accepted.
async fn echo_through(port: u16, config: Config) -> Accepted {
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
    let (mut ws, accepted) = WebSocket::connect(&uri, config).await.unwrap();
    for message in echo_messages() {
        ws.send(message.clone()).await.unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("an echo in time")
            .expect("open")
            .expect("no error");
        match echo {
            Event::Message(echo) => assert!(
                echo == message,
                "echo of {} bytes differs",
                message.as_bytes().len()
            ),
            other => panic!("{other:?}"),
        }
    }
    let closed = ws.close(wsframe::CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(closed.code.0, 1000);
    accepted
}

/// The parameters of the one permessage-deflate the server accepted, as
/// `name[=value]` strings.
fn deflate_params(accepted: &Accepted) -> Vec<String> {
    assert_eq!(accepted.extensions.len(), 1, "{:?}", accepted.extensions);
    assert_eq!(accepted.extensions[0].name(), "permessage-deflate");
    accepted.extensions[0]
        .params()
        .iter()
        .map(|p| match p.value() {
            Some(v) => format!("{}={v}", p.name()),
            None => p.name().to_owned(),
        })
        .collect()
}

/// The echo server at `port` run through [`echo_through`] with four
/// offers: ours by default; compressing every message; no context
/// takeover either way with a 1 KiB server window; 512 B windows both
/// ways. Returns the parameters it answered each with.
async fn answers_to_each_offer(port: u16) -> Vec<Vec<String>> {
    let mut answers = Vec::new();
    for config in [
        deflate_config(),
        Config::builder()
            .deflate(Some(DeflateConfig::default().threshold(0)))
            .build(),
        Config::builder()
            .deflate(Some(
                DeflateConfig::default()
                    .no_context_takeover(true)
                    .peer_no_context_takeover(true)
                    .peer_max_window_bits(10)
                    .threshold(0),
            ))
            .build(),
        Config::builder()
            .deflate(Some(
                DeflateConfig::default()
                    .max_window_bits(9)
                    .peer_max_window_bits(9)
                    .threshold(0),
            ))
            .build(),
    ] {
        let accepted = echo_through(port, config).await;
        answers.push(deflate_params(&accepted));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_echoes_compressed_messages() {
    let Some(server) = python_server() else {
        return;
    };
    let answers = answers_to_each_offer(server.port).await;
    // websockets' own choice (a 4 KiB window each way), and our requests
    // granted, as it answered them.
    assert_eq!(
        answers,
        [
            vec!["server_max_window_bits=12", "client_max_window_bits=12"],
            vec!["server_max_window_bits=12", "client_max_window_bits=12"],
            vec![
                "server_no_context_takeover",
                "client_no_context_takeover",
                "server_max_window_bits=10",
                "client_max_window_bits=12"
            ],
            vec!["server_max_window_bits=9", "client_max_window_bits=9"],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ws_echoes_compressed_messages() {
    let Some(server) = node_server("") else {
        return;
    };
    let answers = answers_to_each_offer(server.port).await;
    // ws accepts the offer as made (no limit of its own), and our requests.
    assert_eq!(
        answers,
        [
            vec![],
            vec![],
            vec![
                "client_no_context_takeover",
                "server_no_context_takeover",
                "server_max_window_bits=10"
            ],
            vec!["server_max_window_bits=9", "client_max_window_bits=9"],
        ]
    );
}

/// `ClientHandshake::uri`, which `connect` builds its request with:
/// userinfo and a port past 65535 refused, an empty port the default.
#[test]
fn uri_refuses_userinfo_and_ports_past_65535() {
    for uri in [
        "ws://user:secret@example.com/",
        "ws://user@example.com:8080/",
        "ws://example.com:65536/",
        "ws://example.com:99999999999/",
        "wss://[::1]:70000/",
    ] {
        // http::Uri parses each: the check is ours.
        assert_eq!(
            ClientHandshake::new(SAMPLE_NONCE).uri(&uri.parse().unwrap()),
            Err(wsframe::handshake::BuildError::Uri),
            "{uri}"
        );
    }
    for (uri, host) in [
        ("ws://example.com:/", "example.com"),
        ("ws://example.com:65535/", "example.com:65535"),
        ("ws://[::1]:/", "[::1]"),
    ] {
        let request = ClientHandshake::new(SAMPLE_NONCE)
            .uri(&uri.parse().unwrap())
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(request.host(), host, "{uri}");
    }
}

/// The server hangs up right after its 101, or inside the first frame:
/// `next` ends (`None`) or fails with `Error::Io`, as its docs say; it
/// never hangs or makes up a message.
#[tokio::test]
async fn the_server_hangs_up_after_its_101() {
    let head = switching("");
    let (mut ws, _) = client_over(&head, &[], true, &sample_request(), Config::default())
        .await
        .unwrap();
    match ws.next().await {
        None => {}
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code.0, 1006, "{closed}"),
        Some(other) => panic!("{other:?}"),
    }
    let frame = raw_frame(FIN | TEXT, b"cut short", None);
    for end in 1..frame.len() {
        let input = [&head[..], &frame[..end]].concat();
        let (mut ws, _) = client_over(&input, &[], true, &sample_request(), Config::default())
            .await
            .unwrap();
        match ws.next().await {
            None | Some(Err(Error::Io(_))) => {}
            Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code.0, 1006, "{closed}"),
            Some(other) => panic!("end {end}: {other:?}"),
        }
    }
}

/// Subprotocols: the one offered and chosen is returned as offered; the
/// server's choice is matched exactly (RFC 6455 §4.1 item 6: "not present
/// in the client's handshake"), one value only.
#[tokio::test]
async fn the_chosen_subprotocol() {
    let request = sample_request()
        .subprotocol("chat.v2")
        .unwrap()
        .subprotocol("chat")
        .unwrap();
    let chosen = |answer: &str| {
        let input = switching(&format!("Sec-WebSocket-Protocol: {answer}\r\n"));
        let request = request.clone();
        async move {
            client_over(&input, &[], false, &request, Config::default())
                .await
                .map(|(_, accepted)| accepted.subprotocol)
        }
    };
    assert_eq!(chosen("chat").await.unwrap().as_deref(), Some("chat"));
    assert_eq!(chosen("chat.v2").await.unwrap().as_deref(), Some("chat.v2"));
    for (answer, want) in [
        ("Chat", HandshakeError::UnofferedSubprotocol),
        ("chat.v3", HandshakeError::UnofferedSubprotocol),
        ("chat, chat.v2", HandshakeError::SeveralSubprotocols),
    ] {
        match chosen(answer).await {
            Err(Error::Handshake(err)) => assert_eq!(err, want, "{answer}"),
            other => panic!("{answer}: {other:?}"),
        }
    }
}

/// A ping among the frames that came with the 101 is answered: the pong
/// (masked, the same payload) is written after the request.
#[tokio::test]
async fn a_ping_in_the_101s_read_is_answered() {
    let input = [
        switching(""),
        raw_frame(FIN | common::PING, b"are you there", None),
        raw_frame(FIN | TEXT, b"after", None),
    ]
    .concat();
    let (mut ws, _) = client_over(&input, &[], false, &sample_request(), Config::default())
        .await
        .unwrap();
    assert_eq!(
        events(&mut ws, 2).await,
        vec![
            Event::Ping(b"are you there"[..].into()),
            Event::Message(Message::from("after")),
        ]
    );
    let written = ws.into_inner().written;
    let request_end = written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let pong = &written[request_end..];
    assert_eq!((pong[0], pong[1]), (FIN | common::PONG, 0x80 | 13));
    let key = &pong[2..6];
    let payload: Vec<u8> = pong[6..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(payload, b"are you there");
}

/// A 101 near the head limit (16 KiB) and a 100 KiB frame in the same
/// bytes, whole and in pieces of 997: the head is within the limit (the
/// frame after it does not count), and the frame is read whole.
#[tokio::test]
async fn a_long_101_then_a_large_frame() {
    let filler = format!("X-Filler: {}\r\n", "f".repeat(500)).repeat(30);
    let head = switching(&filler);
    assert!(head.len() < wsframe::handshake::MAX_HANDSHAKE_LEN);
    assert!(head.len() > wsframe::handshake::MAX_HANDSHAKE_LEN - 1024);
    let payload: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    let input = [head, raw_frame(FIN | BINARY, &payload, None)].concat();
    let pieces: Vec<usize> = (997..input.len()).step_by(997).collect();
    for cuts in [vec![], pieces] {
        let (mut ws, _) = client_over(&input, &cuts, false, &sample_request(), Config::default())
            .await
            .unwrap();
        assert_eq!(
            events(&mut ws, 1).await,
            vec![Event::Message(Message::Binary(payload.clone().into()))]
        );
    }
}

/// Over real TCP, a refusal whose body trickles in (a byte every 50 ms,
/// no end): `connect` returns about `REFUSED_BODY_WAIT` after the head
/// (measured loosely: the machine is shared), with what arrived.
#[tokio::test]
async fn a_trickling_refusal_body_is_bounded_in_time() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        read_request(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 1000\r\n\r\n")
            .await
            .unwrap();
        while stream.write_all(b"z").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
    let start = std::time::Instant::now();
    let result = WebSocket::connect(&uri, Config::default()).await;
    let took = start.elapsed();
    server.abort();
    let Err(Error::Refused(response)) = result else {
        panic!("{:?}", result.map(|(_, a)| a));
    };
    assert!(took >= REFUSED_BODY_WAIT, "{took:?}");
    assert!(took < REFUSED_BODY_WAIT * 3, "{took:?}");
    assert_eq!(response.body_end(), BodyEnd::WaitElapsed);
    assert!(!response.body().is_empty() && response.body().iter().all(|&b| b == b'z'));
    let shown = Error::Refused(response).to_string();
    assert!(
        shown.contains("503") && shown.contains("as far as it arrived"),
        "{shown}"
    );
}

/// Node `ws` limiting its own window unasked (RFC 7692 §7.1.2.1 allows
/// it) and ours (we offered `client_max_window_bits`): the client accepts
/// both, compresses within 10 bits, and the echoes come back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ws_limiting_both_windows() {
    let Some(server) =
        node_server(r#"{"serverMaxWindowBits":9,"clientMaxWindowBits":10,"threshold":0}"#)
    else {
        return;
    };
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let accepted = echo_through(server.port, config).await;
    assert_eq!(
        deflate_params(&accepted),
        ["client_max_window_bits=10", "server_max_window_bits=9"]
    );
}

/// A refusal's `Display` goes to logs: a server's control bytes and
/// non-ASCII in its body, Location and reason are escaped, never written
/// as they came.
#[tokio::test]
async fn a_refusals_display_escapes_the_servers_bytes() {
    let input = b"HTTP/1.1 302 Moved\xff\tAway\r\nLocation: ws://x/\xff\xfe\r\nContent-Length: 15\r\n\r\n\x1b[31mred\x07\r\n\x00\x9b2J";
    let response =
        refused(client_over(input, &[], true, &sample_request(), Config::default()).await);
    assert_eq!(response.body(), &input[input.len() - 15..]);
    let shown = Error::Refused(response).to_string();
    assert!(
        !shown.chars().any(|c| c.is_control()),
        "a control character reached Display: {shown:?}"
    );
    assert!(shown.contains("302"), "{shown}");
    assert!(shown.contains("ws://x/"), "{shown}");
}
