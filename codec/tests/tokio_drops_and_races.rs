//! The tokio surface's futures dropped at every poll and its split halves
//! raced, after the fast paths (`queue_and_flush`, `next`/`send` as plain
//! functions returning their future, `prepare_read`), written as an
//! embedder would from the docs alone:
//! 1. the split halves in two tasks of a two-worker runtime, over a real
//!    127.0.0.1 TCP socket and over a 7-byte `duplex` pipe, the writer's
//!    `feed`/`flush` raced in `select!` against a short timer and retried,
//!    the reader's `next` raced too, the peer sending pings and messages of
//!    0 B, 1 B, 125 B, 126 B and 64 KiB + 1, with permessage-deflate (both
//!    contexts taken over) and without;
//! 2. compressed `send`, `send_fragment` and `close` dropped after every
//!    number of polls against pipes of 1 to 64 bytes;
//! 3. `next` dropped at every poll while a 70 000-byte and a small message
//!    arrive cut at many read sizes (the `prepare_read` fast path), whole
//!    and streamed, compressed and not;
//! 4. the `futures` `Stream`/`Sink` with the same drops, and the peer's
//!    close read through `StreamExt::next` dropped at every poll;
//! 5. edges: the split writer's `send` raced and not retried (once or
//!    never, every completed one there), a ping flood from a peer that
//!    reads nothing (pongs coalesced, §5.5.3), a peer reset under both
//!    halves, and many small messages held while the read buffer starts
//!    over at its front.
//!
//! The peer's side is read by hand (RFC 6455 §5.2, `frames_of`), the
//! compressed payloads inflated by flate2 with one context for the whole
//! connection (RFC 7692 §7.2.2), and the sans-IO client `Connection`
//! parses the same bytes.
#![cfg(all(feature = "tokio", feature = "deflate"))]

mod common;

use std::{
    future::Future,
    pin::{pin, Pin},
    task::{Context, Poll, Waker},
    time::Duration,
};

use common::{
    deflate::{frames_of, inflate_next, messages_of},
    Rng, CLOSE, PING, PONG,
};
use tokio::{
    io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf},
    runtime::Runtime,
    select,
    sync::mpsc,
    time::sleep,
};
use wsframe::{
    tokio::WebSocket, CloseCode, Config, Connection, DeflateConfig, DeflateParams, Event, Message,
    Role,
};

/// The payload sizes every test sends: empty, one byte, the largest and
/// the smallest of the 7-bit and 16-bit length classes' edge, and one past
/// 64 KiB (the 64-bit length, past `READ_CHUNK`).
const SIZES: [usize; 5] = [0, 1, 125, 126, 64 * 1024 + 1];

/// Both contexts taken over (RFC 7692 §7.1.1): a message sent twice or
/// cut would throw every later one off.
fn params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

fn config(deflate: bool, streaming: bool, max_output: usize) -> Config {
    let builder = Config::builder()
        .streaming(streaming)
        .max_output_buffer(max_output);
    let builder = if deflate {
        builder.deflate(Some(DeflateConfig::default().threshold(1)))
    } else {
        builder
    };
    builder.build()
}

fn server_conn(deflate: bool, config: Config) -> Connection {
    Connection::with_deflate(Role::Server, config, deflate.then(params))
}

/// The sans-IO client: the peer's sender and its parser of what the
/// server writes.
fn client_conn(deflate: bool) -> Connection {
    Connection::with_deflate_and_mask_source(
        Role::Client,
        config(deflate, false, 1 << 24),
        deflate.then(params),
        Box::new(|| [0x5A, 0x0F, 0xC3, 0x96]),
    )
}

/// Message `i` of `len` bytes: text (ASCII, partly repetitive, so that it
/// compresses) or binary (part noise, which does not).
fn message(rng: &mut Rng, i: usize, len: usize) -> Message {
    if i.is_multiple_of(2) {
        let text: String = (0..len)
            .map(|j| match (j / 11) % 3 {
                0 => char::from(b'a' + rng.below(26) as u8),
                _ => char::from(b'A' + ((i + j) % 26) as u8),
            })
            .collect();
        Message::from(text)
    } else {
        let bytes: Vec<u8> = (0..len)
            .map(|j| {
                if j % 5 == 0 {
                    rng.next() as u8
                } else {
                    (i * 7 + j / 3) as u8
                }
            })
            .collect();
        Message::from(bytes)
    }
}

/// What a server wrote, checked by hand: the frames (RFC 6455 §5.2, RSV
/// rules of RFC 7692 §6 by `messages_of`), the data messages' payloads
/// (inflated by flate2 with one context throughout when compressed), the
/// pongs' payloads in order, and how many close frames.
struct Wire {
    messages: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    closes: usize,
    /// Whether a data frame came after the close frame.
    data_after_close: bool,
}

fn read_wire(wire: &[u8]) -> Wire {
    let mut inflater = flate2::Decompress::new(false);
    let messages = messages_of(wire)
        .into_iter()
        .map(|m| {
            let joined = m.frames.concat();
            if m.compressed {
                inflate_next(&mut inflater, &joined)
            } else {
                joined
            }
        })
        .collect();
    let mut pongs = Vec::new();
    let mut closes = 0;
    let mut data_after_close = false;
    for (first, payload) in frames_of(wire) {
        match first & 0x0F {
            PONG => pongs.push(payload),
            CLOSE => closes += 1,
            PING => {}
            _ if closes > 0 => data_after_close = true,
            _ => {}
        }
    }
    Wire {
        messages,
        pongs,
        closes,
        data_after_close,
    }
}

