//! The tokio surface as an embedder meets it, tested from its docs and RFC
//! 6455 alone: the peer is raw bytes (frames masked and parsed by hand in
//! this file), not our own `Connection`.
//!
//! Covered: `next`, `send`, `feed`, `flush` and `close` dropped by a
//! `tokio::select!` at every turn over a one-byte pipe, and the peer still
//! reads an intact stream; keepalive that fires on time while `next` keeps
//! being dropped; split halves used at once, one dropped, then the other;
//! the writer closing while the reader waits; a peer that never reads
//! (`send` waits, and no close, idle timeout or waiting write is held
//! forever by it; a slow reader still gets everything); a peer that sends
//! a close and vanishes; the close timeout on a paused clock;
//! `accept_with` refusing; `from_upgraded` with leftover bytes holding a
//! frame and a half; `client` against garbage, a wrong accept key, an
//! endless head and a 101 cut byte by byte; masking both ways; the error
//! type's `Display`, `source()` and `io::Error` kinds.
#![cfg(feature = "tokio")]

mod common;

use std::{error::Error as _, io, time::Duration};

use bytes::Bytes;
use tokio::{
    io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream},
    time::{sleep, timeout, Instant},
};
use wsframe::{
    handshake::{reject, ClientHandshake},
    tokio::{Error, WebSocket},
    CloseCode, Config, Event, Message, Role,
};

use common::{
    client as masked, close_payload, parse_server_frame, raw_server, tokio_peer, BINARY, CLOSE,
    FIN, PING, PONG, TEXT,
};

/// The peer's side: a raw byte pipe and what it has read but not parsed.
struct RawPeer {
    io: DuplexStream,
    unparsed: Vec<u8>,
}

impl RawPeer {
    fn new(io: DuplexStream) -> Self {
        Self {
            io,
            unparsed: Vec::new(),
        }
    }

    /// The next whole frame the server wrote, read `read_size` bytes at a
    /// time; `None` when the server's write side ends first (the bytes
    /// left half a frame must then be none).
    async fn frame(&mut self, read_size: usize) -> Option<(u8, Vec<u8>)> {
        let mut buf = vec![0; read_size];
        loop {
            if let Some((first, payload, len)) = parse_server_frame(&self.unparsed) {
                self.unparsed.drain(..len);
                return Some((first, payload));
            }
            let n = self.io.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                assert!(
                    self.unparsed.is_empty(),
                    "cut frame: {:02x?}",
                    self.unparsed
                );
                return None;
            }
            self.unparsed.extend_from_slice(&buf[..n]);
        }
    }

    /// The next frame that is not a pong (the answers to our pings).
    async fn data_frame(&mut self, read_size: usize) -> Option<(u8, Vec<u8>)> {
        loop {
            match self.frame(read_size).await? {
                (first, _) if first & 0x0F == PONG => {}
                frame => return Some(frame),
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }
}

fn server(pipe: usize, config: Config) -> (WebSocket<DuplexStream>, RawPeer) {
    let (ws, theirs) = tokio_peer::server(pipe, config);
    (ws, RawPeer::new(theirs))
}

/// Fails the test instead of hanging it (real time; not for paused tests).
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 20 s"))
}

fn payload(i: usize) -> Vec<u8> {
    // Lengths across the 7-bit/16-bit boundary, bytes that differ per message.
    (0..(i * 37) % 300).map(|j| (i * 31 + j) as u8).collect()
}

/// `next` dropped by a `select!` after every other poll, over a one-byte
/// pipe fed byte by byte, with pings between the messages: every message
/// comes out once, in order, and every pong on the wire is whole and
/// carries its ping's payload (§5.5.3).
#[tokio::test]
async fn next_dropped_at_every_turn_loses_no_message_and_cuts_no_pong() {
    let (mut ws, peer) = server(1, Config::default());
    let RawPeer { io, .. } = peer;
    let (mut peer_read, mut peer_write) = tokio::io::split(io);
    let mut wire = Vec::new();
    for i in 0..60 {
        wire.extend(masked(FIN | BINARY, &payload(i)));
        wire.extend(masked(FIN | PING, format!("p{i}").as_bytes()));
    }
    let writer = tokio::spawn(async move {
        for byte in wire {
            peer_write.write_all(&[byte]).await.unwrap();
        }
        peer_write
    });
    let reader = tokio::spawn(async move {
        let mut read = Vec::new();
        let mut pongs = Vec::new();
        let mut buf = [0; 3];
        while pongs.len() < 60 {
            let n = peer_read.read(&mut buf).await.unwrap();
            assert!(n > 0);
            read.extend_from_slice(&buf[..n]);
            while let Some((first, payload, len)) = parse_server_frame(&read) {
                assert_eq!(first, FIN | PONG, "only pongs: {payload:02x?}");
                pongs.push(payload);
                read.drain(..len);
            }
        }
        pongs
    });
    let mut messages = Vec::new();
    let mut dropped = 0;
    within("60 messages", async {
        while messages.len() < 60 {
            tokio::select! {
                biased;
                event = ws.next() => match event.unwrap().unwrap() {
                    Event::Message(message) => messages.push(message.as_bytes().to_vec()),
                    Event::Ping(_) => {}
                    other => panic!("unexpected {other:?}"),
                },
                () = tokio::task::yield_now() => dropped += 1,
            }
        }
        // The last pongs go out while the writer's last pings are read.
        while !reader.is_finished() {
            tokio::select! {
                biased;
                event = ws.next() => assert!(matches!(event, Some(Ok(Event::Ping(_))))),
                () = sleep(Duration::from_millis(1)) => {}
            }
        }
    })
    .await;
    assert!(
        dropped > 100,
        "the select dropped next only {dropped} times"
    );
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(message, &payload(i), "message {i}");
    }
    let pongs = reader.await.unwrap();
    for (i, pong) in pongs.iter().enumerate() {
        assert_eq!(pong, format!("p{i}").as_bytes(), "pong {i}");
    }
    writer.await.unwrap();
}

/// Every message on the wire, whole, until the server's close frame,
/// which is answered.
async fn frames_until_close(peer: &mut RawPeer, read_size: usize) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Some(frame) = peer.data_frame(read_size).await {
        let is_close = frame.0 & 0x0F == CLOSE;
        frames.push(frame);
        if is_close {
            peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
                .await;
            break;
        }
    }
    frames
}

/// Frames as the peer read them: `(first byte, payload)`.
type Frames = Vec<(u8, Vec<u8>)>;

