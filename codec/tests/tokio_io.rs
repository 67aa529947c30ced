//! How the tokio layer does its I/O: a large message read straight into
//! the buffer it is handed out in, reads reusing the front of the buffer,
//! a large send written from the caller's buffer (small ones with a plain
//! write), small messages batched into one read and one write, `connect`
//! against our own server, and `reunite`. A recording stream sees every
//! read and write the layer makes.
#![cfg(feature = "tokio")]

mod common;

use std::{
    io::{self, IoSlice},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use bytes::Bytes;
use common::tokio_peer::peer;
use tokio::io::{
    duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf,
};
use wsframe::{tokio::WebSocket, Config, Connection, Event, Message, Role};

/// One read the layer made: where its room started, how much room it
/// gave, how many bytes came.
#[derive(Copy, Clone, Debug)]
struct Read {
    at: usize,
    room: usize,
    got: usize,
}

/// One write: the address and length of each slice it offered, how many
/// bytes went, and whether it was a plain `poll_write` (one slice).
#[derive(Clone, Debug)]
struct Write {
    slices: Vec<(usize, usize)>,
    went: usize,
    plain: bool,
}

#[derive(Default, Debug)]
struct Log {
    reads: Vec<Read>,
    writes: Vec<Write>,
}

/// A stream that logs the reads and writes made on it; `vectored` says
/// whether it claims vectored writes (it then gathers the slices itself).
#[derive(Debug)]
struct Recording {
    inner: DuplexStream,
    vectored: bool,
    log: Arc<Mutex<Log>>,
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining();
        let at = buf.filled().as_ptr() as usize + before;
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let got = buf.filled().len() - before;
            self.log.lock().unwrap().reads.push(Read { at, room, got });
        }
        polled
    }
}

