//! The whole-frame fast path (`FrameReader::whole_frame`, commits 05f29ea
//! and cb73955): a one-frame data message whose payload is all in the
//! current input, handed out from the header's read without opening a
//! message. Every stream here is fed in every way the path can be reached
//! or missed — `receive` whole, byte by byte and cut at every point (or at
//! every frame edge and a stride for long streams), `read_buf` whole and
//! byte by byte, alternating (`common::drive_connection`), and the
//! `prepare_read` loop at several read sizes — and all of them must give
//! the same events and the same output. The events are also compared with
//! an oracle built from the frames themselves (std's UTF-8 check through
//! `InvalidUtf8::of`, the RFC 6455 rules, `flate2` for compressed frames).

mod common;

use common::*;
use wsframe::{CloseCode, Config, Connection, Event, InvalidUtf8, Message, ProtocolError, Role};

// ---------------------------------------------------------------- drivers

type Make<'a> = &'a dyn Fn() -> Connection;

fn server_with(config: Config) -> impl Fn() -> Connection {
    move || Connection::with_mask_source(Role::Server, config, Box::new(|| [1, 2, 3, 4]))
}

fn client_with(config: Config) -> impl Fn() -> Connection {
    move || Connection::with_mask_source(Role::Client, config, Box::new(|| [1, 2, 3, 4]))
}

fn drain(conn: &mut Connection, events: &mut Vec<Event>, out: &mut Vec<u8>) {
    while let Some(event) = conn.next_event() {
        events.push(event);
    }
    out.extend_from_slice(&conn.take_output());
}

/// `receive`, or `read_buf` if `in_place`, in pieces ending at `cuts`.
fn feed(make: Make, input: &[u8], cuts: &[usize], in_place: bool) -> (Vec<Event>, Vec<u8>) {
    let mut conn = make();
    let (mut events, mut out) = (Vec::new(), Vec::new());
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        if in_place {
            conn.read_buf().extend_from_slice(&input[start..end]);
        } else {
            conn.receive(&input[start..end]);
        }
        start = end;
        drain(&mut conn, &mut events, &mut out);
    }
    (events, out)
}

/// The `prepare_read` loop (as in `prepare_read.rs`), obeying the limit,
/// reads of at most `want` bytes.
fn prepare_read_loop(make: Make, input: &[u8], want: usize) -> (Vec<Event>, Vec<u8>) {
    let mut conn = make();
    let (mut events, mut out) = (Vec::new(), Vec::new());
    let mut read = 0;
    while read < input.len() {
        let limit = conn.prepare_read(want);
        assert!(limit >= 1);
        let n = limit.min(want).min(input.len() - read);
        conn.read_buf().extend_from_slice(&input[read..read + n]);
        read += n;
        drain(&mut conn, &mut events, &mut out);
    }
    drain(&mut conn, &mut events, &mut out);
    (events, out)
}

/// Where to cut a stream of `frames`: every point if short, else every
/// frame edge and the points around it (headers cut, payloads one byte
/// short), and a stride.
fn cut_points(frames: &[Vec<u8>]) -> Vec<usize> {
    let total: usize = frames.iter().map(Vec::len).sum();
    if total <= 3000 {
        return (1..total).collect();
    }
    let mut points = Vec::new();
    let mut edge = 0;
    for frame in frames {
        for d in 0..16 {
            points.push(edge + d);
            points.push((edge + frame.len()).saturating_sub(d));
        }
        edge += frame.len();
    }
    points.extend((1..total).step_by(total / 97 + 1));
    points.retain(|&p| p > 0 && p < total);
    points.sort_unstable();
    points.dedup();
    points
}

/// Feeds `frames` every way; asserts all give what `receive` whole gives,
/// and returns that.
fn all_ways(make: Make, frames: &[Vec<u8>]) -> (Vec<Event>, Vec<u8>) {
    let input = frames.concat();
    let want = feed(make, &input, &[], false);
    let ctx = |how: &str| format!("{how}, input {} bytes", input.len());
    assert_eq!(
        feed(make, &input, &[], true),
        want,
        "{}",
        ctx("read_buf whole")
    );
    let bytewise: Vec<usize> = (1..input.len()).collect();
    if input.len() <= 70_000 {
        assert_eq!(
            feed(make, &input, &bytewise, false),
            want,
            "{}",
            ctx("receive byte by byte")
        );
        assert_eq!(
            feed(make, &input, &bytewise, true),
            want,
            "{}",
            ctx("read_buf byte by byte")
        );
    }
    for cut in cut_points(frames) {
        assert_eq!(
            drive_connection(make, &input, &[cut]),
            want,
            "{}",
            ctx(&format!("cut at {cut}"))
        );
        assert_eq!(
            feed(make, &input, &[cut], true),
            want,
            "{}",
            ctx(&format!("read_buf cut at {cut}"))
        );
    }
    for read in [1, 7, 255, 256, 300, 4096, 32 * 1024, 1 << 20] {
        if read == 1 && input.len() > 70_000 {
            continue;
        }
        assert_eq!(
            prepare_read_loop(make, &input, read),
            want,
            "{}",
            ctx(&format!("prepare_read({read})"))
        );
    }
    want
}

