//! permessage-deflate (RFC 7692) decided per request in
//! `WebSocket::accept_with`: `Accept::deflate` declines it or accepts it
//! with `decide`'s own preferences, a response given to `Accept::extension`
//! is used as written (once), and every response the connection could not
//! keep to fails in `decide`. The 101 is read raw, the server's frames by
//! hand, its compressed payloads by a reference inflater (flate2 /
//! miniz_oxide), and the client's compressed messages made by flate2.
//! Also: a compressing client with a deterministic mask source, and
//! Python `websockets` as the client where its venv is installed.
#![cfg(all(feature = "tokio", feature = "deflate"))]

mod common;

use flate2::{Compress, Compression, Decompress};
use tokio::{
    io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream},
    net::TcpListener,
};
use wsframe::{
    handshake::{Accept, BuildError, ExtensionOffer, Status, UpgradeRequest},
    tokio::WebSocket,
    CloseCode, Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role,
};

use common::{
    client,
    deflate::{incompressible, inflate_next, reference_inflate, sync_message, RSV1, TAKEOVER},
    sample_handshake::{SAMPLE_ACCEPT, SAMPLE_KEY},
    tap::Tap,
    tokio_peer::read_frame,
    BINARY, CLOSE, FIN, TEXT,
};

/// The client's offers in the requests here: a limit on the server's
/// window (12 bits, 4 KiB) that lets the server limit the client's, then
/// a plain offer.
const OFFERS: &str =
    "permessage-deflate; client_max_window_bits; server_max_window_bits=12, permessage-deflate";

/// The 101's answer to [`OFFERS`] with [`config_prefs`]: the server's
/// window at the 12 bits asked.
const AT_12_BITS: &str = "permessage-deflate; server_max_window_bits=12";

/// The 101's answer to [`OFFERS`] with [`small`]'s preferences.
const SMALL: &str = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10";

/// The server's preferences (on every path that does not choose its own):
/// defaults, compressing every message.
fn config_prefs() -> DeflateConfig {
    DeflateConfig::default().threshold(0)
}

/// `decide`'s own preferences for `/small`: a 1 KiB window, no context
/// kept between messages, messages under 100 bytes sent as they are.
fn small() -> DeflateConfig {
    DeflateConfig::default()
        .max_window_bits(10)
        .no_context_takeover(true)
        .threshold(100)
}

/// A server whose compression is per path: none on `/plain`, [`small`]'s
/// on `/small`, `Config::deflate`'s elsewhere.
fn per_path(request: &UpgradeRequest) -> Result<Accept<'_>, Vec<u8>> {
    let accept = request.accept();
    Ok(match request.path() {
        "/plain" => accept.deflate(None),
        "/small" => accept.deflate(Some(small())),
        _ => accept,
    })
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

/// `accept_with(config, decide)` reading a request for `path` with
/// [`OFFERS`] from a pipe: the server and the client's end of the pipe,
/// with the 101's head read off it. The head's `Sec-WebSocket-Extensions`
/// values must be `extensions`.
async fn accepted<F>(
    config: Config,
    decide: F,
    path: &str,
    extensions: &[&str],
) -> (WebSocket<DuplexStream>, DuplexStream)
where
    F: FnOnce(&UpgradeRequest) -> Result<Accept<'_>, Vec<u8>>,
{
    let (ours, mut theirs) = duplex(1 << 20);
    theirs
        .write_all(&request(path, Some(OFFERS)))
        .await
        .unwrap();
    let ws = WebSocket::accept_with(ours, config, decide).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(theirs.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nSec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n")),
        "{head}"
    );
    let written: Vec<&str> = head
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("Sec-WebSocket-Extensions: "))
        .collect();
    assert_eq!(written, extensions, "{path}");
    (ws, theirs)
}

/// The server's next event, which must be a message.
async fn received<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Message {
    match ws.next().await {
        Some(Ok(Event::Message(message))) => message,
        other => panic!("{other:?}"),
    }
}