impl Recording {
    /// Writes the `slices` gathered, and logs them.
    fn record_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
        plain: bool,
    ) -> Poll<io::Result<usize>> {
        let offered = slices
            .iter()
            .map(|s| (s.as_ptr() as usize, s.len()))
            .collect();
        let mut gathered = Vec::new();
        for slice in slices {
            gathered.extend_from_slice(slice);
        }
        let polled = Pin::new(&mut self.inner).poll_write(cx, &gathered);
        if let Poll::Ready(Ok(went)) = polled {
            self.log.lock().unwrap().writes.push(Write {
                slices: offered,
                went,
                plain,
            });
        }
        polled
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.record_write(cx, &[IoSlice::new(buf)], true)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.record_write(cx, slices, false)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A server over a recording stream with a `buffer`-byte pipe, and the
/// peer's end.
fn recorded_server(
    buffer: usize,
    vectored: bool,
) -> (WebSocket<Recording>, DuplexStream, Arc<Mutex<Log>>) {
    let (ours, theirs) = duplex(buffer);
    let log = Arc::new(Mutex::new(Log::default()));
    let io = Recording {
        inner: ours,
        vectored,
        log: Arc::clone(&log),
    };
    let ws = WebSocket::from_upgraded(io, Role::Server, Config::default(), Bytes::new());
    (ws, theirs, log)
}

/// The bytes `message` makes on the wire from the peer.
fn from_peer(message: Message) -> Vec<u8> {
    let mut peer = peer();
    peer.send(message).unwrap();
    peer.take_output().to_vec()
}

/// The peer writes `wire` in pieces of `piece` bytes, letting the other
/// task run between them.
async fn trickle(mut io: DuplexStream, wire: Vec<u8>, piece: usize) -> DuplexStream {
    for chunk in wire.chunks(piece) {
        io.write_all(chunk).await.unwrap();
        tokio::task::yield_now().await;
    }
    io
}

#[tokio::test]
async fn a_large_message_is_read_into_one_buffer_and_handed_out_where_it_landed() {
    const SIZE: usize = 1 << 20;
    const HEADER: usize = 14;
    let (mut ws, theirs, log) = recorded_server(100_000, false);
    let payload: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let peer = tokio::spawn(trickle(
        theirs,
        from_peer(Message::from(payload.clone())),
        60_000,
    ));
    let Some(Ok(Event::Message(message))) = ws.next().await else {
        panic!("a message")
    };
    assert_eq!(message.as_bytes(), &payload[..]);
    let reads = log.lock().unwrap().reads.clone();
    assert!(reads.len() > 5, "the peer trickled it: {reads:?}");
    // The first read brought the header: from then on, every read had
    // room for the rest of the frame, and each landed right after the one
    // before, in the same buffer (nothing was moved to make room).
    let mut arrived = reads[0].got;
    for pair in reads.windows(2) {
        let [before, read] = pair else { unreachable!() };
        assert!(
            read.room >= SIZE + HEADER - arrived,
            "{read:?} after {arrived}"
        );
        if before.at != reads[0].at {
            assert_eq!(read.at, before.at + before.got, "moved: {reads:?}");
        }
        arrived += read.got;
    }
    assert_eq!(arrived, SIZE + HEADER);
    // Handed out where it landed: the message starts where the payload of
    // the first read was moved once (with the room reserved), right before
    // the second read's bytes.
    let first_payload = reads[0].got - HEADER;
    assert_eq!(
        message.as_bytes().as_ptr() as usize,
        reads[1].at - first_payload
    );
    drop(peer.await.unwrap());
}

/// Reads start over at the front of the read buffer once all read was
/// handed out and no message holds it (the memory stays warm with many
/// connections), and never move what a message still holds. A message
/// under 256 bytes holds a copy of its own, never the read buffer.
#[tokio::test]
async fn reads_reuse_the_front_of_the_buffer_once_no_message_holds_it() {
    for (len, small) in [(300, false), (20, true)] {
        let (mut ws, mut theirs, log) = recorded_server(1 << 16, false);
        let mut received = Vec::new();
        let mut sent_held = Vec::new();
        for (i, hold) in [false, false, true, false].into_iter().enumerate() {
            let sent = Message::from(format!("message {i} ").repeat(len / 10)[..len].to_string());
            theirs.write_all(&from_peer(sent.clone())).await.unwrap();
            let Some(Ok(Event::Message(message))) = ws.next().await else {
                panic!("message {i}")
            };
            assert_eq!(message, sent);
            if hold {
                received.push(message);
                sent_held.push(sent);
            }
        }
        let reads = log.lock().unwrap().reads.clone();
        assert_eq!(reads.len(), 4, "{len} B: {reads:?}");
        // The first message was dropped: the second lands where it did.
        assert_eq!(reads[1].at, reads[0].at, "{len} B: {reads:?}");
        if small {
            // The third is held, but as a copy: the fourth lands at the
            // front too.
            assert_eq!(reads[3].at, reads[2].at, "{len} B: {reads:?}");
        } else {
            // The third is still held when the fourth is read: the fourth
            // lands after it.
            assert_eq!(
                reads[3].at,
                reads[2].at + reads[2].got,
                "{len} B: {reads:?}"
            );
        }
        // Either way the held bytes are untouched.
        assert_eq!(received, sent_held, "{len} B");
    }
}

#[tokio::test]
async fn a_large_send_is_written_from_the_senders_buffer_in_a_vectored_write() {
    for vectored in [true, false] {
        let (mut ws, mut theirs, log) = recorded_server(4 << 20, vectored);
        let payload = Bytes::from(vec![0x42; 1 << 20]);
        ws.send(Message::Binary(payload.clone())).await.unwrap();
        ws.send(Message::from("after")).await.unwrap();
        let writes = log.lock().unwrap().writes.clone();
        // The payload is offered from the sender's own buffer: no copy.
        let offered_in_place = writes.iter().any(|w| {
            w.slices
                .contains(&(payload.as_ptr() as usize, payload.len()))
        });
        assert!(offered_in_place, "vectored {vectored}: {writes:?}");
        if vectored {
            // Header and payload in one write.
            assert_eq!(writes[0].slices.len(), 2);
            assert!(!writes[0].plain);
            assert_eq!(writes[0].went, 10 + (1 << 20));
        }
        let mut wire = vec![0; 10 + (1 << 20) + 7];
        theirs.read_exact(&mut wire).await.unwrap();
        let mut reader = Connection::new(Role::Client, Config::default());
        reader.receive(&wire);
        assert_eq!(
            reader.next_event(),
            Some(Event::Message(Message::Binary(payload)))
        );
        assert_eq!(
            reader.next_event(),
            Some(Event::Message(Message::from("after")))
        );
    }
}

#[tokio::test]
async fn reunite_joins_the_halves_of_one_socket_and_refuses_two() {
    let (ws, mut theirs, _) = recorded_server(1 << 16, true);
    let (other, _other_peer, _) = recorded_server(1 << 16, true);
    let (reader, mut writer) = ws.split();
    let (other_reader, other_writer) = other.split();
    // A message queued by the writer and not written yet is kept.
    writer.feed(Message::from("queued")).await.unwrap();
    let err = reader.reunite(other_writer).unwrap_err();
    assert!(err.to_string().contains("two different WebSockets"));
    let wsframe::tokio::ReuniteError(reader, other_writer) = err;
    assert!(other_reader.reunite(other_writer).is_ok());
    let mut ws = reader.reunite(writer).unwrap();
    assert!(ws.connection().has_output());
    ws.flush().await.unwrap();
    let mut wire = [0; 8];
    theirs.read_exact(&mut wire).await.unwrap();
    assert_eq!(&wire, b"\x81\x06queued");
}

#[tokio::test(start_paused = true)]
async fn a_large_send_dropped_mid_write_goes_out_whole_from_the_output() {
    for vectored in [true, false] {
        let (mut ws, mut theirs, log) = recorded_server(64 * 1024, vectored);
        let big = Message::Binary(
            (0..1 << 20)
                .map(|i| (i % 253) as u8)
                .collect::<Vec<u8>>()
                .into(),
        );
        tokio::select! {
            _ = ws.send(big.clone()) => panic!("1 MiB cannot fit a 64 KiB pipe"),
            () = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
        }
        // Cut inside the payload, which the output still holds by
        // reference: the caller's copy may go.
        assert!(ws.connection().output_len() > 0);
        assert!(
            log.lock()
                .unwrap()
                .writes
                .iter()
                .map(|w| w.went)
                .sum::<usize>()
                > 10
        );
        let expected = big.as_bytes().to_vec();
        drop(big);
        let text = Message::from("next");
        let read = async {
            let mut wire = vec![0; 10 + (1 << 20) + 6];
            theirs.read_exact(&mut wire).await.unwrap();
            wire
        };
        let (sent, wire) = tokio::join!(ws.send(text.clone()), read);
        sent.unwrap();
        let mut reader = Connection::new(Role::Client, Config::default());
        reader.receive(&wire);
        assert_eq!(
            reader.next_event(),
            Some(Event::Message(Message::from(expected)))
        );
        assert_eq!(reader.next_event(), Some(Event::Message(text)));
        assert_eq!(reader.next_event(), None);
    }
}

/// Our own tokio server on 127.0.0.1: accepts what `decide` accepts (it
/// sees the request's target), then echoes until closed.
#[cfg(feature = "http")]
async fn echo_server(refuse: bool) -> (u16, tokio::task::JoinHandle<Option<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut target = None;
        let accepted = WebSocket::accept_with(stream, Config::default(), |request| {
            target = Some(request.target().to_owned());
            if refuse {
                return Err(wsframe::handshake::reject(403, &[], b"no").unwrap());
            }
            Ok(request.accept())
        })
        .await;
        let Ok(mut ws) = accepted else {
            return target;
        };
        while let Some(Ok(event)) = ws.next().await {
            if let Event::Message(message) = event {
                ws.send(message).await.unwrap();
            }
        }
        target
    });
    (port, server)
}

