//! A client whose upgrade is refused gets the server's response (RFC 6455
//! §4.1: a status other than 101 is handled "per HTTP procedures"): its
//! status, headers and body. The oracle is always the bytes the test server
//! sent, split by hand here.
//!
//! Sans-IO: `RefusedResponse::parse` of a 302 cut at every byte (partial
//! until the head's end, then the same head whatever follows), next to
//! `parse_response`'s `NotSwitching`; the body framing of RFC 9112 §6.3
//! (101/204/304, `Content-Length` lists, chunked last or not, invalid
//! lengths); `Display`'s advice per status (redirects, 401, 407, 426, 429
//! with `Retry-After`, 5xx) and a non-ASCII header value escaped; with
//! `http`, `to_http` field for field.
//!
//! Interim responses (RFC 9110 §15.2: a 103 Early Hints and a 100
//! Continue) before a 302 or a 101, cut at every byte: skipped by
//! `RefusedResponse::parse`, `parse_response` and tokio's `client`, their
//! bytes counted in the head's length, the frame behind the 101 kept.
//!
//! tokio `client` over a stream handing out scripted pieces: a 403 with a
//! `Content-Length` body cut at every byte (whole, and with the server
//! holding the connection after it: no wait), the connection ending at
//! every byte of that body, the server stalling at every byte of it (the
//! wait ends it, on tokio's paused clock), bodies of exactly the cap and
//! past it (announced and close-delimited), a close-delimited body cut at
//! every byte, HTTP/1.0, chunked kept raw, a 204 not waited for.
//!
//! `connect` (feature `http`) to a raw TCP server on 127.0.0.1: 302 with
//! `Location`, 401 with two `WWW-Authenticate` challenges (Display, the
//! `io::Error` and `source()`), a 403 body, a head then a held connection
//! (ends after `REFUSED_BODY_WAIT`), a close-delimited body past the cap,
//! and a 101 that still connects.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use tokio::time::{timeout, Instant};
use wsframe::{
    handshake::{BodyEnd, BodyFraming, ClientHandshake, HandshakeError, RefusedResponse, Status},
    tokio::{Error, WebSocket, MAX_REFUSED_BODY, REFUSED_BODY_WAIT},
    Config,
};

use common::tokio_peer::Scripted;

/// Fails the test instead of hanging it.
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 30 s"))
}

