//! The tokio layer's fast paths (the echo speed-up of session 21), each
//! tried against the guarantee it could break. The send path
//! (`queue_and_flush` as one poll function, `next`/`send` as plain
//! functions returning their future): nothing runs before the first poll,
//! a send dropped after any number of polls while raced against the
//! reader's `next` queues its message once or not at all, the split
//! reader is never blocked by a writer waiting for room, and a pong queued
//! before a message goes out before it. The receive path (a small whole
//! message clears the read buffer; `prepare_read`'s fast path between
//! frames): held messages keep their bytes, and reads through
//! `prepare_read` and `read_buf` give `receive`'s events cut at every point.
//! The send path's frame headers (a short server header stored whole, the
//! rest built in an array, the payload reserved with the header): the
//! bytes RFC 6455 §5.2 gives, and each role's messages read back whole.
#![cfg(feature = "tokio")]

mod common;

use std::{
    future::Future,
    pin::{pin, Pin},
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use common::{
    client, close_payload, drive,
    tokio_peer::{peer, server, Scripted},
    BINARY, CLOSE, CONT, FIN, PING, PONG, TEXT,
};
use tokio::{
    io::{AsyncRead, DuplexStream, ReadBuf},
    select,
    time::sleep,
};
use wsframe::{tokio::WebSocket, Config, Connection, Event, Message, Role};

/// Reads what `io` holds now, without waiting, into `peer`; returns how
/// many bytes that was.
fn drain_now(io: &mut DuplexStream, peer: &mut Connection, at_most: usize) -> usize {
    let bytes = drain_raw(io, at_most);
    peer.receive(&bytes);
    bytes.len()
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// All events `peer` has now.
fn events_of(peer: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| peer.next_event()).collect()
}

/// A message tagged `i`, `len` bytes long.
fn tagged(i: usize, len: usize) -> Message {
    Message::Binary(
        (0..len)
            .map(|j| (i * 31 + j) as u8)
            .collect::<Vec<u8>>()
            .into(),
    )
}

#[tokio::test(start_paused = true)]
async fn send_and_next_do_nothing_until_polled() {
    let (mut ws, mut io) = server(4096, Config::default());
    let mut client = peer();
    client.ping(b"p").unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut io, &client.take_output())
        .await
        .unwrap();
    drop(ws.send(Message::from("never polled")));
    drop(ws.next());
    assert_eq!(ws.connection().output_len(), 0, "nothing queued");
    assert_eq!(drain_now(&mut io, &mut client, 4096), 0, "nothing written");
    let (mut reader, mut writer) = ws.split();
    drop(writer.send(Message::from("never polled either")));
    drop(reader.next());
    assert_eq!(drain_now(&mut io, &mut client, 4096), 0, "nothing written");
    // The ping is still there to read, answered once, then the message.
    let event = reader.next().await.unwrap().unwrap();
    assert_eq!(event, Event::Ping(Bytes::from_static(b"p")));
    writer.send(Message::from("polled")).await.unwrap();
    drain_now(&mut io, &mut client, 4096);
    assert_eq!(
        events_of(&mut client),
        [
            Event::Pong(Bytes::from_static(b"p")),
            Event::Message(Message::from("polled"))
        ]
    );
}