/// [`frames_until_close`] on the peer's own task, which hands the peer
/// back with the frames.
fn spawn_frames_until_close(
    mut peer: RawPeer,
    read_size: usize,
) -> tokio::task::JoinHandle<(Frames, RawPeer)> {
    tokio::spawn(async move { (frames_until_close(&mut peer, read_size).await, peer) })
}

/// `send` dropped mid-way again and again over a one-byte pipe: "nothing
/// is ever cut", and a message whose `send` returned is on the wire. So
/// the peer reads, whole and in order, a subsequence of the messages tried
/// that holds every one that was confirmed.
#[tokio::test]
async fn send_dropped_at_every_turn_never_cuts_a_message() {
    let config = Config::builder().max_output_buffer(600).build();
    let (mut ws, peer) = server(1, config);
    let reader = spawn_frames_until_close(peer, 7);
    let mut confirmed = Vec::new();
    let mut dropped = 0;
    within("sends", async {
        for i in 0..80 {
            tokio::select! {
                biased;
                sent = ws.send(Message::from(payload(i))) => {
                    sent.unwrap();
                    confirmed.push(i);
                }
                () = tokio::task::yield_now() => dropped += 1,
            }
        }
        ws.close(CloseCode(1000), "done").await
    })
    .await
    .unwrap();
    assert!(dropped > 10, "the select dropped send only {dropped} times");
    let (frames, _peer) = reader.await.unwrap();
    let (close, messages) = frames.split_last().unwrap();
    assert_eq!(close.0, FIN | CLOSE);
    assert_eq!(close.1, close_payload(1000, b"done"));
    let mut tried = 0..80;
    let mut on_wire = Vec::new();
    for (first, bytes) in messages {
        assert_eq!(*first, FIN | BINARY);
        let i = tried
            .by_ref()
            .find(|&i| payload(i) == *bytes)
            .unwrap_or_else(|| panic!("a message not tried, or out of order: {bytes:02x?}"));
        on_wire.push(i);
    }
    for i in &confirmed {
        assert!(
            on_wire.contains(i),
            "message {i} was confirmed but not sent"
        );
    }
}

/// `feed` dropped at every turn is strict: the peer reads exactly the
/// messages whose `feed` returned, whole and in order; `flush` dropped at
/// every turn and called again writes them all.
#[tokio::test]
async fn feed_and_flush_dropped_at_every_turn_write_exactly_the_fed_messages() {
    let config = Config::builder().max_output_buffer(500).build();
    let (mut ws, peer) = server(1, config);
    let reader = spawn_frames_until_close(peer, 5);
    let mut fed = Vec::new();
    let mut dropped = 0;
    within("feeds", async {
        for i in 0..80 {
            tokio::select! {
                biased;
                queued = ws.feed(Message::from(payload(i))) => {
                    queued.unwrap();
                    fed.push(i);
                }
                () = tokio::task::yield_now() => dropped += 1,
            }
            if i % 7 == 0 {
                loop {
                    tokio::select! {
                        biased;
                        flushed = ws.flush() => break flushed.unwrap(),
                        () = tokio::task::yield_now() => dropped += 1,
                    }
                }
            }
        }
        ws.close(CloseCode(1000), "").await
    })
    .await
    .unwrap();
    assert!(dropped > 10, "the select dropped only {dropped} times");
    let (frames, _peer) = reader.await.unwrap();
    let (close, messages) = frames.split_last().unwrap();
    assert_eq!(close.0 & 0x0F, CLOSE);
    let on_wire: Vec<_> = messages.iter().map(|(_, bytes)| bytes.clone()).collect();
    let expected: Vec<_> = fed.iter().map(|&i| payload(i)).collect();
    assert_eq!(on_wire, expected);
}

/// `close` dropped at every turn over a one-byte pipe, then awaited whole:
/// one close frame on the wire, whole, and the peer's answer returned.
#[tokio::test]
async fn close_dropped_at_every_turn_sends_one_close_and_returns_the_answer() {
    let (mut ws, mut peer) = server(1, Config::default());
    let mut dropped = 0;
    for _ in 0..5 {
        tokio::select! {
            biased;
            _ = ws.close(CloseCode(1001), "going") => panic!("the peer has not answered"),
            () = tokio::task::yield_now() => dropped += 1,
        }
    }
    assert_eq!(dropped, 5);
    let answer = tokio::spawn(async move {
        let frame = peer.frame(1).await.unwrap();
        peer.send(&masked(FIN | CLOSE, &close_payload(1001, b"ok")))
            .await;
        let after = peer.frame(1).await;
        (frame, after)
    });
    let closed = within("close", ws.close(CloseCode(1001), "going"))
        .await
        .unwrap();
    assert_eq!(closed.code, CloseCode(1001));
    assert_eq!(closed.reason, "ok");
    drop(ws);
    let (frame, after) = answer.await.unwrap();
    assert_eq!(frame, (FIN | CLOSE, close_payload(1001, b"going")));
    assert_eq!(after, None, "a second close frame, or more, was written");
}

/// Keepalive runs while `next` is awaited: a loop that drops `next` every
/// second (a `select!` with a one-second tick, as an embedder's loop
/// has) still pings every 5 s of silence, and then times out at 12 s.
#[tokio::test(start_paused = true)]
async fn keepalive_fires_on_time_while_next_keeps_being_dropped() {
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(5)))
        .idle_timeout(Some(Duration::from_secs(12)))
        .build();
    let start = Instant::now();
    let (mut ws, mut peer) = server(1 << 16, config);
    let pings = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some((first, payload)) = peer.frame(1 << 16).await {
            seen.push((start.elapsed().as_secs(), first, payload));
        }
        seen
    });
    let closed = loop {
        tokio::select! {
            event = ws.next() => match event.unwrap().unwrap() {
                Event::Closed(closed) => break closed,
                other => panic!("unexpected {other:?}"),
            },
            () = sleep(Duration::from_secs(1)) => {}
        }
    };
    assert_eq!(closed.code, CloseCode(1001));
    assert_eq!(start.elapsed().as_secs(), 12);
    assert!(ws.next().await.is_none());
    drop(ws);
    let seen = pings.await.unwrap();
    assert_eq!(
        seen,
        vec![
            (5, FIN | PING, vec![]),
            (10, FIN | PING, vec![]),
            (12, FIN | CLOSE, close_payload(1001, b"idle timeout")),
        ]
    );
}

