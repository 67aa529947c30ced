//! A fresh reviewer's attempts on permessage-deflate (RFC 7692) as an
//! embedder uses it, each expectation taken from the RFC and the docs:
//!
//! - negotiation through the public handshake API (`ClientHandshake`,
//!   `UpgradeRequest`, `Accept`, `DeflateConfig::accept` and
//!   `check_response`): offers with every §7.1 parameter, with and without
//!   values, quoted, with whitespace, several in one header and across
//!   header lines, an unknown extension first; the client's check of bad
//!   responses; every combination of both ends' preferences agreeing on the
//!   same parameters;
//! - what the response says is what the sender then does: each message a
//!   `*_no_context_takeover` sender writes inflates alone, and a sender held
//!   to `2^bits` bytes of window is read by a receiver whose window is
//!   exactly that (common's `WindowedInflater`: miniz_oxide over a
//!   circular buffer of that size, which refuses a distance past it;
//!   `deflate_window_bits` proves its edge and probes every window's);
//! - the send side: the threshold, forced and skipped compression, fragmented
//!   sends (RSV1 on the first frame only, pings between, empty fragments),
//!   level 0, context kept across messages, a send refused for a full
//!   output (nothing compressed, so the retry still inflates);
//! - the receive side: a compressed message split at every byte, with a ping
//!   between, one byte a fragment; RSV1 on a continuation, a control frame or
//!   without the extension (1002); empty messages; a final block then a
//!   message that takes its context over; the message limit exact and one
//!   over, a bomb in fragments with pings between, whole and streaming;
//!   a client told any `server_max_window_bits` (8 too) reads the server;
//! - every window (8..=15), memory level and compression level keeps to
//!   its window; `send_split` with the extension, uncompressed messages
//!   between compressed ones under context takeover;
//! - no block larger than the limit + 1 is allocated (a per-thread
//!   counting allocator) for messages at the limit, one over, and a bomb in
//!   pinged fragments, in 1 KiB reads, whole and streaming.
//!
//! A bug found here is fixed: a client that asked for
//! `server_no_context_takeover` took a response without it as agreed (with
//! context takeover); it fails the handshake now. So is another: in
//! streaming mode, the compressed bytes of one read came out as one piece,
//! however much they inflated to (64 MiB from a 64 KiB read), so with the
//! limit lifted memory followed the ratio.
//!
//! Every stream is fed whole, byte by byte and (when short) cut at every
//! point, through both input paths (`same_every_way`, `deflate_messages`).
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, deflate_messages::*, *};
use wsframe::handshake::{
    ClientHandshake, ExtensionOffer, HandshakeError, Status as HandshakeStatus, UpgradeRequest,
};
use wsframe::{
    Config, Connection, DeflateConfig, DeflateParams, Event, Message, ProtocolError, Role,
};

// ---------------------------------------------------------------------------
// Oracles and wire helpers (the frame readers and the windowed receiver,
// `frames_of`, `messages_of` and `WindowedInflater`, are common's).

/// `bytes` (UTF-8) as a text message.
fn text(bytes: &[u8]) -> Message {
    Message::from(String::from_utf8(bytes.to_vec()).unwrap())
}

/// Letters and spaces (never a zero byte), from a seed.
fn letters(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len)
        .map(|_| b"abcdefghijklmnopqrstuvwxyz      "[rng.below(32)])
        .collect()
}

/// Messages a compressor with a large window would refer back across:
/// inside one message 2,500 bytes back, from one message to the last
/// (3,500 back), and a short one.
fn far_referring_messages() -> Vec<Vec<u8>> {
    let a = letters(1, 1000);
    let b = letters(2, 1500);
    let c = letters(3, 600);
    let first = [&a[..], &b, &a].concat();
    vec![
        first.clone(),
        first,
        [&c[..], &a].concat(),
        b"Hello".to_vec(),
    ]
}

/// Checks what a sender wrote against `sent_data` (the data of each
/// message, in order), read by a `2^bits`-window receiver that keeps its
/// context unless `fresh_each`: every message compressed, and inflating to
/// its data.
fn assert_sender_kept_to(out: &[u8], sent_data: &[Vec<u8>], bits: u8, fresh_each: bool) {
    let messages = messages_of(out);
    assert_eq!(messages.len(), sent_data.len());
    let mut receiver = WindowedInflater::new(bits, fresh_each);
    for (i, (m, data)) in messages.iter().zip(sent_data).enumerate() {
        assert!(m.compressed, "message {i} not compressed");
        let payload = m.frames.concat();
        assert_eq!(
            receiver.message(&payload).as_deref(),
            Some(&data[..]),
            "message {i}: a {bits}-bit window (fresh each: {fresh_each}) does not read it"
        );
        if fresh_each {
            assert_eq!(reference_inflate(&payload).as_deref(), Some(&data[..]));
        }
    }
}

#[test]
fn the_windowed_receiver_refuses_what_a_larger_window_wrote() {
    // The oracle can fail: flate2 with a 15-bit window refers back 2,500
    // bytes, which a 9- or 11-bit receiver reads wrong, and across messages,
    // which a fresh context reads wrong.
    let data = far_referring_messages();
    let mut compressor = flate2::Compress::new(flate2::Compression::default(), false);
    let payloads: Vec<Vec<u8>> = data
        .iter()
        .map(|d| sync_message(&mut compressor, d))
        .collect();
    let mut wide = WindowedInflater::new(15, false);
    let mut narrow = WindowedInflater::new(11, false);
    let mut fresh = WindowedInflater::new(15, true);
    assert_eq!(wide.message(&payloads[0]).as_ref(), Some(&data[0]));
    assert_ne!(narrow.message(&payloads[0]).as_ref(), Some(&data[0]));
    assert_eq!(fresh.message(&payloads[0]).as_ref(), Some(&data[0]));
    assert_eq!(wide.message(&payloads[1]).as_ref(), Some(&data[1]));
    assert_ne!(fresh.message(&payloads[1]).as_ref(), Some(&data[1]));
}

// ---------------------------------------------------------------------------
// Negotiation through the handshake API.

const KEY_NONCE: [u8; 16] = *b"the sample nonce";

