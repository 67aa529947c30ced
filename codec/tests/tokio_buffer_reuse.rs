//! The tokio layer's read buffer starts over at its front once all read was
//! handed out, and small output goes out in one plain write: messages the
//! caller still holds must keep every byte while later reads land (in
//! reclaimed memory or after them), a read that comes exactly when the
//! buffer was emptied must not disturb them, and a `next()` dropped in
//! the middle of a plain write must leave the stream whole for the peer.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use common::tokio_peer::{peer, server};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, DuplexStream},
    select,
    time::sleep,
};
use wsframe::{tokio::WebSocket, Config, Connection, Event, Message};

/// Message `i` of a run: text or binary, from a few bytes to past the
/// 64 KiB read chunk, every byte depending on `i` and its position.
fn message(i: usize) -> Message {
    let len = match i % 5 {
        0 => i % 7,
        1 => 125 + i,
        2 => 1000 + 13 * i,
        3 => 70_000 + i,
        _ => 20 + i,
    };
    if i.is_multiple_of(2) {
        let text: String = (0..len)
            .map(|j| ['a', 'é', '中', '😀'][(i + j) % 4])
            .collect();
        Message::from(text)
    } else {
        Message::from(
            (0..len)
                .map(|j| (i * 31 + j * 7) as u8)
                .collect::<Vec<u8>>(),
        )
    }
}

/// The peer's wire bytes for messages `range`, some sent as three
/// fragments (whose first parts the server holds across reads).
fn wire(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut peer = peer();
    let mut out = Vec::new();
    for i in range {
        let sent = message(i);
        if i % 4 == 3 && sent.as_bytes().len() >= 3 {
            let bytes = sent.as_bytes();
            let third = bytes.len() / 3;
            // Binary fragments: a cut through text may split a code point.
            peer.send_fragment(Message::from(bytes[..third].to_vec()), false)
                .unwrap();
            peer.send_fragment(Message::from(bytes[third..2 * third].to_vec()), false)
                .unwrap();
            peer.send_fragment(Message::from(bytes[2 * third..].to_vec()), true)
                .unwrap();
        } else {
            peer.send(sent).unwrap();
        }
        out.extend_from_slice(&peer.take_output());
    }
    out
}

/// What the server must deliver for message `i` (fragmented ones arrive
/// as binary).
fn expected(i: usize) -> Message {
    let sent = message(i);
    if i % 4 == 3 && sent.as_bytes().len() >= 3 {
        Message::from(sent.as_bytes().to_vec())
    } else {
        sent
    }
}

async fn next_message(ws: &mut WebSocket<DuplexStream>) -> Message {
    match ws.next().await {
        Some(Ok(Event::Message(message))) => message,
        other => panic!("{other:?}"),
    }
}

/// 100 messages held while the peer writes in pieces of every kind of
/// size; then all dropped but every tenth, and 100 more read into the
/// reclaimed buffer: every byte of every held message is checked last.
#[tokio::test]
async fn held_messages_keep_their_bytes_while_reads_go_on() {
    for piece in [3usize, 100, 4096, 65_536, 1 << 20] {
        let (mut ws, theirs) = server(1 << 17, Config::default());
        let writer = tokio::spawn(async move {
            let mut io = theirs;
            let bytes = wire(0..200);
            for chunk in bytes.chunks(piece) {
                io.write_all(chunk).await.unwrap();
            }
            io
        });
        let mut held = Vec::new();
        for _ in 0..100 {
            held.push(next_message(&mut ws).await);
        }
        let mut kept: Vec<(usize, Message)> = held.into_iter().enumerate().step_by(10).collect();
        let mut later = Vec::new();
        for i in 100..200 {
            later.push((i, next_message(&mut ws).await));
        }
        kept.extend(later);
        for (i, message) in &kept {
            assert_eq!(message, &expected(*i), "message {i}, pieces of {piece}");
        }
        drop(writer.await.unwrap());
    }
}

/// Each message arrives in a write of its own that the server reads
/// whole, so every read after the first comes exactly when all before was
/// handed out: held or dropped alternately, each keeps its bytes.
#[tokio::test]
async fn a_read_exactly_when_the_buffer_was_emptied_leaves_held_messages_alone() {
    let (mut ws, mut theirs) = server(1 << 20, Config::default());
    let mut held = Vec::new();
    for i in 0..60 {
        theirs.write_all(&wire(i..i + 1)).await.unwrap();
        let message = next_message(&mut ws).await;
        assert_eq!(message, expected(i), "message {i}");
        if i % 3 != 1 {
            held.push((i, message));
        }
    }
    for (i, message) in &held {
        assert_eq!(message, &expected(*i), "message {i}");
    }
}

/// Reads until the peer connection has `count` events, 13 bytes at a time.
async fn read_events(io: &mut DuplexStream, peer: &mut Connection, count: usize) -> Vec<Event> {
    common::tokio_peer::read_events(io, peer, count, 13).await
}

/// Pongs (one run of output each) into a 16-byte pipe: `next()` is
/// dropped again and again with a pong half written; the peer, reading
/// slowly, gets every pong whole and in order, then a message.
#[tokio::test(start_paused = true)]
async fn next_dropped_in_plain_writes_leaves_the_stream_whole() {
    let (mut ws, mut io) = server(16, Config::default());
    let mut peer = peer();
    let payloads: Vec<Vec<u8>> = (0..20u8)
        .map(|i| vec![i; 10 + usize::from(i) * 5])
        .collect();
    for payload in &payloads {
        peer.ping(payload).unwrap();
    }
    let pings = peer.take_output().to_vec();
    let mut pongs = Vec::new();
    let mut drops = 0;
    let mut wire = &pings[..];
    let mut buf = [0u8; 7];
    while pongs.len() < payloads.len() {
        if let Some(event) = peer.next_event() {
            pongs.push(event);
            continue;
        }
        select! {
            event = ws.next() => {
                assert!(matches!(event, Some(Ok(Event::Ping(_)))), "{event:?}");
            }
            () = sleep(Duration::from_millis(5)) => {
                drops += 1;
                // Move the stream along: a little more input, a little
                // output read.
                if !wire.is_empty() {
                    let n = wire.len().min(11);
                    io.write_all(&wire[..n]).await.unwrap();
                    wire = &wire[n..];
                }
                if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), io.read(&mut buf)).await {
                    peer.receive(&buf[..n]);
                }
            }
        }
    }
    assert!(
        drops > payloads.len(),
        "next() was dropped mid-write: {drops}"
    );
    let want: Vec<Event> = payloads
        .iter()
        .map(|p| Event::Pong(p.clone().into()))
        .collect();
    assert_eq!(pongs, want);
    let text = Message::from("after the pongs");
    let (sent, events) = tokio::join!(ws.send(text.clone()), read_events(&mut io, &mut peer, 1));
    sent.unwrap();
    assert_eq!(events, [Event::Message(text)]);
}
