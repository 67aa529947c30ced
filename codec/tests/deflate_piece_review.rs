//! A fresh review of the streamed-piece cap (streaming mode with
//! permessage-deflate: a piece holds at most 64 KiB, the rest of a read's
//! compressed input waits until the pieces before are taken).
//!
//! Covered: the order of what follows a paused message (a pong, a second
//! compressed message with and without context takeover, an empty or plain
//! one, a close frame, bad frames and a bad continuation: 1002 only after
//! all the pieces); `receive`, `read_buf` and `prepare_read` while paused
//! (nothing lost, nothing early); text cut by a piece boundary inside a
//! code point, invalid UTF-8 at a piece boundary, in a held fragment (its
//! frame and context) or cut short at the end (1007, std's offset); a
//! broken block in held input (1007); a final block ending a held message,
//! with its pad byte or more (the oracle decides); messages of whole pieces
//! (one last piece, no empty one before it); the message limit met
//! mid-drain, at a piece boundary and in a second fragment (1009 once,
//! nothing past the limit handed out); our close while paused, and an idle
//! timeout (the held input handed out first); the inflater released after
//! a held message without context takeover; `buffered_len` while paused
//! and after; a client; a bomb
//! without streaming still 1009; the tokio wrapper writing a pong before
//! the caller works through a held message's pieces. Every stream test runs
//! whole, byte by byte and cut at every point, through both input paths;
//! the oracle is `reference_inflate` and std's UTF-8 check.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use flate2::{Compress, Compression};
use wsframe::{CloseCode, Config, Connection, DeflateParams, Event, Message, ProtocolError, Role};

/// The bound on a streamed piece of a compressed message.
const PIECE_MAX: usize = 64 * 1024;

/// What a run shows, comparable across cuts. A failed message's bytes are
/// kept only as checked (a prefix of what it should be, within the limit):
/// how many pieces went out before the failure depends on the cuts.
#[derive(Clone, PartialEq)]
enum Seen {
    Message(bool, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(u16, Option<ProtocolError>),
}

/// Bytes shown by their length and ends: a failure prints no megabytes.
impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |b: &[u8]| {
            format!(
                "{} bytes {:02x?}..{:02x?}",
                b.len(),
                &b[..b.len().min(4)],
                &b[b.len().saturating_sub(4)..]
            )
        };
        match self {
            Seen::Message(text, b) => write!(f, "Message(text {text}, {})", short(b)),
            Seen::Ping(b) => write!(f, "Ping({})", short(b)),
            Seen::Pong(b) => write!(f, "Pong({})", short(b)),
            Seen::Closed(code, error) => write!(f, "Closed({code}, {error:?})"),
        }
    }
}

/// `events` as [`Seen`]s, asserting what holds of every piece: within
/// [`PIECE_MAX`], text pieces valid UTF-8 on their own, no empty piece but
/// possibly a last one, and an unfinished message's bytes a prefix of
/// `failed_prefix_of` (when given).
fn seen(events: Vec<Event>, failed_prefix_of: Option<&[u8]>) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut partial: Option<(bool, Vec<u8>)> = None;
    for event in events {
        match event {
            Event::Chunk { data, last } => {
                let bytes = data.as_bytes();
                assert!(bytes.len() <= PIECE_MAX, "a piece of {} bytes", bytes.len());
                assert!(last || !bytes.is_empty(), "an empty piece before the last");
                let text = matches!(data, Message::Text(_));
                if text {
                    assert!(std::str::from_utf8(bytes).is_ok(), "a text piece is UTF-8");
                }
                let entry = partial.get_or_insert((text, Vec::new()));
                assert_eq!(entry.0, text, "a message's pieces change type");
                entry.1.extend_from_slice(bytes);
                if last {
                    let (text, bytes) = partial.take().unwrap();
                    out.push(Seen::Message(text, bytes));
                }
            }
            Event::Message(m) => {
                assert!(partial.is_none(), "a message inside another");
                out.push(Seen::Message(
                    matches!(m, Message::Text(_)),
                    m.as_bytes().to_vec(),
                ))
            }
            Event::Ping(p) => out.push(Seen::Ping(p.to_vec())),
            Event::Pong(p) => out.push(Seen::Pong(p.to_vec())),
            Event::Closed(c) => {
                if let Some((_, bytes)) = partial.take() {
                    let whole = failed_prefix_of.expect("a message cut short");
                    assert!(whole.starts_with(&bytes), "pieces not the message's");
                }
                out.push(Seen::Closed(c.code.into(), c.error))
            }
        }
    }
    out
}

/// How many bytes the chunks in `events` handed out, in all.
fn chunk_bytes(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| match e {
            Event::Chunk { data, .. } => data.as_bytes().len(),
            _ => 0,
        })
        .sum()
}

/// A streaming server with permessage-deflate (`params`) and `limit`.
fn streaming_server(params: DeflateParams, limit: u64) -> Connection {
    let config = Config::builder()
        .max_message_size(limit)
        .streaming(true)
        .build();
    Connection::with_deflate(Role::Server, config, Some(params))
}