/// The client sends `text` compressed by `compressor` (flate2, context
/// kept) and the server reads it; the server sends `text` back, compressed
/// (RSV1, §6), and the payload of the frame it wrote is read by hand.
async fn compressed_both_ways(
    ws: &mut WebSocket<DuplexStream>,
    io: &mut DuplexStream,
    compressor: &mut Compress,
    text: &str,
) -> Vec<u8> {
    let payload = sync_message(compressor, text.as_bytes());
    io.write_all(&client(FIN | RSV1 | TEXT, &payload))
        .await
        .unwrap();
    assert_eq!(received(ws).await, Message::from(text));
    ws.send(Message::from(text)).await.unwrap();
    let (first, payload) = read_frame(io).await;
    assert_eq!(first, FIN | RSV1 | TEXT, "compressed: RSV1 (§6)");
    payload
}

/// The server sends 2000 random bytes (from `seed`) twice over as one
/// message, compressed (RSV1); returns the message and the payload of the
/// frame it wrote. Whether the repeat is referred back to shows the
/// window the compressor keeps to.
async fn repeat_sent(
    ws: &mut WebSocket<DuplexStream>,
    io: &mut DuplexStream,
    seed: u64,
) -> (Vec<u8>, Vec<u8>) {
    let random = incompressible(2000, seed);
    let repeated = [&random[..], &random[..]].concat();
    ws.send(Message::from(repeated.clone())).await.unwrap();
    let (first, payload) = read_frame(io).await;
    assert_eq!(first, FIN | RSV1 | BINARY);
    (repeated, payload)
}

/// A client frame with RSV1 set, on a connection without
/// permessage-deflate: the server fails it with 1002 (RFC 6455 §5.2), and
/// that is the last frame it writes.
async fn rsv1_is_refused(ws: &mut WebSocket<DuplexStream>, io: &mut DuplexStream) {
    let payload = sync_message(&mut Compress::new(Compression::default(), false), b"x");
    io.write_all(&client(FIN | RSV1 | TEXT, &payload))
        .await
        .unwrap();
    match ws.next().await {
        Some(Ok(Event::Closed(closed))) => assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR),
        other => panic!("{other:?}"),
    }
    let (first, payload) = read_frame(io).await;
    assert_eq!(first, FIN | CLOSE);
    assert_eq!(payload[..2], 1002u16.to_be_bytes());
}

#[tokio::test]
async fn one_server_config_compresses_on_one_path_and_not_on_another() {
    let config = Config::builder().deflate(Some(config_prefs())).build();
    let text = "compressed both ways, compressed both ways, compressed both ways";

    // `Config::deflate`'s answer: the server's window at the 12 bits asked.
    let (mut ws, mut io) = accepted(config, per_path, "/", &[AT_12_BITS]).await;
    let mut compressor = Compress::new(Compression::default(), false);
    let mut inflater = Decompress::new(false);
    let mut sizes = Vec::new();
    for _ in 0..2 {
        let payload = compressed_both_ways(&mut ws, &mut io, &mut compressor, text).await;
        assert_eq!(inflate_next(&mut inflater, &payload), text.as_bytes());
        sizes.push(payload.len());
    }
    assert!(sizes[1] < sizes[0], "context taken over: {sizes:?}");

    // Declined by `decide` on `/plain`, the same offers: no extension, no
    // compression either way.
    let (mut ws, mut io) = accepted(config, per_path, "/plain", &[]).await;
    io.write_all(&client(FIN | TEXT, text.as_bytes()))
        .await
        .unwrap();
    assert_eq!(received(&mut ws).await, Message::from(text));
    ws.send(Message::from(text)).await.unwrap();
    assert_eq!(
        read_frame(&mut io).await,
        (FIN | TEXT, text.as_bytes().to_vec())
    );
    rsv1_is_refused(&mut ws, &mut io).await;
}

