//! The `futures` feature: `Stream` and `Sink` make the combinators work —
//! an echo server that is one `forward`, a client that is `send_all` and
//! `next`.
#![cfg(feature = "futures")]

use bytes::Bytes;
use futures_util::{stream, SinkExt, StreamExt, TryStreamExt};
use tokio::io::duplex;
use wsframe::{tokio::WebSocket, CloseCode, Config, Event, Message, Role};

#[tokio::test]
async fn forward_echoes_and_send_all_and_close_work() {
    let (a, b) = duplex(512);
    let server = WebSocket::from_upgraded(a, Role::Server, Config::default(), Bytes::new());
    let mut client = WebSocket::from_upgraded(b, Role::Client, Config::default(), Bytes::new());
    let echo = tokio::spawn(async move {
        let (reader, writer) = server.split();
        reader
            .try_filter_map(|event| async move {
                Ok(match event {
                    Event::Message(message) => Some(message),
                    _ => None,
                })
            })
            .forward(writer)
            .await
    });
    let messages: Vec<Message> = (0..200).map(|n| Message::from(format!("m{n}"))).collect();
    let mut outgoing = stream::iter(messages.clone()).map(Ok);
    SinkExt::send_all(&mut client, &mut outgoing).await.unwrap();
    let mut echoed = Vec::new();
    while echoed.len() < messages.len() {
        if let Event::Message(m) = StreamExt::next(&mut client).await.unwrap().unwrap() {
            echoed.push(m);
        }
    }
    assert_eq!(echoed, messages);
    SinkExt::close(&mut client).await.unwrap();
    match StreamExt::next(&mut client).await.unwrap().unwrap() {
        Event::Closed(closed) => assert_eq!(closed.code, CloseCode::NORMAL),
        other => panic!("{other:?}"),
    }
    assert!(StreamExt::next(&mut client).await.is_none());
    echo.await.unwrap().unwrap();
}