/// The split halves' `next` and `send` raced, each dropped after every
/// number of polls (0 to 11) while the peer reads 13 bytes a round
/// and sends pings and messages: every message queued arrives once, whole
/// and in order; one dropped before it was queued never arrives; pongs
/// answer every ping once; a send is never queued past the output limit.
#[tokio::test(start_paused = true)]
async fn split_send_and_next_dropped_after_any_number_of_polls() {
    let limit = 64;
    for reader_polls in 0..12 {
        for writer_polls in 0..12 {
            let (ws, mut io) = server(32, Config::builder().max_output_buffer(limit).build());
            let (mut reader, mut writer) = ws.split();
            let mut client = peer();
            let first = tagged(0, 100);
            writer.feed(first.clone()).await.unwrap();
            client.ping(b"abc").unwrap();
            client.send(Message::from("to the reader")).unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut io, &client.take_output())
                .await
                .unwrap();
            let message = tagged(1, 20);
            let mut read = 0;
            let mut completed = false;
            {
                let mut next = pin!(reader.next());
                let mut send = pin!(writer.send(message.clone()));
                let (mut next_live, mut send_live) = (true, true);
                for round in 0..reader_polls.max(writer_polls) {
                    if round < writer_polls && send_live {
                        if let Poll::Ready(result) = poll_once(send.as_mut()) {
                            result.unwrap();
                            completed = true;
                            send_live = false;
                        }
                    }
                    if round < reader_polls && next_live {
                        if let Poll::Ready(event) = poll_once(next.as_mut()) {
                            assert!(event.unwrap().is_ok());
                            next_live = false;
                        }
                    }
                    // The peer reads a little every round.
                    read += drain_now(&mut io, &mut client, 13);
                }
            }
            // Both dropped. What the server produced so far: what the peer
            // read, what the pipe holds, what is queued.
            while let n @ 1.. = drain_now(&mut io, &mut client, 4096) {
                read += n;
            }
            let ws = reader.reunite(writer).unwrap();
            let produced = read + ws.connection().output_len();
            let (mut reader, mut writer) = ws.split();
            // 102 for `first`, then maybe the pong (5) and the message (22).
            let queued = match produced - 102 {
                0 | 5 => false,
                22 | 27 => true,
                other => panic!("{reader_polls}/{writer_polls}: {other} more bytes"),
            };
            assert!(!completed || queued, "completed yet not queued");
            let last = Message::from("last");
            let (sent, got) = tokio::join!(
                async {
                    writer.send(last.clone()).await.unwrap();
                    // The reader reads the rest (and answers the ping).
                    loop {
                        select! {
                            event = reader.next() => { event.unwrap().unwrap(); }
                            () = sleep(Duration::from_millis(20)) => break,
                        }
                    }
                    writer.flush().await
                },
                async {
                    let mut events = Vec::new();
                    loop {
                        select! {
                            () = sleep(Duration::from_millis(100)) => break,
                            () = async {
                                let mut buf = [0; 64];
                                let n = tokio::io::AsyncReadExt::read(&mut io, &mut buf).await.unwrap();
                                client.receive(&buf[..n]);
                            } => {}
                        }
                    }
                    events.extend(events_of(&mut client));
                    events
                }
            );
            sent.unwrap();
            let messages: Vec<_> = got
                .iter()
                .filter(|e| matches!(e, Event::Message(_)))
                .cloned()
                .collect();
            let mut want = vec![Event::Message(first.clone())];
            if queued {
                want.push(Event::Message(message.clone()));
            }
            want.push(Event::Message(last));
            assert_eq!(messages, want, "{reader_polls}/{writer_polls}");
            let pongs = got
                .iter()
                .filter(|e| **e == Event::Pong(Bytes::from_static(b"abc")))
                .count();
            assert_eq!(pongs, 1, "{reader_polls}/{writer_polls}: {got:?}");
            assert_eq!(got.len(), want.len() + 1, "{got:?}");
        }
    }
}

/// The split halves' `next` and `send` raced in `select!` (the loser
/// dropped, after however many polls it had) over pipes of 9 to 40 bytes,
/// 300 times each, while the peer sends 100 messages and 30 pings in 5-byte writes
/// and reads 11 bytes at a time: each send attempt carries its own number;
/// the peer reads them in order, none twice, every completed one among
/// them; the reader hands out the peer's messages once each, in order; the
/// pings are answered in order, none twice, the last one answered.
#[tokio::test(start_paused = true)]
async fn split_next_and_send_raced_in_select_lose_and_duplicate_nothing() {
    for (pipe, limit) in [(24, 64), (16, 16), (9, 1), (40, 200), (24, 64), (24, 64)] {
        raced_in_select(pipe, limit).await;
    }
}