/// `input` to streaming servers every way; what they saw.
fn every_way(
    what: &str,
    params: DeflateParams,
    limit: u64,
    input: &[u8],
    whole: Option<&[u8]>,
) -> Vec<Seen> {
    same_every_way(
        what,
        &|| streaming_server(params, limit),
        input,
        true,
        |(events, _)| seen(events, whole),
    )
}

/// `data` as one compressed client frame of `opcode`, fresh context.
fn compressed_frame(opcode: u8, data: &[u8]) -> Vec<u8> {
    let payload = sync_compressed(data, 9);
    assert_eq!(reference_inflate(&payload).as_deref(), Some(data));
    client(FIN | RSV1 | opcode, &payload)
}

/// 200 KiB of zeros: four pieces from a couple of hundred bytes.
fn bomb() -> Vec<u8> {
    vec![0u8; 200 * 1024]
}

#[test]
fn what_follows_a_paused_message_comes_after_all_its_pieces() {
    // Two compressed messages from one compressor (context takeover: the
    // second's back-references reach into the first), a pong between,
    // then the peer's close.
    let first = bomb();
    let second: Vec<u8> = b"after the bomb ".repeat(5000);
    let mut compressor = Compress::new(Compression::new(9), false);
    let first_payload = sync_message(&mut compressor, &first);
    let second_payload = sync_message(&mut compressor, &second);
    let input = [
        client(FIN | RSV1 | BINARY, &first_payload),
        client(FIN | PONG, b"pong"),
        client(FIN | RSV1 | TEXT, &second_payload),
        client(FIN | CLOSE, &close_payload(1000, b"")),
    ]
    .concat();
    assert_eq!(reference_inflate(&first_payload), Some(first.clone()));
    let seen = every_way("takeover", TAKEOVER, u64::MAX, &input, None);
    assert_eq!(
        seen,
        [
            Seen::Message(false, first),
            Seen::Pong(b"pong".to_vec()),
            Seen::Message(true, second),
            Seen::Closed(1000, None),
        ]
    );
}

#[test]
fn without_context_takeover_a_second_message_right_behind_a_paused_one_is_whole() {
    let first = bomb();
    let second: Vec<u8> = b"0123456789".repeat(20_000);
    let input = [
        compressed_frame(BINARY, &first),
        compressed_frame(TEXT, &second),
    ]
    .concat();
    let seen = every_way("no takeover", NO_TAKEOVER, u64::MAX, &input, None);
    assert_eq!(
        seen,
        [Seen::Message(false, first), Seen::Message(true, second)]
    );
}

#[test]
fn a_reserved_opcode_behind_a_paused_message_is_1002_after_all_its_pieces() {
    let first = bomb();
    let input = [
        compressed_frame(BINARY, &first),
        client(FIN | 0x3, b"reserved"),
        client(FIN | PING, b"never"),
    ]
    .concat();
    let seen = every_way("reserved opcode", TAKEOVER, u64::MAX, &input, None);
    assert_eq!(
        seen,
        [
            Seen::Message(false, first),
            Seen::Closed(1002, Some(ProtocolError::ReservedOpcode(3)))
        ]
    );
}

/// Runs `input` into a streaming server: the first `head` bytes, one event
/// taken (the message is then paused), the rest in reads of `step` bytes
/// (through `read_buf` when `use_read_buf`) with no event taken between,
/// then every event.
fn fed_while_paused(input: &[u8], head: usize, step: usize, use_read_buf: bool) -> Vec<Event> {
    let mut server = streaming_server(TAKEOVER, u64::MAX);
    server.receive(&input[..head]);
    let mut events = vec![server.next_event().expect("a first piece")];
    for read in input[head..].chunks(step) {
        if use_read_buf {
            server.read_buf().extend_from_slice(read);
        } else {
            server.receive(read);
        }
    }
    events.extend(std::iter::from_fn(|| server.next_event()));
    events
}

#[test]
fn reads_while_paused_lose_nothing_and_are_not_read_early() {
    let first = bomb();
    let second = b"second".repeat(100);
    let first_frame = compressed_frame(BINARY, &first);
    let mut compressor = Compress::new(Compression::new(9), false);
    let first_frame_ctx = client(FIN | RSV1 | BINARY, &sync_message(&mut compressor, &first));
    assert_eq!(first_frame, first_frame_ctx);
    let input = [
        first_frame,
        client(FIN | PING, b"p1"),
        client(FIN | RSV1 | TEXT, &sync_message(&mut compressor, &second)),
        client(FIN | PING, b"p2"),
    ]
    .concat();
    let want = [
        Seen::Message(false, first),
        Seen::Ping(b"p1".to_vec()),
        Seen::Message(true, second),
        Seen::Ping(b"p2".to_vec()),
    ];
    // The whole first frame in the first read (so it pauses), then the rest
    // in reads of every size up to 7, and a mix of both paths.
    let first_len = compressed_frame(BINARY, &bomb()).len();
    for step in 1..=7 {
        for use_read_buf in [false, true] {
            let events = fed_while_paused(&input, first_len, step, use_read_buf);
            assert_eq!(
                seen(events, None),
                want,
                "step {step}, read_buf {use_read_buf}"
            );
        }
    }
}