/// `close` against a peer that never answers: `Error::Timeout` after
/// exactly `close_timeout`, on a paused clock.
#[tokio::test(start_paused = true)]
async fn close_against_a_silent_peer_times_out_on_time() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(3)))
        .build();
    let (mut ws, _peer) = server(1 << 16, config);
    let start = Instant::now();
    let err = ws.close(CloseCode(1000), "").await.unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(
        matches!(ws.send(Message::from("late")).await, Err(Error::Closed)),
        "sending after the close must be Error::Closed"
    );
}

/// Split: the writer idle (never polled) while the peer pings; the
/// reader's pongs reach the wire. Then the writer is dropped and the reader
/// still answers; then the reader is dropped too, and the stream ends.
#[tokio::test]
async fn the_reader_answers_pings_alone_and_outlives_the_writer() {
    let (ws, mut peer) = server(64, Config::default());
    let (mut reader, writer) = ws.split();
    let reading = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(event) = reader.next().await {
            match event.unwrap() {
                Event::Ping(_) => pings += 1,
                Event::Closed(closed) => return (pings, closed),
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("the stream ended before the close")
    });
    within("pongs", async {
        for i in 0..50u8 {
            peer.send(&masked(FIN | PING, &[i; 100])).await;
            assert_eq!(peer.frame(7).await, Some((FIN | PONG, vec![i; 100])));
        }
    })
    .await;
    drop(writer);
    peer.send(&masked(FIN | PING, b"after")).await;
    assert_eq!(peer.frame(7).await, Some((FIN | PONG, b"after".to_vec())));
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"bye")))
        .await;
    assert_eq!(
        peer.frame(7).await,
        Some((FIN | CLOSE, close_payload(1000, b""))),
        "the close's code is echoed (§5.5.1)"
    );
    let (pings, closed) = within("reader", reading).await.unwrap();
    assert_eq!(pings, 51);
    assert_eq!(closed.code, CloseCode(1000));
    assert_eq!(peer.frame(7).await, None, "the server shuts its write side");
}

/// Split, the reader dropped first: the writer alone still sends whole
/// messages and a close frame.
#[tokio::test]
async fn the_writer_works_alone_after_the_reader_is_dropped() {
    let (ws, peer) = server(8, Config::default());
    let (reader, mut writer) = ws.split();
    drop(reader);
    let reading = spawn_frames_until_close(peer, 3);
    within("writer", async {
        for i in 0..20 {
            writer.send(Message::from(payload(i))).await.unwrap();
        }
        writer.close(CloseCode(1000), "w").await.unwrap();
    })
    .await;
    let (frames, _peer) = within("peer", reading).await.unwrap();
    assert_eq!(frames.len(), 21);
    for (i, (first, bytes)) in frames[..20].iter().enumerate() {
        assert_eq!((*first, bytes), (FIN | BINARY, &payload(i)));
    }
    assert_eq!(frames[20], (FIN | CLOSE, close_payload(1000, b"w")));
}

/// The writer closes while the reader awaits `next`: the reader gets the
/// peer's answer as `Event::Closed` (initiated by us), then `None`, and a
/// writer's send after the close is `Error::Closed`.
#[tokio::test]
async fn the_writer_closes_while_the_reader_waits() {
    let (ws, mut peer) = server(64, Config::default());
    let (mut reader, mut writer) = ws.split();
    let reading = tokio::spawn(async move {
        let first = reader.next().await;
        let second = reader.next().await;
        (first, second)
    });
    tokio::task::yield_now().await;
    within("close", writer.close(CloseCode(4000), "app"))
        .await
        .unwrap();
    assert_eq!(
        peer.frame(5).await,
        Some((FIN | CLOSE, close_payload(4000, b"app")))
    );
    assert!(matches!(
        writer.send(Message::from("late")).await,
        Err(Error::Closed)
    ));
    peer.send(&masked(FIN | CLOSE, &close_payload(4000, b"ok")))
        .await;
    let (first, second) = within("reader", reading).await.unwrap();
    match first {
        Some(Ok(Event::Closed(closed))) => {
            assert_eq!(closed.code, CloseCode(4000));
            assert_eq!(closed.reason, "ok");
            assert_eq!(closed.initiator, wsframe::Initiator::Local);
        }
        other => panic!("expected the close, got {other:?}"),
    }
    assert!(second.is_none());
    assert_eq!(peer.frame(5).await, None, "no second close frame");
}

/// The writer closes against a silent peer while the reader waits: the
/// reader's event is the documented 1006 "close timeout", on time.
#[tokio::test(start_paused = true)]
async fn the_split_close_timeout_reaches_the_reader() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(4)))
        .build();
    let (ws, _peer) = server(1 << 16, config);
    let (mut reader, mut writer) = ws.split();
    let start = Instant::now();
    let reading = tokio::spawn(async move { reader.next().await });
    writer.close(CloseCode(1000), "").await.unwrap();
    match reading.await.unwrap() {
        Some(Ok(Event::Closed(closed))) => {
            assert_eq!(closed.code, CloseCode(1006));
            assert_eq!(closed.reason, "close timeout");
        }
        other => panic!("expected the timeout's close, got {other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(4));
}

/// A peer that never reads: `send` stops returning once the output holds
/// `max_output_buffer` bytes (it waits, the memory stays bounded), and
/// goes on once the peer reads.
#[tokio::test]
async fn send_waits_for_a_peer_that_does_not_read() {
    let config = Config::builder().max_output_buffer(4096).build();
    let (mut ws, mut peer) = server(1024, config);
    let mut sent = 0;
    while let Ok(result) = timeout(
        Duration::from_millis(50),
        ws.send(Message::from(vec![7u8; 1000])),
    )
    .await
    {
        result.unwrap();
        sent += 1;
        assert!(
            sent < 20,
            "send never waited: {sent} KB sent to a peer not reading"
        );
    }
    assert!(
        ws.connection().output_len() <= 4096 + 1000 + 4,
        "{} bytes held",
        ws.connection().output_len()
    );
    let draining = tokio::spawn(async move {
        let mut count = 0;
        while let Some((first, bytes)) = peer.frame(512).await {
            if first & 0x0F == CLOSE {
                peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
                    .await;
                break;
            }
            assert_eq!((first, bytes.as_slice()), (FIN | BINARY, &[7u8; 1000][..]));
            count += 1;
        }
        count
    });
    within("send after the peer reads", async {
        for _ in 0..10 {
            ws.send(Message::from(vec![7u8; 1000])).await.unwrap();
        }
        let _ = ws.close(CloseCode(1000), "").await;
    })
    .await;
    drop(ws);
    let count = within("peer", draining).await.unwrap();
    // The dropped send may or may not have been queued (documented).
    assert!(
        count == sent + 10 || count == sent + 11,
        "{count} of {sent}+10"
    );
}

/// A peer that sends a close and hangs up at once: the server reports the
/// close, then `None`: a peer that vanished after its close is an ended
/// conversation, not a failure to report as an error.
#[tokio::test]
async fn a_peer_that_closes_and_vanishes_is_a_close_then_the_end() {
    let (mut ws, mut peer) = server(1 << 16, Config::default());
    peer.send(&masked(FIN | TEXT, b"last words")).await;
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"bye")))
        .await;
    drop(peer);
    let mut events = Vec::new();
    while let Some(event) = within("events", ws.next()).await {
        events.push(event);
        assert!(events.len() < 5, "{events:?}");
    }
    assert!(
        matches!(&events[0], Ok(Event::Message(m)) if m.as_bytes() == b"last words"),
        "{events:?}"
    );
    match &events[1] {
        Ok(Event::Closed(closed)) => assert_eq!(closed.code, CloseCode(1000)),
        other => panic!("expected the peer's close, got {other:?} (all: {events:?})"),
    }
    assert_eq!(events.len(), 2, "{events:?}");
}