#[cfg(feature = "http")]
#[tokio::test]
async fn connect_talks_to_our_own_server_over_tcp() {
    use wsframe::CloseCode;
    let (port, server) = echo_server(false).await;
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/chat?room=1")
        .parse()
        .unwrap();
    let (mut ws, accepted) = WebSocket::connect(&uri, Config::default()).await.unwrap();
    assert_eq!(accepted.subprotocol, None);
    for message in [Message::from("hello"), Message::from(vec![7u8; 100_000])] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Event::Message(message));
    }
    let closed = ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(server.await.unwrap().as_deref(), Some("/chat?room=1"));
}

#[cfg(feature = "http")]
#[tokio::test]
async fn connect_fails_with_the_error_that_says_why() {
    use wsframe::tokio::Error;
    // The server refuses the upgrade: its response is in the error.
    let (port, server) = echo_server(true).await;
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
    match WebSocket::connect(&uri, Config::default()).await {
        Err(Error::Refused(refused)) if refused.status() == 403 => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert_eq!(server.await.unwrap().as_deref(), Some("/"));
    // Nobody listens: the connect's own I/O error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
    match WebSocket::connect(&uri, Config::default()).await {
        Err(Error::Io(err)) => assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Not ws:// (TLS is the caller's): refused before connecting, saying so.
    let uri: http::Uri = "wss://127.0.0.1/".parse().unwrap();
    match WebSocket::connect(&uri, Config::default()).await {
        Err(Error::Io(err)) => {
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("TLS"), "{err}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A server that hangs up mid-handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hang_up = tokio::spawn(async move { drop(listener.accept().await.unwrap()) });
    let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
    match WebSocket::connect(&uri, Config::default()).await {
        Err(Error::Io(err)) => assert!(
            matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{err}"
        ),
        other => panic!("{:?}", other.map(|_| ())),
    }
    hang_up.await.unwrap();
}

#[tokio::test]
async fn a_batch_of_small_messages_costs_one_read_and_one_write() {
    let (mut ws, mut theirs, log) = recorded_server(1 << 20, true);
    let mut peer = peer();
    let messages: Vec<Message> = (0..200).map(|i| Message::from(format!("m{i}"))).collect();
    for message in &messages {
        peer.send(message.clone()).unwrap();
    }
    peer.ping(b"p").unwrap();
    theirs.write_all(&peer.take_output()).await.unwrap();
    // The plain echo loop with `feed`: every message of the read is
    // returned before the next read, and the answers go out together.
    let mut answered = 0;
    while answered < messages.len() {
        match ws.next().await.unwrap().unwrap() {
            Event::Message(message) => {
                ws.feed(message).await.unwrap();
                answered += 1;
            }
            Event::Ping(_) => unreachable!("after the messages"),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(ws.next().await, Some(Ok(Event::Ping(_)))));
    {
        let log = log.lock().unwrap();
        assert_eq!(log.reads.len(), 1, "{:?}", log.reads);
        assert_eq!(log.writes.len(), 1, "{:?}", log.writes);
        // All of it in the output buffer, one run: a plain write, no
        // vector, although the stream does vectored writes.
        assert!(log.writes[0].plain, "{:?}", log.writes);
    }
    // Nothing more in hand: the answers and the pong are written now.
    let mut echo = Connection::new(Role::Client, Config::default());
    let mut buf = vec![0; 1 << 16];
    let n = theirs.read(&mut buf).await.unwrap();
    echo.receive(&buf[..n]);
    let events: Vec<Event> = std::iter::from_fn(|| echo.next_event()).collect();
    let mut want: Vec<Event> = messages.into_iter().map(Event::Message).collect();
    want.push(Event::Pong(Bytes::from_static(b"p")));
    assert_eq!(events, want);
}

/// `client`/`connect` with [`Config::deflate`] on offer permessage-deflate
/// and inflate what the server compresses (RFC 7692 §5); without it they
/// offer nothing.
#[cfg(all(feature = "http", feature = "deflate"))]
#[tokio::test]
async fn connect_with_deflate_on_negotiates_it_and_inflates_the_echo() {
    use wsframe::DeflateConfig;
    let deflate = || {
        Config::builder()
            .deflate(Some(DeflateConfig::default()))
            .build()
    };
    for client_offers in [true, false] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = WebSocket::accept(stream, deflate()).await.unwrap();
            while let Some(Ok(event)) = ws.next().await {
                if let Event::Message(message) = event {
                    ws.send(message).await.unwrap();
                }
            }
        });
        let uri: http::Uri = format!("ws://127.0.0.1:{port}/").parse().unwrap();
        let config = if client_offers {
            deflate()
        } else {
            Config::default()
        };
        let (mut ws, accepted) = WebSocket::connect(&uri, config).await.unwrap();
        let negotiated = accepted
            .extensions
            .iter()
            .any(|e| e.name() == "permessage-deflate");
        assert_eq!(negotiated, client_offers);
        // Past the 1 KiB threshold: the server's echo is compressed (RSV1),
        // which a client without the extension would fail with 1002.
        let long = "compressible text, ".repeat(5_000);
        for message in [Message::from("hi"), Message::from(long.as_str())] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), Event::Message(message));
        }
        ws.close(wsframe::CloseCode::NORMAL, "").await.unwrap();
        server.await.unwrap();
    }
}

