//! A reviewer's attempts to break the close-write timeout (a close frame
//! whose write makes no progress for `Config::close_timeout` is given up)
//! and `feed_fragment`, deciding what should happen from the docs and
//! RFC 6455 (§5.5.1, §7.1.1-7.1.4) alone. The peer is raw bytes over a
//! `tokio::io::duplex` pipe with a tiny buffer, on a paused clock.
//!
//! Covered: a peer reading one byte every `close_timeout - 1 ms` still gets
//! every message and the close frame (the reply to its close, the idle
//! timeout's close, `close()`'s own); a peer reading nothing frees every
//! path in bounded time (`next`, `close`, both split halves, the `Sink`'s
//! `poll_close`), also while it floods us with pings; `close_timeout(None)`
//! waits without spinning; `close` dropped and called again before and
//! after the close timeout; the connection after the write was given up;
//! `feed_fragment` dropped at every poll, mixed with `send`, and after the
//! close; a server whose stream's shutdown writes (TLS's close_notify).
#![cfg(feature = "futures")]

mod common;

use std::{
    future::{poll_fn, Future},
    io,
    pin::pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::{
    io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream},
    time::{sleep, timeout, Instant},
};
use wsframe::{
    tokio::{Error, WebSocket},
    CloseCode, Config, Event, Message, Role, SendError, State,
};

use common::{
    client as masked, close_payload, parse_server_frames, tokio_peer::server, BINARY, CLOSE,
    CONT as CONTINUATION, FIN, PING, TEXT,
};

/// Feeds `message` until the output is full (a feed still waiting after
/// 10 ms); how many were queued.
async fn fill_output(ws: &mut WebSocket<DuplexStream>, message: &Message) -> usize {
    let mut fed = 0;
    while timeout(Duration::from_millis(10), ws.feed(message.clone()))
        .await
        .is_ok()
    {
        fed += 1;
    }
    fed
}

/// Reads one byte every `pause` until the other end's write side ends:
/// every byte it wrote.
async fn read_slowly(peer: &mut DuplexStream, pause: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let mut byte = [0];
    loop {
        sleep(pause).await;
        match peer.read(&mut byte).await {
            Ok(0) | Err(_) => return all,
            Ok(_) => all.push(byte[0]),
        }
    }
}

fn config(close_timeout: Option<Duration>) -> Config {
    Config::builder()
        .close_timeout(close_timeout)
        .max_output_buffer(256)
        .build()
}

/// A server over a pipe of `pipe` bytes, the peer having read nothing:
/// its output full of 60-byte binary messages ([`fill_output`]), so any
/// frame it writes next waits for the peer.
async fn stalled_server(
    pipe: usize,
    close_timeout: Option<Duration>,
) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (mut ws, peer) = server(pipe, config(close_timeout));
    fill_output(&mut ws, &Message::from(vec![1u8; 60])).await;
    (ws, peer)
}

/// Polls `future` through an hour of the paused clock, which it must not
/// end in: how many times it was polled (one that waits without spinning
/// is polled a handful of times).
async fn polls_in_an_hour<F: Future>(future: F) -> usize
where
    F::Output: std::fmt::Debug,
{
    let mut polls = 0;
    let mut future = pin!(future);
    let waited = timeout(
        Duration::from_secs(3600),
        poll_fn(|cx| {
            polls += 1;
            future.as_mut().poll(cx)
        }),
    )
    .await;
    assert!(waited.is_err(), "ended: {waited:?}");
    polls
}

const CLOSE_TIMEOUT: Duration = Duration::from_millis(100);
const JUST_UNDER: Duration = Duration::from_millis(99);