/// A peer that hangs up mid-frame: an error or an abnormal close, never a
/// hang and never a message made of half a frame.
#[tokio::test]
async fn a_peer_that_vanishes_mid_frame_is_not_a_message() {
    let (mut ws, mut peer) = server(1 << 16, Config::default());
    let frame = masked(FIN | BINARY, &[1; 300]);
    peer.send(&frame[..150]).await;
    drop(peer);
    while let Some(event) = within("events", ws.next()).await {
        match event {
            Ok(Event::Message(m)) => panic!("half a frame came out: {} bytes", m.as_bytes().len()),
            Ok(Event::Closed(closed)) => assert_ne!(closed.code, CloseCode(1000)),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(Error::Io(err)) => assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof),
            Err(err) => panic!("unexpected error {err}"),
        }
    }
}

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n\r\n";

/// `accept_with` refusing: its bytes are what the peer reads, then the
/// end of the stream; the call fails with `Error::Rejected`.
#[tokio::test]
async fn accept_with_a_refusal_writes_it_and_ends_the_stream() {
    let (ours, mut theirs) = duplex(1 << 16);
    theirs.write_all(REQUEST).await.unwrap();
    let result = within(
        "accept_with",
        WebSocket::accept_with(ours, Config::default(), |request| {
            assert_eq!(request.origin(), Some("https://evil.example"));
            Err(reject(403, &[], b"unknown origin").unwrap())
        }),
    )
    .await;
    let err = result.map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::Rejected), "{err}");
    let mut response = Vec::new();
    within("the refusal", theirs.read_to_end(&mut response))
        .await
        .unwrap();
    let text = String::from_utf8(response).unwrap();
    assert!(text.starts_with("HTTP/1.1 403 "), "{text}");
    assert!(text.ends_with("unknown origin"), "{text}");
}

/// `accept` of a request that is not an upgrade: a 4xx on the wire and
/// `Error::Handshake`, whose status says which.
#[tokio::test]
async fn accept_refuses_a_plain_get_with_a_4xx() {
    let (ours, mut theirs) = duplex(1 << 16);
    theirs
        .write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await
        .unwrap();
    let err = within("accept", WebSocket::accept(ours, Config::default()))
        .await
        .map(|_| ())
        .unwrap_err();
    let Error::Handshake(handshake) = &err else {
        panic!("{err}")
    };
    let status = handshake.status();
    assert!((400..500).contains(&status), "{status}");
    let mut response = vec![0; 4096];
    let n = theirs.read(&mut response).await.unwrap();
    let head = String::from_utf8_lossy(&response[..n]);
    assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
    // The reason is in the text; `source` is the reason's own source
    // (none), so a chain printer does not show it twice.
    assert!(err.to_string().contains(&handshake.to_string()), "{err}");
    assert!(err.source().is_none(), "Handshake's reason shown twice");
}

/// `from_upgraded` with leftover bytes holding a whole frame and half of
/// another: the whole one first, the other once its rest arrives on the
/// stream, then a third from the stream alone.
#[tokio::test]
async fn from_upgraded_reads_a_frame_and_a_half_of_leftover_first() {
    let first = masked(FIN | TEXT, b"whole in leftover");
    let second = masked(FIN | BINARY, &[5; 200]);
    let mut leftover = first.clone();
    leftover.extend_from_slice(&second[..77]);
    let (ours, mut theirs) = duplex(1 << 16);
    let mut ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), leftover.into());
    let event = within("first", ws.next()).await.unwrap().unwrap();
    assert!(matches!(&event, Event::Message(m) if m.as_bytes() == b"whole in leftover"));
    theirs.write_all(&second[77..]).await.unwrap();
    theirs
        .write_all(&masked(FIN | TEXT, b"third"))
        .await
        .unwrap();
    let event = within("second", ws.next()).await.unwrap().unwrap();
    assert!(matches!(&event, Event::Message(m) if m.as_bytes() == [5; 200]));
    let event = within("third", ws.next()).await.unwrap().unwrap();
    assert!(matches!(&event, Event::Message(m) if m.as_bytes() == b"third"));
}

/// The client handshake with the RFC's own nonce, whose accept key RFC
/// 6455 §1.3 gives: `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
fn rfc_request() -> ClientHandshake {
    ClientHandshake::new(*b"the sample nonce")
        .target("example.com", "/chat")
        .unwrap()
}

const GOOD_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// [`raw_server::client_against`] with [`rfc_request`].
async fn client_against(
    response: Vec<u8>,
    piece: usize,
    hang_up: bool,
) -> Result<(WebSocket<DuplexStream>, wsframe::handshake::Accepted), Error> {
    raw_server::client_against(&rfc_request(), response, piece, hang_up).await
}

/// A 101 cut byte by byte, with a frame right behind it: accepted, and
/// the frame is the first event.
#[tokio::test]
async fn client_accepts_a_101_cut_byte_by_byte_and_keeps_the_frame_behind_it() {
    let mut response = GOOD_101.to_vec();
    response.extend_from_slice(&[FIN | TEXT, 5]);
    response.extend_from_slice(b"hello");
    let (mut ws, _accepted) = client_against(response, 1, false).await.unwrap();
    let event = within("first frame", ws.next()).await.unwrap().unwrap();
    assert!(
        matches!(&event, Event::Message(m) if m.as_bytes() == b"hello"),
        "{event:?}"
    );
}