/// Three binary messages of `len` bytes from the peer, each read back
/// whole and equal.
async fn receive_three<S, P>(ws: &mut WebSocket<S>, theirs: &mut P, len: usize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    P: tokio::io::AsyncWrite + Unpin,
{
    for i in 0..3 {
        let sent = Message::from(vec![i as u8; len]);
        theirs.write_all(&from_peer(sent.clone())).await.unwrap();
        let Some(Ok(Event::Message(message))) = ws.next().await else {
            panic!("message {i}")
        };
        assert_eq!(message, sent);
    }
}

/// A read offers 16 KiB while no larger frame is being read: with many
/// connections, each read buffer stays that small (1000 connections hold
/// 16 MiB, not 64), and small messages keep landing at its front.
#[tokio::test]
async fn small_messages_are_read_into_16_kib_of_room() {
    let (mut ws, mut theirs, log) = recorded_server(1 << 16, false);
    receive_three(&mut ws, &mut theirs, 64).await;
    let reads = log.lock().unwrap().reads.clone();
    assert_eq!(reads.len(), 3, "{reads:?}");
    for read in &reads {
        assert_eq!(read.at, reads[0].at, "{reads:?}");
        assert_eq!(read.room, 16 * 1024, "{reads:?}");
    }
}

/// A frame over the 16 KiB a read offers (and under the size that gets a
/// buffer of its own) costs a second read the first time only: the room
/// made for its rest stays, and the next such frames arrive in one read
/// each, at the front of the buffer.
#[tokio::test]
async fn a_frame_over_the_read_chunk_grows_the_buffer_once() {
    const SIZE: usize = 20_000;
    let (mut ws, mut theirs, log) = recorded_server(1 << 16, false);
    receive_three(&mut ws, &mut theirs, SIZE).await;
    let reads = log.lock().unwrap().reads.clone();
    assert_eq!(reads.len(), 4, "{reads:?}");
    assert_eq!(reads[0].room, 16 * 1024, "{reads:?}");
    assert_eq!(reads[0].got + reads[1].got, SIZE + 8, "{reads:?}");
    for read in &reads[2..] {
        assert_eq!(read.got, SIZE + 8, "{reads:?}");
        assert_eq!(read.at, reads[2].at, "{reads:?}");
    }
}

/// The echo load test's 16 KiB case (the plain `next` / `send` loop): once
/// the first frame has grown the buffer past the 16 KiB a read offers,
/// each echo costs one read, landing at the front of the same buffer,
/// and one vectored write of the header and the payload where it was
/// read (no copy); the write drops the output's hold on the read buffer,
/// so the next read reuses that memory rather than landing after it.
#[tokio::test]
async fn a_16_kib_echo_costs_one_read_at_the_front_and_one_write_in_place() {
    const SIZE: usize = 16 * 1024;
    const FRAME: usize = SIZE + 8;
    const ECHOES: usize = 5;
    let (mut ws, mut theirs, log) = recorded_server(1 << 20, true);
    let mut payloads = Vec::new();
    for i in 0..ECHOES {
        let sent = Message::from(vec![i as u8; SIZE]);
        theirs.write_all(&from_peer(sent.clone())).await.unwrap();
        let Some(Ok(Event::Message(message))) = ws.next().await else {
            panic!("message {i}")
        };
        assert_eq!(message, sent);
        payloads.push(message.as_bytes().as_ptr() as usize);
        ws.send(message).await.unwrap();
    }
    let (reads, writes) = {
        let log = log.lock().unwrap();
        (log.reads.clone(), log.writes.clone())
    };
    // The first frame: 16 KiB of room, its last 8 bytes in a second read.
    assert_eq!(reads.len(), ECHOES + 1, "{reads:?}");
    assert_eq!(reads[0].got + reads[1].got, FRAME, "{reads:?}");
    for (i, read) in reads[2..].iter().enumerate() {
        assert_eq!(read.got, FRAME, "echo {}: {reads:?}", i + 1);
        assert_eq!(read.at, reads[2].at, "echo {}: {reads:?}", i + 1);
        assert_eq!(payloads[i + 1], read.at + 8, "echo {}", i + 1);
    }
    assert_eq!(writes.len(), ECHOES, "{writes:?}");
    for (write, &payload) in writes.iter().zip(&payloads) {
        assert!(!write.plain, "{writes:?}");
        assert_eq!(write.slices.len(), 2, "{writes:?}");
        assert_eq!(write.slices[1], (payload, SIZE), "{writes:?}");
        assert_eq!(write.went, 4 + SIZE, "{writes:?}");
    }
    let mut wire = vec![0; ECHOES * (4 + SIZE)];
    theirs.read_exact(&mut wire).await.unwrap();
    let mut reader = Connection::new(Role::Client, Config::default());
    reader.receive(&wire);
    for i in 0..ECHOES {
        assert_eq!(
            reader.next_event(),
            Some(Event::Message(Message::from(vec![i as u8; SIZE])))
        );
    }
}
