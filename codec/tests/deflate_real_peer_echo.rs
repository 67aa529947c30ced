//! Our tokio client with permessage-deflate against real peers (Python
//! `websockets`, Node `ws`) as echo servers, for the
//! `max_outgoing_frame_size` split of compressed messages, and the echo back
//! into our receive limits. The peers are outside the test: each test reads
//! the echo server's `ws://` URI from an environment variable
//! (`WSFRAME_PY_ECHO`, `WSFRAME_NODE_ECHO`); those tests are ignored
//! unless asked for (`cargo test --test deflate_real_peer_echo --
//! --ignored`), and fail without either variable.
#![cfg(all(feature = "tokio", feature = "deflate", feature = "http"))]

mod common;

use bytes::Bytes;
use common::{deflate::*, *};
use wsframe::{
    tokio::WebSocket, CloseCode, Config, Connection, DeflateConfig, DeflateParams, Event, Message,
    Role,
};

/// Random printable ASCII: valid UTF-8 that deflate barely shrinks.
fn random_text(len: usize, seed: u64) -> String {
    incompressible(len, seed)
        .into_iter()
        .map(|b| char::from(b' ' + b % 95))
        .collect()
}

fn config(max_outgoing_frame_size: Option<u64>, max_frame_size: u64) -> Config {
    // Threshold 0: short messages and first fragments are compressed too.
    let builder = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .max_frame_size(max_frame_size)
        .max_message_size(64 << 20);
    match max_outgoing_frame_size {
        Some(bytes) => builder.max_outgoing_frame_size(bytes),
        None => builder,
    }
    .build()
}

