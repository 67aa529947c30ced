//! The state permessage-deflate's receiver carries between messages since
//! it moved to zlib's C API (`libz-rs-sys`): the `00 00 FF FF` tail a
//! message's data ends before (RFC 7692 §7.2.1-§7.2.2) is owed to the
//! decoder and fed before the next compressed message's data; a final
//! block restarts the stream; `*_no_context_takeover` drops the state.
//!
//! Covered here, against an oracle (flate2/miniz_oxide as reference
//! inflaters, the data the reference compressor was given, std's UTF-8
//! check, the message limit), never the code under test:
//! - a message that refers back into the one before it (context
//!   takeover: valid, once the owed tail is fed; none: 1007), with control
//!   frames, uncompressed messages and empty fragments between them, text
//!   then binary, small (one call) and past 512 compressed bytes, whole
//!   and streaming;
//! - after a message ending in a final block (in its data, or at the
//!   tail), one that refers back into it is refused (a new stream), one
//!   that does not is inflated;
//! - a block that fills the message limit + 1 exactly, followed by
//!   corrupt data in the same read: 1009 whichever way the bytes come;
//! - a connection dropped mid-message (the inflater's state allocated,
//!   a tail owed or half a block read) frees everything it allocated;
//! - how a message ends with a tail owed (empty payloads, a lone `00`,
//!   a header alone, a stored block cut, BFINAL in the data or at the
//!   tail, `00`s after it), in one frame or with empty frames around;
//! - payloads of 510-514 compressed bytes and 4094-4098 inflated ones
//!   (the one-call path's edges) after a tail owed, at the limit -1/0/+1;
//!   limits of 0 and 1 byte; invalid text before the limit of a message
//!   over it;
//! - random valid conversations (takeover or none, final blocks, plain
//!   messages, pings, empty frames) come out as sent;
//! - 400 mutated small messages (a byte changed, a bit flipped, cut,
//!   grown) after a tail owed: the oracle's verdict without takeover, and
//!   with it wherever a fresh context accepts them.
//!
//! Each stream is fed whole, byte by byte and (when short) cut at every
//! point, through both input paths (`drive_connection`), whole messages
//! and streaming (the random conversations: at random cuts, each input
//! path on its own: they compare the joined messages).
//!
//! Two bugs found here are fixed, each with its test: output that filled
//! the limit + 1 bytes in one inflate call that then read corrupt data was
//! 1007, the same bytes arriving in smaller reads 1009 (1009 every way
//! now); in streaming mode, a compressed frame after a small one in the
//! same read was chunked differently by `receive` and `read_buf` (the same
//! pieces now).
#![cfg(feature = "deflate")]

mod common;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use common::{deflate::*, deflate_messages::*, *};
use flate2::{Compress, Compression, Decompress, FlushDecompress};
use wsframe::{Config, Connection, Role};

/// §7.2.3.1's "Hello".
const HELLO: &[u8] = &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];

const BIG: usize = 1 << 20;

/// A reference compressor with context takeover: each message of
/// `messages` sync-flushed after the last, its tail stripped.
fn takeover_compressed(messages: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut stream = Compress::new(Compression::new(6), false);
    messages
        .iter()
        .map(|data| sync_message(&mut stream, data))
        .collect()
}

/// flate2 (zlib-rs's safe API, not the C wrapper under test) inflating
/// `payloads` as one stream, each followed by the tail (§7.2.2).
fn flate2_stream(payloads: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut inflater = Decompress::new(false);
    payloads
        .iter()
        .map(|payload| {
            let input = [payload, &TAIL[..]].concat();
            let mut out = Vec::with_capacity(1 << 20);
            let start = inflater.total_in();
            inflater
                .decompress_vec(&input, &mut out, FlushDecompress::Sync)
                .unwrap();
            assert_eq!((inflater.total_in() - start) as usize, input.len());
            out
        })
        .collect()
}

