//! The edges of permessage-deflate's end-of-message rules (RFC 7692
//! §7.2.1-§7.2.3.4): a message's data must end where a DEFLATE block does,
//! after a final block only one `00` may follow, and a final block that the
//! `00 00 FF FF` tail finishes restarts the stream at the next message.
//!
//! Covered here, against an oracle (miniz_oxide stopped at every block
//! boundary, std's UTF-8 check, the message limit): messages fragmented so
//! that the tail meets empty frames; a BFINAL message whose `00` comes in a
//! later frame, and two `00`s across frames; a BFINAL-at-tail message
//! followed by a valid message, an invalid one, one with an empty first
//! frame, an uncompressed one, and a close frame; invalid UTF-8 in a
//! message that also ends inside a block; messages at the limit -1/0/+1,
//! valid and ending inside a block (1009 or 1007, the same every way); the
//! one-call path (one frame, small) and the general path (fragments, or
//! past 512 compressed bytes), context takeover and none, whole messages
//! and streaming; small messages filling the one-call path's 4 KiB room
//! exactly. Each stream is fed whole, byte by byte and (when short) cut at
//! every point, through both input paths (`drive_connection`).
//!
//! Three tests hold the bugs found in sessions 11 and 12 and since fixed: a
//! dynamic-Huffman block whose codes make the tail's `00 00 FF FF` its
//! content, its end-of-block code ending in the tail's last byte, was
//! accepted (the tail inflated as content); ending one bit before the
//! tail's end, the bit left over broke the next, valid, message under
//! context takeover; a dynamic block's header that the tail's bits
//! finish, then its end-of-block code, inflating to nothing, passed. All
//! three are 1007 in their own message now.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, deflate_messages::*, *};

/// §7.2.3.1's "Hello".
const HELLO: &[u8] = &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];
/// §7.2.3.4's BFINAL "Hello", without the `00` after it.
const HELLO_FINAL: &[u8] = &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];
/// An empty final stored block whose lengths are the tail.
const FINAL_AT_TAIL: &[u8] = &[0x01];
/// "Hello" cut inside its Huffman block.
const HELLO_CUT: &[u8] = &[0xF2, 0x48, 0xCD];

const BIG: usize = 1 << 20;

#[test]
fn empty_frames_around_the_end_of_a_message() {
    let cases: &[(&str, &[&[u8]])] = &[
        ("Hello then an empty frame", &[HELLO, &[]]),
        ("an empty first frame then Hello", &[&[], HELLO]),
        ("Hello between empty frames", &[&[], &[], HELLO, &[], &[]]),
        (
            "Hello, its last byte alone",
            &[&HELLO[..6], &[], &HELLO[6..]],
        ),
        ("Hello cut, then empty frames", &[HELLO_CUT, &[], &[]]),
        ("only empty frames", &[&[], &[], &[]]),
        ("BFINAL-at-tail then an empty frame", &[FINAL_AT_TAIL, &[]]),
        ("an empty frame then BFINAL-at-tail", &[&[], FINAL_AT_TAIL]),
        (
            "the empty message 00 between empty frames",
            &[&[], &[0x00], &[]],
        ),
    ];
    for &(what, frames) in cases {
        for opcode in [TEXT, BINARY] {
            let messages = [
                msg(TEXT, &[HELLO]),
                msg(opcode, frames),
                msg(BINARY, &[HELLO]),
            ];
            check(what, &messages, BIG);
        }
    }
}

#[test]
fn the_00_after_a_final_block_in_later_frames() {
    let cases: &[(&str, &[&[u8]])] = &[
        ("00 in its own frame", &[HELLO_FINAL, &[0x00]]),
        ("00 after an empty frame", &[HELLO_FINAL, &[], &[0x00]]),
        ("00 then an empty frame", &[HELLO_FINAL, &[0x00], &[]]),
        ("00 and 00 across frames", &[HELLO_FINAL, &[0x00], &[0x00]]),
        ("00 00 in a later frame", &[HELLO_FINAL, &[0x00, 0x00]]),
        (
            "00 with the block, 00 later",
            &[&[HELLO_FINAL, &[0x00]].concat(), &[0x00]],
        ),
        (
            "00 with the block, 00 after an empty frame",
            &[&[HELLO_FINAL, &[0x00]].concat(), &[], &[0x00]],
        ),
        ("01 in a later frame", &[HELLO_FINAL, &[0x01]]),
        (
            "the final block's last byte alone",
            &[&HELLO_FINAL[..6], &HELLO_FINAL[6..]],
        ),
        (
            "the final block's last byte and 00",
            &[&HELLO_FINAL[..6], &[0x00, 0x00]],
        ),
        (
            "Hello BFINAL-at-tail after a sync block",
            &[HELLO, FINAL_AT_TAIL],
        ),
        ("BFINAL-at-tail then 00", &[FINAL_AT_TAIL, &[0x00]]),
    ];
    for &(what, frames) in cases {
        let messages = [msg(TEXT, frames), msg(TEXT, &[HELLO])];
        check(what, &messages, BIG);
    }
}