/// A response written from its parts: the oracle keeps the parts.
fn response(status_line: &str, fields: &[(&str, &str)], body: &[u8]) -> (Vec<u8>, usize) {
    let mut out = format!("{status_line}\r\n").into_bytes();
    for (name, value) in fields {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let head_len = out.len();
    out.extend_from_slice(body);
    (out, head_len)
}

fn handshake() -> ClientHandshake {
    ClientHandshake::new(*b"a 16-byte nonce!")
        .target("example.com", "/chat")
        .unwrap()
}

/// `client` over `stream`: the refusal it returns.
async fn refusal_over(stream: Scripted) -> RefusedResponse {
    let result = within(
        "client",
        WebSocket::client(stream, &handshake(), Config::default()),
    )
    .await;
    match result {
        Err(Error::Refused(refused)) => *refused,
        Err(other) => panic!("not a refusal: {other}"),
        Ok(_) => panic!("accepted"),
    }
}

fn fields_of(refused: &RefusedResponse) -> Vec<(String, Vec<u8>)> {
    refused
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect()
}

fn owned(fields: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect()
}

const REDIRECT: &[(&str, &str)] = &[
    ("Location", "wss://example.net/chat"),
    ("Content-Length", "9"),
    ("X-Request-Id", "7"),
];

#[test]
fn a_refusal_cut_at_every_byte_parses_once_its_head_is_whole() {
    let (bytes, head_len) = response("HTTP/1.1 302 Found", REDIRECT, b"elsewhere");
    for end in 0..=bytes.len() {
        let prefix = &bytes[..end];
        let parsed = RefusedResponse::parse(prefix).unwrap();
        if end < head_len {
            assert_eq!(parsed, Status::Partial, "{end}");
            assert_eq!(handshake().parse_response(prefix), Ok(Status::Partial));
            continue;
        }
        assert_eq!(
            handshake().parse_response(prefix),
            Err(HandshakeError::NotSwitching(302))
        );
        let Status::Complete(refused) = parsed else {
            panic!("{end}: partial after the head")
        };
        assert_eq!((refused.status(), refused.reason()), (302, "Found"));
        assert_eq!(refused.minor_version(), 1);
        assert_eq!(fields_of(&refused), owned(REDIRECT), "{end}");
        assert_eq!(
            refused.header("LOCATION"),
            Some(&b"wss://example.net/chat"[..])
        );
        assert_eq!(refused.header("WWW-Authenticate"), None);
        assert_eq!(refused.head_len(), head_len);
        assert_eq!(refused.head_bytes(), &bytes[..head_len]);
        assert_eq!(refused.framing(), BodyFraming::Length(9));
        assert_eq!(
            (refused.body(), refused.body_end()),
            (&[][..], BodyEnd::NotRead)
        );
    }
}

/// Header fields as `(name, value)`.
type Fields<'a> = &'a [(&'a str, &'a str)];

#[test]
fn rfc9112_6_3_body_framing() {
    use BodyFraming::*;
    let cases: &[(&str, Fields, BodyFraming)] = &[
        ("HTTP/1.1 403 Forbidden", &[], UntilClose),
        ("HTTP/1.1 204 No Content", &[("Content-Length", "5")], Empty),
        ("HTTP/1.1 304 Not Modified", &[], Empty),
        // A 1xx has no body; other 1xx than 101 are interim, skipped to
        // the final response (see the interim responses' test).
        ("HTTP/1.1 101 Switching Protocols", &[], Empty),
        ("HTTP/1.1 403 Forbidden", &[("Content-Length", "0")], Empty),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "000")],
            Empty,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "5, 5")],
            Length(5),
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "5"), ("Content-Length", "05")],
            Length(5),
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "5"), ("Content-Length", "6")],
            UntilClose,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "-1")],
            UntilClose,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "1e3")],
            UntilClose,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Content-Length", "99999999999999999999999")],
            UntilClose,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
            Chunked,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Transfer-Encoding", "gzip, Chunked")],
            Chunked,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[("Transfer-Encoding", "chunked, gzip")],
            UntilClose,
        ),
        (
            "HTTP/1.1 403 Forbidden",
            &[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "gzip"),
            ],
            UntilClose,
        ),
    ];
    for (status_line, fields, framing) in cases {
        let (bytes, _) = response(status_line, fields, b"");
        let Status::Complete(refused) = RefusedResponse::parse(&bytes).unwrap() else {
            panic!("{status_line} {fields:?}: partial")
        };
        assert_eq!(refused.framing(), *framing, "{status_line} {fields:?}");
    }
    // RFC 9110 §15: a status is three digits from 100 on.
    let (bytes, _) = response("HTTP/1.1 099 Odd", &[], b"");
    assert_eq!(
        RefusedResponse::parse(&bytes),
        Err(HandshakeError::Malformed)
    );
    let (bytes, _) = response("HTTP/1.0 403 Forbidden", &[], b"");
    let Status::Complete(refused) = RefusedResponse::parse(&bytes).unwrap() else {
        panic!("partial")
    };
    assert_eq!((refused.status(), refused.minor_version()), (403, 0));
    assert_eq!(
        handshake().parse_response(&bytes),
        Err(HandshakeError::HttpVersion)
    );
}

#[test]
fn display_says_what_to_do_and_escapes_what_is_not_printable() {
    let cases: &[(&str, Fields, &str)] = &[
        (
            "HTTP/1.1 301 Moved Permanently",
            &[("Location", "/v2/chat")],
            "follow its Location (/v2/chat)",
        ),
        (
            "HTTP/1.1 307 Temporary Redirect",
            &[],
            "a redirect without a Location",
        ),
        (
            "HTTP/1.1 401 Unauthorized",
            &[],
            "send an Authorization header",
        ),
        (
            "HTTP/1.1 407 Proxy Authentication Required",
            &[],
            "Proxy-Authorization",
        ),
        (
            "HTTP/1.1 429 Too Many Requests",
            &[("Retry-After", "120")],
            "retry after 120",
        ),
        (
            "HTTP/1.1 426 Upgrade Required",
            &[("Sec-WebSocket-Version", "8")],
            "Sec-WebSocket-Version",
        ),
        ("HTTP/1.1 404 Not Found", &[], "no WebSocket at this path"),
        ("HTTP/1.1 502 Bad Gateway", &[], "retry later"),
        // obs-text (RFC 9110 §5.5) reaches a log line escaped.
        (
            "HTTP/1.1 302 Found",
            &[("Location", "/caf\u{e9}")],
            "follow its Location (/caf\\xc3\\xa9)",
        ),
    ];
    for (status_line, fields, advice) in cases {
        let (bytes, _) = response(status_line, fields, b"");
        let Status::Complete(refused) = RefusedResponse::parse(&bytes).unwrap() else {
            panic!("{status_line}: partial")
        };
        let shown = refused.to_string();
        let status = &status_line["HTTP/1.1 ".len()..];
        assert!(
            shown.starts_with(&format!("the server answered {status}, not 101")),
            "{shown}"
        );
        assert!(shown.contains(advice), "{shown}");
    }
}