#[test]
fn text_cut_by_a_piece_boundary_inside_a_code_point_comes_out_whole() {
    // A code point of 2, 3 and 4 bytes across the 64 KiB boundary, at
    // every offset; enough text after it for more pieces.
    for ch in ['é', '€', '𝄞'] {
        for before in PIECE_MAX - 3..=PIECE_MAX {
            let mut text = "a".repeat(before);
            text.push(ch);
            text.push_str(&"b".repeat(70_000));
            let input = compressed_frame(TEXT, text.as_bytes());
            let seen = same_every_way(
                "code point at the boundary",
                &|| streaming_server(TAKEOVER, u64::MAX),
                &input,
                false,
                |(events, _)| seen(events, None),
            );
            assert_eq!(
                seen,
                [Seen::Message(true, text.into_bytes())],
                "{ch} after {before}"
            );
        }
    }
}

#[test]
fn invalid_utf8_exactly_at_a_piece_boundary_is_1007_at_stds_offset() {
    for bad in [
        &[0xFF][..],
        &[0xC3, 0x28],
        &[0xE2, 0x82],
        &[0xED, 0xA0, 0x80],
    ] {
        for before in [PIECE_MAX - 1, PIECE_MAX, PIECE_MAX + 1] {
            let mut text = b"a".repeat(before);
            text.extend_from_slice(bad);
            text.extend(b"z".repeat(100_000));
            let input = [compressed_frame(TEXT, &text), client(FIN | PING, b"never")].concat();
            let seen = every_way(
                "invalid at the boundary",
                TAKEOVER,
                u64::MAX,
                &input,
                Some(&text),
            );
            let err = std::str::from_utf8(&text).unwrap_err();
            let [Seen::Closed(1007, Some(ProtocolError::InvalidUtf8(evidence)))] = &seen[..] else {
                panic!("{bad:02x?} after {before}: {seen:?}")
            };
            assert_eq!(
                evidence.offset(),
                err.valid_up_to() as u64,
                "{bad:02x?} after {before}"
            );
        }
    }
}

#[test]
fn a_message_of_exactly_two_pieces_ends_once() {
    for len in [PIECE_MAX, 2 * PIECE_MAX, 3 * PIECE_MAX] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let input = [compressed_frame(BINARY, &data), client(FIN | PING, b"next")].concat();
        let events = drive_connection(&|| streaming_server(TAKEOVER, u64::MAX), &input, &[]).0;
        let lasts = events
            .iter()
            .filter(|e| matches!(e, Event::Chunk { last: true, .. }))
            .count();
        assert_eq!(lasts, 1, "{len}: {} events", events.len());
        // `seen` refuses an empty piece but the last.
        assert_eq!(
            seen(events, None),
            [
                Seen::Message(false, data.clone()),
                Seen::Ping(b"next".to_vec())
            ]
        );
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let events =
            drive_connection(&|| streaming_server(TAKEOVER, u64::MAX), &input, &bytewise).0;
        assert_eq!(
            seen(events, None),
            [Seen::Message(false, data), Seen::Ping(b"next".to_vec())]
        );
    }
}

#[test]
fn the_limit_met_while_draining_is_1009_once_and_nothing_past_it_goes_out() {
    const LIMIT: u64 = 150_000;
    let data = bomb();
    let input = [
        compressed_frame(BINARY, &data),
        client(FIN | PING, b"never"),
    ]
    .concat();
    let check = |(events, out): (Vec<Event>, Vec<u8>)| {
        let handed = chunk_bytes(&events);
        assert!(
            handed as u64 <= LIMIT,
            "{handed} bytes past a limit of {LIMIT}"
        );
        assert_eq!(close_code_on_wire(&out), Some(1009));
        let closes = server_frames(&out)
            .iter()
            .filter(|f| f.0 & 0x0F == CLOSE)
            .count();
        assert_eq!(closes, 1);
        seen(events, Some(&data))
    };
    let seen = same_every_way(
        "limit",
        &|| streaming_server(TAKEOVER, LIMIT),
        &input,
        true,
        check,
    );
    assert_eq!(
        seen,
        [Seen::Closed(
            1009,
            Some(ProtocolError::MessageTooBig {
                declared: LIMIT + 1,
                limit: LIMIT
            })
        )]
    );
}

#[test]
fn a_frame_limit_below_a_pieces_size_is_for_the_wire_not_the_pieces() {
    // The frame limit bounds the compressed payload (§5.2 length); the
    // pieces are 64 KiB however small it is.
    let data = bomb();
    let input = compressed_frame(BINARY, &data);
    let make = || {
        let config = Config::builder()
            .max_frame_size(1024)
            .max_message_size(u64::MAX)
            .streaming(true)
            .build();
        Connection::with_deflate(Role::Server, config, Some(TAKEOVER))
    };
    assert!(input.len() < 1024);
    let seen = same_every_way("frame limit", &make, &input, true, |(events, _)| {
        seen(events, None)
    });
    assert_eq!(seen, [Seen::Message(false, data)]);
}