/// An upgrade request carrying `lines` as `Sec-WebSocket-Extensions` header
/// lines, parsed by the server.
fn request_with(lines: &[&str]) -> UpgradeRequest {
    let mut req = String::from(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for line in lines {
        req.push_str(&format!("Sec-WebSocket-Extensions: {line}\r\n"));
    }
    req.push_str("\r\n");
    let Ok(HandshakeStatus::Complete((upgrade, _))) = UpgradeRequest::parse(req.as_bytes()) else {
        panic!("request refused: {lines:?}")
    };
    upgrade
}

/// The parameters of an extension as a sorted list of `name[=value]`.
fn param_set(ext: &ExtensionOffer) -> Vec<String> {
    let mut params: Vec<String> = ext
        .params()
        .iter()
        .map(|p| match p.value() {
            Some(v) => format!("{}={v}", p.name()),
            None => p.name().to_owned(),
        })
        .collect();
    params.sort();
    params
}

fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
    }
}

/// The server's sends under `negotiated`, checked as
/// [`assert_sender_kept_to`] against what its response said.
fn server_keeps_to(config: DeflateConfig, negotiated: DeflateParams) {
    let data = far_referring_messages();
    let config = Config::builder().deflate(Some(config.threshold(0))).build();
    let mut server = Connection::with_deflate(Role::Server, config, Some(negotiated));
    for d in &data {
        server.send(text(d)).unwrap();
    }
    assert_sender_kept_to(
        &server.take_output(),
        &data,
        negotiated.server_max_window_bits,
        negotiated.server_no_context_takeover,
    );
}

