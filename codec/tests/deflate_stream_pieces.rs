//! Streaming mode with permessage-deflate: a read's compressed bytes come
//! out in pieces of at most 64 KiB however much they inflate to (DEFLATE
//! inflates up to ~1032x), so with the message limit lifted memory stays
//! bounded (README "streaming", issue #15 item 3).
//!
//! Covered: a 64 MiB bomb (64 KiB compressed) read at once and in 64 KiB
//! reads: every piece within the bound, their bytes a reference inflate's,
//! no block past a few pieces; a 1 MiB bomb the same every way (whole,
//! byte by byte, cut at every point, both input paths), with a ping after
//! it that comes out after all its pieces, and one between two fragments
//! after all the first one's; invalid UTF-8 deep inside a
//! text message whose input waits for its pieces to be taken: 1007 with
//! the same evidence however cut; the message limit still 1009 at exactly
//! limit + 1, and not at the limit.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, joined_chunks::JoinedChunks, *};
use flate2::{Compress, Compression};
use wsframe::{Config, Connection, Event, Message, ProtocolError, Role};

/// The bound on a streamed piece of a compressed message.
const PIECE_MAX: usize = 64 * 1024;

/// What a run shows, comparable across cuts: messages (their pieces
/// joined), pings, and the close with its error. Asserts every piece is
/// within [`PIECE_MAX`].
#[derive(Debug, PartialEq)]
enum Seen {
    Message(bool, Vec<u8>),
    /// A ping, and how many bytes of an open message came out before it.
    Ping(Vec<u8>, usize),
    Closed(u16, Option<ProtocolError>),
}

/// `events` as [`Seen`]s; the bytes of an unfinished message (one that
/// failed) are dropped, as how many pieces went out before the failure
/// depends on the cuts.
fn seen(events: Vec<Event>) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut partial = JoinedChunks::default();
    for event in events {
        match event {
            Event::Chunk { data, last } => {
                let len = data.as_bytes().len();
                assert!(len <= PIECE_MAX, "a piece of {len} bytes");
                if let Some((text, bytes)) = partial.push(&data, last) {
                    out.push(Seen::Message(text, bytes));
                }
            }
            Event::Message(m) => out.push(Seen::Message(
                matches!(m, Message::Text(_)),
                m.as_bytes().to_vec(),
            )),
            Event::Ping(p) => out.push(Seen::Ping(p.to_vec(), partial.bytes_so_far())),
            Event::Closed(c) => out.push(Seen::Closed(c.code.into(), c.error)),
            other => panic!("unexpected event {other:?}"),
        }
    }
    out
}

/// A streaming server with permessage-deflate (context takeover) and
/// `limit`.
fn streaming_server(limit: u64) -> Connection {
    let config = Config::builder()
        .max_message_size(limit)
        .streaming(true)
        .build();
    Connection::with_deflate(Role::Server, config, Some(TAKEOVER))
}

/// What a [`streaming_server`] with `limit` makes of `input`, as [`seen`]
/// shows it: the same whole, byte by byte and cut at every point, through
/// both input paths ([`same_every_way`]; `what` names the case).
fn seen_every_way(what: &str, limit: u64, input: &[u8]) -> Vec<Seen> {
    same_every_way(
        what,
        &|| streaming_server(limit),
        input,
        true,
        |(events, _)| seen(events),
    )
}

/// `data` as one compressed client frame of `opcode`.
fn compressed_frame(opcode: u8, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let payload = sync_compressed(data, 9);
    (raw_frame(FIN | RSV1 | opcode, &payload, Some(KEY)), payload)
}

/// The largest block each thread asks for (common's allocator).
#[global_allocator]
static ALLOCATOR: common::largest_block::LargestPerThread = common::largest_block::LargestPerThread;

#[test]
fn a_64_mib_bomb_read_at_once_comes_out_in_bounded_pieces() {
    let zeros = vec![0u8; 64 << 20];
    let (input, payload) = compressed_frame(BINARY, &zeros);
    assert!(payload.len() <= 80 * 1024, "{} compressed", payload.len());
    let want = reference_inflate(&payload).expect("a whole message");
    assert_eq!(want.len(), zeros.len());
    drop(zeros);
    let reads: Vec<usize> = (64 * 1024..input.len()).step_by(64 * 1024).collect();
    for cuts in [&[][..], &reads] {
        for use_read_buf in [false, true] {
            let mut server = streaming_server(u64::MAX);
            common::largest_block::reset();
            let (events, _) = feed_cut(&mut server, &input, cuts, use_read_buf);
            let largest = common::largest_block::largest();
            // The read buffer holds the input (for `read_buf`, all of it,
            // with room to grow); beyond it, a piece at a time.
            assert!(
                largest <= 4 * input.len().max(PIECE_MAX),
                "read_buf {use_read_buf}, {} reads: a block of {largest} bytes",
                cuts.len() + 1
            );
            assert_eq!(seen(events), [Seen::Message(false, want.clone())]);
        }
    }
}

