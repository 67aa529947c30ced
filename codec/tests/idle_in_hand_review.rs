//! A newcomer's attempts to break the idle timeout's drain of the bytes in
//! hand (session 23), from the README, the docs and the CHANGELOG only:
//! the drain mixed with the application's `close`, `send`, ping and pong
//! (all refused with `SendError::Closed`, nothing queued after the 1001),
//! with a configured close timeout and keepalive (no timer, no second
//! close), with reads during and after it (`receive`, `read_buf`,
//! `prepare_read`: ignored, never joining the bytes in hand, and a caller
//! that keeps reading 1 MiB chunks holds one at most), a message whose
//! last byte comes at the deadline (bytes then time, time then bytes, as
//! `handle_timeout`'s "Order" says), streamed pieces of a compressed
//! message held for room, and `None` for ever after the final close,
//! however the drain ended. The tokio wrapper: the split halves with
//! paused time (the writer refused with `Error::Closed` during the
//! drain), and the tokio-util codec fed 1 MiB after the close. Events are
//! checked against the frames as built, text against
//! `std::str::from_utf8`, compressed data against its source.

mod common;

use std::time::{Duration, Instant};

use common::{client, close_payload, hand_driven::wire, CLOSE, CONT, FIN, PING, TEXT};
use wsframe::{
    CloseCode, Closed, Config, Connection, Event, Initiator, Message, Role, SendError, State,
};

const SECOND: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(10);
const MIB: usize = 1 << 20;

fn idle_close_frame() -> (u8, Vec<u8>) {
    (FIN | CLOSE, close_payload(1001, b"idle timeout"))
}

fn closed(code: u16, reason: &str, initiator: Initiator) -> Event {
    Event::Closed(Box::new(Closed {
        code: CloseCode(code),
        reason: reason.to_owned(),
        initiator,
        error: None,
    }))
}

fn idle_closed() -> Event {
    closed(1001, "idle timeout", Initiator::Local)
}

fn text(s: &str) -> Event {
    Event::Message(Message::from(s))
}

/// A server with `config` plus the idle timeout, `input` received (in
/// `cuts`) and not read, the idle deadline reached: the connection and
/// the deadline.
fn idle_with_in_hand(
    config: wsframe::ConfigBuilder,
    input: &[u8],
    cuts: &[usize],
) -> (Connection, Instant) {
    idle_with_in_hand_via(config, input, cuts, false)
}

/// [`idle_with_in_hand`], every other piece appended to `read_buf` when
/// `via_read_buf`.
fn idle_with_in_hand_via(
    config: wsframe::ConfigBuilder,
    input: &[u8],
    cuts: &[usize],
    via_read_buf: bool,
) -> (Connection, Instant) {
    let mut conn = Connection::new(Role::Server, config.idle_timeout(Some(IDLE)).build());
    let start = Instant::now();
    conn.handle_timeout(start);
    common::hand_driven::feed(&mut conn, input, cuts, |i| via_read_buf && i % 2 == 0);
    conn.handle_timeout(start + SECOND);
    let deadline = start + SECOND + IDLE;
    conn.handle_timeout(deadline);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(wire(&mut conn), [idle_close_frame()]);
    (conn, deadline)
}

/// Every way the application can try to send: all refused as after our
/// close frame, nothing queued.
fn every_send_refused(conn: &mut Connection, how: &str) {
    assert_eq!(
        conn.send(Message::from("x")),
        Err(SendError::Closed),
        "{how}"
    );
    assert_eq!(
        conn.send_compressed(Message::from("x"), true),
        Err(SendError::Closed),
        "{how}"
    );
    assert_eq!(
        conn.send_fragment(Message::from("x"), false),
        Err(SendError::Closed),
        "{how}"
    );
    assert_eq!(
        conn.send_split(Message::from("x")),
        Err(SendError::Closed),
        "{how}"
    );
    assert_eq!(conn.ping(b"p"), Err(SendError::Closed), "{how}");
    assert_eq!(conn.pong(b"p"), Err(SendError::Closed), "{how}");
    assert_eq!(
        conn.close(CloseCode::NORMAL, "bye"),
        Err(SendError::Closed),
        "{how}"
    );
    assert!(!conn.has_output(), "{how}: nothing after the 1001");
}