#[test]
fn a_server_accepts_offers_as_rfc_7692_reads_and_does_what_it_answered() {
    let ours = DeflateConfig::default();
    // (header lines, the parameters agreed and the response's parameters)
    // or None: declined, no extension in the 101.
    type Row<'a> = (&'a [&'a str], Option<(DeflateParams, &'a [&'a str])>);
    let table: &[Row] = &[
        (&["permessage-deflate"], Some((params(false, false, 15, 15), &[]))),
        (
            &["permessage-deflate; client_max_window_bits"],
            Some((params(false, false, 15, 15), &[])),
        ),
        // Quoted values (§9.1: unescaped, a token), and an escape.
        (
            &["permessage-deflate; client_max_window_bits=\"10\""],
            Some((params(false, false, 15, 10), &["client_max_window_bits=10"])),
        ),
        (
            &["permessage-deflate; server_max_window_bits=\"1\\0\""],
            Some((params(false, false, 10, 15), &["server_max_window_bits=10"])),
        ),
        // Whitespace the grammar allows around ';', '=' and ','.
        (
            &["  permessage-deflate ;server_no_context_takeover\t; client_max_window_bits = 9 , "],
            Some((
                params(true, false, 15, 9),
                &["client_max_window_bits=9", "server_no_context_takeover"],
            )),
        ),
        // All four parameters: server_max_window_bits must be answered
        // (§7.1.2.1), as must server_no_context_takeover (§7.1.1.1).
        (
            &["permessage-deflate; client_max_window_bits=15; client_no_context_takeover; \
               server_no_context_takeover; server_max_window_bits=15"],
            Some((
                params(true, true, 15, 15),
                &[
                    "client_max_window_bits=15",
                    "client_no_context_takeover",
                    "server_max_window_bits=15",
                    "server_no_context_takeover",
                ],
            )),
        ),
        (
            &["permessage-deflate; server_max_window_bits=9; server_no_context_takeover"],
            Some((
                params(true, false, 9, 15),
                &["server_max_window_bits=9", "server_no_context_takeover"],
            )),
        ),
        // The smallest windows, 256 bytes, both ways (8 is kept to).
        (
            &["permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"],
            Some((
                params(false, false, 8, 8),
                &["client_max_window_bits=8", "server_max_window_bits=8"],
            )),
        ),
        // An unknown extension first.
        (
            &["x-webkit-deflate-frame; no_context_takeover, permessage-deflate; server_max_window_bits=11"],
            Some((params(false, false, 11, 15), &["server_max_window_bits=11"])),
        ),
        // Offers across header lines: the first acceptable one, in order.
        (
            &[
                "permessage-deflate; server_max_window_bits=7",
                "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
                "x-other, permessage-deflate; client_no_context_takeover",
                "permessage-deflate",
            ],
            Some((params(false, true, 15, 15), &["client_no_context_takeover"])),
        ),
        // Declined: a duplicate, an unknown parameter, a value on a flag or
        // a missing one, windows outside 8..=15 or with a leading zero.
        (&["permessage-deflate; client_no_context_takeover; client_no_context_takeover"], None),
        (&["permessage-deflate; client_max_window_bits; client_max_window_bits=10"], None),
        (&["permessage-deflate; mystery"], None),
        (&["permessage-deflate; server_no_context_takeover=\"x\""], None),
        (&["permessage-deflate; server_max_window_bits"], None),
        (&["permessage-deflate; server_max_window_bits=16"], None),
        (&["permessage-deflate; client_max_window_bits=7"], None),
        (&["permessage-deflate; client_max_window_bits=09"], None),
        (&["x-other; server_max_window_bits=10"], None),
    ];
    for (lines, want) in table {
        let upgrade = request_with(lines);
        let got = ours.accept(upgrade.extensions());
        match (got, want) {
            (None, None) => {
                // The connection goes on without the extension.
                let text = String::from_utf8(upgrade.accept().to_bytes()).unwrap();
                assert!(!text.contains("Sec-WebSocket-Extensions"), "{lines:?}");
            }
            (Some((params, response)), Some((want_params, want_response))) => {
                assert_eq!(params, *want_params, "{lines:?}");
                assert_eq!(param_set(&response), *want_response, "{lines:?}");
                // The 101 carries it, and a client reads back what it says.
                let bytes = upgrade.accept().extension(response).unwrap().to_bytes();
                let offered =
                    ExtensionOffer::parse_list(lines.iter().map(|l| l.as_bytes())).unwrap();
                let mut client = ClientHandshake::new(KEY_NONCE);
                for offer in offered {
                    client = client.extension(offer);
                }
                let Ok(HandshakeStatus::Complete(accepted)) = client.parse_response(&bytes) else {
                    panic!("the client refused the 101: {lines:?}")
                };
                assert_eq!(accepted.extensions.len(), 1);
                assert_eq!(param_set(&accepted.extensions[0]), *want_response);
                // And the server does what it answered.
                server_keeps_to(ours, params);
            }
            (got, want) => panic!("{lines:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_server_with_its_own_preferences_answers_and_keeps_to_them() {
    let strict = DeflateConfig::default()
        .max_window_bits(9)
        .no_context_takeover(true)
        .peer_max_window_bits(10)
        .peer_no_context_takeover(true);
    for (lines, want) in [
        (
            &["permessage-deflate"][..],
            // No client_max_window_bits offered: the client cannot be
            // limited (§7.1.2.2).
            params(true, true, 9, 15),
        ),
        (
            &["permessage-deflate; client_max_window_bits"],
            params(true, true, 9, 10),
        ),
        (
            &["permessage-deflate; server_max_window_bits=12; client_max_window_bits=9"],
            params(true, true, 9, 9),
        ),
    ] {
        let upgrade = request_with(lines);
        let (got, response) = strict.accept(upgrade.extensions()).expect("accepted");
        assert_eq!(got, want, "{lines:?}");
        let set = param_set(&response);
        assert!(set.contains(&"server_no_context_takeover".to_owned()));
        assert!(set.contains(&"client_no_context_takeover".to_owned()));
        assert!(set.contains(&"server_max_window_bits=9".to_owned()));
        if want.client_max_window_bits < 15 {
            assert!(set.contains(&format!(
                "client_max_window_bits={}",
                want.client_max_window_bits
            )));
        }
        server_keeps_to(strict, got);
    }
}

/// A response's extension header lines, and what the client makes of them.
type ResponseRow<'a> = (&'a [&'a str], Result<Option<DeflateParams>, HandshakeError>);

/// A client with `ours`: its request offering `ours.offer()`, the server's
/// response with `lines` as its extension header lines, and the check.
fn client_reads(
    ours: DeflateConfig,
    lines: &[&str],
) -> Result<Option<DeflateParams>, HandshakeError> {
    let client = ClientHandshake::new(KEY_NONCE).extension(ours.offer());
    let mut response = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    );
    for line in lines {
        response.push_str(&format!("Sec-WebSocket-Extensions: {line}\r\n"));
    }
    response.push_str("\r\n");
    match client.parse_response(response.as_bytes())? {
        HandshakeStatus::Complete(accepted) => ours.check_response(&accepted.extensions),
        HandshakeStatus::Partial => panic!("partial"),
    }
}

#[test]
fn a_client_fails_the_handshake_on_a_response_rfc_7692_forbids() {
    use HandshakeError::BadExtensionResponse as Bad;
    // Offers `permessage-deflate; client_max_window_bits`.
    let plain = DeflateConfig::default();
    let table: &[ResponseRow] = &[
        (&[], Ok(None)),
        (
            &["permessage-deflate"],
            Ok(Some(params(false, false, 15, 15))),
        ),
        // A server may add server_no_context_takeover (§7.1.1.1),
        // client_no_context_takeover (§7.1.1.2), limit itself
        // (§7.1.2.1) and, as the offer allows, the client (§7.1.2.2).
        (
            &["permessage-deflate ;server_no_context_takeover; client_no_context_takeover"],
            Ok(Some(params(true, true, 15, 15))),
        ),
        (
            &["permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=11"],
            Ok(Some(params(false, false, 10, 11))),
        ),
        (&["x-unknown"], Err(HandshakeError::UnofferedExtension)),
        // A response's client_max_window_bits needs a value.
        (&["permessage-deflate; client_max_window_bits"], Err(Bad)),
        (&["permessage-deflate; server_max_window_bits"], Err(Bad)),
        (&["permessage-deflate; server_max_window_bits=16"], Err(Bad)),
        (&["permessage-deflate; server_max_window_bits=7"], Err(Bad)),
        (
            &["permessage-deflate; client_max_window_bits=010"],
            Err(Bad),
        ),
        (
            &["permessage-deflate; client_no_context_takeover=1"],
            Err(Bad),
        ),
        (&["permessage-deflate; mystery"], Err(Bad)),
        (&["permessage-deflate; mystery=1"], Err(Bad)),
        (
            &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            Err(Bad),
        ),
        (
            &["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"],
            Err(Bad),
        ),
        (&["permessage-deflate, permessage-deflate"], Err(Bad)),
        (&["permessage-deflate", "permessage-deflate"], Err(Bad)),
    ];
    for (lines, want) in table {
        assert_eq!(&client_reads(plain, lines), want, "{lines:?}");
    }
    // Offers `server_no_context_takeover; server_max_window_bits=10;
    // client_max_window_bits=12`.
    let strict = DeflateConfig::default()
        .max_window_bits(12)
        .peer_max_window_bits(10)
        .peer_no_context_takeover(true);
    let table: &[ResponseRow] = &[
        (
            &["permessage-deflate; server_no_context_takeover; server_max_window_bits=10"],
            Ok(Some(params(true, false, 10, 12))),
        ),
        (
            &["permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"],
            Ok(Some(params(true, false, 9, 9))),
        ),
        // A window larger than asked for or offered.
        (
            &["permessage-deflate; server_no_context_takeover; server_max_window_bits=11"],
            Err(Bad),
        ),
        (
            &["permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=13"],
            Err(Bad),
        ),
    ];
    for (lines, want) in table {
        assert_eq!(&client_reads(strict, lines), want, "{lines:?}");
    }
}

#[test]
fn a_client_refuses_a_response_without_the_server_no_context_takeover_it_asked_for() {
    // §7.1.1.1: a server accepts an offer with server_no_context_takeover
    // by including it in its response, as it accepts server_max_window_bits
    // by answering it (§7.1.2.1, which check_response already holds); a
    // response without it accepts no offer we made (§5: fail).
    let asks = DeflateConfig::default().peer_no_context_takeover(true);
    assert_eq!(
        asks.offer().to_string(),
        "permessage-deflate; server_no_context_takeover; client_max_window_bits"
    );
    for lines in [
        &["permessage-deflate"][..],
        &["permessage-deflate; client_no_context_takeover"],
        &["permessage-deflate; server_max_window_bits=10"],
    ] {
        assert_eq!(
            client_reads(asks, lines),
            Err(HandshakeError::BadExtensionResponse),
            "{lines:?}"
        );
    }
    assert_eq!(
        client_reads(asks, &["permessage-deflate; server_no_context_takeover"]),
        Ok(Some(params(true, false, 15, 15)))
    );
}

/// One end's preferences, with what they say spelled out for the oracle.
#[derive(Clone, Copy, Debug)]
struct Prefs {
    bits: u8,
    peer_bits: u8,
    nct: bool,
    peer_nct: bool,
}

impl Prefs {
    fn config(self) -> DeflateConfig {
        DeflateConfig::default()
            .max_window_bits(self.bits)
            .peer_max_window_bits(self.peer_bits)
            .no_context_takeover(self.nct)
            .peer_no_context_takeover(self.peer_nct)
            .threshold(0)
    }
}

/// Every combination of both ends' preferences, through the whole
/// handshake: both ends agree on the parameters, which are what RFC 7692
/// makes of the two preferences; then each end's sends are read by a
/// receiver with exactly the window (and context) agreed, and by the other
/// end.
#[test]
fn both_ends_agree_and_each_keeps_to_what_was_agreed() {
    let data = far_referring_messages();
    let servers = [
        Prefs {
            bits: 15,
            peer_bits: 15,
            nct: false,
            peer_nct: false,
        },
        Prefs {
            bits: 10,
            peer_bits: 11,
            nct: false,
            peer_nct: false,
        },
        Prefs {
            bits: 13,
            peer_bits: 9,
            nct: true,
            peer_nct: true,
        },
    ];
    for bits in [9, 12, 15] {
        for peer_bits in [9, 10, 15] {
            for nct in [false, true] {
                for peer_nct in [false, true] {
                    let client = Prefs {
                        bits,
                        peer_bits,
                        nct,
                        peer_nct,
                    };
                    for server in servers {
                        one_handshake_and_exchange(client, server, &data);
                    }
                }
            }
        }
    }
}

fn one_handshake_and_exchange(client_prefs: Prefs, server_prefs: Prefs, data: &[Vec<u8>]) {
    let what = format!("client {client_prefs:?} server {server_prefs:?}");
    let (client_cfg, server_cfg) = (client_prefs.config(), server_prefs.config());
    let client = ClientHandshake::new(KEY_NONCE)
        .target("example.com", "/")
        .unwrap()
        .extension(ExtensionOffer::new("x-first").unwrap())
        .extension(client_cfg.offer());
    let request = client.to_bytes();
    let Ok(HandshakeStatus::Complete((upgrade, _))) = UpgradeRequest::parse(&request) else {
        panic!("{what}: request refused")
    };
    let (server_params, answer) = server_cfg
        .accept(upgrade.extensions())
        .unwrap_or_else(|| panic!("{what}: declined"));
    let response = upgrade.accept().extension(answer).unwrap().to_bytes();
    let Ok(HandshakeStatus::Complete(accepted)) = client.parse_response(&response) else {
        panic!("{what}: 101 refused")
    };
    let client_params = client_cfg
        .check_response(&accepted.extensions)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .unwrap_or_else(|| panic!("{what}: not accepted"));
    assert_eq!(client_params, server_params, "{what}");
    // What the RFC makes of the two preferences (our client always offers
    // client_max_window_bits, so the server may limit it).
    let want = params(
        client_prefs.peer_nct || server_prefs.nct,
        client_prefs.nct || server_prefs.peer_nct,
        client_prefs.peer_bits.min(server_prefs.bits),
        client_prefs.bits.min(server_prefs.peer_bits),
    );
    assert_eq!(server_params, want, "{what}");

    let config = |cfg: DeflateConfig| Config::builder().deflate(Some(cfg)).build();
    let mut server =
        Connection::with_deflate(Role::Server, config(server_cfg), Some(server_params));
    let mut client_conn =
        Connection::with_deflate(Role::Client, config(client_cfg), Some(client_params));
    for d in data {
        server.send(Message::Binary(d.clone().into())).unwrap();
        client_conn.send(text(d)).unwrap();
    }
    let (to_client, to_server) = (server.take_output(), client_conn.take_output());
    assert_sender_kept_to(
        &to_client,
        data,
        server_params.server_max_window_bits,
        server_params.server_no_context_takeover,
    );
    assert_sender_kept_to(
        &to_server,
        data,
        client_params.client_max_window_bits,
        client_params.client_no_context_takeover,
    );
    // And each end reads the other.
    client_conn.receive(&to_client);
    server.receive(&to_server);
    for d in data {
        assert_eq!(
            client_conn.next_event(),
            Some(Event::Message(Message::Binary(d.clone().into()))),
            "{what}"
        );
        assert_eq!(server.next_event(), Some(Event::Message(text(d))), "{what}");
    }
}

// ---------------------------------------------------------------------------
// The send side.

fn server_sending(cfg: DeflateConfig, negotiated: DeflateParams) -> Connection {
    Connection::with_deflate(
        Role::Server,
        Config::builder().deflate(Some(cfg)).build(),
        Some(negotiated),
    )
}

/// Each message in `out` through one reference context (takeover) or a
/// fresh one each: (compressed, data).
fn read_back(out: &[u8], fresh_each: bool) -> Vec<(bool, Vec<u8>)> {
    let mut receiver = WindowedInflater::new(15, fresh_each);
    messages_of(out)
        .into_iter()
        .map(|m| {
            let payload = m.frames.concat();
            match m.compressed {
                true => (
                    true,
                    receiver
                        .message(&payload)
                        .unwrap_or_else(|| panic!("does not inflate: {payload:02x?}")),
                ),
                false => (false, payload),
            }
        })
        .collect()
}

#[test]
fn the_threshold_and_the_per_message_choice() {
    for takeover in [TAKEOVER, NO_TAKEOVER] {
        let mut server = server_sending(DeflateConfig::default().threshold(100), takeover);
        let small = letters(5, 99);
        let exact = letters(6, 100);
        server.send(text(&small)).unwrap();
        server.send(text(&exact)).unwrap();
        server.send_compressed(text(&small), true).unwrap();
        server.send_compressed(text(&exact), false).unwrap();
        server.send_compressed(Message::from(""), true).unwrap();
        server
            .send_compressed(Message::Binary(Vec::new().into()), true)
            .unwrap();
        server.send(text(&exact)).unwrap();
        let got = read_back(&server.take_output(), takeover.server_no_context_takeover);
        assert_eq!(
            got,
            vec![
                (false, small.clone()),
                (true, exact.clone()),
                (true, small),
                (false, exact.clone()),
                (true, Vec::new()),
                (true, Vec::new()),
                (true, exact),
            ],
            "{takeover:?}"
        );
    }
    // Threshold 0: even the empty message is compressed, and its payload is
    // not empty (an empty payload with the tail appended is no block).
    let mut server = server_sending(DeflateConfig::default().threshold(0), TAKEOVER);
    server.send(Message::from("")).unwrap();
    server.send(Message::from("abc")).unwrap();
    server.send(Message::from("")).unwrap();
    let out = server.take_output();
    for m in messages_of(&out) {
        assert!(m.compressed);
        assert!(!m.frames.concat().is_empty());
    }
    assert_eq!(
        read_back(&out, false),
        vec![(true, vec![]), (true, b"abc".to_vec()), (true, vec![])]
    );
}

#[test]
fn fragmented_sends_compress_one_stream_with_rsv1_on_the_first_frame_only() {
    let a = letters(7, 3000);
    let b = letters(8, 10);
    // (fragments, with a ping after each but the last)
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![a.clone(), b.clone(), a.clone()],
        vec![a.clone(), Vec::new(), b.clone()],
        vec![a.clone(), b.clone(), Vec::new()],
        vec![a.clone(), Vec::new(), Vec::new()],
        vec![a.clone()],
        vec![a[..1500].to_vec(), a[1500..].to_vec()],
    ];
    for takeover in [TAKEOVER, NO_TAKEOVER] {
        for level in [0, 1, 6, 9] {
            let cfg = DeflateConfig::default().threshold(1000).level(level);
            let mut server = server_sending(cfg, takeover);
            let mut want = Vec::new();
            for (i, fragments) in cases.iter().enumerate() {
                let binary = i % 2 == 1;
                let n = fragments.len();
                for (j, fragment) in fragments.iter().enumerate() {
                    let message = match binary {
                        true => Message::Binary(fragment.clone().into()),
                        false => text(fragment),
                    };
                    server.send_fragment(message, j + 1 == n).unwrap();
                    if j + 1 < n {
                        server.ping(b"between").unwrap();
                    }
                }
                // And a whole message after it, referring back to it.
                server.send(text(&a)).unwrap();
                want.push((true, fragments.concat()));
                want.push((true, a.clone()));
            }
            let out = server.take_output();
            let what = format!("{takeover:?} level {level}");
            let pings = frames_of(&out)
                .iter()
                .filter(|(first, p)| *first == FIN | PING && p == b"between")
                .count();
            assert_eq!(pings, 9, "{what}");
            assert_eq!(
                read_back(&out, takeover.server_no_context_takeover),
                want,
                "{what}"
            );
            // And our own client reads it, fed every way.
            let input = out.to_vec();
            // No pongs: a client with deflate masks with the OS's keys,
            // which differ from run to run.
            let quiet = Config::builder().auto_pong(false).build();
            let make = || Connection::with_deflate(Role::Client, quiet, Some(takeover));
            let got = same_every_way(&what, &make, &input, false, |(events, _)| {
                seen(events, Pings::Skipped)
            });
            let want_seen: Vec<Seen> = want
                .iter()
                .enumerate()
                .map(|(k, (_, d))| Seen::Message(!(k % 2 == 0 && (k / 2) % 2 == 1), d.clone()))
                .collect();
            assert_eq!(got, want_seen, "{what}");
        }
    }
}

#[test]
fn level_zero_and_payloads_ending_like_the_tail() {
    // Stored blocks only: messages up to and past a stored block's 65,535
    // bytes, and data that ends in 00 00 FF FF itself.
    let mut tails = letters(9, 70_000);
    tails.extend_from_slice(&TAIL);
    let datas: Vec<Vec<u8>> = vec![
        TAIL.to_vec(),
        [&b"x"[..], &TAIL, &TAIL].concat(),
        letters(10, 65_535),
        letters(11, 65_536),
        tails.clone(),
        vec![0; 200_000],
    ];
    for level in [0, 1, 9] {
        for takeover in [TAKEOVER, NO_TAKEOVER] {
            let mut server =
                server_sending(DeflateConfig::default().threshold(0).level(level), takeover);
            for d in &datas {
                server.send(Message::Binary(d.clone().into())).unwrap();
                server
                    .send_fragment(Message::Binary(d.clone().into()), false)
                    .unwrap();
                server
                    .send_fragment(Message::Binary(TAIL.to_vec().into()), true)
                    .unwrap();
            }
            let out = server.take_output();
            let mut want = Vec::new();
            for d in &datas {
                want.push(d.clone());
                want.push([&d[..], &TAIL].concat());
            }
            // A 15-bit reference context (zeros are in the data here, so
            // the takeover check is the reference inflater's).
            let messages = messages_of(&out);
            let mut receiver = WindowedInflater::new(15, takeover.server_no_context_takeover);
            for (m, d) in messages.iter().zip(&want) {
                assert!(m.compressed);
                let payload = m.frames.concat();
                assert_eq!(
                    receiver.message(&payload).as_ref(),
                    Some(d),
                    "level {level}"
                );
                if takeover.server_no_context_takeover {
                    assert_eq!(reference_inflate(&payload).as_ref(), Some(d));
                }
            }
            assert_eq!(messages.len(), want.len());
        }
    }
}

#[test]
fn a_send_refused_for_a_full_output_compresses_nothing() {
    // The peer takes the context over: if the refused send had gone
    // through the compressor, the retry would refer to bytes never sent.
    let data = far_referring_messages();
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .max_output_buffer(1)
        .build();
    let mut server = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    let mut out = Vec::new();
    for d in &data {
        server.send(text(d)).unwrap();
        // Refused while the last one waits, whole and as fragments.
        assert!(server.send(text(d)).is_err());
        assert!(server.send_compressed(text(d), true).is_err());
        assert!(server.send_fragment(text(d), false).is_err());
        out.extend_from_slice(&server.take_output());
    }
    // A fragmented message refused half way, then finished.
    server.send_fragment(text(&data[0]), false).unwrap();
    assert!(server.send_fragment(text(&data[1]), false).is_err());
    out.extend_from_slice(&server.take_output());
    server.send_fragment(text(&data[2]), true).unwrap();
    out.extend_from_slice(&server.take_output());
    let mut want = data.clone();
    want.push([&data[0][..], &data[2]].concat());
    assert_sender_kept_to(&out, &want, 15, false);
}

#[test]
fn a_fragment_out_of_order_leaves_the_compressed_message_intact() {
    let data = far_referring_messages();
    let mut server = server_sending(DeflateConfig::default().threshold(0), TAKEOVER);
    server.send_fragment(text(&data[0]), false).unwrap();
    assert!(server.send(text(&data[1])).is_err());
    assert!(server.send_compressed(text(&data[1]), true).is_err());
    assert!(server
        .send_fragment(Message::Binary(data[1].clone().into()), true)
        .is_err());
    server.send_fragment(text(&data[2]), true).unwrap();
    server.send(text(&data[1])).unwrap();
    assert_sender_kept_to(
        &server.take_output(),
        &[[&data[0][..], &data[2]].concat(), data[1].clone()],
        15,
        false,
    );
}

// ---------------------------------------------------------------------------
// The receive side.

#[test]
fn a_compressed_message_split_at_every_byte() {
    let text = "Grüße, 世界! ".repeat(3);
    let payload = sync_compressed(text.as_bytes(), 6);
    let binary = sync_compressed(&letters(12, 40), 9);
    for (opcode, payload) in [(TEXT, &payload), (BINARY, &binary)] {
        for cut in 0..=payload.len() {
            let halves = msg(opcode, &[&payload[..cut], &payload[cut..]]);
            let with_ping = Msg {
                ping_after: Some(0),
                ..halves.clone()
            };
            check(&format!("cut at {cut}"), &[halves], 1 << 20);
            check(&format!("cut at {cut}, ping"), &[with_ping], 1 << 20);
        }
        // One byte a fragment, a ping after the first.
        let bytes: Vec<&[u8]> = payload.chunks(1).collect();
        let mut one_each = msg(opcode, &bytes);
        check("one byte a fragment", &[one_each.clone()], 1 << 20);
        one_each.ping_after = Some(0);
        check("one byte a fragment, ping", &[one_each], 1 << 20);
    }
}

/// The close code a server fed `input` ends with, the same every way, and
/// the same on the wire.
fn close_code(make: &dyn Fn() -> Connection, input: &[u8]) -> u16 {
    let (events, code_on_wire) = same_every_way("rsv", make, input, true, |(events, out)| {
        (seen(events, Pings::Skipped), close_code_on_wire(&out))
    });
    let Some(Seen::Closed(code, _)) = events.last() else {
        panic!("no close: {events:?}")
    };
    assert_eq!(code_on_wire, Some(*code));
    *code
}

#[test]
fn rsv1_where_rfc_7692_does_not_allow_it_is_a_protocol_error() {
    let hello = sync_compressed(b"Hello", 6);
    let close = client(FIN | CLOSE, &close_payload(1000, b""));
    let deflate = || Connection::with_deflate(Role::Server, Config::default(), Some(TAKEOVER));
    let none = || Connection::with_deflate(Role::Server, Config::default(), None);
    let plain = || Connection::new(Role::Server, Config::default());
    type Case<'a> = (&'a str, &'a dyn Fn() -> Connection, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        (
            "on a continuation",
            &deflate,
            [
                client(RSV1 | TEXT, &hello[..2]),
                client(FIN | RSV1 | CONT, &hello[2..]),
            ]
            .concat(),
            1002,
        ),
        (
            "on a continuation of an uncompressed message",
            &deflate,
            [client(TEXT, b"He"), client(FIN | RSV1 | CONT, b"llo")].concat(),
            1002,
        ),
        ("on a ping", &deflate, client(FIN | RSV1 | PING, b""), 1002),
        (
            "on a ping inside a compressed message",
            &deflate,
            [
                client(RSV1 | TEXT, &hello[..2]),
                client(FIN | RSV1 | PING, b"p"),
                client(FIN | CONT, &hello[2..]),
            ]
            .concat(),
            1002,
        ),
        ("on a pong", &deflate, client(FIN | RSV1 | PONG, b""), 1002),
        (
            "on a close",
            &deflate,
            client(FIN | RSV1 | CLOSE, &close_payload(1000, b"")),
            1002,
        ),
        ("RSV2", &deflate, client(FIN | 0x20 | TEXT, b"Hello"), 1002),
        (
            "RSV3",
            &deflate,
            client(FIN | 0x10 | BINARY, b"Hello"),
            1002,
        ),
        (
            "not negotiated",
            &none,
            client(FIN | RSV1 | TEXT, &hello),
            1002,
        ),
        (
            "no extension",
            &plain,
            client(FIN | RSV1 | BINARY, &hello),
            1002,
        ),
        // Allowed: compressed, then an uncompressed message.
        (
            "allowed",
            &deflate,
            [
                client(FIN | RSV1 | TEXT, &hello),
                client(FIN | TEXT, b"Hello"),
            ]
            .concat(),
            1000,
        ),
    ];
    for (what, make, input, want) in cases {
        let input = [input, close.clone()].concat();
        assert_eq!(close_code(make, &input), want, "{what}");
    }
}

#[test]
fn empty_messages_final_blocks_and_context_after_them() {
    let hello = sync_compressed(b"Hello", 6);
    let bfinal = final_compressed(b"Hello", 6);
    let bfinal_00 = [&bfinal[..], &[0x00]].concat();
    // An empty fixed block, as Python's zlib writes an empty message.
    let empty_fixed = [0x02, 0x00];
    check(
        "empty messages",
        &[
            msg(TEXT, &[&[0x00]]),
            msg(BINARY, &[&empty_fixed]),
            msg(TEXT, &[&[][..], &[0x00][..], &[][..]]),
            msg(TEXT, &[&hello]),
        ],
        100,
    );
    check(
        "final blocks, then fresh messages",
        &[
            msg(TEXT, &[&bfinal]),
            msg(TEXT, &[&hello]),
            msg(BINARY, &[&bfinal_00[..3], &bfinal_00[3..]]),
            msg(TEXT, &[&[0x00]]),
            pinged(TEXT, &bfinal),
            msg(TEXT, &[&hello]),
        ],
        100,
    );
    // A message after a final block that refers back into it: a new stream
    // starts, so the reference reaches before the start (1007) whatever
    // context is negotiated.
    let mut takeover = flate2::Compress::new(flate2::Compression::default(), false);
    let first = sync_message(&mut takeover, b"Hello, Hello");
    let second = sync_message(&mut takeover, b"Hello, Hello");
    let final_first = final_compressed(b"Hello, Hello", 6);
    for params in [TAKEOVER, NO_TAKEOVER] {
        let refers_back = run(
            params,
            &[msg(TEXT, &[&final_first]), msg(TEXT, &[&second])],
            100,
        );
        assert_eq!(
            refers_back,
            vec![
                Seen::Message(true, b"Hello, Hello".to_vec()),
                Seen::Closed(1007, true)
            ]
        );
    }
    // With takeover negotiated, the same reference after a sync-flushed
    // message reads the context.
    assert_eq!(
        run(
            TAKEOVER,
            &[msg(TEXT, &[&first]), msg(TEXT, &[&second])],
            100
        ),
        vec![
            Seen::Message(true, b"Hello, Hello".to_vec()),
            Seen::Message(true, b"Hello, Hello".to_vec()),
            Seen::Closed(1000, false)
        ]
    );
}

#[test]
fn inflated_size_exact_and_one_over_the_limit() {
    for len in [0usize, 1, 125, 4096, 20_000] {
        let data = letters(13, len);
        let payload = sync_compressed(&data, 6);
        let thirds = pinged(BINARY, &payload);
        for limit in [len.saturating_sub(1), len, len + 1] {
            for m in [msg(BINARY, &[&payload]), thirds.clone()] {
                let got = run(NO_TAKEOVER, &[m.clone(), msg(TEXT, &[&[0x00]])], limit);
                let want = if len > limit {
                    vec![Seen::Closed(1009, true)]
                } else {
                    vec![
                        Seen::Message(false, data.clone()),
                        Seen::Message(true, Vec::new()),
                        Seen::Closed(1000, false),
                    ]
                };
                assert_eq!(got, want, "len {len} limit {limit}");
            }
        }
    }
}

#[test]
fn a_bomb_in_fragments_with_pings_between() {
    // 512 KiB of zeros in ~1 KiB of compressed data, in 30 fragments with
    // a ping after the first; limits well under it, and just over.
    let zeros = vec![0u8; 512 * 1024];
    let payload = sync_compressed(&zeros, 9);
    let pieces: Vec<&[u8]> = payload.chunks(payload.len() / 30 + 1).collect();
    let mut bomb = msg(BINARY, &pieces);
    bomb.ping_after = Some(0);
    for limit in [0, 1000, 64 * 1024, zeros.len() - 1] {
        assert_eq!(
            run(TAKEOVER, &[bomb.clone()], limit),
            vec![Seen::Closed(1009, true)],
            "limit {limit}"
        );
    }
    assert_eq!(
        run(TAKEOVER, &[bomb.clone()], zeros.len()),
        vec![
            Seen::Message(false, zeros.clone()),
            Seen::Closed(1000, false)
        ]
    );
    // The limit applies to what a streamed message inflates to as well.
    let config = Config::builder()
        .max_message_size(64 * 1024)
        .streaming(true)
        .build();
    let mut server = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    server.receive(&wire(&[bomb]));
    let mut streamed = 0;
    let mut closed = None;
    while let Some(event) = server.next_event() {
        match event {
            Event::Chunk { data, .. } => streamed += data.as_bytes().len(),
            Event::Closed(c) => closed = Some(c.error),
            _ => {}
        }
    }
    assert!(streamed <= 64 * 1024, "{streamed} bytes streamed");
    assert!(
        matches!(closed, Some(Some(ProtocolError::MessageTooBig { .. }))),
        "{closed:?}"
    );
}

#[test]
fn every_window_and_memory_level_keeps_to_its_window() {
    let data = far_referring_messages();
    for bits in 8..=15 {
        for memory_level in [1, 2, 5, 8, 9] {
            for level in [0, 1, 9] {
                let cfg = DeflateConfig::default()
                    .threshold(0)
                    .max_window_bits(bits)
                    .memory_level(memory_level)
                    .level(level);
                for nct in [false, true] {
                    let agreed = params(nct, false, bits, 15);
                    let mut server = server_sending(cfg, agreed);
                    for d in &data {
                        server.send(text(d)).unwrap();
                        server
                            .send_fragment(text(&d[..d.len() / 2]), false)
                            .unwrap();
                        server.send_fragment(text(&d[d.len() / 2..]), true).unwrap();
                    }
                    let want: Vec<Vec<u8>> =
                        data.iter().flat_map(|d| [d.clone(), d.clone()]).collect();
                    assert_sender_kept_to(&server.take_output(), &want, bits, nct);
                }
            }
        }
    }
}

#[test]
fn send_split_with_deflate_and_uncompressed_messages_between() {
    let data = far_referring_messages();
    let big = letters(20, 40_000);
    let cfg = DeflateConfig::default().threshold(1000);
    let mut server = server_sending(cfg, TAKEOVER);
    let mut out = Vec::new();
    for d in &data {
        let rest = server.send_split(text(d)).unwrap();
        out.extend_from_slice(&server.take_output());
        out.extend_from_slice(&rest);
        // An uncompressed fragmented message between.
        server.send_fragment(text(b"ab"), false).unwrap();
        server.send_fragment(text(d), true).unwrap();
        let rest = server
            .send_split(Message::Binary(big.clone().into()))
            .unwrap();
        out.extend_from_slice(&server.take_output());
        out.extend_from_slice(&rest);
    }
    let mut want = Vec::new();
    for d in &data {
        want.push((d.len() >= 1000, d.clone()));
        want.push((false, [&b"ab"[..], d].concat()));
        want.push((true, big.clone()));
    }
    assert_eq!(read_back(&out, false), want);
}

#[test]
fn a_client_reads_a_server_held_to_any_window() {
    // A client told server_max_window_bits=8 (or any) inflates what a
    // server with that window (9 bits is the reference compressor's
    // least) writes, context kept.
    for sbits in 8..=15 {
        let agreed = params(false, false, sbits, 15);
        let mut compressor = flate2::Compress::new_with_window_bits(
            flate2::Compression::default(),
            false,
            sbits.max(9),
        );
        let data = far_referring_messages();
        let mut input = Vec::new();
        for d in &data {
            input.extend(raw_frame(
                FIN | RSV1 | BINARY,
                &sync_message(&mut compressor, d),
                None,
            ));
        }
        // No close: the client's answer is masked with the OS's keys.
        let quiet = Config::builder().auto_pong(false).build();
        let make = || Connection::with_deflate(Role::Client, quiet, Some(agreed));
        let got = same_every_way(&format!("{sbits}"), &make, &input, false, |(events, _)| {
            seen(events, Pings::Unexpected)
        });
        let want: Vec<Seen> = data
            .iter()
            .map(|d| Seen::Message(false, d.clone()))
            .collect();
        assert_eq!(got, want, "server_max_window_bits={sbits}");
    }
}

#[test]
fn streaming_a_large_compressed_frame_hands_it_out_in_bounded_pieces() {
    // Streaming with the limit lifted (Config::max_message_size: "in
    // streaming mode nothing is buffered, so it can be lifted with
    // u64::MAX"; issue 15: streaming "keeping only the sliding window, so
    // a 1 GiB compressed message needs no 1 GiB buffer"): one frame of
    // 64 MiB of zeros, ~64 KiB compressed, read at once, comes out in
    // pieces of at most 4 MiB, not as one piece of the whole message.
    let zeros = vec![0u8; 64 << 20];
    let payload = sync_compressed(&zeros, 9);
    let input = raw_frame(FIN | RSV1 | BINARY, &payload, Some(KEY));
    for use_read_buf in [false, true] {
        let config = Config::builder()
            .max_message_size(u64::MAX)
            .streaming(true)
            .build();
        let mut server = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
        if use_read_buf {
            server.read_buf().extend_from_slice(&input);
        } else {
            server.receive(&input);
        }
        let (mut total, mut largest, mut last_seen) = (0, 0, false);
        while let Some(event) = server.next_event() {
            let Event::Chunk { data, last } = event else {
                panic!("{event:?}")
            };
            assert!(data.as_bytes().iter().all(|&b| b == 0));
            total += data.as_bytes().len();
            largest = largest.max(data.as_bytes().len());
            last_seen = last;
        }
        assert!(last_seen);
        assert_eq!(total, zeros.len());
        assert!(largest <= 4 << 20, "a piece of {largest} bytes");
    }
}

/// The largest block each thread asks for (common's allocator).
#[global_allocator]
static ALLOCATOR: common::largest_block::LargestPerThread = common::largest_block::LargestPerThread;

#[test]
fn no_block_past_the_limit_plus_one_whole_or_streaming() {
    // A limit larger than every other block (the read buffer of 1 KiB
    // reads, the inflater's state): messages inflating to the limit and
    // one past it, and a 4 MiB bomb in pinged fragments, fed in 1 KiB
    // reads through both input paths, whole messages and streaming.
    const LIMIT: usize = 256 * 1024;
    let exact = sync_compressed(&letters(30, LIMIT), 6);
    let over = sync_compressed(&letters(31, LIMIT + 1), 6);
    let zeros = sync_compressed(&vec![0; 4 << 20], 9);
    let pieces: Vec<&[u8]> = zeros.chunks(zeros.len() / 40 + 1).collect();
    let mut bomb = msg(BINARY, &pieces);
    bomb.ping_after = Some(0);
    let cases = [
        ("exact", wire(&[msg(BINARY, &[&exact])]), 1000),
        ("exact, pinged", wire(&[pinged(BINARY, &exact)]), 1000),
        ("one over", wire(&[msg(BINARY, &[&over])]), 1009),
        ("one over, pinged", wire(&[pinged(TEXT, &over)]), 1009),
        ("bomb", wire(&[bomb]), 1009),
    ];
    for streaming in [false, true] {
        for (what, input, code) in &cases {
            let cuts: Vec<usize> = (1024..input.len()).step_by(1024).collect();
            for use_read_buf in [false, true] {
                let config = Config::builder()
                    .max_message_size(LIMIT as u64)
                    .streaming(streaming)
                    .build();
                let mut server = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
                common::largest_block::reset();
                let (events, out) = feed_cut(&mut server, input, &cuts, use_read_buf);
                let largest = common::largest_block::largest();
                let seen = seen(events, Pings::Skipped);
                assert_eq!(
                    seen.last(),
                    Some(&Seen::Closed(*code, *code != 1000)),
                    "{what}"
                );
                assert_eq!(close_code_on_wire(&out), Some(*code));
                assert!(
                    largest <= LIMIT + 1,
                    "{what} (streaming {streaming}, read_buf {use_read_buf}): a block of {largest} bytes"
                );
                if !streaming && *code == 1000 {
                    // The tracker sees the message's own buffer.
                    assert!(largest >= LIMIT, "{what}: {largest}");
                }
                drop(server);
            }
        }
    }
}