/// A peer that closes, then reads one byte every `close_timeout - 1 ms`:
/// the write never stalls for the close timeout, so every message queued
/// before and the reply all arrive, and only then is the close reported.
#[tokio::test(start_paused = true)]
async fn a_byte_every_close_timeout_less_1ms_gets_the_messages_and_the_reply() {
    let (mut ws, mut peer) = server(8, config(Some(CLOSE_TIMEOUT)));
    let message = Message::from(vec![7u8; 60]);
    let fed = fill_output(&mut ws, &message).await;
    assert!(fed >= 3, "{fed}");
    peer.write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let server_side = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = ws.next().await {
            events.push((event.unwrap(), Instant::now()));
        }
        events
    });
    let wire = read_slowly(&mut peer, JUST_UNDER).await;
    let frames = parse_server_frames(&wire);
    let (reply, messages) = frames.split_last().unwrap();
    assert_eq!(reply, &(FIN | CLOSE, close_payload(1000, b"")));
    assert_eq!(messages.len(), fed);
    assert!(messages.iter().all(|m| *m == (FIN | BINARY, vec![7u8; 60])));
    let events = server_side.await.unwrap();
    assert!(matches!(&events[..], [(Event::Closed(_), _)]), "{events:?}");
}

/// The same for the idle timeout's close: a peer that sends nothing but
/// reads one byte every `close_timeout - 1 ms` gets everything and the
/// 1001 close.
#[tokio::test(start_paused = true)]
async fn a_byte_every_close_timeout_less_1ms_gets_the_idle_timeouts_close() {
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(1)))
        .close_timeout(Some(CLOSE_TIMEOUT))
        .max_output_buffer(256)
        .build();
    let (mut ws, mut peer) = server(8, config);
    let message = Message::from(vec![5u8; 60]);
    let fed = fill_output(&mut ws, &message).await;
    let server_side = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = ws.next().await {
            events.push(event.unwrap());
        }
        events
    });
    let wire = read_slowly(&mut peer, JUST_UNDER).await;
    let frames = parse_server_frames(&wire);
    let (close, messages) = frames.split_last().unwrap();
    assert_eq!(close.0, FIN | CLOSE);
    assert_eq!(close.1[..2], 1001u16.to_be_bytes());
    assert_eq!(messages.len(), fed);
    let events = server_side.await.unwrap();
    match &events[..] {
        [Event::Closed(closed)] => assert_eq!(closed.code, CloseCode(1001)),
        other => panic!("{other:?}"),
    }
}

/// And for `close()`'s own frame: the peer gets all of it (the close
/// timeout for its answer runs out meanwhile, since it cannot answer a
/// frame it has not read, but the frame's write is not given up while it
/// makes progress).
#[tokio::test(start_paused = true)]
async fn a_byte_every_close_timeout_less_1ms_gets_close_s_own_frame() {
    let (mut ws, mut peer) = server(8, config(Some(CLOSE_TIMEOUT)));
    let message = Message::from(vec![9u8; 60]);
    let fed = fill_output(&mut ws, &message).await;
    let closing = tokio::spawn(async move {
        let result = ws.close(CloseCode(1000), "done").await;
        (result, ws)
    });
    let wire = read_slowly(&mut peer, JUST_UNDER).await;
    let frames = parse_server_frames(&wire);
    let (close, messages) = frames.split_last().unwrap();
    assert_eq!(close, &(FIN | CLOSE, close_payload(1000, b"done")));
    assert_eq!(messages.len(), fed);
    let (result, ws) = closing.await.unwrap();
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert_eq!(ws.connection().state(), State::Closed);
    assert_eq!(ws.connection().output_len(), 0);
}

/// A peer that reads nothing and floods us with pings while we close: no
/// pong is queued after our close (§5.5.1), so nothing makes the frame's
/// write look alive; `close` ends at the close timeout, and the events
/// after it are the end.
#[tokio::test(start_paused = true)]
async fn close_ends_against_a_peer_that_reads_nothing_and_floods_pings() {
    let close_timeout = Duration::from_secs(2);
    let (mut ws, peer) = stalled_server(64, Some(close_timeout)).await;
    let (_peer_reads, mut peer_writes) = tokio::io::split(peer);
    let flooding = tokio::spawn(async move {
        loop {
            if peer_writes
                .write_all(&masked(FIN | PING, b"hi"))
                .await
                .is_err()
            {
                return;
            }
            sleep(Duration::from_millis(1)).await;
        }
    });
    let start = Instant::now();
    let result = timeout(Duration::from_secs(60), ws.close(CloseCode(1000), ""))
        .await
        .expect("close still waits 60 s on a peer that reads nothing and pings");
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert_eq!(start.elapsed(), close_timeout);
    assert!(ws.next().await.is_none());
    flooding.abort();
}