/// A late 1 MiB through every input path: ignored.
fn late_megabyte(conn: &mut Connection, now: Instant) {
    let late = client(FIN | TEXT, &vec![b'z'; MIB]);
    conn.receive(&late);
    let limit = conn.prepare_read(MIB);
    assert!(limit >= MIB);
    conn.read_buf().extend_from_slice(&late);
    conn.handle_timeout(now);
    conn.read_buf().extend_from_slice(&late[..MIB / 2]);
}

#[test]
fn the_application_closing_sending_and_pinging_during_the_drain_is_refused() {
    let input = [
        client(FIN | TEXT, b"one"),
        client(FIN | PING, b"are you there"),
        client(FIN | TEXT, b"two"),
    ]
    .concat();
    let (mut conn, deadline) = idle_with_in_hand(Config::builder(), &input, &[]);
    every_send_refused(&mut conn, "before the first event");
    assert_eq!(conn.next_event(), Some(text("one")));
    every_send_refused(&mut conn, "after one");
    assert_eq!(
        conn.next_event(),
        Some(Event::Ping(bytes::Bytes::from_static(b"are you there")))
    );
    every_send_refused(&mut conn, "after the ping");
    conn.handle_timeout(deadline + IDLE);
    assert_eq!(conn.next_event(), Some(text("two")));
    assert_eq!(conn.next_event(), Some(idle_closed()));
    every_send_refused(&mut conn, "after the close");
    assert_eq!(conn.next_event(), None);
}

#[test]
fn a_close_timeout_and_keepalive_add_nothing_during_or_after_the_drain() {
    let input = [client(FIN | TEXT, b"one"), client(FIN | TEXT, b"two")].concat();
    let config = || {
        Config::builder()
            .ping_interval(Some(Duration::from_secs(3)))
            .close_timeout(Some(Duration::from_secs(2)))
    };
    let (mut conn, deadline) = idle_with_in_hand(config(), &input, &[]);
    assert_eq!(conn.poll_timeout(), None, "no timer while draining");
    let mut events = Vec::new();
    for step in 1..=4u32 {
        // The clock runs on past every deadline the config has.
        conn.handle_timeout(deadline + IDLE * step);
        assert_eq!(conn.poll_timeout(), None, "step {step}");
        assert!(!conn.has_output(), "step {step}: no ping, no second close");
        events.extend(conn.next_event());
    }
    assert_eq!(events, [text("one"), text("two"), idle_closed()]);
    assert_eq!(conn.next_event(), None);

    // Our close went first (the application's): the idle timeout never
    // runs while it waits, the close timeout alone decides, and data in
    // hand is not processed after our close (§5.5.1).
    let mut conn = Connection::new(Role::Server, config().idle_timeout(Some(IDLE)).build());
    let start = Instant::now();
    conn.handle_timeout(start);
    conn.close(CloseCode::NORMAL, "bye").unwrap();
    conn.receive(&input);
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + 3 * SECOND + IDLE);
    assert_eq!(
        wire(&mut conn),
        [(FIN | CLOSE, close_payload(1000, b"bye"))],
        "no 1001 after our close"
    );
    let events: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
    assert_eq!(events, [closed(1006, "close timeout", Initiator::Local)]);
    assert_eq!(conn.next_event(), None);
}

