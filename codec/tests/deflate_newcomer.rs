//! permessage-deflate and its handshake tried as a newcomer would
//! (README, rustdoc, issues 15 and 16), both roles, with bad input and cut
//! streams.
//!
//! Found and fixed: the close reason for RSV1 where permessage-deflate
//! forbids it (a continuation or control frame, RFC 7692 §6.1) said "set
//! without a negotiated extension" on a connection that had negotiated one
//! (`rsv1_where_deflate_forbids_it_is_1002_and_the_reason_does_not_deny_the_extension`).
//! And the client's handshake error for a server answering
//! `client_max_window_bits=8` (Node `ws` with `clientMaxWindowBits: 8`)
//! blamed the server for breaking RFC 7692, which allows it. Since session
//! 21 our compressor keeps to 256 bytes and the answer is accepted
//! (`a_client_window_of_8_is_accepted_and_kept_to`).
//!
//! The other tests pin what held up: empty and final-block messages, the
//! message limit at 0 and 1 inflated bytes and at `u64::MAX` (no overflow
//! of "the budget + 1"), streaming with compression stopping at the limit
//! at every cut, offers in every form a newcomer might send, and
//! (ignored unless asked for) our tokio client against real servers that
//! set window bits and context takeover (`WSFRAME_DEFLATE_PEERS`, see
//! `conformance/deflate_windows.sh`).
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{final_compressed, frames_of, stored, sync_compressed};
use common::{client, close_code_on_wire, raw_frame};
use wsframe::handshake::{ExtensionOffer, HandshakeError, Status, UpgradeRequest};
use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

/// Both windows `bits`, both sides taking their context over or not.
fn params(bits: u8, takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    }
}

/// A connection of `role` fed `wire` whole: its events and the close code
/// it wrote, if any.
fn run(
    role: Role,
    config: Config,
    negotiated: Option<DeflateParams>,
    wire: &[u8],
) -> (Vec<Event>, Option<u16>) {
    let mut conn = Connection::with_deflate(role, config, negotiated);
    conn.receive(wire);
    let mut events = Vec::new();
    while let Some(event) = conn.next_event() {
        events.push(event);
    }
    (events, close_code_on_wire(&conn.take_output()))
}

/// The messages among `events`.
fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Message(message) => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// The close frame a connection wrote after `wire`: code and reason.
fn close_sent(role: Role, negotiated: Option<DeflateParams>, wire: &[u8]) -> (u16, String) {
    let mut conn = Connection::with_deflate(role, Config::default(), negotiated);
    conn.receive(wire);
    while conn.next_event().is_some() {}
    let frames = frames_of(&conn.take_output());
    let (first, payload) = frames.last().expect("a close frame");
    assert_eq!(first & 0x0F, 0x8, "a close frame: {frames:?}");
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason = String::from_utf8(payload[2..].to_vec()).expect("a UTF-8 reason");
    (code, reason)
}

/// RSV1 where permessage-deflate does not allow it, on a connection that
/// negotiated it (a continuation, a control frame; RFC 7692 §6.1), is 1002,
/// and the reason the peer reads must not say that no extension was
/// negotiated: it was, and a peer debugging its compressor would look in
/// the wrong place. It said "reserved bits 0b100 set without a negotiated
/// extension".
#[test]
fn rsv1_where_deflate_forbids_it_is_1002_and_the_reason_does_not_deny_the_extension() {
    let negotiated = Some(params(15, true));
    let cases: [(&str, Role, Vec<u8>); 5] = [
        (
            "a continuation",
            Role::Server,
            [client(0x41, &stored(b"ab")), client(0xC0, &[0])].concat(),
        ),
        ("a ping", Role::Server, client(0xC9, b"")),
        ("a pong", Role::Server, client(0xCA, b"")),
        ("a close", Role::Server, client(0xC8, &[0x03, 0xE8])),
        (
            "a continuation, to a client",
            Role::Client,
            [
                raw_frame(0x41, &stored(b"ab"), None),
                raw_frame(0xC0, &[0], None),
            ]
            .concat(),
        ),
    ];
    for (what, role, wire) in cases {
        let (code, reason) = close_sent(role, negotiated, &wire);
        assert_eq!(code, 1002, "RSV1 on {what}");
        assert!(reason.contains("0b100"), "RSV1 on {what}: {reason:?}");
        assert!(
            !reason.contains("without a negotiated extension"),
            "RSV1 on {what}: {reason:?}"
        );
    }
    // Without the extension RSV1 is 1002 as well, and the reason names it.
    let (code, reason) = close_sent(Role::Server, None, &client(0xC1, &[0]));
    assert_eq!(code, 1002);
    assert!(reason.contains("0b100"), "{reason:?}");
}

