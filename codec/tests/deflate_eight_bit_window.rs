//! permessage-deflate with the smallest window RFC 7692 allows, 8 bits (256
//! bytes, §7.1.2), honoured in both roles: a server answers an offer of
//! `server_max_window_bits=8` with `=8` and a client accepts an answer of
//! `client_max_window_bits=8` (issue 15; before, the first was declined and
//! the second failed the handshake).
//!
//! zlib-rs refuses a raw 8-bit window, so our compressor sets it to 9 bits,
//! where zlib (and zlib-rs) never refer back more than `512 - 262 = 250`
//! bytes (`MAX_DIST`, checked for every match). What that promise rests on
//! is tested here, on the wire:
//! - `what_we_compress_at_8_bits_reads_with_a_256_byte_window` (proptest):
//!   random, repetitive, text-like, long-run and near-the-edge data, many
//!   messages with and without context takeover, whole and in fragments,
//!   at every level and memory level, both roles, the 8 agreed through a
//!   real handshake. Read by our inflater of the negotiated 8 bits (a ring
//!   of 256 bytes: a distance past it is 1007), by the test oracle of
//!   exactly 256 bytes (`WindowedInflater`) and by flate2's 32 KiB
//!   inflater; all three must give the bytes sent.
//! - the check can fail: `a_compressor_reaching_past_256_bytes_is_1007`
//!   sends our 8-bit receivers what zlib writes at 10 bits, and
//!   `the_compressor_uses_its_250_bytes` shows that our compressor does
//!   refer back past 128 bytes (a receiver of 7 bits refuses it), so the
//!   reads above are not passing on streams that never come near the edge.
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{frames_of, incompressible, inflate_next, messages_of, WindowedInflater};
use common::sample_handshake::{SAMPLE_ACCEPT, SAMPLE_NONCE};
use common::{raw_frame, same_every_way, CLOSE, FIN, KEY};
use flate2::{Compress, Compression, Decompress};
use proptest::prelude::*;
use wsframe::handshake::{ClientHandshake, Status, UpgradeRequest};
use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

/// Who asks for the 8-bit window in the handshake.
#[derive(Clone, Copy, Debug)]
enum SetBy {
    /// The compressing side: its `max_window_bits(8)`.
    Sender,
    /// The receiving side: its `peer_max_window_bits(8)`.
    Receiver,
}

/// The request and 101 bytes, and the parameters both ends agreed on, for
/// a client offering `client_cfg` to a server accepting with `server_cfg`;
/// both ends must agree.
fn handshake(
    client_cfg: DeflateConfig,
    server_cfg: DeflateConfig,
) -> (String, String, DeflateParams) {
    let client = ClientHandshake::new(SAMPLE_NONCE)
        .target("example.com", "/chat")
        .unwrap()
        .extension(client_cfg.offer());
    let request = client.to_bytes();
    let Ok(Status::Complete((upgrade, _))) = UpgradeRequest::parse(&request) else {
        panic!("request refused")
    };
    let accept = upgrade.accept().deflate(Some(server_cfg));
    let server_params = accept.deflate_params().expect("the server declined");
    let response = accept.to_bytes();
    let Ok(Status::Complete(accepted)) = client.parse_response(&response) else {
        panic!("101 refused")
    };
    let client_params = client_cfg
        .check_response(&accepted.extensions)
        .expect("the client failed the handshake")
        .expect("not accepted");
    assert_eq!(client_params, server_params);
    (
        String::from_utf8(request).unwrap(),
        String::from_utf8(response).unwrap(),
        server_params,
    )
}

/// A sender of `role` and the parameters of the handshake that connected
/// it to its peer, in which `set_by` asked for an 8-bit window for the
/// sender's compressor.
fn sender(
    role: Role,
    set_by: SetBy,
    takeover: bool,
    level: u32,
    memory_level: u8,
) -> (Connection, DeflateParams) {
    let mut sender = DeflateConfig::default()
        .threshold(0)
        .level(level)
        .memory_level(memory_level)
        .no_context_takeover(!takeover);
    let mut receiver = DeflateConfig::default();
    match set_by {
        SetBy::Sender => sender = sender.max_window_bits(8),
        SetBy::Receiver => receiver = receiver.peer_max_window_bits(8),
    }
    let (client_cfg, server_cfg) = match role {
        Role::Client => (sender, receiver),
        Role::Server => (receiver, sender),
    };
    let (_, _, params) = handshake(client_cfg, server_cfg);
    let (bits, no_takeover) = match role {
        Role::Server => (
            params.server_max_window_bits,
            params.server_no_context_takeover,
        ),
        Role::Client => (
            params.client_max_window_bits,
            params.client_no_context_takeover,
        ),
    };
    assert_eq!((bits, no_takeover), (8, !takeover), "{params:?}");
    let sending = Config::builder().deflate(Some(sender)).build();
    (
        Connection::with_deflate(role, sending, Some(params)),
        params,
    )
}