/// The peer closes and reads nothing while it pings: the reply is given
/// up after the close timeout, pings or not.
#[tokio::test(start_paused = true)]
async fn the_reply_is_given_up_while_the_peer_pings_and_reads_nothing() {
    let close_timeout = Duration::from_secs(1);
    let (mut ws, peer) = stalled_server(64, Some(close_timeout)).await;
    let (_peer_reads, mut peer_writes) = tokio::io::split(peer);
    peer_writes
        .write_all(&masked(FIN | PING, b"first"))
        .await
        .unwrap();
    peer_writes
        .write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let flooding = tokio::spawn(async move {
        while peer_writes
            .write_all(&masked(FIN | PING, b"hi"))
            .await
            .is_ok()
        {
            sleep(Duration::from_millis(1)).await;
        }
    });
    let start = Instant::now();
    let mut events = Vec::new();
    while let Some(event) = timeout(Duration::from_secs(60), ws.next())
        .await
        .expect("next still waits 60 s")
    {
        events.push(event.unwrap());
    }
    assert!(
        matches!(&events[..], [Event::Ping(_), Event::Closed(_)]),
        "{events:?}"
    );
    assert_eq!(start.elapsed(), close_timeout);
    flooding.abort();
}

/// `close_timeout(None)` waits forever, as documented: `next` holding the
/// reply to a peer that reads nothing neither ends nor spins (it is polled
/// only a handful of times in an hour of the paused clock).
#[tokio::test(start_paused = true)]
async fn without_a_close_timeout_the_reply_waits_forever_without_spinning() {
    let (mut ws, mut peer) = stalled_server(8, None).await;
    peer.write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let polls = polls_in_an_hour(ws.next()).await;
    assert!(polls <= 4, "{polls} polls in an hour");
}

/// The same for `close()` with no close timeout: it waits forever for a
/// peer that reads nothing, without spinning.
#[tokio::test(start_paused = true)]
async fn without_a_close_timeout_close_waits_forever_without_spinning() {
    let (mut ws, _peer) = stalled_server(8, None).await;
    let polls = polls_in_an_hour(ws.close(CloseCode(1000), "")).await;
    assert!(polls <= 4, "{polls} polls in an hour");
}

/// `close` dropped before its close timeout runs out (the frame not
/// written: the peer reads nothing), then called again: it goes on and
/// ends on the same clock, at the close timeout after the first call.
#[tokio::test(start_paused = true)]
async fn close_dropped_before_the_close_timeout_and_called_again_ends_on_time() {
    let close_timeout = Duration::from_secs(2);
    let (mut ws, _peer) = stalled_server(8, Some(close_timeout)).await;
    let start = Instant::now();
    let first = timeout(Duration::from_secs(1), ws.close(CloseCode(1000), "")).await;
    assert!(first.is_err(), "{first:?}");
    let again = timeout(Duration::from_secs(60), ws.close(CloseCode(1000), ""))
        .await
        .expect("close called again still waits 60 s");
    assert!(matches!(again, Err(Error::Timeout)), "{again:?}");
    assert_eq!(start.elapsed(), close_timeout);
}