#[test]
fn reads_during_and_after_the_drain_are_ignored_and_hold_one_read_at_most() {
    // 1 MiB chunks read after the close, through every input path, many
    // times: the bytes in hand come out whole, none of the late bytes
    // joins them, and memory stays at one chunk.
    let big = "0123456789abcdef".repeat(4096);
    let input = [
        client(FIN | TEXT, b"one"),
        client(FIN | TEXT, big.as_bytes()),
        // Cut: its rest is among the late bytes, and must not complete it.
        client(FIN | TEXT, b"never whole")[..9].to_vec(),
    ]
    .concat();
    let rest_of_cut = client(FIN | TEXT, b"never whole")[9..].to_vec();
    for (cuts, via_read_buf) in [vec![], vec![5], vec![input.len() - 1]]
        .into_iter()
        .flat_map(|cuts| [(cuts.clone(), false), (cuts, true)])
    {
        let (mut conn, deadline) =
            idle_with_in_hand_via(Config::builder(), &input, &cuts, via_read_buf);
        let in_hand = conn.buffered_len();
        assert!(in_hand >= big.len(), "{cuts:?} {via_read_buf}: {in_hand}");
        conn.receive(&rest_of_cut);
        conn.read_buf().extend_from_slice(&rest_of_cut);
        let mut events = Vec::new();
        for round in 0..40u32 {
            late_megabyte(&mut conn, deadline + SECOND * round);
            let room = conn.prepare_read(MIB);
            assert!(
                room <= 3 * MIB,
                "{cuts:?} {via_read_buf}, round {round}: the ignored buffer grew to {room}"
            );
            assert!(
                conn.buffered_len() <= in_hand,
                "{cuts:?} {via_read_buf}, round {round}: {} held",
                conn.buffered_len()
            );
            if round % 10 == 9 {
                events.extend(conn.next_event());
            }
        }
        assert_eq!(
            events,
            [text("one"), text(&big), idle_closed(),],
            "{cuts:?} {via_read_buf}"
        );
        assert_eq!(conn.buffered_len(), 0);
        for _ in 0..5 {
            late_megabyte(&mut conn, deadline + 100 * IDLE);
            assert_eq!(
                conn.next_event(),
                None,
                "{cuts:?} {via_read_buf}: None for ever"
            );
        }
    }
}

#[test]
fn every_ending_of_the_drain_is_followed_by_none_for_ever() {
    let endings: [(&str, Vec<u8>, Event); 4] = [
        ("the idle close", vec![], idle_closed()),
        (
            "the peer's close",
            [
                client(FIN | CLOSE, &close_payload(1000, b"done")),
                client(FIN | TEXT, b"behind the close"),
            ]
            .concat(),
            closed(1000, "done", Initiator::Peer),
        ),
        (
            "an incomplete message",
            client(TEXT, b"first half"),
            idle_closed(),
        ),
        (
            "invalid UTF-8",
            [client(FIN | TEXT, b"\xff"), client(FIN | TEXT, b"behind")].concat(),
            Event::Closed(Box::new(Closed {
                code: CloseCode(1007),
                reason: String::new(),
                initiator: Initiator::Local,
                error: None,
            })),
        ),
    ];
    for (what, tail, end) in endings {
        let input = [client(FIN | TEXT, b"in time"), tail].concat();
        let (mut conn, deadline) = idle_with_in_hand(Config::builder(), &input, &[]);
        assert_eq!(conn.next_event(), Some(text("in time")), "{what}");
        let got = conn.next_event();
        match (&got, &end) {
            (Some(Event::Closed(got)), Event::Closed(want)) => {
                assert_eq!(
                    (got.code, got.initiator),
                    (want.code, want.initiator),
                    "{what}"
                );
                if want.code != CloseCode(1007) {
                    assert_eq!(got.reason, want.reason, "{what}");
                }
            }
            _ => panic!("{what}: {got:?}"),
        }
        for round in 0..5u32 {
            late_megabyte(&mut conn, deadline + IDLE * round);
            assert_eq!(conn.next_event(), None, "{what}, round {round}");
            assert_eq!(conn.poll_timeout(), None, "{what}");
            // The last late read (half a MiB), ignored and held until the
            // next call: one read at most, however many came.
            assert_eq!(conn.buffered_len(), MIB / 2, "{what}");
        }
        assert_eq!(conn.state(), State::Closed, "{what}");
        assert!(!conn.has_output(), "{what}: the 1001 was the last frame");
    }
}