/// The other end.
fn peer(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

/// Everything `conn` has to write.
fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    while conn.has_output() {
        let run = conn.pending_output();
        wire.extend_from_slice(run);
        let written = run.len();
        conn.consume_output(written);
    }
    wire
}

/// `messages` (each as its fragments) through `sender`: the bytes written
/// and each message's payload (its frames joined), checked compressed.
fn send(sender: &mut Connection, messages: &[Vec<Vec<u8>>]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut wire = Vec::new();
    for fragments in messages {
        if let [whole] = &fragments[..] {
            sender.send(Message::Binary(whole.clone().into())).unwrap();
        } else {
            for (i, fragment) in fragments.iter().enumerate() {
                let fin = i + 1 == fragments.len();
                sender
                    .send_fragment(Message::Binary(fragment.clone().into()), fin)
                    .unwrap();
            }
        }
        wire.extend(drain(sender));
    }
    let payloads = messages_of(&wire)
        .into_iter()
        .map(|m| {
            assert!(m.compressed, "RSV1: compressed");
            m.frames.concat()
        })
        .collect();
    (wire, payloads)
}

/// What an endpoint of `role` with `params` reads of `wire`: the messages,
/// or the code of the close that ended them (1007 for a distance past its
/// window). Fed whole, byte by byte and, with `every_cut`, cut at every
/// point, through both input paths: the same every way.
fn read(
    role: Role,
    params: DeflateParams,
    wire: &[u8],
    every_cut: bool,
) -> Result<Vec<Vec<u8>>, Option<u16>> {
    // A fixed mask: a client's output is the same every run.
    let make = || {
        Connection::with_deflate_and_mask_source(
            role,
            Config::default(),
            Some(params),
            Box::new(|| KEY),
        )
    };
    same_every_way(
        &format!("{role:?} {params:?}"),
        &make,
        wire,
        every_cut,
        |(events, out)| {
            let mut got = Vec::new();
            for event in events {
                match event {
                    Event::Message(m) => got.push(m.as_bytes().to_vec()),
                    _ => return Err(close_code(&out)),
                }
            }
            Ok(got)
        },
    )
}

/// The code of the close frame in `out` (masked or not).
fn close_code(out: &[u8]) -> Option<u16> {
    frames_of(out)
        .into_iter()
        .find(|(first, _)| first & 0x0F == CLOSE)
        .map(|(_, payload)| u16::from_be_bytes([payload[0], payload[1]]))
}

/// Kinds of data, as `(kind, len, seed)`.
fn data(kind: u8, len: usize, seed: u64) -> Vec<u8> {
    let noise = incompressible(len.max(1), seed.wrapping_mul(2) | 1);
    match kind % 6 {
        // Noise: no match at all, or chance ones.
        0 => noise[..len].to_vec(),
        // A short pattern repeated: matches at small distances.
        1 => {
            let period = 1 + (seed % 40) as usize;
            (0..len).map(|i| noise[i % period]).collect()
        }
        // Text-like: words from a small vocabulary.
        2 => {
            const WORDS: [&str; 12] = [
                "the ",
                "window ",
                "deflate ",
                "message ",
                "of ",
                "{\"id\":",
                "42, ",
                "\"name\":\"user\"}",
                "permessage ",
                "bits ",
                "\n",
                "socket ",
            ];
            let mut out = Vec::with_capacity(len + 16);
            let mut i = 0;
            while out.len() < len {
                out.extend_from_slice(
                    WORDS[noise[i % noise.len()] as usize % WORDS.len()].as_bytes(),
                );
                i += 1;
            }
            out.truncate(len);
            out
        }
        // Long runs of a byte, changing now and then.
        3 => {
            let mut out = Vec::with_capacity(len);
            let mut i = 0;
            while out.len() < len {
                let run = 1 + noise[i % noise.len()] as usize * 8;
                out.extend(std::iter::repeat_n(noise[(i + 1) % noise.len()] % 4, run));
                i += 2;
            }
            out.truncate(len);
            out
        }
        // Blocks of noise each followed by a copy of up to 258 bytes from
        // 200 to 300 bytes back: the only matches sit around the edge
        // (250 reachable; 251 to 300 not).
        4 => {
            let mut out = Vec::with_capacity(len + 600);
            let mut i = 0;
            while out.len() < len {
                let d = 200 + (noise[i % noise.len()] as usize % 101);
                out.extend(incompressible(
                    d,
                    seed.wrapping_add(i as u64).wrapping_mul(2) | 1,
                ));
                let copy = 3 + noise[(i + 1) % noise.len()] as usize % 256;
                for _ in 0..copy {
                    out.push(out[out.len() - d]);
                }
                i += 2;
            }
            out.truncate(len);
            out
        }
        // A mix: noise with long repeats from across the whole message.
        _ => {
            let mut out = noise[..len.min(300)].to_vec();
            let mut i = 0;
            while out.len() < len {
                let from = noise[i % noise.len()] as usize * out.len() / 256;
                let take = (1 + noise[(i + 1) % noise.len()] as usize * 4).min(out.len() - from);
                let piece = out[from..from + take].to_vec();
                out.extend(piece);
                out.push(noise[(i + 2) % noise.len()]);
                i += 3;
            }
            out.truncate(len);
            out
        }
    }
}