#[test]
fn buffered_len_while_paused_is_the_held_input_and_nothing_after_the_message() {
    let data = vec![0u8; 1 << 20];
    let frame = compressed_frame(BINARY, &data);
    let input = [frame.clone(), client(FIN | PING, b"after")].concat();
    for use_read_buf in [false, true] {
        let mut server = streaming_server(TAKEOVER, u64::MAX);
        if use_read_buf {
            server.read_buf().extend_from_slice(&input);
        } else {
            server.receive(&input);
        }
        let mut events = Vec::new();
        while let Some(event) = server.next_event() {
            // Held: compressed input only, never inflated bytes.
            assert!(
                server.buffered_len() <= input.len(),
                "{} buffered of {} read",
                server.buffered_len(),
                input.len()
            );
            events.push(event);
        }
        assert_eq!(server.buffered_len(), 0);
        assert_eq!(
            seen(events, None),
            [
                Seen::Message(false, data.clone()),
                Seen::Ping(b"after".to_vec())
            ]
        );
    }
}

#[test]
fn our_close_while_paused_then_the_peers_close_ends_the_connection() {
    // After our close only control frames and the peer's close are read
    // (the docs of `close`); the paused message's rest may go out or not,
    // but the peer's close that follows it is read, nothing panics and
    // nothing is held after.
    let data = bomb();
    let input = [
        compressed_frame(BINARY, &data),
        client(FIN | PING, b"p"),
        client(FIN | CLOSE, &close_payload(1000, b"")),
    ]
    .concat();
    for use_read_buf in [false, true] {
        let mut server = streaming_server(TAKEOVER, u64::MAX);
        if use_read_buf {
            server.read_buf().extend_from_slice(&input);
        } else {
            server.receive(&input);
        }
        let Some(Event::Chunk {
            data: first,
            last: false,
        }) = server.next_event()
        else {
            panic!("a first piece")
        };
        assert!(data.starts_with(first.as_bytes()));
        server.close(CloseCode::NORMAL, "bye").unwrap();
        let events: Vec<Event> = std::iter::from_fn(|| server.next_event()).collect();
        let Some(Event::Closed(closed)) = events.last() else {
            panic!(
                "read_buf {use_read_buf}: no close in {} events",
                events.len()
            )
        };
        assert_eq!(u16::from(closed.code), 1000);
        assert_eq!(server.buffered_len(), 0);
    }
}

#[test]
fn without_streaming_a_bomb_is_still_1009() {
    let data = vec![0u8; 8 << 20];
    let input = compressed_frame(BINARY, &data);
    let make = || {
        let config = Config::builder().max_message_size(1 << 20).build();
        Connection::with_deflate(Role::Server, config, Some(TAKEOVER))
    };
    let seen = same_every_way("no streaming", &make, &input, false, |(events, out)| {
        assert_eq!(close_code_on_wire(&out), Some(1009));
        seen(events, None)
    });
    assert!(
        matches!(&seen[..], [Seen::Closed(1009, Some(ProtocolError::MessageTooBig { limit, .. }))] if *limit == 1 << 20),
        "{seen:?}"
    );
}

#[test]
fn a_fragmented_paused_message_in_thirds_comes_out_whole_every_way() {
    // The compressed payload cut in three fragments anywhere in its
    // blocks; a code point across the first piece boundary.
    let mut text = "a".repeat(PIECE_MAX - 1);
    text.push('€');
    text.push_str(&"xy".repeat(100_000));
    let mut input = Vec::new();
    push_compressed(&mut input, TEXT, &sync_compressed(text.as_bytes(), 9), true);
    input.extend(client(FIN | PING, b"after"));
    let seen = every_way("thirds", TAKEOVER, u64::MAX, &input, None);
    assert_eq!(
        seen,
        [
            Seen::Message(true, text.into_bytes()),
            Seen::Ping(b"after".to_vec())
        ]
    );
}

#[test]
fn an_empty_or_plain_message_right_behind_a_paused_one_starts_fresh() {
    let first = bomb();
    for form in 0..3 {
        // The empty message adds nothing to the window, so "last" is
        // compressed after the first message whatever form it takes.
        let mut compressor = Compress::new(Compression::new(9), false);
        let first_payload = sync_message(&mut compressor, &first);
        let empty = match form {
            0 => sync_message(&mut compressor, b""),
            1 => vec![0x00],
            _ => Vec::new(),
        };
        let input = [
            client(FIN | RSV1 | BINARY, &first_payload),
            client(FIN | RSV1 | TEXT, &empty),
            client(FIN | TEXT, b"plain"),
            client(FIN | RSV1 | BINARY, &sync_message(&mut compressor, b"last")),
        ]
        .concat();
        let seen = every_way("empty behind", TAKEOVER, u64::MAX, &input, None);
        // The oracle: an empty payload is no whole message (the tail alone
        // is the start of a stored block's lengths), so that is 1007.
        let second = match reference_inflate(&empty) {
            Some(bytes) => vec![
                Seen::Message(true, bytes),
                Seen::Message(true, b"plain".to_vec()),
                Seen::Message(false, b"last".to_vec()),
            ],
            None => vec![Seen::Closed(1007, Some(ProtocolError::InflateFailed))],
        };
        assert_eq!(
            seen,
            [vec![Seen::Message(false, first.clone())], second].concat(),
            "empty payload {empty:02x?}"
        );
    }
}