/// The same bytes through the sans-IO client: the messages it reads, and
/// that it saw no protocol error.
fn client_reads(deflate: bool, wire: &[u8]) -> Vec<Vec<u8>> {
    let mut client = client_conn(deflate);
    client.receive(wire);
    let mut messages = Vec::new();
    while let Some(event) = client.next_event() {
        match event {
            Event::Message(m) => messages.push(m.as_bytes().to_vec()),
            Event::Closed(closed) => assert!(closed.error.is_none(), "{closed:?}"),
            _ => {}
        }
    }
    messages
}

fn bytes_of(messages: &[Message]) -> Vec<Vec<u8>> {
    messages.iter().map(|m| m.as_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------------------
// 1. The split halves raced on a multi-thread runtime.

/// Who closes at the end of a race.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Closer {
    /// The peer, once it has every message and its last ping's pong.
    Peer,
    /// Our writer (its `close` raced and retried), once our reader has
    /// every message.
    Us,
}

/// The peer: sends `messages` (each followed, now and then, by a ping),
/// reads until it has `expect` messages (and, when it closes, the pong of
/// its last ping), then closes or waits for our close; reads to the end of
/// the close handshake. Returns every byte it read.
async fn peer<S: AsyncRead + AsyncWrite + Send + 'static>(
    io: S,
    deflate: bool,
    messages: Vec<Message>,
    expect: usize,
    seed: u64,
    closer: Closer,
) -> Vec<u8> {
    let (mut rd, mut wr) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    // Writes in pieces of random size, so that frames arrive cut anywhere.
    let writer = tokio::spawn(async move {
        let mut rng = Rng(seed ^ 0x9E37_79B9);
        while let Some(bytes) = rx.recv().await {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (1 + rng.below(3000)).min(rest.len());
                wr.write_all(&rest[..n]).await.unwrap();
                rest = &rest[n..];
                if rng.below(8) == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
    });
    let mut conn = client_conn(deflate);
    let mut rng = Rng(seed);
    let mut last_ping = None;
    for (i, m) in messages.into_iter().enumerate() {
        conn.send(m).unwrap();
        if rng.below(2) == 0 {
            let payload = format!("ping {i}");
            conn.ping(payload.as_bytes()).unwrap();
            last_ping = Some(payload.into_bytes());
        }
        tx.send(conn.take_output().to_vec()).unwrap();
    }
    let last_ping = last_ping.unwrap_or_else(|| {
        conn.ping(b"last").unwrap();
        tx.send(conn.take_output().to_vec()).unwrap();
        b"last".to_vec()
    });
    let mut wire = Vec::new();
    let mut got = 0;
    let mut last_pong_seen = false;
    let mut close_sent = false;
    let mut buf = vec![0; 1 + rng.below(20_000)];
    loop {
        let n = rd.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server hung up before the close handshake's end");
        wire.extend_from_slice(&buf[..n]);
        conn.receive(&buf[..n]);
        let mut closed = false;
        while let Some(event) = conn.next_event() {
            match event {
                // "END" ends a run whose count is not known in advance.
                Event::Message(m) if m.as_bytes() == b"END" => got = expect,
                Event::Message(_) => got += 1,
                Event::Pong(p) if p[..] == last_ping[..] => last_pong_seen = true,
                Event::Closed(c) => {
                    assert!(c.error.is_none(), "the server's bytes: {c:?}");
                    closed = true;
                }
                _ => {}
            }
        }
        if closer == Closer::Peer && got == expect && last_pong_seen && !close_sent {
            conn.close(CloseCode::NORMAL, "done").unwrap();
            close_sent = true;
        }
        if conn.has_output() {
            let _ = tx.send(conn.take_output().to_vec());
        }
        if closed {
            break;
        }
    }
    drop(tx);
    writer.await.unwrap();
    wire
}

/// Retries `op` (a strictly cancel-safe call) raced against a timer of
/// up to `max_us` microseconds until it completes.
macro_rules! race_retried {
    ($rng:expr, $max_us:expr, $op:expr) => {
        loop {
            let wait = Duration::from_micros($rng.below($max_us) as u64);
            select! {
                r = $op => break r,
                () = sleep(wait) => {}
            }
        }
    };
}

/// Polls `fut` to its end inside a `select!` against timers that fire
/// meanwhile (the future kept across them, not dropped).
async fn across_timers<F: Future>(fut: F, rng: &mut Rng) -> F::Output {
    let mut fut = pin!(fut);
    loop {
        let wait = Duration::from_micros(rng.below(150) as u64);
        select! {
            out = &mut fut => return out,
            () = sleep(wait) => {}
        }
    }
}

/// One run: the server's halves in two tasks, the peer in a third.
async fn race_once<S>(ours: S, theirs: S, seed: u64, deflate: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491) | 1);
    let closer = if seed.is_multiple_of(2) {
        Closer::Us
    } else {
        Closer::Peer
    };
    let count = 6 + rng.below(4);
    let ours_out: Vec<Message> = (0..count)
        .map(|i| {
            let len = SIZES[rng.below(SIZES.len())];
            message(&mut rng, i, len)
        })
        .collect();
    let theirs_out: Vec<Message> = (0..count)
        .map(|i| {
            let len = SIZES[rng.below(SIZES.len())];
            message(&mut rng, i + 1, len)
        })
        .collect();
    // Every fifth run hands messages out in pieces.
    let streaming = seed.is_multiple_of(5);
    let mut cfg = config(deflate, streaming, 300);
    if seed.is_multiple_of(3) {
        // Keepalive pings of our own on the wire as well.
        cfg = Config::builder()
            .streaming(streaming)
            .max_output_buffer(300)
            .ping_interval(Some(Duration::from_millis(1)))
            .deflate(cfg.deflate())
            .build();
    }
    let ws = WebSocket::from_connection(ours, server_conn(deflate, cfg));
    let (mut reader, mut writer) = ws.split();
    let peer = tokio::spawn(peer(
        theirs,
        deflate,
        theirs_out.clone(),
        count,
        seed,
        closer,
    ));
    let all_read = std::sync::Arc::new(tokio::sync::Notify::new());
    let all_read2 = std::sync::Arc::clone(&all_read);
    let reader = tokio::spawn(async move {
        let mut rng = Rng(seed ^ 0x51);
        let mut got = Vec::new();
        let mut pieces: Vec<Message> = Vec::new();
        loop {
            let wait = Duration::from_micros(rng.below(300) as u64);
            let event = if rng.below(2) == 0 {
                select! {
                    event = reader.next() => event,
                    () = sleep(wait) => continue,
                }
            } else {
                #[cfg(feature = "futures")]
                {
                    select! {
                        event = futures_util::StreamExt::next(&mut reader) => event,
                        () = sleep(wait) => continue,
                    }
                }
                #[cfg(not(feature = "futures"))]
                reader.next().await
            };
            match event {
                Some(Ok(Event::Message(m))) => {
                    got.push(m.as_bytes().to_vec());
                    if got.len() == count {
                        all_read2.notify_one();
                    }
                }
                Some(Ok(Event::Chunk { data, last })) => {
                    pieces.push(data);
                    if last {
                        got.push(
                            pieces
                                .drain(..)
                                .flat_map(|p| p.as_bytes().to_vec())
                                .collect(),
                        );
                        if got.len() == count {
                            all_read2.notify_one();
                        }
                    }
                }
                Some(Ok(Event::Closed(c))) => {
                    assert!(c.error.is_none(), "{c:?}");
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("seed {seed}: {err}"),
                None => panic!("seed {seed}: ended without a close"),
            }
        }
        assert!(reader.next().await.is_none());
        got
    });
    let sent = ours_out.clone();
    let writer = tokio::spawn(async move {
        let mut rng = Rng(seed ^ 0xA5);
        for m in sent {
            match rng.below(5) {
                // `feed` is strictly cancel-safe: dropped, the message was
                // not queued, and the retry queues it once.
                0 => race_retried!(rng, 200, writer.feed(m.clone())).unwrap(),
                1 => across_timers(writer.send(m), &mut rng).await.unwrap(),
                2 => {
                    let compress = rng.below(2) == 0;
                    let sending = writer.send_compressed(m, compress);
                    across_timers(sending, &mut rng).await.unwrap();
                }
                // In up to three fragments, each fed raced and retried.
                3 => {
                    let bytes = m.as_bytes().to_vec();
                    let cuts = [rng.below(bytes.len() + 1), rng.below(bytes.len() + 1)];
                    let (a, b) = (cuts[0].min(cuts[1]), cuts[0].max(cuts[1]));
                    let pieces = [&bytes[..a], &bytes[a..b], &bytes[b..]];
                    for (k, piece) in pieces.into_iter().enumerate() {
                        let fragment = match &m {
                            Message::Text(_) => Message::from(std::str::from_utf8(piece).unwrap()),
                            Message::Binary(_) => Message::from(piece),
                        };
                        race_retried!(rng, 200, writer.feed_fragment(fragment.clone(), k == 2))
                            .unwrap();
                    }
                }
                _ => {
                    #[cfg(feature = "futures")]
                    race_retried!(
                        rng,
                        200,
                        futures_util::SinkExt::feed(&mut writer, m.clone())
                    )
                    .unwrap();
                    #[cfg(not(feature = "futures"))]
                    writer.feed(m).await.unwrap();
                }
            }
            if rng.below(2) == 0 {
                race_retried!(rng, 200, writer.flush()).unwrap();
            }
        }
        // The last feeds are written by this flush or by the reader.
        race_retried!(rng, 200, writer.flush()).unwrap();
        if closer == Closer::Us {
            all_read.notified().await;
            // Cancel-safe: called again, no second close frame.
            if seed.is_multiple_of(4) {
                // The `Sink`'s close: a 1000 close frame, written out.
                #[cfg(feature = "futures")]
                race_retried!(rng, 100, futures_util::SinkExt::close(&mut writer)).unwrap();
                #[cfg(not(feature = "futures"))]
                writer.close(CloseCode::NORMAL, "").await.unwrap();
            } else {
                race_retried!(rng, 100, writer.close(CloseCode::NORMAL, "ours")).unwrap();
            }
        }
        writer
    });
    let got = joined(
        reader,
        &format!("seed {seed} deflate {deflate}: the reader"),
    )
    .await;
    let _writer = joined(
        writer,
        &format!("seed {seed} deflate {deflate}: the writer"),
    )
    .await;
    let wire = joined(peer, &format!("seed {seed} deflate {deflate}: the peer")).await;
    assert_eq!(
        got,
        bytes_of(&theirs_out),
        "seed {seed}: the peer's messages, once each, in order"
    );
    let read = read_wire(&wire);
    assert_eq!(read.messages, bytes_of(&ours_out), "seed {seed}: by hand");
    assert_eq!(client_reads(deflate, &wire), bytes_of(&ours_out));
    assert_eq!(read.closes, 1, "seed {seed}: one close frame");
    assert!(!read.data_after_close);
}

