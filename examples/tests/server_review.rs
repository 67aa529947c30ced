//! A newcomer's review of the echo servers (session 15): every connection
//! that fails leaves a log line saying what happened, and a client that
//! stops cooperating is let go within the timeouts `--help` names. Each
//! server runs as its real binary on 127.0.0.1 with shortened timeouts.

mod common;

use std::{
    io::{self, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use common::{echo_session, next_event, open, read_until_closed, Server, HALF_A_REQUEST};
use wsframe::{Event, Message};

/// How long the servers wait for the answer to their idle close frame
/// (`CLOSE_REPLY_WAIT` in both).
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(5);

/// A big message and small ones right behind it, in one write: the read
/// that ends the big one brings some of the small ones, and each is echoed
/// (the blocking server dropped them: its output was over
/// `Config::max_output_buffer` with the big echo, and the refused sends
/// went unnoticed).
fn messages_behind_a_big_one_are_echoed(binary: &str) {
    const SMALL: usize = 10;
    let server = Server::start(binary, &["--no-deflate"]);
    let (mut stream, mut conn) = open(&server.addr).expect("handshake");
    let big = vec![7u8; 8 << 20];
    conn.send(Message::from(big.as_slice())).expect("send");
    // Taken out before the next send: the client's output is bounded too.
    let mut bytes = conn.take_output();
    for i in 0..SMALL {
        conn.send(Message::from(format!("small {i}")))
            .expect("send");
    }
    bytes.extend_from_slice(&conn.take_output());
    stream.write_all(&bytes).expect("write");
    match next_event(&mut stream, &mut conn).expect("the big echo") {
        Event::Message(Message::Binary(echo)) => assert!(echo == big, "the big echo differs"),
        other => panic!("expected the big echo, got {other:?}"),
    }
    for i in 0..SMALL {
        match next_event(&mut stream, &mut conn) {
            Ok(Event::Message(Message::Text(text))) => assert_eq!(&*text, format!("small {i}")),
            other => panic!("expected small {i}, got {other:?}"),
        }
    }
}

/// A client that sends messages and never reads their echoes: once the
/// server's writes have been stuck for the idle timeout it gives up, and
/// its log says why in words (the blocking server logged "Resource
/// temporarily unavailable (os error 11)"); other clients are served.
fn a_client_that_reads_nothing_is_named(binary: &str) {
    let server = Server::start(binary, &["--idle-timeout", "1"]);
    let (mut stream, mut conn) = open(&server.addr).expect("handshake");
    // Our own writes stall too once the server stops reading.
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let message = vec![0u8; 1 << 20];
    let sent = (0..256).try_for_each(|_| {
        conn.send(Message::from(message.as_slice()))
            .map_err(io::Error::other)?;
        stream.write_all(&conn.take_output())
    });
    assert!(sent.is_err(), "256 MiB went out with no echo read");
    server.wait_for_log("the client reads nothing we write (--idle-timeout)", 1);
    echo_session(&server.addr).expect("another client is served");
}

/// A client that pings without a pause and reads none of the pongs is a
/// client that reads nothing: `--help` says it is closed after the idle
/// timeout. (The tokio server read on, coalescing the pongs it could not
/// write, so it never saw the connection as idle and held it for as long
/// as the pings came.)
fn a_client_that_pings_and_reads_nothing_is_let_go(binary: &str) {
    let server = Server::start(binary, &["--idle-timeout", "1"]);
    let (mut stream, mut conn) = open(&server.addr).expect("handshake");
    let mut pings = Vec::new();
    for _ in 0..1000 {
        conn.ping(&[b'p'; 125]).expect("ping");
        pings.extend_from_slice(&conn.take_output());
    }
    // The server stops reading when it gives up, or closes: either way our
    // writes stop going out.
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let started = Instant::now();
    while stream.write_all(&pings).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still taking pings after {:?}, none of the pongs read",
            started.elapsed()
        );
    }
    server.wait_for_log("the client reads nothing we write (--idle-timeout)", 1);
    echo_session(&server.addr).expect("another client is served");
}

/// A client that leaves before its upgrade request is whole (half of one,
/// or not a byte) is logged, like every other connection that fails.
fn a_client_that_leaves_during_the_handshake_is_logged(binary: &str) {
    let server = Server::start(binary, &[]);
    let mut half = TcpStream::connect(&server.addr).expect("connect");
    half.write_all(HALF_A_REQUEST).expect("write");
    drop(half);
    drop(TcpStream::connect(&server.addr).expect("connect"));
    server.wait_for_log("left before its upgrade request was whole", 2);
    echo_session(&server.addr).expect("another client is served");
}

/// A client silent past the idle timeout that reads the 1001 close frame
/// but never answers it is let go once the reply wait has passed, with one
/// log line (the tokio server held it another 5 s, and logged "closed"
/// and then a 1006).
fn an_unanswered_idle_close_is_let_go(binary: &str) {
    let idle = Duration::from_secs(1);
    let server = Server::start(binary, &["--idle-timeout", "1"]);
    let (mut stream, _conn) = open(&server.addr).expect("handshake");
    let started = Instant::now();
    let received = read_until_closed(&mut stream);
    let held = started.elapsed();
    assert!(!received.is_empty(), "the 1001 close frame came first");
    // Slack for a loaded machine, but well under a second reply wait.
    let most = idle + CLOSE_REPLY_WAIT + Duration::from_secs(2);
    assert!(
        held < most,
        "held {held:?} after connecting; at most {most:?}"
    );
    server.wait_for_log("no answer to our close frame: closed", 1);
    assert_eq!(server.logged("close timeout"), 0, "one line says it");
}

/// A client that hangs up without a close frame, between messages or
/// inside a frame (a cut stream, session 20), is logged the same way by
/// both servers, as the 1006 it is (the tokio server logged a hang-up
/// inside a frame as "connection ended: the peer hung up inside a frame
/// or a message", an error of its own, where the blocking one said 1006).
fn a_client_that_hangs_up_mid_frame_is_a_1006(binary: &str) {
    let server = Server::start(binary, &["--no-deflate"]);
    let frame = {
        let mut conn = wsframe::Connection::new(wsframe::Role::Client, wsframe::Config::default());
        conn.send(Message::from("cut short".repeat(20)))
            .expect("send");
        conn.take_output()
    };
    // Between messages, one byte into a frame, inside its header, inside
    // its payload.
    for cut in [0, 1, 3, frame.len() / 2] {
        let (mut stream, _conn) = open(&server.addr).expect("handshake");
        stream.write_all(&frame[..cut]).expect("write");
        drop(stream);
    }
    server.wait_for_log(
        "TCP closed without a close frame (1006 Abnormal Closure)",
        4,
    );
    assert_eq!(
        server.logged("connection ended"),
        0,
        "one kind of line for every cut"
    );
    echo_session(&server.addr).expect("another client is served");
}

common::tests_on_each_server!(
    a_client_that_hangs_up_mid_frame_is_a_1006,
    messages_behind_a_big_one_are_echoed,
    a_client_that_reads_nothing_is_named,
    a_client_that_pings_and_reads_nothing_is_let_go,
    a_client_that_leaves_during_the_handshake_is_logged,
    an_unanswered_idle_close_is_let_go,
);