/// Printable noise that repeats itself: text that back-references find.
fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    let words: Vec<Vec<u8>> = (0..40)
        .map(|_| {
            (0..3 + rng.below(8))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    while out.len() < len {
        out.extend_from_slice(&words[rng.below(words.len())]);
        out.push(b' ');
    }
    out.truncate(len);
    out
}

#[test]
fn a_message_referring_back_into_the_last_after_the_owed_tail() {
    // The second message repeats the first: with context takeover it is
    // made of back-references into the first one.
    for (len, frames_of_first) in [(60, false), (60, true), (3000, false), (3000, true)] {
        let first = text(len as u64, len);
        let second = [&first[len / 2..], &first[..len / 2]].concat();
        let wire_payloads = takeover_compressed(&[&first, &second, &first]);
        let [a, b, c] = &wire_payloads[..] else {
            unreachable!()
        };
        // The oracle: one stream through flate2 gives the data back; the
        // second alone (a fresh context) does not inflate.
        assert_eq!(
            flate2_stream(&[a, b, c]),
            vec![first.clone(), second.clone(), first.clone()]
        );
        assert_eq!(reference_inflate(b), None, "refers back");
        if len > 1000 {
            assert!(a.len() > 512 && b.len() < 512, "{} {}", a.len(), b.len());
        }
        let firsts: Vec<Msg> = if frames_of_first {
            vec![pinged(TEXT, a), msg(TEXT, &[a, &[]])]
        } else {
            vec![msg(TEXT, &[a])]
        };
        for m0 in firsts {
            // Between them: nothing, a ping, an uncompressed message, an
            // empty-frame-ended binary message of nothing (`00`).
            let betweens: Vec<Option<Msg>> =
                vec![None, Some(plain(BINARY, b"plain")), Some(plain(TEXT, b""))];
            for between in betweens {
                let mut messages = vec![Msg {
                    frames: m0.frames.clone(),
                    ..msg(m0.opcode, &[])
                }];
                messages[0].ping_after = m0.ping_after;
                let mut want = vec![Seen::Message(true, first.clone())];
                if let Some(between) = between {
                    want.push(Seen::Message(
                        between.opcode == TEXT,
                        between.frames.concat(),
                    ));
                    messages.push(between);
                }
                // Text then binary, the second in pieces with a ping.
                messages.push(pinged(BINARY, b));
                messages.push(msg(TEXT, &[c]));
                let got = run(TAKEOVER, &messages, BIG);
                let mut want_takeover = want.clone();
                want_takeover.push(Seen::Message(false, second.clone()));
                want_takeover.push(Seen::Message(true, first.clone()));
                want_takeover.push(Seen::Closed(1000, false));
                assert_eq!(got, want_takeover, "takeover, {len} B");
                // No context takeover: the state was dropped, so the
                // reference back is too far.
                let got = run(NO_TAKEOVER, &messages, BIG);
                want.push(Seen::Closed(1007, true));
                assert_eq!(got, want, "no takeover, {len} B");
            }
        }
    }
}

/// A DEFLATE stream of `data` ending with a final block, then the same
/// compressor's next message (so it may refer back into the first).
fn final_then_next(first: &[u8], second: &[u8], at_tail: bool) -> (Vec<u8>, Vec<u8>) {
    let mut stream = Compress::new(Compression::new(6), false);
    let mut a = common::deflate::sync_flush(&mut stream, first);
    // The sync flush whole (its empty stored block with its lengths),
    // then a final block.
    if at_tail {
        // An empty final stored block whose lengths are the tail
        // (§7.2.3.4's way of ending with BFINAL).
        a.push(0x01);
    } else {
        // An empty final fixed block: BFINAL 1, BTYPE 01, end-of-block.
        a.extend_from_slice(&[0x03, 0x00]);
    }
    let mut b = common::deflate::sync_flush(&mut stream, second);
    b.truncate(b.len() - TAIL.len());
    (a, b)
}

#[test]
fn after_a_final_block_a_new_stream_starts() {
    for len in [60usize, 3000] {
        let first = text(7 + len as u64, len);
        let refers = [&first[len / 3..], &first[..len / 3]].concat();
        let fresh = b"zq".repeat(len / 2);
        for at_tail in [false, true] {
            for (second, refers_back) in [(&refers, true), (&fresh, false)] {
                let (a, b) = final_then_next(&first, second, at_tail);
                // Oracle: the first alone is whole (ends in a final block);
                // the second, from a fresh context, inflates or not.
                assert_eq!(reference_inflate(&a).as_deref(), Some(&first[..]));
                let fresh_b = reference_inflate(&b);
                assert_eq!(fresh_b.is_none(), refers_back, "{len} {at_tail}");
                for params in [TAKEOVER, NO_TAKEOVER] {
                    for firsts in [msg(TEXT, &[&a]), pinged(TEXT, &a)] {
                        let messages = [firsts, msg(BINARY, &[&b]), msg(TEXT, &[HELLO])];
                        let mut want = vec![Seen::Message(true, first.clone())];
                        match &fresh_b {
                            Some(data) => {
                                want.push(Seen::Message(false, data.clone()));
                                // "Hello" is a fresh stream's block: it
                                // inflates with or without context.
                                want.push(Seen::Message(true, b"Hello".to_vec()));
                                want.push(Seen::Closed(1000, false));
                            }
                            None => want.push(Seen::Closed(1007, true)),
                        }
                        assert_eq!(
                            run(params, &messages, BIG),
                            want,
                            "{len} B, final at tail {at_tail}, refers back {refers_back}"
                        );
                    }
                }
            }
        }
    }
}

/// A block header of the reserved type 3 (BFINAL 0): corrupt.
const BAD_BLOCK_TYPE: u8 = 0x06;

/// Blocks of `n` bytes in all, at a block boundary, then a corrupt
/// header: at limit `n - 1` the message is over the limit before the
/// corruption (1009 by the oracle, as the existing rule "over the limit
/// first, if what inflates before the corruption is" has it), whether
/// the corrupt byte comes in the same read as the block or later.
fn over_the_limit_then_corrupt() -> Vec<(String, Vec<u8>, usize)> {
    let mut cases = Vec::new();
    for n in [100usize, 600, 3000, 5000] {
        let data = text(n as u64, n);
        let mut huffman =
            common::deflate::sync_flush(&mut Compress::new(Compression::new(6), false), &data);
        huffman.push(BAD_BLOCK_TYPE);
        for (kind, payload) in [
            ("stored", [stored(&data), vec![BAD_BLOCK_TYPE]].concat()),
            ("sync-flushed Huffman", huffman),
        ] {
            assert_eq!(inflated_before_failing(&payload), n);
            assert_eq!(reference_inflate(&payload), None);
            cases.push((format!("{n} B {kind}"), payload, n - 1));
        }
    }
    cases
}

/// The general path (a message in fragments, past 512 compressed bytes,
/// cut across reads, or streaming) used to judge a call's error before
/// its output: when one call fills the room (the limit + 1) at a block
/// boundary and then reads a corrupt block header (or any error zlib
/// detects without output room), it was 1007, and the same bytes byte by
/// byte (or through the one-call path) 1009. Minimal: limit 99, one
/// compressed binary frame holding a stored block of 100 bytes then `06`,
/// in streaming mode. The output past the limit comes first in the
/// stream: 1009 every way, as the oracle says.
#[test]
fn output_filling_the_limit_then_corrupt_data_is_1009_every_way() {
    // The minimal case first.
    let payload = [stored(&[b'x'; 100]), vec![BAD_BLOCK_TYPE]].concat();
    let input = wire(&[msg(BINARY, &[&payload])]);
    let config = Config::builder()
        .max_message_size(99)
        .streaming(true)
        .build();
    let make = || Connection::with_deflate(Role::Server, config, Some(NO_TAKEOVER));
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        seen(drive_connection(&make, &input, &bytewise).0, Pings::Skipped),
        [Seen::Closed(1009, true)]
    );
    assert_eq!(
        seen(drive_connection(&make, &input, &[]).0, Pings::Skipped),
        [Seen::Closed(1009, true)],
        "whole"
    );
    for (what, payload, limit) in over_the_limit_then_corrupt() {
        for frames in [vec![&payload[..]], vec![&payload[..1], &payload[1..]]] {
            let messages = [msg(TEXT, &[HELLO]), msg(BINARY, &frames)];
            for params in [TAKEOVER, NO_TAKEOVER] {
                assert_eq!(
                    run(params, &messages, limit),
                    vec![
                        Seen::Message(true, b"Hello".to_vec()),
                        Seen::Closed(1009, true)
                    ],
                    "{what}, {} frames, limit {limit}",
                    frames.len()
                );
            }
        }
    }
}