#[test]
fn a_client_reads_a_servers_unmasked_bomb_in_bounded_pieces() {
    let data = bomb();
    let payload = sync_compressed(&data, 9);
    let input = [
        raw_frame(FIN | RSV1 | BINARY, &payload, None),
        raw_frame(FIN | PING, b"p", None),
    ]
    .concat();
    let make = || {
        // No pong: a client masks it with random keys, and runs compare
        // what was written.
        let config = Config::builder()
            .max_message_size(u64::MAX)
            .streaming(true)
            .auto_pong(false)
            .build();
        Connection::with_deflate(Role::Client, config, Some(TAKEOVER))
    };
    let seen = same_every_way("client", &make, &input, true, |(events, _)| {
        seen(events, None)
    });
    assert_eq!(
        seen,
        [Seen::Message(false, data), Seen::Ping(b"p".to_vec())]
    );
}

#[test]
fn the_limit_at_a_piece_boundary_is_1009_one_byte_past_it() {
    const LIMIT: usize = 2 * PIECE_MAX;
    for (len, refused) in [(LIMIT, false), (LIMIT + 1, true)] {
        let data = vec![3u8; len];
        let input = [compressed_frame(BINARY, &data), client(FIN | PING, b"p")].concat();
        let seen = every_way(
            "limit at a boundary",
            TAKEOVER,
            LIMIT as u64,
            &input,
            Some(&data),
        );
        if refused {
            assert_eq!(
                seen,
                [Seen::Closed(
                    1009,
                    Some(ProtocolError::MessageTooBig {
                        declared: LIMIT as u64 + 1,
                        limit: LIMIT as u64
                    })
                )]
            );
        } else {
            assert_eq!(
                seen,
                [Seen::Message(false, data), Seen::Ping(b"p".to_vec())]
            );
        }
    }
}

#[test]
fn bad_frames_behind_a_paused_message_fail_only_after_its_pieces() {
    let first = bomb();
    let cases: [(Vec<u8>, ProtocolError); 3] = [
        (
            client(FIN | 0x20 | BINARY, b"rsv2"),
            ProtocolError::ReservedBits(0b010),
        ),
        (
            client(FIN | RSV1 | PING, b"rsv1 ping"),
            ProtocolError::ReservedBits(0b100),
        ),
        (
            raw_frame(FIN | PING, b"unmasked", None),
            ProtocolError::UnmaskedFrame,
        ),
    ];
    for (bad, error) in cases {
        let input = [compressed_frame(BINARY, &first), bad].concat();
        let seen = every_way("bad frame behind", TAKEOVER, u64::MAX, &input, None);
        assert_eq!(
            seen,
            [
                Seen::Message(false, first.clone()),
                Seen::Closed(1002, Some(error))
            ]
        );
    }
}

#[test]
fn prepare_read_while_paused_taking_one_event_a_read_loses_nothing() {
    let first = vec![0u8; 1 << 20];
    let second = b"0123456789abcdef".repeat(10_000);
    let mut compressor = Compress::new(Compression::new(9), false);
    let input = [
        client(FIN | RSV1 | BINARY, &sync_message(&mut compressor, &first)),
        client(FIN | PING, b"p"),
        client(FIN | RSV1 | TEXT, &sync_message(&mut compressor, &second)),
        client(FIN | CLOSE, &close_payload(1000, b"")),
    ]
    .concat();
    let want = [
        Seen::Message(false, first),
        Seen::Ping(b"p".to_vec()),
        Seen::Message(true, second),
        Seen::Closed(1000, None),
    ];
    for chunk in [1, 7, 100, 4096] {
        let mut server = streaming_server(TAKEOVER, u64::MAX);
        let (mut read, mut events) = (0, Vec::new());
        while read < input.len() {
            let limit = server.prepare_read(chunk);
            let n = limit.min(chunk).min(input.len() - read);
            server.read_buf().extend_from_slice(&input[read..read + n]);
            read += n;
            events.extend(server.next_event());
        }
        events.extend(std::iter::from_fn(|| server.next_event()));
        assert_eq!(seen(events, None), want, "chunk {chunk}");
    }
}

