//! The idle timeout ("nothing has been received for `timeout`") and an
//! application busy elsewhere (writing a long echo, as the example
//! `tokio_keepalive_server` does to a slow reader) while the peer's bytes
//! wait unread in the stream: the next `next` reads what waits before it
//! handles the expired clock, so a peer that was not silent is not closed,
//! and one that was silent still is.
#![cfg(feature = "tokio")]

use std::time::Duration;

use tokio::{
    io::{AsyncWriteExt, DuplexStream},
    time::sleep,
};
use wsframe::{tokio::WebSocket, CloseCode, Config, Connection, Event, Message, Role};

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