#[test]
fn a_message_whose_last_byte_comes_at_the_deadline() {
    let message = client(FIN | TEXT, b"just in time");
    let (head, last) = message.split_at(message.len() - 1);
    for use_read_buf in [false, true] {
        let feed = |conn: &mut Connection, bytes: &[u8]| {
            if use_read_buf {
                conn.read_buf().extend_from_slice(bytes);
            } else {
                conn.receive(bytes);
            }
        };
        // Bytes then time: the last byte is a sign of life at the
        // deadline, the connection stays open.
        let mut conn = Connection::new(
            Role::Server,
            Config::builder().idle_timeout(Some(IDLE)).build(),
        );
        let start = Instant::now();
        conn.handle_timeout(start);
        feed(&mut conn, head);
        conn.handle_timeout(start + SECOND);
        let deadline = start + SECOND + IDLE;
        feed(&mut conn, last);
        conn.handle_timeout(deadline);
        assert_eq!(conn.state(), State::Open, "read_buf {use_read_buf}");
        assert_eq!(conn.poll_timeout(), Some(deadline + IDLE));
        assert!(!conn.has_output());
        assert_eq!(conn.next_event(), Some(text("just in time")));
        assert_eq!(conn.next_event(), None);

        // Time then bytes: the message was incomplete at the deadline, it
        // is dropped, and its last byte ignored.
        let mut conn = Connection::new(
            Role::Server,
            Config::builder().idle_timeout(Some(IDLE)).build(),
        );
        conn.handle_timeout(start);
        feed(&mut conn, head);
        conn.handle_timeout(start + SECOND);
        conn.handle_timeout(deadline);
        feed(&mut conn, last);
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(wire(&mut conn), [idle_close_frame()]);
        assert_eq!(
            conn.next_event(),
            Some(idle_closed()),
            "read_buf {use_read_buf}"
        );
        assert_eq!(conn.next_event(), None);
    }
}

/// A server in streaming mode with permessage-deflate negotiated (context
/// taken over both ways) and the idle timeout, whose clock started now;
/// and that instant.
#[cfg(feature = "deflate")]
fn streaming_deflate_server() -> (Connection, Instant) {
    let mut conn = Connection::with_deflate(
        Role::Server,
        Config::builder()
            .streaming(true)
            .idle_timeout(Some(IDLE))
            .build(),
        Some(common::deflate::TAKEOVER),
    );
    let start = Instant::now();
    conn.handle_timeout(start);
    (conn, start)
}

#[cfg(feature = "deflate")]
#[test]
fn streamed_pieces_of_a_compressed_message_held_for_room_all_come_out() {
    use common::deflate::{sync_message, RSV1};
    use flate2::{Compress, Compression};
    // 1 MiB of text inflates from a few KiB: its pieces (64 KiB at most
    // each) are handed out one per call, the compressed input held in
    // between. The application took one piece, then was busy.
    let source: Vec<u8> = "the idle drain, piece by piece. "
        .repeat(MIB / 32)
        .into_bytes();
    let mut compressor = Compress::new(Compression::new(9), false);
    let payload = sync_message(&mut compressor, &source);
    let after = b"and one more".to_vec();
    let payload2 = sync_message(&mut compressor, &after);
    let input = [
        client(FIN | RSV1 | TEXT, &payload),
        client(FIN | RSV1 | TEXT, &payload2),
    ]
    .concat();
    for cuts in [vec![], vec![payload.len() / 2], vec![input.len() - 1]] {
        let (mut conn, start) = streaming_deflate_server();
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&input.len())) {
            conn.receive(&input[from..to]);
            from = to;
        }
        conn.handle_timeout(start + SECOND);
        let mut events: Vec<Event> = conn.next_event().into_iter().collect();
        assert!(
            matches!(events[0], Event::Chunk { last: false, .. }),
            "{cuts:?}: {:?}",
            events[0]
        );
        conn.handle_timeout(start + SECOND + IDLE);
        assert_eq!(conn.state(), State::Closed, "{cuts:?}");
        assert_eq!(wire(&mut conn), [idle_close_frame()], "{cuts:?}");
        // Late bytes in the middle of the drain change nothing.
        late_megabyte(&mut conn, start + 2 * IDLE);
        events.extend(std::iter::from_fn(|| conn.next_event()));
        let (end, pieces) = events.split_last().unwrap();
        assert_eq!(end, &idle_closed(), "{cuts:?}");
        let mut messages: Vec<Vec<u8>> = vec![Vec::new()];
        for (i, piece) in pieces.iter().enumerate() {
            let Event::Chunk { data, last } = piece else {
                panic!("{cuts:?}: {piece:?}");
            };
            assert!(data.as_bytes().len() <= 64 * 1024, "{cuts:?}");
            messages
                .last_mut()
                .unwrap()
                .extend_from_slice(data.as_bytes());
            if *last && i + 1 < pieces.len() {
                messages.push(Vec::new());
            }
        }
        assert!(matches!(
            pieces.last(),
            Some(Event::Chunk { last: true, .. })
        ));
        assert_eq!(messages.len(), 2, "{cuts:?}");
        assert!(
            messages[0] == source,
            "{cuts:?}: {} bytes",
            messages[0].len()
        );
        assert_eq!(messages[1], after, "{cuts:?}");
        assert_eq!(conn.next_event(), None);
    }
}