/// The system allocator, counting this thread's live bytes (each test
/// runs on its own thread, so others' allocations do not count).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

fn live() -> isize {
    LIVE.with(Cell::get)
}

// SAFETY: every call goes to `System` unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The inflater's state is about 47 KiB: more than this is held.
const INFLATER_AT_LEAST: isize = 40 << 10;

#[test]
fn a_connection_dropped_mid_message_frees_the_inflater() {
    let data = text(99, 3000);
    let a = &sync_compressed(&data, 6);
    // A fresh stream (no reference back): valid with or without takeover.
    let b = &sync_compressed(&text(100, 3000), 6);
    let mut whole_then_half = Vec::new();
    push_compressed(&mut whole_then_half, TEXT, a, false);
    // The next message's first fragment: a tail owed (takeover) or the
    // state re-created (none), then half a block.
    whole_then_half.extend(client(RSV1 | BINARY, &b[..b.len() / 2]));
    let mut half = Vec::new();
    half.extend(client(RSV1 | BINARY, &a[..a.len() / 2]));
    let mut one_whole = Vec::new();
    push_compressed(&mut one_whole, TEXT, a, true);
    let cases: [(&str, &[u8]); 3] = [
        ("a tail owed, half a message", &whole_then_half),
        ("half a message", &half),
        ("a whole message, a tail owed", &one_whole),
    ];
    for (what, input) in cases {
        for params in [TAKEOVER, NO_TAKEOVER] {
            for streaming in [false, true] {
                let config = Config::builder().streaming(streaming).build();
                for cuts in [vec![], (1..input.len()).step_by(7).collect()] {
                    let before = live();
                    let mut conn = Connection::with_deflate(Role::Server, config, Some(params));
                    let (events, _) = feed_cut(&mut conn, input, &cuts, true);
                    let holding = live() - before;
                    drop(events);
                    // Mid-message, or a tail owed with takeover: the
                    // state is held (so the counter sees zlib-rs's
                    // allocations); a whole message without takeover:
                    // it is gone already.
                    let whole_no_takeover = what.starts_with("a whole") && params == NO_TAKEOVER;
                    assert_eq!(
                        holding >= INFLATER_AT_LEAST,
                        !whole_no_takeover,
                        "{what}, {params:?}, streaming {streaming}: {holding} B held"
                    );
                    drop(conn);
                    assert_eq!(
                        live(),
                        before,
                        "{what}, {params:?}, streaming {streaming}: leaked"
                    );
                }
            }
        }
    }
}

