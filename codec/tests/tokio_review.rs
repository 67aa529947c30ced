//! A reviewer's attempts on the tokio layer's cancel safety, split halves,
//! `Stream`/`Sink`, backpressure and keepalive (issue 16), with the
//! expected results taken from the docs and RFC 6455:
//!
//! - every async method (`next`, `feed`, `send`, `send_fragment`, `pong`,
//!   `flush`, `close`) of a whole `WebSocket` and of both split halves,
//!   dropped at every poll of a script, driven as an executor would (polled
//!   again only once woken, so a lost wakeup shows as a stall) over
//!   `duplex` pipes of 1 to 64 bytes and a peer reading 1 to 64 bytes at a
//!   time, and with a 20,000-byte message held by reference and written
//!   by vectored writes that end anywhere: the wire, parsed by hand
//!   (`parse_server_frames`), holds every
//!   frame once and whole (a dropped `send` either all of its frame or none
//!   of it), and no event is lost; the same for the close reply `next`
//!   writes and the `Sink`'s close: one close frame, one close reported;
//! - split halves in two tasks on a multi-thread runtime: the reader's
//!   pongs reach the wire while the writer is idle, and while it waits on
//!   a full output, after its message and never inside it;
//! - a `Sink` that `poll_ready` said has room takes the message, even when
//!   an automatic pong filled the output meanwhile;
//! - backpressure: `send` waits at the limit (no error, nothing queued)
//!   and resumes when the peer reads; a peer pinging without reading gets
//!   coalesced pongs and does not make the socket spin;
//! - keepalive: no ping while the peer talks, pings while only we talk, a
//!   late pong within the idle timeout keeps the connection, past it the
//!   close is 1001 "idle timeout";
//! - `futures`: `StreamExt::split` and `forward` echo to a raw peer, and
//!   the errors are variants one can match;
//! - `reunite` after queued output and a buffered message; a batch of
//!   messages answered with `feed` against `next`'s "one read and one
//!   write"; sans-IO, random sends, pings and partial vectored writes at a
//!   small output limit.
#![cfg(feature = "tokio")]

mod common;

use std::{
    future::Future,
    pin::{pin, Pin},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf},
    time::{sleep, Instant},
};
use wsframe::{
    tokio::{Error, WebSocket, WebSocketReader, WebSocketWriter},
    CloseCode, Config, Event, Message, Role, SendError,
};

use common::{
    client, close_payload, parse_server_frame, parse_server_frames,
    tap::Tap,
    tokio_peer::{peer, read_events, server},
    BINARY, CLOSE, CONT, FIN, PING, PONG, TEXT,
};

/// A waker that counts its wakes.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl WakeCount {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that counts in `wakes`, then wakes `then`.
struct Counted {
    wakes: Arc<WakeCount>,
    then: Waker,
}

impl Wake for Counted {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.wake_by_ref();
        self.then.wake_by_ref();
    }
}

/// The client end of the pipe, polled by hand: it writes what it has to
/// send and reads what the server wrote, `step` bytes at a time, and
/// answers the server's close frame once it has it whole.
struct RawPeer {
    io: DuplexStream,
    to_send: Vec<u8>,
    wire: Vec<u8>,
    step: usize,
    answered_close: bool,
}

impl RawPeer {
    fn new(io: DuplexStream, step: usize, to_send: Vec<u8>) -> Self {
        Self {
            io,
            to_send,
            wire: Vec::new(),
            step,
            answered_close: false,
        }
    }

    /// One write and one read of at most `step` bytes; whether a byte moved.
    fn round(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut moved = false;
        if !self.to_send.is_empty() {
            let n = self.to_send.len().min(self.step);
            if let Poll::Ready(result) =
                Pin::new(&mut self.io).poll_write(&mut cx, &self.to_send[..n])
            {
                let n = result.unwrap();
                self.to_send.drain(..n);
                moved |= n > 0;
            }
        }
        let mut buf = vec![0; self.step];
        let mut read = ReadBuf::new(&mut buf);
        if let Poll::Ready(result) = Pin::new(&mut self.io).poll_read(&mut cx, &mut read) {
            result.unwrap();
            self.wire.extend_from_slice(read.filled());
            moved |= !read.filled().is_empty();
        }
        if !self.answered_close && self.whole_frames().iter().any(|f| f.0 & 0x0F == CLOSE) {
            self.to_send
                .extend(client(FIN | CLOSE, &close_payload(1000, b"")));
            self.answered_close = true;
        }
        moved
    }

    /// The whole frames read so far.
    fn whole_frames(&self) -> Vec<(u8, Vec<u8>)> {
        let (mut frames, mut at) = (Vec::new(), 0);
        while let Some((first, payload, len)) = parse_server_frame(&self.wire[at..]) {
            frames.push((first, payload));
            at += len;
        }
        frames
    }
}

/// Polls `op` as an executor would: first at once, then again only once
/// it was woken, the peer taking at least one round between polls. Drops
/// it unfinished before poll number `drop_at` (counted from 0); returns its
/// output if it finished.
///
/// # Panics
///
/// When `op` is pending, was not woken, and the peer has nothing left to
/// move: a real executor would never poll it again.
fn drive<F: Future>(op: F, peer: &mut RawPeer, drop_at: Option<usize>) -> Option<F::Output> {
    let wakes = Arc::new(WakeCount::default());
    let waker = Waker::from(Arc::clone(&wakes));
    let mut cx = Context::from_waker(&waker);
    let mut op = pin!(op);
    for polls in 0.. {
        if drop_at == Some(polls) {
            return None;
        }
        let seen = wakes.get();
        if let Poll::Ready(output) = op.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let mut idle = 0;
        peer.round();
        while wakes.get() == seen {
            if !peer.round() {
                idle += 1;
                assert!(idle < 3, "pending at poll {polls}, never woken, peer idle");
            }
        }
    }
    unreachable!()
}

