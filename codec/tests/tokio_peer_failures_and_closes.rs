//! The tokio layer when the peer fails or goes (writes and reads that
//! fail, hang-ups mid-frame, closes that cross, dropped sends under
//! deflate), the expected results taken from the docs and RFC 6455 / 7692:
//!
//! - permessage-deflate with context takeover over a 64-byte `duplex`
//!   pipe: `send`, `send_compressed`, `feed` and `feed_fragment` each
//!   polled a few times (the peer draining the pipe in between) and
//!   dropped, with the peer's pings answered by `next` dropped the same
//!   way: the wire, parsed by hand and inflated by a reference inflater
//!   keeping one context, holds each message once or not at all, in
//!   order, every completed one, and no frame cut;
//! - a write that fails (the peer gone) over `duplex` and loopback TCP:
//!   what the peer sent before it went is still delivered, the failure is
//!   reported at most once, `next` ends without spinning, later sends
//!   fail at once with the same, matchable kind;
//! - both ends calling `close` at once (duplex and TCP): each gets the
//!   other's code, one close frame each way;
//! - `close` while a fragmented message is open, and while the output is
//!   over its limit: the fragment (or the whole message) first, then the
//!   close, and the answer returned; `close` with the peer's close read
//!   but not yet returned: one close frame on the wire;
//! - split halves when the peer vanishes mid-frame while the writer sends:
//!   the whole message delivered, each half ends, no spin;
//! - a read that fails, and fails again at every call (TLS after a hang-up
//!   without `close_notify`): reported once, then `None`; after a failed
//!   write, `flush`, `ping` and `close` fail at the first poll;
//! - keepalive on the paused clock through a split reader, the writer
//!   idle: pings at the interval, 1001 "idle timeout" at the idle timeout;
//! - split under permessage-deflate on two threads: the writer's sends
//!   (forced compressed, forced plain, by the threshold) at a small output
//!   limit while the reader answers a stream of pings: every message
//!   inflates in order with one context, every pong whole.
#![cfg(all(feature = "tokio", feature = "deflate"))]

mod common;

use std::{
    future::Future,
    io,
    pin::{pin, Pin},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use flate2::{Decompress, FlushDecompress};
use tokio::{
    io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf},
    net::{TcpListener, TcpStream},
    time::timeout,
};
use wsframe::{
    tokio::{Error, WebSocket},
    CloseCode, Config, Connection, DeflateConfig, Event, Message, Role,
};

use common::{
    client, close_payload, deflate::TAKEOVER, parse_server_frame, CLOSE, CONT, FIN, PING, PONG,
    TEXT,
};

const RSV1: u8 = 0x40;

/// Polls `future` with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// Everything the pipe holds now, appended to `wire`.
fn drain(io: &mut DuplexStream, wire: &mut Vec<u8>) {
    let mut buf = [0; 256];
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        let mut read = ReadBuf::new(&mut buf);
        match Pin::new(&mut *io).poll_read(&mut cx, &mut read) {
            Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                wire.extend_from_slice(read.filled())
            }
            _ => return,
        }
    }
}

/// Writes as much of `pending` as the pipe takes now.
fn push(io: &mut DuplexStream, pending: &mut Vec<u8>) {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    while !pending.is_empty() {
        match Pin::new(&mut *io).poll_write(&mut cx, pending) {
            Poll::Ready(Ok(n)) if n > 0 => {
                pending.drain(..n);
            }
            _ => return,
        }
    }
}

/// The frames a server wrote, parsed by hand (RSV1 taken off before the
/// parse, which allows none): `(first byte, payload)`; panics on a cut
/// frame.
fn frames_with_rsv1(wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut wire = wire.to_vec();
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let rsv1 = wire[at] & RSV1;
        wire[at] &= !RSV1;
        let Some((first, payload, len)) = parse_server_frame(&wire[at..]) else {
            panic!("cut frame at {at} of {}", wire.len());
        };
        frames.push((first | rsv1, payload));
        at += len;
    }
    frames
}