/// `want` (messages, then a close) under `limit`: the first message over
/// it closes with 1009 instead.
fn with_limit(want: &[Seen], limit: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    for seen in want {
        match seen {
            Seen::Message(_, data) if data.len() > limit => {
                out.push(Seen::Closed(1009, true));
                break;
            }
            other => out.push(other.clone()),
        }
    }
    out
}

#[test]
fn where_a_message_ends_with_a_tail_owed() {
    let cases: &[(&str, &[u8])] = &[
        ("an empty payload", &[]),
        ("the empty message", &[0x00]),
        ("two stored headers", &[0x00, 0x00]),
        ("a fixed block's header only", &[0x02]),
        ("a dynamic block's header byte only", &[0x04]),
        ("a stored block's lengths cut", &[0x00, 0x05, 0x00]),
        (
            "a stored block's content cut",
            &[0x00, 0x05, 0x00, 0xFA, 0xFF, b'H'],
        ),
        (
            "a whole stored block, no header after",
            &[0x00, 0x01, 0x00, 0xFE, 0xFF, b'H'],
        ),
        ("a final stored header (at the tail)", &[0x01]),
        ("an empty final fixed block", &[0x03, 0x00]),
        ("an empty final fixed block and 00", &[0x03, 0x00, 0x00]),
        (
            "an empty final fixed block and 00 00",
            &[0x03, 0x00, 0x00, 0x00],
        ),
        ("Hello", HELLO),
        ("Hello cut", &HELLO[..4]),
        ("Hello without its stored header", &HELLO[..6]),
        (
            "the whole sync flush after Hello",
            &[
                0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00, 0x00, 0xFF, 0xFF,
            ],
        ),
        ("a bad block type", &[0x06]),
    ];
    for &(what, payload) in cases {
        let mut framings = vec![msg(BINARY, &[payload]), msg(BINARY, &[payload, &[]])];
        if payload.len() >= 2 {
            framings.push(msg(BINARY, &[&payload[..1], &[], &payload[1..]]));
        }
        for second in framings {
            for first in [
                msg(TEXT, &[HELLO]),
                pinged(TEXT, HELLO),
                msg(BINARY, &[&[0x00]]),
            ] {
                let frames = second.frames.len();
                let messages = [first, second.clone(), msg(TEXT, &[HELLO])];
                check(&format!("{what} in {frames} frames"), &messages, BIG);
            }
        }
    }
}