/// Held up: empty messages in each form a peer sends them (`00`, the
/// empty stored block of §7.2.3.6, and `03 00`, an empty final block),
/// between messages that end in a final block and messages that end at a
/// sync point, on every window from 8 bits, with and without context
/// takeover; and an empty payload (no block at all) is 1007, as the
/// README says of data that ends inside a block.
#[test]
fn empty_and_final_block_messages_on_every_window() {
    let text = "hello hello hello";
    for bits in 8..=15 {
        for takeover in [true, false] {
            let negotiated = Some(params(bits, takeover));
            let wire = [
                client(0xC1, &[0x00]),
                client(0xC1, &[0x03, 0x00]),
                client(0xC2, &sync_compressed(text.as_bytes(), 6)),
                client(0xC1, &final_compressed(text.as_bytes(), 6)),
                client(0xC1, &[0x00]),
                client(0xC1, &final_compressed(b"hi", 6)),
                // §7.2.3.6: a fragment flushed with its tail kept, then an
                // empty fragment (the header of an empty stored block).
                client(
                    0x41,
                    &[sync_compressed(b"abc", 6), vec![0, 0, 0xFF, 0xFF]].concat(),
                ),
                client(0x80, &[0x00]),
            ]
            .concat();
            let (events, close) = run(Role::Server, Config::default(), negotiated, &wire);
            let want = [
                Message::from(""),
                Message::from(""),
                Message::from(text.as_bytes().to_vec()),
                Message::from(text),
                Message::from(""),
                Message::from("hi"),
                Message::from("abc"),
            ];
            assert_eq!(messages(&events), want, "bits {bits}, takeover {takeover}");
            assert_eq!(close, None);
            // No bytes at all: the tail alone is no block.
            let (_, close) = run(
                Role::Server,
                Config::default(),
                negotiated,
                &client(0xC1, b""),
            );
            assert_eq!(close, Some(1007), "bits {bits}, takeover {takeover}");
        }
    }
}

/// Held up: the message limit counts inflated bytes exactly at its
/// smallest (0: an empty compressed message passes, one byte is 1009; 1:
/// one byte passes, two across fragments are 1009), whole and streaming;
/// and at its largest, where "the budget + 1" must not overflow.
#[test]
fn the_limit_at_0_1_and_u64_max() {
    let negotiated = Some(params(15, true));
    for streaming in [false, true] {
        let limit = |bytes: u64| {
            Config::builder()
                .max_message_size(bytes)
                .streaming(streaming)
                .build()
        };
        assert_eq!(
            run(Role::Server, limit(0), negotiated, &client(0xC1, &[0])).1,
            None
        );
        let a = client(0xC1, &sync_compressed(b"a", 6));
        assert_eq!(run(Role::Server, limit(0), negotiated, &a).1, Some(1009));
        assert_eq!(run(Role::Server, limit(1), negotiated, &a).1, None);
        let ab = [client(0x41, &stored(b"a")), client(0x80, &stored(b"b"))].concat();
        assert_eq!(run(Role::Server, limit(1), negotiated, &ab).1, Some(1009));
        for huge in [u64::MAX, u64::MAX - 1, usize::MAX as u64] {
            let config = Config::builder()
                .max_message_size(huge)
                .max_frame_size(u64::MAX)
                .streaming(streaming)
                .build();
            let big = "abc".repeat(100_000);
            let wire = [
                client(0x41, &stored(b"ab")),
                client(0x80, &sync_compressed(big.as_bytes(), 6)),
                client(0xC1, &sync_compressed(big.as_bytes(), 6)),
            ]
            .concat();
            let (events, close) = run(Role::Server, config, negotiated, &wire);
            assert_eq!(close, None, "limit {huge}, streaming {streaming}");
            let inflated: usize = events
                .iter()
                .map(|event| match event {
                    Event::Message(m) => m.as_bytes().len(),
                    Event::Chunk { data, .. } => data.as_bytes().len(),
                    _ => 0,
                })
                .sum();
            assert_eq!(inflated, 2 + 2 * big.len(), "limit {huge}");
        }
    }
}

