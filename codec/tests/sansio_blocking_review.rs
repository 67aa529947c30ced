//! A newcomer's review (session 18): the sans-IO `Connection` and the
//! `handshake` module embedded in a blocking server of our own, written from
//! the README and the rustdoc alone, over `std::net::TcpStream` with a
//! thread per connection: the upgrade read with `HeadScan` and
//! `UpgradeRequest::parse`, permessage-deflate negotiated with
//! `DeflateConfig::accept`, messages echoed, pings answered by the core,
//! the close handshake, the limits of `Config`, its timers driven by a read
//! timeout (`poll_timeout` / `handle_timeout`), and writes that may be
//! partial (`pending_output` / `consume_output`, or vectored).
//!
//! Then it is attacked over 127.0.0.1 by raw clients of our own, each test
//! asserting what the docs or the RFCs promise: 1002, 1007 and 1009 on the
//! wire, what was delivered stays delivered, bounded memory, nothing lost
//! on partial writes. Real peers (Python `websockets`, Node `ws`) are the
//! ignored tests at the end, each with its command.
#![cfg(feature = "deflate")]

mod common;

use std::{
    io::{self, IoSlice, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use common::{
    client, close_payload,
    deflate::{
        final_compressed, push_compressed, sync_compressed, sync_flush, sync_message, RSV1, TAIL,
    },
    largest_block, server_frames, Rng, BINARY, CLOSE, CONT, FIN, PING, PONG, TEXT,
};
use flate2::{Compress, Compression, Decompress, FlushDecompress};
use wsframe::{
    handshake::{HeadScan, Status, UpgradeRequest},
    CloseCode, Closed, Config, Connection, DeflateConfig, DeflateParams, Event, Initiator, Message,
    ProtocolError, Role, SendError, State,
};

#[global_allocator]
static ALLOCATOR: largest_block::LargestPerThread = largest_block::LargestPerThread;

/// The blocking server under review: the embedding, as a newcomer writes it
/// from the docs.
mod server {
    use super::*;

    /// A text message that asks the server to start the close handshake
    /// itself (to test the close timeout).
    pub const CLOSE_ME: &[u8] = b"please close";

    /// How the server reads and writes.
    #[derive(Clone, Copy, Debug)]
    pub struct Opts {
        pub config: Config,
        /// The whole upgrade request within this long.
        pub handshake_timeout: Duration,
        /// Bytes a read takes at most.
        pub read_size: usize,
        /// Read into `Connection::read_buf` (room from `prepare_read`)
        /// rather than copying with `receive`.
        pub in_place: bool,
        /// Bytes a write gives the socket at most: a full socket's partial
        /// writes, made on purpose.
        pub write_piece: usize,
        /// Write with `pending_output_vectored` and `write_vectored`.
        pub vectored: bool,
        /// How long one write (or a read while output waits) blocks, so
        /// that a peer that reads nothing does not stop us reading.
        pub poll: Duration,
        /// Output waiting this long without a byte written: the peer is
        /// gone, drop it.
        pub write_stall: Duration,
    }

    impl Opts {
        pub fn with(config: Config) -> Self {
            Self {
                config,
                handshake_timeout: Duration::from_secs(10),
                read_size: 16 * 1024,
                in_place: false,
                write_piece: usize::MAX,
                vectored: false,
                poll: Duration::from_millis(20),
                write_stall: Duration::from_secs(10),
            }
        }
    }

    /// permessage-deflate on, every message compressed (threshold 0), the
    /// other settings the defaults.
    pub fn deflating() -> Config {
        Config::builder()
            .deflate(Some(DeflateConfig::default().threshold(0)))
            .build()
    }

    /// How a connection ended.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum End {
        /// The `Connection` said `State::Closed` and its output was written.
        Closed,
        /// The peer hung up (read 0) before the connection was closed.
        HungUp,
        /// The request was refused with this status.
        Refused(u16),
        /// The peer hung up before its request was whole.
        HandshakeHungUp,
        /// The request was not whole in time.
        HandshakeTimedOut,
        /// Output waited `write_stall` without a byte written.
        WriteStalled,
        /// An I/O error.
        Io(io::ErrorKind),
    }

    /// What a connection did, for the test to check.
    #[derive(Debug)]
    pub struct Report {
        pub end: End,
        /// What the handshake negotiated (`None`: no compression).
        pub deflate: Option<DeflateParams>,
        pub closed: Option<Closed>,
        pub messages: usize,
        pub pings: usize,
        /// `buffered_len` after `next_event` returned `None`, at most.
        pub max_buffered: usize,
        /// `output_len` before writing, at most.
        pub max_output: usize,
        /// The largest block the connection's thread allocated.
        pub largest_block: usize,
        /// Echoes that waited for room (`SendError::OutputFull`).
        pub held: usize,
        /// Streaming mode: the bytes of the pieces handed out of the
        /// message being received (emptied when one ends).
        pub streamed: Vec<u8>,
        /// Their length.
        pub streamed_len: usize,
    }

    /// A listening server; each connection's report comes on a channel.
    pub struct Running {
        pub addr: SocketAddr,
        reports: mpsc::Receiver<Report>,
    }

    impl Running {
        /// The next connection's report (within 30 s).
        pub fn report(&self) -> Report {
            self.reports
                .recv_timeout(Duration::from_secs(30))
                .expect("no connection report within 30 s")
        }
    }

    /// Listens on 127.0.0.1 (a free port), a thread per connection.
    pub fn start(opts: Opts) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (reports, receiver) = mpsc::channel();
        thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(socket) = socket else { continue };
                let reports = reports.clone();
                thread::spawn(move || {
                    let _ = reports.send(serve(socket, opts));
                });
            }
        });
        Running {
            addr,
            reports: receiver,
        }
    }

    /// One connection, start to end.
    pub fn serve(mut socket: TcpStream, opts: Opts) -> Report {
        // Allocated before the count starts: the report's buffer is ours,
        // not the connection's.
        let streamed = Vec::with_capacity(2 << 20);
        largest_block::reset();
        let mut report = Report {
            end: End::Closed,
            deflate: None,
            closed: None,
            messages: 0,
            pings: 0,
            max_buffered: 0,
            max_output: 0,
            largest_block: 0,
            held: 0,
            streamed,
            streamed_len: 0,
        };
        report.end = match run(&mut socket, opts, &mut report) {
            Ok(end) => end,
            Err(err) => End::Io(err.kind()),
        };
        report.largest_block = largest_block::largest();
        report
    }

    /// A read or write that ran into its timeout (Unix says `WouldBlock`).
    fn timed_out(err: &io::Error) -> bool {
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    }

    fn run(socket: &mut TcpStream, opts: Opts, report: &mut Report) -> io::Result<End> {
        socket.set_nodelay(true)?;
        let mut buf = vec![0; opts.read_size];

        // The opening handshake: the whole head within the deadline, parsed
        // when `HeadScan` says it is worth it.
        let deadline = Instant::now() + opts.handshake_timeout;
        let mut head = Vec::new();
        let mut scan = HeadScan::new();
        let (upgrade, used) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(End::HandshakeTimedOut);
            }
            socket.set_read_timeout(Some(left))?;
            let n = match socket.read(&mut buf) {
                Ok(0) => return Ok(End::HandshakeHungUp),
                Ok(n) => n,
                Err(err) if timed_out(&err) || err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            head.extend_from_slice(&buf[..n]);
            if !scan.worth_parsing(&head) {
                continue;
            }
            match UpgradeRequest::parse(&head) {
                Ok(Status::Complete(upgrade)) => break upgrade,
                Ok(Status::Partial) => {}
                Err(err) => {
                    socket.write_all(&err.response())?;
                    finish(socket);
                    return Ok(End::Refused(err.status()));
                }
            }
        };
        let deflate = opts
            .config
            .deflate()
            .and_then(|preferences| preferences.accept(upgrade.extensions()));
        let mut accept = upgrade.accept();
        if let Some((_, response)) = &deflate {
            accept = accept
                .extension(response.clone())
                .expect("DeflateConfig::accept answers an extension the client offered");
        }
        socket.write_all(&accept.to_bytes())?;
        report.deflate = deflate.map(|(params, _)| params);

        let mut conn = Connection::with_deflate(Role::Server, opts.config, report.deflate);
        conn.handle_timeout(Instant::now()); // starts the clocks
        conn.receive(&head[used..]); // frames sent right behind the request
        conn.handle_timeout(Instant::now());

        let mut held = None; // an echo waiting for room in the output
        let mut written_at = Instant::now();
        loop {
            if !conn.has_output() {
                written_at = Instant::now(); // nothing waits: no stall
            }
            conn.handle_timeout(Instant::now());
            // Events, until none is ready or an echo waits for room (then
            // the peer must read before we take more from it).
            if let Some((message, piece)) = held.take() {
                match echo(&mut conn, &message, piece) {
                    Err(SendError::OutputFull { .. }) => held = Some((message, piece)),
                    Ok(()) | Err(SendError::Closed) => {}
                    Err(err) => panic!("echo refused: {err}"),
                }
            }
            while held.is_none() {
                let Some(event) = conn.next_event() else {
                    break;
                };
                match event {
                    Event::Message(message) => {
                        report.messages += 1;
                        if message.as_bytes() == CLOSE_ME {
                            conn.close(CloseCode::NORMAL, "as asked").unwrap();
                            continue;
                        }
                        match echo(&mut conn, &message, None) {
                            Ok(()) | Err(SendError::Closed) => {}
                            Err(SendError::OutputFull { .. }) => {
                                report.held += 1;
                                held = Some((message, None));
                            }
                            Err(err) => panic!("echo refused: {err}"),
                        }
                    }
                    // Streaming mode: each piece goes back as a fragment.
                    Event::Chunk { data, last } => {
                        report.messages += usize::from(last);
                        // The first 2 MiB kept (a test's own allocation
                        // must not hide the connection's), all counted.
                        let keep = (2usize << 20).saturating_sub(report.streamed.len());
                        let bytes = data.as_bytes();
                        report
                            .streamed
                            .extend_from_slice(&bytes[..bytes.len().min(keep)]);
                        report.streamed_len += bytes.len();
                        if last {
                            report.streamed.clear();
                            report.streamed_len = 0;
                        }
                        match echo(&mut conn, &data, Some(last)) {
                            Ok(()) | Err(SendError::Closed) => {}
                            Err(SendError::OutputFull { .. }) => {
                                report.held += 1;
                                held = Some((data, Some(last)));
                            }
                            Err(err) => panic!("echo refused: {err}"),
                        }
                    }
                    Event::Ping(_) => report.pings += 1, // its pong is queued
                    Event::Closed(closed) => report.closed = Some(*closed),
                    Event::Pong(_) => {}
                }
            }
            report.max_buffered = report.max_buffered.max(conn.buffered_len());
            conn.handle_timeout(Instant::now());
            report.max_output = report.max_output.max(conn.output_len());

            // Write what the socket takes now; block (up to `poll`) only
            // when there is nothing to read meanwhile.
            let block = held.is_some() || conn.state() == State::Closed;
            write_out(socket, &mut conn, &opts, block, &mut written_at)?;
            if conn.state() == State::Closed && !conn.has_output() {
                // A timer that closed leaves its `Event::Closed` to read.
                while let Some(event) = conn.next_event() {
                    if let Event::Closed(closed) = event {
                        report.closed = Some(*closed);
                    }
                }
                finish(socket);
                return Ok(End::Closed);
            }
            if conn.has_output() && written_at.elapsed() >= opts.write_stall {
                return Ok(End::WriteStalled);
            }
            if held.is_some() || conn.state() == State::Closed {
                continue; // only writing helps now
            }

            // Read until the next timer is due (bounded by `poll` while
            // output waits, to try writing again).
            let now = Instant::now();
            let mut wait = conn
                .poll_timeout()
                .map(|at| at.saturating_duration_since(now));
            if conn.has_output() {
                wait = Some(wait.map_or(opts.poll, |wait| wait.min(opts.poll)));
            }
            // std refuses a zero timeout.
            socket.set_read_timeout(wait.map(|wait| wait.max(Duration::from_millis(1))))?;
            let read = if opts.in_place {
                let limit = conn.prepare_read(opts.read_size).min(opts.read_size);
                let into = conn.read_buf();
                let start = into.len();
                into.resize(start + limit, 0);
                let read = socket.read(&mut into[start..]);
                into.truncate(start + *read.as_ref().unwrap_or(&0));
                read
            } else {
                socket.read(&mut buf).inspect(|&n| conn.receive(&buf[..n]))
            };
            match read {
                Ok(0) => return Ok(End::HungUp),
                Ok(_) => {}
                Err(err) if timed_out(&err) || err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Sends `message` back: whole, or as a fragment (`Some(fin)`).
    fn echo(
        conn: &mut Connection,
        message: &Message,
        piece: Option<bool>,
    ) -> Result<(), SendError> {
        match piece {
            None => conn.send(message.clone()),
            Some(fin) => conn.send_fragment(message.clone(), fin),
        }
    }

    /// Writes what the socket takes, in pieces of at most `write_piece`
    /// bytes; returns when the output is empty, or when the socket is full
    /// (at once unless `block`, else after `poll`).
    fn write_out(
        socket: &mut TcpStream,
        conn: &mut Connection,
        opts: &Opts,
        block: bool,
        written_at: &mut Instant,
    ) -> io::Result<()> {
        if block {
            socket.set_write_timeout(Some(opts.poll))?;
        } else {
            socket.set_nonblocking(true)?;
        }
        let wrote = write_runs(socket, conn, opts, written_at);
        if !block {
            socket.set_nonblocking(false)?;
        }
        wrote
    }

    fn write_runs(
        socket: &mut TcpStream,
        conn: &mut Connection,
        opts: &Opts,
        written_at: &mut Instant,
    ) -> io::Result<()> {
        while conn.has_output() {
            let wrote = if opts.vectored {
                let mut runs = [IoSlice::new(&[]); 8];
                let n = conn.pending_output_vectored(&mut runs);
                let mut left = opts.write_piece;
                let mut capped = Vec::new();
                for run in &runs[..n] {
                    if left == 0 {
                        break;
                    }
                    let take = run.len().min(left);
                    capped.push(IoSlice::new(&run[..take]));
                    left -= take;
                }
                socket.write_vectored(&capped)
            } else {
                let pending = conn.pending_output();
                socket.write(&pending[..pending.len().min(opts.write_piece)])
            };
            match wrote {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    conn.consume_output(n);
                    *written_at = Instant::now();
                }
                Err(err) if timed_out(&err) => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// The server closes TCP first (RFC 6455 §7.1.1): our half, then what
    /// the peer still sends is read and dropped for a while, so that
    /// unread bytes do not make the kernel reset the connection before the
    /// peer has read our close frame.
    fn finish(socket: &mut TcpStream) {
        let _ = socket.shutdown(Shutdown::Write);
        let until = Instant::now() + Duration::from_secs(2);
        let mut sink = [0; 16 * 1024];
        let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
        while Instant::now() < until {
            match socket.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if timed_out(&err) => {}
                Err(_) => break,
            }
        }
    }
}

/// Our raw client: the request, frames made by hand, and what the server
/// sent back, parsed by the tests' helpers and inflated by flate2 (not by
/// the code under test).
mod peer {
    use super::*;

    /// What browsers and Python `websockets` offer.
    pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

    /// An upgrade request (RFC 6455 §1.3's sample key), offering
    /// `extensions` if any.
    pub fn request(extensions: Option<&str>) -> Vec<u8> {
        let mut head = format!(
            "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            common::sample_handshake::SAMPLE_KEY
        );
        if let Some(extensions) = extensions {
            head += &format!("Sec-WebSocket-Extensions: {extensions}\r\n");
        }
        head += "\r\n";
        head.into_bytes()
    }

    pub fn connect(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    /// Connects and upgrades: the stream, the 101's head and the bytes
    /// read after it.
    pub fn upgraded(addr: SocketAddr, extensions: Option<&str>) -> (TcpStream, String, Vec<u8>) {
        let mut stream = connect(addr);
        stream.write_all(&request(extensions)).unwrap();
        let mut read = Vec::new();
        let mut buf = [0; 4096];
        loop {
            if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(read[..end + 4].to_vec()).unwrap();
                assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
                return (stream, head, read[end + 4..].to_vec());
            }
            let n = stream.read(&mut buf).expect("reading the 101");
            assert!(n > 0, "the server hung up before its 101: {read:?}");
            read.extend_from_slice(&buf[..n]);
        }
    }

    /// Writes `bytes` cut at `cuts` (increasing), pausing after each piece
    /// so that each is a read of its own at the server.
    pub fn write_cut(stream: &mut TcpStream, bytes: &[u8], cuts: &[usize]) -> io::Result<()> {
        let mut start = 0;
        for &end in cuts.iter().chain([bytes.len()].iter()) {
            if end > start {
                stream.write_all(&bytes[start..end])?;
                if end < bytes.len() {
                    thread::sleep(Duration::from_millis(1));
                }
                start = end;
            }
        }
        Ok(())
    }

    /// Everything the server sends until it closes TCP.
    pub fn read_all(stream: &mut TcpStream) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(err) => panic!("reading the server: {err} after {} bytes", all.len()),
            }
        }
    }

    /// The response head and the frames after it.
    pub fn split_head(bytes: &[u8]) -> (String, &[u8]) {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no whole response head: {bytes:?}"))
            + 4;
        (
            String::from_utf8(bytes[..end].to_vec()).unwrap(),
            &bytes[end..],
        )
    }

    /// What a client sees: messages (inflated), control frames.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Seen {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        /// The close frame's code (`None`: empty) and reason.
        Close(Option<u16>, String),
        /// A message still open when the frames ended, with its payload's
        /// length as sent.
        Unfinished(usize),
    }

    impl Seen {
        pub fn text(text: &str) -> Self {
            Self::Text(text.to_string())
        }
    }

    /// The server's frames as a client sees them, compressed messages
    /// inflated by one flate2 inflater (the server's context taken over;
    /// a message compressed afresh reads the same), and for each data
    /// message whether it was compressed (RSV1 on its first frame).
    pub fn seen_and_compressed(wire: &[u8]) -> (Vec<Seen>, Vec<bool>) {
        let mut inflater = Decompress::new(false);
        let (mut seen, mut compressed) = (Vec::new(), Vec::new());
        let mut open: Option<(u8, bool, Vec<u8>)> = None;
        for (first, payload) in server_frames(wire) {
            let (fin, rsv1, opcode) = (first & FIN != 0, first & RSV1 != 0, first & 0x0F);
            assert_eq!(first & 0x30, 0, "RSV2 or RSV3 set: {first:#04x}");
            match opcode {
                CLOSE if open.is_some() => {
                    // A message cut by the close (streaming mode echoes
                    // its pieces as they come).
                    let (_, _, data) = open.take().unwrap();
                    seen.push(Seen::Unfinished(data.len()));
                    seen.push(close_seen(&payload));
                    continue;
                }
                PING | PONG | CLOSE => {
                    assert!(
                        fin && !rsv1,
                        "a control frame: FIN, and no RSV1 (RFC 7692 §6.1): {first:#04x}"
                    );
                    seen.push(match opcode {
                        PING => Seen::Ping(payload),
                        PONG => Seen::Pong(payload),
                        _ => close_seen(&payload),
                    });
                    continue;
                }
                TEXT | BINARY => {
                    assert!(open.is_none(), "a new message inside one");
                    open = Some((opcode, rsv1, payload));
                }
                CONT => {
                    assert!(!rsv1, "RSV1 on a continuation frame (RFC 7692 §6.1)");
                    open.as_mut()
                        .expect("a continuation of nothing")
                        .2
                        .extend(payload);
                }
                other => panic!("opcode {other:#x}"),
            }
            if fin {
                let (opcode, rsv1, data) = open.take().unwrap();
                let data = if rsv1 {
                    inflate(&mut inflater, &data)
                } else {
                    data
                };
                compressed.push(rsv1);
                seen.push(if opcode == TEXT {
                    Seen::Text(String::from_utf8(data).expect("a text message is UTF-8"))
                } else {
                    Seen::Binary(data)
                });
            }
        }
        assert!(open.is_none(), "a message left open without a close");
        (seen, compressed)
    }

    pub fn seen(wire: &[u8]) -> Vec<Seen> {
        seen_and_compressed(wire).0
    }

    fn close_seen(payload: &[u8]) -> Seen {
        match payload {
            [] => Seen::Close(None, String::new()),
            [high, low, reason @ ..] => Seen::Close(
                Some(u16::from_be_bytes([*high, *low])),
                String::from_utf8(reason.to_vec()).expect("a close reason is UTF-8"),
            ),
            [_] => panic!("a 1-byte close payload"),
        }
    }

    /// One message's payload inflated, the `00 00 FF FF` tail appended
    /// (RFC 7692 §7.2.2).
    pub fn inflate(inflater: &mut Decompress, payload: &[u8]) -> Vec<u8> {
        let input = [payload, &TAIL[..]].concat();
        let start = inflater.total_in();
        let mut out = Vec::with_capacity(4 * input.len() + 1024);
        loop {
            let (taken, made) = ((inflater.total_in() - start) as usize, out.len());
            let status = inflater
                .decompress_vec(&input[taken..], &mut out, FlushDecompress::Sync)
                .expect("the server's compressed message inflates");
            let now_taken = (inflater.total_in() - start) as usize;
            if status == flate2::Status::StreamEnd {
                inflater.reset(false); // a final block: the next starts afresh
                return out;
            }
            if now_taken == input.len() && out.len() < out.capacity() {
                return out;
            }
            assert!(
                out.len() == out.capacity() || now_taken > taken || out.len() > made,
                "the inflater is stuck"
            );
            out.reserve(out.capacity());
        }
    }

    /// The last close frame's code.
    pub fn close_code(seen: &[Seen]) -> Option<u16> {
        match seen.last() {
            Some(Seen::Close(code, _)) => *code,
            _ => None,
        }
    }
}

