//! Our tokio client against real echo servers that `conformance/deflate_windows.sh`
//! starts (Python `websockets`, Node `ws`, each setting permessage-deflate's
//! window bits and context takeover its own way) and names in
//! `WSFRAME_DEFLATE_PEERS`.

use tokio::net::TcpStream;
use wsframe::{
    handshake::{Accepted, ClientHandshake, HandshakeError},
    tokio::{Error, WebSocket},
    Config, DeflateConfig,
};

/// The servers' `host:port`s, from `WSFRAME_DEFLATE_PEERS` (comma-separated).
///
/// # Panics
///
/// If the variable is not set: the tests that call it are ignored unless
/// asked for, and the script that asks sets it.
pub fn peers_from_env() -> Vec<String> {
    std::env::var("WSFRAME_DEFLATE_PEERS")
        .expect("WSFRAME_DEFLATE_PEERS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A connection to `addr` offering permessage-deflate with `prefs` (every
/// message compressed, messages up to 64 MiB), or `None` when the
/// handshake fails as it may with a conforming peer: an answer RFC 7692
/// §7.1 has us refuse, or a 400 for an offer the server will not take.
/// Says which on standard error.
///
/// # Panics
///
/// On any other failure (the test's verdict).
pub async fn connect_with_deflate(
    addr: &str,
    prefs: DeflateConfig,
) -> Option<(WebSocket<TcpStream>, Accepted)> {
    let config = Config::builder()
        .deflate(Some(prefs.threshold(0)))
        .max_message_size(64 << 20)
        .build();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let request = ClientHandshake::random()
        .unwrap()
        .target(addr, "/")
        .unwrap();
    match WebSocket::client(stream, &request, config).await {
        Ok(connected) => Some(connected),
        Err(err @ Error::Handshake(HandshakeError::BadExtensionResponse)) => {
            eprintln!("  {addr}, offering {}: {err}", prefs.offer());
            None
        }
        Err(Error::Refused(refusal)) if refusal.status() == 400 => {
            eprintln!("  {addr}, offering {}: refused with 400", prefs.offer());
            None
        }
        Err(err) => panic!("{addr} {prefs:?}: {err}"),
    }
}