/// A stream with vectored writes, as TCP's, each taking at most `cap`
/// bytes gathered across the slices: a write may end inside any run of the
/// output (the pipe may take fewer still).
struct Vectored {
    io: DuplexStream,
    cap: usize,
}

impl AsyncRead for Vectored {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Vectored {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let cap = self.cap.min(buf.len());
        Pin::new(&mut self.io).poll_write(cx, &buf[..cap])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let mut gathered = Vec::new();
        for slice in slices {
            let room = self.cap - gathered.len();
            gathered.extend_from_slice(&slice[..slice.len().min(room)]);
        }
        Pin::new(&mut self.io).poll_write(cx, &gathered)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A whole socket, or its two halves.
enum Socket<S> {
    Whole(Box<WebSocket<S>>),
    Split(WebSocketReader<S>, WebSocketWriter<S>),
}

/// The script's steps; each is one async call (two for a split close: the
/// writer sends, the reader awaits the answer).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Op {
    Feed,
    FeedAgain,
    NextPing,
    Send,
    NextText,
    FirstFragment,
    Pong,
    LastFragment,
    Flush,
    Close,
    AwaitClose,
}

const SCRIPT: [Op; 11] = [
    Op::Feed,
    Op::FeedAgain,
    Op::NextPing,
    Op::Send,
    Op::NextText,
    Op::FirstFragment,
    Op::Pong,
    Op::LastFragment,
    Op::Flush,
    Op::Close,
    Op::AwaitClose,
];

fn fed() -> Message {
    Message::Binary(vec![0xA1; 100].into())
}
/// Large (`big`): a server holds it by reference in its output, a run of
/// its own that a vectored write may end inside.
fn fed_again(big: bool) -> Message {
    let len = if big { 20_000 } else { 100 };
    Message::Binary(
        (0..len)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into(),
    )
}
fn ping_payload() -> Vec<u8> {
    vec![b'p'; 20]
}
fn sent() -> Message {
    Message::from("b".repeat(30))
}
const FIRST: &str = "frag-one ";
const LAST: &str = "frag-two";

impl<S: AsyncRead + AsyncWrite + Unpin> Socket<S> {
    /// Runs `op` (with [`fed_again`]`(big)`): the event `next` returned or
    /// the close `close` did.
    async fn run(&mut self, op: Op, big: bool) -> Result<Option<Event>, Error> {
        match self {
            Socket::Whole(ws) => match op {
                Op::Feed => ws.feed(fed()).await.map(|()| None),
                Op::FeedAgain => ws.feed(fed_again(big)).await.map(|()| None),
                Op::NextPing | Op::NextText => ws.next().await.transpose(),
                Op::Send => ws.send(sent()).await.map(|()| None),
                Op::FirstFragment => ws
                    .send_fragment(Message::from(FIRST), false)
                    .await
                    .map(|()| None),
                Op::Pong => ws.pong(b"u").await.map(|()| None),
                Op::LastFragment => ws
                    .send_fragment(Message::from(LAST), true)
                    .await
                    .map(|()| None),
                Op::Flush => ws.flush().await.map(|()| None),
                Op::Close => ws
                    .close(CloseCode::NORMAL, "bye")
                    .await
                    .map(|closed| Some(Event::Closed(Box::new(closed)))),
                Op::AwaitClose => Ok(None),
            },
            Socket::Split(reader, writer) => match op {
                Op::Feed => writer.feed(fed()).await.map(|()| None),
                Op::FeedAgain => writer.feed(fed_again(big)).await.map(|()| None),
                Op::NextPing | Op::NextText | Op::AwaitClose => reader.next().await.transpose(),
                Op::Send => writer.send(sent()).await.map(|()| None),
                Op::FirstFragment => writer
                    .send_fragment(Message::from(FIRST), false)
                    .await
                    .map(|()| None),
                Op::Pong => writer.pong(b"u").await.map(|()| None),
                Op::LastFragment => writer
                    .send_fragment(Message::from(LAST), true)
                    .await
                    .map(|()| None),
                Op::Flush => writer.flush().await.map(|()| None),
                Op::Close => writer.close(CloseCode::NORMAL, "bye").await.map(|()| None),
            },
        }
    }
}

/// The frames the script puts on the wire, without the one `missing`
/// frame (a dropped send, fragment or pong that was not queued).
fn expected_wire(missing: Option<Op>, big: bool) -> Vec<(u8, Vec<u8>)> {
    let mut frames = vec![
        (FIN | BINARY, fed().as_bytes().to_vec()),
        (FIN | BINARY, fed_again(big).as_bytes().to_vec()),
        (FIN | PONG, ping_payload()),
    ];
    if missing != Some(Op::Send) {
        frames.push((FIN | TEXT, sent().as_bytes().to_vec()));
    }
    let first_sent = missing != Some(Op::FirstFragment);
    if first_sent {
        frames.push((TEXT, FIRST.into()));
    }
    if missing != Some(Op::Pong) {
        frames.push((FIN | PONG, b"u".to_vec()));
    }
    if missing != Some(Op::LastFragment) {
        let opcode = if first_sent { CONT } else { TEXT };
        frames.push((FIN | opcode, LAST.into()));
    }
    frames.push((FIN | CLOSE, close_payload(1000, b"bye")));
    frames
}

/// Runs the script with `dropped` dropped before its poll `drop_at`, then
/// carried on as a user who cannot tell what a dropped send did would:
/// a dropped `feed` (strictly cancel-safe) that did not finish, `next`,
/// `flush` and `close` are called again; a dropped send, fragment or pong
/// is not. Whether the drop point was reached at all.
fn run_script(
    (split, limit, vectored): (bool, usize, bool),
    (buffer, step): (usize, usize),
    dropped: Op,
    drop_at: usize,
) -> bool {
    let config = Config::builder().max_output_buffer(limit).build();
    let (ours, theirs) = tokio::io::duplex(buffer);
    let case = format!(
        "split {split}, limit {limit}, vectored {vectored}, pipe {buffer}, reads of {step}, \
         {dropped:?} dropped at poll {drop_at}"
    );
    let peer = RawPeer::new(theirs, step, Vec::new());
    if vectored {
        let cap = 3 * step + 1;
        let stream = Vectored { io: ours, cap };
        let ws = WebSocket::from_upgraded(stream, Role::Server, config, Default::default());
        run_on(ws, peer, split, true, (dropped, drop_at), &case)
    } else {
        let ws = WebSocket::from_upgraded(ours, Role::Server, config, Default::default());
        run_on(ws, peer, split, false, (dropped, drop_at), &case)
    }
}

/// [`run_script`] on `ws`, whole or `split`, with the large message if `big`.
fn run_on<S: AsyncRead + AsyncWrite + Unpin>(
    ws: WebSocket<S>,
    mut peer: RawPeer,
    split: bool,
    big: bool,
    (dropped, drop_at): (Op, usize),
    case: &str,
) -> bool {
    let mut socket = if split {
        let (reader, writer) = ws.split();
        Socket::Split(reader, writer)
    } else {
        Socket::Whole(Box::new(ws))
    };
    peer.to_send = [
        client(FIN | PING, &ping_payload()),
        client(FIN | TEXT, b"from the peer"),
    ]
    .concat();
    let (mut events, mut reached) = (Vec::new(), false);
    for op in SCRIPT {
        let drop_at = (op == dropped).then_some(drop_at);
        let outcome = match drive(socket.run(op, big), &mut peer, drop_at) {
            Some(outcome) => outcome,
            None => {
                reached = true;
                match op {
                    Op::Send | Op::FirstFragment | Op::Pong | Op::LastFragment => continue,
                    _ => drive(socket.run(op, big), &mut peer, None).expect("not dropped"),
                }
            }
        };
        events.extend(outcome.unwrap_or_else(|err| panic!("{case}: {op:?}: {err}")));
    }
    let ended = events.pop();
    assert!(
        matches!(&ended, Some(Event::Closed(c)) if c.code == CloseCode::NORMAL),
        "{case}: {ended:?}"
    );
    assert_eq!(
        events,
        [
            Event::Ping(ping_payload().into()),
            Event::Message(Message::from("from the peer"))
        ],
        "{case}"
    );
    while peer.round() {}
    let wire = parse_server_frames(&peer.wire);
    let allowed = [expected_wire(None, big), expected_wire(Some(dropped), big)];
    assert!(allowed.contains(&wire), "{case}: {wire:02x?}");
    reached
}

/// Every async method of a whole socket and of both halves dropped at
/// every poll, with the default output limit and with one of 64 bytes
/// (every send but the first waits for room): nothing lost, nothing twice,
/// no frame cut or interleaved.
#[tokio::test(start_paused = true)]
async fn every_method_dropped_at_every_poll_leaves_the_wire_whole() {
    // Unconstrained: the polls here are the test's, inside one poll of
    // its task; tokio's budget would make the pipe return Pending.
    tokio::task::unconstrained(async {
        let default_limit = Config::default().max_output_buffer();
        let small = [(1, 1), (2, 1), (3, 7), (7, 3), (16, 5), (64, 64), (64, 1)];
        // With a 20,000-byte message, held by reference and written with
        // vectored writes that end anywhere: fewer, larger pipes.
        let large = [(64, 61), (1000, 333), (4096, 4096)];
        for split in [false, true] {
            for limit in [default_limit, 64] {
                for (vectored, pipes) in [(false, &small[..]), (true, &large[..])] {
                    for &pipe in pipes {
                        for dropped in SCRIPT {
                            for drop_at in 0.. {
                                let params = (split, limit, vectored);
                                if !run_script(params, pipe, dropped, drop_at) {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    })
    .await;
}

/// With the `futures` feature: a `Sink` whose `poll_ready` said there is
/// room takes the message in `start_send` (the `Sink` contract), even when
/// the reader queued an automatic pong in between that took the output to
/// the limit.
#[cfg(feature = "futures")]
#[tokio::test(start_paused = true)]
async fn a_sink_ready_for_a_message_takes_it_after_an_automatic_pong() {
    use futures_util::Sink;
    let limit = 800;
    let (ws, mut io) = server(200, Config::builder().max_output_buffer(limit).build());
    let (mut reader, mut writer) = ws.split();
    let big = Message::Binary(vec![1; 900].into());
    writer.feed(big.clone()).await.unwrap();
    // 904 bytes unsent: poll_ready writes 200 into the pipe, and 704 are
    // under the limit.
    std::future::poll_fn(|cx| Pin::new(&mut writer).poll_ready(cx))
        .await
        .unwrap();
    io.write_all(&client(FIN | PING, &[b'p'; 125]))
        .await
        .unwrap();
    let event = reader.next().await.unwrap().unwrap();
    assert_eq!(event, Event::Ping(vec![b'p'; 125].into()));
    // The pong made it 831 bytes: past the limit, but the room was promised.
    let promised = Message::from("promised");
    let taken = Pin::new(&mut writer).start_send(promised.clone());
    assert!(taken.is_ok(), "{taken:?}");
    let mut peer = peer();
    let (flushed, events) = tokio::join!(writer.flush(), read_events(&mut io, &mut peer, 3, 64));
    flushed.unwrap();
    assert_eq!(
        events,
        [
            Event::Message(big),
            Event::Pong(vec![b'p'; 125].into()),
            Event::Message(promised)
        ]
    );
}

/// Two tasks on two threads: the writer sends messages that fill a small
/// output limit while the peer pings and reads slowly. No send fails
/// (a full output is waited for, never refused: an automatic pong queued
/// by the reader between the writer's check for room and its queueing must
/// not make the send fail), every message arrives whole and in order, and
/// the latest ping is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_at_the_limit_and_a_reader_ponging_on_two_threads() {
    const COUNT: usize = 3000;
    let limit = 300;
    let (ws, io) = server(64, Config::builder().max_output_buffer(limit).build());
    let (mut reader, mut writer) = ws.split();
    let reading = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(event) = reader.next().await {
            match event.unwrap() {
                Event::Ping(_) => pings += 1,
                Event::Closed(_) => break,
                other => panic!("{other:?}"),
            }
        }
        pings
    });
    let message = |n: usize| Message::Binary(vec![n as u8; 50 + n % 100].into());
    let writing = tokio::spawn(async move {
        for n in 0..COUNT {
            if let Err(err) = writer.send(message(n)).await {
                panic!("send {n} failed: {err:?}");
            }
        }
        writer
    });
    let (mut from_server, mut to_server) = tokio::io::split(io);
    let pinging = tokio::spawn(async move {
        for n in 0..2000u32 {
            let ping = client(FIN | PING, &n.to_be_bytes());
            if to_server.write_all(&ping).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
        to_server
    });
    let mut wire = Vec::new();
    let mut buf = [0; 37];
    let mut pongs = Vec::new();
    let mut messages = 0;
    loop {
        let n = from_server.read(&mut buf).await.unwrap();
        wire.extend_from_slice(&buf[..n]);
        while let Some((first, payload, len)) = parse_server_frame(&wire) {
            wire.drain(..len);
            match first {
                f if f == FIN | BINARY => {
                    assert_eq!(Message::Binary(payload.into()), message(messages));
                    messages += 1;
                }
                f if f == FIN | PONG => pongs.push(u32::from_be_bytes(payload.try_into().unwrap())),
                f => panic!("{f:02x}"),
            }
        }
        if messages == COUNT && pongs.last() == Some(&1999) {
            break;
        }
    }
    assert!(pongs.windows(2).all(|w| w[0] < w[1]), "pongs out of order");
    let mut to_server = pinging.await.unwrap();
    let writer = writing.await.unwrap();
    to_server
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    assert_eq!(reading.await.unwrap(), 2000);
    drop(writer);
}

/// The reader answers a ping while the writer, in another task, has sent
/// nothing and awaits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_pongs_while_the_writer_is_idle() {
    let (ws, mut io) = server(64, Config::default());
    let (mut reader, writer) = ws.split();
    let reading = tokio::spawn(async move { while reader.next().await.is_some() {} });
    let mut peer = peer();
    for n in 0..20u8 {
        peer.ping(&[n; 30]).unwrap();
        io.write_all(&peer.take_output()).await.unwrap();
        let events = read_events(&mut io, &mut peer, 1, 7).await;
        assert_eq!(events, [Event::Pong(vec![n; 30].into())]);
    }
    drop(writer);
    // The reader goes on alone, the writer dropped.
    peer.ping(b"alone").unwrap();
    io.write_all(&peer.take_output()).await.unwrap();
    assert_eq!(
        read_events(&mut io, &mut peer, 1, 7).await,
        [Event::Pong(b"alone"[..].into())]
    );
    reading.abort();
}

/// Backpressure: at the limit `send` waits, neither erring nor queueing,
/// and goes on when the peer reads; the output never holds more than the
/// limit plus one frame.
#[tokio::test(start_paused = true)]
async fn send_at_the_limit_waits_then_resumes_when_the_peer_reads() {
    let limit = 1000;
    let (mut ws, mut io) = server(100, Config::builder().max_output_buffer(limit).build());
    let message = |n: u8| Message::Binary(vec![n; 400].into());
    for n in 0..3 {
        ws.feed(message(n)).await.unwrap();
    }
    let queued = ws.connection().output_len();
    assert_eq!(queued, 3 * 404);
    {
        let send = ws.send(message(3));
        tokio::select! {
            _ = send => panic!("the output is over the limit and the peer reads nothing"),
            () = sleep(Duration::from_secs(60)) => {}
        }
    }
    // Waiting wrote what the pipe took and queued nothing more.
    assert_eq!(ws.connection().output_len(), queued - 100);
    let mut peer = peer();
    let (sent, events) = tokio::join!(
        async {
            ws.send(message(3)).await?;
            ws.send(message(4)).await
        },
        read_events(&mut io, &mut peer, 5, 50)
    );
    sent.unwrap();
    assert_eq!(
        events,
        (0..5)
            .map(|n| Event::Message(message(n)))
            .collect::<Vec<_>>()
    );
}

/// A peer that pings 100,000 times and never reads: the output stays
/// bounded (past the limit, the pongs the stream cannot take are
/// coalesced: at most the rest of a partly written pong and the latest
/// one), and the socket does not spin: its polls are
/// about the pipe's reads, and once the pings stop, nothing wakes it, even
/// an hour later.
#[tokio::test(start_paused = true)]
async fn unread_pings_do_not_make_the_socket_spin() {
    const LIMIT: usize = 64;
    const PINGS: u32 = 100_000;
    let (mut ws, io) = server(1024, Config::builder().max_output_buffer(LIMIT).build());
    let (_unread, mut pinger) = tokio::io::split(io);
    let writer = tokio::spawn(async move {
        let mut peer = peer();
        for n in 0..PINGS {
            peer.ping(&n.to_be_bytes()).unwrap();
            if n % 1000 == 999 {
                pinger.write_all(&peer.take_output()).await.unwrap();
            }
        }
        pinger
    });
    let wakes = Arc::new(WakeCount::default());
    let (mut pings, mut pending) = (0, 0);
    while pings < PINGS {
        // Each poll's result seen, and each wake counted on its way to
        // the runtime: a socket that spins shows as many Pendings.
        let event = std::future::poll_fn(|cx| {
            let counting = Waker::from(Arc::new(Counted {
                wakes: Arc::clone(&wakes),
                then: cx.waker().clone(),
            }));
            let mut next = pin!(ws.next());
            let polled = next.as_mut().poll(&mut Context::from_waker(&counting));
            pending += usize::from(polled.is_pending());
            polled
        })
        .await;
        match event.unwrap().unwrap() {
            Event::Ping(_) => pings += 1,
            other => panic!("{other:?}"),
        }
        assert!(ws.connection().output_len() < LIMIT + 2 * (2 + 4));
    }
    // 600,000 bytes of pings through a 1 KiB pipe: some 600 reads.
    assert!(
        pending < 3 * 600,
        "{pending} pending polls for {PINGS} pings"
    );
    let pinger = writer.await.unwrap();
    let before = wakes.get();
    let counting = Waker::from(Arc::clone(&wakes));
    {
        let mut next = pin!(ws.next());
        assert!(next
            .as_mut()
            .poll(&mut Context::from_waker(&counting))
            .is_pending());
        sleep(Duration::from_secs(3600)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(wakes.get(), before, "woken with nothing to do");
    drop(pinger);
}

/// Keepalive (Config::ping_interval): "when nothing has been received
/// from the peer for `interval`": a peer that talks every 4 s is never
/// pinged at a 5 s interval, though we send nothing.
#[tokio::test(start_paused = true)]
async fn no_keepalive_ping_while_the_peer_talks() {
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(5)))
        .build();
    let (mut ws, mut io) = server(4096, config);
    let mut peer = peer();
    let talking = async {
        for n in 0..10u8 {
            sleep(Duration::from_secs(4)).await;
            peer.send(Message::Binary(vec![n].into())).unwrap();
            io.write_all(&peer.take_output()).await.unwrap();
        }
        // Silence: the first ping comes 5 s after the last message.
        let start = Instant::now();
        let events = read_events(&mut io, &mut peer, 1, 64).await;
        (start.elapsed(), events)
    };
    let receiving = async {
        for n in 0..10u8 {
            let event = ws.next().await.unwrap().unwrap();
            assert_eq!(event, Event::Message(Message::Binary(vec![n].into())));
        }
        ws.next().await
    };
    tokio::select! {
        (elapsed, events) = talking => {
            assert_eq!(events, [Event::Ping(Default::default())]);
            assert_eq!(elapsed, Duration::from_secs(5));
        }
        event = receiving => panic!("{event:?}"),
    }
}

/// While only we talk (a message every second), a silent peer is still
/// pinged every interval: what we send is not what we receive.
#[tokio::test(start_paused = true)]
async fn keepalive_pings_a_silent_peer_while_we_send() {
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(5)))
        .build();
    let (ws, mut io) = server(4096, config);
    let (mut reader, mut writer) = ws.split();
    let start = Instant::now();
    let reading = tokio::spawn(async move { while reader.next().await.is_some() {} });
    let sending = tokio::spawn(async move {
        for n in 0..12u8 {
            writer.send(Message::Binary(vec![n].into())).await.unwrap();
            sleep(Duration::from_secs(1)).await;
        }
        writer
    });
    let mut peer = peer();
    let mut pings = Vec::new();
    while pings.len() < 2 {
        for event in read_events(&mut io, &mut peer, 1, 64).await {
            if let Event::Ping(_) = event {
                pings.push(start.elapsed());
            }
        }
    }
    assert_eq!(pings, [Duration::from_secs(5), Duration::from_secs(10)]);
    drop(sending.await.unwrap());
    reading.abort();
}

/// A peer answering each keepalive ping late: within the idle timeout the
/// connection lives on; past it, it is closed with 1001 "idle timeout" at
/// the idle timeout exactly, and the wire ends with that close frame.
#[tokio::test(start_paused = true)]
async fn a_late_pong_within_the_idle_timeout_keeps_the_connection() {
    for (delay, survives) in [(14, true), (16, false)] {
        let config = Config::builder()
            .ping_interval(Some(Duration::from_secs(10)))
            .idle_timeout(Some(Duration::from_secs(25)))
            .build();
        let (mut ws, mut io) = server(4096, config);
        let start = Instant::now();
        let mut peer = peer();
        let answering = async {
            let mut seen = Vec::new();
            loop {
                let events = read_events(&mut io, &mut peer, 1, 64).await;
                seen.push((start.elapsed(), events[0].clone()));
                match &events[0] {
                    Event::Ping(_) if seen.len() < 4 => {
                        sleep(Duration::from_secs(delay)).await;
                        peer.pong(b"late").unwrap();
                        io.write_all(&peer.take_output()).await.unwrap();
                    }
                    _ => return seen,
                }
            }
        };
        let closed = async {
            loop {
                match ws.next().await {
                    Some(Ok(Event::Pong(_))) => {}
                    other => return (start.elapsed(), other),
                }
            }
        };
        if survives {
            let seen = tokio::select! {
                seen = answering => seen,
                other = closed => panic!("{other:?}"),
            };
            // Pinged at 10 and 20 s, the pong at 24 s restarting both
            // clocks: pinged again at 34 (read at 38 after the pong owed
            // for 20), and so on, never idle for 25 s.
            let at: Vec<u64> = seen.iter().map(|(t, _)| t.as_secs()).collect();
            assert_eq!(at, [10, 24, 38, 52]);
        } else {
            let ((elapsed, event), seen) = tokio::join!(closed, answering);
            assert_eq!(elapsed, Duration::from_secs(25));
            let Some(Ok(Event::Closed(closed))) = event else {
                panic!("{event:?}")
            };
            assert_eq!(
                (closed.code, closed.reason.as_str()),
                (CloseCode::GOING_AWAY, "idle timeout")
            );
            let kinds: Vec<String> = seen
                .iter()
                .map(|(t, e)| format!("{}:{e:?}", t.as_secs()))
                .collect();
            assert!(
                matches!(&seen[..], [(_, Event::Ping(_)), (_, Event::Ping(_)), (_, Event::Closed(c))]
                    if c.code == CloseCode::GOING_AWAY && c.reason == "idle timeout"),
                "{kinds:?}"
            );
        }
    }
}

/// With the `futures` feature: `StreamExt::split` of a whole socket and
/// `forward` echo what a raw peer sends, byte-exact, until its close,
/// which the echo answers; then `Error` variants match.
#[cfg(feature = "futures")]
#[tokio::test(start_paused = true)]
async fn stream_split_and_forward_echo_to_a_raw_peer() {
    use futures_util::{StreamExt, TryStreamExt};
    let (ws, mut io) = server(128, Config::builder().max_output_buffer(256).build());
    let echo = tokio::spawn(async move {
        let (sink, stream) = StreamExt::split(ws);
        stream
            .try_filter_map(|event| async move {
                Ok(match event {
                    Event::Message(message) => Some(message),
                    _ => None,
                })
            })
            .forward(sink)
            .await
    });
    let payload = |n: usize| vec![(n % 251) as u8; n * 7 % 300];
    let mut input = Vec::new();
    for n in 0..200 {
        input.extend(client(FIN | BINARY, &payload(n)));
        if n % 9 == 0 {
            input.extend(client(FIN | PING, &[n as u8; 3]));
        }
    }
    let (mut from_server, mut to_server) = tokio::io::split(&mut io);
    let writing = async {
        for chunk in input.chunks(50) {
            to_server.write_all(chunk).await.unwrap();
        }
    };
    // The close goes once every echo is in: one sent earlier would cross
    // echoes still to come, and data may not follow the close the server
    // answers with (RFC 6455 §5.5.1), so those would fail `Error::Closed`.
    let echoed_count = |wire: &[u8]| {
        let (mut count, mut at) = (0, 0);
        while let Some((first, _, len)) = parse_server_frame(&wire[at..]) {
            count += usize::from(first == FIN | BINARY);
            at += len;
        }
        count
    };
    let mut wire = Vec::new();
    let reading = async {
        let mut buf = [0; 61];
        while echoed_count(&wire) < 200 {
            let n = from_server.read(&mut buf).await.unwrap();
            assert!(n > 0, "hung up");
            wire.extend_from_slice(&buf[..n]);
        }
    };
    tokio::join!(writing, reading);
    to_server
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"done")))
        .await
        .unwrap();
    from_server.read_to_end(&mut wire).await.unwrap();
    echo.await.unwrap().unwrap();
    let frames = parse_server_frames(&wire);
    let echoed: Vec<Vec<u8>> = frames
        .iter()
        .filter(|(first, _)| *first == FIN | BINARY)
        .map(|(_, payload)| payload.clone())
        .collect();
    assert_eq!(echoed, (0..200).map(payload).collect::<Vec<_>>());
    let (first, close) = frames.last().unwrap();
    assert_eq!(
        (*first, &close[..2]),
        (FIN | CLOSE, &1000u16.to_be_bytes()[..])
    );
}