#[test]
fn what_follows_a_final_block_the_tail_finished() {
    let mut rng = Rng(0xE11D);
    let big_data: Vec<u8> = (0..6000).map(|_| rng.next() as u8).collect();
    let big = sync_compressed(&big_data, 6);
    assert!(big.len() > 512);
    let big_final = final_compressed(&big_data, 6);
    let follows: Vec<(&str, Msg)> = vec![
        ("Hello", msg(TEXT, &[HELLO])),
        (
            "Hello in thirds",
            msg(TEXT, &[&HELLO[..2], &HELLO[2..4], &HELLO[4..]]),
        ),
        ("Hello after an empty first frame", msg(TEXT, &[&[], HELLO])),
        ("BFINAL Hello", msg(TEXT, &[HELLO_FINAL])),
        ("BFINAL-at-tail again", msg(BINARY, FINAL_AT_TAIL_FRAMES)),
        ("the empty message", msg(BINARY, &[&[0x00]])),
        ("an uncompressed message, then Hello", plain(TEXT, b"plain")),
        ("a cut Hello", msg(TEXT, &[HELLO_CUT])),
        (
            "a cut Hello in fragments",
            msg(TEXT, &[&HELLO_CUT[..1], &HELLO_CUT[1..]]),
        ),
        ("an empty payload", msg(TEXT, &[&[]])),
        ("a bad block type", msg(TEXT, &[&[0x07, 0x00]])),
        (
            "BFINAL Hello and 00 00",
            msg(TEXT, &[&[HELLO_FINAL, &[0, 0]].concat()]),
        ),
        ("past 512 B", msg(BINARY, &[&big])),
        ("past 512 B, final", msg(BINARY, &[&big_final])),
        ("past 512 B, cut", msg(BINARY, &[&big[..big.len() - 1]])),
    ];
    for (what, next) in follows {
        let plain_first = !next.compressed;
        let mut messages = vec![msg(BINARY, &[FINAL_AT_TAIL]), next];
        if plain_first {
            messages.push(msg(TEXT, &[HELLO]));
        }
        check(what, &messages, BIG);
        // As the last message before the close.
        check(what, &messages[..1], BIG);
    }
}

const FINAL_AT_TAIL_FRAMES: &[&[u8]] = &[FINAL_AT_TAIL];

#[test]
fn invalid_utf8_in_a_message_that_also_ends_inside_a_block() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "FF in a stored block cut short",
            stored_declaring(10, &[0xFF, b'a', b'b']),
        ),
        (
            "a cut sequence in a stored block cut short",
            stored_declaring(10, &[b'a', 0xE2, 0x82]),
        ),
        (
            "valid text in a stored block cut short",
            stored_declaring(10, b"abc"),
        ),
        (
            "FF in a whole stored block",
            [stored_declaring(3, &[0xFF, b'a', b'b']), vec![0x00]].concat(),
        ),
        (
            "FF in a block the tail would finish",
            stored_declaring(4, &[0xFF, b'a', b'b']),
        ),
        (
            "a cut sequence in a whole stored block",
            [stored_declaring(2, &[b'a', 0xE2]), vec![0x00]].concat(),
        ),
    ];
    for (what, payload) in &cases {
        for frames in [vec![&payload[..]], vec![&payload[..2], &payload[2..]]] {
            let messages = [msg(TEXT, &frames), msg(TEXT, &[HELLO])];
            check(what, &messages, BIG);
        }
    }
}

/// `payload` as one frame, and in three fragments.
fn framings(payload: &[u8]) -> Vec<Vec<&[u8]>> {
    let third = payload.len() / 3;
    vec![
        vec![payload],
        vec![
            &payload[..third],
            &payload[third..2 * third],
            &payload[2 * third..],
        ],
    ]
}