/// Sends each message and checks the echo is the same message.
async fn echo_round_trip(uri: &str, config: Config, messages: Vec<Message>) {
    let uri: http::Uri = uri.parse().unwrap();
    let (mut ws, accepted) = WebSocket::connect(&uri, config).await.unwrap();
    assert!(
        accepted
            .extensions
            .iter()
            .any(|e| e.name() == "permessage-deflate"),
        "deflate not negotiated: {:?}",
        accepted.extensions
    );
    for message in messages {
        ws.send(message.clone()).await.unwrap();
        match ws.next().await {
            Some(Ok(Event::Message(echo))) => {
                assert!(
                    echo == message,
                    "echo differs ({} bytes sent)",
                    message.as_bytes().len()
                )
            }
            other => panic!(
                "expected the echo of {} bytes, got {other:?}",
                message.as_bytes().len()
            ),
        }
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

/// The echo servers' URIs; run with `--ignored` and at least one set.
fn peers() -> Vec<String> {
    let uris: Vec<String> = ["WSFRAME_PY_ECHO", "WSFRAME_NODE_ECHO"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    assert!(!uris.is_empty(), "{NEEDS_A_PEER}");
    uris
}

const NEEDS_A_PEER: &str =
    "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO: the ws:// URI of a Python websockets or Node ws echo server";

#[tokio::test]
#[ignore = "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO (a real peer's echo server)"]
async fn seventeen_mib_incompressible_messages_echo_with_the_default_bound() {
    for uri in peers() {
        let messages = vec![
            Message::Binary(Bytes::from(incompressible(17 << 20, 1))),
            Message::Text(random_text(17 << 20, 2).into()),
        ];
        // Their echo is one frame of about 17 MiB: our receive frame limit
        // must allow it.
        echo_round_trip(&uri, config(None, 64 << 20), messages).await;
    }
}

#[tokio::test]
#[ignore = "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO (a real peer's echo server)"]
async fn hundred_kb_messages_split_in_1000_byte_frames_echo() {
    for uri in peers() {
        let messages = vec![
            Message::Binary(Bytes::from(incompressible(100_000, 3))),
            Message::Text(random_text(100_000, 4).into()),
            Message::Binary(Bytes::from(vec![0; 100_000])),
        ];
        echo_round_trip(&uri, config(Some(1000), 16 << 20), messages).await;
    }
}

#[tokio::test]
#[ignore = "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO (a real peer's echo server)"]
async fn one_byte_frames_of_a_short_compressed_text_echo() {
    for uri in peers() {
        for bound in [0, 1] {
            let messages = vec![Message::Text("hello, hello, hello".into())];
            echo_round_trip(&uri, config(Some(bound), 16 << 20), messages).await;
        }
    }
}

#[tokio::test]
#[ignore = "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO (a real peer's echo server)"]
async fn empty_and_uncompressed_messages_in_one_byte_frames_echo() {
    for uri in peers() {
        let uri: http::Uri = uri.parse().unwrap();
        let (mut ws, _) = WebSocket::connect(&uri, config(Some(1), 16 << 20))
            .await
            .unwrap();
        let cases = [
            (Message::Text("".into()), true),
            (Message::Binary(Bytes::new()), true),
            (Message::Text("plain, not compressed".into()), false),
            (Message::Binary(Bytes::from(incompressible(300, 5))), false),
            (Message::Text("é€😀 compressed".into()), true),
        ];
        for (message, compress) in cases {
            ws.send_compressed(message.clone(), compress).await.unwrap();
            match ws.next().await {
                Some(Ok(Event::Message(echo))) => assert!(echo == message, "{uri}: echo differs"),
                other => panic!("{uri}: expected an echo, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO (a real peer's echo server)"]
async fn fragments_split_again_by_the_bound_echo_as_one_message() {
    for uri in peers() {
        let uri: http::Uri = uri.parse().unwrap();
        let (mut ws, _) = WebSocket::connect(&uri, config(Some(7), 16 << 20))
            .await
            .unwrap();
        let parts = [random_text(50, 6), "a".repeat(2000), random_text(30, 7)];
        ws.send_fragment(Message::Text(parts[0].clone().into()), false)
            .await
            .unwrap();
        ws.send_fragment(Message::Text(parts[1].clone().into()), false)
            .await
            .unwrap();
        ws.send_fragment(Message::Text(parts[2].clone().into()), true)
            .await
            .unwrap();
        match ws.next().await {
            Some(Ok(Event::Message(Message::Text(echo)))) => {
                assert_eq!(&*echo, parts.concat().as_str(), "{uri}")
            }
            other => panic!("{uri}: expected an echo, got {other:?}"),
        }
    }
}

/// Their echo of a 17 MiB incompressible message is one frame of more than
/// 16 MiB: with our default receive frame limit it is refused with 1009,
/// reported, not a hang.
#[tokio::test]
#[ignore = "needs WSFRAME_PY_ECHO or WSFRAME_NODE_ECHO (a real peer's echo server)"]
async fn their_seventeen_mib_echo_passes_our_default_frame_limit_with_1009() {
    for uri in peers() {
        let uri: http::Uri = uri.parse().unwrap();
        let config = Config::builder()
            .deflate(Some(DeflateConfig::default()))
            .build();
        let (mut ws, _) = WebSocket::connect(&uri, config).await.unwrap();
        ws.send(Message::Binary(Bytes::from(incompressible(17 << 20, 8))))
            .await
            .unwrap();
        match ws.next().await {
            Some(Ok(Event::Closed(closed))) => {
                assert_eq!(u16::from(closed.code), 1009, "{uri}: {closed:?}")
            }
            other => panic!("{uri}: expected a 1009 close, got {other:?}"),
        }
    }
}

/// A peer that resets the TCP connection right after the handshake (linger
/// 0): the read failure is reported once, then the stream ends; writes fail
/// and keep failing with the first write's error.
#[tokio::test]
async fn a_reset_by_a_real_tcp_peer_ends_the_stream_once_and_sticks_on_writes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = WebSocket::accept(tcp, Config::default()).await.unwrap();
        let tcp = ws.into_inner();
        tcp.set_zero_linger().unwrap();
        drop(tcp);
    });
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
    let (mut ws, _) = WebSocket::connect(&uri, config(None, 16 << 20))
        .await
        .unwrap();
    server.await.unwrap();
    let first = ws.next().await;
    let failed_read_kind = match &first {
        Some(Err(wsframe::tokio::Error::Io(err))) => err.kind(),
        other => panic!("expected the reset as an I/O error, got {other:?}"),
    };
    assert_eq!(failed_read_kind, std::io::ErrorKind::ConnectionReset);
    assert!(
        ws.next().await.is_none(),
        "the stream goes on after a failed read"
    );
    assert!(ws.next().await.is_none());
    let mut errors = Vec::new();
    for _ in 0..3 {
        if let Err(err) = ws
            .send(Message::Binary(Bytes::from(vec![1; 100_000])))
            .await
        {
            errors.push(format!("{err:?}"));
        }
    }
    println!("writes after the reset: {errors:?}");
    assert!(!errors.is_empty(), "every write after a reset succeeded");
    assert!(errors.windows(2).all(|w| w[0] == w[1]), "{errors:?}");
}

const PARAMS: DeflateParams = DeflateParams {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// A compressed message of 50 000 zeros (about 60 bytes on the wire) to a
/// server whose message limit is 1000: closed with 1009, and the reason does
/// not state a false length. It said "message of 1001 bytes exceeds the
/// limit of 1000": 1001 is where inflating stopped, not the message's length.
#[test]
fn a_compressed_message_past_the_limit_is_not_said_to_be_limit_plus_one_bytes() {
    let config = Config::builder().max_message_size(1000).build();
    let make = || Connection::with_deflate(Role::Server, config, Some(PARAMS));
    let mut input = Vec::new();
    push_compressed(&mut input, 0x2, &sync_compressed(&[0; 50_000], 6), false);
    let (code, reason) = same_every_way("50 KB of zeros", &make, &input, true, |(events, out)| {
        let closed = events.iter().find_map(|event| match event {
            Event::Closed(closed) => Some((u16::from(closed.code), closed.reason.clone())),
            _ => None,
        });
        assert_eq!(close_code_on_wire(&out), Some(1009));
        closed
    })
    .expect("a close");
    assert_eq!(code, 1009);
    assert!(
        reason.contains("1000"),
        "the reason names the limit: {reason}"
    );
    assert!(
        !reason.contains("message of 1001 bytes"),
        "the reason states a length the message does not have: {reason}"
    );
}
