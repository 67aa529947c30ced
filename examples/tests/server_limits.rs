//! The echo servers against clients that would hold them: unfinished
//! handshakes, silence, more connections than the cap; and their command
//! line. Each server runs as its real binary on 127.0.0.1 with shortened
//! timeouts.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use wsframe::{
    handshake::{ClientHandshake, Status},
    CloseCode, Config, Connection, Event, Message, Role, State,
};

/// What every test's clients wait for at most before calling a server stuck.
const PATIENCE: Duration = Duration::from_secs(30);
/// The first line of an unfinished upgrade request.
const HALF_A_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";

/// A server binary running on a free port, killed on drop.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(binary: &str, options: &[&str]) -> Self {
        let mut child = Command::new(binary)
            .arg("127.0.0.1:0")
            .args(options)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines
            .next()
            .expect("a first line")
            .expect("readable stdout");
        let addr = first
            .strip_prefix("echo server listening on ws://")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        Self { child, addr, log }
    }

    /// How many lines the server has logged that contain `needle`.
    fn logged(&self, needle: &str) -> usize {
        let log = self.log.lock().expect("log");
        log.iter().filter(|line| line.contains(needle)).count()
    }

    /// Waits until the server has logged `count` lines with `needle`.
    fn wait_for_log(&self, needle: &str, count: usize) {
        let start = Instant::now();
        while self.logged(needle) < count {
            assert!(
                start.elapsed() < PATIENCE,
                "{count} log lines with {needle:?} expected; the log: {:#?}",
                self.log.lock().expect("log")
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // It may have exited already; either way it is gone afterwards.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects and sends the start of an upgrade request, never its end.
fn half_a_handshake(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(HALF_A_REQUEST).expect("write");
    stream
}

/// Reads until the server closes; returns all it sent.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
        Err(err) => panic!("the server did not close the connection: {err}"),
    }
    received
}

/// A client's opening handshake; returns the connection and the bytes that
/// followed the server's answer.
fn open(addr: &str) -> io::Result<(TcpStream, Connection)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let handshake = ClientHandshake::random()?.target(addr, "/")?;
    stream.write_all(&handshake.to_bytes())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let early = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed during the handshake after {:?}",
                    String::from_utf8_lossy(&response)
                ),
            ));
        }
        response.extend_from_slice(&buf[..n]);
        match handshake.parse_response(&response) {
            Ok(Status::Complete(accepted)) => break response.split_off(accepted.head_len),
            Ok(Status::Partial) => {}
            Err(err) => return Err(io::Error::other(err)),
        }
    };
    let mut conn = Connection::new(Role::Client, Config::default());
    conn.receive(&early);
    Ok((stream, conn))
}

/// Reads until the connection yields an event.
fn next_event(stream: &mut TcpStream, conn: &mut Connection) -> io::Result<Event> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(event) = conn.next_event() {
            stream.write_all(&conn.take_output())?;
            return Ok(event);
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        conn.receive(&buf[..n]);
    }
}