/// [`split_next_and_send_raced_in_select_lose_and_duplicate_nothing`]
/// over a `pipe`-byte pipe with an output limit of `limit` bytes.
async fn raced_in_select(pipe: usize, limit: usize) {
    let (ws, io) = server(pipe, Config::builder().max_output_buffer(limit).build());
    let (mut reader, mut writer) = ws.split();
    let (mut from_server, mut to_server) = tokio::io::split(io);
    let mut client = peer();
    let mut theirs = Vec::new();
    for i in 0..100 {
        let message = tagged(1000 + i, 1 + i % 40);
        client.send(message.clone()).unwrap();
        theirs.push(message);
        if i % 3 == 0 {
            client.ping(&[i as u8; 3]).unwrap();
        }
    }
    let mut pending = client.take_output();
    let server_side = async {
        let (mut completed, mut received, mut attempt) = (Vec::new(), Vec::new(), 0);
        let record = |received: &mut Vec<Message>, event: Option<Result<Event, _>>| {
            if let Event::Message(message) = event.unwrap().unwrap() {
                received.push(message);
            }
        };
        while attempt < 300 {
            let message = tagged(attempt, 1 + attempt % 90);
            select! {
                event = reader.next() => record(&mut received, event),
                result = writer.send(message) => { result.unwrap(); completed.push(attempt); }
            }
            attempt += 1;
        }
        writer.send(Message::from("end")).await.unwrap();
        while received.len() < 100 {
            record(&mut received, reader.next().await);
        }
        writer.flush().await.unwrap();
        (completed, received)
    };
    let peer_side = async {
        let mut events = Vec::new();
        let mut buf = [0; 11];
        loop {
            if events.contains(&Event::Message(Message::from("end"))) && pending.is_empty() {
                break events;
            }
            select! {
                n = tokio::io::AsyncReadExt::read(&mut from_server, &mut buf) => {
                    client.receive(&buf[..n.unwrap()]);
                    events.extend(events_of(&mut client));
                }
                n = tokio::io::AsyncWriteExt::write(&mut to_server, &pending[..pending.len().min(5)]),
                    if !pending.is_empty() => { let _ = pending.split_to(n.unwrap()); }
            }
        }
    };
    let ((completed, received), mut events) = tokio::join!(server_side, peer_side);
    // The last pongs, flushed after the end.
    let mut buf = [0; 64];
    loop {
        select! {
            n = tokio::io::AsyncReadExt::read(&mut from_server, &mut buf) => {
                client.receive(&buf[..n.unwrap()]);
                events.extend(events_of(&mut client));
            }
            () = sleep(Duration::from_millis(10)) => break,
        }
    }
    assert_eq!(received, theirs, "the reader lost or repeated a message");
    let (mut arrived, mut pongs) = (Vec::new(), Vec::new());
    for event in &events {
        match event {
            Event::Message(Message::Binary(bytes)) => {
                let attempt = (0..300)
                    .find(|&a| tagged(a, 1 + a % 90).as_bytes() == &bytes[..])
                    .expect("a whole message of some attempt");
                arrived.push(attempt);
            }
            Event::Pong(payload) => pongs.push(payload[0]),
            Event::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(arrived.windows(2).all(|w| w[0] < w[1]), "{arrived:?}");
    assert!(
        completed.iter().all(|a| arrived.contains(a)),
        "a completed send lost"
    );
    assert!(
        completed.len() > 10 && arrived.len() < 300,
        "{completed:?} {arrived:?}"
    );
    // A pong per ping, or (RFC 6455 §5.5.3) for the latest of those read
    // before it went: in order, none twice, the last ping answered.
    assert!(pongs.windows(2).all(|w| w[0] < w[1]), "{pongs:?}");
    assert_eq!(pongs.last(), Some(&99), "{pongs:?}");
}

/// A writer waiting for room holds no lock while it waits: the reader
/// reads, answers a ping and hands out a message meanwhile; the pong,
/// queued while the message waits for room, goes out before it.
#[tokio::test(start_paused = true)]
async fn a_writer_waiting_for_room_leaves_the_reader_free_and_its_pong_first() {
    let (ws, mut io) = server(32, Config::builder().max_output_buffer(64).build());
    let (mut reader, mut writer) = ws.split();
    let first = tagged(0, 100);
    writer.feed(first.clone()).await.unwrap();
    let mut client = peer();
    client.ping(b"abc").unwrap();
    client.send(Message::from("to the reader")).unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut io, &client.take_output())
        .await
        .unwrap();
    let second = tagged(1, 20);
    {
        let mut send = pin!(writer.send(second.clone()));
        assert!(poll_once(send.as_mut()).is_pending(), "no room");
        let ping = reader.next().await.unwrap().unwrap();
        assert_eq!(ping, Event::Ping(Bytes::from_static(b"abc")));
        let message = reader.next().await.unwrap().unwrap();
        assert_eq!(message, Event::Message(Message::from("to the reader")));
        assert!(poll_once(send.as_mut()).is_pending(), "still no room");
        let (mut events, mut sent) = (Vec::new(), false);
        while events.len() < 3 {
            drain_now(&mut io, &mut client, 8);
            if !sent {
                if let Poll::Ready(result) = poll_once(send.as_mut()) {
                    result.unwrap();
                    sent = true;
                }
            }
            events.extend(events_of(&mut client));
        }
        assert_eq!(
            events,
            [
                Event::Message(first),
                Event::Pong(Bytes::from_static(b"abc")),
                Event::Message(second)
            ]
        );
    }
}

/// A stream for the receive path: small whole messages of every size up
/// to past the small-frame bound (each alone in a read at some cut, so it
/// clears the buffer), a fragmented message with a ping between its
/// fragments, an empty frame, a large frame read in place, and a close.
fn receive_wire(large: usize) -> Vec<u8> {
    let mut frames = Vec::new();
    for len in [0, 1, 2, 3, 7, 20, 125, 126, 200, 255, 256, 257] {
        frames.push(client(FIN | BINARY, tagged(len, len).as_bytes()));
    }
    frames.push(client(FIN | TEXT, "κόσμε".as_bytes()));
    frames.push(client(TEXT, b"frag"));
    frames.push(client(FIN | PING, b"p"));
    frames.push(client(CONT, b""));
    frames.push(client(FIN | CONT, b"ment"));
    frames.push(client(FIN | PONG, b""));
    frames.push(client(FIN | BINARY, tagged(9, large).as_bytes()));
    frames.push(client(FIN | TEXT, b"after"));
    frames.push(client(FIN | CLOSE, &close_payload(1000, b"bye")));
    frames.concat()
}

/// `input` through `prepare_read(chunk)` and `read_buf`, in pieces cut at
/// `cuts`, each read no longer than the limit; every event is held (a
/// clone of each message kept alive) until the end.
fn through_prepare_read(input: &[u8], cuts: &[usize], chunk: usize) -> Vec<Event> {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut events = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        while start < end {
            let limit = conn.prepare_read(chunk);
            let room = conn.read_buf().capacity() - conn.read_buf().len();
            assert!((1..=room).contains(&limit), "limit {limit}, room {room}");
            let n = limit.min(end - start);
            conn.read_buf().extend_from_slice(&input[start..start + n]);
            start += n;
            while let Some(event) = conn.next_event() {
                events.push(event);
            }
        }
    }
    events
}