/// `close` against a peer that reads nothing ends at the close timeout
/// itself, as its docs say ("for at most `Config::close_timeout`"): the
/// frame has waited that long already, so its write is not waited for
/// again. Called again after that, it says the connection is closed.
#[tokio::test(start_paused = true)]
async fn close_ends_at_the_close_timeout_and_a_second_call_is_closed() {
    let close_timeout = Duration::from_secs(2);
    let (mut ws, _peer) = stalled_server(8, Some(close_timeout)).await;
    let start = Instant::now();
    let first = timeout(Duration::from_secs(60), ws.close(CloseCode(1000), ""))
        .await
        .expect("close still waits 60 s");
    assert!(matches!(first, Err(Error::Timeout)), "{first:?}");
    assert_eq!(start.elapsed(), close_timeout);
    let again = ws.close(CloseCode(1000), "").await;
    assert!(matches!(again, Err(Error::Closed)), "{again:?}");
    assert_eq!(start.elapsed(), close_timeout);
}

/// The peer answers our close at once but reads nothing: `close` dropped
/// while its frame's write stalls, then called again, returns the
/// peer's answer (or gives the write up with it), not `Error::Closed`.
#[tokio::test(start_paused = true)]
async fn close_dropped_after_the_answer_and_called_again_returns_the_answer() {
    let close_timeout = Duration::from_secs(2);
    let (mut ws, mut peer) = stalled_server(8, Some(close_timeout)).await;
    peer.write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let first = timeout(Duration::from_millis(500), ws.close(CloseCode(1000), "")).await;
    assert!(first.is_err(), "{first:?}");
    let again = timeout(Duration::from_secs(60), ws.close(CloseCode(1000), ""))
        .await
        .expect("close called again still waits 60 s");
    match again {
        Ok(closed) => assert_eq!(closed.code, CloseCode(1000)),
        other => panic!("{other:?}"),
    }
}

/// `SinkExt::close` on a whole `WebSocket` against a peer that reads
/// nothing: `Config::close_timeout` "also bounds how long a close frame
/// (ours, ...) may wait to be written while the peer reads nothing", so
/// `poll_close` must end, at the latest after the close timeout and as
/// long again for the write (as `close()` does).
#[tokio::test(start_paused = true)]
async fn sink_close_ends_against_a_peer_that_reads_nothing() {
    let close_timeout = Duration::from_secs(2);
    let (mut ws, _peer) = stalled_server(8, Some(close_timeout)).await;
    let start = Instant::now();
    let closed = timeout(Duration::from_secs(60), SinkExt::close(&mut ws))
        .await
        .expect("the Sink's close still waits 60 s on a peer that reads nothing");
    assert!(closed.is_err(), "the frame was not written: {closed:?}");
    assert!(start.elapsed() <= close_timeout, "{:?}", start.elapsed());
}

/// After `split`, the writer's `Sink::poll_close` against a peer that
/// reads nothing, the reader polled: the reader gives the write up and
/// the writer's close fails with `TimedOut` then.
#[tokio::test(start_paused = true)]
async fn a_split_writers_sink_close_ends_while_the_reader_polls() {
    let close_timeout = Duration::from_secs(2);
    let (ws, _peer) = stalled_server(8, Some(close_timeout)).await;
    let (mut reader, mut writer) = ws.split();
    let start = Instant::now();
    let reading = tokio::spawn(async move { reader.next().await });
    let closed = timeout(Duration::from_secs(60), SinkExt::close(&mut writer))
        .await
        .expect("the writer's Sink close still waits 60 s");
    let Err(Error::Io(err)) = &closed else {
        panic!("{closed:?}")
    };
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), close_timeout);
    match reading.await.unwrap() {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode(1006)),
        other => panic!("{other:?}"),
    }
}