/// Payloads of 510 to 514 compressed bytes (a stored block, then the sync
/// flush's header: the one-call path takes up to 512, after the owed
/// tail, side by side) and messages of 4095 to 4097 inflated bytes from a
/// few compressed ones referring back (the one-call path's 4 KiB room),
/// after a message that leaves the tail owed.
#[test]
fn around_the_one_call_path_with_a_tail_owed() {
    for len in 510..=514 {
        let content = text(len as u64, len - 6);
        let payload = [stored(&content), vec![0x00]].concat();
        assert_eq!(payload.len(), len);
        assert_eq!(reference_inflate(&payload).as_deref(), Some(&content[..]));
        for first in [msg(TEXT, &[HELLO]), msg(BINARY, &[&payload])] {
            let messages = [first, msg(TEXT, &[&payload]), msg(TEXT, &[HELLO])];
            let want = expected(&messages, BIG);
            for params in [TAKEOVER, NO_TAKEOVER] {
                for limit in [len - 7, len - 6, len - 5] {
                    let want = with_limit(&want, limit);
                    assert_eq!(run(params, &messages, limit), want, "{len} B at {limit}");
                }
            }
        }
    }
    for n in 4094..=4098 {
        let first = text(n as u64, 300);
        let long: Vec<u8> = first.iter().copied().cycle().take(n).collect();
        let [a, b] = &takeover_compressed(&[&first, &long])[..] else {
            unreachable!()
        };
        assert_eq!(flate2_stream(&[a, b]), vec![first.clone(), long.clone()]);
        assert!(b.len() < 64, "{}", b.len());
        for limit in [n - 1, n, n + 1] {
            let messages = [msg(TEXT, &[a]), msg(TEXT, &[b]), msg(TEXT, &[HELLO])];
            let mut want = vec![Seen::Message(true, first.clone())];
            if n > limit {
                want.push(Seen::Closed(1009, true));
            } else {
                want.push(Seen::Message(true, long.clone()));
                want.push(Seen::Message(true, b"Hello".to_vec()));
                want.push(Seen::Closed(1000, false));
            }
            assert_eq!(run(TAKEOVER, &messages, limit), want, "{n} B at {limit}");
        }
    }
}

/// Invalid UTF-8 before the limit in a text message over it: 1007 (std's
/// verdict on the bytes within the limit), every way, through both paths.
#[test]
fn invalid_text_before_the_limit_of_a_message_over_it() {
    let mut data = b"ab\xFFcd".to_vec();
    data.extend(std::iter::repeat_n(b'x', 200));
    assert!(std::str::from_utf8(&data[..100]).is_err());
    for payload in [
        [stored(&data), vec![0x00]].concat(),
        sync_compressed(&data, 6),
    ] {
        for frames in [vec![&payload[..]], vec![&payload[..1], &payload[1..]]] {
            let messages = [msg(TEXT, &[HELLO]), msg(TEXT, &frames)];
            for params in [TAKEOVER, NO_TAKEOVER] {
                assert_eq!(
                    run(params, &messages, 100),
                    [
                        Seen::Message(true, b"Hello".to_vec()),
                        Seen::Closed(1007, true)
                    ]
                );
            }
        }
    }
}

/// Limits of 0 and 1 byte: empty messages (`00`) one after another, the
/// tail owed between them, then one of a byte and one of two.
#[test]
fn empty_messages_at_the_smallest_limits() {
    let one = sync_compressed(b"a", 6);
    let two = sync_compressed(b"ab", 6);
    for limit in [0, 1] {
        let messages = [
            msg(BINARY, &[&[0x00]]),
            msg(TEXT, &[&[0x00], &[]]),
            msg(BINARY, &[&[0x00]]),
            msg(BINARY, &[&one]),
            msg(BINARY, &[&two]),
        ];
        let want = with_limit(&expected(&messages, BIG), limit);
        assert_eq!(want.len(), 4 + limit);
        for params in [TAKEOVER, NO_TAKEOVER] {
            assert_eq!(run(params, &messages, limit), want, "limit {limit}");
        }
    }
}

