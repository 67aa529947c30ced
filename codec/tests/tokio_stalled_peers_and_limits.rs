//! Peers that stall (never answer, never read, read late, flood) and
//! limits at and past them: the async surface, the handshake and the
//! sans-IO core tried as a newcomer would (README, rustdoc, issues 13, 15
//! and 16), with a tiny `duplex`, split halves, combinators, a paused
//! clock, peers that never answer or never read, and streams cut at every
//! point.
//!
//! Found and fixed: `WebSocket::next` held a pong (and what `feed`
//! queued) after returning the last event a read brought whenever that
//! read ended inside the next frame, until the caller polled again: the
//! write waited for "nothing buffered", and the start of a frame is
//! something (`a_pong_is_not_held_behind_a_frame_the_read_cut`). And
//! `send`'s docs did not say that its wait has no limit of its own (the
//! idle timeout runs in `next`): now they do, and what ends it
//! (`a_blocked_send_ends_at_the_idle_timeout_only_with_a_reader`).
//!
//! The other tests pin what held up: the close handshake when the peer's
//! close came in the same read as a message; `from_upgraded` with leftover
//! bytes cut at every point; each split half going on alone; `close`
//! against a peer that reads but never answers, and one that floods data
//! meanwhile; `connect`'s errors as variants to match; `send_all` into a
//! peer that reads late; the sans-IO timers with explicit instants; the
//! output limit, frame and message limits (streaming) at and past the
//! limit; odd upgrade requests, whole and cut; and `receive` and
//! `read_buf` giving the same events and output for random streams cut at
//! every point.
#![cfg(all(feature = "tokio", feature = "futures", feature = "http"))]

mod common;

use std::time::{Duration, Instant};

use common::{client, close_payload, server_frames, BINARY, CLOSE, FIN, PING, PONG, TEXT};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use wsframe::handshake::{HandshakeError, Status, UpgradeRequest};
use wsframe::tokio::{Error, WebSocket};
use wsframe::{CloseCode, Config, Connection, Event, Initiator, Message, Role, SendError, State};

/// What the peer can read now, without waiting for more (the clock is
/// paused in most tests: the timeout passes at once once nothing runs).
async fn readable_now(io: &mut DuplexStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match tokio::time::timeout(Duration::from_millis(10), io.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(err)) => panic!("{err}"),
        }
    }
}

fn server_ws(io: DuplexStream, config: Config) -> WebSocket<DuplexStream> {
    WebSocket::from_upgraded(io, Role::Server, config, Default::default())
}

/// Whether `event` is the text message `text`: whole, or (streaming) in
/// one piece.
fn is_text(event: &Event, text: &str) -> bool {
    match event {
        Event::Message(Message::Text(t)) => t.as_str() == text,
        Event::Chunk {
            data: Message::Text(t),
            last: true,
        } => t.as_str() == text,
        _ => false,
    }
}

/// A ping, then a text message, then the first `cut` bytes of another
/// frame, in one write: the pong (and an answer fed after the ping) must
/// be on the wire once the text is returned, before the caller polls
/// again (it may work on the text for long). With the frame whole behind
/// it, the text is not the last event in hand, and the write waits for the
/// one after it (one write a batch). Fails without the fix: the pong
/// waited for the next call at every cut.
#[tokio::test(start_paused = true)]
async fn a_pong_is_not_held_behind_a_frame_the_read_cut() {
    let after = client(FIN | TEXT, b"next request");
    for streaming in [false, true] {
        for cut in 1..=after.len() {
            let (ours, mut peer) = tokio::io::duplex(4096);
            let config = Config::builder().streaming(streaming).build();
            let mut ws = server_ws(ours, config);
            let mut wire = client(FIN | PING, b"hb");
            wire.extend(client(FIN | TEXT, b"request"));
            wire.extend_from_slice(&after[..cut]);
            peer.write_all(&wire).await.unwrap();
            let ping = ws.next().await.unwrap().unwrap();
            assert!(matches!(ping, Event::Ping(_)), "{ping:?}");
            ws.feed(Message::from("answer")).await.unwrap();
            let request = ws.next().await.unwrap().unwrap();
            assert!(is_text(&request, "request"), "{request:?}");
            let whole = cut == after.len();
            let sent = server_frames(&readable_now(&mut peer).await);
            let pong_and_answer = vec![(0x8A, b"hb".to_vec()), (0x81, b"answer".to_vec())];
            if whole {
                // Batched: written as the last event in hand is returned.
                assert_eq!(sent, vec![], "streaming {streaming}: held for the batch");
                let next = ws.next().await.unwrap().unwrap();
                assert!(is_text(&next, "next request"), "{next:?}");
                let sent = server_frames(&readable_now(&mut peer).await);
                assert_eq!(sent, pong_and_answer, "streaming {streaming}");
            } else if !streaming {
                assert_eq!(sent, pong_and_answer, "cut {cut}: not held");
            } else {
                // Streaming: the cut frame's first piece may come after
                // the text; the pong is out by the time it is returned.
                let sent = if sent.is_empty() {
                    let piece = ws.next().await.unwrap().unwrap();
                    assert!(matches!(piece, Event::Chunk { .. }), "{piece:?}");
                    server_frames(&readable_now(&mut peer).await)
                } else {
                    sent
                };
                assert_eq!(sent, pong_and_answer, "streaming, cut {cut}: not held");
            }
        }
    }
}

