//! The idle timeout ("nothing has been received for `timeout`") and an
//! application busy elsewhere (writing a long echo, as the example
//! `tokio_keepalive_server` does to a slow reader) while the peer's bytes
//! wait unread in the stream: the next `next` reads what waits before it
//! handles the expired clock, so a peer that was not silent is not closed,
//! and one that was silent still is. Messages that one read brought and
//! the application had not taken yet arrived in time: the idle timeout
//! hands them out before its close (whose frame is written at once), as
//! it does a read's error met at the deadline.
#![cfg(feature = "tokio")]

mod common;

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use common::{close_payload, tokio_peer::read_frame, CLOSE, FIN};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf},
    time::{sleep, timeout},
};
use wsframe::{
    tokio::{Error, WebSocket},
    CloseCode, Closed, Config, Connection, Event, Initiator, Message, Role,
};

#[tokio::test(start_paused = true)]
async fn a_peer_whose_bytes_wait_unread_is_not_idle() {
    let (mut ws, mut theirs, mut client) = served_one_message().await;
    // The application is busy for 20 s; the peer sends at 10 s.
    sleep(Duration::from_secs(10)).await;
    client.send(Message::from("two")).unwrap();
    theirs.write_all(&client.take_output()).await.unwrap();
    sleep(Duration::from_secs(10)).await;
    match ws.next().await {
        Some(Ok(Event::Message(Message::Text(text)))) => assert_eq!(&*text, "two"),
        other => panic!("expected the peer's message, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_closed_when_the_busy_application_comes_back() {
    // `_theirs` kept open: a silent peer, not one that hung up.
    let (mut ws, _theirs, _client) = served_one_message().await;
    // The application is busy for 20 s; the peer sends nothing.
    sleep(Duration::from_secs(20)).await;
    match ws.next().await {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode::GOING_AWAY),
        other => panic!("expected the idle timeout's close, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_hung_up_while_the_application_was_busy_is_a_hang_up() {
    let (mut ws, mut theirs, mut client) = served_one_message().await;
    // While the application is busy for 20 s, the peer sends at 10 s and
    // hangs up.
    sleep(Duration::from_secs(10)).await;
    client.send(Message::from("two")).unwrap();
    theirs.write_all(&client.take_output()).await.unwrap();
    drop(theirs);
    sleep(Duration::from_secs(10)).await;
    // What the peer sent before it went is delivered, then the end.
    match ws.next().await {
        Some(Ok(Event::Message(Message::Text(text)))) => assert_eq!(&*text, "two"),
        other => panic!("expected the peer's second message, got {other:?}"),
    }
    let rest = ws.next().await;
    assert!(
        rest.is_none(),
        "a hang-up between messages ends the stream: {rest:?}"
    );
}

/// A server with a 15 s idle timeout that has read its client's first
/// message: the socket, the client's end of the stream and the client.
async fn served_one_message() -> (WebSocket<DuplexStream>, DuplexStream, Connection) {
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(15)))
        .build();
    let mut ws = WebSocket::from_connection(ours, Connection::new(Role::Server, config));
    let mut client = Connection::new(Role::Client, Config::default());
    client.send(Message::from("one")).unwrap();
    theirs.write_all(&client.take_output()).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Event::Message(_)))));
    (ws, theirs, client)
}

/// A server with a 15 s idle timeout, the client's end of the stream and
/// the client: the client's `messages` sent in one write, which the
/// server reads at once, taking the first only.
async fn served_first_of(
    messages: &[&dyn Fn(&mut Connection)],
) -> (WebSocket<DuplexStream>, DuplexStream, Connection, Event) {
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(15)))
        .build();
    let mut ws = WebSocket::from_connection(ours, Connection::new(Role::Server, config));
    let mut client = Connection::new(Role::Client, Config::default());
    for send in messages {
        send(&mut client);
    }
    theirs.write_all(&client.take_output()).await.unwrap();
    let first = ws.next().await.unwrap().unwrap();
    (ws, theirs, client, first)
}

fn text(s: &'static str) -> impl Fn(&mut Connection) {
    move |client| client.send(Message::from(s)).unwrap()
}

fn is_text(event: &Event, expected: &str) -> bool {
    matches!(event, Event::Message(Message::Text(text)) if &**text == expected)
}

/// The next frame the server wrote, if one comes within a second.
async fn frame_written(theirs: &mut DuplexStream) -> Option<(u8, Vec<u8>)> {
    timeout(Duration::from_secs(1), read_frame(theirs))
        .await
        .ok()
}

fn idle_close_frame() -> (u8, Vec<u8>) {
    (FIN | CLOSE, close_payload(1001, b"idle timeout"))
}

