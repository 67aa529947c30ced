//! permessage-deflate (RFC 7692) decided per request in
//! `WebSocket::accept_with`: a response given to `Accept::extension` is
//! used as written (once). The 101 is read raw, the server's frames by
//! hand, its compressed payloads by a reference inflater (flate2), and the
//! client's compressed messages made by flate2.
#![cfg(all(feature = "tokio", feature = "deflate"))]

mod common;

use flate2::{Compress, Compression, Decompress, FlushDecompress};
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use wsframe::{
    handshake::{Accept, UpgradeRequest},
    tokio::{Error, WebSocket},
    Config, DeflateConfig, Event, Message,
};

use common::{
    client,
    deflate::{incompressible, sync_message, RSV1, TAIL},
    sample_handshake::{SAMPLE_ACCEPT, SAMPLE_KEY},
    tokio_peer::read_frame,
    BINARY, FIN, TEXT,
};

/// The client's offers in the requests here: a limit on the server's
/// window (12 bits, 4 KiB) that lets the server limit the client's, then
/// a plain offer.
const OFFERS: &str =
    "permessage-deflate; client_max_window_bits; server_max_window_bits=12, permessage-deflate";

/// The server's preferences (on every path that does not choose its own):
/// defaults, compressing every message.
fn config_prefs() -> DeflateConfig {
    DeflateConfig::default().threshold(0)
}

/// An upgrade request for `path` with the sample key (RFC 6455 §1.3),
/// offering `extensions` if any.
fn request(path: &str, extensions: Option<&str>) -> Vec<u8> {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(extensions) = extensions {
        request += &format!("Sec-WebSocket-Extensions: {extensions}\r\n");
    }
    request += "\r\n";
    request.into_bytes()
}

/// `accept_with(config, decide)` reading `request` from a pipe: the server
/// (or its error), the client's end of the pipe with the 101's head read
/// off it, and every `Sec-WebSocket-Extensions` value of that head.
async fn handshake<F>(
    config: Config,
    decide: F,
    request: &[u8],
) -> (Result<WebSocket<DuplexStream>, Error>, DuplexStream, Vec<String>)
where
    F: FnOnce(&UpgradeRequest) -> Result<Accept<'_>, Vec<u8>>,
{
    let (ours, mut theirs) = duplex(1 << 20);
    theirs.write_all(request).await.unwrap();
    let ws = WebSocket::accept_with(ours, config, decide).await;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(theirs.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    if ws.is_ok() {
        assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nSec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n")),
            "{head}"
        );
    }
    let extensions = head
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("Sec-WebSocket-Extensions: "))
        .map(str::to_owned)
        .collect();
    (ws, theirs, extensions)
}

/// The server's next event, which must be a message.
async fn received(ws: &mut WebSocket<DuplexStream>) -> Message {
    match ws.next().await {
        Some(Ok(Event::Message(message))) => message,
        other => panic!("{other:?}"),
    }
}

/// `payload` (a compressed message, tail stripped) through `inflater`,
/// which keeps its context from message to message (§7.2.2).
fn inflate_next(inflater: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let input = [payload, &TAIL].concat();
    let mut out = Vec::with_capacity(1 << 20);
    let before = inflater.total_in();
    inflater
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    assert_eq!(inflater.total_in() - before, input.len() as u64);
    out
}

/// `decide` accepting a response of its own, made by a `DeflateConfig`
/// with a 10-bit window, with `Accept::extension`.
fn own_response(request: &UpgradeRequest) -> Result<Accept<'_>, Vec<u8>> {
    let (_, response) = DeflateConfig::default()
        .max_window_bits(10)
        .accept(request.extensions())
        .expect("an acceptable offer");
    Ok(request.accept().extension(response).expect("a valid response"))
}

#[tokio::test]
#[ignore = "bug: accept_with adds Config::deflate's answer beside decide's (a 101 naming permessage-deflate twice), or without Config::deflate cannot inflate what decide accepted"]
async fn a_response_given_to_extension_is_named_once_and_kept_to() {
    // With `Config::deflate` on (it used to add its own answer beside:
    // two in one 101) and off (the connection used to refuse RSV1).
    for config in [
        Config::builder().deflate(Some(config_prefs())).build(),
        Config::default(),
    ] {
        let (ws, mut io, extensions) =
            handshake(config, own_response, &request("/", Some(OFFERS))).await;
        let mut ws = ws.unwrap();
        assert_eq!(extensions, ["permessage-deflate; server_max_window_bits=10"]);
        let mut compressor = Compress::new(Compression::default(), false);
        let mut inflater = Decompress::new(false);
        let text = "as written, as written, as written, as written, as written";
        for _ in 0..2 {
            let payload = sync_message(&mut compressor, text.as_bytes());
            io.write_all(&client(FIN | RSV1 | TEXT, &payload))
                .await
                .unwrap();
            assert_eq!(received(&mut ws).await, Message::from(text));
        }
        // The window it wrote, 1 KiB; the threshold `Config::deflate`'s
        // (0), or the default's (1 KiB) when it is off.
        let random = incompressible(2000, 9);
        let repeated = [&random[..], &random[..]].concat();
        ws.send(Message::from(repeated.clone())).await.unwrap();
        let (first, payload) = read_frame(&mut io).await;
        assert_eq!(first, FIN | RSV1 | BINARY);
        assert!(payload.len() > 3900, "{} bytes", payload.len());
        assert_eq!(inflate_next(&mut inflater, &payload), repeated);
        ws.send(Message::from(text)).await.unwrap();
        let (first, payload) = read_frame(&mut io).await;
        if config.deflate().is_some() {
            assert_eq!(first, FIN | RSV1 | TEXT);
            assert_eq!(inflate_next(&mut inflater, &payload), text.as_bytes());
        } else {
            assert_eq!((first, payload), (FIN | TEXT, text.as_bytes().to_vec()));
        }
    }
}