#[test]
fn prepare_read_and_read_buf_give_receive_events_cut_at_every_point() {
    let input = receive_wire(300);
    let want = drive(Role::Server, Config::default(), &input, &[]).0;
    assert!(matches!(want.last(), Some(Event::Closed(_))));
    for chunk in [1, 4, 64, 4096] {
        for cut in 0..=input.len() {
            assert_eq!(through_prepare_read(&input, &[cut], chunk), want, "{cut}");
        }
        let every: Vec<usize> = (1..input.len()).collect();
        assert_eq!(through_prepare_read(&input, &every, chunk), want);
    }
}

/// The large frame (kept in the buffer, handed out as a view of it) cut
/// around its header and at a stride through its payload.
#[test]
fn prepare_read_with_a_large_frame_cut_anywhere() {
    let input = receive_wire(40_000);
    let want = drive(Role::Server, Config::default(), &input, &[]).0;
    let large_at = input.len() - 40_000 - 60;
    let cuts = (large_at..large_at + 40).chain((large_at..input.len()).step_by(997));
    for cut in cuts {
        for chunk in [64, 4096] {
            assert_eq!(through_prepare_read(&input, &[cut], chunk), want, "{cut}");
        }
    }
}

/// Each small message alone in its read (the read buffer cleared where it
/// lies, the next read written over the same bytes): the messages held
/// keep theirs. Then a larger one held while smaller ones follow.
#[test]
fn held_messages_keep_their_bytes_when_the_read_buffer_is_reused() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut held = Vec::new();
    let sizes = [20, 20, 1, 255, 20, 256, 300, 40_000, 20, 20, 3];
    for (i, len) in sizes.into_iter().enumerate() {
        let message = tagged(i, len);
        let frame = client(FIN | BINARY, message.as_bytes());
        let mut at = 0;
        while at < frame.len() {
            let n = conn.prepare_read(4096).min(frame.len() - at);
            conn.read_buf().extend_from_slice(&frame[at..at + n]);
            at += n;
            while let Some(event) = conn.next_event() {
                held.push(event);
            }
        }
        assert_eq!(conn.read_buf().len(), 0, "all read");
    }
    let want: Vec<_> = sizes
        .into_iter()
        .enumerate()
        .map(|(i, len)| Event::Message(tagged(i, len)))
        .collect();
    assert_eq!(held, want);
}