#[tokio::test]
async fn decides_own_preferences_are_what_the_101_says_and_the_connection_does() {
    let config = Config::builder().deflate(Some(config_prefs())).build();
    let (mut ws, mut io) = accepted(config, per_path, "/small", &[SMALL]).await;
    assert_eq!(ws.connection().config().deflate(), Some(small()));

    // The client's messages are inflated (it keeps its context: the 101
    // did not ask otherwise).
    let mut compressor = Compress::new(Compression::default(), false);
    let text = "small windows, ".repeat(10);
    let text = text.as_str();
    let mut payloads = Vec::new();
    for _ in 0..2 {
        payloads.push(compressed_both_ways(&mut ws, &mut io, &mut compressor, text).await);
    }
    // No context takeover: each message inflates alone, the same bytes.
    assert_eq!(payloads[0], payloads[1]);
    assert_eq!(
        reference_inflate(&payloads[1]),
        Some(text.as_bytes().to_vec())
    );

    // A 1 KiB window: 2000 random bytes repeated 2000 bytes later cannot
    // be referred back to, so the message compresses to about its size.
    let (repeated, payload) = repeat_sent(&mut ws, &mut io, 7).await;
    assert!(payload.len() > 3900, "{} bytes", payload.len());
    assert_eq!(reference_inflate(&payload), Some(repeated));

    // Its threshold: 50 bytes go as they are.
    let short = "x".repeat(50);
    ws.send(Message::from(short.as_str())).await.unwrap();
    assert_eq!(
        read_frame(&mut io).await,
        (FIN | TEXT, short.clone().into_bytes())
    );

    // Against the same server's other path: a 4 KiB window finds the
    // repeat, and threshold 0 compresses 50 bytes.
    let (mut ws, mut io) = accepted(config, per_path, "/", &[AT_12_BITS]).await;
    let (repeated, payload) = repeat_sent(&mut ws, &mut io, 7).await;
    assert!(payload.len() < 2200, "{} bytes", payload.len());
    assert_eq!(reference_inflate(&payload), Some(repeated));
    ws.send(Message::from(short.as_str())).await.unwrap();
    assert_eq!(read_frame(&mut io).await.0, FIN | RSV1 | TEXT);
}

#[tokio::test]
async fn decide_turns_it_on_where_config_deflate_is_off() {
    let config = Config::default();
    let (mut ws, mut io) = accepted(config, per_path, "/small", &[SMALL]).await;
    let mut compressor = Compress::new(Compression::default(), false);
    let text = "on for this path only, ".repeat(10);
    let text = text.as_str();
    let payload = compressed_both_ways(&mut ws, &mut io, &mut compressor, text).await;
    assert_eq!(reference_inflate(&payload), Some(text.as_bytes().to_vec()));

    // Elsewhere, as `Config::deflate` says: off.
    let (mut ws, mut io) = accepted(config, per_path, "/", &[]).await;
    rsv1_is_refused(&mut ws, &mut io).await;
}

/// `decide` accepting a response of its own, made by a `DeflateConfig`
/// with a 10-bit window, with `Accept::extension`.
fn own_response(request: &UpgradeRequest) -> Result<Accept<'_>, Vec<u8>> {
    let (_, response) = DeflateConfig::default()
        .max_window_bits(10)
        .accept(request.extensions())
        .expect("an acceptable offer");
    Ok(request
        .accept()
        .extension(response)
        .expect("a valid response"))
}