/// Errors are variants to match: a ping over 125 bytes, a close reason over
/// 123, an unsendable code, a fragment out of order, and a send after the
/// close.
#[tokio::test(start_paused = true)]
async fn errors_are_variants_to_match() {
    let (mut ws, _io) = server(4096, Config::default());
    let err = ws.ping(&[0; 126]).await.unwrap_err();
    assert!(
        matches!(err, Error::Send(SendError::ControlPayloadTooLong(126))),
        "{err:?}"
    );
    let err = ws.close(CloseCode(1005), "").await.unwrap_err();
    assert!(
        matches!(err, Error::Send(SendError::UnsendableCloseCode(1005))),
        "{err:?}"
    );
    let err = ws
        .close(CloseCode::NORMAL, &"r".repeat(124))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Send(SendError::ControlPayloadTooLong(_))),
        "{err:?}"
    );
    ws.send_fragment(Message::from("a"), false).await.unwrap();
    let err = ws
        .send_fragment(Message::Binary(vec![1].into()), true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Send(SendError::FragmentOutOfOrder)),
        "{err:?}"
    );
    let err = ws.send(Message::from("b")).await.unwrap_err();
    assert!(
        matches!(err, Error::Send(SendError::FragmentOutOfOrder)),
        "{err:?}"
    );
    let (ws, io) = server(4096, Config::default());
    let (_reader, mut writer) = ws.split();
    writer.close(CloseCode::NORMAL, "").await.unwrap();
    let err = writer.send(Message::from("late")).await.unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    let err = writer.pong(b"late").await.unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    drop(io);
}