#[cfg(feature = "http")]
#[test]
fn to_http_keeps_every_field_in_order() {
    let fields = [
        ("WWW-Authenticate", "Basic realm=\"ws\""),
        ("Set-Cookie", "a=1"),
        ("WWW-Authenticate", "Bearer"),
        ("Content-Length", "0"),
    ];
    let (bytes, _) = response("HTTP/1.0 401 Unauthorized", &fields, b"");
    let Status::Complete(refused) = RefusedResponse::parse(&bytes).unwrap() else {
        panic!("partial")
    };
    let http = refused.to_http();
    assert_eq!(http.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(http.version(), http::Version::HTTP_10);
    let got: Vec<(String, Vec<u8>)> = http
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let mut expected = owned(&fields);
    expected
        .iter_mut()
        .for_each(|(n, _)| n.make_ascii_lowercase());
    // `HeaderMap` groups a name's values together, in their order.
    expected.swap(1, 2);
    assert_eq!(got, expected);
    assert!(http.body().is_empty());
}

const FORBIDDEN_BODY: &[u8] = b"origin https://evil.example is not allowed";

fn forbidden() -> (Vec<u8>, usize) {
    response(
        "HTTP/1.1 403 Forbidden",
        &[
            ("Content-Type", "text/plain"),
            ("Content-Length", &FORBIDDEN_BODY.len().to_string()),
        ],
        FORBIDDEN_BODY,
    )
}

#[tokio::test]
async fn client_reads_a_content_length_body_cut_at_every_byte() {
    let (bytes, head_len) = forbidden();
    for cut in 1..bytes.len() {
        for hang_up in [false, true] {
            // Pending after the last byte: the length says the body is
            // whole, nothing is waited for.
            let mut stream = Scripted::new(&bytes, &[cut]);
            if hang_up {
                stream = stream.then_eof();
            }
            let refused = refusal_over(stream).await;
            assert_eq!(refused.status(), 403, "{cut}");
            assert_eq!(refused.head_bytes(), &bytes[..head_len]);
            assert_eq!(refused.body(), FORBIDDEN_BODY, "{cut}");
            assert_eq!(refused.body_end(), BodyEnd::Whole, "{cut}");
        }
    }
    // One byte a read.
    let every: Vec<usize> = (1..bytes.len()).collect();
    let refused = refusal_over(Scripted::new(&bytes, &every)).await;
    assert_eq!(
        (refused.body(), refused.body_end()),
        (FORBIDDEN_BODY, BodyEnd::Whole)
    );
    let shown = refused.to_string();
    assert!(shown.contains("403 Forbidden"), "{shown}");
    assert!(shown.contains("is not allowed"), "{shown}");
}

#[tokio::test]
async fn the_connection_ending_inside_the_body_keeps_what_arrived() {
    let (bytes, head_len) = forbidden();
    for end in head_len..bytes.len() {
        let refused = refusal_over(Scripted::new(&bytes[..end], &[]).then_eof()).await;
        assert_eq!(refused.body(), &bytes[head_len..end], "{end}");
        assert_eq!(refused.body_end(), BodyEnd::ConnectionEnded, "{end}");
        assert!(refused.to_string().contains("connection ended"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_stalling_inside_the_body_is_waited_for_a_bounded_time() {
    let (bytes, head_len) = forbidden();
    for end in head_len..bytes.len() {
        let started = Instant::now();
        let refused = refusal_over(Scripted::new(&bytes[..end], &[])).await;
        assert_eq!(started.elapsed(), REFUSED_BODY_WAIT, "{end}");
        assert_eq!(refused.body(), &bytes[head_len..end], "{end}");
        assert_eq!(refused.body_end(), BodyEnd::WaitElapsed, "{end}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_with_no_length_is_read_to_the_close_or_the_wait() {
    let body = b"try again in a minute";
    let (bytes, head_len) = response("HTTP/1.1 503 Service Unavailable", &[], body);
    for cut in head_len..bytes.len() {
        let refused = refusal_over(Scripted::new(&bytes, &[cut]).then_eof()).await;
        assert_eq!(refused.framing(), BodyFraming::UntilClose);
        assert_eq!(
            (refused.body(), refused.body_end()),
            (&body[..], BodyEnd::Whole)
        );
        assert!(refused.to_string().contains("retry later"));
    }
    // Held open: its end is unknown, the wait ends it with all of it.
    let started = Instant::now();
    let refused = refusal_over(Scripted::new(&bytes, &[head_len + 3])).await;
    assert_eq!(started.elapsed(), REFUSED_BODY_WAIT);
    assert_eq!(
        (refused.body(), refused.body_end()),
        (&body[..], BodyEnd::WaitElapsed)
    );
    // HTTP/1.0, as an old proxy answers: a refusal too.
    let (bytes, _) = response("HTTP/1.0 403 Forbidden", &[("Retry-After", "60")], body);
    let refused = refusal_over(Scripted::new(&bytes, &[]).then_eof()).await;
    assert_eq!((refused.status(), refused.minor_version()), (403, 0));
    assert_eq!(refused.body(), body);
}

#[tokio::test(start_paused = true)]
async fn a_chunked_body_is_kept_as_sent_and_an_empty_one_not_waited_for() {
    let chunked = b"5\r\nhello\r\n0\r\n\r\n";
    let (bytes, _) = response(
        "HTTP/1.1 403 Forbidden",
        &[("Transfer-Encoding", "chunked")],
        chunked,
    );
    let refused = refusal_over(Scripted::new(&bytes, &[]).then_eof()).await;
    assert_eq!(refused.framing(), BodyFraming::Chunked);
    assert_eq!(
        (refused.body(), refused.body_end()),
        (&chunked[..], BodyEnd::Whole)
    );
    for (status_line, fields) in [
        ("HTTP/1.1 204 No Content", &[][..]),
        ("HTTP/1.1 403 Forbidden", &[("Content-Length", "0")][..]),
    ] {
        let (bytes, _) = response(status_line, fields, b"");
        let started = Instant::now();
        let refused = refusal_over(Scripted::new(&bytes, &[])).await;
        assert_eq!(started.elapsed(), Duration::ZERO, "{status_line}");
        assert_eq!(
            (refused.body(), refused.body_end()),
            (&[][..], BodyEnd::Whole)
        );
    }
}

/// `len` bytes that differ from their neighbours.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(start_paused = true)]
async fn a_body_is_read_up_to_the_cap() {
    for (len, announced) in [
        (MAX_REFUSED_BODY, true),
        (MAX_REFUSED_BODY + 1, true),
        (MAX_REFUSED_BODY + 5000, true),
        (MAX_REFUSED_BODY, false),
        (MAX_REFUSED_BODY + 1, false),
        (MAX_REFUSED_BODY + 5000, false),
    ] {
        let body = pattern(len);
        let length = len.to_string();
        let fields: &[(&str, &str)] = if announced {
            &[("Content-Length", &length)]
        } else {
            &[]
        };
        let (bytes, head_len) = response("HTTP/1.1 403 Forbidden", fields, &body);
        // A first read with the head and part of the body, then 4 KiB reads.
        let cuts: Vec<usize> = (head_len + 100..bytes.len()).step_by(4096).collect();
        let refused = refusal_over(Scripted::new(&bytes, &cuts).then_eof()).await;
        let what = format!("{len} bytes, announced: {announced}");
        assert_eq!(refused.body(), &body[..MAX_REFUSED_BODY], "{what}");
        let end = if len == MAX_REFUSED_BODY {
            BodyEnd::Whole
        } else {
            BodyEnd::Capped
        };
        assert_eq!(refused.body_end(), end, "{what}");
        let shown = refused.to_string();
        assert_eq!(
            shown.contains(&format!("body cut at {MAX_REFUSED_BODY} bytes")),
            end == BodyEnd::Capped,
            "{what}: {shown}"
        );
        // Announced past the cap and held open: cut, not waited for.
        if announced && len > MAX_REFUSED_BODY {
            let started = Instant::now();
            let refused = refusal_over(Scripted::new(&bytes, &cuts)).await;
            assert_eq!(started.elapsed(), Duration::ZERO, "{what}");
            assert_eq!(refused.body_end(), BodyEnd::Capped, "{what}");
        }
    }
}

#[cfg(feature = "http")]
mod over_tcp {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
        task::JoinHandle,
    };

    use super::*;

    /// A raw server on 127.0.0.1 that reads one request head, writes
    /// `response`, then closes the connection or, with `hold`, keeps it.
    async fn serve(response: Vec<u8>, hold: bool) -> (http::Uri, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client hung up before its request's end");
                request.extend_from_slice(&buf[..n]);
            }
            // The client may stop reading at its cap and hang up.
            let _ = stream.write_all(&response).await;
            if hold {
                std::future::pending::<()>().await;
            }
        });
        let uri = format!("ws://127.0.0.1:{port}/chat").parse().unwrap();
        (uri, server)
    }

    async fn connect_refused(uri: &http::Uri) -> (RefusedResponse, String, std::io::Error) {
        match within("connect", WebSocket::connect(uri, Config::default())).await {
            Err(Error::Refused(refused)) => {
                let shown = Error::Refused(refused.clone()).to_string();
                let io = std::io::Error::from(Error::Refused(refused.clone()));
                (*refused, shown, io)
            }
            Err(other) => panic!("not a refusal: {other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[tokio::test]
    async fn connect_gives_a_redirects_location() {
        let (bytes, _) = response("HTTP/1.1 302 Found", REDIRECT, b"elsewhere");
        let (uri, server) = serve(bytes, false).await;
        let (refused, shown, io) = connect_refused(&uri).await;
        assert_eq!(refused.status(), 302);
        assert_eq!(fields_of(&refused), owned(REDIRECT));
        assert_eq!(refused.body(), b"elsewhere");
        assert!(
            shown.contains("302 Found")
                && shown.contains("follow its Location (wss://example.net/chat)"),
            "{shown}"
        );
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        // The response is the variant's field, not the source (its text
        // is already in the error's).
        let inner = io.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(
            matches!(inner, Some(Error::Refused(r)) if r.status() == 302),
            "{inner:?}"
        );
        assert!(io.get_ref().unwrap().source().is_none());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn connect_gives_every_authentication_challenge() {
        let fields = [
            ("WWW-Authenticate", "Basic realm=\"ws\""),
            ("WWW-Authenticate", "Bearer"),
            ("Content-Length", "12"),
        ];
        let (bytes, _) = response("HTTP/1.1 401 Unauthorized", &fields, b"log in first");
        let (uri, server) = serve(bytes, true).await;
        let (refused, shown, _) = connect_refused(&uri).await;
        assert_eq!(fields_of(&refused), owned(&fields));
        assert_eq!(
            (refused.body(), refused.body_end()),
            (&b"log in first"[..], BodyEnd::Whole)
        );
        assert!(shown.contains("authenticate"), "{shown}");
        assert!(shown.contains("challenge (Basic realm=\"ws\")"), "{shown}");
        assert_eq!(
            refused
                .to_http()
                .headers()
                .get_all("www-authenticate")
                .iter()
                .count(),
            2
        );
        server.abort();
    }

    #[tokio::test]
    async fn connect_gives_a_403_body() {
        let (bytes, _) = forbidden();
        let (uri, server) = serve(bytes, true).await;
        let (refused, _, _) = connect_refused(&uri).await;
        assert_eq!(
            (refused.body(), refused.body_end()),
            (FORBIDDEN_BODY, BodyEnd::Whole)
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_server_that_holds_the_connection_after_a_head_is_left_after_the_wait() {
        // No length: the body's end would be the close, which never comes.
        let (bytes, head_len) = response("HTTP/1.1 403 Forbidden", &[], b"partial ");
        let (uri, server) = serve(bytes.clone(), true).await;
        let started = std::time::Instant::now();
        let (refused, _, _) = connect_refused(&uri).await;
        let waited = started.elapsed();
        assert!(waited >= REFUSED_BODY_WAIT, "{waited:?}");
        assert!(
            waited < REFUSED_BODY_WAIT + Duration::from_secs(5),
            "{waited:?}"
        );
        assert_eq!(refused.body(), &bytes[head_len..]);
        assert_eq!(refused.body_end(), BodyEnd::WaitElapsed);
        server.abort();
    }

    #[tokio::test]
    async fn a_close_delimited_body_past_the_cap_is_cut() {
        let body = pattern(MAX_REFUSED_BODY * 2);
        let (bytes, _) = response("HTTP/1.1 500 Internal Server Error", &[], &body);
        let (uri, server) = serve(bytes, false).await;
        let (refused, shown, _) = connect_refused(&uri).await;
        assert_eq!(refused.body(), &body[..MAX_REFUSED_BODY]);
        assert_eq!(refused.body_end(), BodyEnd::Capped);
        assert!(shown.contains("retry later"), "{shown}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_101_still_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = WebSocket::accept(stream, Config::default()).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        });
        let uri: http::Uri = format!("ws://127.0.0.1:{port}/chat").parse().unwrap();
        let (mut ws, accepted): (_, wsframe::handshake::Accepted) =
            within("connect", WebSocket::connect(&uri, Config::default()))
                .await
                .unwrap();
        assert!(accepted.subprotocol.is_none());
        ws.close(wsframe::CloseCode::NORMAL, "").await.unwrap();
        server.await.unwrap();
    }
}

/// Interim responses (RFC 9110 §15.2): a 103 Early Hints and a 100
/// Continue at the front.
fn interim() -> Vec<u8> {
    let (early, _) = response(
        "HTTP/1.1 103 Early Hints",
        &[("Link", "</style.css>; rel=preload")],
        b"",
    );
    let (go_on, _) = response("HTTP/1.1 100 Continue", &[], b"");
    [early, go_on].concat()
}

/// A 101 for [`handshake`] with a text frame `hi` behind it.
fn switching() -> (Vec<u8>, usize) {
    let accept = wsframe::handshake::accept_key(handshake().key().as_bytes());
    response(
        "HTTP/1.1 101 Switching Protocols",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", &accept),
        ],
        b"\x81\x02hi",
    )
}

#[test]
fn interim_responses_before_the_final_one_are_skipped_at_every_cut() {
    let interim = interim();
    // A refusal behind them: read as the refusal, its head_len counting
    // them, so that its body starts there.
    let (refusal, head_len) = response("HTTP/1.1 302 Found", REDIRECT, b"elsewhere");
    let bytes = [&interim[..], &refusal[..]].concat();
    let whole = interim.len() + head_len;
    for end in 0..=bytes.len() {
        let prefix = &bytes[..end];
        match RefusedResponse::parse(prefix).unwrap() {
            Status::Partial => assert!(end < whole, "{end}"),
            Status::Complete(refused) => {
                assert!(end >= whole, "{end}");
                assert_eq!(refused.status(), 302);
                assert_eq!(refused.head_len(), whole);
                assert_eq!(refused.head_bytes(), &refusal[..head_len]);
            }
        }
        let expected = match end < whole {
            true => Ok(Status::Partial),
            false => Err(HandshakeError::NotSwitching(302)),
        };
        assert_eq!(handshake().parse_response(prefix), expected, "{end}");
    }
    // A 101 behind them: accepted, the frames after all the heads.
    let (switching, head_len) = switching();
    let bytes = [&interim[..], &switching[..]].concat();
    let whole = interim.len() + head_len;
    for end in 0..=bytes.len() {
        match handshake().parse_response(&bytes[..end]).unwrap() {
            Status::Partial => assert!(end < whole, "{end}"),
            Status::Complete(accepted) => {
                assert!(end >= whole, "{end}");
                assert_eq!(accepted.head_len, whole);
            }
        }
    }
}

#[tokio::test]
async fn client_skips_interim_responses_and_keeps_the_frame_behind_the_101() {
    let (switching, _) = switching();
    let bytes = [interim(), switching].concat();
    for cut in 1..bytes.len() {
        let stream = Scripted::new(&bytes, &[cut]);
        let (mut ws, _) = within(
            "client",
            WebSocket::client(stream, &handshake(), Config::default()),
        )
        .await
        .unwrap_or_else(|err| panic!("{cut}: {err}"));
        match within("next", ws.next()).await {
            Some(Ok(wsframe::Event::Message(message))) => {
                assert_eq!(message.as_bytes(), b"hi", "{cut}")
            }
            other => panic!("{cut}: {other:?}"),
        }
    }
}