/// The peer's close came in the read that brought a message; `close`
/// after that message sends our close frame once and takes the peer's
/// as the answer.
#[tokio::test(start_paused = true)]
async fn close_after_a_message_whose_read_brought_the_peers_close() {
    let (ours, mut peer) = tokio::io::duplex(4096);
    let mut ws = server_ws(ours, Config::default());
    let mut wire = client(FIN | TEXT, b"hi");
    wire.extend(client(FIN | CLOSE, &close_payload(4000, b"bye")));
    peer.write_all(&wire).await.unwrap();
    assert!(is_text(&ws.next().await.unwrap().unwrap(), "hi"));
    let closed = ws.close(CloseCode::NORMAL, "").await.expect("closed");
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (CloseCode(4000), "bye")
    );
    assert_eq!(closed.initiator, Initiator::Local);
    let sent = server_frames(&readable_now(&mut peer).await);
    assert_eq!(
        sent,
        vec![(0x88, vec![0x03, 0xE8])],
        "one close frame, ours"
    );
    assert!(ws.next().await.is_none());
    assert!(matches!(
        ws.send(Message::from("x")).await,
        Err(Error::Closed)
    ));
}

/// `from_upgraded` with the bytes after the handshake cut at every point:
/// the same events, and the pong.
#[tokio::test(start_paused = true)]
async fn from_upgraded_takes_leftover_bytes_cut_at_every_point() {
    let mut wire = client(FIN | TEXT, b"hello");
    wire.extend(client(FIN | BINARY, &[7; 300]));
    wire.extend(client(FIN | PING, b"pp"));
    for cut in 0..=wire.len() {
        let (ours, mut peer) = tokio::io::duplex(4096);
        let leftover = wire[..cut].to_vec().into();
        let mut ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), leftover);
        peer.write_all(&wire[cut..]).await.unwrap();
        let text = ws.next().await.unwrap().unwrap();
        assert!(is_text(&text, "hello"), "cut {cut}: {text:?}");
        let binary = ws.next().await.unwrap().unwrap();
        assert!(
            matches!(&binary, Event::Message(Message::Binary(b)) if b[..] == [7; 300]),
            "cut {cut}"
        );
        assert!(
            matches!(ws.next().await.unwrap().unwrap(), Event::Ping(_)),
            "cut {cut}"
        );
        let sent = server_frames(&readable_now(&mut peer).await);
        assert_eq!(sent, vec![(0x8A, b"pp".to_vec())], "cut {cut}");
    }
}

/// The reader dropped: the writer sends and closes on its own.
#[tokio::test(start_paused = true)]
async fn a_writer_whose_reader_was_dropped_sends_and_closes() {
    let (ours, mut peer) = tokio::io::duplex(4096);
    let (reader, mut writer) = server_ws(ours, Config::default()).split();
    drop(reader);
    writer.send(Message::from("a")).await.unwrap();
    writer.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(
        writer.send(Message::from("b")).await,
        Err(Error::Closed)
    ));
    let sent = server_frames(&readable_now(&mut peer).await);
    assert_eq!(sent, vec![(0x81, b"a".to_vec()), (0x88, vec![0x03, 0xE8])]);
}