#[tokio::test]
async fn a_response_given_to_extension_is_named_once_and_kept_to() {
    // With `Config::deflate` on (it used to add its own answer beside:
    // two in one 101) and off (the connection used to refuse RSV1).
    for config in [
        Config::builder().deflate(Some(config_prefs())).build(),
        Config::default(),
    ] {
        let (mut ws, mut io) = accepted(
            config,
            own_response,
            "/",
            &["permessage-deflate; server_max_window_bits=10"],
        )
        .await;
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
        let (repeated, payload) = repeat_sent(&mut ws, &mut io, 9).await;
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

/// The request with `offers`, parsed.
fn upgrade(offers: &str) -> UpgradeRequest {
    let bytes = request("/", Some(offers));
    let Ok(Status::Complete((upgrade, _))) = UpgradeRequest::parse(&bytes) else {
        panic!("{offers}")
    };
    upgrade
}

/// `text` parsed as one extension, as a hand-made response would be.
fn response(text: &str) -> ExtensionOffer {
    let mut list = ExtensionOffer::parse_list([text.as_bytes()]).unwrap();
    assert_eq!(list.len(), 1, "{text}");
    list.remove(0)
}

#[test]
fn a_response_the_connection_could_not_keep_to_fails_in_decide() {
    let refused = [
        // Unknown, repeated, or badly written parameters (§7).
        ("permessage-deflate", "permessage-deflate; x=1"),
        (
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ),
        (
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover=1",
        ),
        (
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=010",
        ),
        (
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=16",
        ),
        (
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits",
        ),
        // §7.1.1.1: asked for, so it must be answered.
        (
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate",
        ),
        // §7.1.2.1: a limit offered is answered with the same or smaller.
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate",
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=11",
        ),
        // §7.1.2.2: only if offered, with a value, no larger than offered.
        (
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits",
        ),
        (
            "permessage-deflate; client_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=11",
        ),
        // Below the smallest window RFC 7692 allows (8 is kept to).
        (
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=7",
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=9",
        ),
        // Another spelling is still permessage-deflate.
        ("PerMessage-Deflate", "PerMessage-Deflate; x=1"),
    ];
    for (offers, answer) in refused {
        let upgrade = upgrade(offers);
        assert_eq!(
            upgrade.accept().extension(response(answer)).err(),
            Some(BuildError::Deflate),
            "{offers} -> {answer}"
        );
    }
    // Not offered at all stays the general error.
    assert_eq!(
        upgrade("x-other")
            .accept()
            .extension(response("permessage-deflate"))
            .err(),
        Some(BuildError::Extension)
    );
    // Nor can the header be written by hand.
    assert_eq!(
        upgrade(OFFERS)
            .accept()
            .header("Sec-WebSocket-Extensions", "permessage-deflate")
            .err(),
        Some(BuildError::ReservedHeader)
    );
}

#[test]
fn permessage_deflate_is_named_once_whatever_the_order_of_calls() {
    let upgrade = upgrade(OFFERS);
    let own = response("permessage-deflate; server_max_window_bits=11");
    let written = |accept: &Accept<'_>| -> Vec<String> {
        accept
            .accepted_extensions()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // A second acceptance is refused, by either route.
    let once = upgrade.accept().extension(own.clone()).unwrap();
    assert_eq!(
        once.clone().extension(own.clone()).err(),
        Some(BuildError::Deflate)
    );
    let by_deflate = upgrade.accept().deflate(Some(small()));
    assert_eq!(
        by_deflate.extension(own.clone()).err(),
        Some(BuildError::Deflate)
    );
    // `deflate` replaces an earlier choice: the response, or a decline.
    let replaced = once.clone().deflate(Some(small()));
    assert_eq!(
        written(&replaced),
        ["permessage-deflate; server_no_context_takeover; server_max_window_bits=10"]
    );
    assert_eq!(
        replaced.deflate_params().unwrap().server_max_window_bits,
        10
    );
    let declined = once.deflate(None);
    assert!(written(&declined).is_empty());
    assert_eq!(declined.deflate_params(), None);
    let after_decline = upgrade.accept().deflate(None).extension(own).unwrap();
    assert_eq!(
        written(&after_decline),
        ["permessage-deflate; server_max_window_bits=11"]
    );
    assert_eq!(
        after_decline.deflate_params(),
        Some(DeflateParams {
            server_max_window_bits: 11,
            ..TAKEOVER
        })
    );
    // Preferences that no offer meets decline it (nothing else added
    // later by `Config::deflate`).
    let unmet = self::upgrade("permessage-deflate; server_max_window_bits");
    let unmet = unmet.accept().deflate(Some(DeflateConfig::default()));
    assert!(written(&unmet).is_empty());
    assert_eq!(unmet.deflate_params(), None);
}

#[tokio::test]
async fn a_decline_is_not_undone_by_config_deflate() {
    let config = Config::builder().deflate(Some(config_prefs())).build();
    accepted(
        config,
        |request| {
            Ok(request
                .accept()
                .deflate(Some(DeflateConfig::default()))
                .deflate(None))
        },
        "/",
        &[],
    )
    .await;
}

#[test]
fn extension_reads_the_same_parameters_deflate_config_accept_agreed() {
    let prefs = [
        DeflateConfig::default(),
        small(),
        DeflateConfig::default()
            .peer_max_window_bits(9)
            .peer_no_context_takeover(true),
        DeflateConfig::default()
            .max_window_bits(12)
            .peer_max_window_bits(11),
    ];
    let offers = [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=12; server_max_window_bits=9",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=13",
        "permessage-deflate; x=1, permessage-deflate; client_max_window_bits=10",
        OFFERS,
    ];
    for prefs in prefs {
        for offers in offers {
            let upgrade = upgrade(offers);
            let (params, answer) = prefs.accept(upgrade.extensions()).unwrap();
            let accept = upgrade.accept().extension(answer.clone()).unwrap();
            assert_eq!(accept.deflate_params(), Some(params), "{prefs:?} {offers}");
            let by_deflate = upgrade.accept().deflate(Some(prefs));
            assert_eq!(
                by_deflate.deflate_params(),
                Some(params),
                "{prefs:?} {offers}"
            );
            assert_eq!(by_deflate.accepted_extensions(), [answer]);
        }
    }
}

/// The frames a client wrote, read by hand (RFC 6455 §5.2): first byte,
/// masking key, unmasked payload.
fn masked_frames(mut wire: &[u8]) -> Vec<(u8, [u8; 4], Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        assert_eq!(wire[1] & 0x80, 0x80, "a client frame is masked (§5.3)");
        let (len, at) = match wire[1] & 0x7F {
            126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(wire[2..10].try_into().unwrap())).unwrap(),
                10,
            ),
            len => (usize::from(len), 2),
        };
        let key: [u8; 4] = wire[at..at + 4].try_into().unwrap();
        let payload = wire[at + 4..at + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        frames.push((wire[0], key, payload));
        wire = &wire[at + 4 + len..];
    }
    frames
}