/// The upgrade request with `lines` among its headers.
fn request(lines: &str) -> Result<UpgradeRequest, HandshakeError> {
    let text = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{lines}\r\n\r\n"
    );
    match UpgradeRequest::parse(text.as_bytes())? {
        Status::Complete((request, _)) => Ok(request),
        Status::Partial => panic!("a whole request: {text:?}"),
    }
}

/// Held up: offers as a newcomer's client (or an attacker) writes them,
/// and the 101's `Sec-WebSocket-Extensions` our default preferences
/// answer, or `None` for a request refused as malformed.
#[test]
fn offers_in_every_form_get_the_answer_rfc_7692_gives() {
    let pmd = "Sec-WebSocket-Extensions: permessage-deflate";
    let cases: &[(&str, Option<&str>)] = &[
        (pmd, Some("permessage-deflate")),
        (
            &format!("{pmd}; client_max_window_bits")[..],
            Some("permessage-deflate"),
        ),
        (
            &format!("{pmd}; client_max_window_bits=8")[..],
            Some("permessage-deflate; client_max_window_bits=8"),
        ),
        // A quoted value, and a quoted-pair inside it (RFC 6455 §9.1).
        (
            &format!("{pmd}; client_max_window_bits=\"1\\0\"")[..],
            Some("permessage-deflate; client_max_window_bits=10"),
        ),
        (
            &format!("{pmd} ;\tServer_Max_Window_Bits = 9")[..],
            Some("permessage-deflate; server_max_window_bits=9"),
        ),
        (
            &format!("{pmd}; server_max_window_bits=8")[..],
            Some("permessage-deflate; server_max_window_bits=8"),
        ),
        // Declined: no value, out of range, a leading zero or sign, a
        // repeat, a value on a flag, an unknown name, a name in another
        // case.
        (&format!("{pmd}; server_max_window_bits")[..], Some("")),
        (&format!("{pmd}; server_max_window_bits=16")[..], Some("")),
        (&format!("{pmd}; client_max_window_bits=7")[..], Some("")),
        (&format!("{pmd}; server_max_window_bits=010")[..], Some("")),
        (&format!("{pmd}; server_max_window_bits=+9")[..], Some("")),
        (
            &format!("{pmd}; client_max_window_bits=9; client_max_window_bits=9")[..],
            Some(""),
        ),
        (
            &format!("{pmd}; server_no_context_takeover=1")[..],
            Some(""),
        ),
        (&format!("{pmd}; x=1")[..], Some("")),
        ("Sec-WebSocket-Extensions: Permessage-Deflate", Some("")),
        // The first acceptable offer, across header lines and empty
        // list elements.
        (
            &format!("{pmd}; server_max_window_bits=7\r\n{pmd}; client_max_window_bits=12")[..],
            Some("permessage-deflate; client_max_window_bits=12"),
        ),
        (
            "Sec-WebSocket-Extensions: x-a\r\nSec-WebSocket-Extensions: , , permessage-deflate ,",
            Some("permessage-deflate"),
        ),
        ("Sec-WebSocket-Extensions:", Some("")),
        // Malformed: refused (400).
        (&format!("{pmd};;")[..], None),
        (&format!("{pmd}; client_max_window_bits=")[..], None),
        (&format!("{pmd}; client_max_window_bits=\"\"")[..], None),
    ];
    for (lines, want) in cases {
        let answered = request(lines).ok().map(|upgrade| {
            let accept = upgrade.accept().deflate(Some(DeflateConfig::default()));
            assert_eq!(
                accept.deflate_params().is_some(),
                !accept.accepted_extensions().is_empty(),
                "{lines:?}: the connection does what the 101 says"
            );
            let answer: Vec<String> = accept
                .accepted_extensions()
                .iter()
                .map(ToString::to_string)
                .collect();
            answer.join(", ")
        });
        assert_eq!(answered.as_deref(), *want, "{lines:?}");
    }
    // What each accepted answer says, an offering client reads back the
    // same: the parameters of `client_max_window_bits=10` from a quoted
    // value.
    let upgrade = request(&format!("{pmd}; client_max_window_bits=\"10\"")).unwrap();
    let accept = upgrade.accept().deflate(Some(DeflateConfig::default()));
    let ours = DeflateConfig::default().max_window_bits(10);
    let read_back = ours
        .check_response(
            &ExtensionOffer::parse_list([accept.accepted_extensions()[0].to_string().as_bytes()])
                .unwrap(),
        )
        .unwrap();
    assert_eq!(read_back, accept.deflate_params());
}

