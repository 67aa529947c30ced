//! The idle timeout ("nothing has been received for `timeout`") and an
//! application busy elsewhere (writing a long echo, as the example
//! `tokio_keepalive_server` does to a slow reader) while the peer's bytes
//! wait unread in the stream: the next `next` handles the expired clock
//! before it reads, and closes a peer that was not silent.
#![cfg(feature = "tokio")]

use std::time::Duration;

use tokio::{io::AsyncWriteExt, time::sleep};
use wsframe::{tokio::WebSocket, Config, Connection, Event, Message, Role};

#[tokio::test(start_paused = true)]
#[ignore = "bug: next() fires an expired idle timeout before reading the peer's bytes already waiting in the stream"]
async fn a_peer_whose_bytes_wait_unread_is_not_idle() {
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(15)))
        .build();
    let mut ws = WebSocket::from_connection(ours, Connection::new(Role::Server, config));
    let mut client = Connection::new(Role::Client, Config::default());
    client.send(Message::from("one")).unwrap();
    theirs.write_all(&client.take_output()).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Event::Message(_)))));
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
