//! The tokio `Error` as a chain printer (anyhow's `{:#}`, `tracing`'s
//! error fields) shows it: every message once. `Display` holds the inner
//! error's text, so `source()` is the inner error's own source (the rule
//! of `std::io::Error` for a wrapped error), and the inner error stays the
//! variant's field. And `accept`/`accept_with` over a stream whose writes
//! fail: the refusal is reported, not the write's failure.
#![cfg(feature = "tokio")]

mod common;

use std::{error::Error as StdError, fmt, io, sync::Arc};

use common::tokio_peer::Scripted;
use wsframe::{
    handshake::{reject, HandshakeError, RefusedResponse, Status},
    tokio::{Error, WebSocket},
    Config, Connection, Message, ProtocolError, Role, SendError,
};

/// Each message of `err`'s chain, itself first, as a chain printer walks
/// it.
fn chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut messages = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        messages.push(cause.to_string());
        next = cause.source();
    }
    messages
}

/// How many times `needle` appears in the chain printed as `{:#}` does.
fn times_shown(err: &(dyn StdError + 'static), needle: &str) -> usize {
    chain(err).join(": ").matches(needle).count()
}

/// The cause under the cause: it has a source of its own.
#[derive(Debug)]
struct Root;

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the root cause")
    }
}

impl StdError for Root {}

/// A stream's custom error, with `Root` as its source.
#[derive(Debug)]
struct Middle(Root);

impl fmt::Display for Middle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the middle cause")
    }
}

impl StdError for Middle {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn every_variant_shows_each_message_once_in_its_chain() {
    // Io over a custom error with a source: three messages, each once,
    // in order, and nothing else in the chain.
    let err = Error::Io(io::Error::other(Middle(Root)));
    assert_eq!(
        chain(&err),
        [
            "WebSocket stream failed: the middle cause".to_owned(),
            "the root cause".to_owned()
        ]
    );
    assert_eq!(
        times_shown(&err, "the middle cause"),
        1,
        "{:?}",
        chain(&err)
    );
    assert_eq!(times_shown(&err, "the root cause"), 1, "{:?}", chain(&err));
    // The inner error is the field, whole.
    let Error::Io(inner) = &err else {
        unreachable!()
    };
    assert!(inner.get_ref().unwrap().downcast_ref::<Middle>().is_some());

    // An OS error: its text once.
    let err = Error::Io(io::Error::from_raw_os_error(32));
    let os_text = io::Error::from_raw_os_error(32).to_string();
    assert_eq!(times_shown(&err, &os_text), 1, "{:?}", chain(&err));

    let refused = match RefusedResponse::parse(&reject(403, &[], b"go away").unwrap()).unwrap() {
        Status::Complete(refused) => refused,
        Status::Partial => panic!("a whole response read as partial"),
    };
    let refused_text = refused.to_string();
    let inner: [(Error, String); 4] = [
        (
            Error::Send(SendError::ControlPayloadTooLong(126)),
            SendError::ControlPayloadTooLong(126).to_string(),
        ),
        (
            Error::Protocol(ProtocolError::UnmaskedFrame),
            ProtocolError::UnmaskedFrame.to_string(),
        ),
        (
            Error::Handshake(HandshakeError::MissingKey),
            HandshakeError::MissingKey.to_string(),
        ),
        (Error::Refused(Box::new(refused)), refused_text),
    ];
    for (err, inner_text) in inner {
        assert_eq!(times_shown(&err, &inner_text), 1, "{:?}", chain(&err));
        assert_eq!(chain(&err).len(), 1, "{:?}", chain(&err));
        // Turned into an io::Error (`?` in an io::Result function): the
        // same, once.
        let io_err = io::Error::from(err);
        assert_eq!(times_shown(&io_err, &inner_text), 1, "{:?}", chain(&io_err));
        // ... and the variant is still there to match.
        assert!(io_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .is_some());
    }
}

/// `input` in reads of `chunk` bytes, then nothing, ever.
fn scripted(input: &[u8], chunk: usize) -> Scripted {
    let cuts: Vec<usize> = (chunk..input.len()).step_by(chunk).collect();
    Scripted::new(input, &cuts)
}

fn broken_pipe() -> io::Error {
    io::Error::from(io::ErrorKind::BrokenPipe)
}

const NOT_AN_UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
const BAD_VERSION: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 8\r\n\r\n";
const UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

async fn accept(stream: Scripted) -> Result<WebSocket<Scripted>, Error> {
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        WebSocket::accept(stream, Config::default()),
    )
    .await
    .expect("accept stalled")
}