/// Random valid conversations: messages of random data and length (0 to
/// 20 KiB), compressed by flate2 with context takeover (or a fresh
/// compressor each, when none is negotiated), each ended by a sync flush
/// (the tail stripped), or by a final block (then `00` or not), or by a
/// final empty stored block at the tail, after which the compressor
/// starts again; some uncompressed, some in fragments with a ping or
/// empty frames. Every message must come out as sent, however the stream
/// is cut (whole, byte by byte, and at random points).
#[test]
fn random_valid_conversations_come_out_as_sent() {
    let mut rng = Rng(0x5EED_0012);
    for round in 0..40 {
        let takeover = round % 4 != 3;
        let params = if takeover { TAKEOVER } else { NO_TAKEOVER };
        let mut stream = Compress::new(Compression::new(6), false);
        let mut messages = Vec::new();
        let mut want = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let len = match rng.below(4) {
                0 => rng.below(8),
                1 => rng.below(600),
                2 => 3500 + rng.below(1200),
                _ => rng.below(20_000),
            };
            let data = if rng.below(2) == 0 {
                text(rng.next(), len)
            } else {
                (0..len).map(|_| rng.below(256) as u8).collect()
            };
            let opcode = if data.is_ascii() && rng.below(2) == 0 {
                TEXT
            } else {
                BINARY
            };
            want.push(Seen::Message(opcode == TEXT, data.clone()));
            if rng.below(8) == 0 {
                messages.push(plain(opcode, &data));
                continue;
            }
            if !takeover {
                stream = Compress::new(Compression::new(rng.below(10) as u32), false);
            }
            let mut payload = common::deflate::sync_flush(&mut stream, &data);
            // zlib writes nothing for a sync flush with nothing new.
            if payload.ends_with(&TAIL) {
                payload.truncate(payload.len() - TAIL.len());
            }
            match rng.below(6) {
                0 => {
                    // The sync flush's empty stored block whole, then an
                    // empty final fixed block.
                    payload.extend_from_slice(&[0x00, 0x00, 0xFF, 0xFF, 0x03, 0x00]);
                    if rng.below(2) == 0 {
                        payload.push(0x00);
                    }
                    stream = Compress::new(Compression::new(6), false);
                }
                1 => {
                    // The sync flush whole, then a final empty stored
                    // block whose lengths are the tail.
                    payload.extend_from_slice(&[0x00, 0x00, 0xFF, 0xFF, 0x01]);
                    stream = Compress::new(Compression::new(6), false);
                }
                _ => {
                    if payload.is_empty() {
                        payload.push(0x00);
                    }
                }
            }
            let m = match rng.below(4) {
                0 => pinged(opcode, &payload),
                1 => {
                    let cut = rng.below(payload.len() + 1);
                    msg(opcode, &[&[], &payload[..cut], &[], &payload[cut..], &[]])
                }
                _ => msg(opcode, &[&payload]),
            };
            messages.push(m);
        }
        want.push(Seen::Closed(1000, false));
        let input = wire(&messages);
        for streaming in [false, true] {
            let config = Config::builder().streaming(streaming).build();
            let make = || Connection::with_deflate(Role::Server, config, Some(params));
            let mut cutss: Vec<Vec<usize>> = vec![vec![], (1..input.len()).collect()];
            for _ in 0..4 {
                let mut cuts: Vec<usize> = (0..1 + rng.below(20))
                    .map(|_| rng.below(input.len() + 1))
                    .collect();
                cuts.sort_unstable();
                cutss.push(cuts);
            }
            for cuts in cutss {
                // Each input path alone: their chunks may differ (see
                // `a_frame_after_a_small_one_chunks_the_same_through_both_input_paths`).
                for use_read_buf in [false, true] {
                    assert_eq!(
                        seen(feed_cut(&mut make(), &input, &cuts, use_read_buf).0, Pings::Skipped),
                        want,
                        "round {round}, streaming {streaming}, read_buf {use_read_buf}, cuts {cuts:?}"
                    );
                }
            }
        }
    }
}