#[cfg(feature = "tokio")]
#[test]
fn the_tokio_codec_fed_megabytes_after_the_close_holds_one_at_most() {
    use tokio_util::codec::Decoder;
    use wsframe::tokio::WsCodec;
    let config = Config::builder().idle_timeout(Some(IDLE)).build();
    let mut codec = WsCodec::from_connection(Connection::new(Role::Server, config));
    let start = Instant::now();
    codec.connection_mut().handle_timeout(start);
    let mut src = bytes::BytesMut::from(
        &[
            client(FIN | TEXT, b"one"),
            client(FIN | TEXT, b"two"),
            client(TEXT, b"cut"),
        ]
        .concat()[..],
    );
    assert_eq!(codec.decode(&mut src).unwrap(), Some(text("one")));
    codec.connection_mut().handle_timeout(start + SECOND);
    codec.connection_mut().handle_timeout(start + SECOND + IDLE);
    let late = client(FIN | TEXT, &vec![b'z'; MIB]);
    let mut events = Vec::new();
    for round in 0..20 {
        src.extend_from_slice(&late);
        events.extend(codec.decode(&mut src).unwrap());
        assert!(src.is_empty(), "round {round}: the codec takes every byte");
        // What was in hand (under 64 bytes) and the last late read at
        // most, ignored and held until the next.
        assert!(
            codec.connection().buffered_len() <= late.len() + 64,
            "round {round}"
        );
    }
    assert_eq!(events, [text("two"), idle_closed()]);
    src.extend_from_slice(&late);
    assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
    assert_eq!(wire(codec.connection_mut()), [idle_close_frame()]);
}

#[cfg(feature = "tokio")]
mod tokio_split {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::time::sleep;
    use wsframe::tokio::{Error, WebSocket};

    /// A server `WebSocket` with `config` over a duplex pipe, and the
    /// peer's end, into which one write put three text messages, "one",
    /// "two" and "three", masked as a client sends them.
    async fn three_messages_sent(config: Config) -> (WebSocket<DuplexStream>, DuplexStream) {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let ws = WebSocket::from_connection(ours, Connection::new(Role::Server, config));
        let mut peer = Connection::new(Role::Client, Config::default());
        for word in ["one", "two", "three"] {
            peer.send(Message::from(word)).unwrap();
        }
        theirs.write_all(&peer.take_output()).await.unwrap();
        (ws, theirs)
    }