/// The peer's side of our close: reads `io` in reads of up to `read_size`
/// bytes (each waiting at most 10 s) until the last whole frame read is a
/// close; returns the frames, parsed as [`frames_with_rsv1`] does.
async fn frames_until_close<R: AsyncRead + Unpin>(
    io: &mut R,
    read_size: usize,
) -> Vec<(u8, Vec<u8>)> {
    let mut wire = Vec::new();
    let mut buf = vec![0; read_size];
    loop {
        let n = timeout(Duration::from_secs(10), io.read(&mut buf))
            .await
            .expect("the peer waits for the close")
            .unwrap();
        assert!(n > 0, "hung up before the close");
        wire.extend_from_slice(&buf[..n]);
        if let Ok(frames) = std::panic::catch_unwind(|| frames_with_rsv1(&wire)) {
            if frames
                .last()
                .is_some_and(|(first, _)| first & 0x0F == CLOSE)
            {
                return frames;
            }
        }
    }
}

/// [`frames_until_close`], then the peer's answer to the close (1000).
async fn frames_until_close_answered(
    theirs: &mut DuplexStream,
    read_size: usize,
) -> Vec<(u8, Vec<u8>)> {
    let frames = frames_until_close(theirs, read_size).await;
    theirs
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    frames
}

/// The data messages in `frames`, compressed ones inflated by flate2 with
/// one context for the whole connection (context takeover, RFC 7692
/// §7.2.2), and the payloads of the pongs.
fn messages_and_pongs(frames: &[(u8, Vec<u8>)]) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut inflater = Decompress::new(false);
    let mut messages = Vec::new();
    let mut pongs = Vec::new();
    let mut current: Option<(bool, Vec<u8>)> = None;
    for (first, payload) in frames {
        let opcode = first & 0x0F;
        match opcode {
            PONG => pongs.push(payload.clone()),
            PING | CLOSE => {}
            TEXT | CONT => {
                assert_eq!(opcode == TEXT, current.is_none(), "fragments out of order");
                assert!(
                    opcode == TEXT || first & RSV1 == 0,
                    "RSV1 on a continuation"
                );
                let (_, data) = current.get_or_insert_with(|| (first & RSV1 != 0, Vec::new()));
                data.extend_from_slice(payload);
                if first & FIN != 0 {
                    let (compressed, mut data) = current.take().unwrap();
                    if compressed {
                        data.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
                        let mut out = Vec::with_capacity(64 * 1024);
                        let before = inflater.total_in();
                        inflater
                            .decompress_vec(&data, &mut out, FlushDecompress::Sync)
                            .expect("the peer's inflater stays in step");
                        assert_eq!(
                            (inflater.total_in() - before) as usize,
                            data.len(),
                            "all of the message inflated"
                        );
                        data = out;
                    }
                    messages.push(String::from_utf8(data).expect("text is UTF-8"));
                }
            }
            other => panic!("unexpected opcode {other}"),
        }
    }
    assert!(current.is_none(), "a message left open");
    (messages, pongs)
}

fn deflate_server(pipe: usize, max_output: usize) -> (WebSocket<DuplexStream>, DuplexStream) {
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(32)))
        .max_output_buffer(max_output)
        .build();
    let (ours, theirs) = duplex(pipe);
    let conn = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    (WebSocket::from_connection(ours, conn), theirs)
}

/// Message `i`: 16 to 1,800 bytes, some under the compression threshold,
/// numbers that compress only so far.
fn text(i: usize) -> String {
    (0..1 + i % 9 * 12)
        .map(|k| format!("m{i:03}.{k}:{} ", (i * 7919 + k * 104_729) % 1_000_003))
        .collect()
}