/// The writer dropped: the reader, alone, answers every ping through a
/// 64-byte pipe, returns every message and answers the close.
#[tokio::test(start_paused = true)]
async fn a_reader_whose_writer_was_dropped_answers_pings_and_the_close() {
    let (ours, peer) = tokio::io::duplex(64);
    let (mut reader, writer) = server_ws(ours, Config::default()).split();
    drop(writer);
    let mut wire = Vec::new();
    for i in 0..20u8 {
        wire.extend(client(FIN | PING, &[i; 30]));
        wire.extend(client(FIN | TEXT, b"x"));
    }
    wire.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    let events = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(event) = reader.next().await {
            seen.push(event.unwrap());
        }
        seen
    });
    let (mut peer_read, mut peer_write) = tokio::io::split(peer);
    let writing = tokio::spawn(async move { peer_write.write_all(&wire).await.unwrap() });
    let mut got = Vec::new();
    peer_read.read_to_end(&mut got).await.unwrap();
    writing.await.unwrap();
    let seen = events.await.unwrap();
    assert_eq!(seen.len(), 41);
    assert_eq!(seen.iter().filter(|e| is_text(e, "x")).count(), 20);
    let mut expected: Vec<(u8, Vec<u8>)> = (0..20u8).map(|i| (0x8A, vec![i; 30])).collect();
    expected.push((0x88, vec![0x03, 0xE8]));
    assert_eq!(server_frames(&got), expected);
}

/// A peer that reads our close but never answers: `close` ends at the
/// close timeout (10 s by default, on the paused clock) with `Timeout`.
#[tokio::test(start_paused = true)]
async fn close_to_a_peer_that_never_answers_times_out_at_the_close_timeout() {
    let (ours, mut peer) = tokio::io::duplex(4096);
    let mut ws = server_ws(ours, Config::default());
    let closing = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let closed = ws.close(CloseCode::NORMAL, "").await;
        (closed, start.elapsed(), ws)
    });
    let sent = server_frames(&readable_now(&mut peer).await);
    assert_eq!(sent, vec![(0x88, vec![0x03, 0xE8])]);
    let (closed, took, ws) = closing.await.unwrap();
    assert!(matches!(closed, Err(Error::Timeout)), "{closed:?}");
    assert_eq!(took, Config::DEFAULT_CLOSE_TIMEOUT);
    assert_eq!(ws.connection().state(), State::Closed);
}

/// A peer that floods data messages after our close and never answers:
/// the data is dropped (RFC 6455 §5.5.1) and `close` still ends at the
/// close timeout (real clock: a flood never lets a paused clock advance).
#[tokio::test]
async fn close_to_a_peer_flooding_data_times_out_all_the_same() {
    let (ours, peer) = tokio::io::duplex(1024);
    let timeout = Duration::from_millis(300);
    let config = Config::builder().close_timeout(Some(timeout)).build();
    let mut ws = server_ws(ours, config);
    let (mut peer_read, mut peer_write) = tokio::io::split(peer);
    let flood = tokio::spawn(async move {
        let frame = client(FIN | BINARY, &[9; 500]);
        while peer_write.write_all(&frame).await.is_ok() {}
    });
    let drain = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = peer_read.read_to_end(&mut got).await;
        got
    });
    let start = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.close(CloseCode::NORMAL, ""))
        .await
        .expect("close ends");
    assert!(matches!(closed, Err(Error::Timeout)), "{closed:?}");
    assert!(start.elapsed() >= timeout && start.elapsed() < 10 * timeout);
    drop(ws);
    flood.abort();
    let got = drain.await.unwrap();
    assert_eq!(server_frames(&got), vec![(0x88, vec![0x03, 0xE8])]);
}

/// Whether an error is the one expected.
type ErrorCheck = fn(&Error) -> bool;

/// `connect` and `client` fail with variants to match and messages that
/// say what happened, before connecting where they can.
#[tokio::test]
async fn connect_errors_are_variants_to_match() {
    use std::io::ErrorKind;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_port = listener.local_addr().unwrap().port();
    drop(listener);
    for (uri, kind, says) in [
        (
            format!("ws://127.0.0.1:{closed_port}/"),
            ErrorKind::ConnectionRefused,
            "refused",
        ),
        ("wss://example.com/".into(), ErrorKind::InvalidInput, "TLS"),
        (
            "http://example.com/".into(),
            ErrorKind::InvalidInput,
            "ws://",
        ),
        (
            "ws://user@127.0.0.1:1/".into(),
            ErrorKind::InvalidInput,
            "user:password@",
        ),
    ] {
        let uri: http::Uri = uri.parse().unwrap();
        match WebSocket::connect(&uri, Config::default()).await {
            Err(Error::Io(err)) => {
                assert_eq!(err.kind(), kind, "{uri}: {err}");
                let shown = Error::Io(err).to_string();
                assert!(
                    shown.to_lowercase().contains(&says.to_lowercase()),
                    "{uri}: {shown}"
                );
            }
            other => panic!("{uri}: {:?}", other.map(|_| ())),
        }
    }
    let answers: [(&[u8], ErrorCheck); 5] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", |e| {
            matches!(e, Error::Refused(r) if r.status() == 200 && r.body() == b"hello")
        }),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
            |e| matches!(e, Error::Handshake(HandshakeError::BadAccept)),
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            |e| matches!(e, Error::Handshake(HandshakeError::MissingAccept)),
        ),
        (b"HTTP/1.0 101 Switching Protocols\r\n\r\n", |e| {
            matches!(e, Error::Handshake(HandshakeError::HttpVersion))
        }),
        (b"garbage\r\n\r\n", |e| matches!(e, Error::Handshake(HandshakeError::Malformed))),
    ];
    for (answer, expected) in answers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = stream.read(&mut request).await;
            stream.write_all(answer).await.unwrap();
            // Open until the client is done with the answer.
            let _ = stream.read(&mut request).await;
        });
        let uri: http::Uri = format!("ws://127.0.0.1:{port}/x").parse().unwrap();
        match WebSocket::connect(&uri, Config::default()).await {
            Err(err) => assert!(
                expected(&err),
                "{}: {err:?}",
                String::from_utf8_lossy(answer)
            ),
            Ok(_) => panic!("{}: connected", String::from_utf8_lossy(answer)),
        }
        server.await.unwrap();
    }
}