#[test]
fn text_cut_short_at_its_end_behind_held_input_is_1007_at_stds_offset() {
    // The message's end arrives while its input is held: the cut code
    // point is found once the last piece is inflated.
    for tail in [&[0xE2][..], &[0xE2, 0x82], &[0xF0, 0x9D, 0x84]] {
        for before in [PIECE_MAX - 2, PIECE_MAX, 3 * PIECE_MAX + 1] {
            let mut text = b"a".repeat(before);
            text.extend_from_slice(tail);
            let input = [compressed_frame(TEXT, &text), client(FIN | PING, b"never")].concat();
            let seen = every_way("cut at the end", TAKEOVER, u64::MAX, &input, Some(&text));
            let err = std::str::from_utf8(&text).unwrap_err();
            let [Seen::Closed(1007, Some(ProtocolError::InvalidUtf8(evidence)))] = &seen[..] else {
                panic!("{tail:02x?} after {before}: {seen:?}")
            };
            assert_eq!(evidence.offset(), err.valid_up_to() as u64);
            assert_eq!(evidence.bytes(), tail);
        }
    }
}

#[test]
fn two_held_fragments_in_one_read_and_the_limit_in_the_second() {
    // Two fragments of 256 KiB of zeros each, the first ended by a sync
    // flush: with the limit lifted the message is whole; with a limit
    // inside the second fragment, 1009 once.
    let half = vec![0u8; 256 * 1024];
    let mut compressor = Compress::new(Compression::new(9), false);
    let first = sync_flush(&mut compressor, &half);
    let second = sync_message(&mut compressor, &half);
    let whole = reference_inflate(&[&first[..], &second[..]].concat()).expect("a whole message");
    let input = [
        client(RSV1 | BINARY, &first),
        client(FIN | CONT, &second),
        client(FIN | PING, b"p"),
    ]
    .concat();
    let seen = every_way("two fragments", TAKEOVER, u64::MAX, &input, None);
    assert_eq!(
        seen,
        [
            Seen::Message(false, whole.clone()),
            Seen::Ping(b"p".to_vec())
        ]
    );
    let limit = (half.len() + 100_000) as u64;
    let seen = every_way("limit in the second", TAKEOVER, limit, &input, Some(&whole));
    assert_eq!(
        seen,
        [Seen::Closed(
            1009,
            Some(ProtocolError::MessageTooBig {
                declared: limit + 1,
                limit
            })
        )]
    );
}

#[test]
fn our_close_while_paused_with_the_frame_still_arriving_ends_at_the_peers_close() {
    // Our close after the first piece, the input cut at every point: the
    // rest of the message (data, which may go out or not after our close)
    // is read past, the ping is answered, and the peer's close ends it;
    // nothing is held after.
    let data = bomb();
    let frame = compressed_frame(BINARY, &data);
    let input = [
        frame.clone(),
        client(FIN | PING, b"p"),
        client(FIN | CLOSE, &close_payload(1000, b"")),
    ]
    .concat();
    for cut in 2..=frame.len() {
        for use_read_buf in [false, true] {
            let mut server = streaming_server(TAKEOVER, u64::MAX);
            let mut events = Vec::new();
            server.receive(&input[..cut]);
            events.extend(server.next_event());
            server.close(CloseCode::NORMAL, "bye").unwrap();
            if use_read_buf {
                server.read_buf().extend_from_slice(&input[cut..]);
            } else {
                server.receive(&input[cut..]);
            }
            events.extend(std::iter::from_fn(|| server.next_event()));
            let controls: Vec<Seen> = seen(events, Some(&data))
                .into_iter()
                .filter(|seen| !matches!(seen, Seen::Message(..)))
                .collect();
            assert_eq!(
                controls,
                [Seen::Ping(b"p".to_vec()), Seen::Closed(1000, None)],
                "cut {cut}, read_buf {use_read_buf}"
            );
            assert_eq!(server.buffered_len(), 0);
        }
    }
}

/// The held input arrived before the deadline: its pieces, and the ping
/// behind it, come out before the idle timeout's close (no pong: our
/// close frame went first).
#[test]
fn an_idle_timeout_while_paused_hands_out_the_held_input_first() {
    use std::time::{Duration, Instant};
    let input = [compressed_frame(BINARY, &bomb()), client(FIN | PING, b"p")].concat();
    let config = Config::builder()
        .max_message_size(u64::MAX)
        .streaming(true)
        .idle_timeout(Some(Duration::from_secs(1)))
        .build();
    let mut server = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    let start = Instant::now();
    server.handle_timeout(start);
    server.receive(&input);
    server.handle_timeout(start);
    let first = server.next_event();
    assert!(matches!(first, Some(Event::Chunk { last: false, .. })));
    assert!(server.buffered_len() > 0, "the rest of the input is held");
    server.handle_timeout(start + Duration::from_secs(2));
    assert_eq!(server.state(), wsframe::State::Closed);
    let wire = server.take_output();
    assert_eq!(close_code_on_wire(&wire), Some(1001));
    assert_eq!(server_frames(&wire).len(), 1, "the close frame alone");
    let events: Vec<Event> = first
        .into_iter()
        .chain(std::iter::from_fn(|| server.next_event()))
        .collect();
    assert_eq!(
        seen(events, None),
        [
            Seen::Message(false, bomb()),
            Seen::Ping(b"p".to_vec()),
            Seen::Closed(1001, None)
        ]
    );
    assert_eq!(server.buffered_len(), 0);
    assert!(!server.has_output(), "no pong after our close");
}

