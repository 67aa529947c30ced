//! `wsframe::tokio::WsCodec` as an embedder uses it: in a
//! `tokio_util::codec::Framed` over a scripted stream (cut whole, byte by
//! byte and at every point), a tiny `duplex` pipe and real TCP, with the
//! client's frames written by hand (RFC 6455 §5.2) as the oracle. Messages
//! from 0 B to 4 MiB, fragmented with pings between; the peer hanging up
//! mid-frame, mid-message, after a message and without answering our close
//! (`decode_eof`); the peer's close and its reply written at
//! `Outgoing::Flush`; protocol violations and their close codes; a frame
//! declaring 2^63-1 bytes (no allocation on its word); the encoder's
//! refusals (long pings, unsendable close codes, long reasons, sends after
//! the close); `SinkExt::send` against `feed` + `flush`; streaming mode; an
//! RSV1 frame with `Config::deflate` set (the codec negotiates nothing).
#![cfg(feature = "tokio")]

mod common;

use bytes::BytesMut;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Encoder, Framed};
use wsframe::{
    tokio::{Error, Outgoing, WsCodec},
    CloseCode, Config, Connection, Event, Initiator, Message, Role,
};

use common::{
    client, close_payload, framed_server::events_until_closed, largest_block, parse_server_frames,
    raw_frame, tokio_peer::Scripted, BINARY, CLOSE, CONT, FIN, PING, PONG, TEXT,
};

#[global_allocator]
static ALLOCATOR: largest_block::LargestPerThread = largest_block::LargestPerThread;

/// Frames as a server wrote them: `(first byte, payload)`.
type Frames = Vec<(u8, Vec<u8>)>;

/// What the embedder's stream yields: an event, or the error that ends it
/// (its `Debug`, as `Error` is not `PartialEq`).
#[derive(Debug, PartialEq)]
enum Seen {
    Event(Event),
    Failed(String),
}

fn failure(err: &Error) -> String {
    match err {
        Error::Io(io) => format!("Io({:?})", io.kind()),
        other => format!("{other:?}"),
    }
}

/// A server codec in a `Framed` over `input` cut at `cuts`, then the end
/// of the stream; after every event an `Outgoing::Flush` (as the codec's
/// docs ask after a ping or a close). Returns what the stream yielded up
/// to its end, and the frames written: `(first byte, payload)`.
fn through_framed(config: Config, input: &[u8], cuts: &[usize]) -> (Vec<Seen>, Frames) {
    let io = Scripted::new(input, cuts).then_eof();
    let mut framed = Framed::new(io, WsCodec::new(Role::Server, config));
    let mut seen = Vec::new();
    loop {
        let next = framed
            .next()
            .now_or_never()
            .expect("a scripted stream that ends never waits");
        match next {
            None => break,
            Some(Ok(event)) => {
                seen.push(Seen::Event(event));
                framed
                    .send(Outgoing::Flush)
                    .now_or_never()
                    .expect("a scripted stream takes every write")
                    .expect("a flush is never refused");
            }
            Some(Err(err)) => {
                seen.push(Seen::Failed(failure(&err)));
                break;
            }
        }
    }
    (seen, parse_server_frames(&framed.get_ref().written))
}

/// [`through_framed`] whole, byte by byte (inputs up to 64 KiB) and cut at
/// every point (inputs up to 1 KiB): all the same; returns the whole run's.
fn every_way(config: Config, input: &[u8]) -> (Vec<Seen>, Frames) {
    let whole = through_framed(config, input, &[]);
    if input.len() <= 64 * 1024 {
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            through_framed(config, input, &bytewise),
            whole,
            "byte by byte"
        );
    }
    let cuts: Vec<usize> = if input.len() <= 1024 {
        (0..=input.len()).collect()
    } else {
        // Around the headers and the middle of a large input.
        [1, 2, 3, 9, 10, 13, 14, 15, input.len() / 2, input.len() - 1].to_vec()
    };
    for cut in cuts {
        assert_eq!(through_framed(config, input, &[cut]), whole, "cut at {cut}");
    }
    whole
}

fn message(opcode: u8, payload: &[u8]) -> Event {
    Event::Message(if opcode == TEXT {
        Message::from(String::from_utf8(payload.to_vec()).unwrap())
    } else {
        Message::from(payload.to_vec())
    })
}

fn payload(len: usize, text: bool) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if text {
                b'a' + (i % 26) as u8
            } else {
                (i * 7) as u8
            }
        })
        .collect()
}

/// A client's message cut into three fragments with a ping before each
/// continuation: the events are the pings and the joined message, the wire
/// a pong per ping with its payload (§5.5.3).
fn fragmented_with_pings(opcode: u8, data: &[u8]) -> (Vec<u8>, Vec<Seen>, Frames) {
    let (a, b) = (data.len() / 3, 2 * data.len() / 3);
    let input = [
        client(opcode, &data[..a]),
        client(FIN | PING, b"one"),
        client(CONT, &data[a..b]),
        client(FIN | PING, b"two"),
        client(FIN | CONT, &data[b..]),
    ]
    .concat();
    let events = vec![
        Seen::Event(Event::Ping("one".into())),
        Seen::Event(Event::Ping("two".into())),
        Seen::Event(message(opcode, data)),
    ];
    let wire = vec![(FIN | PONG, b"one".to_vec()), (FIN | PONG, b"two".to_vec())];
    (input, events, wire)
}

#[test]
fn messages_from_empty_to_4_mib_whole_and_fragmented_with_pings() {
    for len in [0, 1, 125, 126, 65_535, 65_536, 4 << 20] {
        for opcode in [TEXT, BINARY] {
            let data = payload(len, opcode == TEXT);
            let whole = client(FIN | opcode, &data);
            assert_eq!(
                every_way(Config::default(), &whole),
                (vec![Seen::Event(message(opcode, &data))], vec![]),
                "{len} bytes, opcode {opcode}"
            );
            let (input, events, wire) = fragmented_with_pings(opcode, &data);
            assert_eq!(
                every_way(Config::default(), &input),
                (events, wire),
                "{len} bytes fragmented, opcode {opcode}"
            );
        }
    }
}

