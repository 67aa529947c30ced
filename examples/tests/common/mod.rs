//! What the example servers' tests share: a server binary run on a free
//! port with its log captured, and blocking clients that talk to it.
#![allow(dead_code)] // each test file uses a different subset

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, ChildStdout, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use wsframe::{
    handshake::{ClientHandshake, Status},
    CloseCode, Config, Connection, Event, Message, Role, State,
};

/// What every test's clients wait for at most before calling a server stuck.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The first line of an unfinished upgrade request.
pub const HALF_A_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";

/// A server binary running on a free port, killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(binary: &str, options: &[&str]) -> Self {
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
    pub fn logged(&self, needle: &str) -> usize {
        let log = self.log.lock().expect("log");
        log.iter().filter(|line| line.contains(needle)).count()
    }

    /// Waits until the server has logged `count` lines with `needle`.
    pub fn wait_for_log(&self, needle: &str, count: usize) {
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

/// Starts the example `binary` (a `CARGO_BIN_EXE_*` path) on a free port
/// with its stdout piped, for tests that read its lines themselves: the
/// child, the address its first line names after `prefix`, and the lines
/// after it.
pub fn spawn_announcing(
    binary: &str,
    prefix: &str,
) -> (Child, String, io::Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(binary)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = lines.next().expect("a line").expect("stdout");
    let addr = first
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    (child, addr, lines)
}

/// Connects and sends the start of an upgrade request, never its end.
pub fn half_a_handshake(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(HALF_A_REQUEST).expect("write");
    stream
}

/// Reads until the server closes; returns all it sent.
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
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
pub fn open(addr: &str) -> io::Result<(TcpStream, Connection)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let handshake = ClientHandshake::random()?.target(addr, "/")?;
    stream.write_all(&handshake.to_bytes())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let early = loop {
        let n = read_some(&mut stream, &mut buf)?;
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

/// One `read`, again when a signal interrupted it (`Interrupted`, EINTR:
/// nothing was read; `read_exact` and `write_all` retry it, a loop of
/// `read`s must too).
pub fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}

/// Reads until the connection yields an event.
pub fn next_event(stream: &mut (impl Read + Write), conn: &mut Connection) -> io::Result<Event> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(event) = conn.next_event() {
            stream.write_all(&conn.take_output())?;
            return Ok(event);
        }
        let n = read_some(stream, &mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        conn.receive(&buf[..n]);
    }
}

/// A whole session: handshake, a text message echoed, a clean close.
pub fn echo_session(addr: &str) -> io::Result<()> {
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

/// A test module per echo server binary (the tokio one with the `tokio`
/// feature), each test of which calls the function of its name, in the
/// file that invokes this, with the binary's path.
#[allow(unused_macros)] // a test file of one server does without
macro_rules! tests_on_each_server {
    ($($test:ident),+ $(,)?) => {
        mod echo_server {
            const BINARY: &str = env!("CARGO_BIN_EXE_echo_server");
            $(
                #[test]
                fn $test() {
                    super::$test(BINARY);
                }
            )+
        }

        #[cfg(feature = "tokio")]
        mod tokio_echo_server {
            const BINARY: &str = env!("CARGO_BIN_EXE_tokio_echo_server");
            $(
                #[test]
                fn $test() {
                    super::$test(BINARY);
                }
            )+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use tests_on_each_server;

/// Sends 64 KiB messages until the server stops taking them, reading
/// nothing; returns how many bytes went out so far, as they go, and the
/// thread sending them, which ends when a write fails (the server dropped
/// the connection).
pub fn flood_without_reading(
    mut stream: TcpStream,
) -> (Arc<AtomicUsize>, thread::JoinHandle<io::Error>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    let mut conn = Connection::new(Role::Client, Config::default());
    conn.send(Message::from(vec![7u8; 64 * 1024]))
        .expect("send");
    let frame = conn.take_output();
    let flood = thread::spawn(move || loop {
        if let Err(err) = stream.write_all(&frame) {
            return err;
        }
        counter.fetch_add(frame.len(), Ordering::Relaxed);
    });
    (sent, flood)
}