#[tokio::test(start_paused = true)]
async fn messages_one_read_brought_come_out_before_the_idle_close() {
    let (mut ws, mut theirs, _client, first) =
        served_first_of(&[&text("one"), &text("two"), &text("three")]).await;
    assert!(is_text(&first, "one"), "{first:?}");
    // The application is busy for 20 s, "two" and "three" in hand; the
    // peer sends nothing more.
    sleep(Duration::from_secs(20)).await;
    let two = ws.next().await;
    assert!(matches!(&two, Some(Ok(e)) if is_text(e, "two")), "{two:?}");
    // The close was decided at the deadline, and written then.
    assert_eq!(frame_written(&mut theirs).await, Some(idle_close_frame()));
    let three = ws.next().await;
    assert!(
        matches!(&three, Some(Ok(e)) if is_text(e, "three")),
        "{three:?}"
    );
    match ws.next().await {
        Some(Ok(Event::Closed(closed))) => {
            assert_eq!(
                (closed.code, closed.initiator),
                (CloseCode::GOING_AWAY, Initiator::Local)
            );
            assert_eq!(closed.reason, "idle timeout");
        }
        other => panic!("expected the idle timeout's close, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
    // Nothing after the close frame; the server shut its write side.
    let mut rest = Vec::new();
    theirs.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, []);
}

#[tokio::test(start_paused = true)]
async fn a_ping_in_hand_at_the_idle_deadline_is_handed_out_without_a_pong() {
    let ping = |client: &mut Connection| client.ping(b"there?").unwrap();
    let (mut ws, mut theirs, _client, first) = served_first_of(&[&text("one"), &ping]).await;
    assert!(is_text(&first, "one"), "{first:?}");
    sleep(Duration::from_secs(20)).await;
    let ping = ws.next().await;
    assert!(
        matches!(&ping, Some(Ok(Event::Ping(p))) if &p[..] == b"there?"),
        "{ping:?}"
    );
    match ws.next().await {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode::GOING_AWAY),
        other => panic!("expected the idle timeout's close, got {other:?}"),
    }
    // The close frame only: no pong before it or after it.
    assert_eq!(frame_written(&mut theirs).await, Some(idle_close_frame()));
    let mut rest = Vec::new();
    theirs.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, []);
}

#[tokio::test(start_paused = true)]
async fn the_peers_close_in_hand_at_the_idle_deadline_is_the_end() {
    let close = |client: &mut Connection| client.close(CloseCode::NORMAL, "bye").unwrap();
    let (mut ws, mut theirs, _client, first) = served_first_of(&[&text("one"), &close]).await;
    assert!(is_text(&first, "one"), "{first:?}");
    sleep(Duration::from_secs(20)).await;
    // The peer closed before our deadline: its close ends the connection,
    // and our 1001 answers it.
    match ws.next().await {
        Some(Ok(Event::Closed(closed))) => assert_eq!(
            *closed,
            Closed {
                code: CloseCode::NORMAL,
                reason: "bye".into(),
                initiator: Initiator::Peer,
                error: None,
            }
        ),
        other => panic!("expected the peer's close, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
    assert_eq!(frame_written(&mut theirs).await, Some(idle_close_frame()));
}

/// A stream whose first read hands out `input` and every later read
/// fails (a reset); writes are taken and dropped.
struct FailsAfterFirstRead {
    input: Option<Vec<u8>>,
}

impl AsyncRead for FailsAfterFirstRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.input.take() {
            Some(input) => {
                buf.put_slice(&input);
                Poll::Ready(Ok(()))
            }
            None => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
        }
    }
}

impl AsyncWrite for FailsAfterFirstRead {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_read_error_at_the_idle_deadline_comes_after_the_messages_in_hand() {
    let mut client = Connection::new(Role::Client, Config::default());
    client.send(Message::from("one")).unwrap();
    client.send(Message::from("two")).unwrap();
    let io = FailsAfterFirstRead {
        input: Some(client.take_output().to_vec()),
    };
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(15)))
        .build();
    let mut ws = WebSocket::from_connection(io, Connection::new(Role::Server, config));
    let one = ws.next().await;
    assert!(matches!(&one, Some(Ok(e)) if is_text(e, "one")), "{one:?}");
    // Busy past the deadline; the read made then fails.
    sleep(Duration::from_secs(20)).await;
    let two = ws.next().await;
    assert!(matches!(&two, Some(Ok(e)) if is_text(e, "two")), "{two:?}");
    match ws.next().await {
        Some(Err(Error::Io(err))) => assert_eq!(err.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("expected the read's error, got {other:?}"),
    }
    match ws.next().await {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode::GOING_AWAY),
        other => panic!("expected the idle timeout's close, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}