    /// The split halves with paused time: the reader took one of three
    /// messages one read brought, and was busy past the idle deadline.
    /// The writer, during the drain, is refused with `Error::Closed`; the
    /// reader gets the two others, then the 1001, then the end; the peer
    /// got the 1001 close frame at the deadline, and nothing else.
    #[tokio::test(start_paused = true)]
    async fn the_split_halves_during_the_drain() {
        let (ws, mut theirs) = three_messages_sent(
            Config::builder()
                .idle_timeout(Some(Duration::from_secs(15)))
                .close_timeout(Some(Duration::from_secs(5)))
                .build(),
        )
        .await;
        let (mut reader, mut writer) = ws.split();
        assert_eq!(reader.next().await.unwrap().unwrap(), text("one"));
        sleep(Duration::from_secs(20)).await;
        assert_eq!(reader.next().await.unwrap().unwrap(), text("two"));
        // The close frame went at the deadline, before the events in hand.
        let mut wrote = vec![0; 64];
        let n = tokio::time::timeout(SECOND, theirs.read(&mut wrote))
            .await
            .expect("the 1001 written")
            .unwrap();
        assert_eq!(common::server_frames(&wrote[..n]), [idle_close_frame()]);
        assert!(matches!(
            writer.send(Message::from("late")).await,
            Err(Error::Closed)
        ));
        assert_eq!(reader.next().await.unwrap().unwrap(), text("three"));
        assert!(matches!(
            writer.send(Message::from("later")).await,
            Err(Error::Closed)
        ));
        assert_eq!(reader.next().await.unwrap().unwrap(), idle_closed());
        assert!(reader.next().await.is_none());
        assert!(reader.next().await.is_none());
        // Nothing more was written: the peer reads the end of the stream
        // or nothing.
        drop((reader, writer));
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(SECOND, theirs.read_to_end(&mut rest)).await;
        assert_eq!(rest, b"", "nothing after the 1001");
    }

    /// The peer hung up while the application was busy with events in
    /// hand (one read brought three messages): no sign of life, the idle
    /// timeout closes, and its 1001 cannot be written. The messages in
    /// hand still come out, then the end; nothing is repeated, and the
    /// stream ends for good.
    #[tokio::test(start_paused = true)]
    async fn a_peer_gone_during_the_busy_time_still_gets_its_messages_out() {
        let (mut ws, theirs) = three_messages_sent(
            Config::builder()
                .idle_timeout(Some(Duration::from_secs(15)))
                .build(),
        )
        .await;
        assert_eq!(ws.next().await.unwrap().unwrap(), text("one"));
        sleep(Duration::from_secs(5)).await;
        drop(theirs);
        sleep(Duration::from_secs(20)).await;
        let mut seen = Vec::new();
        while let Some(item) = ws.next().await {
            seen.push(format!("{item:?}"));
            assert!(seen.len() < 10, "{seen:?}");
        }
        assert!(ws.next().await.is_none());
        // A write error is no reason to withhold the close (tokio `next`).
        let want: Vec<String> = [text("two"), text("three"), idle_closed()]
            .into_iter()
            .map(|event| format!("{:?}", Ok::<_, Error>(event)))
            .collect();
        assert_eq!(seen, want);
    }

    /// The `futures` `Stream` and `Sink` of the split halves during the
    /// drain: the sink refuses with `Error::Closed` (its `close` only
    /// writes what is queued), the stream gives the events in hand, the
    /// 1001, then the end.
    #[cfg(feature = "futures")]
    #[tokio::test(start_paused = true)]
    async fn the_stream_and_sink_during_the_drain() {
        use futures_util::{SinkExt, StreamExt};
        let (ws, mut theirs) = three_messages_sent(
            Config::builder()
                .idle_timeout(Some(Duration::from_secs(15)))
                .build(),
        )
        .await;
        let (mut reader, mut writer) = ws.split();
        assert_eq!(
            StreamExt::next(&mut reader).await.unwrap().unwrap(),
            text("one")
        );
        sleep(Duration::from_secs(20)).await;
        assert_eq!(
            StreamExt::next(&mut reader).await.unwrap().unwrap(),
            text("two")
        );
        assert!(matches!(
            SinkExt::send(&mut writer, Message::from("late")).await,
            Err(Error::Closed)
        ));
        assert!(SinkExt::close(&mut writer).await.is_ok());
        let rest: Vec<Event> = StreamExt::map(&mut reader, Result::unwrap).collect().await;
        assert_eq!(rest, [text("three"), idle_closed()]);
        assert!(StreamExt::next(&mut reader).await.is_none());
        let mut wrote = vec![0; 64];
        let n = tokio::time::timeout(SECOND, theirs.read(&mut wrote))
            .await
            .expect("the 1001 written")
            .unwrap();
        assert_eq!(common::server_frames(&wrote[..n]), [idle_close_frame()]);
    }