/// What `client` says of a server that does not answer a valid 101.
#[tokio::test]
async fn client_refuses_garbage_a_wrong_key_and_a_cut_response() {
    let garbage = client_against(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(), 1, true).await;
    assert!(
        matches!(garbage, Err(Error::Handshake(_))),
        "{:?}",
        garbage.err()
    );

    let wrong_key = String::from_utf8(GOOD_101.to_vec())
        .unwrap()
        .replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "dGhlIHNhbXBsZSBub25jZQ==");
    let err = client_against(wrong_key.into_bytes(), 3, true)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::Handshake(_)), "{err}");
    assert!(
        err.to_string().contains("Accept"),
        "say which header: {err}"
    );

    let not_101 = client_against(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        2,
        true,
    )
    .await;
    // Not 101: the server's answer itself (handshake_refusal.rs).
    assert!(
        matches!(&not_101, Err(Error::Refused(refused)) if refused.status() == 200),
        "{:?}",
        not_101.err()
    );

    for cut in [0, 1, 12, GOOD_101.len() - 2, GOOD_101.len() - 1] {
        let err = client_against(GOOD_101[..cut].to_vec(), 1, true)
            .await
            .map(|_| ())
            .unwrap_err();
        match &err {
            Error::Io(io) => {
                assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof, "cut {cut}");
                assert!(err.to_string().contains("handshake"), "say when: {err}");
            }
            other => panic!("cut {cut}: {other}"),
        }
    }
}

/// A server that sends header lines forever: the client stops at the
/// documented bound (16 KiB of head) with an error, not a growing buffer.
#[tokio::test]
async fn client_refuses_an_endless_response_head() {
    let mut response = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    while response.len() < 1 << 20 {
        response.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let err = client_against(response, 4096, false)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::Handshake(_)), "{err}");
}

/// The same against `accept`: a client that sends header lines forever.
#[tokio::test]
async fn accept_refuses_an_endless_request_head() {
    let (ours, theirs) = duplex(1 << 16);
    let (mut their_read, mut their_write) = tokio::io::split(theirs);
    let feeding = tokio::spawn(async move {
        their_write
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
            .await
            .unwrap();
        for _ in 0..20_000 {
            if their_write
                .write_all(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let draining = tokio::spawn(async move {
        let mut response = Vec::new();
        let _ = their_read.read_to_end(&mut response).await;
        response
    });
    let err = within("accept", WebSocket::accept(ours, Config::default()))
        .await
        .map(|_| ())
        .unwrap_err();
    let Error::Handshake(handshake) = &err else {
        panic!("{err}")
    };
    assert_eq!(handshake.status(), 431);
    feeding.abort();
    let response = within("the refusal", draining).await.unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 431 "),
        "{:?}",
        String::from_utf8_lossy(&response)
    );
}

/// Each error says what happened and, where there is one, its cause:
/// the text holds it, `source()` is its own source (each message once in
/// the chain) and `io::Error` keeps a kind to match on.
#[tokio::test]
async fn errors_say_what_to_do_and_show_their_cause_once() {
    let (mut ws, _peer) = server(1 << 16, Config::default());
    let send = ws.ping(&[0; 126]).await.unwrap_err();
    assert!(matches!(send, Error::Send(_)), "{send}");
    assert!(send.to_string().contains("125"), "say the limit: {send}");
    // The `SendError` is the variant's field and already in the text.
    assert!(send.source().is_none(), "the SendError shown twice");
    assert_eq!(io::Error::from(send).kind(), io::ErrorKind::InvalidInput);

    let bad_code = ws.close(CloseCode(1005), "").await.unwrap_err();
    assert!(matches!(bad_code, Error::Send(_)), "{bad_code}");
    assert!(bad_code.to_string().contains("1005"), "{bad_code}");

    let fragment = ws.send_fragment(Message::Binary(Bytes::new()), true).await;
    // A lone final fragment is a whole message (§5.4): allowed.
    fragment.unwrap();
    ws.send_fragment(Message::from("a"), false).await.unwrap();
    let out_of_order = ws.send(Message::from("b")).await.unwrap_err();
    assert!(matches!(out_of_order, Error::Send(_)), "{out_of_order}");
    assert!(
        out_of_order.to_string().contains("send_fragment"),
        "say how to finish the open message: {out_of_order}"
    );
    let long_reason = ws
        .close(CloseCode::NORMAL, &"r".repeat(124))
        .await
        .unwrap_err();
    assert!(
        long_reason.to_string().contains("123"),
        "say the reason's limit: {long_reason}"
    );

    let io_err = Error::from(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "reset by peer",
    ));
    assert!(io_err.to_string().contains("reset by peer"), "{io_err}");
    // The io::Error is the variant's field and already in the text: its
    // own source (none here) is the source.
    assert!(io_err.source().is_none(), "{io_err:?}");
    assert_eq!(
        io::Error::from(io_err).kind(),
        io::ErrorKind::ConnectionReset
    );

    for (err, kind) in [
        (Error::Closed, io::ErrorKind::NotConnected),
        (Error::Timeout, io::ErrorKind::TimedOut),
        (Error::Rejected, io::ErrorKind::ConnectionRefused),
    ] {
        let text = err.to_string();
        assert!(!text.is_empty());
        let converted = io::Error::from(err);
        assert_eq!(converted.kind(), kind, "{text}");
        assert_eq!(
            converted.to_string(),
            text,
            "the io::Error keeps the message"
        );
    }
    assert!(Error::Timeout.to_string().contains("close_timeout"));
}

/// `next` after the end stays `None`, and `send` then is `Error::Closed`.
#[tokio::test]
async fn after_the_peers_close_next_stays_none_and_send_is_closed() {
    let (mut ws, mut peer) = server(1 << 16, Config::default());
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await;
    assert!(matches!(
        within("close", ws.next()).await,
        Some(Ok(Event::Closed(_)))
    ));
    for _ in 0..3 {
        assert!(within("end", ws.next()).await.is_none());
    }
    assert!(matches!(
        ws.send(Message::from("x")).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        ws.close(CloseCode(1000), "").await,
        Err(Error::Closed)
    ));
    assert_eq!(
        peer.frame(64).await,
        Some((FIN | CLOSE, close_payload(1000, b"")))
    );
    assert_eq!(peer.frame(64).await, None);
}

/// A client's frames, parsed by RFC 6455 §5.2 and unmasked by §5.3 by
/// hand: `(first byte, payload, frame length)`; every one must be masked.
fn parse_client_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&first, rest) = buf.split_first()?;
    let (&second, rest) = rest.split_first()?;
    assert_eq!(
        second & 0x80,
        0x80,
        "a client frame is always masked (§5.3)"
    );
    let (len, rest) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(rest.get(..2)?.try_into().unwrap()) as usize,
            &rest[2..],
        ),
        127 => (
            u64::from_be_bytes(rest.get(..8)?.try_into().unwrap()) as usize,
            &rest[8..],
        ),
        n => (n as usize, rest),
    };
    let key: [u8; 4] = rest.get(..4)?.try_into().unwrap();
    let payload = rest.get(4..4 + len)?;
    let unmasked = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    Some((first, unmasked, buf.len() - rest.len() + 4 + len))
}