use peer::{Seen, OFFER};
use server::{deflating, End, Opts, Report, Running};

/// Connects, writes `bytes` (a request and what follows it) cut at
/// `cuts`, reads until the server closes TCP: the response head, what the
/// client saw, whether each data message was compressed, and the server's
/// report.
fn talk_cut(
    server: &Running,
    bytes: &[u8],
    cuts: &[usize],
) -> (String, Vec<Seen>, Vec<bool>, Report) {
    let mut stream = peer::connect(server.addr);
    // The server may close (and stop reading) before the last bytes.
    let _ = peer::write_cut(&mut stream, bytes, cuts);
    let all = peer::read_all(&mut stream);
    drop(stream);
    let report = server.report();
    let (head, frames) = peer::split_head(&all);
    let (seen, compressed) = peer::seen_and_compressed(frames);
    (head, seen, compressed, report)
}

/// [`talk_cut`] with a request offering `offer`, then `input` cut at
/// `cuts` (offsets into `input`).
fn talk(
    server: &Running,
    offer: Option<&str>,
    input: &[u8],
    cuts: &[usize],
) -> (String, Vec<Seen>, Vec<bool>, Report) {
    let request = peer::request(offer);
    let cuts: Vec<usize> = cuts.iter().map(|cut| cut + request.len()).collect();
    talk_cut(server, &[&request[..], input].concat(), &cuts)
}