/// A whole session: handshake, a text message echoed, a clean close.
fn echo_session(addr: &str) -> io::Result<()> {
    let (mut stream, mut conn) = open(addr)?;
    conn.send(Message::from("still serving?"))
        .map_err(io::Error::other)?;
    stream.write_all(&conn.take_output())?;
    match next_event(&mut stream, &mut conn)? {
        Event::Message(Message::Text(text)) => assert_eq!(&*text, "still serving?"),
        other => panic!("expected the echo, got {other:?}"),
    }
    conn.close(CloseCode::NORMAL, "done")
        .map_err(io::Error::other)?;
    stream.write_all(&conn.take_output())?;
    match next_event(&mut stream, &mut conn)? {
        Event::Closed(closed) => assert_eq!(closed.code, CloseCode::NORMAL),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert_eq!(conn.state(), State::Closed);
    Ok(())
}

/// Twenty clients that never finish their upgrade request are closed once
/// the handshake timeout has passed, not before, and the server serves a new
/// client while they are held and after.
fn slow_handshakes_are_closed(binary: &str) {
    let timeout = Duration::from_secs(2);
    let server = Server::start(binary, &["--handshake-timeout", "2"]);
    let started = Instant::now();
    let mut held: Vec<TcpStream> = (0..20).map(|_| half_a_handshake(&server.addr)).collect();
    echo_session(&server.addr).expect("a new client is served while 20 handshakes hang");
    for stream in &mut held {
        let received = read_until_closed(stream);
        assert!(
            received.is_empty(),
            "no answer to half a request: {received:?}"
        );
    }
    assert!(
        started.elapsed() >= timeout,
        "closed after {:?}, before the {timeout:?} timeout",
        started.elapsed()
    );
    server.wait_for_log("(--handshake-timeout): closed", 20);
    echo_session(&server.addr).expect("a new client is served after them");
}

/// A client that goes silent after its handshake is sent a 1001 close frame
/// once the idle timeout has passed.
fn idle_connections_are_closed_with_1001(binary: &str) {
    let server = Server::start(binary, &["--idle-timeout", "1"]);
    let started = Instant::now();
    let (mut stream, mut conn) = open(&server.addr).expect("handshake");
    match next_event(&mut stream, &mut conn).expect("a close frame") {
        Event::Closed(closed) => {
            assert_eq!(closed.code, CloseCode::GOING_AWAY);
            assert_eq!(closed.reason, "idle timeout");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(read_until_closed(&mut stream).is_empty());
    server.wait_for_log("(--idle-timeout): closing with 1001", 1);
    echo_session(&server.addr).expect("a new client is served");
}

/// Connections over the cap are answered 503 and logged; once the open ones
/// are gone, new clients are served again.
fn connections_over_the_cap_are_refused(binary: &str) {
    let server = Server::start(binary, &["--max-connections", "3"]);
    let held: Vec<TcpStream> = (0..3).map(|_| half_a_handshake(&server.addr)).collect();
    let mut over = half_a_handshake(&server.addr);
    let answer = read_until_closed(&mut over);
    assert!(
        answer.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // One that sends nothing is answered too, without the server waiting.
    let mut silent = TcpStream::connect(&server.addr).expect("connect");
    let answer = read_until_closed(&mut silent);
    assert!(answer.starts_with(b"HTTP/1.1 503 "), "{answer:?}");
    server.wait_for_log("refused: 3 connections open (--max-connections)", 2);
    drop(held);
    // The server frees their places as it reads their EOFs.
    let start = Instant::now();
    while let Err(err) = echo_session(&server.addr) {
        assert!(start.elapsed() < PATIENCE, "still refused: {err}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// `--help` exits 0, a bad command line 2, an address in use 1; each says
/// why in words.
fn command_line(binary: &str) {
    let help = Command::new(binary).arg("--help").output().expect("runs");
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for expected in [
        "--handshake-timeout",
        "--idle-timeout",
        "--max-connections",
        "Exit codes",
    ] {
        assert!(text.contains(expected), "--help lacks {expected}: {text}");
    }

    let bad = Command::new(binary)
        .args(["--idle-timeout", "soon"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    let text = String::from_utf8_lossy(&bad.stderr);
    assert!(
        text.contains("--idle-timeout takes a positive number of seconds, not \"soon\""),
        "{text}"
    );

    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let in_use = Command::new(binary).arg(&addr).output().expect("runs");
    assert_eq!(in_use.status.code(), Some(1));
    let text = String::from_utf8_lossy(&in_use.stderr);
    assert!(
        text.contains(&format!("cannot listen on {addr}: ")),
        "{text}"
    );
    assert!(!text.contains("Os {"), "a Debug-formatted error: {text}");
}

macro_rules! server_tests {
    ($module:ident, $binary:literal $(, #[$cfg:meta])?) => {
        $(#[$cfg])?
        mod $module {
            const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", $binary));

            #[test]
            fn slow_handshakes_are_closed() {
                super::slow_handshakes_are_closed(BINARY);
            }

            #[test]
            fn idle_connections_are_closed_with_1001() {
                super::idle_connections_are_closed_with_1001(BINARY);
            }

            #[test]
            fn connections_over_the_cap_are_refused() {
                super::connections_over_the_cap_are_refused(BINARY);
            }

            #[test]
            fn command_line() {
                super::command_line(BINARY);
            }
        }
    };
}

server_tests!(echo_server, "echo_server");
server_tests!(tokio_echo_server, "tokio_echo_server", #[cfg(feature = "tokio")]);