/// A client made by `client` masks what it sends, and refuses a masked
/// frame from the server with 1002 (§5.1).
#[tokio::test]
async fn a_client_masks_its_frames_and_refuses_masked_ones() {
    let mut response = GOOD_101.to_vec();
    response.extend(masked(FIN | TEXT, b"masked by a server"));
    let (ours, mut theirs) = duplex(1 << 16);
    let mut request = Vec::new();
    let answering = tokio::spawn(async move {
        let mut buf = [0; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = theirs.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        theirs.write_all(&response).await.unwrap();
        theirs
    });
    let (mut ws, _) = within(
        "client",
        WebSocket::client(ours, &rfc_request(), Config::default()),
    )
    .await
    .unwrap();
    let mut theirs = answering.await.unwrap();
    ws.feed(Message::from(vec![9u8; 300])).await.unwrap();
    let event = within("the masked frame", ws.next())
        .await
        .unwrap()
        .unwrap();
    let Event::Closed(closed) = event else {
        panic!("a masked server frame was taken: {event:?}")
    };
    assert_eq!(closed.code, CloseCode(1002));
    // A client leaves closing TCP to the server (§7.1.1); we hang up here.
    drop(ws);
    let mut wire = Vec::new();
    within("the client's frames", theirs.read_to_end(&mut wire))
        .await
        .unwrap();
    let (first, payload, len) = parse_client_frame(&wire).unwrap();
    assert_eq!((first, payload), (FIN | BINARY, vec![9u8; 300]));
    let (first, payload, _) = parse_client_frame(&wire[len..]).unwrap();
    assert_eq!(first, FIN | CLOSE);
    assert_eq!(payload[..2], 1002u16.to_be_bytes());
}

/// The server refuses an unmasked client frame with 1002 (§5.1).
#[tokio::test]
async fn a_server_refuses_an_unmasked_frame() {
    let (mut ws, mut peer) = server(1 << 16, Config::default());
    peer.send(&[FIN | TEXT, 2, b'h', b'i']).await;
    match within("the event", ws.next()).await {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode(1002)),
        other => panic!("{other:?}"),
    }
    let (first, payload) = peer.frame(64).await.unwrap();
    assert_eq!(first, FIN | CLOSE);
    assert_eq!(payload[..2], 1002u16.to_be_bytes());
}