#[test]
fn a_deflate_client_with_a_mask_source_writes_the_same_bytes_every_run() {
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(64)))
        .build();
    let text = "the same bytes every run ".repeat(200);
    let send_all = |client: &mut Connection| {
        client.send(Message::from(text.as_str())).unwrap();
        client.send(Message::from("short")).unwrap();
        client
            .send_compressed(Message::from(text.as_str()), false)
            .unwrap();
        client.ping(b"p").unwrap();
        client.close(CloseCode::NORMAL, "bye").unwrap();
        client.take_output()
    };
    let deterministic = || {
        let mut counter = 0u32;
        let mut client = Connection::with_deflate_and_mask_source(
            Role::Client,
            config,
            Some(TAKEOVER),
            Box::new(move || {
                counter += 1;
                counter.to_be_bytes()
            }),
        );
        send_all(&mut client)
    };
    let wire = deterministic();
    // Compared without printing them: a failure would dump kilobytes.
    assert!(deterministic() == wire, "two runs, different bytes");

    // Every key from the source, in order; the first message compressed.
    let frames = masked_frames(&wire);
    let keys: Vec<[u8; 4]> = frames.iter().map(|f| f.1).collect();
    let want: Vec<[u8; 4]> = (1..=5u32).map(u32::to_be_bytes).collect();
    assert_eq!(keys, want);
    assert_eq!(frames[0].0, FIN | RSV1 | TEXT);
    assert_eq!(
        reference_inflate(&frames[0].2),
        Some(text.clone().into_bytes())
    );
    assert_eq!(frames[1].0, FIN | TEXT, "under the threshold");
    assert_eq!(frames[2].0, FIN | TEXT, "sent as it is");

    // And a server inflates it.
    let mut server = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    server.receive(&wire);
    let mut messages = Vec::new();
    while let Some(event) = server.next_event() {
        if let Event::Message(message) = event {
            messages.push(message);
        }
    }
    assert_eq!(
        messages,
        [
            Message::from(text.as_str()),
            Message::from("short"),
            Message::from(text.as_str())
        ]
    );

    // `with_deflate`'s keys come from the OS: two runs differ.
    let random = || {
        send_all(&mut Connection::with_deflate(
            Role::Client,
            config,
            Some(TAKEOVER),
        ))
    };
    assert!(random() != random(), "OS keys repeated");
}

