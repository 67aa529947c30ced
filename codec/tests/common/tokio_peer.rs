//! A sans-IO peer reading what a `wsframe::tokio::WebSocket` wrote into a
//! `tokio::io::duplex` pipe.

use bytes::Bytes;
use tokio::io::{duplex, AsyncReadExt, DuplexStream};
use wsframe::{tokio::WebSocket, Config, Connection, Event, Role};

/// A server `WebSocket` over one end of a `duplex(buffer)` pipe, and the
/// other end for the peer.
pub fn server(buffer: usize, config: Config) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (ours, theirs) = duplex(buffer);
    (
        WebSocket::from_upgraded(ours, Role::Server, config, Bytes::new()),
        theirs,
    )
}

/// The sans-IO client on the other end, with a fixed mask.
pub fn peer() -> Connection {
    Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [9, 8, 7, 6]))
}

/// Reads `io` in reads of at most `read_size` bytes until `peer` has
/// `count` events. A corrupted stream shows as a protocol violation, hence
/// a `Closed` event, not as a hang.
///
/// # Panics
///
/// If the other end hangs up first.
pub async fn read_events(
    io: &mut DuplexStream,
    peer: &mut Connection,
    count: usize,
    read_size: usize,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buf = vec![0; read_size];
    while events.len() < count {
        if let Some(event) = peer.next_event() {
            events.push(event);
            continue;
        }
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0, "hung up after {events:?}");
        peer.receive(&buf[..n]);
    }
    events
}