/// Split, over a small pipe: the writer sends large messages (the kind
/// written from the sender's buffer) while the peer pings all along and
/// the reader answers: no pong lands inside a message's frame (§5.4: a
/// control frame goes between frames), every message arrives whole.
#[tokio::test]
async fn pongs_never_land_inside_a_large_message_written_at_the_same_time() {
    let (ws, peer) = server(512, Config::default());
    let (mut reader, mut writer) = ws.split();
    let RawPeer { io, .. } = peer;
    let (mut peer_read, mut peer_write) = tokio::io::split(io);
    let big = |i: usize| -> Vec<u8> { (0..70_000 + i * 1000).map(|j| (i + j * 7) as u8).collect() };
    let pinging = tokio::spawn(async move {
        for i in 0..200u32 {
            peer_write
                .write_all(&masked(FIN | PING, &i.to_be_bytes()))
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
        peer_write
    });
    let reading = tokio::spawn(async move {
        let mut pings = 0;
        while pings < 200 {
            match reader.next().await.unwrap().unwrap() {
                Event::Ping(_) => pings += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        reader
    });
    let parsing = tokio::spawn(async move {
        let mut read = Vec::new();
        let mut buf = vec![0; 333];
        let (mut messages, mut pongs) = (Vec::new(), Vec::new());
        while messages.len() < 10 || pongs.len() < 200 {
            let n = peer_read.read(&mut buf).await.unwrap();
            assert!(n > 0);
            read.extend_from_slice(&buf[..n]);
            while let Some((first, payload, len)) = parse_server_frame(&read) {
                match first {
                    f if f == FIN | PONG => pongs.push(payload),
                    f if f == FIN | BINARY => messages.push(payload),
                    f => panic!("a frame of first byte {f:02x}: a cut message?"),
                }
                read.drain(..len);
            }
        }
        (messages, pongs)
    });
    within("the writer", async {
        for i in 0..10 {
            writer.send(Message::from(big(i))).await.unwrap();
        }
        writer.flush().await.unwrap();
    })
    .await;
    let (messages, pongs) = within("the peer", parsing).await.unwrap();
    for (i, message) in messages.iter().enumerate() {
        assert!(*message == big(i), "message {i} differs");
    }
    for (i, pong) in pongs.iter().enumerate() {
        assert_eq!(pong[..], (i as u32).to_be_bytes(), "pong {i}");
    }
    within("the reader", reading).await.unwrap();
    pinging.await.unwrap();
}

/// A large `send` dropped mid-write, then a close: the close frame comes
/// after the whole message, never inside it.
#[tokio::test]
async fn a_close_after_a_dropped_large_send_follows_the_whole_message() {
    let (mut ws, peer) = server(64, Config::default());
    let big: Vec<u8> = (0..200_000).map(|j| (j % 251) as u8).collect();
    let dropped = timeout(
        Duration::from_millis(20),
        ws.send(Message::from(big.clone())),
    )
    .await;
    assert!(
        dropped.is_err(),
        "a 200 KB send went through a 64 B pipe nobody reads"
    );
    let reading = spawn_frames_until_close(peer, 1000);
    let closed = within("close", ws.close(CloseCode(1000), "after"))
        .await
        .unwrap();
    assert_eq!(closed.code, CloseCode(1000));
    let (frames, _peer) = within("peer", reading).await.unwrap();
    assert_eq!(frames.len(), 2);
    assert!(
        frames[0] == (FIN | BINARY, big),
        "the message is cut or changed"
    );
    assert_eq!(frames[1], (FIN | CLOSE, close_payload(1000, b"after")));
}

/// `close` dropped while it waits for the answer; the peer's answer is
/// then `next`'s `Event::Closed`, initiated by us.
#[tokio::test]
async fn close_dropped_while_waiting_leaves_the_answer_to_next() {
    let (mut ws, mut peer) = server(1 << 16, Config::default());
    let waited = timeout(Duration::from_millis(20), ws.close(CloseCode(1000), "")).await;
    assert!(waited.is_err(), "no answer was sent");
    assert_eq!(
        peer.frame(64).await,
        Some((FIN | CLOSE, close_payload(1000, b"")))
    );
    peer.send(&masked(FIN | TEXT, b"dropped after our close (5.5.1)"))
        .await;
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await;
    let mut events = Vec::new();
    while let Some(event) = within("next", ws.next()).await {
        events.push(event.unwrap());
    }
    let closed = events
        .iter()
        .find_map(|event| match event {
            Event::Closed(closed) => Some(closed),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no close in {events:?}"));
    assert_eq!(closed.code, CloseCode(1000));
    assert_eq!(closed.initiator, wsframe::Initiator::Local);
    assert_eq!(peer.frame(64).await, None, "no second close frame");
}

/// The writer `feed`s and never flushes; the reader, parked in `next`,
/// writes the message out ("the reader writes the message out if this
/// half does not flush it").
#[tokio::test]
async fn a_fed_message_goes_out_through_the_parked_reader() {
    let (ws, mut peer) = server(1 << 16, Config::default());
    let (mut reader, mut writer) = ws.split();
    let reading = tokio::spawn(async move {
        let event = reader.next().await;
        (event, reader)
    });
    tokio::task::yield_now().await;
    writer.feed(Message::from("fed")).await.unwrap();
    assert_eq!(
        within("the fed message", peer.frame(64)).await,
        Some((FIN | TEXT, b"fed".to_vec()))
    );
    peer.send(&masked(FIN | TEXT, b"reply")).await;
    let (event, _reader) = within("reader", reading).await.unwrap();
    assert!(matches!(event, Some(Ok(Event::Message(m))) if m.as_bytes() == b"reply"));
}

/// A message in fragments (§5.4) with a ping from us between them: the
/// peer reads the fragments with the opcode on the first only, and the
/// ping between, each whole.
#[tokio::test]
async fn fragments_and_a_control_frame_between_them_are_framed_as_the_rfc_says() {
    let (mut ws, mut peer) = server(1 << 16, Config::default());
    ws.send_fragment(Message::from("one "), false)
        .await
        .unwrap();
    ws.ping(b"mid").await.unwrap();
    ws.send_fragment(Message::from("two "), false)
        .await
        .unwrap();
    ws.pong(b"beat").await.unwrap();
    ws.send_fragment(Message::from("three"), true)
        .await
        .unwrap();
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(peer.frame(64).await.unwrap());
    }
    assert_eq!(
        frames,
        vec![
            (TEXT, b"one ".to_vec()),
            (FIN | PING, b"mid".to_vec()),
            (0, b"two ".to_vec()),
            (FIN | PONG, b"beat".to_vec()),
            (FIN, b"three".to_vec()),
        ]
    );
}

/// The `futures` surface: a `Sink` of messages, closed with 1000, and a
/// `Stream` of events that ends after the close.
#[cfg(feature = "futures")]
#[tokio::test]
async fn the_sink_and_stream_speak_the_rfc() {
    use futures_util::{SinkExt, StreamExt};
    let (mut ws, peer) = server(64, Config::default());
    let reading = spawn_frames_until_close(peer, 9);
    within("sink", async {
        for i in 0..5 {
            ws.feed(Message::from(payload(i))).await.unwrap();
        }
        SinkExt::close(&mut ws).await.unwrap();
    })
    .await;
    let (frames, _peer) = within("peer", reading).await.unwrap();
    assert_eq!(frames.len(), 6);
    for (i, (first, bytes)) in frames[..5].iter().enumerate() {
        assert_eq!((*first, bytes), (FIN | BINARY, &payload(i)));
    }
    assert_eq!(frames[5], (FIN | CLOSE, close_payload(1000, b"")));
    let mut events = Vec::new();
    while let Some(event) = within("stream", StreamExt::next(&mut ws)).await {
        events.push(event.unwrap());
    }
    assert!(
        matches!(&events[..], [Event::Closed(closed)] if closed.code == CloseCode(1000)),
        "{events:?}"
    );
}

/// A peer that stops reading and sending while we send: the output
/// fills, and the idle timeout ("closed at once without waiting for the
/// peer's answer") must still end the connection. Its close frame cannot
/// be written (the peer reads nothing), so `next` reports the 1001 close
/// without it once `close_timeout` has passed, instead of waiting forever.
#[tokio::test(start_paused = true)]
async fn the_idle_timeout_ends_a_connection_whose_peer_reads_nothing() {
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(5)))
        .close_timeout(Some(Duration::from_secs(1)))
        .max_output_buffer(4096)
        .build();
    let (mut ws, _peer) = server(1024, config);
    let start = Instant::now();
    while timeout(
        Duration::from_millis(10),
        ws.send(Message::from(vec![1u8; 1000])),
    )
    .await
    .is_ok()
    {}
    let end = timeout(Duration::from_secs(60), ws.next())
        .await
        .unwrap_or_else(|_| panic!("next still waits 60 s into a silent peer (idle timeout 5 s)"));
    match end {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode(1001)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(6),
        "idle 5 s, then 1 s to write the close"
    );
    assert!(ws.next().await.is_none());
}

/// The same after `split`: the reader reports the close, and the writer
/// blocked in `send` (its message queued, waiting to be written) fails
/// when the reader gives the close's write up, rather than waiting forever.
#[tokio::test(start_paused = true)]
async fn after_split_the_idle_timeout_frees_both_halves_of_a_peer_that_reads_nothing() {
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(5)))
        .close_timeout(Some(Duration::from_secs(1)))
        .max_output_buffer(4096)
        .build();
    let (ws, _peer) = server(1024, config);
    let (mut reader, mut writer) = ws.split();
    let start = Instant::now();
    let reading = tokio::spawn(async move { reader.next().await });
    let writing = tokio::spawn(async move {
        loop {
            if let Err(err) = writer.send(Message::from(vec![1u8; 1000])).await {
                return (err, Instant::now());
            }
        }
    });
    let outcome = timeout(Duration::from_secs(60), async {
        (reading.await.unwrap(), writing.await.unwrap())
    })
    .await;
    let (read, (written, writer_end)) = outcome.unwrap_or_else(|_| {
        panic!("a half still waits 60 s into a silent peer (idle timeout 5 s)")
    });
    match read {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode(1001)),
        other => panic!("{other:?}"),
    }
    // Its message was queued before the close, so it fails when the
    // reader gives the close's write up, saying why.
    let Error::Io(io_err) = &written else {
        panic!("{written}")
    };
    assert_eq!(io_err.kind(), io::ErrorKind::TimedOut, "{written}");
    assert!(written.to_string().contains("close_timeout"), "{written}");
    assert_eq!(writer_end - start, Duration::from_secs(6));
    assert_eq!(start.elapsed(), Duration::from_secs(6));
}