/// `send_all` of 500 messages through a 64-byte pipe into a peer that
/// reads nothing for 5 s (output bounded at 200 bytes): all arrive, in
/// order, with the pong of a ping sent meanwhile and the sink's close.
#[tokio::test(start_paused = true)]
async fn send_all_into_a_peer_that_reads_late() {
    use futures_util::{SinkExt, StreamExt};
    let (ours, mut peer) = tokio::io::duplex(64);
    let config = Config::builder().max_output_buffer(200).build();
    let (mut sink, mut stream) = StreamExt::split(server_ws(ours, config));
    let messages: Vec<Message> = (0..500u32)
        .map(|i| Message::from(format!("m{i}")))
        .collect();
    let expected = messages.clone();
    let sender = tokio::spawn(async move {
        let mut items = futures_util::stream::iter(messages.into_iter().map(Ok));
        sink.send_all(&mut items).await.unwrap();
        sink.close().await.unwrap();
    });
    let reader = tokio::spawn(async move { stream.next().await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    peer.write_all(&client(FIN | PING, b"late")).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 7];
    while !got.ends_with(&[0x88, 0x02, 0x03, 0xE8]) {
        let n = peer.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "the stream ended before the close frame");
        got.extend_from_slice(&buf[..n]);
    }
    let frames = server_frames(&got);
    let texts: Vec<Message> = frames
        .iter()
        .filter(|f| f.0 == 0x81)
        .map(|f| Message::from(String::from_utf8(f.1.clone()).unwrap()))
        .collect();
    assert_eq!(texts, expected);
    assert_eq!(frames.iter().filter(|f| f.0 == 0x8A).count(), 1);
    sender.await.unwrap();
    let ping = reader.await.unwrap().unwrap().unwrap();
    assert!(matches!(ping, Event::Ping(p) if p[..] == b"late"[..]));
}

/// Keepalive and idle timeout with explicit instants: a ping every
/// interval of silence, the deadline held at the last `now` until a read
/// starts the clocks again, time going backwards ignored, then 1001.
#[test]
fn keepalive_and_idle_timeout_with_explicit_instants() {
    let s = Duration::from_secs(1);
    let config = Config::builder()
        .ping_interval(Some(10 * s))
        .idle_timeout(Some(25 * s))
        .build();
    let mut conn = Connection::new(Role::Server, config);
    let t0 = Instant::now();
    let next = |conn: &Connection| conn.poll_timeout().map(|t| t - t0);
    assert_eq!(conn.poll_timeout(), None, "no clock before the first now");
    conn.handle_timeout(t0);
    assert_eq!(next(&conn), Some(10 * s));
    let ping = vec![(0x89, vec![])];
    conn.handle_timeout(t0 + 10 * s);
    assert_eq!(
        (server_frames(&conn.take_output()), next(&conn)),
        (ping.clone(), Some(20 * s))
    );
    conn.handle_timeout(t0 + 20 * s);
    assert_eq!(
        (server_frames(&conn.take_output()), next(&conn)),
        (ping.clone(), Some(25 * s))
    );
    conn.receive(&client(FIN | TEXT, b"x"));
    assert!(is_text(&conn.next_event().unwrap(), "x"));
    assert_eq!(
        next(&conn),
        Some(20 * s),
        "the last now, until the next one"
    );
    conn.handle_timeout(t0 + 22 * s);
    assert_eq!(next(&conn), Some(32 * s));
    conn.handle_timeout(t0 + 5 * s);
    assert_eq!(next(&conn), Some(32 * s), "an earlier now is the last one");
    conn.handle_timeout(t0 + 32 * s);
    assert_eq!(
        (server_frames(&conn.take_output()), next(&conn)),
        (ping, Some(42 * s))
    );
    conn.handle_timeout(t0 + 47 * s);
    let close = server_frames(&conn.take_output());
    assert_eq!(
        close,
        vec![(0x88, [&[0x03, 0xE9][..], b"idle timeout"].concat())]
    );
    assert_eq!((next(&conn), conn.state()), (None, State::Closed));
    assert!(matches!(conn.next_event(), Some(Event::Closed(c)) if c.code == CloseCode::GOING_AWAY));
}