/// `reunite` joins the halves with nothing lost: a message fed by the
/// writer and not written, a ping the reader took in whose pong is not
/// written; halves of two sockets are refused and handed back.
#[tokio::test(start_paused = true)]
async fn reunite_loses_nothing_and_refuses_strangers() {
    let (ws, mut io) = server(4096, Config::default());
    let (mut reader, mut writer) = ws.split();
    let (other, _other_io) = server(4096, Config::default());
    let (other_reader, other_writer) = other.split();
    let fed = Message::from("fed before reuniting");
    writer.feed(fed.clone()).await.unwrap();
    let mut peer = peer();
    peer.ping(b"p").unwrap();
    peer.send(Message::from("in hand")).unwrap();
    io.write_all(&peer.take_output()).await.unwrap();
    assert_eq!(
        reader.next().await.unwrap().unwrap(),
        Event::Ping(b"p"[..].into())
    );
    let Err(refused) = reader.reunite(other_writer) else {
        panic!("halves of two sockets reunited")
    };
    let (reader, other_writer) = (refused.0, refused.1);
    assert!(other_reader.reunite(other_writer).is_ok());
    let mut ws = reader.reunite(writer).unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Event::Message(Message::from("in hand"))
    );
    ws.flush().await.unwrap();
    let events = read_events(&mut io, &mut peer, 2, 64).await;
    assert_eq!(events, [Event::Message(fed), Event::Pong(b"p"[..].into())]);
}