#[test]
fn messages_at_the_limit() {
    let mut rng = Rng(0x0001_1417);
    // Small (the one-call path when in one frame) and past 512 B compressed.
    for n in [100usize, 3000, 5000] {
        let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        let text: Vec<u8> = b"limit ".iter().copied().cycle().take(n).collect();
        for data in [&noise, &text] {
            for payload in [
                sync_compressed(data, 6),
                sync_compressed(data, 0),
                final_compressed(data, 6),
                [final_compressed(data, 6), vec![0x00]].concat(),
            ] {
                for limit in [n - 1, n, n + 1] {
                    for frames in framings(&payload) {
                        let messages = [msg(BINARY, &frames), msg(BINARY, &[HELLO])];
                        check(&format!("{n} B at limit {limit}"), &messages, limit);
                    }
                }
            }
        }
    }
}

/// A message whose data ends inside a stored block, its content at the
/// limit -1/0/+1: the tail's bytes would be more content. Whether 1009 or
/// 1007 wins, it must be the same each way the message comes.
#[test]
fn a_block_cut_short_at_the_limit_closes_the_same_every_way() {
    for n in [100usize, 3000, 5000] {
        let data: Vec<u8> = b"cut ".iter().copied().cycle().take(n).collect();
        for (kind, payload) in [
            ("stored, 10 B short", stored_declaring(n as u16 + 10, &data)),
            ("stored, 3 B short", stored_declaring(n as u16 + 3, &data)),
            ("stored, 4 B short", stored_declaring(n as u16 + 4, &data)),
            ("stored, 1 B short", stored_declaring(n as u16 + 1, &data)),
        ] {
            assert!(
                reference_inflate(&payload).is_none(),
                "the oracle on {kind}"
            );
            for limit in [n - 1, n, n + 1, n + 2, n + 3, n + 4] {
                let mut codes = Vec::new();
                for frames in framings(&payload) {
                    let messages = [msg(TEXT, &[HELLO]), msg(BINARY, &frames)];
                    for params in [NO_TAKEOVER, TAKEOVER] {
                        let got = run(params, &messages, limit);
                        assert_eq!(got[0], Seen::Message(true, b"Hello".to_vec()));
                        assert_eq!(got.len(), 2, "{got:?}");
                        codes.push(got[1].clone());
                    }
                }
                // Over the limit by the peer's bytes alone: 1009; within it
                // with the tail's bytes too: 1007. Between, the tail's
                // bytes inflated as content put it over: 1009 (as found).
                let short = n + 3 <= limit || n < limit && kind.contains("1 B");
                if n > limit {
                    assert_eq!(
                        codes[0],
                        Seen::Closed(1009, true),
                        "{n} B {kind} at {limit}"
                    );
                } else if short {
                    assert_eq!(
                        codes[0],
                        Seen::Closed(1007, true),
                        "{n} B {kind} at {limit}"
                    );
                }
                assert!(
                    codes.iter().all(|c| *c == codes[0]),
                    "{n} B {kind} at limit {limit}: {codes:?}"
                );
            }
        }
    }
}

/// `payload`, whose data the oracle says ends inside a block (what it
/// makes of the tail is not an empty stored block's lengths), between two
/// "Hello"s, in one frame and in three: [`check`]ed.
fn check_inside_a_block_between_hellos(what: &str, payload: &[u8]) {
    assert_eq!(reference_inflate(payload), None, "{what}");
    for frames in framings(payload) {
        let messages = [
            msg(BINARY, &[HELLO]),
            msg(BINARY, &frames),
            msg(BINARY, &[HELLO]),
        ];
        check(what, &messages, BIG);
    }
}

/// A non-final dynamic-Huffman block whose codes make the tail's bytes
/// its content: `000` is literal 0, `01111111` literal 8, and the 9-bit
/// all-ones code end-of-block, so `00 00 FF FF` (LSB first: sixteen 0s,
/// sixteen 1s) decodes as five 0s, an 8 and the block's end, exactly at
/// the tail's last bit. The payload ends inside that block: its header
/// (BFINAL 0, BTYPE 2, 257 literal/length codes, one distance code of
/// length 1), literal/length code lengths 3 for 0-2, 4 for 3, 5 for 4, 6
/// for 5, 7 for 6, 8 for 7-135, 9 for 136 and 256, 0 for the rest (the
/// code-length code complete: 3 bits for seven symbols, 4 for two), then
/// literals 1, 2 and 1s up to a byte boundary. zlib inflates it with the
/// tail to `01 02 01 01 01 01 01 01 01 00 00 00 00 00 08`, the last six
/// bytes made of the tail.
const HUFFMAN_BLOCK_THE_TAIL_ENDS: &str = "04c00162e3300c03309272ba6ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb67bf681224992";

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_huffman_block_the_tail_finishes_is_closed_with_1007() {
    let payload = from_hex(HUFFMAN_BLOCK_THE_TAIL_ENDS);
    // The same block with BFINAL set: a final block the tail finishes.
    let mut final_block = payload.clone();
    final_block[0] |= 1;
    for (what, payload) in [("non-final", payload), ("final", final_block)] {
        check_inside_a_block_between_hellos(what, &payload);
    }
}