/// The output limit: a send is taken while the output is under it (and
/// may cross it by one message), refused at or over it, nothing queued;
/// pings received then get one coalesced pong (the latest) past it.
#[test]
fn output_limit_at_and_past_it() {
    for limit in [1usize, 10, 100] {
        let config = Config::builder().max_output_buffer(limit).build();
        let mut conn = Connection::new(Role::Server, config);
        let mut taken = 0;
        while conn.send(Message::from(&b"a"[..])).is_ok() {
            taken += 1;
        }
        // Each one-byte message is 3 bytes: under the limit until the last.
        assert_eq!(taken, limit.div_ceil(3), "limit {limit}");
        let full = conn.output_len();
        assert!(full >= limit && full < limit + 3, "limit {limit}: {full}");
        let refused = conn.send(Message::from(&b"a"[..]));
        assert_eq!(
            refused,
            Err(SendError::OutputFull {
                pending: full,
                limit
            })
        );
        assert_eq!(
            conn.ping(b""),
            Err(SendError::OutputFull {
                pending: full,
                limit
            })
        );
        assert_eq!(conn.output_len(), full, "nothing queued");
        conn.receive(&client(FIN | PING, b"a"));
        conn.receive(&client(FIN | PING, b"b"));
        while conn.next_event().is_some() {}
        assert_eq!(conn.output_len(), full + 3, "one pong");
        let sent = server_frames(&conn.take_output());
        assert_eq!(sent.last(), Some(&(0x8A, b"b".to_vec())));
    }
}

/// Streaming mode keeps both limits: a frame over the frame limit and the
/// fragment that takes a message past the message limit are 1009 before
/// a byte of them is handed out; at the limits all of it comes.
#[test]
fn streaming_frame_and_message_limits_at_and_past_them() {
    for (frame, message, sizes, handed, code) in [
        (10u64, 10u64, &[10usize][..], 10usize, None),
        (10, 10, &[11], 0, Some(1009)),
        (10, 10, &[10, 10, 5], 10, Some(1009)),
        (10, 25, &[10, 10, 5], 25, None),
        (10, 25, &[10, 10, 6], 20, Some(1009)),
        (u64::MAX, 0, &[0], 0, None),
        (u64::MAX, 0, &[1], 0, Some(1009)),
    ] {
        let config = Config::builder()
            .streaming(true)
            .max_frame_size(frame)
            .max_message_size(message)
            .build();
        let mut wire = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let opcode = if i == 0 { BINARY } else { 0 };
            let fin = if i + 1 == sizes.len() { FIN } else { 0 };
            wire.extend(client(fin | opcode, &vec![b'a'; n]));
        }
        for in_place in [false, true] {
            let mut conn = Connection::new(Role::Server, config);
            match in_place {
                true => conn.read_buf().extend_from_slice(&wire),
                false => conn.receive(&wire),
            }
            let (mut got, mut last, mut closed) = (0, false, None);
            while let Some(event) = conn.next_event() {
                match event {
                    Event::Chunk { data, last: end } => {
                        got += data.as_bytes().len();
                        last |= end;
                    }
                    Event::Closed(c) => closed = Some(c.code.0),
                    other => panic!("{other:?}"),
                }
            }
            let case = format!("frame {frame}, message {message}, {sizes:?}");
            assert_eq!((got, closed), (handed, code), "{case}");
            assert_eq!(last, code.is_none(), "{case}");
        }
    }
}

/// An upgrade request's verdict: accepted with these subprotocols, or
/// refused with this status.
type Verdict = Result<&'static [&'static str], u16>;