/// The close the server reported: its code, who started it, its error.
fn closed(report: &Report) -> (u16, Initiator, Option<ProtocolError>) {
    let closed = report
        .closed
        .as_ref()
        .unwrap_or_else(|| panic!("no Event::Closed: {report:?}"));
    (closed.code.0, closed.initiator, closed.error)
}

/// A short conversation: compressed text (a fresh compressor), compressed
/// binary in three frames, two messages of one compression context, a
/// plain text, a fragmented plain text with a ping between its fragments,
/// and the close. What the echo server should send back.
fn conversation() -> (Vec<u8>, Vec<Seen>) {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    push_compressed(&mut input, TEXT, &sync_compressed(b"Hello", 6), false);
    expected.push(Seen::text("Hello"));
    let binary: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    push_compressed(&mut input, BINARY, &sync_compressed(&binary, 6), true);
    expected.push(Seen::Binary(binary));
    let mut context = Compress::new(Compression::new(6), false);
    for text in ["taken over, taken over", "taken over, taken over, again"] {
        push_compressed(
            &mut input,
            TEXT,
            &sync_message(&mut context, text.as_bytes()),
            false,
        );
        expected.push(Seen::text(text));
    }
    // A message ended by a final block: the inflater starts afresh after it
    // (the README's permessage-deflate section).
    push_compressed(
        &mut input,
        TEXT,
        &final_compressed(b"a final block", 6),
        false,
    );
    expected.push(Seen::text("a final block"));
    push_compressed(&mut input, TEXT, &sync_compressed(b"after it", 6), false);
    expected.push(Seen::text("after it"));
    input.extend(client(FIN | TEXT, "plain ü".as_bytes()));
    expected.push(Seen::text("plain ü"));
    input.extend(client(TEXT, b"frag"));
    input.extend(client(FIN | PING, b"p1"));
    input.extend(client(FIN | CONT, b"mented"));
    expected.push(Seen::Pong(b"p1".to_vec()));
    expected.push(Seen::text("fragmented"));
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"bye")));
    // The reply echoes the code, without a reason (Event::Closed's docs).
    expected.push(Seen::Close(Some(1000), String::new()));
    (input, expected)
}

/// How many data messages `seen` holds.
fn messages(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::Text(_) | Seen::Binary(_)))
        .count()
}

/// Large messages: 200 KB of text compressed (in 4 frames), 40 KB of
/// incompressible binary sent plain (its echo goes compressed, or by
/// reference without deflate), an empty compressed text, then the close.
fn large_conversation(deflate: bool) -> (Vec<u8>, Vec<Seen>) {
    let text: String = (0..200_000)
        .map(|i| (b'a' + (i % 23) as u8) as char)
        .collect();
    let binary = common::deflate::incompressible(40_000, 7);
    let mut input = Vec::new();
    if deflate {
        let payload = sync_compressed(text.as_bytes(), 6);
        let quarter = payload.len() / 4;
        input.extend(client(RSV1 | TEXT, &payload[..quarter]));
        input.extend(client(CONT, &payload[quarter..2 * quarter]));
        input.extend(client(CONT, &payload[2 * quarter..3 * quarter]));
        input.extend(client(FIN | CONT, &payload[3 * quarter..]));
        push_compressed(&mut input, TEXT, &sync_compressed(b"", 6), false);
    } else {
        input.extend(client(FIN | TEXT, text.as_bytes()));
        input.extend(client(FIN | TEXT, b""));
    }
    input.extend(client(FIN | BINARY, &binary));
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    let expected = vec![
        Seen::Text(text),
        Seen::text(""),
        Seen::Binary(binary),
        Seen::Close(Some(1000), String::new()),
    ];
    (input, expected)
}

/// The server options a conversation is checked under: every way of
/// reading (copied, in place; large and tiny reads) and writing (whole,
/// partial writes of 1 and 7 bytes, vectored).
fn every_io(config: Config) -> Vec<Opts> {
    let base = Opts::with(config);
    vec![
        base,
        Opts {
            write_piece: 1,
            ..base
        },
        Opts {
            write_piece: 7,
            vectored: true,
            read_size: 5,
            ..base
        },
        Opts {
            vectored: true,
            in_place: true,
            ..base
        },
        Opts {
            write_piece: 3,
            in_place: true,
            read_size: 1,
            ..base
        },
        Opts {
            write_piece: 1000,
            vectored: true,
            in_place: true,
            read_size: 1000,
            ..base
        },
    ]
}

#[test]
fn a_conversation_with_deflate_echoes_whole_every_way_the_server_reads_and_writes() {
    let (input, expected) = conversation();
    for opts in every_io(deflating()) {
        let server = server::start(opts);
        let (head, seen, compressed, report) = talk(&server, Some(OFFER), &input, &[]);
        assert!(
            head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate"),
            "{head}"
        );
        assert_eq!(seen, expected, "{opts:?}");
        assert!(
            compressed.iter().all(|&c| c),
            "threshold 0: every echo compressed: {compressed:?}"
        );
        assert!(report.deflate.is_some());
        assert_eq!(report.end, End::Closed);
        assert_eq!(closed(&report), (1000, Initiator::Peer, None));
        assert_eq!(report.messages, messages(&expected));
        assert_eq!(report.pings, 1);
    }
}

