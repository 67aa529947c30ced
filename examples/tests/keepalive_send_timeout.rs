//! The keepalive server and a client that sends but never reads: once its
//! echoes fill the output, the echo's send waits at most 5 s
//! (`SEND_TIMEOUT`), then the server closes with 1008 "not reading",
//! waiting at most its close timeout (3 s) for the close frame to go out,
//! and drops the connection. Before, the send waited for ever and the task
//! with it; the server still serves others.
#![cfg(feature = "tokio")]

mod common;

use std::{
    sync::{atomic::Ordering, mpsc},
    thread,
    time::{Duration, Instant},
};

use common::{echo_session, flood_without_reading, open, spawn_announcing};

#[test]
fn a_client_that_never_reads_is_closed_after_the_send_timeout() {
    let (mut child, addr, lines) = spawn_announcing(
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
