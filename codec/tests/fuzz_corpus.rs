//! The codec fuzz targets' seed corpora, made from real streams (this
//! crate's test vectors), and the replay of every crash ever found: each file
//! under `fuzz/regressions/<target>/` and `fuzz/corpus/<target>/` goes through
//! the same harness the fuzzer runs, on stable, in every `cargo test`. (The
//! `utf8_stream` target's are replayed by `cargo test -p utf8stream`.)
//!
//! The seeds are written by an explicit command, never as a side effect of a
//! test:
//!
//! ```sh
//! cargo test -p wsframe --test fuzz_corpus -- --ignored   # (re)writes the seeds
//! ```

mod common;

use common::*;
use std::{fs, path::PathBuf};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

type Harness = fn(&[u8]);

/// The targets this build has: `deflate` needs the feature of that name.
const TARGETS: &[(&str, Harness)] = &[
    ("frame_header", wsframe::fuzzing::frame_header),
    ("connection", wsframe::fuzzing::connection),
    ("roundtrip", wsframe::fuzzing::roundtrip),
    ("mask", wsframe::fuzzing::mask),
    ("handshake", wsframe::fuzzing::handshake),
    #[cfg(feature = "deflate")]
    ("deflate", wsframe::fuzzing::deflate),
];

/// Small, meaningful inputs for each target.
fn seeds(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    let text = client(FIN | TEXT, "héllo 😀".as_bytes());
    let fragmented = stream(&[
        client(TEXT, b"frag"),
        client(FIN | PING, b"hb"),
        client(FIN | CONT, b"ment"),
    ]);
    let bad_utf8 = stream(&[client(TEXT, b"ok\xF0\x9F"), client(FIN | CONT, b"\x98\xC0")]);
    let close = client(FIN | CLOSE, &close_payload(1000, b"bye"));
    let long = client(FIN | BINARY, &[0xAB; 300]);
    match target {
        "frame_header" => vec![
            ("text", text[..6].to_vec()),
            (
                "len16",
                raw_frame(FIN | BINARY, &[0; 200], Some(KEY))[..8].to_vec(),
            ),
            (
                "len64",
                raw_frame(FIN | BINARY, &[0; 70_000], None)[..10].to_vec(),
            ),
        ],
        "connection" => vec![
            ("server_text", [&[0, 3][..], &text].concat()),
            ("server_fragmented", [&[0, 5][..], &fragmented].concat()),
            ("server_bad_utf8", [&[0, 1][..], &bad_utf8].concat()),
            (
                "server_streaming",
                [&[2, 7][..], &fragmented, &long].concat(),
            ),
            ("server_close", [&[0, 2][..], &text, &close].concat()),
            (
                "client_unmasked",
                [&[1, 4][..], &raw_frame(FIN | TEXT, b"hi", None)].concat(),
            ),
        ],
        "roundtrip" => vec![
            (
                "text_and_binary",
                [&[1, 3, 5][..], b"hello", &[2, 2, 3], &[0, 1, 2]].concat(),
            ),
            ("pings", [&[3, 1, 4][..], "😀".as_bytes()].concat()),
            (
                "compressed",
                [&[1 | 4, 2, 5][..], b"hello", &[2, 2, 3], &[0, 1, 2]].concat(),
            ),
            (
                "compressed_no_takeover",
                [
                    &[1 | 4 | 8, 3, 6][..],
                    b"hello!",
                    &[3, 1, 4],
                    "😀".as_bytes(),
                ]
                .concat(),
            ),
        ],
        // RFC 7692 §7.2.3: "Hello" compressed, whole, in fragments, with
        // BFINAL, as a stored block; invalid text; a reserved block type.
        "deflate" => vec![
            (
                "hello",
                vec![8, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            ),
            (
                "fragments",
                vec![8 | 2, 1, 3, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            ),
            (
                "bfinal",
                vec![1, 2, 0, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            ),
            (
                "stored",
                vec![
                    8 | 4,
                    3,
                    4,
                    0x00,
                    0x05,
                    0x00,
                    0xfa,
                    0xff,
                    0x48,
                    0x65,
                    0x6c,
                    0x6c,
                    0x6f,
                    0x00,
                ],
            ),
            // A stored block holding 0xC0.
            (
                "bad_text",
                vec![8, 1, 0, 0x00, 0x01, 0x00, 0xfe, 0xff, 0xc0],
            ),
            ("bad_block", vec![0, 1, 0, 0x07]),
            // A 9-bit client window (flags bits 5-7: 15 - 9): "Hello";
            // 513 bytes of noise then a match 512 back (read) and 513
            // back (refused, RFC 7692 §7.1.2).
            (
                "hello_window9",
                vec![8 | 6 << 5, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            ),
            ("within_window9", window9_probe(512)),
            ("past_window9", window9_probe(513)),
        ],
        "mask" => vec![
            ("short", [&[1, 2, 3, 4, 1, 0][..], b"abc"].concat()),
            ("simd", [&[9, 8, 7, 6, 3, 5][..], &[0x55; 200]].concat()),
        ],
        "handshake" => handshake_seeds(),
        _ => unreachable!(),
    }
}

/// RFC 6455 §1.2's client request, with `extensions` added.
/// Without the feature there is no `deflate` target to seed.
#[cfg(not(feature = "deflate"))]
fn window9_probe(_dist: usize) -> Vec<u8> {
    Vec::new()
}

/// A `deflate` input with a 9-bit client window, read in 7-byte chunks, in
/// frames of 100 bytes: a stored block of 513 bytes of noise, then a fixed
/// block of one 258-byte match `dist` back.
#[cfg(feature = "deflate")]
fn window9_probe(dist: usize) -> Vec<u8> {
    let noise: Vec<u8> = (0..513u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    [
        vec![6 << 5, 7, 100],
        deflate::stored(&noise),
        deflate::fixed_block(&[deflate::Lz::Match(dist)]),
    ]
    .concat()
}

fn rfc_request(extensions: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Version: 13\r\n{extensions}\r\n"
    )
    .into_bytes()
}

/// RFC 6455 §1.2's server answer, with `extensions` added.
fn rfc_response(extensions: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
         {extensions}\r\n"
    )
}

/// `handshake`: mode byte, cut byte, then a request (mode 0), a response
/// to RFC 6455 §1.2's client (mode 1), an extension list (mode 2), or two
/// deflate configurations (mode 3); mode bit 7 adds a long header field.
fn handshake_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let deflate_offers = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, \
                          permessage-deflate; server_max_window_bits=\"10\"; client_no_context_takeover\r\n";
    let deflate_answer =
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=12\r\n";
    vec![
        ("rfc_request", [&[0, 0][..], &rfc_request("")].concat()),
        (
            "deflate_request",
            [&[0, 0x63][..], &rfc_request(deflate_offers)].concat(),
        ),
        (
            "rfc_response",
            [
                &[1, 0x41][..],
                rfc_response("").as_bytes(),
                &[0x81, 0x02, b'h', b'i'],
            ]
            .concat(),
        ),
        (
            "deflate_response",
            [&[1, 0x22][..], rfc_response(deflate_answer).as_bytes()].concat(),
        ),
        (
            "continue_then_101",
            [
                &[1, 0x85][..],
                b"HTTP/1.1 100 Continue\r\n\r\n",
                rfc_response("").as_bytes(),
            ]
            .concat(),
        ),
        (
            "redirect_302",
            [
                &[1, 0xA7][..],
                b"HTTP/1.1 302 Found\r\nLocation: wss://other.example.com/chat\r\n\
                  Content-Length: 5\r\n\r\nmoved",
            ]
            .concat(),
        ),
        (
            "long_request",
            [&[0x80, 0xE3, 140][..], &rfc_request("")].concat(),
        ),
        // A 100 Continue filled to just under the head limit, then a 101
        // whose long field takes the buffer past it.
        (
            "long_interim",
            [
                &[0x81, 0x00, 127][..],
                b"HTTP/1.1 100 Continue\r\n\r\n",
                rfc_response(&format!("X-Long: {}\r\n", "l".repeat(300))).as_bytes(),
            ]
            .concat(),
        ),
        (
            "extension_list",
            [
                &[2, 0][..],
                &b"permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", \
                   x-webkit-deflate-frame, ,permessage-deflate"[..],
            ]
            .concat(),
        ),
        ("deflate_negotiation", vec![3, 0, 1, 12, 10, 2, 11, 15]),
    ]
}

#[test]
fn seed_corpora_pass_their_harness_and_match_the_committed_files() {
    for &(target, harness) in TARGETS {
        for (name, seed) in seeds(target) {
            harness(&seed);
            let path = fuzz_dir()
                .join("corpus")
                .join(target)
                .join(format!("seed-{name}"));
            assert_eq!(
                fs::read(&path).ok().as_deref(),
                Some(&seed[..]),
                "{} is missing or stale: run `cargo test -p wsframe --test fuzz_corpus -- --ignored`",
                path.display()
            );
        }
    }
}

/// Writes the seeds (the explicit command above; `cargo test` alone skips it).
#[test]
#[ignore = "writes fuzz/corpus; run with --ignored to regenerate"]
fn write_seed_corpora() {
    for &(target, harness) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        for (name, seed) in seeds(target) {
            harness(&seed);
            fs::write(dir.join(format!("seed-{name}")), &seed).unwrap();
        }
    }
}

#[test]
fn every_regression_and_corpus_input_replays_without_failure() {
    let mut replayed = 0;
    for &(target, harness) in TARGETS {
        for kind in ["regressions", "corpus"] {
            let Ok(entries) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_file() && path.extension().is_none_or(|e| e != "md") {
                    harness(&fs::read(&path).unwrap());
                    replayed += 1;
                }
            }
        }
    }
    assert!(
        replayed > 0,
        "no fuzz inputs found under {}",
        fuzz_dir().display()
    );
}
