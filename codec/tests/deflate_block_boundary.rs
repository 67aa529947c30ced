//! A compressed message's data must end where a DEFLATE block does
//! (RFC 7692 §7.2.1: the sender ends it with an empty stored block and
//! strips that block's `00 00 FF FF`; §7.2.2: the receiver appends them
//! back). Data that stops inside a block — a stored block shorter than its
//! length, a Huffman block cut off, an empty payload, a final block the
//! tail's bytes finish — is closed with 1007 in the message it is in,
//! instead of inflating the tail as the block's content (and leaving the
//! next message to be read from inside the block).
//!
//! The oracle is a second inflater, miniz_oxide, stopped at every block
//! boundary: a payload is whole when, with the tail, it is a whole number
//! of blocks (or ends with a final block, at the payload's end or the
//! tail's). Every case is sent between two other messages, as one frame
//! and in three fragments (the one-call and the general paths), through
//! both input paths, whole, byte by byte and, when short, cut at every
//! point.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use wsframe::{CloseCode, Config, Connection, DeflateParams, Event, Message, ProtocolError, Role};

/// The message limit of these tests: far above every case.
const LIMIT: usize = 1 << 20;

/// A server's events for `hello`, `payload` as a compressed `opcode`
/// message, then `after`, fed whole, byte by byte and (with `every_cut`)
/// cut at every point; the same events each way.
fn events(
    params: DeflateParams,
    opcode: u8,
    payload: &[u8],
    in_thirds: bool,
    every_cut: bool,
) -> Vec<Event> {
    let mut input = Vec::new();
    push_compressed(&mut input, TEXT, &sync_compressed(b"hello", 6), false);
    push_compressed(&mut input, opcode, payload, in_thirds);
    push_compressed(&mut input, TEXT, &sync_compressed(b"after", 6), false);
    let config = Config::builder().max_message_size(LIMIT as u64).build();
    let make = || Connection::with_deflate(Role::Server, config, Some(params));
    let what = format!("{payload:02x?}");
    same_every_way(&what, &make, &input, every_cut, |run| run).0
}

/// Checks a payload against the oracle, each way it can be sent: the
/// message it inflates to and the one after it, or a 1007 for a payload
/// that did not inflate, with the message before it delivered.
fn check(what: &str, payload: &[u8]) {
    let want = reference_inflate(payload);
    let every_cut = payload.len() <= 48;
    for params in [NO_TAKEOVER, TAKEOVER] {
        for in_thirds in [false, true] {
            let mut got = events(params, BINARY, payload, in_thirds, every_cut && !in_thirds);
            let hello = Event::Message(Message::from("hello"));
            match &want {
                Some(data) => {
                    let message = Event::Message(Message::from(data.clone()));
                    let after = Event::Message(Message::from("after"));
                    assert!(got == [hello, message, after], "{what}: {got:?}");
                }
                None => {
                    let Some(Event::Closed(closed)) = got.pop() else {
                        panic!("{what} ({params:?}, thirds {in_thirds}): {got:?}")
                    };
                    assert_eq!(
                        closed.code,
                        CloseCode::INVALID_PAYLOAD,
                        "{what}: {closed:?}"
                    );
                    assert!(
                        matches!(closed.error, Some(ProtocolError::InflateFailed)),
                        "{what}: {closed:?}"
                    );
                    assert!(got == [hello], "{what}: {got:?}");
                }
            }
        }
    }
}

#[test]
fn payloads_ending_inside_a_block_are_closed_with_1007() {
    let cases: &[(&str, &[u8], bool)] = &[
        // (what, payload, whole per the RFC)
        (
            "§7.2.3.1 Hello",
            &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00],
            true,
        ),
        (
            "§7.2.3.3 stored Hello",
            &[
                0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00,
            ],
            true,
        ),
        (
            "§7.2.3.4 BFINAL Hello",
            &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00],
            true,
        ),
        (
            "BFINAL Hello without the stored block's header",
            &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00],
            true,
        ),
        (
            "BFINAL Hello and two bytes",
            &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00, 0x00],
            false,
        ),
        (
            "BFINAL Hello and a byte not 00",
            &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x01],
            false,
        ),
        (
            "§7.2.3.5 two blocks",
            &[
                0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00,
            ],
            true,
        ),
        ("empty message (§7.2.3.6's empty fragment)", &[0x00], true),
        (
            "BFINAL empty stored block, its lengths stripped",
            &[0x01],
            true,
        ),
        ("empty payload", &[], false),
        ("Hello cut in its Huffman block", &[0xF2, 0x48], false),
        (
            "Hello without its last byte",
            &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07],
            false,
        ),
        (
            "BFINAL Hello without its last byte",
            &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07],
            false,
        ),
        (
            "stored block of 10 with 3",
            &[0x00, 0x0A, 0x00, 0xF5, 0xFF, 0x41, 0x42, 0x43],
            false,
        ),
        (
            "stored Hello without its last byte",
            &[0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F],
            false,
        ),
    ];
    for &(what, payload, whole) in cases {
        assert_eq!(
            reference_inflate(payload).is_some(),
            whole,
            "the oracle on {what}"
        );
        check(what, payload);
    }
}

#[test]
#[cfg_attr(miri, ignore)] // thousands of messages through both inflaters
fn every_prefix_of_a_compressed_message_is_judged_as_the_oracle_judges_it() {
    let mut rng = Rng(0x5EED_B10C);
    let text: Vec<u8> = b"permessage-deflate, RFC 7692. "
        .iter()
        .copied()
        .cycle()
        .take(700)
        .collect();
    let noise: Vec<u8> = (0..700).map(|_| rng.next() as u8).collect();
    for (name, data) in [("text", &text), ("noise", &noise)] {
        for level in [0, 1, 6, 9] {
            for payload in [sync_compressed(data, level), final_compressed(data, level)] {
                // Every prefix of the short ones; of the long ones (past the
                // one-call path's 512 B), the ends and a sample between.
                let step = if payload.len() <= 64 { 1 } else { 7 };
                let ends = payload.len().saturating_sub(8)..=payload.len();
                let lens = (0..=payload.len()).step_by(step).chain(ends);
                for len in lens {
                    check(
                        &format!("{name} level {level}, {len} of {} B", payload.len()),
                        &payload[..len],
                    );
                }
            }
        }
    }
}