/// Seeds per transport: each a different mix of sizes, write modes,
/// timers and closer.
const SEEDS: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_race_over_tcp() {
    for seed in 1..=SEEDS {
        for deflate in [false, true] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (theirs, accepted) =
                tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
            let (ours, _) = accepted.unwrap();
            ours.set_nodelay(true).unwrap();
            race_once(ours, theirs.unwrap(), seed, deflate).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_race_over_a_tiny_pipe() {
    for seed in 1..=SEEDS {
        for deflate in [false, true] {
            let (ours, theirs) = duplex(7);
            race_once(ours, theirs, seed, deflate).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Manual polling, for the drops at every poll: a plain thread with the
// runtime entered (no task, hence no coop budget to run out).

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// The peer's end of a pipe: what it read so far, what it has still to
/// write.
struct PipePeer {
    io: DuplexStream,
    wire: Vec<u8>,
    input: Vec<u8>,
}

impl PipePeer {
    /// Reads what the pipe holds and writes what the pipe takes, without
    /// waiting.
    fn pump(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut bytes = [0; 256];
        loop {
            let mut buf = ReadBuf::new(&mut bytes);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.wire.extend_from_slice(buf.filled());
                }
                _ => break,
            }
        }
        while !self.input.is_empty() {
            match Pin::new(&mut self.io).poll_write(&mut cx, &self.input) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    self.input.drain(..n);
                }
                _ => break,
            }
        }
    }
}

/// Polls `fut` to its end, pumping the peer between polls.
fn drive<F: Future>(fut: F, peer: &mut PipePeer) -> F::Output {
    let mut fut = pin!(fut);
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = poll_once(fut.as_mut()) {
            return out;
        }
        peer.pump();
    }
    panic!("never finished");
}