/// After `split`, the peer closes and reads nothing; the reader waits on
/// the reply's write while the writer waits in `flush` and a second
/// writer call waits for room: when the close timeout passes, all end at
/// that instant, the reader with the close, `flush` with `TimedOut`, and
/// nothing is left waiting.
#[tokio::test(start_paused = true)]
async fn both_split_halves_waiting_end_when_the_write_is_given_up() {
    let close_timeout = Duration::from_secs(1);
    let (ws, mut peer) = stalled_server(8, Some(close_timeout)).await;
    let (mut reader, mut writer) = ws.split();
    let flushing = tokio::spawn(async move {
        let result = writer.flush().await;
        (result, Instant::now(), writer)
    });
    tokio::task::yield_now().await;
    let start = Instant::now();
    peer.write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let reading = tokio::spawn(async move {
        let event = reader.next().await;
        (event, Instant::now(), reader)
    });
    let (flushed, flushed_at, mut writer) = timeout(Duration::from_secs(60), flushing)
        .await
        .expect("flush still waits 60 s")
        .unwrap();
    let (event, read_at, reader) = timeout(Duration::from_secs(60), reading)
        .await
        .expect("next still waits 60 s")
        .unwrap();
    assert!(matches!(&event, Some(Ok(Event::Closed(_)))), "{event:?}");
    let Err(Error::Io(err)) = &flushed else {
        panic!("{flushed:?}")
    };
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(read_at - start, close_timeout);
    assert_eq!(flushed_at, read_at);
    // Later calls: refused or failing at once, never waiting.
    let sent = timeout(Duration::from_secs(1), writer.send(Message::from("late")))
        .await
        .expect("send after the close waits");
    assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
    let fed = timeout(
        Duration::from_secs(1),
        writer.feed_fragment(Message::from("late"), false),
    )
    .await
    .expect("feed_fragment after the close waits");
    assert!(matches!(fed, Err(Error::Closed)), "{fed:?}");
    let ws = reader.reunite(writer).unwrap();
    assert_eq!(ws.connection().state(), State::Closed);
    assert!(
        ws.connection().output_len() > 0,
        "the abandoned output stays"
    );
}

/// After the close's write was given up the connection stays consistent:
/// closed, its unwritten output kept (not reported as written); `next`
/// is `None`, `send` and `feed_fragment` are `Error::Closed`, `flush`
/// keeps saying `TimedOut` (the output will never be written), `close`
/// is `Error::Closed`, and none of them waits.
#[tokio::test(start_paused = true)]
async fn after_the_write_is_given_up_every_call_answers_at_once() {
    let close_timeout = Duration::from_secs(1);
    let (mut ws, mut peer) = stalled_server(8, Some(close_timeout)).await;
    peer.write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let closed = timeout(Duration::from_secs(60), ws.next()).await.unwrap();
    assert!(matches!(closed, Some(Ok(Event::Closed(_)))), "{closed:?}");
    let left = ws.connection().output_len();
    assert!(left > 0);
    assert_eq!(ws.connection().state(), State::Closed);
    for _ in 0..2 {
        let at_once = Duration::from_millis(1);
        assert!(timeout(at_once, ws.next()).await.unwrap().is_none());
        let sent = timeout(at_once, ws.send(Message::from("x"))).await.unwrap();
        assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
        let fed = timeout(at_once, ws.feed_fragment(Message::from("x"), true))
            .await
            .unwrap();
        assert!(matches!(fed, Err(Error::Closed)), "{fed:?}");
        let pinged = timeout(at_once, ws.ping(b"x")).await.unwrap();
        assert!(matches!(pinged, Err(Error::Closed)), "{pinged:?}");
        let flushed = timeout(at_once, ws.flush()).await.unwrap();
        match &flushed {
            Err(Error::Io(err)) => assert_eq!(err.kind(), io::ErrorKind::TimedOut),
            other => panic!("{other:?}"),
        }
        let closed = timeout(at_once, ws.close(CloseCode(1000), ""))
            .await
            .unwrap();
        assert!(matches!(closed, Err(Error::Closed)), "{closed:?}");
        assert_eq!(ws.connection().output_len(), left);
    }
    // The peer starts reading after all: nothing more is written (the
    // write was given up), and what it finds ends without a cut frame
    // only if the pipe held whole frames; it is never more than `left`
    // bytes short.
    drop(ws);
    let mut wire = Vec::new();
    peer.read_to_end(&mut wire).await.unwrap();
    assert!(wire.len() <= 8, "{}", wire.len());
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = std::task::Waker::noop();
    future.poll(&mut Context::from_waker(waker))
}