// ----------------------------------------------------------------- oracle

/// An event with only what the oracle can say.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Chunk {
        text: bool,
        data: Vec<u8>,
        last: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(u16, Option<ProtocolError>),
}

fn plain(events: &[Event]) -> Vec<Ev> {
    events
        .iter()
        .map(|event| match event {
            Event::Message(Message::Text(t)) => Ev::Text(t.as_bytes().to_vec()),
            Event::Message(Message::Binary(b)) => Ev::Binary(b.to_vec()),
            Event::Chunk { data, last } => Ev::Chunk {
                text: data.is_text(),
                data: data.as_bytes().to_vec(),
                last: *last,
            },
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Closed(c) => Ev::Closed(u16::from(c.code), c.error),
        })
        .collect()
}

fn closed(code: u16, error: ProtocolError) -> Ev {
    Ev::Closed(code, Some(error))
}

/// Text of `len` bytes with two- and three-byte code points across every
/// 16-byte block edge, all valid, ending on a code point boundary.
fn text_of(len: usize, seed: u8) -> Vec<u8> {
    let alphabet: [&[u8]; 5] = [b"a", "é".as_bytes(), "€".as_bytes(), "𝄞".as_bytes(), b"z"];
    let mut out = Vec::with_capacity(len + 4);
    let mut i = seed as usize;
    while out.len() < len {
        let c = alphabet[i % alphabet.len()];
        if out.len() + c.len() > len {
            out.push(b'.');
        } else {
            out.extend_from_slice(c);
        }
        i = i.wrapping_mul(7).wrapping_add(3);
    }
    assert!(std::str::from_utf8(&out).is_ok());
    out
}

fn binary_of(len: usize, tag: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ tag).collect()
}

fn close_frame() -> Vec<u8> {
    client(FIN | CLOSE, &close_payload(1000, b"bye"))
}

const PEER_CLOSE: Ev = Ev::Closed(1000, None);

/// The sizes around the validator's blocks, the small frames' cutoff and
/// the own-buffer cutoff.
const SIZES: [usize; 17] = [
    15,
    16,
    17,
    31,
    32,
    33,
    63,
    64,
    65,
    255,
    256,
    257,
    1023,
    1024,
    1025,
    32 * 1024 - 1,
    32 * 1024,
];

// ------------------------------------------------------------------ rules

#[test]
fn rsv_bits_without_an_extension_are_1002_at_every_size() {
    let make = server_with(Config::default());
    for len in [5, 300, 5000, 40_000] {
        for rsv in [0x40, 0x20, 0x10, 0x70] {
            for opcode in [TEXT, BINARY] {
                let frames = [
                    client(FIN | TEXT, b"before"),
                    client(FIN | rsv | opcode, &binary_of(len, 1)),
                    client(FIN | TEXT, b"after"),
                ];
                let got = plain(&all_ways(&make, &frames).0);
                assert_eq!(
                    got,
                    [
                        Ev::Text(b"before".to_vec()),
                        closed(1002, ProtocolError::ReservedBits(rsv >> 4))
                    ],
                    "len {len} rsv {rsv:#x}"
                );
            }
        }
    }
}

#[test]
fn reserved_opcodes_are_1002_at_every_size() {
    let make = server_with(Config::default());
    for len in [0, 5, 300, 5000] {
        for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let frames = [
                client(FIN | TEXT, b"before"),
                client(FIN | op, &binary_of(len, 2)),
            ];
            let got = plain(&all_ways(&make, &frames).0);
            assert_eq!(got.len(), 2, "op {op:#x} len {len}: {got:?}");
            assert_eq!(got[0], Ev::Text(b"before".to_vec()));
            let Ev::Closed(1002, Some(_)) = &got[1] else {
                panic!("op {op:#x} len {len}: {got:?}");
            };
        }
    }
}

#[test]
fn masking_against_the_role_is_1002_at_every_size() {
    for len in [0, 5, 300, 5000, 40_000] {
        let payload = text_of(len, 3);
        // A server must get masked frames.
        let frames = [raw_frame(FIN | TEXT, &payload, None)];
        let got = plain(&all_ways(&server_with(Config::default()), &frames).0);
        assert_eq!(
            got,
            [closed(1002, ProtocolError::UnmaskedFrame)],
            "len {len}"
        );
        // A client must get unmasked ones.
        let frames = [raw_frame(FIN | TEXT, &payload, Some(KEY))];
        let got = plain(&all_ways(&client_with(Config::default()), &frames).0);
        assert_eq!(got, [closed(1002, ProtocolError::MaskedFrame)], "len {len}");
        // And takes them as they are, text validated.
        let frames = [
            raw_frame(FIN | TEXT, &payload, None),
            raw_frame(FIN | BINARY, &payload, None),
        ];
        let got = plain(&all_ways(&client_with(Config::default()), &frames).0);
        assert_eq!(
            got,
            [Ev::Text(payload.clone()), Ev::Binary(payload.clone())]
        );
    }
}