/// Polls `fut` `polls` times at most (pumping the peer between), then drops
/// it; whether it finished.
fn drive_at_most<F: Future<Output = Result<T, E>>, T, E: std::fmt::Debug>(
    fut: F,
    polls: usize,
    peer: &mut PipePeer,
) -> bool {
    let mut fut = pin!(fut);
    for _ in 0..polls {
        if let Poll::Ready(out) = poll_once(fut.as_mut()) {
            out.unwrap();
            return true;
        }
        peer.pump();
    }
    false
}

// ---------------------------------------------------------------------------
// 2. Compressed sends, fragments and close dropped after every number of
// polls.

#[derive(Clone, Debug)]
enum Op {
    Send(Message),
    Fragment(Message, bool),
}

/// Each operation dropped after `polls` polls; whether it was queued is
/// told by the bytes the peer read plus the output still queued (the
/// count grows only when the connection queued frames); if it was, the
/// rest is flushed, else it is done again in full. The close is dropped
/// likewise, then called again: one close frame.
#[test]
fn compressed_send_fragment_and_close_dropped_after_every_number_of_polls() {
    let rt = runtime();
    let _enter = rt.enter();
    let mut rng = Rng(22);
    let ops: Vec<Op> = {
        let mut ops = Vec::new();
        for (i, &len) in SIZES.iter().enumerate() {
            ops.push(Op::Send(message(&mut rng, i, len)));
        }
        ops.push(Op::Fragment(message(&mut rng, 0, 300), false));
        ops.push(Op::Fragment(message(&mut rng, 2, 0), false));
        ops.push(Op::Fragment(message(&mut rng, 4, 126), true));
        ops.push(Op::Send(message(&mut rng, 5, 200)));
        ops
    };
    let expected: Vec<Vec<u8>> = {
        let mut out = Vec::new();
        let mut fragments = Vec::new();
        for op in &ops {
            match op {
                Op::Send(m) => out.push(m.as_bytes().to_vec()),
                Op::Fragment(m, fin) => {
                    fragments.extend_from_slice(m.as_bytes());
                    if *fin {
                        out.push(std::mem::take(&mut fragments));
                    }
                }
            }
        }
        out
    };
    for (pipe, frame_size) in [1, 2, 3, 5, 8, 13, 64]
        .into_iter()
        .flat_map(|pipe| [(pipe, None), (pipe, Some(40))])
    {
        for polls in 0..14 {
            let (ours, theirs) = duplex(pipe);
            // With a frame size limit, a compressed message goes as several
            // frames, queued together or not at all.
            let mut cfg = config(true, false, 64);
            if let Some(size) = frame_size {
                cfg = Config::builder()
                    .max_output_buffer(64)
                    .max_outgoing_frame_size(size)
                    .deflate(cfg.deflate())
                    .build();
            }
            let conn = server_conn(true, cfg);
            let mut ws = WebSocket::from_connection(ours, conn);
            let mut peer = PipePeer {
                io: theirs,
                wire: Vec::new(),
                input: Vec::new(),
            };
            for op in &ops {
                // The pipe emptied first: what it holds counts nowhere.
                peer.pump();
                let before = peer.wire.len() + ws.connection().output_len();
                let done = match op {
                    Op::Send(m) => drive_at_most(ws.send(m.clone()), polls, &mut peer),
                    Op::Fragment(m, fin) => {
                        drive_at_most(ws.send_fragment(m.clone(), *fin), polls, &mut peer)
                    }
                };
                if done {
                    continue;
                }
                peer.pump();
                let queued = peer.wire.len() + ws.connection().output_len() > before;
                eprintln!(
                    "pipe {pipe} polls {polls} op {op:?} queued {queued} before {before} out {}",
                    ws.connection().output_len()
                );
                if queued {
                    drive(ws.flush(), &mut peer).unwrap();
                } else {
                    match op {
                        Op::Send(m) => drive(ws.send(m.clone()), &mut peer).unwrap(),
                        Op::Fragment(m, fin) => {
                            drive(ws.send_fragment(m.clone(), *fin), &mut peer).unwrap();
                        }
                    }
                }
            }
            // The close, dropped, then called again; the peer answers once
            // its close frame is on the wire.
            let closed = drive_at_most(ws.close(CloseCode::NORMAL, "bye"), polls, &mut peer);
            let mut client = client_conn(true);
            if !closed {
                let mut fut = pin!(ws.close(CloseCode::NORMAL, "bye"));
                let mut answered = false;
                let result = loop {
                    if let Poll::Ready(out) = poll_once(fut.as_mut()) {
                        break out;
                    }
                    peer.pump();
                    if !answered && read_wire(&complete_frames(&peer.wire)).closes == 1 {
                        client.receive(&peer.wire);
                        while client.next_event().is_some() {}
                        peer.input = client.take_output().to_vec();
                        answered = true;
                    }
                };
                let closed =
                    result.unwrap_or_else(|err| panic!("pipe {pipe} polls {polls}: {err}"));
                assert_eq!(closed.code, CloseCode::NORMAL);
            }
            peer.pump();
            let read = read_wire(&peer.wire);
            assert_eq!(
                read.messages, expected,
                "pipe {pipe} frames {frame_size:?} polls {polls}: each message once, whole, inflating"
            );
            assert_eq!(client_reads(true, &peer.wire), expected);
            assert_eq!(read.closes, 1, "pipe {pipe} polls {polls}: one close frame");
            assert!(!read.data_after_close);
        }
    }
}