/// `next`'s docs: "A batch of small messages answered with `feed` thus
/// costs one read and two writes" (the answers fed so far go out as the
/// batch's last message is returned, so that pongs are not held while the
/// caller works on it; the last answer before the next read).
#[tokio::test(start_paused = true)]
async fn a_batch_answered_with_feed_costs_one_read_and_two_writes() {
    let (ours, mut io) = tokio::io::duplex(1 << 16);
    let mut ws = WebSocket::from_upgraded(
        Tap::new(ours),
        Role::Server,
        Config::default(),
        Default::default(),
    );
    for round in 0..3 {
        let batch: Vec<u8> = (0..10u8)
            .flat_map(|n| client(FIN | TEXT, format!("m{round}{n}").as_bytes()))
            .collect();
        io.write_all(&batch).await.unwrap();
        for _ in 0..10 {
            let Some(Ok(Event::Message(message))) = ws.next().await else {
                panic!("a message")
            };
            ws.feed(message).await.unwrap();
        }
    }
    // The last batch's answers go out before the next read.
    tokio::select! {
        event = ws.next() => panic!("{event:?}"),
        () = sleep(Duration::from_secs(1)) => {}
    }
    let mut wire = vec![0; 1 << 16];
    let n = io.read(&mut wire).await.unwrap();
    assert_eq!(parse_server_frames(&wire[..n]).len(), 30);
    let stream = ws.into_inner();
    assert_eq!((stream.reads, stream.writes), (3, 6));
}