/// As [`HUFFMAN_BLOCK_THE_TAIL_ENDS`], with the end-of-block code 8 bits
/// (`11111111`; lengths 8 for 7-135 and 256, none 9; the code-length code
/// 3 bits for all its eight symbols): the block ends one bit before the tail's end, the tail
/// inflating to `01 02 01 00 00 00 00 00 08`, and that last `1` bit stays
/// in the inflater's bit buffer as the next block's first header bit.
const HUFFMAN_BLOCK_ENDING_IN_THE_TAIL_BUT_ONE_BIT: &str = "04c08161c3300c03309272ba6ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb66ddbb6b7078a";

#[test]
fn a_huffman_block_ending_one_bit_before_the_tail_ends_is_closed_with_1007() {
    check_inside_a_block_between_hellos(
        "Huffman block ending one bit before the tail's end",
        &from_hex(HUFFMAN_BLOCK_ENDING_IN_THE_TAIL_BUT_ONE_BIT),
    );
}

/// A non-final dynamic-Huffman block whose header the tail's bits finish,
/// followed by its end-of-block code and nothing else, exactly at the
/// tail's end: it inflates to nothing. The code-length code is 1 bit for
/// 0 (`0`), 4 for 1-4, 5 for 5-11 and 17 (`11111`: repeat 0 three to ten
/// times, three extra bits), so the tail's sixteen 0s are sixteen zero
/// lengths and its first eight 1s ten more; the literal/length code is
/// lengths 1 to 8 for literals 0-7 and 8 for end-of-block (`11111111`, the
/// tail's last eight 1s); 26 distance codes, all unused. The payload ends
/// inside that block's header (its literal/length lengths, then none of
/// its 26 distance lengths). Until session 12 this passed (the tail's
/// bytes written nowhere, the block ending at a boundary), the one case the
/// end-of-message check left.
const DYNAMIC_HEADER_THE_TAIL_FINISHES: &str =
    "04d951a46ddb1204c1c8ea31d706000000000000000000000000000000000000000000000000000000000000d8";

#[test]
fn a_dynamic_block_header_the_tail_finishes_is_closed_with_1007() {
    let payload = from_hex(DYNAMIC_HEADER_THE_TAIL_FINISHES);
    // The same block with BFINAL set: the tail ends the stream.
    let mut final_block = payload.clone();
    final_block[0] |= 1;
    for (what, payload) in [("non-final", payload), ("final", final_block)] {
        check_inside_a_block_between_hellos(what, &payload);
    }
}

/// Small messages inflating to around the one-call path's 4 KiB of stack
/// room, so that the room fills exactly as the data ends, or one byte
/// before or after: sync-flushed, final, final and `00`, a final stored
/// block at the tail after a sync flush, and cut by a byte; at the limit
/// -1/0/+1 and far under it.
#[test]
fn small_messages_filling_the_one_call_room() {
    for n in 4093..=4099 {
        let data: Vec<u8> = b"one call room. ".iter().copied().cycle().take(n).collect();
        let sync = sync_compressed(&data, 6);
        assert!(sync.len() <= 512);
        for payload in [
            sync.clone(),
            final_compressed(&data, 6),
            [final_compressed(&data, 6), vec![0x00]].concat(),
            [sync.clone(), vec![0x01]].concat(),
            sync[..sync.len() - 1].to_vec(),
            [sync.clone(), vec![0x00]].concat(),
        ] {
            for limit in [BIG, n - 1, n, n + 1] {
                for frames in framings(&payload) {
                    let messages = [msg(TEXT, &frames), msg(TEXT, &[HELLO])];
                    check(&format!("{n} B at limit {limit}"), &messages, limit);
                }
            }
        }
    }
}