/// The whole frames at the front of `wire` (a server's: unmasked).
fn complete_frames(wire: &[u8]) -> Vec<u8> {
    let mut at = 0;
    loop {
        let rest = &wire[at..];
        if rest.len() < 2 {
            break;
        }
        let (len, head) = match rest[1] & 0x7F {
            126 if rest.len() >= 4 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 if rest.len() >= 10 => (
                u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if rest.len() < head + len {
            break;
        }
        at += head + len;
    }
    wire[..at].to_vec()
}

// ---------------------------------------------------------------------------
// 3. `next` dropped at every poll, the input cut at every read size.

/// Hands out at most `first`, then `size`, bytes a read, every other read `Pending` (its
/// waker woken at once); keeps what is written.
struct Trickle {
    input: Vec<u8>,
    at: usize,
    /// The first read's most bytes; `size` after it.
    first: usize,
    size: usize,
    stall: bool,
    written: Vec<u8>,
}

impl Trickle {
    /// `input` read at most `first` bytes by the first read, `size` by each after.
    fn new(input: &[u8], first: usize, size: usize) -> Self {
        Self {
            input: input.to_vec(),
            at: 0,
            first,
            size,
            stall: false,
            written: Vec::new(),
        }
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.stall = !self.stall;
        if self.stall || self.at == self.input.len() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let most = if self.at == 0 { self.first } else { self.size };
        let n = most.min(buf.remaining()).min(self.input.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.input[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Reads `count` messages (whole or in pieces) from `ws`, a new `next`
/// each round dropped after `hold` polls; every message and piece is
/// held until the end (a read buffer started over under a held message
/// would show here). Returns the messages and the pings seen.
fn read_dropping<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    count: usize,
    hold: usize,
    what: &str,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut held: Vec<Vec<Message>> = Vec::new();
    let mut piece: Vec<Message> = Vec::new();
    let mut pings = Vec::new();
    let mut rounds = 0;
    while held.len() < count {
        rounds += 1;
        assert!(rounds < 10_000_000, "{what}: stuck at {}", held.len());
        let mut fut = pin!(ws.next());
        let mut event = None;
        for _ in 0..hold {
            if let Poll::Ready(e) = poll_once(fut.as_mut()) {
                event = Some(e);
                break;
            }
        }
        match event {
            None => {}
            Some(Some(Ok(Event::Message(m)))) => held.push(vec![m]),
            Some(Some(Ok(Event::Chunk { data, last }))) => {
                piece.push(data);
                if last {
                    held.push(std::mem::take(&mut piece));
                }
            }
            Some(Some(Ok(Event::Ping(p)))) => pings.push(p.to_vec()),
            Some(other) => panic!("{what}: {other:?}"),
        }
    }
    let messages = held
        .iter()
        .map(|pieces| pieces.iter().flat_map(|m| m.as_bytes().to_vec()).collect())
        .collect();
    (messages, pings)
}

/// A 70 000-byte text message (past 64 KiB and `READ_CHUNK`) in two
/// fragments with a ping between them, a ping, a 125-byte message and an
/// empty one, as the client sends them.
fn large_then_small(deflate: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut rng = Rng(3);
    let large = message(&mut rng, 0, 70_000);
    let small = message(&mut rng, 0, 125);
    let empty = Message::from(Vec::new());
    let mut client = client_conn(deflate);
    // In two fragments with a ping between them (§5.4: control frames may
    // come inside a fragmented message), then a ping after it.
    let (first, second) = large.as_bytes().split_at(30_000);
    client
        .send_fragment(Message::from(std::str::from_utf8(first).unwrap()), false)
        .unwrap();
    client.ping(b"inside").unwrap();
    client
        .send_fragment(Message::from(std::str::from_utf8(second).unwrap()), true)
        .unwrap();
    client.ping(b"between").unwrap();
    client.send(small.clone()).unwrap();
    client.send(empty.clone()).unwrap();
    (
        client.take_output().to_vec(),
        bytes_of(&[large, small, empty]),
    )
}

/// After the reads: the pongs of the two pings, each written once, in
/// order.
fn check_pong<S>(mut ws: WebSocket<S>, pings: &[Vec<u8>], what: &str)
where
    S: AsyncRead + AsyncWrite + Unpin + Into<Vec<u8>>,
{
    let both = [b"inside".to_vec(), b"between".to_vec()];
    assert_eq!(pings, both, "{what}");
    assert!(poll_once(pin!(ws.flush())).is_ready(), "{what}");
    let read = read_wire(&ws.into_inner().into());
    assert_eq!(read.pongs, both, "{what}");
}

impl From<Trickle> for Vec<u8> {
    fn from(t: Trickle) -> Self {
        t.written
    }
}

#[test]
fn next_dropped_at_every_poll_through_prepare_read() {
    let rt = runtime();
    let _enter = rt.enter();
    let mut sizes: Vec<usize> = (1..=130).collect();
    sizes.extend([
        1000, 4095, 16_383, 16_384, 16_385, 65_535, 65_536, 65_537, 70_010, 200_000,
    ]);
    sizes.extend((131..70_200).step_by(4_999));
    for deflate in [false, true] {
        let (input, want) = large_then_small(deflate);
        for streaming in [false, true] {
            for &size in &sizes {
                for hold in 1..=3 {
                    let what =
                        format!("deflate {deflate} streaming {streaming} size {size} hold {hold}");
                    let io = Trickle::new(&input, size, size);
                    let conn = server_conn(deflate, config(deflate, streaming, 1 << 20));
                    let mut ws = WebSocket::from_connection(io, conn);
                    let (got, pings) = read_dropping(&mut ws, want.len(), hold, &what);
                    assert_eq!(got, want, "{what}");
                    check_pong(ws, &pings, &what);
                }
            }
        }
    }
}

/// The same input cut once, at every point near the large message's
/// header, around the ping inside it, at its end (where the small one
/// starts) and in the small ones;
/// the rest read in as large reads as `next` asks for.
#[test]
fn next_dropped_at_every_poll_cut_at_every_point_around_the_boundaries() {
    let rt = runtime();
    let _enter = rt.enter();
    for deflate in [false, true] {
        let (input, want) = large_then_small(deflate);
        let first_end = frames_of_masked_len(&input);
        let ping_end = first_end + frames_of_masked_len(&input[first_end..]);
        let large_end = ping_end + frames_of_masked_len(&input[ping_end..]);
        let mut cuts: Vec<usize> = (0..=20).collect();
        cuts.extend(first_end.saturating_sub(20)..ping_end + 20);
        cuts.extend(large_end.saturating_sub(20)..input.len());
        for streaming in [false, true] {
            for &cut in &cuts {
                let hold = 1 + cut % 3;
                let what = format!("deflate {deflate} streaming {streaming} cut {cut}");
                let io = Trickle::new(&input, cut.max(1), usize::MAX);
                let conn = server_conn(deflate, config(deflate, streaming, 1 << 20));
                let mut ws = WebSocket::from_connection(io, conn);
                let (got, pings) = read_dropping(&mut ws, want.len(), hold, &what);
                assert_eq!(got, want, "{what}");
                check_pong(ws, &pings, &what);
            }
        }
    }
}

/// The length of the first (masked, client) frame in `input`.
fn frames_of_masked_len(input: &[u8]) -> usize {
    let (len, head) = match input[1] & 0x7F {
        126 => (u16::from_be_bytes([input[2], input[3]]) as usize, 4),
        127 => (
            u64::from_be_bytes(input[2..10].try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    head + 4 + len
}

// ---------------------------------------------------------------------------
// 4. `Stream` and `Sink` with the same drops.

#[cfg(feature = "futures")]
#[test]
fn stream_and_sink_echo_with_every_drop() {
    use futures_util::{Sink, StreamExt};

    let rt = runtime();
    let _enter = rt.enter();
    for deflate in [false, true] {
        for pipe in [1, 3, 16, 200] {
            for hold in 1..=3 {
                let mut rng = Rng(pipe as u64 * 7 + hold as u64);
                let messages: Vec<Message> = (0..8)
                    .map(|i| message(&mut rng, i, SIZES[i % SIZES.len()]))
                    .collect();
                let mut client = client_conn(deflate);
                for (i, m) in messages.iter().enumerate() {
                    client.send(m.clone()).unwrap();
                    client.ping(format!("p{i}").as_bytes()).unwrap();
                }
                let (ours, theirs) = duplex(pipe);
                let conn = server_conn(deflate, config(deflate, false, 100));
                let mut ws = WebSocket::from_connection(ours, conn);
                let mut peer = PipePeer {
                    io: theirs,
                    wire: Vec::new(),
                    input: client.take_output().to_vec(),
                };
                let mut cx = Context::from_waker(Waker::noop());
                let mut to_echo = std::collections::VecDeque::new();
                let mut echoed = 0;
                let mut rounds = 0;
                while echoed < messages.len() {
                    rounds += 1;
                    assert!(rounds < 5_000_000, "pipe {pipe}: stuck at {echoed}");
                    peer.pump();
                    if !to_echo.is_empty() {
                        if let Poll::Ready(r) = Pin::new(&mut ws).poll_ready(&mut cx) {
                            r.unwrap();
                            // A `next` in between, which may queue a pong
                            // into the room promised: `start_send` still
                            // takes the message (the `Sink` contract).
                            if rounds % 2 == 0 {
                                let mut next = StreamExt::next(&mut ws);
                                if let Poll::Ready(e) = Pin::new(&mut next).poll(&mut cx) {
                                    match e {
                                        Some(Ok(Event::Message(m))) => to_echo.push_back(m),
                                        Some(Ok(_)) => {}
                                        other => panic!("{other:?}"),
                                    }
                                }
                            }
                            let m = to_echo.pop_front().unwrap();
                            Pin::new(&mut ws).start_send(m).unwrap();
                            echoed += 1;
                            for _ in 0..hold {
                                if Pin::new(&mut ws).poll_flush(&mut cx).is_ready() {
                                    break;
                                }
                                peer.pump();
                            }
                        }
                    }
                    // A `StreamExt::next` made and dropped after `hold`
                    // polls; reading goes on while the sink waits.
                    let mut next = StreamExt::next(&mut ws);
                    for _ in 0..hold {
                        match Pin::new(&mut next).poll(&mut cx) {
                            Poll::Ready(Some(Ok(Event::Message(m)))) => {
                                to_echo.push_back(m);
                                break;
                            }
                            Poll::Ready(Some(Ok(_))) => break,
                            Poll::Ready(other) => panic!("{other:?}"),
                            Poll::Pending => peer.pump(),
                        }
                    }
                }
                loop {
                    if let Poll::Ready(r) = Pin::new(&mut ws).poll_flush(&mut cx) {
                        r.unwrap();
                        break;
                    }
                    peer.pump();
                }
                // The peer closes; `StreamExt::next`, dropped after `hold`
                // polls each round, writes the reply once and returns the
                // close once, then `None`.
                client.close(CloseCode::NORMAL, "").unwrap();
                peer.input.extend_from_slice(&client.take_output());
                let mut closed = false;
                let mut rounds = 0;
                loop {
                    rounds += 1;
                    assert!(rounds < 1_000_000, "pipe {pipe}: the close never came");
                    peer.pump();
                    let mut next = StreamExt::next(&mut ws);
                    let mut event = None;
                    for _ in 0..hold {
                        if let Poll::Ready(e) = Pin::new(&mut next).poll(&mut cx) {
                            event = Some(e);
                            break;
                        }
                        peer.pump();
                    }
                    match event {
                        None => {}
                        Some(Some(Ok(Event::Closed(c)))) => {
                            assert!(!closed, "one close event");
                            assert_eq!(c.code, CloseCode::NORMAL);
                            closed = true;
                        }
                        Some(Some(Ok(Event::Ping(_) | Event::Pong(_)))) => {}
                        Some(None) if closed => break,
                        Some(other) => panic!("pipe {pipe}: {other:?}"),
                    }
                }
                peer.pump();
                let read = read_wire(&peer.wire);
                assert_eq!(
                    read.messages,
                    bytes_of(&messages),
                    "deflate {deflate} pipe {pipe} hold {hold}: each echo once, in order"
                );
                assert_eq!(read.closes, 1, "one close reply");
                assert!(!read.data_after_close);
                assert_eq!(client_reads(deflate, &peer.wire), bytes_of(&messages));
                // Every pong answers a ping, in order; the last ping's is
                // among them once the reader has read it (§5.5.3).
                let mut last = 0;
                for p in &read.pongs {
                    let n: usize = std::str::from_utf8(&p[1..]).unwrap().parse().unwrap();
                    assert!(n >= last, "pongs in order");
                    last = n;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 5. Edges of the same surface.

/// A peer that floods pings and reads nothing: `next` (dropped at every
/// poll) goes on returning them, the pongs do not pile up (RFC 6455
/// §5.5.3: a pong may answer only the latest ping), and once the peer
/// reads, the latest ping's pong is there, after the messages fed before.
#[test]
fn ping_flood_from_a_peer_that_reads_nothing() {
    let rt = runtime();
    let _enter = rt.enter();
    for deflate in [false, true] {
        let mut client = client_conn(deflate);
        for i in 0..3000 {
            client.ping(format!("{i}").as_bytes()).unwrap();
        }
        let (ours, theirs) = duplex(64);
        let conn = server_conn(deflate, config(deflate, false, 1024));
        let mut ws = WebSocket::from_connection(ours, conn);
        let fed = Message::from("fed before the flood");
        assert!(poll_once(pin!(ws.feed(fed.clone()))).is_ready());
        let mut peer = PipePeer {
            io: theirs,
            wire: Vec::new(),
            input: client.take_output().to_vec(),
        };
        let mut pings = 0;
        let mut cx = Context::from_waker(Waker::noop());
        let mut rounds = 0;
        while pings < 3000 {
            rounds += 1;
            assert!(rounds < 1_000_000, "stuck at ping {pings}");
            // The peer writes only: its pipe's other way fills up.
            while !peer.input.is_empty() {
                match Pin::new(&mut peer.io).poll_write(&mut cx, &peer.input) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        peer.input.drain(..n);
                    }
                    _ => break,
                }
            }
            if let Poll::Ready(event) = poll_once(pin!(ws.next())) {
                match event {
                    Some(Ok(Event::Ping(_))) => pings += 1,
                    other => panic!("{other:?}"),
                }
            }
            assert!(
                ws.connection().output_len() <= 1024 + 200,
                "deflate {deflate}: {} bytes of output after {pings} pings",
                ws.connection().output_len()
            );
        }
        drive(ws.flush(), &mut peer).unwrap();
        peer.pump();
        let read = read_wire(&peer.wire);
        assert_eq!(read.messages, [fed.as_bytes().to_vec()]);
        assert_eq!(read.pongs.last().map(Vec::as_slice), Some(&b"2999"[..]));
        assert!(read.pongs.len() < 3000, "coalesced: {}", read.pongs.len());
    }
}

/// The peer goes away (its socket dropped, unread bytes in it: a reset)
/// while the writer sends in a loop raced against timers and the reader
/// reads, on two workers: neither hangs; the reader reports the end once
/// and then `None`; every later send fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_reset_while_both_halves_run() {
    for seed in 1..=10u64 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (theirs, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let (ours, _) = accepted.unwrap();
        let mut theirs = theirs.unwrap();
        let ws = WebSocket::from_connection(ours, server_conn(true, config(true, false, 300)));
        let (mut reader, mut writer) = ws.split();
        let reader = tokio::spawn(async move {
            let mut errors = 0;
            loop {
                match reader.next().await {
                    Some(Ok(_)) => {}
                    Some(Err(_)) => errors += 1,
                    None => break,
                }
            }
            assert!(errors <= 2, "seed {seed}: {errors} errors");
            assert!(reader.next().await.is_none());
        });
        let writer = tokio::spawn(async move {
            let mut rng = Rng(seed);
            let mut failed = false;
            for i in 0..2000 {
                let len = SIZES[rng.below(SIZES.len())];
                let m = message(&mut rng, i, len);
                let wait = Duration::from_micros(rng.below(300) as u64);
                let result = select! {
                    r = writer.send(m) => Some(r),
                    () = sleep(wait) => None,
                };
                match result {
                    Some(Err(_)) => failed = true,
                    Some(Ok(())) => assert!(!failed, "seed {seed}: a send after a failure"),
                    None => {}
                }
                if failed && i % 50 == 0 {
                    break;
                }
            }
            assert!(failed, "seed {seed}: the sends never failed");
        });
        // The peer sends a message, reads a little, then drops its socket
        // with bytes unread (a reset).
        let mut client = client_conn(true);
        client.send(Message::from("hello")).unwrap();
        theirs.write_all(&client.take_output()).await.unwrap();
        let mut buf = vec![0; 1000];
        let _ = theirs.read(&mut buf).await.unwrap();
        sleep(Duration::from_millis(seed)).await;
        drop(theirs);
        joined(reader, &format!("seed {seed}: the reader")).await;
        joined(writer, &format!("seed {seed}: the writer")).await;
    }
}

/// Many small messages, each held (not copied) until all are read, at
/// every read size from 1 to 150 bytes with `next` dropped at every poll:
/// the read buffer, cleared and read into from its front again once all
/// of it was handed out, never writes over a message still held.
#[test]
fn small_messages_held_while_the_read_buffer_starts_over() {
    let rt = runtime();
    let _enter = rt.enter();
    let mut rng = Rng(17);
    for deflate in [false, true] {
        let messages: Vec<Message> = (0..60)
            .map(|i| {
                let len = rng.below(130);
                message(&mut rng, i, len)
            })
            .collect();
        let mut client = client_conn(deflate);
        for m in &messages {
            client.send(m.clone()).unwrap();
        }
        let input = client.take_output().to_vec();
        for size in 1..=150 {
            let what = format!("deflate {deflate} size {size}");
            let io = Trickle::new(&input, size, size);
            let conn = server_conn(deflate, config(deflate, false, 1 << 20));
            let mut ws = WebSocket::from_connection(io, conn);
            let (got, pings) = read_dropping(&mut ws, messages.len(), 1 + size % 2, &what);
            assert!(pings.is_empty());
            assert_eq!(got, bytes_of(&messages), "{what}");
        }
    }
}

/// The writer's `send` raced in `select!` against a short timer and not
/// retried (the documented way to know whether a dropped send was queued
/// is `feed`): each message reaches the peer once or not at all, whole,
/// in order, and every send that completed is there. Two workers, over
/// TCP and over a 7-byte pipe, with and without permessage-deflate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_send_raced_and_dropped_goes_once_or_never() {
    for seed in 1..=SEEDS {
        for deflate in [false, true] {
            for tcp in [false, true] {
                if tcp {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    let (theirs, accepted) =
                        tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
                    send_raced_once(accepted.unwrap().0, theirs.unwrap(), seed, deflate).await;
                } else {
                    let (ours, theirs) = duplex(7);
                    send_raced_once(ours, theirs, seed, deflate).await;
                }
            }
        }
    }
}

async fn send_raced_once<S>(ours: S, theirs: S, seed: u64, deflate: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut rng = Rng(seed ^ 0x5EED);
    // Each message starts with its index: a duplicate shows.
    let sent: Vec<Message> = (0..12u32)
        .map(|i| {
            let len = [4, 5, 125, 126, 64 * 1024 + 1][rng.below(5)];
            let mut bytes = message(&mut rng, 1, len).as_bytes().to_vec();
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            Message::from(bytes)
        })
        .collect();
    let ws = WebSocket::from_connection(ours, server_conn(deflate, config(deflate, false, 300)));
    let (mut reader, mut writer) = ws.split();
    let peer = tokio::spawn(peer(
        theirs,
        deflate,
        Vec::new(),
        usize::MAX,
        seed,
        Closer::Peer,
    ));
    let reader = tokio::spawn(async move {
        loop {
            match reader.next().await {
                Some(Ok(Event::Closed(_))) => break,
                Some(Ok(_)) => {}
                other => panic!("seed {seed}: {other:?}"),
            }
        }
    });
    let to_send = sent.clone();
    let writer = tokio::spawn(async move {
        let mut rng = Rng(seed ^ 0xD0);
        let mut completed = Vec::new();
        for (i, m) in to_send.into_iter().enumerate() {
            let wait = Duration::from_micros(rng.below(400) as u64);
            select! {
                r = writer.send(m) => { r.unwrap(); completed.push(i); }
                () = sleep(wait) => {}
            }
        }
        race_retried!(rng, 200, writer.feed(Message::from("END"))).unwrap();
        race_retried!(rng, 200, writer.flush()).unwrap();
        (writer, completed)
    });
    let (_writer, completed) = joined(writer, &format!("seed {seed}: the writer")).await;
    let wire = joined(peer, &format!("seed {seed}: the peer")).await;
    joined(reader, &format!("seed {seed}: the reader")).await;
    let mut read = read_wire(&wire).messages;
    assert_eq!(read.pop().as_deref(), Some(&b"END"[..]), "seed {seed}");
    assert_eq!(client_reads(deflate, &wire).len(), read.len() + 1);
    let indices: Vec<usize> = read
        .iter()
        .map(|m| u32::from_be_bytes(m[..4].try_into().unwrap()) as usize)
        .collect();
    assert!(
        indices.windows(2).all(|w| w[0] < w[1]),
        "seed {seed}: once, in order: {indices:?}"
    );
    for (&i, m) in indices.iter().zip(&read) {
        assert_eq!(m[..], *sent[i].as_bytes(), "seed {seed}: message {i} whole");
    }
    for i in completed {
        assert!(
            indices.contains(&i),
            "seed {seed}: completed send {i} missing"
        );
    }
}

/// What the task `handle` returned, waiting at most 20 s; a task that hung
/// or panicked fails the test, naming `what`.
async fn joined<T>(handle: tokio::task::JoinHandle<T>, what: &str) -> T {
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
        .unwrap_or_else(|err| panic!("{what} failed: {err}"))
}