/// Sends, compressed sends, feeds and fed fragments, each polled `i % 4`
/// times with the pipe drained in between and then dropped (fragments
/// retried until one call completes, as `feed_fragment`'s docs allow),
/// with pings from the peer answered by a `next` dropped the same way: the
/// peer inflates each message once or not at all, in order, every one
/// whose call completed, and reads every pong whole.
#[tokio::test]
async fn dropped_sends_under_deflate_keep_the_peers_inflater_in_step() {
    for (pipe, max_output) in [(64, 256), (64, 64), (256, 1024), (1, 4096)] {
        let (mut ws, mut theirs) = deflate_server(pipe, max_output);
        let mut wire = Vec::new();
        let mut to_send = Vec::new();
        let mut completed = Vec::new();
        let mut pings = Vec::new();
        for i in 0..120 {
            tokio::task::yield_now().await;
            let polls = i / 4 % 3 + 1;
            if i % 5 == 0 {
                let payload = format!("p{i}").into_bytes();
                to_send.extend(client(FIN | PING, &payload));
                pings.push(payload);
            }
            push(&mut theirs, &mut to_send);
            if i % 5 == 0 {
                let mut next = pin!(ws.next());
                for _ in 0..polls {
                    if let Poll::Ready(event) = poll_once(next.as_mut()) {
                        assert!(matches!(event, Some(Ok(Event::Ping(_)))), "{event:?}");
                        break;
                    }
                    drain(&mut theirs, &mut wire);
                }
            }
            let message = Message::from(text(i));
            let done = match i % 4 {
                3 => {
                    // Three fragments, each retried until it is queued.
                    let all = text(i);
                    let (a, rest) = all.split_at(all.len() / 3);
                    let (b, c) = rest.split_at(rest.len() / 2);
                    for (piece, fin) in [(a, false), (b, false), (c, true)] {
                        let mut tries = 0;
                        loop {
                            let mut feed = Box::pin(ws.feed_fragment(Message::from(piece), fin));
                            let done = poll_once(feed.as_mut());
                            drop(feed);
                            drain(&mut theirs, &mut wire);
                            // The pipe spends tokio's cooperative budget.
                            tokio::task::yield_now().await;
                            if let Poll::Ready(result) = done {
                                result.unwrap();
                                break;
                            }
                            tries += 1;
                            assert!(tries < 10_000, "no room ever came: pipe {pipe} limit {max_output} i {i} output {} wire {}", ws.connection().output_len(), wire.len());
                        }
                    }
                    true
                }
                kind => {
                    let mut call: Pin<Box<dyn Future<Output = Result<(), Error>>>> = match kind {
                        0 => Box::pin(ws.send(message)),
                        1 => Box::pin(ws.send_compressed(message, i % 8 < 4)),
                        _ => Box::pin(ws.feed(message)),
                    };
                    let mut done = false;
                    for _ in 0..polls {
                        if let Poll::Ready(result) = poll_once(call.as_mut()) {
                            result.unwrap();
                            done = true;
                            break;
                        }
                        drain(&mut theirs, &mut wire);
                    }
                    done
                }
            };
            if done {
                completed.push(text(i));
            }
            // The peer does not read every round: calls also find the
            // output over its limit.
            if i % 3 == 0 {
                drain(&mut theirs, &mut wire);
            }
        }
        let mut flush = pin!(ws.flush());
        let mut rounds = 0;
        while poll_once(flush.as_mut()).is_pending() {
            drain(&mut theirs, &mut wire);
            tokio::task::yield_now().await;
            rounds += 1;
            assert!(rounds < 1_000_000, "flush never ended");
        }
        drain(&mut theirs, &mut wire);

        let frames = frames_with_rsv1(&wire);
        let (received, pongs) = messages_and_pongs(&frames);
        // Both outcomes of a dropped call came up: queued (and sent
        // whole) and not queued.
        assert!(completed.len() < received.len() && received.len() < 120);
        let sent: Vec<String> = (0..120).map(text).collect();
        let mut at = 0;
        for message in &received {
            let found = sent[at..].iter().position(|s| s == message);
            let found = found.unwrap_or_else(|| panic!("{message:?} twice or out of order"));
            at += found + 1;
        }
        for message in &completed {
            assert!(received.contains(message), "completed {message:?} lost");
        }
        for pong in &pongs {
            assert!(pings.contains(pong), "pong {pong:?} answers no ping");
        }
    }
}