/// The tokio read path, its stream cut at every point (and byte by byte):
/// the events of `receive`, every message held to the end.
#[tokio::test(start_paused = true)]
async fn the_tokio_read_path_gives_receive_events_cut_at_every_point() {
    let input = receive_wire(300);
    let want = drive(Role::Server, Config::default(), &input, &[]).0;
    let mut cut_sets: Vec<Vec<usize>> = (0..=input.len()).map(|cut| vec![cut]).collect();
    cut_sets.push((1..input.len()).collect());
    for cuts in cut_sets {
        let stream = Scripted::new(&input, &cuts).then_eof();
        let mut ws =
            WebSocket::from_upgraded(stream, Role::Server, Config::default(), Bytes::new());
        let mut got = Vec::new();
        while let Some(event) = ws.next().await {
            got.push(event.unwrap());
        }
        assert_eq!(got, want, "{:?}", &cuts[..cuts.len().min(3)]);
    }
}

/// `next` and `send`, now plain functions returning their future, keep
/// the auto traits their `async fn` futures had: a task may hold them
/// across an await on any runtime.
#[test]
fn next_and_send_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let (ws, _io) = {
        let (ours, theirs) = tokio::io::duplex(64);
        let ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), Bytes::new());
        (ws, theirs)
    };
    let mut ws = ws;
    is_send(&ws.next());
    is_send(&ws.send(Message::from("x")));
    let (mut reader, mut writer) = ws.split();
    is_send(&reader.next());
    is_send(&writer.send(Message::from("x")));
}

/// `FrameHeader::encode`, now a two-byte store for a server's short frame
/// and an array for the rest, appended after bytes already in the buffer:
/// the bytes RFC 6455 §5.2 gives, built here by hand, for every length
/// class at its edges, with and without a mask, any FIN and RSV bits.
#[test]
fn frame_headers_encode_as_rfc_6455_lays_them_out() {
    use wsframe::{bytes::BytesMut, FrameHeader, OpCode};
    let lengths = [0u64, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 1 << 40];
    for opcode in [
        OpCode::Text,
        OpCode::Binary,
        OpCode::Ping,
        OpCode::Continuation,
    ] {
        for mask in [None, Some([0xA1, 0xB2, 0xC3, 0xD4])] {
            for (fin, rsv) in [(true, 0), (false, 0), (true, 0b100), (false, 0b111)] {
                for len in lengths {
                    let header = FrameHeader {
                        rsv,
                        mask,
                        ..FrameHeader::new(fin, opcode, len)
                    };
                    let mut want = vec![0xEE];
                    let code = match opcode {
                        OpCode::Text => 1,
                        OpCode::Binary => 2,
                        OpCode::Ping => 9,
                        _ => 0,
                    };
                    want.push(u8::from(fin) << 7 | rsv << 4 | code);
                    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
                    match len {
                        0..=125 => want.push(mask_bit | len as u8),
                        126..=0xFFFF => {
                            want.push(mask_bit | 126);
                            want.extend_from_slice(&(len as u16).to_be_bytes());
                        }
                        _ => {
                            want.push(mask_bit | 127);
                            want.extend_from_slice(&len.to_be_bytes());
                        }
                    }
                    want.extend_from_slice(&mask.unwrap_or_default()[..mask.map_or(0, |_| 4)]);
                    let mut out = BytesMut::from(&[0xEE][..]);
                    header.encode(&mut out);
                    assert_eq!(&out[..], &want[..], "{header:?}");
                }
            }
        }
    }
}

/// Each role's messages of every length class at its edges, through
/// `send` (header and payload reserved in one step, the short header
/// stored whole) and read back by the other role: the same message.
#[test]
fn both_roles_send_every_length_class_whole() {
    for (from, to) in [(Role::Server, Role::Client), (Role::Client, Role::Server)] {
        let mut sender = Connection::new(from, Config::default());
        let mut receiver = Connection::new(to, Config::default());
        let lengths = [
            0, 1, 2, 124, 125, 126, 127, 255, 256, 0xFFFF, 0x1_0000, 70_001,
        ];
        for (i, len) in lengths.into_iter().enumerate() {
            sender.send(tagged(i, len)).unwrap();
        }
        sender.ping(b"ping").unwrap();
        receiver.receive(&sender.take_output());
        let mut want: Vec<_> = lengths
            .into_iter()
            .enumerate()
            .map(|(i, len)| Event::Message(tagged(i, len)))
            .collect();
        want.push(Event::Ping(Bytes::from_static(b"ping")));
        assert_eq!(events_of(&mut receiver), want, "{from:?}");
    }
}