/// Odd upgrade requests: the status each gets, the same whole and cut at
/// every point (partial before), and the accepted ones the same through
/// the `http` types.
#[test]
fn odd_upgrade_requests_whole_and_cut() {
    let base = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let with = |extra: &str| format!("{base}{extra}\r\n");
    let replaced = |from: &str, to: &str| format!("{}\r\n", base.replace(from, to));
    let cases: Vec<(&str, String, Verdict)> = vec![
        ("plain", with(""), Ok(&[])),
        ("folded header", with("X-A: a\r\n b\r\n"), Err(400)),
        (
            "duplicate key",
            with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            Err(400),
        ),
        (
            "duplicate version",
            with("Sec-WebSocket-Version: 13\r\n"),
            Err(400),
        ),
        ("version 8", replaced("Version: 13", "Version: 8"), Err(426)),
        (
            "versions 13, 8",
            replaced("Version: 13", "Version: 13, 8"),
            Err(426),
        ),
        (
            "no Upgrade",
            replaced("Upgrade: websocket\r\n", ""),
            Err(400),
        ),
        (
            "Upgrade list",
            replaced("Upgrade: websocket", "Upgrade: h2c, WebSocket"),
            Ok(&[]),
        ),
        (
            "Connection list",
            replaced("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
            Ok(&[]),
        ),
        ("two Hosts", with("Host: b\r\n"), Err(400)),
        ("empty Host", replaced("Host: a", "Host:"), Err(400)),
        ("space before colon", with("X-A : 1\r\n"), Err(400)),
        (
            "key of 15 bytes",
            replaced("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j"),
            Err(400),
        ),
        (
            "subprotocols on two lines",
            with("Sec-WebSocket-Protocol: chat, , superchat\r\nSec-WebSocket-Protocol: x\r\n"),
            Ok(&["chat", "superchat", "x"]),
        ),
        (
            "subprotocol not a token",
            with("Sec-WebSocket-Protocol: ch at\r\n"),
            Err(400),
        ),
        ("HEAD", replaced("GET", "HEAD"), Err(405)),
        ("HTTP/1.0", replaced("HTTP/1.1", "HTTP/1.0"), Err(505)),
        // 400 (a malformed head) before the fix.
        ("HTTP/2.0", replaced("HTTP/1.1", "HTTP/2.0"), Err(505)),
        ("HTTP/1.2", replaced("HTTP/1.1", "HTTP/1.2"), Err(505)),
        ("HTTP/3", replaced("HTTP/1.1", "HTTP/3"), Err(505)),
        ("HTTPS/1.1", replaced("HTTP/1.1", "HTTPS/1.1"), Err(400)),
        ("space in the method", replaced("GET", "GE T"), Err(400)),
        (
            "two spaces before the version",
            replaced(" HTTP/1.1", "  HTTP/2.0"),
            Err(400),
        ),
        (
            "empty line first, HTTP/2.0",
            format!("\r\n{}", replaced("HTTP/1.1", "HTTP/2.0")),
            Err(505),
        ),
        ("no version", replaced(" HTTP/1.1", ""), Err(400)),
        ("target *", replaced("/chat", "*"), Err(400)),
        (
            "absolute target",
            replaced("/chat", "ws://b:81/chat?y"),
            Ok(&[]),
        ),
        ("Content-Length: 0", with("Content-Length: 0\r\n"), Ok(&[])),
        ("Content-Length: 1", with("Content-Length: 1\r\n"), Err(400)),
        ("chunked", with("Transfer-Encoding: chunked\r\n"), Err(400)),
        ("NUL in a value", with("X-A: a\0b\r\n"), Err(400)),
        ("UTF-8 in a value", with("X-A: é\r\n"), Ok(&[])),
        ("UTF-8 in Origin", with("Origin: http://é\r\n"), Err(400)),
        (
            "two Origins",
            with("Origin: http://a\r\nOrigin: http://a\r\n"),
            Err(400),
        ),
    ];
    for (name, request, expected) in cases {
        let bytes = request.as_bytes();
        let whole = UpgradeRequest::parse(bytes);
        match (&whole, expected) {
            (Ok(Status::Complete((upgrade, used))), Ok(subprotocols)) => {
                assert_eq!(*used, bytes.len(), "{name}");
                assert_eq!(upgrade.path(), "/chat", "{name}");
                assert_eq!(
                    upgrade.subprotocols().collect::<Vec<_>>(),
                    subprotocols,
                    "{name}"
                );
                let mut http = http::Request::get(upgrade.target());
                for (field, value) in upgrade.headers() {
                    http = http.header(field, value);
                }
                let via_http = UpgradeRequest::from_http_request(&http.body(()).unwrap());
                assert!(via_http.is_ok(), "{name}: {via_http:?}");
            }
            (Err(err), Err(status)) => assert_eq!(err.status(), status, "{name}: {err}"),
            (whole, expected) => panic!("{name}: {whole:?}, expected {expected:?}"),
        }
        for cut in 0..bytes.len() {
            match UpgradeRequest::parse(&bytes[..cut]) {
                Ok(Status::Partial) => {}
                Err(err) if whole.as_ref().err() == Some(&err) => break,
                other => panic!("{name}, cut {cut}: {other:?}"),
            }
        }
    }
}

/// A xorshift generator: the random streams are the same at every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A client's stream of a few frames: pings, pongs, text (sometimes with
/// an invalid byte), binary, a fragmented text with a ping inside, a
/// close, an RSV1 frame nothing negotiated.
fn random_stream(rng: &mut Rng) -> Vec<u8> {
    let mut wire = Vec::new();
    for _ in 0..=rng.below(6) {
        match rng.below(8) {
            0 => wire.extend(client(FIN | PING, &vec![b'p'; rng.below(4) as usize])),
            1 => wire.extend(client(FIN | PONG, b"")),
            2 | 3 => {
                let len = rng.below(40) as usize;
                let mut text: Vec<u8> = "aé😀".bytes().cycle().take(len).collect();
                if rng.below(6) == 0 && !text.is_empty() {
                    let at = rng.below(text.len() as u64) as usize;
                    text[at] = 0xFF;
                }
                wire.extend(client(FIN | TEXT, &text));
            }
            4 => wire.extend(client(FIN | BINARY, &vec![3; rng.below(300) as usize])),
            5 => {
                let text = "ab😀cdé".as_bytes();
                let cut = rng.below(text.len() as u64) as usize;
                wire.extend(client(TEXT, &text[..cut]));
                if rng.below(2) == 0 {
                    wire.extend(client(FIN | PING, b"x"));
                }
                wire.extend(client(FIN, &text[cut..]));
            }
            6 if rng.below(4) == 0 => {
                let code = 1000 + rng.below(3) as u16 * 1000;
                wire.extend(client(FIN | CLOSE, &close_payload(code, b"r")));
            }
            7 if rng.below(5) == 0 => wire.extend(client(0x40 | FIN | BINARY, b"rsv")),
            _ => wire.extend(client(FIN | BINARY, b"")),
        }
    }
    wire
}

/// An event with a streamed message's pieces joined.
#[derive(Debug, PartialEq)]
enum Seen {
    Message(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(u16, String),
}

/// `wire` fed in pieces ending at `cuts`, piece `i` through `read_buf`
/// (in reads as `prepare_read(16)` limits them) if `in_place[i % len]`,
/// else `receive`: the events and the output.
fn feed(config: Config, wire: &[u8], cuts: &[usize], in_place: &[bool]) -> (Vec<Seen>, Vec<u8>) {
    fn drain(conn: &mut Connection, seen: &mut Vec<Seen>, piece: &mut Option<Vec<u8>>) {
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(m) => {
                    let text = matches!(m, Message::Text(_));
                    seen.push(Seen::Message(m.as_bytes().to_vec(), text));
                }
                Event::Chunk { data, last } => {
                    let joined = piece.get_or_insert_with(Vec::new);
                    joined.extend_from_slice(data.as_bytes());
                    if last {
                        let text = matches!(data, Message::Text(_));
                        seen.push(Seen::Message(piece.take().unwrap_or_default(), text));
                    }
                }
                Event::Ping(p) => seen.push(Seen::Ping(p.to_vec())),
                Event::Pong(p) => seen.push(Seen::Pong(p.to_vec())),
                Event::Closed(c) => seen.push(Seen::Closed(c.code.0, c.reason.clone())),
            }
        }
    }
    let mut conn = Connection::new(Role::Server, config);
    let (mut seen, mut piece, mut out) = (Vec::new(), None, Vec::new());
    let mut start = 0;
    for (i, &end) in cuts.iter().chain([wire.len()].iter()).enumerate() {
        let bytes = &wire[start..end.max(start)];
        start = end.max(start);
        if in_place[i % in_place.len()] {
            let mut at = 0;
            while at < bytes.len() {
                let n = conn.prepare_read(16).min(bytes.len() - at);
                conn.read_buf().extend_from_slice(&bytes[at..at + n]);
                at += n;
                drain(&mut conn, &mut seen, &mut piece);
            }
        } else {
            conn.receive(bytes);
        }
        drain(&mut conn, &mut seen, &mut piece);
        out.extend_from_slice(&conn.take_output());
    }
    (seen, out)
}

