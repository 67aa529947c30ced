//! The keepalive server and a client that sends but never reads: once its
//! echoes fill the output, the echo's send waits at most 5 s
//! (`SEND_TIMEOUT`), then the server closes with 1008 "not reading",
//! waiting at most its close timeout (3 s) for the close frame to go out,
//! and drops the connection. Before, the send waited for ever and the task
//! with it; the server still serves others.
#![cfg(feature = "tokio")]

mod common;

use std::{
    io::Write,
    sync::{atomic::Ordering, mpsc},
    thread,
    time::{Duration, Instant},
};

use common::{echo_session, flood_without_reading, next_event, open, read_some, spawn_announcing};
use wsframe::{Event, Message};

/// A client that reads its echo slowly but steadily keeps up: the send
/// timeout is for a client that takes nothing, not for an echo whose
/// writing takes longer than 5 s. Bug: the timeout bounded the whole
/// send, and the echo of a 13 MiB message read at 1.25 MiB/s (some
/// 10 s) was followed by a close with 1008.
#[test]
fn a_client_that_reads_slowly_but_steadily_is_not_closed() {
    let (mut child, addr, logged) = spawn_logged();

    let (mut stream, mut conn) = open(&addr).expect("handshake");
    let payload: Vec<u8> = (0..13 << 20).map(|i: u32| (i % 251) as u8).collect();
    conn.send(Message::from(payload.clone())).expect("send");
    stream.write_all(&conn.take_output()).expect("the message");
    // 64 KiB every 50 ms (1.25 MiB/s, some 10 s for the echo, less than
    // the server's 15 s idle timeout, which runs while it writes): never a
    // pause near the 5 s send timeout, but the send as a whole takes
    // longer than that, even with the sockets' buffers full.
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut tick = started;
    // The echo's frame: a 10-byte head (64-bit length, unmasked), then the
    // payload.
    let mut due = payload.len() + 10;
    let echo = loop {
        if let Some(event) = conn.next_event() {
            break event;
        }
        let want = buf.len().min(due).max(1);
        let mut filled = 0;
        while filled < want {
            let n = read_some(&mut stream, &mut buf[filled..want]).expect("the echo");
            assert!(n > 0, "hung up after {:?}", started.elapsed());
            filled += n;
        }
        due = due.saturating_sub(filled);
        conn.receive(&buf[..filled]);
        tick += Duration::from_millis(50);
        thread::sleep(tick.saturating_duration_since(Instant::now()));
    };
    match echo {
        Event::Message(Message::Binary(echoed)) => assert!(*echoed == payload[..]),
        other => panic!("expected the echo, got {other:?}"),
    }
    // Still open: the next message is echoed too, not a 1008.
    conn.send(Message::from("still there")).expect("send");
    stream.write_all(&conn.take_output()).expect("the message");
    // The keepalive's pings may come first (answered by next_event).
    let next = loop {
        match next_event(&mut stream, &mut conn) {
            Ok(Event::Ping(_) | Event::Pong(_)) => {}
            other => break other,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let log: Vec<String> = logged.try_iter().collect();
    match next {
        Ok(Event::Message(Message::Text(text))) => assert_eq!(&*text, "still there"),
        other => panic!(
            "expected the echo after {:?} of slow reading, got {other:?}; log: {log:?}",
            started.elapsed()
        ),
    }
    assert!(
        !log.iter().any(|line| line.contains("took no echo")),
        "{log:?}"
    );
}

#[test]
fn a_client_that_never_reads_is_closed_after_the_send_timeout() {
    let (mut child, addr, logged) = spawn_logged();

    let (stream, _conn) = open(&addr).expect("handshake");
    let started = Instant::now();
    let (sent, flood) = flood_without_reading(stream);
    // The send timeout (5 s) from the stall, the close timeout (3 s), and
    // the time to fill the buffers: well under 30 s.
    let deadline = started + Duration::from_secs(30);
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match logged.recv_timeout(left) {
            Ok(line) if line.contains("took no echo") => break line,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no send timeout logged in 30 s ({} bytes sent)",
                    sent.load(Ordering::Relaxed)
                );
            }
        }
    };
    let timed_out = Instant::now();
    assert!(line.contains("1008"), "{line}");
    // Not before the send could have waited 5 s.
    assert!(
        timed_out - started >= Duration::from_secs(5),
        "closed after {:?}: {line}",
        timed_out - started
    );

    // The connection is dropped within the close timeout: the client's
    // writes fail.
    while !flood.is_finished() {
        if timed_out.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the connection was not dropped 10 s after the send timeout (close timeout 3 s)"
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    let err = flood.join().expect("the flood thread");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{err}"
    );

    // The server goes on serving.
    let served = echo_session(&addr);
    let _ = child.kill();
    let _ = child.wait();
    served.expect("an echo after the stalled client");
}

/// The keepalive server, started, with its address and a channel of the
/// lines it logs.
fn spawn_logged() -> (std::process::Child, String, mpsc::Receiver<String>) {
    let (child, addr, lines) = spawn_announcing(
        env!("CARGO_BIN_EXE_tokio_keepalive_server"),
        "keepalive echo server listening on ws://",
    );
    let (log, logged) = mpsc::channel();
    thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if log.send(line).is_err() {
                break;
            }
        }
    });
    (child, addr, logged)
}