/// A stream that counts the reads polled on it.
struct Counted<S> {
    io: S,
    reads: Arc<AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn counted<S>(io: S) -> (Counted<S>, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    (
        Counted {
            io,
            reads: Arc::clone(&reads),
        },
        reads,
    )
}

/// What `next` gives until `None` (within a second, else a hang), the
/// texts and the kinds of the errors.
async fn until_end<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
) -> (Vec<String>, Vec<io::ErrorKind>) {
    let mut texts = Vec::new();
    let mut errors = Vec::new();
    loop {
        match timeout(Duration::from_secs(5), ws.next()).await {
            Err(_) => panic!("next hangs after {texts:?} {errors:?}"),
            Ok(None) => return (texts, errors),
            Ok(Some(Ok(Event::Message(m)))) => {
                texts.push(String::from_utf8(m.as_bytes().to_vec()).unwrap())
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(Error::Io(err)))) => errors.push(err.kind()),
            Ok(Some(Err(err))) => panic!("not an io error: {err}"),
        }
        assert!(errors.len() < 5, "errors without end: {errors:?}");
    }
}

fn three_messages() -> Vec<u8> {
    [
        client(FIN | PING, b"hi"),
        client(FIN | TEXT, b"one"),
        client(FIN | TEXT, b"two"),
        client(FIN | TEXT, b"three"),
    ]
    .concat()
}