/// A peer that sends a close and then reads nothing, while our output is
/// full: the reply cannot be written, and `next` reports the peer's close
/// without it once `close_timeout` has passed.
#[tokio::test(start_paused = true)]
async fn a_close_from_a_peer_that_reads_nothing_does_not_hold_next_forever() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(1)))
        .max_output_buffer(4096)
        .build();
    let (mut ws, mut peer) = server(1024, config);
    while timeout(
        Duration::from_millis(10),
        ws.send(Message::from(vec![1u8; 1000])),
    )
    .await
    .is_ok()
    {}
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await;
    let start = Instant::now();
    let end = timeout(Duration::from_secs(60), ws.next())
        .await
        .unwrap_or_else(|_| {
            panic!("next still waits 60 s after the close of a peer that reads nothing")
        });
    match end {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode(1000)),
        other => panic!("{other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert!(ws.next().await.is_none());
}

/// `close` against a peer that reads nothing, our output full: the close
/// frame cannot be written, and the call still ends with `Error::Timeout`
/// after `close_timeout` ("for at most close_timeout").
#[tokio::test(start_paused = true)]
async fn close_against_a_peer_that_reads_nothing_times_out() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(2)))
        .max_output_buffer(4096)
        .build();
    let (mut ws, _peer) = server(1024, config);
    while timeout(
        Duration::from_millis(10),
        ws.send(Message::from(vec![1u8; 1000])),
    )
    .await
    .is_ok()
    {}
    let start = Instant::now();
    let err = timeout(Duration::from_secs(60), ws.close(CloseCode(1000), ""))
        .await
        .unwrap_or_else(|_| panic!("close still waits 60 s on a peer that reads nothing"))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(ws.next().await.is_none());
}

/// After `split`, a writer waiting for room when the connection closes is
/// refused at once with `Error::Closed` (nothing more can be sent), not
/// when a peer that reads nothing makes room.
#[tokio::test(start_paused = true)]
async fn a_split_writer_waiting_for_room_is_refused_when_the_peer_closes() {
    let config = Config::builder().max_output_buffer(4096).build();
    let (ws, mut peer) = server(1024, config);
    let (mut reader, mut writer) = ws.split();
    // Output past the limit, from messages whose sends were dropped.
    while timeout(
        Duration::from_millis(10),
        writer.feed(Message::from(vec![1u8; 1000])),
    )
    .await
    .is_ok()
    {}
    let waiting = tokio::spawn(async move {
        let result = writer.feed(Message::from("late")).await;
        (result, Instant::now())
    });
    tokio::task::yield_now().await;
    let start = Instant::now();
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await;
    let reading = tokio::spawn(async move { reader.next().await });
    let (result, refused_at) = timeout(Duration::from_secs(60), waiting)
        .await
        .expect("the writer still waits for room 60 s after the peer's close")
        .unwrap();
    assert!(matches!(result, Err(Error::Closed)), "{result:?}");
    assert_eq!(refused_at, start, "refused as the close arrives");
    let read = timeout(Duration::from_secs(60), reading)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(read, Some(Ok(Event::Closed(_)))), "{read:?}");
}

/// A peer that closes and then reads our full output slowly but steadily
/// (a message a second: longer in all than the close timeout) gets every
/// byte and the reply: only a write that stalls is given up.
#[tokio::test(start_paused = true)]
async fn a_slow_reader_after_its_close_still_gets_everything() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(2)))
        .max_output_buffer(4096)
        .build();
    let (mut ws, mut peer) = server(256, config);
    let mut sent = 0;
    while timeout(
        Duration::from_millis(10),
        ws.feed(Message::from(vec![3u8; 1000])),
    )
    .await
    .is_ok()
    {
        sent += 1;
    }
    peer.send(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await;
    let server_side = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = ws.next().await {
            events.push(event.unwrap());
        }
        events
    });
    let start = Instant::now();
    let mut frames = Vec::new();
    while let Some(frame) = peer.frame(100).await {
        frames.push(frame);
        sleep(Duration::from_secs(1)).await;
    }
    assert!(sent >= 4, "{sent}");
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let (close, messages) = frames.split_last().unwrap();
    assert_eq!(close, &(FIN | CLOSE, close_payload(1000, b"")));
    assert_eq!(messages.len(), sent);
    assert!(messages
        .iter()
        .all(|m| *m == (FIN | BINARY, vec![3u8; 1000])));
    let events = server_side.await.unwrap();
    assert!(matches!(&events[..], [Event::Closed(_)]), "{events:?}");
}

/// After `split`, the writer's `close` against a peer that reads nothing,
/// the output full, while the reader polls: the reader reports the close
/// timeout's 1006, and the writer's `close`, still writing its frame, fails
/// then instead of waiting forever.
#[tokio::test(start_paused = true)]
async fn a_split_writers_close_to_a_peer_that_reads_nothing_ends() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(2)))
        .max_output_buffer(4096)
        .build();
    let (ws, _peer) = server(1024, config);
    let (mut reader, mut writer) = ws.split();
    while timeout(
        Duration::from_millis(10),
        writer.feed(Message::from(vec![1u8; 1000])),
    )
    .await
    .is_ok()
    {}
    let start = Instant::now();
    let reading = tokio::spawn(async move { reader.next().await });
    let closed = timeout(Duration::from_secs(60), writer.close(CloseCode(1000), ""))
        .await
        .expect("the writer's close still waits 60 s on a peer that reads nothing");
    let Err(Error::Io(err)) = &closed else {
        panic!("{closed:?}")
    };
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    // The close timeout: the frame's write has stalled as long by then.
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    match reading.await.unwrap() {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode(1006)),
        other => panic!("{other:?}"),
    }
}
