//! A handshake head that arrives a byte at a time, as a slow or hostile
//! peer sends it, through the tokio layer (which parses it only when a read
//! may have completed it, `HeadScan`): a request near the head limit is
//! accepted, a request wrong from its first line is refused before its
//! end, one past the limit gets 431, and a client reads a 101 behind
//! interim 1xx heads, all sent byte by byte.
#![cfg(feature = "tokio")]

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use wsframe::{
    handshake::{ClientHandshake, HandshakeError, MAX_HANDSHAKE_LEN},
    tokio::{Error, WebSocket},
    Config, Event, Message,
};

/// An upgrade request whose head is `len` bytes long (a padding header
/// makes up the length).
fn request_of_len(len: usize) -> Vec<u8> {
    let start = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let padding = len - start.len() - b"X-Pad: \r\n\r\n".len();
    let mut head = start.to_vec();
    head.extend_from_slice(b"X-Pad: ");
    head.extend(std::iter::repeat_n(b'p', padding));
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head.len(), len);
    head
}

/// Writes `bytes` one at a time, then returns the pipe.
async fn trickle(mut io: DuplexStream, bytes: Vec<u8>) -> DuplexStream {
    for byte in bytes {
        if io.write_all(&[byte]).await.is_err() {
            break;
        }
    }
    io
}

/// Writes `request` one byte at a time while reading the server's answer
/// to its end; returns how many bytes were written and the answer.
async fn trickle_reading_answer(io: DuplexStream, request: Vec<u8>) -> (usize, Vec<u8>) {
    let (mut read, mut write) = tokio::io::split(io);
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        answer
    });
    let mut written = 0;
    for byte in request {
        if write.write_all(&[byte]).await.is_err() {
            break;
        }
        written += 1;
    }
    drop(write);
    (written, reader.await.expect("reader"))
}

#[tokio::test]
async fn a_request_at_the_head_limit_sent_byte_by_byte_is_accepted() {
    let (server_io, client_io) = duplex(64);
    let mut request = request_of_len(MAX_HANDSHAKE_LEN);
    // A frame right behind the head, in the same trickle.
    request.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
    let client = tokio::spawn(trickle_reading_answer(client_io, request));
    let mut ws = WebSocket::accept(server_io, Config::default())
        .await
        .expect("accepted");
    let event = ws.next().await.expect("an event").expect("no error");
    assert_eq!(event, Event::Message(Message::from("hi")));
    drop(ws);
    let (_, answer) = client.await.expect("client");
    assert!(
        answer.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_request_wrong_from_its_first_line_is_refused_before_its_end() {
    let (server_io, client_io) = duplex(64);
    // A method httparse refuses at its first byte (not a token), and then
    // bytes that never end a head.
    let mut request = b"\x01GET / HTTP/1.1\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 1000));
    let sent = request.len();
    let client = tokio::spawn(trickle_reading_answer(client_io, request));
    let result = WebSocket::accept(server_io, Config::default()).await;
    assert!(matches!(result, Err(Error::Handshake(_))), "{result:?}");
    drop(result);
    let (written, answer) = client.await.expect("client");
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // Refused while the client was still sending: no more than the pipe's
    // 64 bytes beyond the first line went in.
    assert!(written < sent, "{written} of {sent}");
}

#[tokio::test]
async fn a_request_past_the_head_limit_sent_byte_by_byte_gets_431() {
    let (server_io, client_io) = duplex(64);
    let request = request_of_len(MAX_HANDSHAKE_LEN + 1);
    let client = tokio::spawn(trickle_reading_answer(client_io, request));
    let result = WebSocket::accept(server_io, Config::default()).await;
    assert!(
        matches!(result, Err(Error::Handshake(HandshakeError::HeadTooLarge))),
        "{result:?}"
    );
    drop(result);
    let (_, answer) = client.await.expect("client");
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_101_behind_interim_heads_sent_byte_by_byte_is_read() {
    let (client_io, mut server_io) = duplex(64);
    let handshake = ClientHandshake::new([7; 16])
        .target("a", "/")
        .expect("target");
    let server = tokio::spawn(async move {
        // The request, up to its empty line.
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            server_io.read_exact(&mut byte).await.expect("request");
            request.push(byte[0]);
        }
        let key = String::from_utf8_lossy(&request)
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: ").map(str::to_owned))
            .expect("key");
        let accept = wsframe::handshake::UpgradeRequest::parse(&request)
            .ok()
            .and_then(|status| match status {
                wsframe::handshake::Status::Complete((upgrade, _)) => Some(upgrade.accept_key()),
                wsframe::handshake::Status::Partial => None,
            })
            .unwrap_or_else(|| panic!("a valid request with key {key}"));
        let mut answer =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n".to_vec();
        answer.extend_from_slice(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\n\r\n"
            )
            .as_bytes(),
        );
        // A text frame from the server right behind the 101.
        answer.extend_from_slice(&[0x81, 0x02, b'o', b'k']);
        trickle(server_io, answer).await
    });
    let (mut ws, _) = WebSocket::client(client_io, &handshake, Config::default())
        .await
        .expect("101");
    let event = ws.next().await.expect("an event").expect("no error");
    assert_eq!(event, Event::Message(Message::from("ok")));
    drop(server.await);
}
