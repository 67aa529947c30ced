//! The echo servers against clients that would hold them: unfinished
//! handshakes, silence, more connections than the cap, messages over the
//! limit; and their command
//! line. Each server runs as its real binary on 127.0.0.1 with shortened
//! timeouts.

mod common;

use std::{
    net::{TcpListener, TcpStream},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use common::{
    echo_session, half_a_handshake, next_event, open, read_until_closed, Server, PATIENCE,
};
use wsframe::{CloseCode, Event};

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

/// `--max-message-size` is the limit: a message of that many bytes is
/// echoed, one byte more is closed with 1009 (RFC 6455 §7.4.1).
fn messages_over_the_limit_are_closed_with_1009(binary: &str) {
    use std::io::Write;
    use wsframe::Message;
    let server = Server::start(binary, &["--max-message-size", "1000"]);
    let (mut stream, mut conn) = open(&server.addr).expect("handshake");
    let at_limit = Message::from(vec![7u8; 1000]);
    conn.send(at_limit.clone()).expect("open");
    stream.write_all(&conn.take_output()).expect("write");
    match next_event(&mut stream, &mut conn).expect("the echo") {
        Event::Message(echoed) => assert_eq!(echoed, at_limit),
        other => panic!("expected the echo, got {other:?}"),
    }
    conn.send(Message::from(vec![7u8; 1001])).expect("open");
    stream.write_all(&conn.take_output()).expect("write");
    match next_event(&mut stream, &mut conn).expect("a close frame") {
        Event::Closed(closed) => assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG),
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    echo_session(&server.addr).expect("a new client is served");
}

/// A message over the library's 16 MiB frame limit but under
/// `--max-message-size`, sent as one frame (as Python `websockets`, Node `ws`
/// and browsers send every message), is echoed: the limit `--help` states
/// is the one that holds, not the frame limit below it.
fn a_message_over_16_mib_in_one_frame_is_echoed(binary: &str) {
    use std::io::Write;
    use wsframe::{Config, Connection, Message, Role};
    let server = Server::start(binary, &[]);
    let (mut stream, mut conn) = open(&server.addr).expect("handshake");
    let message = Message::from(vec![7u8; (16 << 20) + 1]);
    // A second client-role encoder, so that the message goes out unsplit.
    let mut one_frame = Connection::new(
        Role::Client,
        Config::builder().max_outgoing_frame_size(u64::MAX).build(),
    );
    one_frame.send(message.clone()).expect("open");
    let wire = one_frame.take_output();
    assert_eq!(wire[1], 0x80 | 127, "one masked frame with a 64-bit length");
    stream.write_all(&wire).expect("write");
    match next_event(&mut stream, &mut conn).expect("the echo") {
        Event::Message(echoed) => assert!(echoed == message, "the echo differs"),
        other => panic!("expected the echo, got {other:?}"),
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
        "--max-message-size",
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

common::tests_on_each_server!(
    slow_handshakes_are_closed,
    idle_connections_are_closed_with_1001,
    connections_over_the_cap_are_refused,
    messages_over_the_limit_are_closed_with_1009,
    a_message_over_16_mib_in_one_frame_is_echoed,
    command_line,
);