/// The peer writes a ping and three messages and vanishes, reading
/// nothing: whether our first failed write is `send`'s or the pong that
/// `next` writes, the three messages are delivered, the failure (a broken
/// pipe) is reported at most once more, `next` ends with a handful of
/// reads, and every later send fails at once with the same kind.
#[tokio::test]
async fn a_peer_gone_mid_talk_still_delivers_what_it_sent_over_duplex() {
    for send_first in [true, false] {
        let (ours, mut theirs) = duplex(256);
        let (ours, reads) = counted(ours);
        let mut ws =
            WebSocket::from_upgraded(ours, Role::Server, Config::default(), Default::default());
        theirs.write_all(&three_messages()).await.unwrap();
        drop(theirs);
        if send_first {
            match ws.send(Message::from("x".repeat(1000))).await {
                Err(Error::Io(err)) => assert_eq!(err.kind(), io::ErrorKind::BrokenPipe),
                other => panic!("{other:?}"),
            }
        }
        let (texts, errors) = until_end(&mut ws).await;
        assert_eq!(texts, ["one", "two", "three"], "send first: {send_first}");
        assert!(errors.len() <= 1, "{errors:?}");
        assert!(
            errors.iter().all(|k| *k == io::ErrorKind::BrokenPipe),
            "{errors:?}"
        );
        if !send_first {
            assert_eq!(errors.len(), 1, "the failed pong is reported once");
        }
        assert!(reads.load(Ordering::Relaxed) < 10, "{reads:?} reads");
        assert!(ws.next().await.is_none());
        let mut send = pin!(ws.send(Message::from("later")));
        match poll_once(send.as_mut()) {
            Poll::Ready(Err(Error::Io(err))) => assert_eq!(err.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("a later send: {other:?}"),
        }
    }
}

/// The same over loopback TCP: the peer sends three messages and closes
/// its socket; our sends fail within a few tries (the peer's reset), the
/// three messages are still delivered, `next` ends without spinning, and
/// a later send fails at once with the kind of the first failure.
#[tokio::test]
async fn a_peer_gone_mid_talk_still_delivers_what_it_sent_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (ours, _) = listener.accept().await.unwrap();
    let (ours, reads) = counted(ours);
    let mut ws =
        WebSocket::from_upgraded(ours, Role::Server, Config::default(), Default::default());
    peer.write_all(&three_messages()[8..]).await.unwrap();
    drop(peer);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut first_failure = None;
    for _ in 0..100 {
        match ws.send(Message::from("x".repeat(100))).await {
            Ok(()) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(Error::Io(err)) => {
                first_failure = Some(err.kind());
                break;
            }
            Err(err) => panic!("{err}"),
        }
    }
    let kind = first_failure.expect("a send to a closed socket fails");
    assert!(
        matches!(
            kind,
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{kind:?}"
    );
    let reads_before = reads.load(Ordering::Relaxed);
    let (texts, errors) = until_end(&mut ws).await;
    assert!(errors.len() <= 1, "{errors:?}");
    assert_eq!(texts, ["one", "two", "three"]);
    assert!(reads.load(Ordering::Relaxed) - reads_before < 10, "spins");
    let mut send = pin!(ws.send(Message::from("later")));
    match poll_once(send.as_mut()) {
        Poll::Ready(Err(Error::Io(err))) => assert_eq!(err.kind(), kind),
        other => panic!("a later send: {other:?}"),
    }
}

/// Two `WebSocket`s, a server and a client, over `(a, b)`.
fn pair<S: AsyncRead + AsyncWrite + Unpin>(a: S, b: S) -> (WebSocket<S>, WebSocket<S>) {
    (
        WebSocket::from_upgraded(a, Role::Server, Config::default(), Default::default()),
        WebSocket::from_upgraded(b, Role::Client, Config::default(), Default::default()),
    )
}

async fn close_race<S: AsyncRead + AsyncWrite + Unpin>(
    mut server: WebSocket<S>,
    mut client: WebSocket<S>,
) {
    let (a, b) = tokio::join!(
        timeout(
            Duration::from_secs(5),
            server.close(CloseCode::NORMAL, "server")
        ),
        timeout(
            Duration::from_secs(5),
            client.close(CloseCode::GOING_AWAY, "client")
        ),
    );
    let a = a.expect("the server's close hangs").unwrap();
    let b = b.expect("the client's close hangs").unwrap();
    // Each reports the close frame it received (RFC 6455 §7.1.5).
    assert_eq!(
        (a.code, a.reason.as_str()),
        (CloseCode::GOING_AWAY, "client")
    );
    assert_eq!((b.code, b.reason.as_str()), (CloseCode::NORMAL, "server"));
    assert!(server.next().await.is_none());
    assert!(client.next().await.is_none());
    assert!(matches!(
        server.send(Message::from("x")).await,
        Err(Error::Closed)
    ));
}

/// Both ends call `close` at once: neither waits for a reply to the reply,
/// each returns the other's close.
#[tokio::test]
async fn both_ends_closing_at_once_each_get_the_others_close() {
    for pipe in [1, 7, 64, 4096] {
        let (a, b) = duplex(pipe);
        let (server, client) = pair(a, b);
        close_race(server, client).await;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (a, _) = listener.accept().await.unwrap();
    let (server, client) = pair(a, b);
    close_race(server, client).await;
}

/// `close` with a fragmented message open: the peer reads the fragment,
/// then the close (a control frame may come between fragments, §5.4),
/// answers it, and `close` returns the answer; the message's last
/// fragment is then refused.
#[tokio::test]
async fn close_with_a_fragmented_message_open() {
    let (mut ws, mut theirs) = deflate_server(64, 1 << 20);
    ws.send_fragment(Message::from("first half "), false)
        .await
        .unwrap();
    let peer = frames_until_close_answered(&mut theirs, 64);
    let (closed, frames) = tokio::join!(ws.close(CloseCode::NORMAL, "bye"), peer);
    let closed = closed.unwrap();
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].0 & (FIN | 0x0F), TEXT);
    assert_eq!(frames[1].0, FIN | CLOSE);
    assert_eq!(frames[1].1, close_payload(1000, b"bye"));
    assert!(matches!(
        ws.send_fragment(Message::from("second half"), true).await,
        Err(Error::Closed)
    ));
}