/// A server that answers `client_max_window_bits=8` (Node `ws` with
/// `clientMaxWindowBits: 8` does, to every client that offers the
/// parameter) breaks no rule of RFC 7692: our offer allowed any window.
/// Session 20 failed the handshake (our compressor could not keep to 256
/// bytes); now it is accepted, and what we send reads with a 256-byte
/// window (our inflater, which refuses a distance past it with 1007).
#[test]
fn a_client_window_of_8_is_accepted_and_kept_to() {
    let ours = DeflateConfig::default();
    assert!(ours.offer().to_string().contains("client_max_window_bits"));
    let answer =
        ExtensionOffer::parse_list([&b"permessage-deflate; client_max_window_bits=8"[..]]).unwrap();
    let params = ours
        .check_response(&answer)
        .expect("RFC 7692 allows it")
        .expect("accepted");
    assert_eq!(params.client_max_window_bits, 8);
    let config = Config::builder().deflate(Some(ours.threshold(0))).build();
    let mut client = Connection::with_deflate(Role::Client, config, Some(params));
    let mut server = Connection::with_deflate(Role::Server, Config::default(), Some(params));
    // Repeats 240 to 300 bytes apart: a compressor reaching past 256
    // bytes would use some.
    let sent: Vec<Vec<u8>> = (240..300)
        .map(|d| {
            let block = common::deflate::incompressible(d, d as u64 * 2 + 1);
            [&block[..], &block[..]].concat()
        })
        .collect();
    for data in &sent {
        client.send(Message::from(data.clone())).unwrap();
    }
    server.receive(&client.take_output());
    for data in &sent {
        match server.next_event() {
            Some(Event::Message(got)) => assert_eq!(got.as_bytes(), &data[..]),
            other => panic!("{other:?}"),
        }
    }
}