/// Sans-IO, at random: a server at a 1,000-byte output limit queues small
/// and large (held by reference) messages when there is room, takes pings
/// in, and writes what a socket takes, plain or vectored, cut anywhere.
/// The wire parses whole; the messages accepted arrive once and in order;
/// pongs answer pings in order, the latest always; the output never holds
/// more than the limit plus one message, one pong and a partly written one.
#[test]
fn random_sends_pings_and_partial_writes_keep_the_wire_whole() {
    const LIMIT: usize = 1000;
    for seed in 1..=20u64 {
        let mut rng = common::Rng(seed);
        let config = Config::builder().max_output_buffer(LIMIT).build();
        let mut conn = wsframe::Connection::new(Role::Server, config);
        let (mut accepted, mut wire, mut last_ping) = (Vec::new(), Vec::new(), None);
        for step in 0..3000u32 {
            match rng.below(4) {
                0 => {
                    let len = [10, 200, 20_000][rng.below(3)];
                    let message = Message::Binary(vec![step as u8; len].into());
                    match conn.send(message.clone()) {
                        Ok(()) => accepted.push(message),
                        Err(SendError::OutputFull { .. }) => assert!(conn.output_len() >= LIMIT),
                        Err(err) => panic!("{err}"),
                    }
                }
                1 => {
                    conn.receive(&client(FIN | PING, &step.to_be_bytes()));
                    assert!(matches!(conn.next_event(), Some(Event::Ping(_))));
                    last_ping = Some(step);
                }
                _ => {
                    let take = rng.below(3000);
                    let mut slices = [std::io::IoSlice::new(&[]); 8];
                    let n = conn.pending_output_vectored(&mut slices);
                    let mut written = 0;
                    for slice in &slices[..n] {
                        let part = &slice[..slice.len().min(take - written)];
                        wire.extend_from_slice(part);
                        written += part.len();
                    }
                    conn.consume_output(written);
                }
            }
            assert!(
                conn.output_len() < LIMIT + 20_004 + 2 * (2 + 4),
                "seed {seed}"
            );
        }
        wire.extend_from_slice(&conn.take_output());
        let frames = parse_server_frames(&wire);
        let messages: Vec<Message> = frames
            .iter()
            .filter(|(first, _)| *first == FIN | BINARY)
            .map(|(_, payload)| Message::Binary(payload.clone().into()))
            .collect();
        assert_eq!(messages, accepted, "seed {seed}");
        let pongs: Vec<u32> = frames
            .iter()
            .filter(|(first, _)| *first == FIN | PONG)
            .map(|(_, payload)| u32::from_be_bytes(payload[..].try_into().unwrap()))
            .collect();
        assert!(pongs.windows(2).all(|w| w[0] < w[1]), "seed {seed}");
        assert_eq!(pongs.last().copied(), last_ping, "seed {seed}");
    }
}