#[test]
fn a_conversation_cut_at_every_point_and_byte_by_byte_echoes_the_same() {
    let (input, expected) = conversation();
    for opts in [
        Opts::with(deflating()),
        Opts {
            in_place: true,
            write_piece: 2,
            ..Opts::with(deflating())
        },
    ] {
        let server = server::start(opts);
        for cut in 0..=input.len() {
            let (_, seen, _, report) = talk(&server, Some(OFFER), &input, &[cut]);
            assert_eq!(seen, expected, "cut at {cut}");
            assert_eq!(closed(&report).0, 1000);
        }
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let (_, seen, _, _) = talk(&server, Some(OFFER), &input, &bytewise);
        assert_eq!(seen, expected, "byte by byte");
    }
}

#[test]
fn large_messages_echo_whole_with_partial_writes_with_and_without_deflate() {
    for deflate in [true, false] {
        let (input, expected) = large_conversation(deflate);
        let config = if deflate {
            deflating()
        } else {
            Config::default()
        };
        let offer = deflate.then_some(OFFER);
        let mut rng = Rng(0x5eed);
        for opts in every_io(config) {
            let server = server::start(opts);
            let mut cuts: Vec<usize> = (0..200).map(|_| rng.below(input.len())).collect();
            cuts.sort_unstable();
            for cuts in [&[][..], &cuts[..]] {
                let (head, seen, compressed, report) = talk(&server, offer, &input, cuts);
                assert_eq!(head.contains("Sec-WebSocket-Extensions"), deflate, "{head}");
                assert_eq!(seen.len(), expected.len(), "{opts:?}");
                assert!(
                    seen == expected,
                    "{opts:?}, {} cuts: the echoes differ",
                    cuts.len()
                );
                assert_eq!(compressed, [deflate; 3]);
                assert_eq!(closed(&report).0, 1000);
            }
        }
    }
}

#[test]
fn the_request_and_its_frames_in_one_write_are_all_read() {
    let (input, expected) = conversation();
    let server = server::start(Opts::with(deflating()));
    // `talk` with no cuts writes the request and every frame at once.
    let (_, seen, _, report) = talk(&server, Some(OFFER), &input, &[]);
    assert_eq!(seen, expected);
    assert_eq!(report.messages, messages(&expected));
}

#[test]
fn the_request_cut_at_every_byte_upgrades_and_echoes() {
    let (input, expected) = conversation();
    let request = peer::request(Some(OFFER));
    let bytes = [&request[..], &input].concat();
    let server = server::start(Opts::with(deflating()));
    for cut in 1..=request.len() {
        let (head, seen, _, report) = talk_cut(&server, &bytes, &[cut]);
        assert!(head.contains("permessage-deflate"), "cut at {cut}: {head}");
        assert_eq!(seen, expected, "cut at {cut}");
        assert_eq!(report.end, End::Closed);
    }
    let bytewise: Vec<usize> = (1..=request.len()).collect();
    let (_, seen, _, _) = talk_cut(&server, &bytes, &bytewise);
    assert_eq!(seen, expected, "the request byte by byte");
}

#[test]
fn half_a_request_then_hanging_up_ends_the_connection_at_once() {
    let request = peer::request(Some(OFFER));
    let server = server::start(Opts::with(deflating()));
    for cut in 0..request.len() {
        let mut stream = peer::connect(server.addr);
        stream.write_all(&request[..cut]).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        assert!(
            peer::read_all(&mut stream).is_empty(),
            "cut at {cut}: an answer to half a request"
        );
        let started = Instant::now();
        let report = server.report();
        assert_eq!(report.end, End::HandshakeHungUp, "cut at {cut}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn a_request_that_stalls_is_dropped_at_the_handshake_deadline() {
    let opts = Opts {
        handshake_timeout: Duration::from_millis(300),
        ..Opts::with(deflating())
    };
    let server = server::start(opts);
    let request = peer::request(Some(OFFER));
    let mut stream = peer::connect(server.addr);
    let started = Instant::now();
    stream.write_all(&request[..request.len() / 2]).unwrap();
    assert!(peer::read_all(&mut stream).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.report().end, End::HandshakeTimedOut);
}

#[test]
fn refused_requests_get_their_status_and_the_connection_ends() {
    let good = String::from_utf8(peer::request(Some(OFFER))).unwrap();
    let huge = good.replace(
        "\r\n\r\n",
        &format!("\r\nX-Filler: {}\r\n\r\n", "a".repeat(17 * 1024)),
    );
    let cases = [
        (
            good.replace("Version: 13", "Version: 8"),
            426,
            Some("Sec-WebSocket-Version: 13"),
        ),
        (good.replace("GET ", "POST "), 405, Some("Allow: GET")),
        (good.replace("HTTP/1.1", "HTTP/1.0"), 505, None),
        (good.replace("Upgrade: websocket\r\n", ""), 400, None),
        (
            good.replace("permessage-deflate; client", "permessage-deflate;; client"),
            400,
            None,
        ),
        (huge, 431, None),
    ];
    let server = server::start(Opts::with(deflating()));
    for (request, status, header) in cases {
        let mut stream = peer::connect(server.addr);
        let _ = stream.write_all(request.as_bytes());
        let answer = String::from_utf8(peer::read_all(&mut stream)).unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer}"
        );
        if let Some(header) = header {
            assert!(answer.contains(&format!("\r\n{header}\r\n")), "{answer}");
        }
        drop(stream);
        assert_eq!(server.report().end, End::Refused(status));
    }
}

#[test]
fn deflate_offers_are_declined_or_accepted_as_the_docs_say() {
    let server = server::start(Opts::with(deflating()));
    // (offer, accepted?)
    let cases = [
        (None, false),
        (Some("permessage-deflate; server_max_window_bits=7"), false),
        // The smallest window (256 bytes) is kept to, so accepted.
        (Some("permessage-deflate; server_max_window_bits=8"), true),
        (Some("permessage-deflate; no_such_param"), false),
        (
            Some("permessage-deflate; client_max_window_bits; client_max_window_bits"),
            false,
        ),
        (Some("x-webkit-deflate-frame"), false),
        (
            Some(
                "permessage-deflate; no_such_param, permessage-deflate; server_no_context_takeover",
            ),
            true,
        ),
        (
            Some("permessage-deflate; server_max_window_bits=10; server_no_context_takeover"),
            true,
        ),
        (Some(OFFER), true),
    ];
    let (input, expected) = conversation();
    let plain = {
        let mut input = client(FIN | TEXT, b"plain");
        input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
        input
    };
    for (offer, accepted) in cases {
        let (input, expected) = if accepted {
            (input.clone(), expected.clone())
        } else {
            (
                plain.clone(),
                vec![Seen::text("plain"), Seen::Close(Some(1000), String::new())],
            )
        };
        let (head, seen, compressed, report) = talk(&server, offer, &input, &[]);
        assert_eq!(
            head.contains("Sec-WebSocket-Extensions"),
            accepted,
            "{offer:?}: {head}"
        );
        assert_eq!(report.deflate.is_some(), accepted, "{offer:?}");
        assert_eq!(seen, expected, "{offer:?}");
        assert!(compressed.iter().all(|&c| c == accepted));
        if let Some(params) = report.deflate {
            if offer.is_some_and(|o| o.contains("server_max_window_bits=10")) {
                assert_eq!(params.server_max_window_bits, 10);
                assert!(params.server_no_context_takeover);
                assert!(head.contains("server_max_window_bits=10"), "{head}");
            }
        }
    }
}

/// `input` after an upgrade offering `offer`, against `server`, whole, byte
/// by byte and cut at every point: the same every way; returns it.
fn same_every_cut(
    server: &Running,
    offer: Option<&str>,
    input: &[u8],
    what: &str,
) -> (Vec<Seen>, Report) {
    let (_, whole, _, report) = talk(server, offer, input, &[]);
    for cut in 0..=input.len() {
        let (_, seen, _, report) = talk(server, offer, input, &[cut]);
        assert_eq!(seen, whole, "{what}: cut at {cut}");
        assert_eq!(
            report.closed.map(|c| c.code),
            Some(CloseCode(close_of(&whole))),
            "{what}: cut at {cut}"
        );
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        talk(server, offer, input, &bytewise).1,
        whole,
        "{what}: byte by byte"
    );
    (whole, report)
}

fn close_of(seen: &[Seen]) -> u16 {
    peer::close_code(seen).unwrap_or_else(|| panic!("no close frame last: {seen:?}"))
}

/// Messages that go before each hostile frame: what was delivered stays
/// delivered (their echoes come before the close).
fn delivered_first() -> (Vec<u8>, Vec<Seen>) {
    let mut input = Vec::new();
    push_compressed(&mut input, TEXT, &sync_compressed(b"one", 6), false);
    input.extend(client(FIN | TEXT, b"two"));
    input.extend(client(FIN | PING, b"p"));
    let expected = vec![
        Seen::text("one"),
        Seen::text("two"),
        Seen::Pong(b"p".to_vec()),
    ];
    (input, expected)
}