/// Our tokio client against real servers that set permessage-deflate's
/// window bits and context takeover (Python `websockets`, Node `ws`;
/// `conformance/deflate_windows.sh` starts them and runs this): for each
/// server and each of our preferences, the handshake either agrees and
/// every message (matches at distances around each window's edge, noise,
/// empty messages, 1 MiB of text) echoes intact, or fails on the server's
/// answer as RFC 7692 §7.1 requires (a `client_max_window_bits` above our
/// offer), or the server refuses the
/// request (400: ws, for an offer whose `server_max_window_bits` is below
/// its own). Never a close, a mismatch or a hang.
#[cfg(feature = "tokio")]
#[tokio::test]
#[ignore = "needs WSFRAME_DEFLATE_PEERS (host:port,... of real echo servers; conformance/deflate_windows.sh)"]
async fn our_client_against_real_servers_that_set_windows() {
    use common::real_peers::{connect_with_deflate, peers_from_env};
    use std::time::Duration;

    let mut far = Vec::new();
    for (i, d) in [
        200usize, 250, 251, 256, 257, 511, 512, 513, 2048, 2049, 8192, 32768,
    ]
    .into_iter()
    .enumerate()
    {
        let block = common::deflate::incompressible(d, 7 + i as u64);
        far.extend_from_slice(&block);
        far.extend_from_slice(&block[..258.min(d)]);
    }
    // A message, then the same again: with context takeover the second
    // refers back into the first, across the peer's inflater calls, where
    // zlib keeps only its window (at 8 bits it refuses a distance past 257).
    let (near, beyond) = (
        common::deflate::incompressible(230, 5),
        common::deflate::incompressible(300, 9),
    );
    let sent = [
        Message::from(near.clone()),
        Message::from(near),
        Message::from(beyond.clone()),
        Message::from(beyond),
        Message::from(far.clone()),
        Message::from(far),
        Message::from(""),
        Message::from("abcdefgh ".repeat(500).as_str()),
        Message::from(common::deflate::incompressible(70_000, 3)),
        Message::from(Vec::new()),
        Message::from("0123456789abcdef".repeat(1 << 16).as_str()),
    ];
    let preferences = [
        DeflateConfig::default(),
        DeflateConfig::default().max_window_bits(9),
        DeflateConfig::default().max_window_bits(8),
        DeflateConfig::default().peer_max_window_bits(8),
        DeflateConfig::default()
            .max_window_bits(11)
            .peer_max_window_bits(9),
        DeflateConfig::default().peer_max_window_bits(12),
        DeflateConfig::default()
            .no_context_takeover(true)
            .peer_no_context_takeover(true),
    ];
    let (mut echoed, mut refused, mut eight) = (0, 0, 0);
    for addr in &peers_from_env() {
        for prefs in preferences {
            let session = async {
                let (mut ws, accepted) = connect_with_deflate(addr, prefs).await?;
                for message in &sent {
                    ws.send(message.clone()).await.expect("send");
                    match ws.next().await {
                        Some(Ok(Event::Message(back))) => assert!(
                            back == *message,
                            "{addr} {prefs:?}: the echo of {} bytes differs",
                            message.as_bytes().len()
                        ),
                        other => panic!("{addr} {prefs:?}: {other:?}"),
                    }
                }
                ws.close(wsframe::CloseCode::NORMAL, "")
                    .await
                    .expect("close");
                // A window of 8 bits for either side.
                Some(
                    accepted
                        .extensions
                        .iter()
                        .any(|e| e.to_string().contains("max_window_bits=8")),
                )
            };
            match tokio::time::timeout(Duration::from_secs(60), session).await {
                Ok(Some(with_eight)) => {
                    echoed += 1;
                    eight += usize::from(with_eight);
                }
                Ok(None) => refused += 1,
                Err(_) => panic!("{addr} {prefs:?}: no answer in 60 s"),
            }
        }
    }
    eprintln!("{echoed} sessions echoed ({eight} with an 8-bit window), {refused} handshakes failed (an answer RFC 7692 §7.1 refuses, or a 400)");
    assert!(echoed > 0);
}
/// Held up: streaming with compression hands out no inflated byte past
/// the message limit and closes with 1009, for a message of 300,000 bytes
/// that inflates from a few hundred, in one frame or fragments, fed whole,
/// byte by byte and in 7-byte reads, on a 9- and a 15-bit window, with and
/// without context takeover, limits below and around one 64 KiB piece.
#[test]
fn streaming_with_compression_stops_at_the_limit_every_way() {
    let data = vec![b'a'; 300_000];
    let compressed = sync_compressed(&data, 6);
    let (head, rest) = compressed.split_at(compressed.len() / 2);
    let framings = [
        client(0xC1, &compressed),
        [client(0x41, head), client(0x00, rest), client(0x80, &[])].concat(),
    ];
    for takeover in [true, false] {
        for bits in [9, 15] {
            for limit in [1000u64, 4096, 65536, 65537, 100_000] {
                let config = Config::builder()
                    .max_message_size(limit)
                    .streaming(true)
                    .build();
                for wire in &framings {
                    for step in [wire.len(), 1, 7] {
                        let mut conn = Connection::with_deflate(
                            Role::Server,
                            config,
                            Some(params(bits, takeover)),
                        );
                        let (mut handed_out, mut closed) = (0, None);
                        for read in wire.chunks(step) {
                            conn.receive(read);
                            while let Some(event) = conn.next_event() {
                                match event {
                                    Event::Chunk { data, .. } => {
                                        handed_out += data.as_bytes().len()
                                    }
                                    Event::Closed(close) => closed = Some(close.code),
                                    _ => {}
                                }
                            }
                        }
                        let case = format!(
                            "limit {limit}, reads of {step}, bits {bits}, takeover {takeover}"
                        );
                        assert!(
                            handed_out as u64 <= limit,
                            "{case}: {handed_out} handed out"
                        );
                        assert_eq!(closed, Some(wsframe::CloseCode::MESSAGE_TOO_BIG), "{case}");
                    }
                }
            }
        }
    }
}