/// A send waiting for room when the peer's close arrives is refused, and
/// its message never queued after: the peer reads what was queued before,
/// then the close reply, and nothing after it.
#[tokio::test(start_paused = true)]
async fn a_send_waiting_for_room_is_refused_by_the_close_and_queues_nothing() {
    let (ws, mut io) = server(32, Config::builder().max_output_buffer(64).build());
    let (mut reader, mut writer) = ws.split();
    let first = tagged(0, 100);
    writer.feed(first.clone()).await.unwrap();
    let mut client = peer();
    client.close(wsframe::CloseCode::NORMAL, "bye").unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut io, &client.take_output())
        .await
        .unwrap();
    let mut send = pin!(writer.send(tagged(1, 20)));
    assert!(poll_once(send.as_mut()).is_pending(), "no room");
    let mut next = pin!(reader.next());
    let (mut refused, mut closed, mut wire) = (None, None, Vec::new());
    for _ in 0..100 {
        if closed.is_none() {
            if let Poll::Ready(event) = poll_once(next.as_mut()) {
                closed = Some(event);
            }
        }
        if refused.is_none() {
            if let Poll::Ready(result) = poll_once(send.as_mut()) {
                refused = Some(result);
            }
        }
        wire.extend(drain_raw(&mut io, 8));
    }
    assert!(
        matches!(closed, Some(Some(Ok(Event::Closed(_))))),
        "{closed:?}"
    );
    assert!(matches!(refused, Some(Err(_))), "{refused:?}");
    // (The peer, having sent its close, would drop a message: its frames
    // are read by hand.)
    let frames = common::parse_server_frames(&wire);
    assert_eq!(
        frames,
        [
            (FIN | BINARY, first.as_bytes().to_vec()),
            (FIN | CLOSE, 1000u16.to_be_bytes().to_vec())
        ]
    );
}

/// What `io` holds now (at most `at_most` bytes), without waiting.
fn drain_raw(io: &mut DuplexStream, at_most: usize) -> Vec<u8> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut bytes = vec![0; at_most];
    let mut buf = ReadBuf::new(&mut bytes);
    match Pin::new(io).poll_read(&mut cx, &mut buf) {
        Poll::Ready(Ok(())) => buf.filled().to_vec(),
        Poll::Ready(Err(err)) => panic!("{err}"),
        Poll::Pending => Vec::new(),
    }
}

/// The unsplit `send`, queued behind a pong that waits for the pipe and
/// dropped after every number of polls (0 to 15) while the peer reads 13
/// bytes a round: the message goes once or not at all, never cut, and
/// always after the pong queued before it.
#[tokio::test(start_paused = true)]
async fn send_behind_a_waiting_pong_dropped_after_any_number_of_polls() {
    for polls in 0..16 {
        let (mut ws, mut io) = server(32, Config::builder().max_output_buffer(64).build());
        let first = tagged(0, 100);
        ws.feed(first.clone()).await.unwrap();
        let mut client = peer();
        client.ping(b"abc").unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut io, &client.take_output())
            .await
            .unwrap();
        let ping = ws.next().await.unwrap().unwrap();
        assert_eq!(ping, Event::Ping(Bytes::from_static(b"abc")));
        let message = tagged(1, 20);
        let mut read = 0;
        let mut completed = false;
        {
            let mut send = pin!(ws.send(message.clone()));
            for _ in 0..polls {
                if let Poll::Ready(result) = poll_once(send.as_mut()) {
                    result.unwrap();
                    completed = true;
                    break;
                }
                read += drain_now(&mut io, &mut client, 13);
            }
        }
        while let n @ 1.. = drain_now(&mut io, &mut client, 4096) {
            read += n;
        }
        // 102 for `first`, 5 for the pong, 22 for the message if queued.
        let queued = match read + ws.connection().output_len() - 107 {
            0 => false,
            22 => true,
            other => panic!("{polls}: {other} more bytes"),
        };
        assert!(!completed || queued, "{polls}: completed yet not queued");
        let last = Message::from("last");
        let mut want = vec![
            Event::Message(first),
            Event::Pong(Bytes::from_static(b"abc")),
        ];
        if queued {
            want.push(Event::Message(message));
        }
        want.push(Event::Message(last.clone()));
        let mut got = Vec::new();
        let (sent, ()) = tokio::join!(ws.send(last), async {
            loop {
                got.extend(events_of(&mut client));
                if got.len() >= want.len() {
                    break;
                }
                let mut buf = [0; 64];
                let n = tokio::io::AsyncReadExt::read(&mut io, &mut buf)
                    .await
                    .unwrap();
                client.receive(&buf[..n]);
            }
        });
        sent.unwrap();
        assert_eq!(got, want, "{polls}");
    }
}