#[test]
fn frame_limit_at_limit_minus_one_limit_and_plus_one() {
    for limit in [300u64, 1024, 4096, 32 * 1024 - 1, 32 * 1024, 40_000] {
        let make = server_with(Config::builder().max_frame_size(limit).build());
        for len in [limit - 1, limit, limit + 1] {
            let payload = text_of(len as usize, 4);
            let frames = [client(FIN | TEXT, &payload), client(FIN | BINARY, b"next")];
            let got = plain(&all_ways(&make, &frames).0);
            if len <= limit {
                assert_eq!(
                    got,
                    [Ev::Text(payload), Ev::Binary(b"next".to_vec())],
                    "limit {limit} len {len}"
                );
            } else {
                assert_eq!(
                    got,
                    [closed(
                        1009,
                        ProtocolError::FrameTooBig {
                            declared: len,
                            limit
                        }
                    )],
                    "limit {limit} len {len}"
                );
            }
        }
    }
}

#[test]
fn message_limit_at_limit_minus_one_limit_and_plus_one() {
    for limit in [300u64, 1024, 4096, 32 * 1024 - 1, 32 * 1024, 40_000] {
        let make = server_with(Config::builder().max_message_size(limit).build());
        for len in [limit - 1, limit, limit + 1] {
            for opcode in [TEXT, BINARY] {
                let payload = text_of(len as usize, 5);
                let frames = [
                    client(FIN | opcode, &payload),
                    client(FIN | BINARY, b"next"),
                ];
                let got = plain(&all_ways(&make, &frames).0);
                let first = if opcode == TEXT {
                    Ev::Text(payload)
                } else {
                    Ev::Binary(payload)
                };
                if len <= limit {
                    assert_eq!(
                        got,
                        [first, Ev::Binary(b"next".to_vec())],
                        "limit {limit} len {len}"
                    );
                } else {
                    assert_eq!(
                        got,
                        [closed(
                            1009,
                            ProtocolError::MessageTooBig {
                                declared: len,
                                limit
                            }
                        )],
                        "limit {limit} len {len}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_whole_frame_while_a_message_is_open_is_1002() {
    let make = server_with(Config::default());
    for len in [5, 300, 5000, 40_000] {
        for opcode in [TEXT, BINARY] {
            // The open message's first fragment ends inside a code point.
            let frames = [
                client(TEXT, &"ab\u{20AC}".as_bytes()[..3]),
                client(FIN | PING, b"p"),
                client(FIN | opcode, &text_of(len, 6)),
                client(FIN | CONT, &"\u{20AC}".as_bytes()[1..]),
            ];
            let got = plain(&all_ways(&make, &frames).0);
            assert_eq!(
                got,
                [
                    Ev::Ping(b"p".to_vec()),
                    closed(1002, ProtocolError::ExpectedContinuation)
                ],
                "len {len}"
            );
        }
    }
}

#[test]
fn streaming_gets_pieces_not_whole_messages() {
    let make = server_with(Config::builder().streaming(true).build());
    for len in [5, 300, 5000, 40_000] {
        for opcode in [TEXT, BINARY] {
            let payload = text_of(len, 7);
            let input = [client(FIN | opcode, &payload), close_frame()].concat();
            let ways = [
                feed(&make, &input, &[], false).0,
                feed(&make, &input, &[], true).0,
                prepare_read_loop(&make, &input, 1 << 20).0,
            ];
            for events in ways {
                let got = plain(&events);
                let mut data = Vec::new();
                for (i, ev) in got[..got.len() - 1].iter().enumerate() {
                    let Ev::Chunk {
                        text,
                        data: piece,
                        last,
                    } = ev
                    else {
                        panic!("len {len}: not a piece: {ev:?}");
                    };
                    assert_eq!(*text, opcode == TEXT);
                    assert_eq!(*last, i == got.len() - 2);
                    data.extend_from_slice(piece);
                }
                assert_eq!(data, payload);
                assert_eq!(got.last(), Some(&PEER_CLOSE));
            }
        }
    }
}

#[test]
fn nothing_is_read_after_a_close_frame() {
    let make = server_with(Config::default());
    for len in [5, 300, 5000, 40_000] {
        let frames = [
            client(FIN | TEXT, b"first"),
            close_frame(),
            client(FIN | TEXT, &text_of(len, 8)),
            client(FIN | BINARY, &binary_of(len, 8)),
        ];
        let (events, out) = all_ways(&make, &frames);
        assert_eq!(
            plain(&events),
            [Ev::Text(b"first".to_vec()), PEER_CLOSE],
            "len {len}"
        );
        assert_eq!(close_code_on_wire(&out), Some(1000));
        assert_eq!(server_frames(&out).len(), 1);
    }
}

#[test]
fn nothing_is_read_after_a_violation() {
    let make = server_with(Config::default());
    for len in [5, 300, 5000, 40_000] {
        let mut bad = text_of(len, 9);
        bad[len / 2] = 0xFF;
        let frames = [
            client(FIN | TEXT, &bad),
            client(FIN | TEXT, &text_of(len, 10)),
            client(FIN | BINARY, &binary_of(len, 10)),
            client(FIN | PING, b"p"),
        ];
        let (events, out) = all_ways(&make, &frames);
        let evidence = InvalidUtf8::of(&bad).unwrap();
        assert_eq!(
            plain(&events),
            [closed(1007, ProtocolError::InvalidUtf8(evidence))],
            "len {len}"
        );
        assert_eq!(close_code_on_wire(&out), Some(1007));
        assert_eq!(server_frames(&out).len(), 1);
    }
}

// ------------------------------------------------------------------- UTF-8

/// Invalid sequences: a lone continuation, a byte never in UTF-8, an
/// overlong, a surrogate, past U+10FFFF, a lead byte and a non-continuation.
const BAD: [&[u8]; 7] = [
    b"\x80",
    b"\xFF",
    b"\xC0\x80",
    b"\xE0\x80\x80",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xE2\x82a",
];

/// `len` bytes of text with `bad` written at `at` (the rest kept valid).
fn text_with(len: usize, at: usize, bad: &[u8]) -> Vec<u8> {
    let mut text = vec![b'a'; at];
    text.extend_from_slice(bad);
    let rest = len.saturating_sub(text.len());
    text.extend_from_slice(&text_of(rest, at as u8));
    text.truncate(len.max(at + bad.len()));
    text
}

/// The offsets to try in a payload of `len`: all of them for short ones,
/// block edges and a stride for the 32 KiB ones.
fn offsets(len: usize) -> Vec<usize> {
    if len <= 1025 {
        return (0..len).collect();
    }
    let mut at: Vec<usize> = (0..len).step_by(509).collect();
    for edge in [
        0,
        16,
        32,
        64,
        256,
        1024,
        4096,
        len - 64,
        len - 32,
        len - 16,
        len - 8,
    ] {
        for d in 0..5 {
            at.push((edge + d).min(len - 1));
            at.push(edge.saturating_sub(d));
        }
    }
    at.sort_unstable();
    at.dedup();
    at
}

/// Feeds one message every cheap way: `receive` and `read_buf` whole, and
/// one cut inside the payload (both ways), and the prepare_read loop.
fn cheap_ways(make: Make, input: &[u8], cut: usize) -> (Vec<Event>, Vec<u8>) {
    let want = feed(make, input, &[], false);
    assert_eq!(feed(make, input, &[], true), want, "read_buf whole");
    assert_eq!(
        feed(make, input, &[cut], false),
        want,
        "receive cut at {cut}"
    );
    assert_eq!(
        feed(make, input, &[cut], true),
        want,
        "read_buf cut at {cut}"
    );
    assert_eq!(
        drive_connection(make, input, &[cut]),
        want,
        "mixed cut at {cut}"
    );
    assert_eq!(
        prepare_read_loop(make, input, 4096),
        want,
        "prepare_read(4096)"
    );
    want
}

#[test]
fn invalid_utf8_at_every_offset_is_1007_with_the_evidence_of_the_general_path() {
    let make = server_with(Config::default());
    for len in SIZES {
        for at in offsets(len) {
            for bad in BAD {
                let text = text_with(len, at, bad);
                let evidence = InvalidUtf8::of(&text).expect("invalid");
                let input = [client(FIN | TEXT, &text), close_frame()].concat();
                let header = input.len() - close_frame().len() - text.len();
                let (events, out) = cheap_ways(&make, &input, header + at + 1);
                assert_eq!(
                    plain(&events),
                    [closed(1007, ProtocolError::InvalidUtf8(evidence))],
                    "len {len} at {at} bad {bad:02x?}"
                );
                assert_eq!(close_code_on_wire(&out), Some(1007));
                // The general path (byte by byte never has the whole payload).
                if len <= 1025 && at % 7 == 0 {
                    let bytewise: Vec<usize> = (1..input.len()).collect();
                    assert_eq!(
                        feed(&make, &input, &bytewise, false),
                        (events.clone(), out.clone())
                    );
                    assert_eq!(feed(&make, &input, &bytewise, true), (events, out));
                }
                // The same bytes as binary are a message.
                let input = [client(FIN | BINARY, &text), close_frame()].concat();
                let (events, _) = cheap_ways(&make, &input, header + at + 1);
                assert_eq!(plain(&events), [Ev::Binary(text), PEER_CLOSE]);
            }
        }
    }
}

#[test]
fn a_code_point_cut_at_the_end_is_1007() {
    let make = server_with(Config::default());
    for len in SIZES {
        for cut in ["é", "€", "𝄞"]
            .iter()
            .flat_map(|c| (1..c.len()).map(move |k| &c.as_bytes()[..k]))
        {
            let mut text = text_of(len, 11);
            text.truncate(len.saturating_sub(cut.len()));
            while std::str::from_utf8(&text).is_err() {
                text.pop();
            }
            text.resize(len.saturating_sub(cut.len()), b'x');
            text.extend_from_slice(cut);
            let evidence = InvalidUtf8::of(&text).unwrap();
            assert!(evidence.is_cut_at_end());
            let frames = [client(FIN | TEXT, &text), close_frame()];
            let events = if len <= 1025 {
                all_ways(&make, &frames).0
            } else {
                cheap_ways(&make, &frames.concat(), 7).0
            };
            assert_eq!(
                plain(&events),
                [closed(1007, ProtocolError::InvalidUtf8(evidence))],
                "len {len} cut {cut:02x?}"
            );
        }
    }
}

#[test]
fn valid_text_of_every_size_near_the_edges_passes_every_way() {
    let make = server_with(Config::default());
    for len in SIZES
        .iter()
        .copied()
        .chain([0, 1, 2, 3, 4, 125, 126, 127, 65_535, 65_536, 100_000])
    {
        let text = text_of(len, 12);
        let frames = [
            client(FIN | TEXT, &text),
            client(FIN | BINARY, &text),
            client(FIN | TEXT, &text),
            close_frame(),
        ];
        let got = plain(&all_ways(&make, &frames).0);
        assert_eq!(
            got,
            [
                Ev::Text(text.clone()),
                Ev::Binary(text.clone()),
                Ev::Text(text),
                PEER_CLOSE
            ],
            "len {len}"
        );
    }
}

// ------------------------------------------------------- validator state

#[test]
fn the_validator_after_a_whole_frame_and_before_one() {
    let make = server_with(Config::default());
    for len in [5, 300, 1024, 5000, 40_000] {
        let whole = text_of(len, 13);
        for split in [1usize, 2, 3] {
            // "𝄞" cut after `split` bytes between two fragments.
            let clef = "𝄞".as_bytes();
            let first = [b"x".as_slice(), &clef[..split]].concat();
            let second = [&clef[split..], b"y".as_slice()].concat();
            let fragmented = [first.clone(), second.clone()].concat();
            // Whole frame, then the fragmented message (a ping between its
            // fragments), then a whole frame again.
            let frames = [
                client(FIN | TEXT, &whole),
                client(TEXT, &first),
                client(FIN | PING, b"p"),
                client(FIN | CONT, &second),
                client(FIN | TEXT, &whole),
                client(FIN | BINARY, &whole),
                close_frame(),
            ];
            let got = plain(&all_ways(&make, &frames).0);
            assert_eq!(
                got,
                [
                    Ev::Text(whole.clone()),
                    Ev::Ping(b"p".to_vec()),
                    Ev::Text(fragmented.clone()),
                    Ev::Text(whole.clone()),
                    Ev::Binary(whole.clone()),
                    PEER_CLOSE
                ],
                "len {len} split {split}"
            );
            // A whole frame that ends inside a code point, then a
            // fragmented message that starts with the rest of it: the
            // first is 1007 and nothing carries over.
            let mut cut = whole.clone();
            cut.extend_from_slice(&clef[..split]);
            let frames = [
                client(FIN | TEXT, &cut),
                client(TEXT, &clef[split..]),
                client(FIN | CONT, b"y"),
            ];
            let got = plain(&all_ways(&make, &frames).0);
            assert_eq!(
                got,
                [closed(
                    1007,
                    ProtocolError::InvalidUtf8(InvalidUtf8::of(&cut).unwrap())
                )],
                "len {len} split {split}"
            );
            // A fragmented message left inside a code point by its first
            // fragment (a pong between), a whole frame, the fragmented
            // message again: no state leaks either way.
            let frames = [
                client(TEXT, &first),
                client(FIN | PONG, b""),
                client(FIN | CONT, &second),
                client(FIN | TEXT, &whole),
                client(TEXT, &first),
                client(FIN | CONT, &second),
            ];
            let got = plain(&all_ways(&make, &frames).0);
            assert_eq!(
                got,
                [
                    Ev::Pong(vec![]),
                    Ev::Text(fragmented.clone()),
                    Ev::Text(whole.clone()),
                    Ev::Text(fragmented.clone())
                ],
                "len {len} split {split}"
            );
        }
    }
}

// ---------------------------------------------------------- held messages

#[test]
fn messages_held_while_more_is_read_in_place_stay_intact() {
    let make = server_with(Config::default());
    let mut frames = Vec::new();
    let mut want = Vec::new();
    let sizes = [
        0, 5, 255, 256, 300, 1000, 4095, 4096, 5000, 32_767, 32_768, 40_000, 70_000,
    ];
    for round in 0..6u8 {
        for (i, &len) in sizes.iter().enumerate() {
            let tag = round.wrapping_mul(31).wrapping_add(i as u8);
            if i % 2 == 0 {
                let t = text_of(len, tag);
                frames.push(client(FIN | TEXT, &t));
                want.push(Ev::Text(t));
            } else {
                let b = binary_of(len, tag);
                frames.push(client(FIN | BINARY, &b));
                want.push(Ev::Binary(b));
            }
            if i % 5 == 0 {
                frames.push(client(FIN | PING, &[tag; 3]));
                want.push(Ev::Ping(vec![tag; 3]));
            }
        }
    }
    frames.push(close_frame());
    want.push(PEER_CLOSE);
    let input = frames.concat();
    for read in [1000, 4096, 4097, 16 * 1024, 64 * 1024, 1 << 20, 4 << 20] {
        // Every message held (its Bytes, not copies) until the end.
        let mut conn = make();
        let mut held = Vec::new();
        let mut read_so_far = 0;
        while read_so_far < input.len() {
            let limit = conn.prepare_read(read);
            let n = limit.min(read).min(input.len() - read_so_far);
            conn.read_buf()
                .extend_from_slice(&input[read_so_far..read_so_far + n]);
            read_so_far += n;
            while let Some(event) = conn.next_event() {
                held.push(event);
            }
        }
        assert_eq!(plain(&held), want, "prepare_read({read})");
        // And with read_buf appended past the limit, in fixed pieces.
        let mut conn = make();
        let mut held = Vec::new();
        for piece in input.chunks(read) {
            conn.read_buf().extend_from_slice(piece);
            while let Some(event) = conn.next_event() {
                held.push(event);
            }
        }
        assert_eq!(plain(&held), want, "read_buf pieces of {read}");
        // And mixed with receive.
        let mut conn = make();
        let mut held = Vec::new();
        for (i, piece) in input.chunks(read).enumerate() {
            if i % 3 == 0 {
                conn.receive(piece);
            } else {
                conn.read_buf().extend_from_slice(piece);
            }
            while let Some(event) = conn.next_event() {
                held.push(event);
            }
        }
        assert_eq!(plain(&held), want, "mixed pieces of {read}");
    }
}

// ------------------------------------------------------- compressed frames

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use common::deflate::*;
    use flate2::{Compress, Compression};

    fn compress(data: &[u8]) -> Vec<u8> {
        let mut stream = Compress::new(Compression::new(6), false);
        let mut out = sync_flush(&mut stream, data);
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn a_compressed_frame_never_takes_the_whole_frame_path() {
        for params in [TAKEOVER, NO_TAKEOVER] {
            let config = Config::default();
            let make = move || Connection::with_deflate(Role::Server, config, Some(params));
            for len in [5, 300, 5000, 40_000] {
                // Noisy enough that the compressed payload is large too.
                let text = text_of(len, 14);
                let bin = binary_of(len, 14);
                let frames = [
                    client(FIN | RSV1 | TEXT, &compress(&text)),
                    client(FIN | TEXT, &text),
                    client(FIN | RSV1 | BINARY, &compress(&bin)),
                    client(FIN | BINARY, &bin),
                    close_frame(),
                ];
                let got = plain(&all_ways(&make, &frames).0);
                // Under context takeover the second compressed message
                // was compressed by a fresh stream too: it must still
                // inflate (a fresh stream's output is valid with a shared
                // window), so the oracle is the data itself.
                assert_eq!(
                    got,
                    [
                        Ev::Text(text.clone()),
                        Ev::Text(text.clone()),
                        Ev::Binary(bin.clone()),
                        Ev::Binary(bin.clone()),
                        PEER_CLOSE
                    ],
                    "len {len}"
                );
                // RSV2/RSV3 are still 1002 with deflate negotiated.
                for rsv in [0x20, 0x10] {
                    let frames = [client(FIN | rsv | TEXT, &text)];
                    let got = plain(&all_ways(&make, &frames).0);
                    assert_eq!(got, [closed(1002, ProtocolError::ReservedBits(rsv >> 4))]);
                }
                // Invalid text, compressed and not.
                let mut bad = text.clone();
                bad[len / 2] = 0xFF;
                let evidence = InvalidUtf8::of(&bad).unwrap();
                for frame in [
                    client(FIN | TEXT, &bad),
                    client(FIN | RSV1 | TEXT, &compress(&bad)),
                ] {
                    let got = plain(&all_ways(&make, &[frame]).0);
                    let [Ev::Closed(1007, Some(ProtocolError::InvalidUtf8(got)))] = &got[..] else {
                        panic!("len {len}: {got:?}");
                    };
                    assert_eq!(got.offset(), evidence.offset());
                }
            }
        }
    }
}

// ------------------------------------------------------- random streams

/// A random stream of valid frames and the oracle's events for it.
fn random_stream(rng: &mut Rng) -> (Vec<Vec<u8>>, Vec<Ev>) {
    let sizes = [
        0, 1, 15, 16, 17, 125, 126, 255, 256, 257, 1024, 4095, 4096, 32_767, 32_768,
    ];
    random_stream_of(rng, &sizes)
}

/// As [`random_stream`], with messages of `sizes`.
fn random_stream_of(rng: &mut Rng, sizes: &[usize]) -> (Vec<Vec<u8>>, Vec<Ev>) {
    let (mut frames, mut want) = (Vec::new(), Vec::new());
    for _ in 0..1 + rng.below(12) {
        let len = sizes[rng.below(sizes.len())];
        let tag = rng.next() as u8;
        match rng.below(5) {
            0 | 1 => {
                let t = text_of(len, tag);
                frames.push(client(FIN | TEXT, &t));
                want.push(Ev::Text(t));
            }
            2 => {
                let b = binary_of(len, tag);
                frames.push(client(FIN | BINARY, &b));
                want.push(Ev::Binary(b));
            }
            3 => {
                frames.push(client(FIN | PING, &[tag; 4]));
                want.push(Ev::Ping(vec![tag; 4]));
            }
            _ => {
                // Text in three fragments, cut inside code points, a pong
                // between two of them.
                let t = text_of(len + 6, tag);
                let (a, b) = (rng.below(t.len() + 1), rng.below(t.len() + 1));
                let (a, b) = (a.min(b), a.max(b));
                frames.push(client(TEXT, &t[..a]));
                frames.push(client(CONT, &t[a..b]));
                frames.push(client(FIN | PONG, b"q"));
                frames.push(client(FIN | CONT, &t[b..]));
                want.push(Ev::Pong(b"q".to_vec()));
                want.push(Ev::Text(t));
            }
        }
    }
    frames.push(close_frame());
    want.push(PEER_CLOSE);
    (frames, want)
}

#[test]
fn random_streams_every_way_give_the_oracle_events() {
    let make = server_with(Config::default());
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let (frames, want) = random_stream(&mut rng);
        let input = frames.concat();
        let got = plain(&feed(&make, &input, &[], false).0);
        assert_eq!(got, want, "seed {seed}");
        // Random cuts, each piece through receive or read_buf at random.
        for _ in 0..20 {
            let mut cuts: Vec<usize> = (0..rng.below(8)).map(|_| rng.below(input.len())).collect();
            cuts.sort_unstable();
            let mut conn = make();
            let (mut events, mut out) = (Vec::new(), Vec::new());
            let mut start = 0;
            for &end in cuts.iter().chain(std::iter::once(&input.len())) {
                if rng.below(2) == 0 {
                    conn.receive(&input[start..end]);
                } else {
                    conn.read_buf().extend_from_slice(&input[start..end]);
                }
                start = end;
                if rng.below(3) != 0 {
                    drain(&mut conn, &mut events, &mut out);
                }
            }
            drain(&mut conn, &mut events, &mut out);
            assert_eq!(plain(&events), want, "seed {seed} cuts {cuts:?}");
        }
        if input.len() < 40_000 {
            all_ways(&make, &frames);
        }
    }
}

#[test]
fn close_code_sanity() {
    // The oracle's codes are the registered ones.
    assert_eq!(u16::from(CloseCode::PROTOCOL_ERROR), 1002);
}

#[test]
fn more_whole_frames_in_one_read_than_the_queue_takes() {
    // READY_MAX (64) items stop a read; the rest is read in place later.
    let make = server_with(Config::default());
    for len in [256, 300, 1000, 5000] {
        for bad_at in [None, Some(0), Some(63), Some(64), Some(65), Some(130)] {
            let (mut frames, mut want) = (Vec::new(), Vec::new());
            for i in 0..200usize {
                let mut t = text_of(len, i as u8);
                if Some(i) == bad_at {
                    t[len - 1] = 0xC3;
                    frames.push(client(FIN | TEXT, &t));
                    want.push(closed(
                        1007,
                        ProtocolError::InvalidUtf8(InvalidUtf8::of(&t).unwrap()),
                    ));
                    break;
                }
                if i % 3 == 0 {
                    frames.push(client(FIN | BINARY, &t));
                    want.push(Ev::Binary(t));
                } else {
                    frames.push(client(FIN | TEXT, &t));
                    want.push(Ev::Text(t));
                }
            }
            if bad_at.is_none() {
                frames.push(close_frame());
                want.push(PEER_CLOSE);
            } else {
                frames.push(client(FIN | TEXT, b"after"));
            }
            let input = frames.concat();
            for (how, got) in [
                ("receive", feed(&make, &input, &[], false)),
                ("read_buf", feed(&make, &input, &[], true)),
                (
                    "cut",
                    drive_connection(&make, &input, &[input.len() / 3, input.len() / 2]),
                ),
                ("prepare_read", prepare_read_loop(&make, &input, 64 * 1024)),
            ] {
                assert_eq!(plain(&got.0), want, "{how} len {len} bad at {bad_at:?}");
            }
        }
    }
}

#[test]
fn a_client_checks_unmasked_text_the_same_way() {
    // Unmasked payloads go through the validator alone (no unmasking pass).
    let make = client_with(Config::default());
    for len in [
        15usize,
        16,
        17,
        64,
        255,
        256,
        257,
        1024,
        32 * 1024 - 1,
        32 * 1024,
        40_000,
    ] {
        for at in [0, len / 3, len.saturating_sub(17), len - 1] {
            for bad in BAD {
                let text = text_with(len, at, bad);
                let evidence = InvalidUtf8::of(&text).unwrap();
                let frames = [
                    raw_frame(FIN | TEXT, &text_of(300, 1), None),
                    raw_frame(FIN | TEXT, &text, None),
                ];
                let input = frames.concat();
                let (events, _) = cheap_ways(&make, &input, frames[0].len() + 3);
                assert_eq!(
                    plain(&events),
                    [
                        Ev::Text(text_of(300, 1)),
                        closed(1007, ProtocolError::InvalidUtf8(evidence))
                    ],
                    "len {len} at {at} bad {bad:02x?}"
                );
            }
        }
    }
    let (frames, want) = {
        let mut rng = Rng(77);
        let (frames, want) = random_stream(&mut rng);
        // The same stream as a server sends it: unmasked.
        let frames: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let wsframe::Status::Complete((h, n)) = wsframe::FrameHeader::parse(f) else {
                    unreachable!()
                };
                let mut p = f[n..].to_vec();
                wsframe::apply_mask_bytewise(&mut p, h.mask.unwrap(), 0);
                raw_frame(f[0], &p, None)
            })
            .collect();
        (frames, want)
    };
    let got = plain(&all_ways(&make, &frames).0);
    assert_eq!(got, want);
}

#[test]
fn invalid_text_in_large_frames_read_in_place() {
    // In place, any size takes the whole-frame path; through receive,
    // 32 KiB and more goes to the message's own buffer: both must agree.
    let make = server_with(
        Config::builder()
            .max_message_size(4 << 20)
            .max_frame_size(4 << 20)
            .build(),
    );
    for len in [65_536, 100_000, 1 << 20] {
        for at in [0, 4095, 4096, 32 * 1024, len / 2, len - 4, len - 1] {
            for bad in [BAD[1], BAD[4], b"\xF0\x9D\x84".as_slice()] {
                let text = text_with(len, at, bad);
                let evidence = InvalidUtf8::of(&text).unwrap();
                let input = [client(FIN | TEXT, b"ok"), client(FIN | TEXT, &text)].concat();
                for (how, got) in [
                    ("receive", feed(&make, &input, &[], false)),
                    ("read_buf", feed(&make, &input, &[], true)),
                    (
                        "read_buf cut",
                        feed(&make, &input, &[input.len() - 3], true),
                    ),
                    (
                        "mixed",
                        drive_connection(&make, &input, &[9, input.len() / 2]),
                    ),
                    ("prepare_read", prepare_read_loop(&make, &input, 64 * 1024)),
                ] {
                    assert_eq!(
                        plain(&got.0),
                        [
                            Ev::Text(b"ok".to_vec()),
                            closed(1007, ProtocolError::InvalidUtf8(evidence))
                        ],
                        "{how}: len {len} at {at} bad {bad:02x?}"
                    );
                }
            }
        }
    }
}

#[test]
fn corrupted_random_streams_give_the_same_events_whole_and_byte_by_byte() {
    // A random valid stream with a few bytes changed (a header's bits, a
    // payload byte, a length): whatever the verdict, the fast path (fed
    // whole) and the general path (fed byte by byte) must agree, and so
    // must every other way.
    for role in [Role::Server, Role::Client] {
        let make = move || {
            Connection::with_mask_source(
                role,
                Config::builder().max_message_size(40_000).build(),
                Box::new(|| [1, 2, 3, 4]),
            )
        };
        let mut checked = 0;
        for seed in 1..=300u64 {
            let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
            let (frames, _) = random_stream_of(
                &mut rng,
                &[0, 1, 16, 17, 126, 255, 256, 257, 300, 1024, 4097],
            );
            let frames: Vec<Vec<u8>> = match role {
                Role::Server => frames,
                Role::Client => frames
                    .iter()
                    .map(|f| {
                        let wsframe::Status::Complete((h, n)) = wsframe::FrameHeader::parse(f)
                        else {
                            unreachable!()
                        };
                        let mut p = f[n..].to_vec();
                        wsframe::apply_mask_bytewise(&mut p, h.mask.unwrap(), 0);
                        raw_frame(f[0], &p, if rng.below(20) == 0 { Some(KEY) } else { None })
                    })
                    .collect(),
            };
            let mut input = frames.concat();
            if input.len() > 20_000 {
                continue;
            }
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(input.len());
                input[at] ^= 1 << rng.below(8);
            }
            let want = feed(&make, &input, &[], false);
            let bytewise: Vec<usize> = (1..input.len()).collect();
            for (how, got) in [
                ("read_buf whole", feed(&make, &input, &[], true)),
                (
                    "receive byte by byte",
                    feed(&make, &input, &bytewise, false),
                ),
                (
                    "read_buf byte by byte",
                    feed(&make, &input, &bytewise, true),
                ),
                ("prepare_read(300)", prepare_read_loop(&make, &input, 300)),
                ("prepare_read(4096)", prepare_read_loop(&make, &input, 4096)),
            ] {
                assert_eq!(got, want, "{role:?} seed {seed}: {how}");
            }
            checked += 1;
        }
        assert!(checked > 200, "{checked}");
    }
}