/// Random streams, streaming or not, with small limits: `receive` and
/// `read_buf` (and both mixed) give the same events and output whole,
/// byte by byte and cut at every point.
#[test]
fn receive_and_read_buf_agree_on_random_streams_cut_at_every_point() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let wire = random_stream(&mut rng);
        for streaming in [false, true] {
            let config = Config::builder()
                .streaming(streaming)
                .max_frame_size(200)
                .max_message_size(250)
                .build();
            let want = feed(config, &wire, &[], &[false]);
            let check = |got: (Vec<Seen>, Vec<u8>), how: &str| {
                let case = format!("round {round}, streaming {streaming}, {how}: {wire:02x?}");
                assert_eq!(got.0, want.0, "{case}");
                assert_eq!(got.1, want.1, "{case}: output");
            };
            check(feed(config, &wire, &[], &[true]), "read_buf whole");
            let every: Vec<usize> = (1..wire.len()).collect();
            check(
                feed(config, &wire, &every, &[false]),
                "receive byte by byte",
            );
            check(
                feed(config, &wire, &every, &[true]),
                "read_buf byte by byte",
            );
            check(
                feed(config, &wire, &every, &[true, false, false]),
                "mixed byte by byte",
            );
            for cut in 0..=wire.len() {
                check(
                    feed(config, &wire, &[cut], &[true, false]),
                    &format!("cut {cut}"),
                );
                check(
                    feed(config, &wire, &[cut], &[false, true]),
                    &format!("cut {cut}"),
                );
            }
        }
    }
}