/// `feed_fragment` polled once and dropped, over and over, while the
/// output is full and the peer reads a byte at a time: each dropped call
/// queued nothing, each that completed queued its fragment once, and the
/// peer reads exactly the fragments in order (§5.4).
#[tokio::test(start_paused = true)]
async fn feed_fragment_dropped_at_every_poll_queues_each_fragment_once() {
    let (mut ws, mut peer) = server(1, config(Some(CLOSE_TIMEOUT)));
    let fragments: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i; 100]).collect();
    let mut wire = Vec::new();
    let mut byte = [0];
    for (i, fragment) in fragments.iter().enumerate() {
        let fin = i + 1 == fragments.len();
        loop {
            let before = ws.connection().output_len();
            let mut feeding = Box::pin(ws.feed_fragment(Message::from(fragment.clone()), fin));
            match poll_once(feeding.as_mut()) {
                Poll::Ready(result) => {
                    result.unwrap();
                    break;
                }
                Poll::Pending => {
                    drop(feeding);
                    // Making room may have written a byte; a queued
                    // fragment would have added over a hundred.
                    assert!(
                        ws.connection().output_len() <= before,
                        "dropped, it queued its fragment"
                    );
                    // The peer takes a byte, if one was written (a poll
                    // may write nothing: tokio's cooperative budget makes
                    // a pipe refuse a task that has not yielded for long);
                    // the next `feed_fragment` writes more while it waits
                    // for room.
                    tokio::task::yield_now().await;
                    if let Ok(n) = timeout(Duration::from_millis(1), peer.read(&mut byte)).await {
                        wire.extend_from_slice(&byte[..n.unwrap()]);
                    }
                }
            }
        }
    }
    let reading = tokio::spawn(async move {
        peer.read_to_end(&mut wire).await.unwrap();
        wire
    });
    // The peer reads all but never answers: the close timeout ends the
    // call, and the server's shutdown (or the drop) ends the peer's read.
    let closed = ws.close(CloseCode(1000), "").await;
    assert!(matches!(closed, Err(Error::Timeout)), "{closed:?}");
    drop(ws);
    let wire = reading.await.unwrap();
    let frames = parse_server_frames(&wire);
    let opcodes: Vec<u8> = frames.iter().map(|f| f.0).collect();
    assert_eq!(
        opcodes,
        [
            BINARY,
            CONTINUATION,
            CONTINUATION,
            CONTINUATION,
            CONTINUATION,
            FIN | CONTINUATION,
            FIN | CLOSE
        ],
        "{frames:?}"
    );
    for (frame, fragment) in frames.iter().zip(&fragments) {
        assert_eq!(&frame.1, fragment);
    }
}

/// A whole message (`send`, `feed`) or a fragment of another kind while a
/// fragmented message is open: refused with `FragmentOutOfOrder`, nothing
/// queued; control frames may go in between (§5.4); the message then
/// ends, and a whole message may follow.
#[tokio::test(start_paused = true)]
async fn feed_fragment_mixed_with_send_is_refused_and_queues_nothing() {
    let (mut ws, mut peer) = server(1 << 16, config(Some(CLOSE_TIMEOUT)));
    ws.feed_fragment(Message::from("one "), false)
        .await
        .unwrap();
    let queued = ws.connection().output_len();
    let refused = [
        ws.send(Message::from("whole")).await,
        ws.feed(Message::from("whole")).await,
        ws.feed_fragment(Message::from(vec![1u8]), false).await,
        ws.send_fragment(Message::from(vec![1u8]), true).await,
    ];
    for result in refused {
        assert!(
            matches!(result, Err(Error::Send(SendError::FragmentOutOfOrder))),
            "{result:?}"
        );
    }
    assert_eq!(ws.connection().output_len(), queued);
    ws.ping(b"between").await.unwrap();
    ws.feed_fragment(Message::from("two"), true).await.unwrap();
    ws.send(Message::from("after")).await.unwrap();
    drop(ws);
    let mut wire = Vec::new();
    peer.read_to_end(&mut wire).await.unwrap();
    let frames = parse_server_frames(&wire);
    assert_eq!(
        frames,
        [
            (TEXT, b"one ".to_vec()),
            (FIN | PING, b"between".to_vec()),
            (FIN | CONTINUATION, b"two".to_vec()),
            (FIN | TEXT, b"after".to_vec()),
        ]
    );
}