/// A server `Framed` over one end of a `duplex(buffer)` pipe: the client's
/// bytes written by a task in writes of `buffer` bytes at most, the
/// server's events until the client's close, and the frames it wrote.
async fn over_duplex(buffer: usize, input: Vec<u8>) -> (Vec<Event>, Frames) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ours, theirs) = tokio::io::duplex(buffer);
    let mut framed = Framed::new(ours, WsCodec::new(Role::Server, Config::default()));
    let peer = tokio::spawn(async move {
        // Reading while writing: a pong the server flushes into a full
        // pipe waits for this side to read.
        let (mut read, mut write) = tokio::io::split(theirs);
        let (_, written) = tokio::join!(
            async {
                for piece in input.chunks(buffer) {
                    write.write_all(piece).await.unwrap();
                }
            },
            async {
                let mut written = Vec::new();
                read.read_to_end(&mut written).await.unwrap();
                written
            }
        );
        written
    });
    let events = events_until_closed(&mut framed).await;
    drop(framed);
    (events, parse_server_frames(&peer.await.unwrap()))
}

#[tokio::test]
async fn a_tiny_duplex_pipe_carries_every_size_and_the_close() {
    for (buffer, len) in [(1, 300), (7, 70_000), (64, 4 << 20)] {
        let data = payload(len, true);
        let (mut input, mut events, mut wire) = fragmented_with_pings(TEXT, &data);
        input.extend(client(FIN | BINARY, &data));
        input.extend(client(FIN | CLOSE, &close_payload(1000, b"done")));
        events.push(Seen::Event(message(BINARY, &data)));
        wire.push((FIN | CLOSE, close_payload(1000, b"")));
        let (got, written) = over_duplex(buffer, input).await;
        let got_events: Vec<Seen> = got.into_iter().map(Seen::Event).collect();
        assert_eq!(got_events[..events.len()], events[..], "pipe of {buffer}");
        match &got_events[events.len()..] {
            [Seen::Event(Event::Closed(closed))] => {
                assert_eq!(closed.code, CloseCode(1000));
                assert_eq!(closed.reason, "done");
                assert_eq!(closed.initiator, Initiator::Peer);
            }
            other => panic!("pipe of {buffer}: {other:?}"),
        }
        assert_eq!(written, wire, "pipe of {buffer}");
    }
}

#[tokio::test]
async fn real_tcp_carries_every_size_and_the_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let sizes = [0, 1, 125, 126, 65_535, 65_536, 4 << 20];
    let mut input = Vec::new();
    for len in sizes {
        input.extend(client(FIN | BINARY, &payload(len, false)));
        input.extend(fragmented_with_pings(TEXT, &payload(len, true)).0);
    }
    input.extend(client(FIN | CLOSE, &[]));
    let peer = tokio::spawn(async move {
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        // Written in one go while the server reads: its reads take what
        // the kernel hands over, in pieces of any size.
        let (mut read, mut write) = socket.split();
        let (_, written) = tokio::join!(write.write_all(&input), async {
            let mut written = Vec::new();
            read.read_to_end(&mut written).await.unwrap();
            written
        });
        written
    });
    let (socket, _) = listener.accept().await.unwrap();
    let mut framed = Framed::new(socket, WsCodec::new(Role::Server, Config::default()));
    let mut events = events_until_closed(&mut framed).await;
    drop(framed);
    let mut expected = Vec::new();
    let mut wire = Vec::new();
    for len in sizes {
        expected.push(Seen::Event(message(BINARY, &payload(len, false))));
        let (_, events, pongs) = fragmented_with_pings(TEXT, &payload(len, true));
        expected.extend(events);
        wire.extend(pongs);
    }
    let closed = events.pop();
    assert_eq!(
        events.into_iter().map(Seen::Event).collect::<Vec<_>>(),
        expected
    );
    assert!(
        matches!(&closed, Some(Event::Closed(c)) if c.code == CloseCode(1005)),
        "{closed:?}"
    );
    wire.push((FIN | CLOSE, close_payload(1000, b"")));
    assert_eq!(parse_server_frames(&peer.await.unwrap()), wire);
}

/// The stream after `input` and the end of the stream, read with a
/// `Framed`; the first `prefix` bytes of `input` only.
fn hang_up_after(input: &[u8], prefix: usize) -> Vec<Seen> {
    through_framed(Config::default(), &input[..prefix], &[]).0
}

/// RFC 6455 §7.1.5: a peer that hangs up without a close frame closed
/// abnormally. tokio_util's `Decoder::decode_eof` fails a stream that ends
/// inside a frame ("bytes remaining on stream"), and `tokio::Error::Io`
/// says it is what a hang-up mid-frame gives: a frame or a message cut by
/// the hang-up is an `UnexpectedEof` error, never a quiet end that looks
/// like a clean one. At a message boundary the stream just ends (as
/// `WebSocket::next` does).
#[test]
fn a_hang_up_mid_frame_or_mid_message_is_an_unexpected_eof() {
    let data = payload(300, true);
    let one = client(FIN | TEXT, &data);
    for prefix in 1..one.len() {
        assert_eq!(
            hang_up_after(&one, prefix),
            [Seen::Failed("Io(UnexpectedEof)".into())],
            "cut inside the frame at {prefix}"
        );
    }
    assert_eq!(
        hang_up_after(&one, one.len()),
        [Seen::Event(message(TEXT, &data))],
        "after a whole message"
    );
    let (input, events, _) = fragmented_with_pings(TEXT, &data);
    for prefix in 1..input.len() {
        let seen = hang_up_after(&input, prefix);
        assert_eq!(
            seen.last(),
            Some(&Seen::Failed("Io(UnexpectedEof)".into())),
            "cut inside the fragmented message at {prefix}: {seen:?}"
        );
        // The pings before the cut are handed out first.
        assert_eq!(seen[..seen.len() - 1], events[..seen.len() - 1]);
    }
    assert_eq!(hang_up_after(&input, input.len()), events);
}