/// `close` while the output is over its limit and the peer reads slowly:
/// the whole message goes out first, then the close, and the answer is
/// returned.
#[tokio::test]
async fn close_with_the_output_over_its_limit() {
    let (mut ws, mut theirs) = deflate_server(16, 1024);
    let big = "z".repeat(10_000);
    {
        let mut send = pin!(ws.send_compressed(Message::from(big.as_str()), false));
        assert!(poll_once(send.as_mut()).is_pending());
    }
    let peer = frames_until_close_answered(&mut theirs, 16);
    let (closed, frames) = tokio::join!(ws.close(CloseCode::NORMAL, ""), peer);
    assert_eq!(closed.unwrap().code, CloseCode::NORMAL);
    let (messages, _) = messages_and_pongs(&frames);
    assert_eq!(messages, [big]);
}

/// The peer's message and close arrive in one read; after `next` returns
/// the message, our `close` finds the peer's close in hand: it returns
/// that close (or `Error::Closed`), and one close frame only goes out.
#[tokio::test]
async fn close_after_the_peers_close_arrived_unread_sends_one_close() {
    let (mut ws, mut theirs) = deflate_server(4096, 1 << 20);
    let input = [
        client(FIN | TEXT, b"hello"),
        client(FIN | CLOSE, &close_payload(1000, b"done")),
    ]
    .concat();
    theirs.write_all(&input).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Event::Message(_)))));
    let closed = timeout(
        Duration::from_secs(5),
        ws.close(CloseCode::GOING_AWAY, "bye"),
    )
    .await
    .expect("close hangs");
    match closed {
        Ok(closed) => assert_eq!(closed.code, CloseCode::NORMAL),
        Err(Error::Closed) => {}
        Err(err) => panic!("{err}"),
    }
    assert!(ws.next().await.is_none());
    drop(ws);
    let mut wire = Vec::new();
    theirs.read_to_end(&mut wire).await.unwrap();
    let frames = frames_with_rsv1(&wire);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].0, FIN | CLOSE);
}

/// Split: the peer writes a ping, a message and half of another, and
/// vanishes while our writer sends: the writer's sends fail, the later ones
/// at once and with the same kind; the reader delivers the whole message
/// and ends without spinning, with at most one error for the failed write
/// and one for the cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_when_the_peer_vanishes() {
    for pipe in [16, 256] {
        let (ours, mut theirs) = duplex(pipe);
        let (ours, reads) = counted(ours);
        let ws =
            WebSocket::from_upgraded(ours, Role::Server, Config::default(), Default::default());
        let (mut reader, mut writer) = ws.split();
        let writer = tokio::spawn(async move {
            let kind = loop {
                match writer.send(Message::from("w".repeat(100))).await {
                    Ok(()) => {}
                    Err(Error::Io(err)) => break err.kind(),
                    Err(err) => panic!("{err}"),
                }
            };
            let later = tokio::time::timeout(
                Duration::from_millis(100),
                writer.send(Message::from("later")),
            )
            .await
            .expect("a later send waits");
            match later {
                Err(Error::Io(err)) => assert_eq!(err.kind(), kind),
                other => panic!("{other:?}"),
            }
            kind
        });
        let cut = client(FIN | TEXT, b"two two two");
        let input = [
            client(FIN | PING, b"hi"),
            client(FIN | TEXT, b"one"),
            cut[..cut.len() - 3].to_vec(),
        ]
        .concat();
        let peer = tokio::spawn(async move {
            // Reads a little of what the writer sends, then goes.
            let mut buf = [0; 64];
            let _ = theirs.read(&mut buf).await;
            for chunk in input.chunks(pipe) {
                theirs.write_all(chunk).await.unwrap();
            }
        });
        let mut texts = Vec::new();
        let mut errors = Vec::new();
        loop {
            match timeout(Duration::from_secs(5), reader.next()).await {
                Err(_) => panic!("the reader hangs after {texts:?} {errors:?}"),
                Ok(None) => break,
                Ok(Some(Ok(Event::Message(m)))) => texts.push(m.as_bytes().to_vec()),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(Error::Io(err)))) => errors.push(err.kind()),
                Ok(Some(Err(err))) => panic!("{err}"),
            }
            assert!(errors.len() <= 2, "{errors:?}");
        }
        peer.await.unwrap();
        let kind = writer.await.unwrap();
        assert_eq!(kind, io::ErrorKind::BrokenPipe);
        assert_eq!(texts, [b"one".to_vec()]);
        assert!(
            errors
                .iter()
                .all(|k| matches!(k, io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof)),
            "{errors:?}"
        );
        assert!(reads.load(Ordering::Relaxed) < 50, "{reads:?} reads");
    }
}