#[test]
fn hostile_frames_after_good_messages_get_their_close_code_every_cut() {
    let invalid_text = sync_compressed(b"Caf\xE9 au lait", 6);
    let mut truncated = sync_compressed(b"a text long enough to end inside its block", 6);
    truncated.truncate(truncated.len() - 3);
    let compressed_part = sync_compressed(b"first part, second part", 6);
    // (what, hostile frames, code on the wire)
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "compressed text invalid after inflating",
            client(FIN | RSV1 | TEXT, &invalid_text),
            1007,
        ),
        (
            "a reserved block type (BTYPE 11)",
            client(FIN | RSV1 | BINARY, &[0x07, 0x00]),
            1007,
        ),
        (
            "a stored block whose NLEN is not the complement of LEN",
            client(
                FIN | RSV1 | BINARY,
                &[0x00, 0x05, 0x00, 0x00, 0x00, b'a', b'b', b'c', b'd', b'e'],
            ),
            1007,
        ),
        (
            "data that ends inside a block",
            client(FIN | RSV1 | TEXT, &truncated),
            1007,
        ),
        (
            "RSV1 on a continuation of a compressed message",
            [
                client(RSV1 | TEXT, &compressed_part[..5]),
                client(FIN | RSV1 | CONT, &compressed_part[5..]),
            ]
            .concat(),
            1002,
        ),
        (
            "RSV1 on a continuation of a plain message",
            [client(TEXT, b"plain "), client(FIN | RSV1 | CONT, b"rest")].concat(),
            1002,
        ),
        (
            "compressed text that ends inside a character",
            client(FIN | RSV1 | TEXT, &sync_compressed(b"caf\xC3", 6)),
            1007,
        ),
        (
            "data after the final block",
            client(
                FIN | RSV1 | TEXT,
                &[&final_compressed(b"abc", 6)[..], b"junk"].concat(),
            ),
            1007,
        ),
        (
            "a close reason that is not UTF-8",
            client(FIN | CLOSE, &close_payload(1000, b"\xFF")),
            1007,
        ),
        (
            "close code 1005 on the wire",
            client(FIN | CLOSE, &close_payload(1005, b"")),
            1002,
        ),
        ("a 1-byte close payload", client(FIN | CLOSE, &[0x03]), 1002),
        ("RSV1 on a ping", client(FIN | RSV1 | PING, b"x"), 1002),
        ("RSV1 on a pong", client(FIN | RSV1 | PONG, b""), 1002),
        (
            "RSV1 on a close",
            client(FIN | RSV1 | CLOSE, &close_payload(1000, b"")),
            1002,
        ),
        (
            "RSV2 on a data frame",
            client(FIN | 0x20 | TEXT, b"x"),
            1002,
        ),
        (
            "RSV3 with RSV1",
            client(FIN | RSV1 | 0x10 | TEXT, &invalid_text),
            1002,
        ),
    ];
    let server = server::start(Opts::with(deflating()));
    let (before, delivered) = delivered_first();
    for (what, hostile, code) in cases {
        let input = [&before[..], &hostile].concat();
        let (seen, report) = same_every_cut(&server, Some(OFFER), &input, what);
        let mut expected = delivered.clone();
        expected.push(seen.last().cloned().unwrap());
        assert_eq!(seen, expected, "{what}: what came first is echoed first");
        assert_eq!(close_of(&seen), code, "{what}: {seen:?}");
        let (reported, initiator, error) = closed(&report);
        assert_eq!((reported, initiator), (code, Initiator::Local), "{what}");
        if what.contains("block") || what.contains("NLEN") {
            assert_eq!(error, Some(ProtocolError::InflateFailed), "{what}");
        }
        // The bits as given (RSV1 = 4), also where permessage-deflate
        // allows RSV1 but not on that frame.
        let bits = [("RSV1", 4), ("RSV2", 2), ("RSV3 with RSV1", 5)]
            .into_iter()
            .find(|(name, _)| what.starts_with(name))
            .map(|(_, bits)| bits);
        if let Some(bits) = bits {
            assert_eq!(error, Some(ProtocolError::ReservedBits(bits)), "{what}");
        }
        match what {
            "a close reason that is not UTF-8" => {
                assert!(matches!(error, Some(ProtocolError::InvalidCloseReason(_))))
            }
            "close code 1005 on the wire" => {
                assert_eq!(error, Some(ProtocolError::InvalidCloseCode(1005)))
            }
            "a 1-byte close payload" => assert_eq!(error, Some(ProtocolError::CloseFrameTooShort)),
            "compressed text invalid after inflating"
            | "compressed text that ends inside a character" => {
                let Some(ProtocolError::InvalidUtf8(invalid)) = error else {
                    panic!("{what}: {error:?}");
                };
                assert_eq!(invalid.offset(), 3, "{what}");
            }
            _ => {}
        }
    }
}

#[test]
fn compressed_messages_without_deflate_negotiated_are_1002() {
    let mut before = client(FIN | TEXT, b"two");
    before.extend(client(FIN | PING, b"p"));
    let expected = [Seen::text("two"), Seen::Pong(b"p".to_vec())];
    let hostile = client(FIN | RSV1 | TEXT, &sync_compressed(b"Hello", 6));
    let input = [&before[..], &hostile].concat();
    // The client offers nothing; then a server without deflate, offered it.
    for (config, offer) in [(deflating(), None), (Config::default(), Some(OFFER))] {
        let server = server::start(Opts::with(config));
        let (seen, report) = same_every_cut(&server, offer, &input, "RSV1 without the extension");
        assert_eq!(seen[..seen.len() - 1], expected[..]);
        assert_eq!(close_of(&seen), 1002);
        assert_eq!(closed(&report).2, Some(ProtocolError::ReservedBits(4)));
        assert_eq!(report.deflate, None);
    }
}

#[test]
fn compressed_text_invalid_only_after_inflating_is_1007_before_its_frame_ends() {
    // Stored blocks (level 0): the bad byte comes out of the compressed
    // stream's first bytes, and 256 KiB of the frame never arrive.
    let mut text = b"hello \xFF".to_vec();
    text.resize(256 * 1024, b'a');
    let frame = client(FIN | RSV1 | TEXT, &sync_compressed(&text, 0));
    let server = server::start(Opts::with(deflating()));
    let (mut stream, _, read) = peer::upgraded(server.addr, Some(OFFER));
    assert!(read.is_empty());
    stream.write_all(&frame[..2048]).unwrap();
    let seen = peer::seen(&peer::read_all(&mut stream));
    assert_eq!(close_of(&seen), 1007, "{seen:?}");
    assert_eq!(seen.len(), 1);
    drop(stream); // ends the server's wait for our end
    let report = server.report();
    let Some(ProtocolError::InvalidUtf8(invalid)) = closed(&report).2 else {
        panic!("{report:?}");
    };
    assert_eq!(invalid.offset(), 6);

    // Three fragments; the bad byte in the second, which never ends.
    let mut text = vec![b'b'; 150_000];
    text.push(0xFF);
    text.resize(300_000, b'c');
    let payload = sync_compressed(&text, 0);
    let mut wire = Vec::new();
    push_compressed(&mut wire, TEXT, &payload, true);
    let third = payload.len() / 3;
    // The first frame (a 10-byte masked header and a 4-byte mask... as
    // `client` writes it), then the second up to 60 KB past its start.
    let first_frame = client(RSV1 | TEXT, &payload[..third]).len();
    let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
    stream
        .write_all(&wire[..first_frame + 14 + 60_000])
        .unwrap();
    let seen = peer::seen(&peer::read_all(&mut stream));
    assert_eq!(close_of(&seen), 1007, "{seen:?}");
    drop(stream); // ends the server's wait for our end
    let report = server.report();
    let Some(ProtocolError::InvalidUtf8(invalid)) = closed(&report).2 else {
        panic!("{report:?}");
    };
    assert_eq!(invalid.offset(), 150_000);
}

/// 1 MiB of zeros compressed and sync-flushed (tail on): any number of
/// copies in a row is a valid stream (as `deflate_bombs.rs` builds it).
fn one_mib_of_zeros() -> Vec<u8> {
    sync_flush(
        &mut Compress::new(Compression::best(), false),
        &vec![0; 1 << 20],
    )
}

#[test]
fn deflate_bombs_are_1009_with_memory_bounded_by_the_limit() {
    const LIMIT: u64 = 1 << 20;
    let config = Config::builder()
        .max_message_size(LIMIT)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let server = server::start(Opts::with(config));
    let chunk = one_mib_of_zeros();
    // 1 GiB in one frame; and 512 MiB in 512 fragments.
    let mut one_frame = chunk.repeat(1024);
    one_frame.truncate(one_frame.len() - TAIL.len());
    let one_frame = client(FIN | RSV1 | BINARY, &one_frame);
    let mut fragments = client(RSV1 | BINARY, &chunk);
    for _ in 1..511 {
        fragments.extend(client(CONT, &chunk));
    }
    fragments.extend(client(FIN | CONT, &chunk[..chunk.len() - TAIL.len()]));
    let (before, delivered) = delivered_first();
    for (what, bomb) in [("one frame", one_frame), ("512 fragments", fragments)] {
        let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
        let mut writer = stream.try_clone().unwrap();
        let input = [&before[..], &bomb].concat();
        let started = Instant::now();
        let writing = thread::spawn(move || {
            let _ = writer.write_all(&input); // the server stops reading
        });
        let seen = peer::seen(&peer::read_all(&mut stream));
        let _ = writing.join();
        assert_eq!(seen[..seen.len() - 1], delivered[..], "{what}");
        assert_eq!(close_of(&seen), 1009, "{what}");
        drop(stream); // ends the server's wait for our end
        let report = server.report();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{what}: {:?}",
            started.elapsed()
        );
        let Some(ProtocolError::MessageTooBig { declared, limit }) = closed(&report).2 else {
            panic!("{what}: {report:?}");
        };
        assert!(declared > LIMIT && limit == LIMIT, "{what}: {declared}");
        // README: "a bomb costs at most the limit in memory", plus the
        // inflater's state and the read buffer.
        assert!(
            report.largest_block as u64 <= LIMIT + 64 * 1024,
            "{what}: a block of {} B",
            report.largest_block
        );
        assert!(report.max_buffered as u64 <= Config::DEFAULT_MAX_FRAME_SIZE + 14 + LIMIT);
    }
}

