//! The tokio client against a server that answers in raw bytes over a
//! `duplex` pipe: what it reads of the request is checked, its answer is
//! written as given.

use std::time::Duration;

use tokio::{
    io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream},
    time::timeout,
};
use wsframe::{
    handshake::{Accepted, ClientHandshake},
    tokio::{Error, WebSocket},
    Config,
};

use super::sample_handshake::SAMPLE_KEY;

/// `WebSocket::client` with `request` against a server that reads the
/// request to its end (it must carry the sample key: [`SAMPLE_KEY`]) and
/// answers `response` in writes of `piece` bytes, then hangs up if
/// `hang_up` or else waits. Fails the test after 20 s instead of hanging.
pub async fn client_against(
    request: &ClientHandshake,
    response: Vec<u8>,
    piece: usize,
    hang_up: bool,
) -> Result<(WebSocket<DuplexStream>, Accepted), Error> {
    let (ours, mut theirs) = duplex(1 << 16);
    let server = tokio::spawn(async move {
        let text = String::from_utf8(read_request(&mut theirs).await).unwrap();
        assert!(
            text.contains(&format!("Sec-WebSocket-Key: {SAMPLE_KEY}\r\n")),
            "{text}"
        );
        for chunk in response.chunks(piece) {
            if theirs.write_all(chunk).await.is_err() {
                break; // the client gave up, as it should on bad input
            }
            tokio::task::yield_now().await;
        }
        if !hang_up {
            std::future::pending::<()>().await;
        }
    });
    let result = timeout(
        Duration::from_secs(20),
        WebSocket::client(ours, request, Config::default()),
    )
    .await
    .expect("client: still waiting after 20 s");
    if result.is_err() {
        server.abort();
    }
    result
}

/// The client's request as the server side of the pipe reads it: every
/// byte up to and including the empty line that ends its head. Fails the
/// test if the client hangs up before it.
pub async fn read_request(io: &mut DuplexStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buf = [0; 1024];
    while !request.ends_with(b"\r\n\r\n") {
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client hung up before its request's end");
        request.extend_from_slice(&buf[..n]);
    }
    request
}
