//! The chat server lets go of a client that never finishes its upgrade
//! request (session 21 review): before, such a client held its task and
//! socket for as long as it stayed, the keepalive and idle timeout
//! starting only after the handshake.
#![cfg(feature = "tokio")]

mod common;

use std::time::{Duration, Instant};

use common::{half_a_handshake, read_until_closed, spawn_announcing};

#[test]
fn half_a_request_is_dropped_after_the_handshake_timeout() {
    let (mut child, addr, mut lines) = spawn_announcing(
        env!("CARGO_BIN_EXE_tokio_chat_server"),
        "chat server listening on ws://",
    );
    let start = Instant::now();
    let mut stream = half_a_handshake(&addr);
    // `read_until_closed` waits up to 30 s, then fails.
    let received = read_until_closed(&mut stream);
    let took = start.elapsed();
    // Logged before the socket is dropped.
    let logged = lines.next().expect("a line").expect("stdout");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        received.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert!(
        logged.ends_with("no whole upgrade request in 10 s"),
        "{logged}"
    );
}