/// `drive_connection`'s rule, both input paths give the same events, in
/// streaming mode for a compressed message's frame that follows a small
/// frame (here its own empty or 10-byte first frame) in the same read. It
/// used to reach the inflater in two pieces through `receive`: the rest
/// of `recv/frames.rs`'s 4 KiB window of small frames, then the rest, so
/// 6000 random bytes stored (level 0) in frames of 0 and 6006 bytes came
/// out as chunks of 4077, 1923, 0 and 0 (last) bytes, against 6000, 0 and
/// 0 through `read_buf`. Found by
/// [`random_valid_conversations_come_out_as_sent`].
#[test]
fn a_frame_after_a_small_one_chunks_the_same_through_both_input_paths() {
    let mut rng = Rng(3);
    let data: Vec<u8> = (0..6000).map(|_| rng.below(256) as u8).collect();
    let payload = sync_compressed(&data, 0);
    assert_eq!(payload.len(), 6006);
    let config = Config::builder().streaming(true).build();
    let make = || Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    for lead in [0, 10] {
        let input = wire(&[msg(BINARY, &[&payload[..lead], &payload[lead..]])]);
        // Cut at 0: all of it through `receive`, or all through `read_buf`.
        let (events, _) = drive_connection(&make, &input, &[0]);
        assert_eq!(
            seen(events, Pings::Skipped),
            [
                Seen::Message(false, data.clone()),
                Seen::Closed(1000, false)
            ]
        );
    }
}

/// A message that refers back into the last one (context takeover), of
/// the limit -1/0/+1 bytes, in one frame, in three with a ping, and with
/// an empty last frame: 1009 only past the limit, every way.
#[test]
fn a_message_referring_back_at_the_limit() {
    for len in [200usize, 3000, 6000] {
        let first = text(len as u64 + 1, len);
        let second = [&first[len / 4..], &first[..len / 4], b"!"].concat();
        let [a, b] = &takeover_compressed(&[&first, &second])[..] else {
            unreachable!()
        };
        assert_eq!(flate2_stream(&[a, b]), vec![first.clone(), second.clone()]);
        for limit in [second.len() - 1, second.len(), second.len() + 1] {
            for m in [msg(BINARY, &[b]), pinged(BINARY, b), msg(BINARY, &[b, &[]])] {
                let messages = [msg(TEXT, &[a]), m, msg(TEXT, &[HELLO])];
                let want = with_limit(
                    &[
                        Seen::Message(true, first.clone()),
                        Seen::Message(false, second.clone()),
                        Seen::Message(true, b"Hello".to_vec()),
                        Seen::Closed(1000, false),
                    ],
                    limit,
                );
                // The first (len bytes) is within every limit here.
                assert_eq!(run(TAKEOVER, &messages, limit), want, "{len} B at {limit}");
            }
        }
    }
}

/// Valid messages mutated (a byte changed, a bit flipped, cut short,
/// grown by a byte), after a message that leaves the tail owed: without
/// context takeover the verdict is the oracle's (miniz_oxide from a fresh
/// context, std's UTF-8 check); with it (the mutation may refer back into
/// the first message) the same whole, byte by byte and cut at every
/// point, both paths, whole messages and streaming.
#[test]
fn mutated_messages_after_a_tail_owed() {
    let mut rng = Rng(0xB17F_11B5);
    for round in 0..400 {
        let len = rng.below(200);
        let data = if round % 2 == 0 {
            text(rng.next(), len)
        } else {
            (0..len).map(|_| rng.below(4) as u8 + b'a').collect()
        };
        let mut payload = match rng.below(3) {
            0 => sync_compressed(&data, rng.below(10) as u32),
            1 => final_compressed(&data, rng.below(10) as u32),
            _ => [final_compressed(&data, 6), vec![0x00]].concat(),
        };
        let at = rng.below(payload.len());
        match rng.below(4) {
            0 => payload[at] = rng.below(256) as u8,
            1 => payload[at] ^= 1 << rng.below(8),
            2 => payload.truncate(at),
            _ => payload.insert(at, rng.below(256) as u8),
        }
        let frames: Vec<&[u8]> = match rng.below(3) {
            0 => vec![&payload],
            1 => vec![&payload[..at / 2], &payload[at / 2..]],
            _ => vec![&payload, &[]],
        };
        let messages = [msg(TEXT, &[HELLO]), msg(TEXT, &frames)];
        let want = expected(&messages, BIG);
        assert_eq!(
            run(NO_TAKEOVER, &messages, BIG),
            want,
            "round {round}: {payload:02x?}"
        );
        // Takeover: `run` checks every way gives the same; what the
        // oracle accepts from a fresh context (no distance before its own
        // start) inflates the same after "Hello"; what it refuses may
        // refer back into "Hello" and be valid.
        let got = run(TAKEOVER, &messages, BIG);
        if want.len() == 3 {
            assert_eq!(got, want, "round {round}: {payload:02x?}");
        }
    }
}