/// One generated message: its data's kind, length and seed, and how many
/// fragments it is sent in.
fn message() -> impl Strategy<Value = (u8, usize, u64, usize)> {
    (0u8..6, 0usize..6000, any::<u64>(), 1usize..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn what_we_compress_at_8_bits_reads_with_a_256_byte_window(
        server in any::<bool>(),
        by_sender in any::<bool>(),
        takeover in any::<bool>(),
        level in 0u32..=9,
        memory_level in 1u8..=9,
        shapes in prop::collection::vec(message(), 1..12),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let set_by = if by_sender { SetBy::Sender } else { SetBy::Receiver };
        let (mut sender, params) = sender(role, set_by, takeover, level, memory_level);
        let messages: Vec<Vec<Vec<u8>>> = shapes
            .iter()
            .map(|&(kind, len, seed, pieces)| {
                let whole = data(kind, len, seed);
                let cut = whole.len().div_ceil(pieces).max(1);
                let fragments: Vec<Vec<u8>> = whole.chunks(cut).map(<[u8]>::to_vec).collect();
                if fragments.is_empty() { vec![Vec::new()] } else { fragments }
            })
            .collect();
        let sent: Vec<Vec<u8>> = messages.iter().map(|m| m.concat()).collect();
        let (wire, payloads) = send(&mut sender, &messages);
        // Our inflater of the negotiated 8 bits: a ring of 256 bytes that
        // refuses a distance past it (1007).
        prop_assert_eq!(read(peer(role), params, &wire, false), Ok(sent.clone()));
        // The oracle of exactly 256 bytes, and flate2's 32 KiB inflater.
        let mut oracle = WindowedInflater::new(8, !takeover);
        let mut reference = Decompress::new(false);
        for (i, (payload, data)) in payloads.iter().zip(&sent).enumerate() {
            let by_oracle = oracle.message(payload);
            prop_assert_eq!(by_oracle.as_ref(), Some(data), "oracle, message {}", i);
            if !takeover {
                reference = Decompress::new(false);
            }
            prop_assert_eq!(&inflate_next(&mut reference, payload), data, "flate2, message {}", i);
        }
    }
}

/// Noise, each block followed by a copy of its first 258 bytes from
/// exactly `d` back, for `d` in `distances`.
fn probes(distances: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &d) in distances.iter().enumerate() {
        let block = incompressible(d, i as u64 * 2 + 11);
        out.extend_from_slice(&block);
        for _ in 0..258 {
            out.push(out[out.len() - d]);
        }
    }
    out
}

#[test]
fn the_compressor_uses_its_250_bytes() {
    // Copies from 129 to 250 bytes back (past a 7-bit window, within the
    // 250 bytes zlib-rs reaches at 9 bits), and from 251 to 300 (beyond
    // it: sent as literals). Every level that makes matches, both roles.
    let data = probes(&[129, 180, 249, 250, 251, 256, 257, 300]);
    for level in 1..=9 {
        for role in [Role::Server, Role::Client] {
            let (mut sender, params) = sender(role, SetBy::Sender, true, level, 8);
            let (wire, payloads) = send(&mut sender, &[vec![data.clone()]]);
            assert_eq!(
                read(peer(role), params, &wire, level == 6),
                Ok(vec![data.clone()]),
                "{level} {role:?}"
            );
            assert_eq!(
                WindowedInflater::new(8, false).message(&payloads[0]),
                Some(data.clone()),
                "{level} {role:?}"
            );
            assert_eq!(
                WindowedInflater::new(7, false).message(&payloads[0]),
                None,
                "{level} {role:?}: a distance past 128 bytes was used"
            );
            // The four copies beyond the reach are literals: at least
            // their bytes come on top of the noise's.
            let noise: usize = [129, 180, 249, 250, 251, 256, 257, 300].iter().sum();
            assert!(
                payloads[0].len() > noise + 4 * 250,
                "{level} {role:?}: {} bytes",
                payloads[0].len()
            );
        }
    }
}