    /// `close` called by the application during the drain: the idle
    /// timeout's close was decided at the deadline, so it is refused as
    /// after any close (`Error::Closed`), and the events in hand stay.
    #[tokio::test(start_paused = true)]
    async fn close_during_the_drain() {
        let (mut ws, _theirs) = three_messages_sent(
            Config::builder()
                .idle_timeout(Some(Duration::from_secs(15)))
                .build(),
        )
        .await;
        assert_eq!(ws.next().await.unwrap().unwrap(), text("one"));
        sleep(Duration::from_secs(20)).await;
        assert_eq!(ws.next().await.unwrap().unwrap(), text("two"));
        match ws.close(CloseCode::NORMAL, "bye").await {
            Err(Error::Closed) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(ws.next().await.unwrap().unwrap(), text("three"));
        assert_eq!(ws.next().await.unwrap().unwrap(), idle_closed());
        assert!(ws.next().await.is_none());
        match ws.close(CloseCode::NORMAL, "bye").await {
            Err(Error::Closed) => {}
            other => panic!("after the end: {other:?}"),
        }
        assert!(ws.next().await.is_none());
    }
}

/// A large message read in place through `prepare_read` and `read_buf`,
/// the application asking `next_event` after every read (so the reader
/// keeps the frame's payload where it lands), busy once the last read
/// came: the whole message is handed out after the deadline, in both
/// modes; half of it is dropped (whole mode) or its pieces handed out
/// (streaming).
#[test]
fn a_large_message_read_in_place_then_left_unread_at_the_deadline() {
    let payload: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let frame = client(FIN | TEXT, &payload);
    for streaming in [false, true] {
        for chunk in [1000, 4096, 65536] {
            for arrived in [frame.len(), frame.len() / 2] {
                let how = format!("streaming {streaming}, chunk {chunk}, arrived {arrived}");
                let mut conn = Connection::new(
                    Role::Server,
                    Config::builder()
                        .streaming(streaming)
                        .idle_timeout(Some(IDLE))
                        .build(),
                );
                let start = Instant::now();
                conn.handle_timeout(start);
                let mut got: Vec<u8> = Vec::new();
                let mut events = Vec::new();
                let mut at = 0;
                while at < arrived {
                    let limit = conn.prepare_read(chunk).min(chunk).min(arrived - at);
                    conn.read_buf().extend_from_slice(&frame[at..at + limit]);
                    at += limit;
                    if at < arrived {
                        // In time: read what is whole so far.
                        events.extend(std::iter::from_fn(|| conn.next_event()));
                    }
                }
                conn.handle_timeout(start + SECOND);
                conn.handle_timeout(start + SECOND + IDLE);
                assert_eq!(conn.state(), State::Closed, "{how}");
                assert_eq!(wire(&mut conn), [idle_close_frame()], "{how}");
                // A late read in the middle changes nothing.
                let room = conn.prepare_read(chunk);
                conn.read_buf()
                    .extend_from_slice(&frame[..room.min(frame.len())]);
                events.extend(std::iter::from_fn(|| conn.next_event()));
                let (end, rest) = events.split_last().unwrap();
                assert_eq!(end, &idle_closed(), "{how}");
                let mut ended = false;
                for event in rest {
                    match event {
                        Event::Message(m) => {
                            got.extend_from_slice(m.as_bytes());
                            ended = true;
                        }
                        Event::Chunk { data, last } => {
                            got.extend_from_slice(data.as_bytes());
                            ended |= *last;
                        }
                        other => panic!("{how}: {other:?}"),
                    }
                }
                if arrived == frame.len() {
                    assert!(ended && got == payload, "{how}: {} bytes", got.len());
                } else if streaming {
                    assert!(!ended && payload.starts_with(&got), "{how}");
                    assert!(got.len() + 14 >= arrived - 10, "{how}: {}", got.len());
                } else {
                    assert!(got.is_empty(), "{how}");
                }
                assert_eq!(conn.next_event(), None, "{how}");
                // Only the late read, ignored and held until the next call.
                assert_eq!(conn.buffered_len(), room.min(frame.len()), "{how}");
            }
        }
    }
}

/// A compressed message cut at the deadline in streaming mode, its input
/// held for room: every piece inflated from what arrived comes out, none
/// says `last`, then the 1001; the bytes that complete it, late, are
/// ignored.
#[cfg(feature = "deflate")]
#[test]
fn a_cut_compressed_message_held_for_room_gives_its_pieces_then_the_close() {
    use common::deflate::{sync_message, RSV1};
    use flate2::{Compress, Compression};
    let source: Vec<u8> = "held for room, then cut. ".repeat(MIB / 25).into_bytes();
    let mut compressor = Compress::new(Compression::new(9), false);
    let payload = sync_message(&mut compressor, &source);
    let frame = client(FIN | RSV1 | TEXT, &payload);
    for missing in [1, 5, payload.len() / 2] {
        let (mut conn, start) = streaming_deflate_server();
        conn.receive(&frame[..frame.len() - missing]);
        conn.handle_timeout(start + SECOND);
        let mut events: Vec<Event> = conn.next_event().into_iter().collect();
        conn.handle_timeout(start + SECOND + IDLE);
        assert_eq!(wire(&mut conn), [idle_close_frame()], "missing {missing}");
        conn.receive(&frame[frame.len() - missing..]);
        events.extend(std::iter::from_fn(|| conn.next_event()));
        let (end, pieces) = events.split_last().unwrap();
        assert_eq!(end, &idle_closed(), "missing {missing}");
        let mut got = Vec::new();
        for piece in pieces {
            let Event::Chunk { data, last: false } = piece else {
                panic!("missing {missing}: {piece:?}");
            };
            got.extend_from_slice(data.as_bytes());
        }
        assert!(source.starts_with(&got), "missing {missing}");
        assert!(
            got.len() > 64 * 1024,
            "missing {missing}: more than the first piece, {} bytes",
            got.len()
        );
        assert_eq!(conn.next_event(), None);
        assert_eq!(conn.buffered_len(), 0);
    }
}

/// A fragmented message with a ping between its fragments, in hand: the
/// ping comes out first (control frames are handled as they come, §5.4),
/// then the message; without its last fragment, the ping and the close.
#[test]
fn a_ping_between_fragments_in_hand() {
    let first = client(TEXT, b"frag");
    let ping = client(FIN | PING, b"mid");
    let last = client(FIN | CONT, b"mented");
    let whole = [first.clone(), ping.clone(), last].concat();
    let cut = [first, ping].concat();
    for streaming in [false, true] {
        for (input, complete) in [(&whole, true), (&cut, false)] {
            let how = format!("streaming {streaming}, complete {complete}");
            let bytewise: Vec<usize> = (1..input.len()).collect();
            for cuts in [vec![], bytewise] {
                let (mut conn, _) =
                    idle_with_in_hand(Config::builder().streaming(streaming), input, &cuts);
                let events: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
                let mut data = Vec::new();
                let mut pings = 0;
                let mut ended = false;
                for event in &events[..events.len() - 1] {
                    match event {
                        Event::Ping(p) => {
                            assert_eq!(&p[..], b"mid", "{how}");
                            pings += 1;
                        }
                        Event::Message(m) => {
                            data.extend_from_slice(m.as_bytes());
                            ended = true;
                        }
                        Event::Chunk { data: d, last } => {
                            data.extend_from_slice(d.as_bytes());
                            ended |= *last;
                        }
                        other => panic!("{how}: {other:?}"),
                    }
                }
                assert_eq!(events.last(), Some(&idle_closed()), "{how}");
                assert_eq!(pings, 1, "{how}: {events:?}");
                assert_eq!(ended, complete, "{how}");
                if complete || streaming {
                    assert_eq!(
                        data,
                        if complete {
                            &b"fragmented"[..]
                        } else {
                            b"frag"
                        },
                        "{how}"
                    );
                } else {
                    assert!(data.is_empty(), "{how}");
                }
                assert!(!conn.has_output(), "{how}: no pong after our close");
            }
        }
    }
}