#[test]
fn a_broken_block_in_held_input_is_1007_after_what_inflated_before_it() {
    // A bomb's blocks, then a block of the reserved type 11: the bad
    // block sits in the input held past the first piece.
    let mut payload = sync_flush(&mut Compress::new(Compression::new(9), false), &bomb());
    payload.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
    assert_eq!(reference_inflate(&payload), None, "the oracle refuses it");
    let inflated = inflated_before_failing_bytes(&payload, 1 << 20);
    assert_eq!(inflated.len(), bomb().len());
    let input = [
        client(FIN | RSV1 | BINARY, &payload),
        client(FIN | PING, b"never"),
    ]
    .concat();
    let seen = every_way("broken block", TAKEOVER, u64::MAX, &input, Some(&inflated));
    assert_eq!(
        seen,
        [Seen::Closed(1007, Some(ProtocolError::InflateFailed))]
    );
}

#[test]
fn a_bad_continuation_behind_a_held_fragment_fails_after_all_its_pieces() {
    // RSV1 on a continuation (RFC 7692 §6.1: only the first frame) and a
    // new message inside an open one (RFC 6455 §5.4): both found only
    // once the held fragment's pieces are all out, whatever the cuts.
    let half = bomb();
    let mut compressor = Compress::new(Compression::new(9), false);
    let first = sync_flush(&mut compressor, &half);
    let second = sync_message(&mut compressor, &half);
    for bad in [
        client(FIN | RSV1 | CONT, &second),
        client(FIN | BINARY, b"new message"),
    ] {
        let input = [client(RSV1 | BINARY, &first), bad].concat();
        let view = |(events, _): (Vec<Event>, Vec<u8>)| {
            let handed = chunk_bytes(&events);
            let code = match events.last() {
                Some(Event::Closed(closed)) => u16::from(closed.code),
                other => panic!("{:?}", other.map(|_| "not a close")),
            };
            (handed, code)
        };
        let seen = same_every_way(
            "bad continuation",
            &|| streaming_server(TAKEOVER, u64::MAX),
            &input,
            true,
            view,
        );
        assert_eq!(seen, (half.len(), 1002));
    }
}

#[test]
fn an_empty_last_fragment_and_a_full_ready_queue_around_a_held_fragment() {
    // The held fragment, then more pings than the ready queue holds,
    // then an empty last fragment.
    let data = bomb();
    let mut compressor = Compress::new(Compression::new(9), false);
    let payload = sync_message(&mut compressor, &data);
    let mut input = client(RSV1 | TEXT, &payload);
    for i in 0..100u8 {
        input.extend(client(FIN | PING, &[i]));
    }
    input.extend(client(FIN | CONT, b""));
    input.extend(client(FIN | PING, b"after"));
    let mut want: Vec<Seen> = (0..100u8).map(|i| Seen::Ping(vec![i])).collect();
    want.push(Seen::Message(true, data));
    want.push(Seen::Ping(b"after".to_vec()));
    let seen = same_every_way(
        "pings, empty last fragment",
        &|| streaming_server(TAKEOVER, u64::MAX),
        &input,
        false,
        |(events, _)| seen(events, None),
    );
    assert_eq!(seen, want);
}

#[test]
fn invalid_text_in_a_held_fragment_names_its_frame_and_context() {
    // Two fragments, each ended by a sync flush so that each inflates to
    // exactly its own text; the invalid byte deep in the first (in input
    // held past its first pieces) or in the second.
    let good = b"abc".repeat(60 * 1024);
    let mut bad = b"abc".repeat(50 * 1024);
    bad.push(0xFF);
    bad.extend(b"xyz".repeat(10 * 1024));
    // And a code point cut short at the very end, found only as the
    // message ends after its held input.
    let mut cut_short = b"abc".repeat(60 * 1024);
    cut_short.extend_from_slice(&[0xF0, 0x9D, 0x84]);
    for (first_text, second_text, frame) in
        [(&bad, &good, 1), (&good, &bad, 2), (&good, &cut_short, 2)]
    {
        let mut compressor = Compress::new(Compression::new(9), false);
        let first = sync_flush(&mut compressor, first_text);
        let second = sync_message(&mut compressor, second_text);
        let text = [&first_text[..], &second_text[..]].concat();
        let input = [
            client(RSV1 | TEXT, &first),
            client(FIN | CONT, &second),
            client(FIN | PING, b"never"),
        ]
        .concat();
        let seen = every_way(
            "invalid in a fragment",
            TAKEOVER,
            u64::MAX,
            &input,
            Some(&text),
        );
        let [Seen::Closed(1007, Some(ProtocolError::InvalidUtf8(evidence)))] = &seen[..] else {
            panic!("frame {frame}: {seen:?}")
        };
        let err = std::str::from_utf8(&text).unwrap_err();
        let at = err.valid_up_to();
        assert_eq!(evidence.offset(), at as u64);
        assert_eq!(evidence.frame(), frame);
        let end = err.error_len().map_or(text.len(), |len| at + len);
        assert_eq!(evidence.bytes(), &text[at..end]);
        let context = evidence.context();
        assert!(!context.is_empty());
        assert_eq!(context, &text[at - context.len()..at]);
    }
}