/// The close frames dropped at every poll: the reply `next` writes to the
/// peer's close (whole and split), and the `Sink`'s close (whole and
/// split writer, then the answer awaited): each goes out once, whole, and
/// the close is reported once.
#[tokio::test(start_paused = true)]
async fn close_frames_dropped_at_every_poll_go_out_once() {
    tokio::task::unconstrained(async {
        for (buffer, step) in [(1, 1), (2, 3), (5, 2), (64, 64)] {
            for split in [false, true] {
                for sink in [false, true] {
                    if sink && !cfg!(feature = "futures") {
                        continue;
                    }
                    for drop_at in 0.. {
                        let case = format!(
                            "pipe {buffer}/{step} split {split} sink {sink} drop at {drop_at}"
                        );
                        if !close_once(buffer, step, split, sink, drop_at, &case) {
                            break;
                        }
                    }
                }
            }
        }
    })
    .await;
}

/// One run of [`close_frames_dropped_at_every_poll_go_out_once`]; whether
/// the drop point was reached.
fn close_once(
    buffer: usize,
    step: usize,
    split: bool,
    sink: bool,
    drop_at: usize,
    case: &str,
) -> bool {
    let (ours, theirs) = tokio::io::duplex(buffer);
    let ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), Default::default());
    let mut socket = if split {
        let (reader, writer) = ws.split();
        Socket::Split(reader, writer)
    } else {
        Socket::Whole(Box::new(ws))
    };
    let mut peer = RawPeer::new(theirs, step, Vec::new());
    let mut reached = false;
    let (code, initiator) = if sink {
        // The peer answers once it has our close whole.
        loop {
            let closing = sink_close(&mut socket);
            match drive(closing, &mut peer, Some(drop_at).filter(|_| !reached)) {
                None => reached = true,
                Some(closed) => break closed.unwrap_or_else(|err| panic!("{case}: {err}")),
            }
        }
        (1000, wsframe::Initiator::Local)
    } else {
        peer.answered_close = true;
        peer.to_send = client(FIN | CLOSE, &close_payload(1001, b"away"));
        (1001, wsframe::Initiator::Peer)
    };
    let closed = loop {
        let polled = match &mut socket {
            Socket::Whole(ws) => drive(
                ws.next(),
                &mut peer,
                Some(drop_at).filter(|_| !reached && !sink),
            ),
            Socket::Split(reader, _) => drive(
                reader.next(),
                &mut peer,
                Some(drop_at).filter(|_| !reached && !sink),
            ),
        };
        match polled {
            None => reached = true,
            Some(Some(Ok(Event::Closed(closed)))) => break closed,
            Some(other) => panic!("{case}: {other:?}"),
        }
    };
    assert_eq!(
        (closed.code.0, closed.initiator),
        (code, initiator),
        "{case}"
    );
    let after = match &mut socket {
        Socket::Whole(ws) => drive(ws.next(), &mut peer, None),
        Socket::Split(reader, _) => drive(reader.next(), &mut peer, None),
    };
    assert!(matches!(after, Some(None)), "{case}: {after:?}");
    while peer.round() {}
    let frames = parse_server_frames(&peer.wire);
    let [(first, payload)] = &frames[..] else {
        panic!("{case}: {frames:02x?}")
    };
    assert_eq!(
        (*first, &payload[..2]),
        (FIN | CLOSE, &code.to_be_bytes()[..]),
        "{case}"
    );
    reached
}