/// `feed_fragment` after our close (the state `CloseSent`) and while a
/// fragmented message is open: `Error::Closed` at once (§5.5.1), nothing
/// queued, the close frame the last thing on the wire.
#[tokio::test(start_paused = true)]
async fn feed_fragment_after_close_is_refused_at_once() {
    let (mut ws, mut peer) = server(1 << 16, config(Some(CLOSE_TIMEOUT)));
    ws.feed_fragment(Message::from(vec![1u8; 10]), false)
        .await
        .unwrap();
    let first = timeout(Duration::from_millis(1), ws.close(CloseCode(1000), "")).await;
    assert!(first.is_err(), "no answer yet");
    assert_eq!(ws.connection().state(), State::CloseSent);
    let queued = ws.connection().output_len();
    let fed = timeout(
        Duration::from_millis(1),
        ws.feed_fragment(Message::from(vec![2u8; 10]), true),
    )
    .await
    .expect("feed_fragment after close waits");
    assert!(matches!(fed, Err(Error::Closed)), "{fed:?}");
    assert_eq!(ws.connection().output_len(), queued);
    drop(ws);
    let mut wire = Vec::new();
    peer.read_to_end(&mut wire).await.unwrap();
    let frames = parse_server_frames(&wire);
    assert_eq!(
        frames,
        [
            (BINARY, vec![1u8; 10]),
            (FIN | CLOSE, close_payload(1000, b"")),
        ]
    );
}

/// A stream whose shutdown writes first, as TLS does (its close_notify
/// alert): a shutdown that a peer reading nothing can stall.
struct AlertOnShutdown {
    io: DuplexStream,
    alert_left: usize,
}

impl tokio::io::AsyncRead for AlertOnShutdown {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for AlertOnShutdown {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.alert_left > 0 {
            let alert = vec![0x15; self.alert_left];
            let n = std::task::ready!(std::pin::Pin::new(&mut self.io).poll_write(cx, &alert))?;
            self.alert_left -= n;
        }
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A server over a stream whose shutdown writes (TLS's close_notify), the
/// peer closing and then reading nothing, the pipe left exactly full by
/// our reply: the reply is written, the shutdown's own write stalls, and
/// `next` must still report the close within `close_timeout` ("a peer that
/// reads nothing cannot hold it there").
#[tokio::test(start_paused = true)]
async fn a_shutdown_that_writes_does_not_hold_the_close_forever() {
    let close_timeout = Duration::from_secs(1);
    let (ours, mut peer) = duplex(8);
    let stream = AlertOnShutdown {
        io: ours,
        alert_left: 2,
    };
    let mut ws = WebSocket::from_upgraded(
        stream,
        Role::Server,
        config(Some(close_timeout)),
        Bytes::new(),
    );
    // A 4-byte frame, then our 4-byte reply: the 8-byte pipe is full.
    ws.send(Message::from(vec![1u8, 2])).await.unwrap();
    peer.write_all(&masked(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let start = Instant::now();
    let closed = timeout(Duration::from_secs(60), ws.next())
        .await
        .expect("next still withholds the close 60 s on a shutdown that cannot write");
    assert!(matches!(closed, Some(Ok(Event::Closed(_)))), "{closed:?}");
    assert!(start.elapsed() <= close_timeout, "{:?}", start.elapsed());
}