/// The same in streaming mode, where the pieces before the cut are handed
/// out: a message whose end never came still ends in the error, not in
/// silence after a piece without `last`.
#[test]
fn a_hang_up_mid_message_in_streaming_mode_is_an_unexpected_eof() {
    let config = Config::builder().streaming(true).build();
    let data = payload(200, false);
    let input = [
        client(BINARY, &data[..100]),
        client(FIN | CONT, &data[100..]),
    ]
    .concat();
    for prefix in 1..input.len() {
        let (seen, _) = through_framed(config, &input[..prefix], &[]);
        let pieces: Vec<u8> = seen
            .iter()
            .filter_map(|seen| match seen {
                Seen::Event(Event::Chunk { data, last }) => {
                    assert!(!last, "cut at {prefix}");
                    Some(data.as_bytes().to_vec())
                }
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(pieces, data[..pieces.len()], "cut at {prefix}");
        assert_eq!(
            seen.last(),
            Some(&Seen::Failed("Io(UnexpectedEof)".into())),
            "cut at {prefix}: {seen:?}"
        );
    }
}

/// The peer's close: the event, the reply on the wire only once the
/// encoder is asked (`Outgoing::Flush`), nothing after it read, and the
/// stream ending quietly at the end of the stream.
#[test]
fn the_peers_close_is_answered_at_the_flush_and_nothing_after_it_is_read() {
    let input = [
        client(FIN | CLOSE, &close_payload(1001, b"away")),
        client(FIN | TEXT, b"after the close"),
        client(FIN | PING, b"late"),
    ]
    .concat();
    for cut in 0..=input.len() {
        let io = Scripted::new(&input, &[cut]).then_eof();
        let mut framed = Framed::new(io, WsCodec::new(Role::Server, Config::default()));
        match framed.next().now_or_never() {
            Some(Some(Ok(Event::Closed(closed)))) => {
                assert_eq!(closed.code, CloseCode(1001));
                assert_eq!(closed.reason, "away");
                assert_eq!(closed.initiator, Initiator::Peer);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
        assert!(framed.get_ref().written.is_empty(), "written before Flush");
        assert!(
            matches!(framed.next().now_or_never(), Some(None)),
            "cut at {cut}: the stream ends after the close"
        );
        framed
            .send(Outgoing::Flush)
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(
            parse_server_frames(&framed.get_ref().written),
            [(FIN | CLOSE, close_payload(1001, b""))]
        );
        // Nothing more to send.
        let refused = framed
            .send(Outgoing::Message(Message::from("late")))
            .now_or_never()
            .unwrap();
        assert!(matches!(refused, Err(Error::Closed)), "{refused:?}");
    }
}

/// Our close, then the peer hangs up without answering: `WebSocket::close`
/// documents `Error::Io` of kind `UnexpectedEof` for it; the codec gives
/// the same rather than ending as if the close handshake had finished.
#[test]
fn a_hang_up_without_answering_our_close_is_an_unexpected_eof() {
    let input = client(FIN | TEXT, b"in flight");
    for prefix in [0, 3, input.len()] {
        let io = Scripted::new(&input[..prefix], &[]).then_eof();
        let mut framed = Framed::new(io, WsCodec::new(Role::Server, Config::default()));
        framed
            .send(Outgoing::Close(CloseCode(1000), "bye".into()))
            .now_or_never()
            .unwrap()
            .unwrap();
        let mut seen = Vec::new();
        while let Some(next) = framed.next().now_or_never().unwrap() {
            match next {
                Ok(event) => seen.push(Seen::Event(event)),
                Err(err) => {
                    seen.push(Seen::Failed(failure(&err)));
                    break;
                }
            }
        }
        assert_eq!(
            seen,
            [Seen::Failed("Io(UnexpectedEof)".into())],
            "{prefix} bytes of a message, then the hang-up"
        );
    }
}

/// Violations: the event names the code, the close frame with it goes out
/// at the Flush, nothing after is read, no panic.
#[test]
fn violations_close_with_their_code_every_way() {
    let small = Config::builder().max_frame_size(1000).build();
    let cases: Vec<(&str, Config, Vec<u8>, u16)> = vec![
        (
            "unmasked",
            Config::default(),
            raw_frame(FIN | TEXT, b"hi", None),
            1002,
        ),
        (
            "RSV1",
            Config::default(),
            client(FIN | 0x40 | TEXT, b"hi"),
            1002,
        ),
        (
            "RSV2",
            Config::default(),
            client(FIN | 0x20 | BINARY, b"hi"),
            1002,
        ),
        (
            "RSV3",
            Config::default(),
            client(FIN | 0x10 | PING, b""),
            1002,
        ),
        ("opcode 3", Config::default(), client(FIN | 0x3, b""), 1002),
        (
            "bad UTF-8",
            Config::default(),
            client(FIN | TEXT, b"ok \xC3\x28 then"),
            1007,
        ),
        (
            "bad UTF-8 across fragments",
            Config::default(),
            [client(TEXT, b"ok \xE2\x82"), client(FIN | CONT, b"\x28")].concat(),
            1007,
        ),
        (
            "over max_frame_size",
            small,
            client(FIN | BINARY, &[0; 1001]),
            1009,
        ),
        (
            "ping of 126",
            Config::default(),
            client(FIN | PING, &[0; 126]),
            1002,
        ),
        (
            "continuation first",
            Config::default(),
            client(FIN | CONT, b"x"),
            1002,
        ),
        (
            "close with 1005",
            Config::default(),
            client(FIN | CLOSE, &close_payload(1005, b"")),
            1002,
        ),
        (
            "close reason not UTF-8",
            Config::default(),
            client(FIN | CLOSE, &close_payload(1000, b"\xFF")),
            1007,
        ),
    ];
    for (what, config, frame, code) in cases {
        let mut input = frame;
        input.extend(client(FIN | TEXT, b"never read"));
        let (seen, wire) = every_way(config, &input);
        match &seen[..] {
            [Seen::Event(Event::Closed(closed))] => {
                assert_eq!(closed.code, CloseCode(code), "{what}");
                assert_eq!(closed.initiator, Initiator::Local, "{what}");
                assert!(closed.error.is_some(), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(wire.len(), 1, "{what}: {wire:?}");
        assert_eq!(wire[0].0, FIN | CLOSE, "{what}");
        assert_eq!(wire[0].1[..2], code.to_be_bytes(), "{what}");
    }
}

/// A header declaring 2^63-1 bytes: 1009 with no block near its size
/// allocated (the codec must not reserve on a header's word), whatever
/// the limits, whole and byte by byte.
#[test]
fn a_frame_declaring_2_pow_63_allocates_nothing_on_its_word() {
    let mut header = vec![FIN | BINARY, 0x80 | 127];
    header.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    header.extend_from_slice(&[0; 64]);
    for config in [
        Config::default(),
        Config::builder().max_message_size(1 << 20).build(),
        Config::builder()
            .max_frame_size(u64::MAX)
            .max_message_size(u64::MAX)
            .streaming(true)
            .build(),
    ] {
        for cuts in [vec![], (1..header.len()).collect::<Vec<_>>()] {
            largest_block::reset();
            let (seen, wire) = through_framed(config, &header, &cuts);
            assert!(
                largest_block::largest() < 1 << 20,
                "{} bytes asked for, {config:?}",
                largest_block::largest()
            );
            if config.max_frame_size() == u64::MAX {
                // Nothing over a limit: the payload is simply cut short.
                assert_eq!(seen.last(), Some(&Seen::Failed("Io(UnexpectedEof)".into())));
                continue;
            }
            assert!(
                matches!(&seen[..], [Seen::Event(Event::Closed(c))] if c.code == CloseCode(1009)),
                "{seen:?}"
            );
            assert_eq!(wire.len(), 1, "{wire:?}");
            assert_eq!(wire[0].1[..2], 1009u16.to_be_bytes());
        }
    }
}

/// What the encoder writes into `dst` for `item`, or its error.
fn encode(codec: &mut WsCodec, item: Outgoing) -> Result<Frames, String> {
    let mut dst = BytesMut::new();
    match Encoder::<Outgoing>::encode(codec, item, &mut dst) {
        Ok(()) => Ok(parse_server_frames(&dst)),
        Err(err) => {
            assert!(dst.is_empty(), "written though refused: {err:?}");
            Err(failure(&err))
        }
    }
}

/// RFC 6455 §5.5 and §7.4: the encoder refuses what may not go on the
/// wire, queues nothing for it, and the connection goes on.
#[test]
fn the_encoder_refuses_what_may_not_go_on_the_wire() {
    let mut codec = WsCodec::new(Role::Server, Config::default());
    assert_eq!(
        encode(&mut codec, Outgoing::Ping(vec![0; 126].into())),
        Err("Send(ControlPayloadTooLong(126))".into())
    );
    assert_eq!(
        encode(&mut codec, Outgoing::Pong(vec![0; 126].into())),
        Err("Send(ControlPayloadTooLong(126))".into())
    );
    assert_eq!(
        encode(&mut codec, Outgoing::Ping(vec![7; 125].into())),
        Ok(vec![(FIN | PING, vec![7; 125])])
    );
    for code in [1005, 1006, 1015, 999, 0, 5000] {
        let refused = encode(&mut codec, Outgoing::Close(CloseCode(code), String::new()));
        assert_eq!(
            refused,
            Err(format!("Send(UnsendableCloseCode({code}))")),
            "{code}"
        );
    }
    assert_eq!(
        encode(
            &mut codec,
            Outgoing::Close(CloseCode(1000), "r".repeat(124))
        ),
        Err("Send(ControlPayloadTooLong(126))".into())
    );
    // Nothing was queued by the refusals: the close goes out alone.
    assert_eq!(
        encode(
            &mut codec,
            Outgoing::Close(CloseCode(4000), "r".repeat(123))
        ),
        Ok(vec![(
            FIN | CLOSE,
            close_payload(4000, "r".repeat(123).as_bytes())
        )])
    );
    // §5.5.1: nothing after our close.
    assert_eq!(
        encode(&mut codec, Outgoing::Message(Message::from("late"))),
        Err("Closed".into())
    );
    assert_eq!(
        encode(&mut codec, Outgoing::Close(CloseCode(1000), String::new())),
        Err("Closed".into())
    );
    assert_eq!(encode(&mut codec, Outgoing::Flush), Ok(vec![]));
}

/// `Config::max_output_buffer` bounds the connection's own output; the
/// codec hands every byte to `Framed`'s write buffer at once, so a message
/// larger than the limit, and many of them, are taken (Framed's
/// backpressure bounds what it holds).
#[test]
fn the_output_limit_never_refuses_through_the_codec() {
    let config = Config::builder().max_output_buffer(1024).build();
    let mut codec = WsCodec::new(Role::Server, config);
    let big = payload(1 << 20, false);
    let mut dst = BytesMut::new();
    for _ in 0..4 {
        Encoder::<Message>::encode(&mut codec, Message::from(big.clone()), &mut dst).unwrap();
    }
    let frames = parse_server_frames(&dst);
    assert_eq!(frames.len(), 4);
    assert!(frames
        .iter()
        .all(|(first, p)| *first == FIN | BINARY && *p == big));
}

/// `SinkExt::send` and `feed` + `flush` put the same bytes on the wire;
/// with `feed` alone nothing is written until the flush (or Framed's
/// backpressure boundary).
#[test]
fn send_and_feed_then_flush_write_the_same() {
    let messages: Vec<Message> = [0, 1, 126, 70_000]
        .into_iter()
        .map(|len| Message::from(payload(len, false)))
        .collect();
    let mut sent = Framed::new(
        Scripted::default(),
        WsCodec::new(Role::Server, Config::default()),
    );
    for m in &messages {
        sent.send(Outgoing::Message(m.clone()))
            .now_or_never()
            .unwrap()
            .unwrap();
    }
    let mut fed = Framed::new(
        Scripted::default(),
        WsCodec::new(Role::Server, Config::default()),
    );
    for m in &messages[..3] {
        fed.feed(Outgoing::Message(m.clone()))
            .now_or_never()
            .unwrap()
            .unwrap();
    }
    assert!(fed.get_ref().written.is_empty(), "fed, not flushed");
    fed.feed(Outgoing::Message(messages[3].clone()))
        .now_or_never()
        .unwrap()
        .unwrap();
    SinkExt::<Outgoing>::flush(&mut fed)
        .now_or_never()
        .unwrap()
        .unwrap();
    assert_eq!(sent.get_ref().written, fed.get_ref().written);
    let expected: Vec<(u8, Vec<u8>)> = messages
        .iter()
        .map(|m| (FIN | BINARY, m.as_bytes().to_vec()))
        .collect();
    assert_eq!(parse_server_frames(&sent.get_ref().written), expected);
}

/// Streaming mode through the codec: pieces in order, text pieces on code
/// point boundaries, one `last` at the end; `max_message_size` still 1009.
#[test]
fn streaming_mode_through_the_codec() {
    let config = Config::builder().streaming(true).build();
    let text = "añ€😀".repeat(40);
    let bytes = text.as_bytes();
    let input = [
        client(TEXT, &bytes[..101]),
        client(FIN | PING, b"p"),
        client(FIN | CONT, &bytes[101..]),
    ]
    .concat();
    for cuts in [vec![], (1..input.len()).collect::<Vec<_>>()]
        .into_iter()
        .chain((0..=input.len()).map(|cut| vec![cut]))
    {
        let (seen, wire) = through_framed(config, &input, &cuts);
        let mut joined = String::new();
        let mut lasts = 0;
        for seen in &seen {
            match seen {
                Seen::Event(Event::Chunk { data, last }) => {
                    assert!(data.is_text());
                    joined.push_str(std::str::from_utf8(data.as_bytes()).unwrap());
                    lasts += usize::from(*last);
                }
                Seen::Event(Event::Ping(p)) => assert_eq!(&p[..], b"p"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(joined, text, "{cuts:?}");
        assert_eq!(lasts, 1);
        assert!(matches!(
            seen.last(),
            Some(Seen::Event(Event::Chunk { last: true, .. }))
        ));
        assert_eq!(wire, [(FIN | PONG, b"p".to_vec())]);
    }
    let limited = Config::builder()
        .streaming(true)
        .max_message_size(150)
        .build();
    let over = [client(BINARY, &[1; 100]), client(FIN | CONT, &[2; 51])].concat();
    // The pieces before the 1009 depend on the reads; their bytes do not.
    for cuts in [vec![], (1..over.len()).collect::<Vec<_>>()]
        .into_iter()
        .chain((0..=over.len()).map(|cut| vec![cut]))
    {
        let (mut seen, wire) = through_framed(limited, &over, &cuts);
        let closed = seen.pop();
        assert!(
            matches!(&closed, Some(Seen::Event(Event::Closed(c))) if c.code == CloseCode(1009)),
            "{cuts:?}: {closed:?}"
        );
        let pieces: Vec<u8> = seen
            .iter()
            .flat_map(|seen| match seen {
                Seen::Event(Event::Chunk { data, last: false }) => data.as_bytes().to_vec(),
                other => panic!("{cuts:?}: {other:?}"),
            })
            .collect();
        assert_eq!(pieces, [1; 100], "{cuts:?}");
        assert_eq!(wire.len(), 1);
        assert_eq!(wire[0].1[..2], 1009u16.to_be_bytes());
    }
}

/// The codec makes its connection with `Connection::new`: no extension
/// is negotiated (it sees no handshake), so with `Config::deflate` set an
/// RSV1 frame is still a protocol error (RFC 7692 §6: RSV1 only with the
/// extension agreed).
#[cfg(feature = "deflate")]
#[test]
fn rsv1_is_refused_even_with_deflate_configured() {
    let config = Config::builder()
        .deflate(Some(wsframe::DeflateConfig::default()))
        .build();
    let input = client(
        FIN | 0x40 | TEXT,
        &common::deflate::sync_compressed(b"hello", 6),
    );
    let (seen, wire) = every_way(config, &input);
    assert!(
        matches!(&seen[..], [Seen::Event(Event::Closed(c))] if c.code == CloseCode(1002)),
        "{seen:?}"
    );
    assert_eq!(wire[0].1[..2], 1002u16.to_be_bytes());
}

/// Every event of `framed` until its stream ends (or fails).
fn drain<T: tokio::io::AsyncRead + Unpin>(framed: &mut Framed<T, WsCodec>) -> Vec<Seen> {
    let mut seen = Vec::new();
    while let Some(next) = framed.next().now_or_never().expect("never waits") {
        match next {
            Ok(event) => seen.push(Seen::Event(event)),
            Err(err) => {
                seen.push(Seen::Failed(failure(&err)));
                break;
            }
        }
    }
    seen
}

/// Our close, then the peer's data (dropped, §5.5.1: we are done with
/// data) and its answer, cut at every point: the close handshake ends with
/// `Closed` (ours); a hang-up before the answer is whole fails.
#[test]
fn our_close_answered_after_data_in_flight_every_cut() {
    let input = [
        client(FIN | TEXT, b"in flight"),
        client(FIN | BINARY, &[5; 200]),
        client(FIN | CLOSE, &close_payload(1000, b"")),
    ]
    .concat();
    for cut in 0..=input.len() {
        for (prefix, cuts) in [(input.len(), vec![cut]), (cut, vec![])] {
            let io = Scripted::new(&input[..prefix], &cuts).then_eof();
            let mut framed = Framed::new(io, WsCodec::new(Role::Server, Config::default()));
            framed
                .send(Outgoing::Close(CloseCode(4001), "going".into()))
                .now_or_never()
                .unwrap()
                .unwrap();
            let seen = drain(&mut framed);
            if prefix < input.len() {
                assert_eq!(
                    seen,
                    [Seen::Failed("Io(UnexpectedEof)".into())],
                    "hang-up after {prefix}"
                );
                continue;
            }
            match &seen[..] {
                [Seen::Event(Event::Closed(closed))] => {
                    assert_eq!(closed.code, CloseCode(1000), "cut at {cut}");
                    assert_eq!(closed.initiator, Initiator::Local);
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
            // Our close only: nothing answers the peer's.
            assert_eq!(
                parse_server_frames(&framed.get_ref().written),
                [(FIN | CLOSE, close_payload(4001, b"going"))]
            );
        }
    }
}

/// With `auto_pong` off the ping is handed out and the Flush writes
/// nothing; an `Outgoing::Pong` answers it.
#[test]
fn without_auto_pong_the_flush_writes_nothing() {
    let config = Config::builder().auto_pong(false).build();
    let (seen, wire) = every_way(config, &client(FIN | PING, b"hello"));
    assert_eq!(seen, [Seen::Event(Event::Ping("hello".into()))]);
    assert_eq!(wire, []);
}

/// A client codec: unmasked frames from the server are read, masked ones
/// are 1002 (§5.1); what it sends is masked, each payload unmasked by
/// hand with its frame's key.
#[test]
fn a_client_codec_masks_and_refuses_masked_frames() {
    let input = [
        raw_frame(FIN | TEXT, b"from the server", None),
        raw_frame(FIN | BINARY, &[3; 300], None),
    ]
    .concat();
    let io = Scripted::new(&input, &[1, 5, 20]).then_eof();
    let mut framed = Framed::new(io, WsCodec::new(Role::Client, Config::default()));
    assert_eq!(
        drain(&mut framed),
        [
            Seen::Event(message(TEXT, b"from the server")),
            Seen::Event(message(BINARY, &[3; 300])),
        ]
    );
    for item in [
        Outgoing::Message(Message::from("hi")),
        Outgoing::Message(Message::from(vec![9; 70_000])),
        Outgoing::Ping("p".into()),
        Outgoing::Close(CloseCode(1000), "bye".into()),
    ] {
        framed.send(item).now_or_never().unwrap().unwrap();
    }
    let mut wire = &framed.get_ref().written[..];
    let mut sent = Vec::new();
    while !wire.is_empty() {
        let first = wire[0];
        assert_eq!(wire[1] & 0x80, 0x80, "a client masks every frame");
        let (len, header) = match wire[1] & 0x7F {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = &wire[header..header + 4];
        let body: Vec<u8> = wire[header + 4..header + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        sent.push((first, body));
        wire = &wire[header + 4 + len..];
    }
    assert_eq!(
        sent,
        [
            (FIN | TEXT, b"hi".to_vec()),
            (FIN | BINARY, vec![9; 70_000]),
            (FIN | PING, b"p".to_vec()),
            (FIN | CLOSE, close_payload(1000, b"bye")),
        ]
    );

    let masked = client(FIN | TEXT, b"masked");
    let (seen, _) = {
        let io = Scripted::new(&masked, &[]).then_eof();
        let mut framed = Framed::new(io, WsCodec::new(Role::Client, Config::default()));
        let seen = drain(&mut framed);
        framed
            .send(Outgoing::Flush)
            .now_or_never()
            .unwrap()
            .unwrap();
        (seen, framed.into_inner().written)
    };
    assert!(
        matches!(&seen[..], [Seen::Event(Event::Closed(c))] if c.code == CloseCode(1002)),
        "{seen:?}"
    );
}

/// A reader that never sends `Outgoing::Flush`: the pongs of a ping flood
/// wait in the connection, bounded by `max_output_buffer` (past it the
/// unsent pong is replaced, §5.5.3); the Flush then writes them, the last
/// one answering the last ping.
#[test]
fn a_ping_flood_without_flush_holds_bounded_output() {
    let limit = 16 * 1024;
    let config = Config::builder().max_output_buffer(limit).build();
    let pings: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| {
            let mut p = i.to_be_bytes().to_vec();
            p.resize(125, b'.');
            p
        })
        .collect();
    let input: Vec<u8> = pings.iter().flat_map(|p| client(FIN | PING, p)).collect();
    for cuts in [vec![], (1..input.len()).step_by(97).collect::<Vec<_>>()] {
        let io = Scripted::new(&input, &cuts).then_eof();
        let mut framed = Framed::new(io, WsCodec::new(Role::Server, config));
        let mut count = 0;
        while let Some(event) = framed.next().now_or_never().unwrap() {
            assert!(matches!(event, Ok(Event::Ping(_))), "{event:?}");
            count += 1;
            let held = framed.codec().connection().output_len();
            assert!(held <= limit + 127, "{held} bytes held");
        }
        assert_eq!(count, pings.len());
        framed
            .send(Outgoing::Flush)
            .now_or_never()
            .unwrap()
            .unwrap();
        let wire = parse_server_frames(&framed.get_ref().written);
        assert!(wire.iter().all(|(first, _)| *first == FIN | PONG));
        assert_eq!(wire.last().unwrap().1, *pings.last().unwrap());
    }
}

/// After `Closed` the codec yields nothing, but `Framed` waits on the
/// socket for the peer's hang-up (a client waits for the server's, §7.1.1):
/// the server must stop polling itself, as the docs say.
#[test]
fn after_closed_the_stream_waits_for_the_socket_not_for_more_events() {
    let input = [
        client(FIN | CLOSE, &close_payload(1000, b"")),
        client(FIN | TEXT, b"ignored"),
    ]
    .concat();
    let mut framed = Framed::new(
        Scripted::new(&input, &[3]),
        WsCodec::new(Role::Server, Config::default()),
    );
    assert!(matches!(
        framed.next().now_or_never(),
        Some(Some(Ok(Event::Closed(_))))
    ));
    assert!(framed.next().now_or_never().is_none(), "pending, not ended");
    assert_eq!(framed.codec().connection().buffered_len(), 0);
}

/// Judged as the bytes arrive, not at the frame's end: a text frame's
/// invalid byte is 1007 and a frame over the message limit is 1009 at
/// its header, with the rest of the frame never sent (the peer hangs up
/// after the close); a header at the frame limit reserves nothing big.
#[test]
fn violations_are_judged_before_the_rest_of_the_frame_arrives() {
    let long_text = client(
        FIN | TEXT,
        &[b"ok \xC3\x28".as_slice(), &[b'x'; 1000]].concat(),
    );
    let limited = Config::builder().max_message_size(150).build();
    let over_message = [client(BINARY, &[1; 100]), client(FIN | CONT, &[2; 51])].concat();
    let mut at_frame_limit = vec![FIN | BINARY, 0x80 | 127];
    at_frame_limit.extend_from_slice(&(16u64 << 20).to_be_bytes());
    at_frame_limit.extend_from_slice(&[1, 2, 3, 4]);
    at_frame_limit.extend_from_slice(&[0; 100]);
    for (what, config, input, prefix, expected) in [
        // The header (2 + 2 + 4 bytes), "ok " and the two bad bytes.
        ("bad UTF-8", Config::default(), long_text, 8 + 5, Some(1007)),
        ("message limit", limited, over_message, 106 + 8, Some(1009)),
        (
            "frame limit",
            Config::default(),
            at_frame_limit.clone(),
            at_frame_limit.len(),
            None,
        ),
    ] {
        largest_block::reset();
        let (seen, _) = every_way(config, &input[..prefix]);
        assert!(largest_block::largest() < 1 << 20, "{what}");
        match expected {
            Some(code) => assert!(
                matches!(&seen[..], [Seen::Event(Event::Closed(c))] if c.code == CloseCode(code)),
                "{what}: {seen:?}"
            ),
            None => assert_eq!(seen, [Seen::Failed("Io(UnexpectedEof)".into())], "{what}"),
        }
    }
}

/// A codec made `from_connection` with permessage-deflate negotiated reads
/// a compressed message and compresses what it sends; `connection_mut`
/// drives the keepalive: the ping it queues goes out with
/// `Outgoing::Flush`.
#[cfg(feature = "deflate")]
#[tokio::test]
async fn from_connection_with_deflate_and_timers_driven_through_connection_mut() {
    use std::time::{Duration, Instant};
    use wsframe::{DeflateConfig, DeflateParams};

    let config = Config::builder()
        .deflate(Some(DeflateConfig::default()))
        .ping_interval(Some(Duration::from_secs(5)))
        .build();
    let params = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let server = Connection::with_deflate(Role::Server, config, Some(params));
    let mut peer = Connection::with_deflate(Role::Client, config, Some(params));
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let mut framed = Framed::new(ours, WsCodec::from_connection(server));
    let (mut read, mut write) = tokio::io::split(theirs);

    let text = "compress me ".repeat(200);
    peer.send_compressed(Message::from(text.as_str()), true)
        .unwrap();
    let sent = peer.take_output();
    assert_ne!(sent[0] & 0x40, 0, "RSV1: the peer compressed it");
    write.write_all(&sent).await.unwrap();
    match framed.next().await.unwrap().unwrap() {
        Event::Message(message) => assert_eq!(message, Message::from(text.as_str())),
        other => panic!("{other:?}"),
    }

    framed
        .send(Outgoing::Message(Message::from(text.as_str())))
        .await
        .unwrap();
    let start = Instant::now();
    framed.codec_mut().connection_mut().handle_timeout(start);
    framed
        .codec_mut()
        .connection_mut()
        .handle_timeout(start + Duration::from_secs(5));
    framed.send(Outgoing::Flush).await.unwrap();
    // Our compressed message (RSV1; its payload read by the reference
    // inflater), then the keepalive ping, read by hand.
    let mut wire = vec![0; 1 << 16];
    let mut got = Vec::new();
    let frames = loop {
        if got.len() >= 2 {
            let (len, at) = match got[1] {
                126 if got.len() >= 4 => (usize::from(u16::from_be_bytes([got[2], got[3]])), 4),
                126 => (usize::MAX, 4),
                len => (usize::from(len), 2),
            };
            if len != usize::MAX && got.len() >= at + len + 2 {
                break (got[0], got[at..at + len].to_vec(), got[at + len..].to_vec());
            }
        }
        let n = read.read(&mut wire).await.unwrap();
        assert_ne!(n, 0);
        got.extend_from_slice(&wire[..n]);
    };
    assert_eq!(
        frames.0,
        0x80 | 0x40 | TEXT,
        "our message compressed (RSV1)"
    );
    assert_eq!(
        common::deflate::reference_inflate(&frames.1),
        Some(text.into_bytes())
    );
    assert_eq!(frames.2, [0x80 | PING, 0], "the keepalive ping");
}

/// `WebSocket::next` agrees with the codec's `decode_eof`: a hang-up
/// inside a frame or a message is `Error::Io` of kind `UnexpectedEof`, once,
/// then `None`; one between messages is just `None`. Cut at every point of
/// a two-frame message.
#[tokio::test]
async fn websocket_next_reports_a_hang_up_inside_a_frame_or_a_message() {
    use wsframe::tokio::WebSocket;

    let message = [client(TEXT, b"hel"), client(FIN | CONT, b"lo")].concat();
    for cut in 0..=message.len() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let mut ws =
            WebSocket::from_upgraded(ours, Role::Server, Config::default(), Default::default());
        theirs.write_all(&message[..cut]).await.unwrap();
        drop(theirs);
        let mut results = Vec::new();
        while let Some(result) = ws.next().await {
            results.push(result.map_err(|err| match err {
                Error::Io(err) => err.kind(),
                other => panic!("cut {cut}: {other}"),
            }));
        }
        let expected = match cut {
            0 => vec![],
            n if n == message.len() => vec![Ok(Event::Message(Message::from("hello")))],
            _ => vec![Err(std::io::ErrorKind::UnexpectedEof)],
        };
        assert_eq!(results, expected, "cut {cut}");
    }
}

/// After our close, a peer that reads it and hangs up without answering:
/// `next` reports `UnexpectedEof` once, then `None`, as `decode_eof` does;
/// with its close frame whole, the close is the answer. A peer gone
/// before our close is written: the write's error once (`BrokenPipe`
/// here), then `None`, not the same error at every call.
#[tokio::test]
async fn websocket_next_reports_a_hang_up_that_leaves_our_close_unanswered() {
    use wsframe::tokio::WebSocket;

    let answer = client(FIN | CLOSE, &close_payload(1000, b""));
    let our_close = [0x80 | CLOSE, 2, 0x03, 0xE8];
    let outcome = |result: Result<Event, Error>| match result {
        Ok(Event::Closed(closed)) => Ok(closed.code),
        Ok(other) => panic!("{other:?}"),
        Err(Error::Io(err)) => Err(err.kind()),
        Err(other) => panic!("{other}"),
    };
    for cut in 0..=answer.len() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.close(CloseCode::NORMAL, "").unwrap();
        let mut ws = WebSocket::from_connection(ours, conn);
        let sent = answer[..cut].to_vec();
        let peer = tokio::spawn(async move {
            let mut read = [0; 4];
            theirs.read_exact(&mut read).await.unwrap();
            assert_eq!(read, our_close);
            theirs.write_all(&sent).await.unwrap();
        });
        let mut results = Vec::new();
        while let Some(result) = ws.next().await {
            results.push(outcome(result));
        }
        peer.await.unwrap();
        let expected = match cut == answer.len() {
            true => vec![Ok(CloseCode::NORMAL)],
            false => vec![Err(std::io::ErrorKind::UnexpectedEof)],
        };
        assert_eq!(results, expected, "cut {cut}");
    }

    let (ours, theirs) = tokio::io::duplex(1 << 16);
    drop(theirs);
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.close(CloseCode::NORMAL, "").unwrap();
    let mut ws = WebSocket::from_connection(ours, conn);
    let mut results = Vec::new();
    while let Some(result) = ws.next().await {
        results.push(outcome(result));
        assert!(results.len() < 10, "{results:?}");
    }
    assert_eq!(results, vec![Err(std::io::ErrorKind::BrokenPipe)]);
}

/// A stream whose reads wait forever and whose writes fail with `error()`;
/// it counts the writes tried.
struct FailingWrites<F> {
    error: F,
    tried: usize,
}

impl<F: Fn() -> std::io::Error + Unpin> tokio::io::AsyncRead for FailingWrites<F> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

impl<F: Fn() -> std::io::Error + Unpin> tokio::io::AsyncWrite for FailingWrites<F> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.tried += 1;
        std::task::Poll::Ready(Err((self.error)()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// What a stream's error carried, found again behind the errors a
/// `WebSocket` reports.
#[derive(Debug)]
struct Marker(u32);

impl std::fmt::Display for Marker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the peer vanished (marker {})", self.0)
    }
}

impl std::error::Error for Marker {}

/// Two sends over a stream whose write fails: each fails with the write's
/// error, the second without touching the stream; the error the stream
/// gave stays reachable from both: an OS error by its code, any other
/// inside it (`get_ref`, an `Arc<io::Error>`), kind and text kept, the
/// text shown once in the source chain.
#[tokio::test]
async fn a_failed_write_stays_reachable_from_the_later_errors() {
    use std::error::Error as _;
    use wsframe::tokio::WebSocket;

    fn io_error(result: Result<(), Error>) -> std::io::Error {
        match result {
            Err(Error::Io(err)) => err,
            other => panic!("{other:?}"),
        }
    }
    /// The `Marker` the stream's error held: the reported error holds
    /// that error (an `Arc<io::Error>`, its `get_ref`), which holds the
    /// `Marker`. Not in the source chain: the text already shows it.
    fn marker_in(err: &std::io::Error) -> Option<u32> {
        let first = err
            .get_ref()?
            .downcast_ref::<std::sync::Arc<std::io::Error>>()?;
        first.get_ref()?.downcast_ref::<Marker>().map(|m| m.0)
    }

    let stream = FailingWrites {
        error: || std::io::Error::new(std::io::ErrorKind::ConnectionReset, Marker(7)),
        tried: 0,
    };
    let conn = Connection::new(Role::Server, Config::default());
    let mut ws = WebSocket::from_connection(stream, conn);
    for attempt in ["first", "second"] {
        let err = io_error(ws.send(Message::from("hi")).await);
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{attempt}");
        assert_eq!(err.to_string(), "the peer vanished (marker 7)", "{attempt}");
        assert_eq!(marker_in(&err), Some(7), "{attempt}: {err:?}");
        assert!(err.source().is_none(), "{attempt}: the text twice: {err:?}");
    }
    assert_eq!(
        ws.into_inner().tried,
        1,
        "the second send touched the stream"
    );

    // EPIPE on Linux, as a socket reports it.
    let stream = FailingWrites {
        error: || std::io::Error::from_raw_os_error(32),
        tried: 0,
    };
    let conn = Connection::new(Role::Server, Config::default());
    let mut ws = WebSocket::from_connection(stream, conn);
    for attempt in ["first", "second"] {
        let err = io_error(ws.send(Message::from("hi")).await);
        assert_eq!(err.raw_os_error(), Some(32), "{attempt}: {err:?}");
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{attempt}");
    }
    assert_eq!(
        ws.into_inner().tried,
        1,
        "the second send touched the stream"
    );
}