/// `SinkExt::close` on the whole socket or the split writer.
#[cfg(feature = "futures")]
async fn sink_close(socket: &mut Socket<DuplexStream>) -> Result<(), Error> {
    use futures_util::SinkExt;
    match socket {
        Socket::Whole(ws) => SinkExt::close(&mut **ws).await,
        Socket::Split(_, writer) => SinkExt::close(writer).await,
    }
}

#[cfg(not(feature = "futures"))]
async fn sink_close(_: &mut Socket<DuplexStream>) -> Result<(), Error> {
    unreachable!("only with the futures feature")
}

/// With the `futures` feature: a `Sink`'s `poll_ready` is pending while
/// the output is at the limit, without queueing or spinning, and is woken
/// and ready once the peer reads.
#[cfg(feature = "futures")]
#[tokio::test(start_paused = true)]
async fn sink_poll_ready_waits_at_the_limit_and_wakes_when_the_peer_reads() {
    use futures_util::Sink;
    for split in [false, true] {
        let (ws, mut io) = server(50, Config::builder().max_output_buffer(100).build());
        let mut socket = if split {
            let (reader, writer) = ws.split();
            Socket::Split(reader, writer)
        } else {
            Socket::Whole(Box::new(ws))
        };
        let wakes = Arc::new(WakeCount::default());
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mut poll_ready = |socket: &mut Socket<DuplexStream>| match socket {
            Socket::Whole(ws) => Pin::new(&mut **ws).poll_ready(&mut cx),
            Socket::Split(_, writer) => Pin::new(writer).poll_ready(&mut cx),
        };
        assert!(matches!(poll_ready(&mut socket), Poll::Ready(Ok(()))));
        let big = Message::Binary(vec![7; 200].into());
        match &mut socket {
            Socket::Whole(ws) => Pin::new(&mut **ws).start_send(big.clone()),
            Socket::Split(_, writer) => Pin::new(writer).start_send(big.clone()),
        }
        .unwrap();
        // 204 bytes queued: 50 go into the pipe, 154 are over the limit.
        for _ in 0..3 {
            assert!(poll_ready(&mut socket).is_pending());
        }
        assert_eq!(wakes.get(), 0, "woken with nothing to do");
        let mut wire = vec![0; 50];
        io.read_exact(&mut wire).await.unwrap();
        assert!(wakes.get() > 0, "not woken when the peer read");
        // 104 left after the next 50: still over; then under.
        assert!(poll_ready(&mut socket).is_pending());
        let mut more = vec![0; 50];
        io.read_exact(&mut more).await.unwrap();
        assert!(matches!(poll_ready(&mut socket), Poll::Ready(Ok(()))));
        wire.extend(more);
        // 104 left: 50 in the pipe, 54 written by the flush.
        let mut rest = [0; 104];
        let flush = std::future::poll_fn(|cx| match &mut socket {
            Socket::Whole(ws) => Pin::new(&mut **ws).poll_flush(cx),
            Socket::Split(_, writer) => Pin::new(writer).poll_flush(cx),
        });
        let (flushed, read) = tokio::join!(flush, io.read_exact(&mut rest));
        flushed.unwrap();
        read.unwrap();
        wire.extend(rest);
        assert_eq!(parse_server_frames(&wire), [(FIN | BINARY, vec![7; 200])]);
    }
}