/// The first byte of the first frame after an HTTP head in `bytes`.
fn first_frame_byte(bytes: &[u8]) -> u8 {
    let head = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    bytes[head + 4]
}

/// A Python `websockets` client (compression on, its default) sending a
/// long text to `/plain`, then `/small`, each echoed; prints each path and
/// the 101's `Sec-WebSocket-Extensions` (`-` for none).
const PYTHON_CLIENT: &str = r#"
import sys
from websockets.sync.client import connect
port = sys.argv[1]
text = "compressed on one path, not on the other; " * 50
for path in ("/plain", "/small"):
    with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=10) as ws:
        ws.send(text)
        assert ws.recv(timeout=10) == text, path
        print(path, ws.response.headers.get("Sec-WebSocket-Extensions", "-"), flush=True)
"#;

/// Against a real peer: Python `websockets` (from the venv that
/// `conformance/peers.sh` makes at the repository's root, and runs this
/// test with `--ignored`; it fails without the venv), one server config,
/// `decide` declining deflate on `/plain` and accepting it with its own
/// preferences on `/small`.
#[tokio::test]
#[ignore = "needs a real peer: Python websockets in the venv at the repository's root (conformance/peers.sh runs it)"]
async fn python_websockets_gets_compression_on_one_path_only() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "no venv at {}: run `bash conformance/peers.sh` once (it makes it)",
        python.display()
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let child = std::process::Command::new(&python)
        .args(["-c", PYTHON_CLIENT, &port])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output());
    let config = Config::builder().deflate(Some(config_prefs())).build();
    for path in ["/plain", "/small"] {
        let served = async {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = WebSocket::accept_with(Tap::new(stream), config, per_path)
                .await
                .unwrap();
            let message = received(&mut ws).await;
            ws.send(message).await.unwrap();
            while let Some(event) = ws.next().await {
                event.unwrap();
            }
            ws.into_inner()
        };
        let tap = tokio::time::timeout(std::time::Duration::from_secs(30), served)
            .await
            .unwrap_or_else(|_| panic!("{path}: no echo in 30 s"));
        let compressed = path == "/small";
        let rsv1 = |first: u8| first & RSV1 != 0;
        assert_eq!(
            rsv1(first_frame_byte(&tap.read)),
            compressed,
            "{path}: the client's frame"
        );
        assert_eq!(
            rsv1(first_frame_byte(&tap.written)),
            compressed,
            "{path}: ours"
        );
    }
    let output = output.await.unwrap().unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines[0], "/plain -");
    assert!(
        lines[1].starts_with(
            "/small permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        ),
        "{lines:?}"
    );
}