/// A refused request whose refusal cannot be written (the client hung up)
/// or whose shutdown fails: `Error::Handshake` with the refusal's status,
/// as when the refusal went out; the request read whole, byte by byte and
/// in every chunk size.
#[tokio::test]
async fn accept_reports_the_refusal_when_writing_it_fails() {
    for (request, status) in [(NOT_AN_UPGRADE, None), (BAD_VERSION, Some(426))] {
        for chunk in 1..=request.len() {
            for (write_fails, shutdown_fails) in [(false, false), (true, false), (false, true)] {
                let mut stream = scripted(request, chunk);
                stream.write_error = write_fails.then_some(broken_pipe as fn() -> io::Error);
                stream.shutdown_error = shutdown_fails.then_some(broken_pipe as fn() -> io::Error);
                let case = format!(
                    "chunk {chunk}, write fails {write_fails}, shutdown fails {shutdown_fails}"
                );
                let err = accept(stream).await.map(|_| ()).unwrap_err();
                let Error::Handshake(handshake) = &err else {
                    panic!("{case}: not the refusal: {err:?}")
                };
                match status {
                    Some(status) => assert_eq!(handshake.status(), status, "{case}"),
                    None => assert!((400..500).contains(&handshake.status()), "{case}"),
                }
            }
        }
    }
}

/// The refusal's write cut short, then failing (the client hung up
/// midway), at every point of the response: still the refusal.
#[tokio::test]
async fn accept_reports_the_refusal_when_its_write_fails_midway() {
    let response = HandshakeError::UnsupportedVersion.response();
    for taken in 1..response.len() {
        let mut stream = scripted(BAD_VERSION, BAD_VERSION.len());
        stream.write_error = Some(broken_pipe);
        stream.taken_before_error = taken;
        let err = accept(stream).await.map(|_| ()).unwrap_err();
        assert!(
            matches!(&err, Error::Handshake(h) if h.status() == 426),
            "{taken} bytes taken: {err:?}"
        );
    }
}

/// `accept_with`'s own refusal over a stream whose writes fail:
/// `Error::Rejected`, as when it went out (and the response is written
/// whole when the stream takes it).
#[tokio::test]
async fn accept_with_reports_its_rejection_when_writing_it_fails() {
    let refusal = reject(403, &[], b"unknown origin").unwrap();
    for write_fails in [false, true] {
        for shutdown_fails in [false, true] {
            let mut stream = scripted(UPGRADE, UPGRADE.len());
            stream.write_error = write_fails.then_some(broken_pipe as fn() -> io::Error);
            stream.shutdown_error = shutdown_fails.then_some(broken_pipe as fn() -> io::Error);
            let result =
                WebSocket::accept_with(stream, Config::default(), |_| Err(refusal.clone())).await;
            let err = result.map(|_| ()).unwrap_err();
            assert!(
                matches!(err, Error::Rejected),
                "write fails {write_fails}, shutdown fails {shutdown_fails}: {err:?}"
            );
        }
    }
}

/// The control: the refusal goes out whole when the stream takes it, and
/// an accepted request whose 101 cannot be written is still `Error::Io`
/// (nothing was refused).
#[tokio::test]
async fn a_failed_101_is_still_an_io_error() {
    let mut stream = scripted(UPGRADE, UPGRADE.len());
    stream.write_error = Some(broken_pipe);
    let err = accept(stream).await.map(|_| ()).unwrap_err();
    assert!(
        matches!(&err, Error::Io(io) if io.kind() == io::ErrorKind::BrokenPipe),
        "{err:?}"
    );

    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(WebSocket::accept(ours, Config::default()));
    tokio::io::AsyncWriteExt::write_all(&mut theirs, BAD_VERSION)
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut response)
        .await
        .unwrap();
    assert!(response.starts_with(b"HTTP/1.1 426 "), "{response:?}");
    assert!(matches!(server.await.unwrap(), Err(Error::Handshake(_))));
}

/// A custom error with a source of its own, from a stream's write: the
/// send that met it and the one after both show each message once, and
/// the stream's error is reachable (`get_ref` gives the `Arc<io::Error>`
/// holding it).
#[tokio::test]
async fn a_failed_writes_error_shows_each_message_once_and_stays_reachable() {
    fn reset() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionReset, Middle(Root))
    }
    let mut stream = scripted(b"", 1);
    stream.write_error = Some(reset);
    let conn = Connection::new(Role::Server, Config::default());
    let mut ws = WebSocket::from_connection(stream, conn);
    for attempt in ["first", "second"] {
        let err = ws.send(Message::from("hi")).await.unwrap_err();
        assert_eq!(
            chain(&err),
            [
                "WebSocket stream failed: the middle cause".to_owned(),
                "the root cause".to_owned()
            ],
            "{attempt}"
        );
        let Error::Io(io_err) = &err else {
            panic!("{attempt}: {err:?}")
        };
        assert_eq!(io_err.kind(), io::ErrorKind::ConnectionReset, "{attempt}");
        let first = io_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<Arc<io::Error>>())
            .unwrap_or_else(|| panic!("{attempt}: {io_err:?}"));
        assert!(
            first.get_ref().unwrap().downcast_ref::<Middle>().is_some(),
            "{attempt}"
        );
    }
}