#[test]
fn the_message_limit_counts_inflated_bytes_exactly() {
    const LIMIT: u64 = 10_000;
    let config = Config::builder()
        .max_message_size(LIMIT)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let server = server::start(Opts::with(config));
    let at = vec![b'x'; LIMIT as usize];
    let over = vec![b'x'; LIMIT as usize + 1];
    let mut input = client(FIN | RSV1 | TEXT, &sync_compressed(&at, 9));
    input.extend(client(FIN | RSV1 | TEXT, &sync_compressed(&over, 9)));
    let (_, seen, _, report) = talk(&server, Some(OFFER), &input, &[]);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], Seen::Text(String::from_utf8(at).unwrap()));
    assert_eq!(close_of(&seen), 1009);
    assert!(matches!(
        closed(&report).2,
        Some(ProtocolError::MessageTooBig { .. })
    ));
}

#[test]
fn a_frame_over_the_frame_limit_is_1009_from_its_header_alone() {
    let config = Config::builder()
        .max_frame_size(1024)
        .deflate(Some(DeflateConfig::default()))
        .build();
    let server = server::start(Opts::with(config));
    let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
    // A masked binary frame declaring 1 GiB, then its mask, and nothing else.
    let mut header = vec![FIN | RSV1 | BINARY, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    stream.write_all(&header).unwrap();
    let seen = peer::seen(&peer::read_all(&mut stream));
    assert_eq!(close_of(&seen), 1009);
    drop(stream); // ends the server's wait for our end
    let report = server.report();
    assert_eq!(
        closed(&report).2,
        Some(ProtocolError::FrameTooBig {
            declared: 1 << 30,
            limit: 1024
        })
    );
    assert!(report.largest_block < 64 * 1024, "{}", report.largest_block);
}

#[test]
fn pings_flooded_while_never_reading_keep_the_output_bounded_and_the_last_is_answered() {
    const OUTPUT: usize = 64 * 1024;
    const PINGS: u32 = 200_000;
    let config = Config::builder()
        .max_output_buffer(OUTPUT)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let server = server::start(Opts {
        write_stall: Duration::from_secs(30),
        ..Opts::with(config)
    });
    let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
    let payload = |i: u32| {
        let mut p = i.to_be_bytes().to_vec();
        p.resize(125, b'.');
        p
    };
    // 26 MB of pings, none of the pongs read meanwhile.
    let mut flood = Vec::with_capacity(PINGS as usize * 131);
    for i in 0..PINGS {
        flood.extend(client(FIN | PING, &payload(i)));
    }
    flood.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    stream.write_all(&flood).unwrap();
    let seen = peer::seen(&peer::read_all(&mut stream));
    drop(stream); // ends the server's wait for our end
    let report = server.report();
    assert_eq!(report.pings, PINGS as usize);
    assert_eq!(close_of(&seen), 1000);
    let pongs: Vec<&Vec<u8>> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Pong(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pongs.len() + 1, seen.len(), "only pongs, then the close");
    assert!(pongs.len() < PINGS as usize, "some pongs coalesced");
    let numbers: Vec<u32> = pongs
        .iter()
        .map(|p| {
            assert_eq!(p.len(), 125);
            u32::from_be_bytes(p[..4].try_into().unwrap())
        })
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "pongs in the pings' order"
    );
    assert_eq!(
        numbers.last(),
        Some(&(PINGS - 1)),
        "the latest ping is answered (§5.5.3)"
    );
    // Config::max_output_buffer: past the limit, one coalesced pong and one
    // close frame at most.
    assert!(
        report.max_output <= OUTPUT + 127 + 127 + 4,
        "{} B of output",
        report.max_output
    );
}

#[test]
fn an_idle_client_is_closed_with_1001_and_a_silent_one_is_pinged_first() {
    let idle = Config::builder()
        .idle_timeout(Some(Duration::from_millis(300)))
        .deflate(Some(DeflateConfig::default()))
        .build();
    let keepalive = Config::builder()
        .ping_interval(Some(Duration::from_millis(100)))
        .idle_timeout(Some(Duration::from_millis(1000)))
        .build();
    for (config, pings) in [(idle, 0..=0), (keepalive, 5..=10)] {
        let server = server::start(Opts::with(config));
        let started = Instant::now();
        let (mut stream, _, read) = peer::upgraded(server.addr, Some(OFFER));
        let mut wire = read;
        wire.extend(peer::read_all(&mut stream));
        let elapsed = started.elapsed();
        let timeout = config.idle_timeout().unwrap();
        assert!(
            elapsed >= timeout && elapsed < timeout + Duration::from_secs(2),
            "{elapsed:?}"
        );
        let seen = peer::seen(&wire);
        assert_eq!(close_of(&seen), 1001, "{seen:?}");
        let pinged = seen
            .iter()
            .filter(|s| **s == Seen::Ping(Vec::new()))
            .count();
        assert!(pings.contains(&pinged), "{pinged} pings: {seen:?}");
        assert_eq!(pinged + 1, seen.len());
        drop(stream); // ends the server's wait for our end
        let report = server.report();
        assert_eq!(report.end, End::Closed);
        let closed = report.closed.unwrap();
        assert_eq!(
            (closed.code.0, closed.reason.as_str()),
            (1001, "idle timeout")
        );
    }
}

#[test]
fn a_client_that_keeps_sending_is_not_idle() {
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_millis(400)))
        .deflate(Some(DeflateConfig::default()))
        .build();
    // Both input paths: `receive`, and reads into `read_buf`.
    for opts in [
        Opts::with(config),
        Opts {
            in_place: true,
            ..Opts::with(config)
        },
    ] {
        let server = server::start(opts);
        let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
        for i in 0..12u8 {
            stream.write_all(&client(FIN | PING, &[i])).unwrap();
            thread::sleep(Duration::from_millis(100));
        }
        stream
            .write_all(&client(FIN | CLOSE, &close_payload(1000, b"")))
            .unwrap();
        let seen = peer::seen(&peer::read_all(&mut stream));
        let mut expected: Vec<Seen> = (0..12u8).map(|i| Seen::Pong(vec![i])).collect();
        expected.push(Seen::Close(Some(1000), String::new()));
        assert_eq!(seen, expected, "in place: {}", opts.in_place);
        drop(stream);
        assert_eq!(closed(&server.report()).0, 1000);
    }
}

#[test]
fn a_close_the_client_never_answers_ends_at_the_close_timeout() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_millis(300)))
        .deflate(Some(DeflateConfig::default()))
        .build();
    let server = server::start(Opts::with(config));
    let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
    let started = Instant::now();
    stream
        .write_all(&client(FIN | TEXT, server::CLOSE_ME))
        .unwrap();
    let seen = peer::seen(&peer::read_all(&mut stream));
    let elapsed = started.elapsed();
    assert_eq!(seen, [Seen::Close(Some(1000), "as asked".into())]);
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    drop(stream); // ends the server's wait for our end
    let report = server.report();
    let closed = report.closed.unwrap();
    assert_eq!(
        (closed.code.0, closed.reason.as_str()),
        (1006, "close timeout")
    );
    assert_eq!(closed.initiator, Initiator::Local);
}

#[test]
fn a_close_the_client_answers_late_but_in_time_is_a_clean_close() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_millis(1000)))
        .deflate(Some(DeflateConfig::default()))
        .build();
    let server = server::start(Opts::with(config));
    let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
    stream
        .write_all(&client(FIN | TEXT, server::CLOSE_ME))
        .unwrap();
    thread::sleep(Duration::from_millis(300));
    // After the server's close (State::CloseSent) data is dropped, and a
    // ping is read but not answered (§5.5.1: nothing after a close).
    stream.write_all(&client(FIN | TEXT, b"too late")).unwrap();
    stream.write_all(&client(FIN | PING, b"late")).unwrap();
    stream
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"ok")))
        .unwrap();
    let seen = peer::seen(&peer::read_all(&mut stream));
    assert_eq!(seen, [Seen::Close(Some(1000), "as asked".into())]);
    drop(stream); // ends the server's wait for our end
    let report = server.report();
    let closed = report.closed.unwrap();
    assert_eq!((closed.code.0, closed.initiator), (1000, Initiator::Local));
    assert_eq!(
        report.messages, 1,
        "the text after our close is not handed out"
    );
}

/// The Python `websockets` client of [`python_websockets_with_compression`].
const PYTHON_CLIENT: &str = r#"
import asyncio, os, sys
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

async def main(uri):
    async with connect(uri, compression="deflate", max_size=2**26, ping_interval=None) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in extensions, extensions
        for message in ["hello", "é" * 100_000, os.urandom(70_000), b"", "", "x" * 5000]:
            await ws.send(message)
            echo = await ws.recv()
            assert echo == message, (type(echo), len(echo), len(message))
        # Fifty in flight, one compression context.
        for i in range(50):
            await ws.send(f"message {i} " * 50)
        for i in range(50):
            assert await ws.recv() == f"message {i} " * 50, i
        await asyncio.wait_for(await ws.ping(b"abc"), 5)
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
    async with connect(uri, compression="deflate", ping_interval=None) as ws:
        await ws.send("Café au lait".encode("latin-1"), text=True)
        try:
            await ws.recv()
            sys.exit("the invalid text was echoed")
        except ConnectionClosedError as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1007, closed
            print("1007:", closed.rcvd.reason)
    print("OK")

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
"#;