/// A stream whose reads hand out `input`, then fail with `kind` at every
/// call (as a TLS stream does after a hang-up without `close_notify`);
/// writes are taken whole. It counts the reads.
struct FailingReads {
    input: Vec<u8>,
    kind: io::ErrorKind,
    reads: usize,
}

impl AsyncRead for FailingReads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.reads += 1;
        if self.input.is_empty() {
            return Poll::Ready(Err(self.kind.into()));
        }
        let n = self.input.len().min(buf.remaining());
        buf.put_slice(&self.input[..n]);
        self.input.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FailingReads {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A read that fails ends the connection as a hang-up does: the messages
/// read before it are delivered, the failure is reported once, then
/// `None` (the docs: `None` once the peer hung up), and the stream is not
/// read again; a loop that logs errors and goes on must not spin.
#[tokio::test]
async fn a_read_that_keeps_failing_is_reported_once_then_none() {
    for kind in [io::ErrorKind::UnexpectedEof, io::ErrorKind::ConnectionReset] {
        let input = [client(FIN | TEXT, b"one"), client(FIN | TEXT, b"two")].concat();
        let io = FailingReads {
            input,
            kind,
            reads: 0,
        };
        let mut ws =
            WebSocket::from_upgraded(io, Role::Server, Config::default(), Default::default());
        let mut texts = Vec::new();
        let mut errors = Vec::new();
        for _ in 0..10 {
            match ws.next().await {
                None => break,
                Some(Ok(Event::Message(m))) => texts.push(m.as_bytes().to_vec()),
                Some(Ok(event)) => panic!("{event:?}"),
                Some(Err(Error::Io(err))) => errors.push(err.kind()),
                Some(Err(err)) => panic!("{err}"),
            }
        }
        assert_eq!(texts, [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(errors, [kind], "reported once, then None");
        assert!(ws.next().await.is_none());
        let reads = ws.into_inner().reads;
        assert!(reads <= 3, "{reads} reads");
    }
}

/// After a failed write (the peer gone), every call that writes fails at
/// once with its kind, `close` included, and none waits: `feed` (which
/// only queues) and `close` answer at the first poll.
#[tokio::test]
async fn after_a_failed_write_every_call_answers_at_once() {
    let (ours, theirs) = duplex(64);
    let mut ws =
        WebSocket::from_upgraded(ours, Role::Server, Config::default(), Default::default());
    drop(theirs);
    match ws.send(Message::from("x")).await {
        Err(Error::Io(err)) => assert_eq!(err.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
    // `feed` only queues: it takes the message while there is room.
    assert!(matches!(
        poll_once(pin!(ws.feed(Message::from("fed")))),
        Poll::Ready(Ok(()))
    ));
    assert!(matches!(
        poll_once(pin!(ws.flush())),
        Poll::Ready(Err(Error::Io(err))) if err.kind() == io::ErrorKind::BrokenPipe
    ));
    assert!(matches!(
        poll_once(pin!(ws.ping(b""))),
        Poll::Ready(Err(Error::Io(err))) if err.kind() == io::ErrorKind::BrokenPipe
    ));
    match poll_once(pin!(ws.close(CloseCode::NORMAL, ""))) {
        Poll::Ready(Err(Error::Io(err))) => assert!(
            matches!(
                err.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
            ),
            "{err}"
        ),
        other => panic!("close: {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

/// Split under permessage-deflate on two threads: the writer sends (some
/// forced compressed, some forced plain, some by the threshold) against
/// a small output limit and a 64-byte pipe while the reader answers a
/// stream of pings; the peer inflates every message in order with one
/// context, reads every pong whole, and the close completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_under_deflate_on_two_threads() {
    const COUNT: usize = 200;
    let (ws, theirs) = deflate_server(64, 512);
    let (mut reader, mut writer) = ws.split();
    let writer = tokio::spawn(async move {
        for i in 0..COUNT {
            let message = Message::from(text(i));
            match i % 3 {
                0 => writer.send(message).await.unwrap(),
                1 => writer.send_compressed(message, i % 2 == 0).await.unwrap(),
                _ => writer.feed(message).await.unwrap(),
            }
        }
        writer.close(CloseCode::NORMAL, "done").await.unwrap();
    });
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        loop {
            match timeout(Duration::from_secs(10), reader.next()).await {
                Err(_) => panic!("the reader hangs"),
                Ok(Some(Ok(Event::Ping(_)))) => pings += 1,
                Ok(Some(Ok(Event::Closed(closed)))) => {
                    assert_eq!(closed.code, CloseCode::NORMAL);
                }
                Ok(Some(Ok(event))) => panic!("{event:?}"),
                Ok(Some(Err(err))) => panic!("{err}"),
                Ok(None) => return pings,
            }
        }
    });
    let (mut read_half, mut write_half) = tokio::io::split(theirs);
    let pinger = tokio::spawn(async move {
        for i in 0..300 {
            let sent = write_half
                .write_all(&client(FIN | PING, format!("p{i}").as_bytes()))
                .await;
            if sent.is_err() {
                break;
            }
            if i % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
        write_half
    });
    let frames = frames_until_close(&mut read_half, 97).await;
    let mut write_half = pinger.await.unwrap();
    write_half
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    writer.await.unwrap();
    let pings = reader.await.unwrap();
    let (messages, pongs) = messages_and_pongs(&frames);
    assert_eq!(messages, (0..COUNT).map(text).collect::<Vec<_>>());
    assert!(pongs.iter().all(|p| p.starts_with(b"p")), "{pongs:?}");
    assert!(pings > 0 && !pongs.is_empty());
}

/// Keepalive on tokio's paused clock through a split reader with the
/// writer idle: a silent peer gets an empty ping at 5 s and 10 s, and the
/// idle timeout closes with 1001 "idle timeout" at 12 s (Config's docs).
#[tokio::test(start_paused = true)]
async fn keepalive_and_idle_close_on_the_paused_clock_through_the_split_reader() {
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(5)))
        .idle_timeout(Some(Duration::from_secs(12)))
        .build();
    let (ours, mut theirs) = duplex(256);
    let start = tokio::time::Instant::now();
    let ws = WebSocket::from_upgraded(ours, Role::Server, config, Default::default());
    let (mut reader, _writer) = ws.split();
    let reader = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = reader.next().await {
            events.push(event.unwrap());
        }
        (events, start.elapsed())
    });
    let mut seen = Vec::new();
    let mut wire = Vec::new();
    let mut buf = [0; 64];
    loop {
        let n = theirs.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        wire.extend_from_slice(&buf[..n]);
        while let Some((first, payload, len)) = parse_server_frame(&wire) {
            seen.push((first, payload, start.elapsed()));
            wire.drain(..len);
        }
    }
    let s = Duration::from_secs;
    assert_eq!(
        seen,
        [
            (FIN | PING, vec![], s(5)),
            (FIN | PING, vec![], s(10)),
            (FIN | CLOSE, close_payload(1001, b"idle timeout"), s(12)),
        ]
    );
    let (events, ended) = reader.await.unwrap();
    assert_eq!(ended, s(12));
    match &events[..] {
        [Event::Closed(closed)] => {
            assert_eq!(closed.code, CloseCode::GOING_AWAY);
            assert_eq!(closed.reason, "idle timeout");
        }
        other => panic!("{other:?}"),
    }
}