/// A peer that reads nothing and says nothing: a `send` is not ended by
/// the idle timeout on a whole `WebSocket` (the timers run in `next`), and
/// is on a split one whose reader is polled: with `Error::Closed` at the
/// idle timeout while it waits for room, or, queued and waiting for its
/// write, with `TimedOut` when the close timeout gives the output up. As
/// `send`'s docs say.
#[tokio::test(start_paused = true)]
async fn a_blocked_send_ends_at_the_idle_timeout_only_with_a_reader() {
    let idle = Duration::from_secs(5);
    let config = Config::builder()
        .idle_timeout(Some(idle))
        .max_output_buffer(1000)
        .build();
    let big = || Message::from(vec![1u8; 600]);

    for fed in [1, 2] {
        let (ours, _peer) = tokio::io::duplex(64);
        let mut ws = server_ws(ours, config);
        for _ in 0..fed {
            ws.feed(big()).await.unwrap();
        }
        let waited = tokio::time::timeout(20 * idle, ws.send(big())).await;
        assert!(waited.is_err(), "{fed} fed: {waited:?}");

        let (ours, _peer) = tokio::io::duplex(64);
        let (mut reader, mut writer) = server_ws(ours, config).split();
        let reading = tokio::spawn(async move { reader.next().await });
        for _ in 0..fed {
            writer.feed(big()).await.unwrap();
        }
        let start = tokio::time::Instant::now();
        let sent = tokio::time::timeout(20 * idle, writer.send(big())).await;
        let took = start.elapsed();
        match fed {
            // Over the limit: waiting for room.
            2 => {
                assert!(matches!(sent, Ok(Err(Error::Closed))), "{sent:?}");
                assert_eq!(took, idle);
            }
            // Queued, waiting for its write.
            _ => {
                assert!(
                    matches!(&sent, Ok(Err(Error::Io(e))) if e.kind() == std::io::ErrorKind::TimedOut),
                    "{sent:?}"
                );
                assert_eq!(took, idle + Config::DEFAULT_CLOSE_TIMEOUT);
            }
        }
        let closed = reading.await.unwrap();
        assert!(
            matches!(&closed, Some(Ok(Event::Closed(c))) if c.code == CloseCode::GOING_AWAY),
            "{fed} fed: {closed:?}"
        );
    }
}

/// What the `handshake` fuzz target found in this session's 505 for
/// another HTTP version: the verdict comes from the request line, before
/// the head ends, which its "trickled head" property took for a verdict
/// of a complete head only (first byte 0: a request; second: its cuts).
#[test]
fn a_505_from_the_request_line_alone_is_due_at_the_line() {
    let mut input = b"\x00\x00".to_vec();
    input.extend_from_slice(b"GET ahc/c/t HTTP/2.1\r\nHost: serve2.example.st\r\n");
    input.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    input.extend_from_slice(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    wsframe::fuzzing::handshake(&input);
    let request = &input[2..];
    let verdict = UpgradeRequest::parse(request);
    assert_eq!(verdict, Err(HandshakeError::HttpVersion));
    assert_eq!(
        UpgradeRequest::parse(&request[..18]),
        verdict,
        "as soon as the 2"
    );
    assert_eq!(UpgradeRequest::parse(&request[..17]), Ok(Status::Partial));
}