/// Python `websockets` (17.4, `compression="deflate"`) against the server
/// with `DeflateConfig::default()`: text, binary, empty and 200 KB
/// messages, fifty in flight sharing a context, a ping, a fragmented
/// message, the close; then a Latin-1 text closed with 1007. From the
/// workspace root:
///
/// ```sh
/// python3 -m venv .venv && .venv/bin/pip install websockets==17.4
/// cargo test -p wsframe --all-features --test sansio_blocking_review -- --ignored python_websockets
/// ```
///
/// (`REVIEW_PYTHON` names another interpreter with `websockets`.)
#[test]
#[ignore = "needs a real peer: Python websockets in .venv (see the doc comment)"]
fn python_websockets_with_compression() {
    against_a_real_peer(6 + 50 + 1, |url| {
        let python = std::env::var("REVIEW_PYTHON")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").into());
        let mut python = std::process::Command::new(python);
        python.args(["-c", PYTHON_CLIENT, url]);
        python
    });
}

/// The set-up and the checks the real peers share: the server with
/// `DeflateConfig::default()`, and the client `command` made for its URL,
/// which must print `OK`. Its first connection negotiates compression,
/// sends `messages` messages and closes with 1000; its second sends
/// invalid text, which the server closes with 1007.
fn against_a_real_peer(messages: usize, command: impl FnOnce(&str) -> std::process::Command) {
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default()))
        .build();
    let server = server::start(Opts::with(config));
    let mut client = command(&format!("ws://{}/", server.addr));
    let run = client.output().expect("running the peer");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let first = server.report();
    assert!(first.deflate.is_some());
    assert_eq!(
        (closed(&first).0, closed(&first).1),
        (1000, Initiator::Peer)
    );
    assert_eq!(first.messages, messages);
    let second = server.report();
    assert!(matches!(
        closed(&second),
        (1007, Initiator::Local, Some(ProtocolError::InvalidUtf8(_)))
    ));
}

/// The Node `ws` client of [`node_ws_with_per_message_deflate`].
const NODE_CLIENT: &str = r#"
const WebSocket = require('ws');
const crypto = require('crypto');
const url = process.argv[1];
function client(options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const queue = [], waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      waiters.length ? waiters.shift()(m) : queue.push(m);
    });
    ws.on('close', (code, reason) => {
      ws.closed = { code, reason: reason.toString() };
      while (waiters.length) waiters.shift()(null);
    });
    ws.next = () => new Promise((r) => queue.length ? r(queue.shift()) : ws.closed ? r(null) : waiters.push(r));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
(async () => {
  const ws = await client({ perMessageDeflate: { threshold: 0 } });
  if (!ws.extensions.includes('permessage-deflate')) throw new Error('extensions: ' + ws.extensions);
  const messages = [['hello', false], ['x'.repeat(1 << 20), false], [crypto.randomBytes(70000), true],
                    [Buffer.alloc(0), true], ['', false]];
  for (const [m, binary] of messages) {
    ws.send(m, { binary });
    const echo = await ws.next();
    const expected = Buffer.isBuffer(m) ? m : Buffer.from(m);
    if (!echo || echo.isBinary !== binary || !Buffer.from(echo.data).equals(expected))
      throw new Error('the echo of ' + expected.length + ' bytes differs');
  }
  for (let i = 0; i < 100; i++) ws.send(`message ${i} `.repeat(40));
  for (let i = 0; i < 100; i++) {
    const echo = await ws.next();
    if (!echo || echo.data.toString() !== `message ${i} `.repeat(40)) throw new Error('message ' + i);
  }
  await new Promise((resolve, reject) => {
    ws.once('pong', (data) => data.toString() === 'abc' ? resolve() : reject(new Error('pong ' + data)));
    ws.ping('abc');
  });
  ws.close(1000, 'done');
  if ((await ws.next()) !== null || ws.closed.code !== 1000) throw new Error('close ' + JSON.stringify(ws.closed));
  const bad = await client({ perMessageDeflate: { threshold: 0 } });
  bad.send(Buffer.from('Caf\xe9 au lait', 'latin1'), { binary: false });
  if ((await bad.next()) !== null) throw new Error('the invalid text was echoed');
  if (bad.closed.code !== 1007) throw new Error('close ' + JSON.stringify(bad.closed));
  console.log('1007:', bad.closed.reason);
  console.log('OK');
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
setTimeout(() => { console.error('timed out'); process.exit(1); }, 60000).unref();
"#;

/// Node `ws` (8.18, `perMessageDeflate` with threshold 0) against the
/// server with `DeflateConfig::default()`: text, 1 MiB text, binary, empty
/// messages, a hundred in flight sharing a context, a ping, the close;
/// then a Latin-1 text closed with 1007. From the workspace root:
///
/// ```sh
/// (cd conformance/node && npm ci)
/// cargo test -p wsframe --all-features --test sansio_blocking_review -- --ignored node_ws
/// ```
#[test]
#[ignore = "needs a real peer: Node ws in conformance/node (see the doc comment)"]
fn node_ws_with_per_message_deflate() {
    against_a_real_peer(5 + 100, |url| {
        let mut node = std::process::Command::new("node");
        node.args(["-e", NODE_CLIENT, url])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/node"));
        node
    });
}

/// The crate docs' quick start (`lib.rs`, "a blocking echo server"),
/// copied as it is written there (keep the two the same), but on a socket
/// we hand it.
mod quick_start {
    use std::{
        io::{self, Read, Write},
        net::{Shutdown, TcpStream},
        time::{Duration, Instant},
    };
    use wsframe::{
        handshake::{Status, UpgradeRequest},
        Config, Connection, Event, Role, SendError, State,
    };

    /// One client: the opening handshake, then echo until either side closes.
    pub fn echo(mut socket: TcpStream) -> io::Result<()> {
        let mut buf = vec![0; 64 * 1024];
        let mut request = Vec::new();
        // The whole request within 10 s, however slowly it trickles in.
        let deadline = Instant::now() + Duration::from_secs(10);
        let rest = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "handshake timed out",
                ));
            }
            socket.set_read_timeout(Some(left))?;
            let n = socket.read(&mut buf)?;
            if n == 0 {
                return Ok(()); // hung up before the request was whole
            }
            request.extend_from_slice(&buf[..n]);
            match UpgradeRequest::parse(&request) {
                Ok(Status::Complete((upgrade, used))) => {
                    socket.write_all(&upgrade.response(None))?;
                    break request.split_off(used); // frames sent right behind it
                }
                Ok(Status::Partial) => {} // `parse` refuses requests over 16 KiB
                Err(err) => return socket.write_all(&err.response()), // 400 or 426
            }
        };
        // A client silent for 60 s is gone; so is one that stops reading.
        socket.set_read_timeout(Some(Duration::from_secs(60)))?;
        socket.set_write_timeout(Some(Duration::from_secs(60)))?;
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.receive(&rest);
        loop {
            while let Some(event) = conn.next_event() {
                match event {
                    Event::Message(message) => {
                        // An output at `Config::max_output_buffer` (4 MiB) refuses
                        // the echo: write out what waits, then send it again.
                        if let Err(SendError::OutputFull { .. }) = conn.send(message.clone()) {
                            socket.write_all(&conn.take_output())?;
                            conn.send(message).unwrap_or(()); // fails only after our close
                        }
                    }
                    Event::Closed(closed) => println!("{closed}"), // what the code means
                    _ => {} // pongs and the close reply are queued for you
                }
            }
            socket.write_all(&conn.take_output())?;
            if conn.state() == State::Closed {
                return socket.shutdown(Shutdown::Write); // §7.1.1: the server closes TCP
            }
            let n = socket.read(&mut buf)?;
            if n == 0 {
                return Ok(()); // hung up without a close frame (1006)
            }
            conn.receive(&buf[..n]);
        }
    }
}

/// The default `max_output_buffer` (4 MiB) refuses an echo queued behind
/// a 5 MiB one in the same batch of events: the quick start used to say
/// that `send` fails only after our close, and dropped it with
/// `unwrap_or(())`; now it writes the output out and sends again.
#[test]
fn the_quick_start_echoes_the_messages_behind_a_large_one() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || quick_start::echo(listener.accept().unwrap().0));
    let large = common::deflate::incompressible(5 << 20, 3);
    let mut input = peer::request(None);
    input.extend(client(FIN | BINARY, &large));
    for text in ["after 1", "after 2", "after 3"] {
        input.extend(client(FIN | TEXT, text.as_bytes()));
    }
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    let mut stream = peer::connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let writing = thread::spawn(move || writer.write_all(&input));
    let all = peer::read_all(&mut stream);
    writing.join().unwrap().unwrap();
    server.join().unwrap().unwrap();
    let seen = peer::seen(peer::split_head(&all).1);
    let mut expected = vec![Seen::Binary(large)];
    expected.extend(["after 1", "after 2", "after 3"].map(Seen::text));
    expected.push(Seen::Close(Some(1000), String::new()));
    assert_eq!(seen.len(), expected.len(), "{:?}", &seen[1..]);
    assert!(seen == expected);
}

