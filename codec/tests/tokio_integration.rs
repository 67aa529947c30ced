//! The tokio layer (feature `tokio`): the async `WebSocket` over an in-memory
//! duplex stream, talking to a sans-IO client `Connection`; and the
//! `tokio_util` codec.
#![cfg(feature = "tokio")]

use bytes::BytesMut;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::codec::{Decoder, Encoder};
use wsframe::{
    handshake::{ClientHandshake, Status},
    tokio::{Outgoing, WebSocket, WsCodec},
    CloseCode, Config, Connection, Event, Initiator, Message, Role, State,
};

/// Sends the client's handshake and returns the server and the client side.
async fn connected() -> (WebSocket<DuplexStream>, DuplexStream, Connection) {
    let (server_io, mut client_io) = duplex(1 << 20);
    let handshake = ClientHandshake::new(*b"0123456789abcdef")
        .target("127.0.0.1", "/")
        .unwrap();
    client_io.write_all(&handshake.to_bytes()).await.unwrap();
    let server = WebSocket::accept(server_io, Config::default())
        .await
        .unwrap();
    let mut response = BytesMut::new();
    let used = loop {
        client_io.read_buf(&mut response).await.unwrap();
        if let Status::Complete(accepted) = handshake.parse_response(&response).unwrap() {
            break accepted.head_len;
        }
    };
    let mut client =
        Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [4, 3, 2, 1]));
    client.receive(&response[used..]);
    (server, client_io, client)
}

/// Reads from the client side until the client connection yields an event.
async fn client_event(io: &mut DuplexStream, client: &mut Connection) -> Event {
    loop {
        if let Some(event) = client.next_event() {
            return event;
        }
        let mut buf = vec![0u8; 1 << 17];
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0, "server hung up");
        client.receive(&buf[..n]);
    }
}

#[tokio::test]
async fn messages_small_and_vectored_arrive_and_pings_are_answered() {
    let (mut server, mut io, mut client) = connected().await;
    client.send(Message::from("hello")).unwrap();
    client.ping(b"are you there").unwrap();
    io.write_all(&client.take_output()).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Event::Message(Message::from("hello"))
    );
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Event::Ping("are you there".into())
    );
    assert_eq!(
        client_event(&mut io, &mut client).await,
        Event::Pong("are you there".into())
    );

    // Large enough for the header-then-payload vectored path.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    server.send(Message::from(big.clone())).await.unwrap();
    server.send(Message::from("small")).await.unwrap();
    assert_eq!(
        client_event(&mut io, &mut client).await,
        Event::Message(Message::from(big))
    );
    assert_eq!(
        client_event(&mut io, &mut client).await,
        Event::Message(Message::from("small"))
    );
}

#[tokio::test]
async fn the_close_handshake_completes_and_invalid_utf8_is_1007() {
    let (mut server, mut io, mut client) = connected().await;
    client.close(CloseCode::NORMAL, "bye").unwrap();
    io.write_all(&client.take_output()).await.unwrap();
    match server.next().await.unwrap().unwrap() {
        Event::Closed(c) => assert_eq!((c.code, c.initiator), (CloseCode::NORMAL, Initiator::Peer)),
        other => panic!("{other:?}"),
    }
    assert!(server.next().await.is_none());
    match client_event(&mut io, &mut client).await {
        Event::Closed(c) => assert_eq!(c.code, CloseCode::NORMAL),
        other => panic!("{other:?}"),
    }

    let (mut server, mut io, mut client) = connected().await;
    // A text frame with invalid UTF-8, built by hand (our API cannot send it).
    let raw = [0x81, 0x80 | 2, 0, 0, 0, 0, 0xC3, 0x28];
    io.write_all(&raw).await.unwrap();
    match server.next().await.unwrap().unwrap() {
        Event::Closed(c) => assert_eq!(c.code, CloseCode::INVALID_PAYLOAD),
        other => panic!("{other:?}"),
    }
    match client_event(&mut io, &mut client).await {
        Event::Closed(c) => assert_eq!(c.code, CloseCode::INVALID_PAYLOAD),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refused_handshake_answers_426_and_fails() {
    let (server_io, mut client_io) = duplex(4096);
    let request = String::from_utf8(
        ClientHandshake::new([7; 16])
            .target("h", "/")
            .unwrap()
            .to_bytes(),
    )
    .unwrap()
    .replace("Version: 13", "Version: 8");
    client_io.write_all(request.as_bytes()).await.unwrap();
    let err = WebSocket::accept(server_io, Config::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let mut response = String::new();
    client_io.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
}

#[test]
fn the_codec_decodes_events_and_encodes_messages_and_replies() {
    let mut codec = WsCodec::new(Role::Server, Config::default());
    let mut client =
        Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [1, 1, 1, 1]));
    client.send(Message::from("one")).unwrap();
    client.ping(b"p").unwrap();
    let wire = client.take_output();
    // Cut in the middle: the codec keeps the partial frame.
    let (first, second) = wire.split_at(4);
    let mut src = BytesMut::from(first);
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    src.extend_from_slice(second);
    assert_eq!(
        codec.decode(&mut src).unwrap(),
        Some(Event::Message(Message::from("one")))
    );
    assert_eq!(
        codec.decode(&mut src).unwrap(),
        Some(Event::Ping("p".into()))
    );
    assert_eq!(codec.decode(&mut src).unwrap(), None);

    // Flush writes the automatic pong; a message follows it.
    let mut dst = BytesMut::new();
    Encoder::<Outgoing>::encode(&mut codec, Outgoing::Flush, &mut dst).unwrap();
    Encoder::<Message>::encode(&mut codec, Message::from("two"), &mut dst).unwrap();
    client.receive(&dst);
    assert_eq!(client.next_event(), Some(Event::Pong("p".into())));
    assert_eq!(
        client.next_event(),
        Some(Event::Message(Message::from("two")))
    );

    Encoder::<Outgoing>::encode(
        &mut codec,
        Outgoing::Close(CloseCode::GOING_AWAY, "bye".into()),
        &mut dst,
    )
    .unwrap();
    assert_eq!(codec.connection().state(), State::CloseSent);
    let err = Encoder::<Message>::encode(&mut codec, Message::from("late"), &mut dst).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