#[test]
fn a_bomb_then_a_ping_comes_out_the_same_every_way_in_bounded_pieces() {
    let (mut input, payload) = compressed_frame(BINARY, &vec![0u8; 1 << 20]);
    input.extend(raw_frame(FIN | PING, b"after", Some(KEY)));
    let want = reference_inflate(&payload).expect("a whole message");
    let seen = seen_every_way("bomb, ping", u64::MAX, &input);
    assert_eq!(
        seen,
        [Seen::Message(false, want), Seen::Ping(b"after".to_vec(), 0)]
    );
}

#[test]
fn a_ping_between_fragments_of_a_bomb_comes_out_after_the_first_ones_pieces() {
    // Two fragments of 512 KiB of zeros each, the first ended by a sync
    // flush (so it inflates to exactly its 512 KiB), a ping between them.
    let half = vec![0u8; 512 * 1024];
    let mut stream = Compress::new(Compression::new(9), false);
    let first = sync_flush(&mut stream, &half);
    let second = sync_message(&mut stream, &half);
    let whole = [&first[..], &second[..]].concat();
    let want = reference_inflate(&whole).expect("a whole message");
    assert_eq!(want.len(), 1 << 20);
    let input = [
        raw_frame(RSV1 | BINARY, &first, Some(KEY)),
        raw_frame(FIN | PING, b"between", Some(KEY)),
        raw_frame(FIN | CONT, &second, Some(KEY)),
    ]
    .concat();
    let seen = seen_every_way("fragmented bomb, ping", u64::MAX, &input);
    assert_eq!(
        seen,
        [
            Seen::Ping(b"between".to_vec(), half.len()),
            Seen::Message(false, want)
        ]
    );
}

#[test]
fn invalid_text_deep_in_a_held_message_is_1007_the_same_however_cut() {
    // 300 KiB of text, then a byte no UTF-8 has, then more: the invalid
    // byte is several pieces in, behind input the transform held.
    let mut text = b"abc".repeat(100 * 1024);
    text.push(0xFF);
    text.extend(b"xyz".repeat(1000));
    let (mut input, payload) = compressed_frame(TEXT, &text);
    input.extend(raw_frame(FIN | PING, b"never", Some(KEY)));
    assert_eq!(reference_inflate(&payload).as_deref(), Some(&text[..]));
    let seen = seen_every_way("invalid text", u64::MAX, &input);
    let [Seen::Closed(1007, Some(ProtocolError::InvalidUtf8(evidence)))] = &seen[..] else {
        panic!("{seen:?}")
    };
    // The oracle: std says where the text stops being UTF-8 and how long
    // the invalid sequence is; the context is the bytes before it.
    let err = std::str::from_utf8(&text).unwrap_err();
    let at = err.valid_up_to();
    assert_eq!(at, 300 * 1024);
    assert_eq!(evidence.offset(), at as u64);
    assert_eq!(evidence.frame(), 1);
    assert_eq!(evidence.bytes(), &text[at..at + err.error_len().unwrap()]);
    let context = evidence.context();
    assert!(!context.is_empty());
    assert_eq!(context, &text[at - context.len()..at]);
}

#[test]
fn the_limit_is_still_1009_at_exactly_limit_plus_one() {
    // A limit several pieces long: the message of that length streams
    // out whole, one byte more is refused.
    const LIMIT: usize = 200 * 1024;
    for (len, code) in [(LIMIT, None), (LIMIT + 1, Some(1009))] {
        let (mut input, _) = compressed_frame(BINARY, &vec![7u8; len]);
        input.extend(raw_frame(FIN | PING, b"p", Some(KEY)));
        let seen = seen_every_way("limit", LIMIT as u64, &input);
        match code {
            None => assert_eq!(
                seen,
                [
                    Seen::Message(false, vec![7u8; len]),
                    Seen::Ping(b"p".to_vec(), 0)
                ]
            ),
            Some(code) => assert_eq!(
                seen,
                [Seen::Closed(
                    code,
                    Some(ProtocolError::MessageTooBig {
                        declared: LIMIT as u64 + 1,
                        limit: LIMIT as u64
                    })
                )]
            ),
        }
    }
}