#[test]
fn a_compressor_reaching_past_256_bytes_is_1007() {
    // What zlib writes with a 10-bit window (it reaches 762 bytes back),
    // sent to our endpoints that agreed on 8 bits for their peer: closed
    // with 1007, in one message and across two (context kept).
    let data = probes(&[129, 250, 257, 300, 700]);
    let (first, second) = data.split_at(129 + 258 + 250 + 258 + 257);
    for receiver_role in [Role::Server, Role::Client] {
        let (ours, theirs) = match receiver_role {
            Role::Server => (
                DeflateConfig::default().peer_max_window_bits(8),
                DeflateConfig::default().max_window_bits(8),
            ),
            Role::Client => (
                DeflateConfig::default().peer_max_window_bits(8),
                DeflateConfig::default(),
            ),
        };
        let (client_cfg, server_cfg) = match receiver_role {
            Role::Server => (theirs, ours),
            Role::Client => (ours, theirs),
        };
        let (_, _, params) = handshake(client_cfg, server_cfg);
        let mask = match receiver_role {
            Role::Server => Some(KEY),
            Role::Client => None,
        };
        for split in [false, true] {
            let mut zlib = Compress::new_with_window_bits(Compression::default(), false, 10);
            let pieces: Vec<&[u8]> = if split {
                vec![first, second]
            } else {
                vec![&data[..]]
            };
            let mut wire = Vec::new();
            for piece in pieces {
                let payload = common::deflate::sync_message(&mut zlib, piece);
                wire.extend(raw_frame(FIN | 0x40 | 0x2, &payload, mask));
            }
            // A 32 KiB receiver reads it: it is the window that refuses.
            let wide = DeflateParams {
                server_max_window_bits: 15,
                client_max_window_bits: 15,
                ..params
            };
            let what = format!("{receiver_role:?}, split {split}");
            let sent: Vec<Vec<u8>> = if split {
                vec![first.to_vec(), second.to_vec()]
            } else {
                vec![data.clone()]
            };
            assert_eq!(read(receiver_role, wide, &wire, true), Ok(sent), "{what}");
            assert_eq!(
                read(receiver_role, params, &wire, true),
                Err(Some(1007)),
                "{what}"
            );
        }
    }
}

/// The request our client writes with `offer` as its extensions header.
fn request_offering(offer: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n"
    )
}

/// The 101 our server writes with `answer` as its extensions header.
fn switching_with(answer: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n\
         Sec-WebSocket-Extensions: {answer}\r\n\r\n"
    )
}

/// The parameters with these windows and context taken over both ways.
/// The handshake of `client` and `server` sends exactly the request with
/// `offer` and the 101 with `answer`, and agrees on `params`.
fn assert_negotiates(
    client: DeflateConfig,
    server: DeflateConfig,
    offer: &str,
    answer: &str,
    params: DeflateParams,
) {
    let (request, response, agreed) = handshake(client, server);
    assert_eq!(request, request_offering(offer));
    assert_eq!(response, switching_with(answer));
    assert_eq!(agreed, params);
}

fn windows(server: u8, client: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: server,
        client_max_window_bits: client,
    }
}

#[test]
fn a_server_answers_an_offer_of_8_bits_with_8() {
    // §7.1.2.1: the client limits the server's window to 256 bytes.
    let client = DeflateConfig::default().peer_max_window_bits(8);
    assert_negotiates(
        client,
        DeflateConfig::default(),
        "permessage-deflate; server_max_window_bits=8; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=8",
        windows(8, 15),
    );
    // The server's own preference for 8 bits for the client (§7.1.2.2),
    // and for itself, unasked (§7.1.2.1 lets a server answer it).
    let server = DeflateConfig::default()
        .max_window_bits(8)
        .peer_max_window_bits(8);
    assert_negotiates(
        DeflateConfig::default(),
        server,
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
        windows(8, 8),
    );
}

#[test]
fn a_client_accepts_an_answer_of_8_bits_and_offers_8_itself() {
    // §7.1.2.2: the server limits our window to 256 bytes (Node `ws` with
    // `clientMaxWindowBits: 8` answers so).
    let server = DeflateConfig::default().peer_max_window_bits(8);
    assert_negotiates(
        DeflateConfig::default(),
        server,
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=8",
        windows(15, 8),
    );
    // Our own `max_window_bits(8)` is offered as 8, not raised to 9, and
    // kept to with the server's answer.
    let client = DeflateConfig::default().max_window_bits(8);
    assert_negotiates(
        client,
        DeflateConfig::default(),
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=8",
        windows(15, 8),
    );
}