/// The tokio wrapper writes what is queued "as the last of [the messages a
/// read brought] is returned (so that a pong is not held while the caller
/// works on that message)": a read of a ping and a compressed bomb must not
/// hold the pong while the caller works through the bomb's pieces.
#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn the_tokio_wrapper_does_not_hold_a_pong_behind_a_held_messages_pieces() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = vec![0u8; 16 << 20];
    let input = [client(FIN | PING, b"p"), compressed_frame(BINARY, &data)].concat();
    let (ours, mut theirs) = tokio::io::duplex(1 << 20);
    let mut ws =
        wsframe::tokio::WebSocket::from_connection(ours, streaming_server(TAKEOVER, u64::MAX));
    theirs.write_all(&input).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Event::Ping(_)))));
    // The caller works on the bomb's first piece: the pong is on its way.
    assert!(matches!(
        ws.next().await,
        Some(Ok(Event::Chunk { last: false, .. }))
    ));
    let mut buf = [0u8; 64];
    let read =
        tokio::time::timeout(std::time::Duration::from_millis(50), theirs.read(&mut buf)).await;
    let Ok(Ok(n)) = read else {
        panic!("no pong written while the caller holds the first of 256 pieces")
    };
    assert_eq!(
        parse_server_frames(&buf[..n]),
        [(FIN | PONG, b"p".to_vec())]
    );
}

/// The system allocator, counting this thread's live bytes (tests run side
/// by side on other threads).
struct LivePerThread;

thread_local! {
    static LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn note_live(change: isize) {
    let _ = LIVE.try_with(|live| live.set(live.get() + change));
}

// SAFETY: every call goes to `System` unchanged; only a size is recorded,
// in a thread-local `Cell` that needs no allocation.
unsafe impl std::alloc::GlobalAlloc for LivePerThread {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_live(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        note_live(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note_live(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LivePerThread = LivePerThread;

#[test]
fn without_context_takeover_the_inflater_goes_after_a_held_message() {
    // The docs of `DeflateConfig`: an inflater costs about 47 KiB and is
    // released after every message when the peer does not take its
    // context over (§7.1.1); with takeover it stays.
    let input = compressed_frame(BINARY, &bomb());
    let mut kept = Vec::new();
    for params in [NO_TAKEOVER, TAKEOVER] {
        for use_read_buf in [false, true] {
            let mut server = streaming_server(params, u64::MAX);
            let before = LIVE.with(|live| live.get());
            let (events, _) = feed_cut(&mut server, &input, &[], use_read_buf);
            assert_eq!(seen(events, None), [Seen::Message(false, bomb())]);
            assert_eq!(server.buffered_len(), 0);
            // The read buffer keeps its room: a few reads' worth.
            kept.push(LIVE.with(|live| live.get()) - before - 8 * input.len() as isize);
        }
    }
    assert!(
        kept[..2].iter().all(|&bytes| bytes < 16 * 1024),
        "no takeover: {kept:?} bytes kept"
    );
    assert!(
        kept[2..].iter().all(|&bytes| bytes > 32 * 1024),
        "takeover keeps the window: {kept:?}"
    );
}

#[test]
fn a_final_block_ending_a_held_message_with_or_without_its_pad_byte() {
    // §7.2.3.4: data ended by a BFINAL block, then at most the `00` of the
    // empty stored block a sender appends; anything else after it is not
    // a message (the oracle decides).
    let data = bomb();
    let finished = final_compressed(&data, 9);
    for extra in [&[][..], &[0x00], &[0x00, 0x00], &[0x01]] {
        let payload = [&finished[..], extra].concat();
        // After a final block the next message starts a stream afresh.
        let input = [
            client(FIN | RSV1 | BINARY, &payload),
            client(FIN | PING, b"p"),
            compressed_frame(TEXT, b"next, afresh"),
        ]
        .concat();
        let seen = every_way("final block", TAKEOVER, u64::MAX, &input, Some(&data));
        match reference_inflate(&payload) {
            Some(bytes) => assert_eq!(
                seen,
                [
                    Seen::Message(false, bytes),
                    Seen::Ping(b"p".to_vec()),
                    Seen::Message(true, b"next, afresh".to_vec())
                ],
                "{extra:02x?}"
            ),
            None => assert_eq!(
                seen,
                [Seen::Closed(1007, Some(ProtocolError::InflateFailed))],
                "{extra:02x?}"
            ),
        }
    }
}