/// permessage-deflate on (threshold 0) in streaming mode, without a
/// message limit (`ConfigBuilder::max_message_size`: "it can be lifted
/// with `u64::MAX`, also with permessage-deflate").
fn streaming_deflating() -> Config {
    Config::builder()
        .streaming(true)
        .max_message_size(u64::MAX)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build()
}

#[test]
fn in_streaming_mode_pieces_echoed_as_fragments_give_the_same_messages() {
    let (input, expected) = conversation();
    let (large, large_expected) = large_conversation(true);
    for opts in every_io(streaming_deflating()) {
        let server = server::start(opts);
        let (_, seen, compressed, report) = talk(&server, Some(OFFER), &input, &[]);
        assert_eq!(seen, expected, "{opts:?}");
        assert!(compressed.iter().all(|&c| c));
        assert_eq!(report.messages, messages(&expected));
        let (_, seen, _, _) = talk(&server, Some(OFFER), &large, &[]);
        assert!(seen == large_expected, "{opts:?}: the large echoes differ");
    }
    let server = server::start(Opts::with(streaming_deflating()));
    for cut in 0..=input.len() {
        assert_eq!(
            talk(&server, Some(OFFER), &input, &[cut]).1,
            expected,
            "cut at {cut}"
        );
    }
}

#[test]
fn in_streaming_mode_a_compressed_64_mib_message_echoes_in_bounded_memory() {
    let server = server::start(Opts::with(streaming_deflating()));
    let chunk = one_mib_of_zeros();
    let mut payload = chunk.repeat(64);
    payload.truncate(payload.len() - TAIL.len());
    let mut input = client(FIN | RSV1 | BINARY, &payload);
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
    let mut writer = stream.try_clone().unwrap();
    let writing = thread::spawn(move || writer.write_all(&input));
    let seen = peer::seen(&peer::read_all(&mut stream));
    writing.join().unwrap().unwrap();
    drop(stream);
    assert_eq!(seen.len(), 2);
    let Seen::Binary(echo) = &seen[0] else {
        panic!("{:?}", seen[0]);
    };
    assert!(echo.len() == 64 << 20 && echo.iter().all(|&b| b == 0));
    assert_eq!(seen[1], Seen::Close(Some(1000), String::new()));
    let report = server.report();
    // Pieces of at most 64 KiB; the compressor's and inflater's state.
    assert!(
        report.largest_block <= 512 * 1024,
        "a block of {} B",
        report.largest_block
    );
    assert!(
        report.max_buffered <= 2 << 20,
        "{} B buffered",
        report.max_buffered
    );
}

/// Returns once the writer has written nothing for 500 ms (and at least
/// 500 ms passed), or finished, or after 30 s.
fn until_the_writer_stalls(
    written: &std::sync::atomic::AtomicUsize,
    writing: &thread::JoinHandle<io::Result<()>>,
) {
    let started = Instant::now();
    let mut last = (
        written.load(std::sync::atomic::Ordering::Relaxed),
        Instant::now(),
    );
    while !writing.is_finished() && started.elapsed() < Duration::from_secs(30) {
        thread::sleep(Duration::from_millis(50));
        let now = written.load(std::sync::atomic::Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(500) {
            return;
        }
    }
}

#[test]
fn a_client_that_stops_reading_gets_every_echo_later_with_the_output_bounded() {
    const OUTPUT: usize = 64 * 1024;
    const MESSAGE: usize = 10_000;
    let config = Config::builder()
        .max_output_buffer(OUTPUT)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    for opts in [
        Opts::with(config),
        Opts {
            vectored: true,
            write_piece: 999,
            in_place: true,
            ..Opts::with(config)
        },
    ] {
        let server = server::start(opts);
        let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
        let messages: Vec<Vec<u8>> = (0..1000)
            .map(|i| common::deflate::incompressible(MESSAGE, i + 1))
            .collect();
        let mut input = Vec::new();
        for message in &messages {
            push_compressed(&mut input, BINARY, &sync_compressed(message, 1), false);
        }
        input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
        let mut writer = stream.try_clone().unwrap();
        let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writing = thread::spawn({
            let written = written.clone();
            move || {
                for chunk in input.chunks(16 * 1024) {
                    writer.write_all(chunk)?;
                    written.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
                }
                io::Result::Ok(())
            }
        });
        // Reading nothing until the server stops reading, which it does
        // only while an echo waits for room in its output: the writer then
        // makes no progress. Waited for, not assumed after a fixed time: a
        // loaded machine may give the server too little time for that.
        until_the_writer_stalls(&written, &writing);
        let seen = peer::seen(&peer::read_all(&mut stream));
        writing.join().unwrap().unwrap();
        drop(stream);
        let report = server.report();
        let mut expected: Vec<Seen> = messages.into_iter().map(Seen::Binary).collect();
        expected.push(Seen::Close(Some(1000), String::new()));
        assert_eq!(seen.len(), expected.len(), "{opts:?}");
        assert!(seen == expected, "{opts:?}: the echoes differ");
        assert!(report.held > 0, "the output never filled: {report:?}");
        // Config::max_output_buffer: over the limit by one message at most
        // (compressed, it is a little longer than it was), and a close.
        assert!(
            report.max_output <= OUTPUT + MESSAGE + 64 + 4,
            "{} B of output",
            report.max_output
        );
    }
}

#[test]
fn a_client_stalling_mid_frame_is_closed_by_the_idle_timeout() {
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_millis(300)))
        .deflate(Some(DeflateConfig::default()))
        .build();
    for opts in [
        Opts::with(config),
        Opts {
            in_place: true,
            ..Opts::with(config)
        },
    ] {
        let server = server::start(opts);
        let (mut stream, _, _) = peer::upgraded(server.addr, Some(OFFER));
        let frame = client(FIN | RSV1 | TEXT, &sync_compressed(&[b'z'; 5000], 0));
        let started = Instant::now();
        stream.write_all(&frame[..frame.len() / 2]).unwrap();
        let seen = peer::seen(&peer::read_all(&mut stream));
        let elapsed = started.elapsed();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(peer::close_code(&seen), Some(1001), "{opts:?}");
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        drop(stream);
        assert_eq!(closed(&server.report()).0, 1001);
    }
}

#[test]
fn in_streaming_mode_the_pieces_before_a_failure_were_valid_and_within_the_limit() {
    const LIMIT: u64 = 1 << 20;
    // Invalid text 100 KB into a compressed message: the pieces handed out
    // are valid UTF-8, a prefix of the text, then 1007.
    let mut text = vec![b'v'; 100_000];
    text.extend_from_slice("é".as_bytes());
    text.push(0xFF);
    text.resize(200_000, b'w');
    let invalid = client(FIN | RSV1 | TEXT, &sync_compressed(&text, 6));
    // A bomb past the limit: pieces up to the limit, then 1009 ("in
    // streaming mode the pieces up to the limit are handed out first").
    let mut bomb = one_mib_of_zeros().repeat(64);
    bomb.truncate(bomb.len() - TAIL.len());
    let bomb = client(FIN | RSV1 | BINARY, &bomb);
    let config = Config::builder()
        .streaming(true)
        .max_message_size(LIMIT)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let server = server::start(Opts::with(config));
    for (what, input, code) in [("invalid text", invalid, 1007), ("bomb", bomb, 1009)] {
        let (_, seen, _, report) = talk(&server, Some(OFFER), &input, &[]);
        assert_eq!(close_of(&seen), code, "{what}: {seen:?}");
        let streamed = &report.streamed;
        if what == "bomb" {
            assert!(streamed.iter().all(|&b| b == 0));
            assert_eq!(
                report.streamed_len as u64, LIMIT,
                "{what}: the pieces up to the limit"
            );
        } else {
            assert!(
                std::str::from_utf8(streamed).is_ok(),
                "{what}: an invalid piece"
            );
            assert!(text.starts_with(streamed), "{what}");
            assert!(streamed.len() <= 100_002, "{what}: {}", streamed.len());
        }
        assert!(
            report.largest_block <= 512 * 1024,
            "{what}: a block of {} B",
            report.largest_block
        );
    }
}

/// The quick start closes TCP right after its close frame (§7.1.1) and
/// drops the socket, with the peer's unread bytes still in it: the kernel
/// then resets the connection. A peer still sending when it is refused
/// (a frame over the limit, 1009 from its header) must still read the
/// close frame before the reset.
#[test]
fn the_quick_start_close_frame_reaches_a_peer_that_is_still_sending() {
    for _ in 0..20 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || quick_start::echo(listener.accept().unwrap().0));
        let (mut stream, _, _) = peer::upgraded(addr, None);
        // A binary frame declaring 1 GiB (over the 16 MiB frame limit),
        // then 8 MiB of its payload, sent on and on.
        let mut frame = vec![FIN | BINARY, 0x80 | 127];
        frame.extend_from_slice(&(1u64 << 30).to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.resize(8 << 20, 0);
        let mut writer = stream.try_clone().unwrap();
        let writing = thread::spawn(move || writer.write_all(&frame));
        server.join().unwrap().unwrap();
        thread::sleep(Duration::from_millis(50));
        let mut read = Vec::new();
        let mut buf = [0; 4096];
        let ended = loop {
            match stream.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => read.extend_from_slice(&buf[..n]),
                Err(err) => break Some(err.kind()),
            }
        };
        let _ = writing.join();
        assert!(
            read.len() >= 4 && read[0] == 0x88 && read[2..4] == 1009u16.to_be_bytes(),
            "read {read:02x?}, then {ended:?}"
        );
    }
}
