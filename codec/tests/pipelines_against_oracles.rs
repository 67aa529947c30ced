//! The whole receive and send pipelines against oracles, for the
//! combinations the other tests do not cover together.
//!
//! Receive: random messages (binary, valid text, text made invalid at a
//! random byte, some cut mid-code-point at a fragment boundary; 0 B to
//! 70 KiB), randomly fragmented, pings between fragments and messages,
//! with and without permessage-deflate (compressed by flate2 with the
//! peer's window of 8 to 15 bits, context takeover on or off, some
//! messages left uncompressed), fed whole, byte by byte, cut at random
//! points and through `prepare_read`/`read_buf`, streaming on and off.
//! Oracles: the four feedings give the same events; messages are the bytes
//! sent; invalid text is 1007 at `std::str::from_utf8`'s `valid_up_to`
//! (inflated bytes), everything before it delivered and nothing after;
//! a message over the limit (inflated bytes) is 1009, the same way.
//!
//! Send: random `send`/`send_compressed`/`send_fragment` sequences (empty
//! and tiny fragments, empty messages, pings between) with deflate at
//! every window of 8 to 15 bits, takeover on and off, and small outgoing
//! frame sizes; the wire parsed by hand and inflated by flate2 (raw, the
//! negotiated window; 9 bits for 8, as zlib cannot do 8) and read by our
//! own receiving `Connection` (whose 8-bit inflater is a 256-byte ring):
//! both must give the bytes sent, and RSV1 is on a compressed message's
//! first frame only (RFC 7692 §6.1).
#![cfg(feature = "deflate")]

mod common;

use bytes::Bytes;
use common::largest_block::{self, LargestPerThread};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use proptest::prelude::*;
use wsframe::{
    Config, Connection, DeflateConfig, DeflateParams, Event, Initiator, Message, ProtocolError,
    Role, SendError,
};

#[global_allocator]
static ALLOCATOR: LargestPerThread = LargestPerThread;

/// splitmix64: the cases' bulk data from one proptest seed, so a 70 KiB
/// message costs proptest nothing to generate or shrink.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A length: mostly short, sometimes up to 70 KiB.
fn length(rng: &mut Rng, large: bool) -> usize {
    // The reader's thresholds and the header's length classes, and 1 past.
    const EDGES: [usize; 12] = [
        1, 125, 126, 255, 256, 4095, 4096, 32_767, 32_768, 65_535, 65_536, 70_000,
    ];
    match rng.below(12) {
        0 => 0,
        10 | 11 => {
            let edge = EDGES[rng.below(if large { EDGES.len() } else { 7 })];
            edge + rng.below(2)
        }
        1..=5 => rng.below(200),
        6..=8 => 200 + rng.below(4000),
        _ if large => 5000 + rng.below(70 * 1024 - 5000),
        _ => rng.below(3000),
    }
}

/// Valid text of about `len` bytes, from phrases (compressible) or
/// random code points of every width.
fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    const CHARS: [&str; 10] = ["a", "z", " ", "\n", "é", "ж", "€", "中", "😀", "𝄞"];
    let phrases = rng.chance(50);
    let mut out = String::new();
    while out.len() < len {
        if phrases && rng.chance(70) {
            out.push_str(["the quick ", "brün föx ", "€100 ", "😀😀 ", "中文字 "][rng.below(5)]);
        } else {
            out.push_str(CHARS[rng.below(CHARS.len())]);
        }
    }
    // Cut back to at most `len`, on a code-point boundary.
    let mut end = len.min(out.len());
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.into_bytes()
}

/// Binary data: random (incompressible) or runs (compressible).
fn binary(rng: &mut Rng, len: usize) -> Vec<u8> {
    if rng.chance(50) {
        (0..len).map(|_| rng.next() as u8).collect()
    } else {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let byte = rng.next() as u8;
            let run = 1 + rng.below(40);
            out.extend(std::iter::repeat_n(byte, run.min(len - out.len())));
        }
        out
    }
}

/// Valid text with an invalid sequence inserted at a random code-point
/// boundary (or at its end); returns the text and where the sequence is.
fn invalid_text(rng: &mut Rng, len: usize) -> (Vec<u8>, usize) {
    const BAD: [&[u8]; 12] = [
        b"\xFF",
        b"\xC0\x80",         // overlong
        b"\x80",             // lone continuation
        b"\xF5\x80\x80\x80", // past U+10FFFF
        b"\xED\xA0\x80",     // surrogate
        b"\xE0\x80\x80",     // overlong
        b"\xE2\x82",         // € without its last byte
        b"\xF0\x9F\x98",     // 😀 without its last byte
        b"\xC3",             // é without its last byte
        b"\xF4\x90\x80\x80", // past U+10FFFF
        b"\xE9",             // Latin-1 é
        b"\xF0\x80",         // overlong start
    ];
    let mut data = text(rng, len);
    let mut at = rng.below(data.len() + 1);
    if rng.chance(25) {
        at = data.len(); // invalid only at the end: cut mid-code-point
    }
    while std::str::from_utf8(&data[..at]).is_err() {
        at -= 1;
    }
    let bad = BAD[rng.below(BAD.len())];
    data.splice(at..at, bad.iter().copied());
    (data, at)
}

/// Sorted cut points in `0..=len` (duplicates give empty fragments), with
/// one forced inside `near..near + 4` when given.
fn cuts(rng: &mut Rng, len: usize, near: Option<usize>) -> Vec<usize> {
    let count = match rng.below(10) {
        0..=2 => 0,
        3 | 4 => 1,
        5 | 6 => 1 + rng.below(4),
        7 | 8 => rng.below(12),
        // Many tiny fragments: compressed ones are held back and inflated
        // together (up to 64 frames at a time).
        _ => 20 + rng.below(130),
    };
    let mut points: Vec<usize> = (0..count).map(|_| rng.below(len + 1)).collect();
    if let Some(near) = near {
        points.push((near + 1 + rng.below(3)).min(len));
    }
    points.sort_unstable();
    points
}

fn split_at_points(data: &[u8], points: &[usize]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &p in points {
        pieces.push(data[start..p].to_vec());
        start = p;
    }
    pieces.push(data[start..].to_vec());
    pieces
}

/// One frame as the peer sends it: masked if it is a client's.
fn frame(
    wire: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    wire.push(u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode);
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => wire.push(m | n as u8),
        n if n <= 0xFFFF => {
            wire.push(m | 126);
            wire.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            wire.push(m | 127);
            wire.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            wire.extend_from_slice(&key);
            wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => wire.extend_from_slice(payload),
    }
}

/// Raw deflate of `data` ended by a sync flush, as RFC 7692 §7.2.1 sends
/// it: the `00 00 FF FF` of the flush's last block kept or not.
fn deflate_sync(stream: &mut Compress, data: &[u8], strip: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start_in = stream.total_in();
    loop {
        let done = (stream.total_in() - start_in) as usize;
        out.reserve(1024);
        stream
            .compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .unwrap();
        let done = (stream.total_in() - start_in) as usize;
        // The flush is done once all input is taken with room left over.
        if done == data.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.is_empty() {
        // zlib flushes nothing when nothing came since its last flush: the
        // empty stored block such a flush ends with, by hand (the stream
        // is at a byte boundary after the last flush).
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xFF, 0xFF]);
    }
    if strip {
        assert!(out.ends_with(&[0, 0, 0xFF, 0xFF]), "a sync flush ends so");
        out.truncate(out.len() - 4);
    }
    out
}

/// Raw deflate of `data` ending in a final block (and the stream).
fn deflate_final(stream: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start_in = stream.total_in();
    loop {
        let done = (stream.total_in() - start_in) as usize;
        out.reserve(1024);
        let status = stream
            .compress_vec(&data[done..], &mut out, FlushCompress::Finish)
            .unwrap();
        if status == flate2::Status::StreamEnd {
            return out;
        }
    }
}

/// The peer's compressor for its window (9 bits for 8: zlib refers back
/// at most 250 bytes then, within 256).
fn compressor(bits: u8, level: u32) -> Compress {
    Compress::new_with_window_bits(Compression::new(level), false, bits.max(9))
}

/// The parameters for an endpoint of `role` that compresses with `ours`
/// and receives what was compressed with `theirs` (window bits, takeover).
fn directed(role: Role, ours: (u8, bool), theirs: (u8, bool)) -> DeflateParams {
    let (server, client) = match role {
        Role::Server => (ours, theirs),
        Role::Client => (theirs, ours),
    };
    DeflateParams {
        server_no_context_takeover: !server.1,
        client_no_context_takeover: !client.1,
        server_max_window_bits: server.0,
        client_max_window_bits: client.0,
    }
}

/// What a message is, as sent.
#[derive(Clone, Debug)]
struct Sent {
    text: bool,
    data: Vec<u8>,
}

/// What an event is, for comparing: whole messages, pings, the close;
/// pieces joined into their message, and a message cut by a failure kept
/// apart (`Partial`) as its bytes depend on how the input was cut.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Message {
        text: bool,
        data: Vec<u8>,
    },
    Partial {
        text: bool,
        data: Vec<u8>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed {
        code: u16,
        initiator: Initiator,
        error: Option<Fault>,
    },
}

/// A failure's evidence that does not depend on the cuts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fault {
    Utf8 {
        offset: u64,
    },
    TooBig,
    /// The oracle's: 1007 or 1009.
    Either,
    Other(String),
}

fn seen(events: &[Event]) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut open: Option<(bool, Vec<u8>)> = None;
    for event in events {
        match event {
            Event::Message(Message::Text(t))
            | Event::Chunk {
                data: Message::Text(t),
                ..
            } if std::str::from_utf8(t.as_bytes()).is_err() => {
                panic!("text handed out that is not UTF-8: {t:?}")
            }
            Event::Message(m) => out.push(Seen::Message {
                text: matches!(m, Message::Text(_)),
                data: m.as_bytes().to_vec(),
            }),
            Event::Chunk { data, last } => {
                let piece = open.get_or_insert((matches!(data, Message::Text(_)), Vec::new()));
                assert_eq!(
                    piece.0,
                    matches!(data, Message::Text(_)),
                    "a piece changed kind"
                );
                piece.1.extend_from_slice(data.as_bytes());
                if *last {
                    let (text, data) = open.take().unwrap();
                    out.push(Seen::Message { text, data });
                }
            }
            Event::Ping(p) => out.push(Seen::Ping(p.to_vec())),
            Event::Pong(p) => out.push(Seen::Pong(p.to_vec())),
            Event::Closed(closed) => {
                if let Some((text, data)) = open.take() {
                    out.push(Seen::Partial { text, data });
                }
                let error = closed.error.map(|e| match e {
                    ProtocolError::InvalidUtf8(ev) => Fault::Utf8 {
                        offset: ev.offset(),
                    },
                    ProtocolError::MessageTooBig { .. } => Fault::TooBig,
                    other => Fault::Other(format!("{other:?}")),
                });
                out.push(Seen::Closed {
                    code: closed.code.0,
                    initiator: closed.initiator,
                    error,
                });
            }
        }
    }
    out
}

/// The events with the failed message's pieces left out (`Partial`).
fn without_partial(seen: &[Seen]) -> Vec<Seen> {
    seen.iter()
        .filter(|s| !matches!(s, Seen::Partial { .. }))
        .cloned()
        .collect()
}

/// How the receiver is fed.
#[derive(Clone, Copy, Debug)]
enum Feed {
    Whole,
    ByteByByte,
    Cut,
    PrepareRead,
}

/// Reads `wire` into `conn` fed as `how`; the events, and checks that the
/// connection never holds more than its limits allow.
fn feed(mut conn: Connection, wire: &[u8], how: Feed, seed: u64) -> Vec<Event> {
    let bound = conn.config().max_frame_size() as usize
        + 14
        + conn.config().max_message_size().min(1 << 30) as usize;
    let mut rng = Rng(seed);
    let mut events = Events::default();
    let drain = |conn: &mut Connection, events: &mut Events| {
        while let Some(event) = conn.next_event() {
            events.push(event);
        }
        assert!(
            conn.buffered_len() <= bound,
            "{how:?}: holds {} bytes",
            conn.buffered_len()
        );
        // Auto pongs and close replies are not what is tested here.
        conn.take_output();
    };
    match how {
        Feed::Whole => {
            conn.receive(wire);
            drain(&mut conn, &mut events);
        }
        Feed::ByteByByte => {
            for byte in wire {
                conn.receive(std::slice::from_ref(byte));
                drain(&mut conn, &mut events);
            }
        }
        Feed::Cut => {
            let mut at = 0;
            while at < wire.len() {
                let most = [8, 300, 20_000][rng.below(3)];
                let n = 1 + rng.below(most);
                let end = (at + n).min(wire.len());
                conn.receive(&wire[at..end]);
                at = end;
                drain(&mut conn, &mut events);
            }
        }
        Feed::PrepareRead => {
            let mut at = 0;
            while at < wire.len() {
                let scale = 2 * (1 + rng.below(8));
                let want = 1 + rng.below(1 << scale);
                let limit = conn.prepare_read(want);
                let buf = conn.read_buf();
                assert!(limit >= 1 && limit <= buf.capacity() - buf.len());
                // Mostly as told; sometimes a read of all it wanted.
                let n = if rng.chance(20) {
                    want
                } else {
                    limit.min(want)
                };
                let n = n.min(wire.len() - at);
                buf.extend_from_slice(&wire[at..at + n]);
                at += n;
                drain(&mut conn, &mut events);
            }
        }
    }
    events.into_vec()
}

/// Events as they come, consecutive pieces of a message joined (a piece
/// per byte would make the list, not the connection, the largest block).
#[derive(Default)]
struct Events {
    list: Vec<Event>,
    piece: Option<(bool, Vec<u8>)>,
}

impl Events {
    fn push(&mut self, event: Event) {
        match event {
            Event::Chunk { data, last } => {
                let text = matches!(data, Message::Text(_));
                if text {
                    assert!(
                        std::str::from_utf8(data.as_bytes()).is_ok(),
                        "a text piece not UTF-8"
                    );
                }
                let piece = self.piece.get_or_insert_with(|| (text, Vec::new()));
                assert_eq!(piece.0, text, "a piece changed kind");
                piece.1.extend_from_slice(data.as_bytes());
                if last {
                    self.flush(true);
                }
            }
            other => {
                self.flush(false);
                self.list.push(other);
            }
        }
    }

    fn flush(&mut self, last: bool) {
        if let Some((text, data)) = self.piece.take() {
            let data = match text {
                true => Message::from(String::from_utf8(data).expect("pieces join to UTF-8")),
                false => Message::Binary(data.into()),
            };
            self.list.push(Event::Chunk { data, last });
        }
    }

    fn into_vec(mut self) -> Vec<Event> {
        self.flush(false);
        self.list
    }
}

/// A receive case, drawn from a seed.
#[derive(Debug)]
struct Case {
    role: Role,
    params: Option<DeflateParams>,
    limit: Option<u64>,
    wire: Vec<u8>,
    expected: Vec<Seen>,
    /// The failing message, if any: its bytes as sent (inflated).
    failing: Option<Sent>,
    /// Where the failing message's frames start, if it went uncompressed
    /// (a compressed one's frames hold compressed bytes).
    failing_frames: Option<Vec<usize>>,
}

fn receive_case(seed: u64, deflate: bool, with_limit: bool) -> Case {
    let mut rng = Rng(seed);
    let role = if rng.chance(50) {
        Role::Server
    } else {
        Role::Client
    };
    let bits = 8 + rng.below(8) as u8;
    let takeover = rng.chance(50);
    // The peer sends with `bits` and `takeover`; the other direction's
    // parameters are drawn apart, so that a mix-up of the two shows.
    let other = (8 + rng.below(8) as u8, rng.chance(50));
    let params = deflate.then_some(directed(role, other, (bits, takeover)));
    let level = rng.below(10) as u32;
    // The peer may compress with less than the window agreed (§7.1.2).
    let own_bits = 8 + rng.below(usize::from(bits) - 7) as u8;
    let mut stream = compressor(own_bits, level);
    // Sometimes more small messages than the reader queues at once (64).
    let many = rng.chance(15);
    let count = if many {
        40 + rng.below(100)
    } else {
        1 + rng.below(6)
    };
    let messages: Vec<(Sent, Option<usize>)> = (0..count)
        .map(|_| {
            let len = if many && rng.chance(90) {
                rng.below(300)
            } else {
                length(&mut rng, true)
            };
            match rng.below(3) {
                0 => (
                    Sent {
                        text: false,
                        data: binary(&mut rng, len),
                    },
                    None,
                ),
                1 if rng.chance(if many {
                    3
                } else if with_limit {
                    30
                } else {
                    60
                }) =>
                {
                    let (data, at) = invalid_text(&mut rng, len);
                    (Sent { text: true, data }, Some(at))
                }
                _ => (
                    Sent {
                        text: true,
                        data: text(&mut rng, len),
                    },
                    None,
                ),
            }
        })
        .collect();
    let largest = messages
        .iter()
        .map(|(m, _)| m.data.len())
        .max()
        .unwrap_or(0);
    let limit = with_limit.then(|| {
        if rng.chance(50) {
            rng.below(largest + 2) as u64
        } else {
            // At a message's length, one under or one over: the edges.
            let len = messages[rng.below(messages.len())].0.data.len();
            (len + rng.below(3)).saturating_sub(1) as u64
        }
    });
    let mask = |rng: &mut Rng| match role {
        Role::Server => Some((rng.next() as u32).to_be_bytes()),
        Role::Client => None,
    };

    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut failing = None;
    let mut failing_frames = None;
    // The peer's close may come between two fragments of the last message.
    let close_inside = rng.chance(15);
    let mut closed = false;
    for (index, (sent, bad_at)) in messages.iter().enumerate() {
        if rng.chance(20) {
            let n = rng.below(126);
            let p = binary(&mut rng, n);
            let pong = rng.chance(30);
            frame(
                &mut wire,
                true,
                false,
                if pong { 0xA } else { 0x9 },
                &p,
                mask(&mut rng),
            );
            if failing.is_none() {
                expected.push(if pong { Seen::Pong(p) } else { Seen::Ping(p) });
            }
        }
        let compress = deflate && rng.chance(75);
        let points = cuts(&mut rng, sent.data.len(), *bad_at);
        let pieces = split_at_points(&sent.data, &points);
        // The payloads on the wire: the data's pieces, or compressed.
        let payloads: Vec<Vec<u8>> = if !compress {
            pieces.clone()
        } else {
            // Without takeover the peer must start afresh; with it, it
            // may anyway (§7.1.1.1).
            if !takeover || rng.chance(10) {
                stream = compressor(own_bits, level);
            }
            if rng.chance(15) {
                // Compressed whole into a final block (BFINAL, RFC 7692
                // §7.2.3.4): the tail the receiver appends comes after it.
                let c = deflate_final(&mut stream, &sent.data);
                stream = compressor(own_bits, level);
                let points = cuts(&mut rng, c.len(), None);
                split_at_points(&c, &points)
            } else if rng.chance(50) {
                // Compressed whole, the compressed bytes cut anywhere.
                let c = deflate_sync(&mut stream, &sent.data, true);
                let points = cuts(&mut rng, c.len(), None);
                split_at_points(&c, &points)
            } else {
                // Each piece flushed as it comes, as a relay sends.
                let last = pieces.len() - 1;
                pieces
                    .iter()
                    .enumerate()
                    .map(|(i, p)| deflate_sync(&mut stream, p, i == last))
                    .collect()
            }
        };
        let opcode = if sent.text { 0x1 } else { 0x2 };
        let last = payloads.len() - 1;
        let fault = if sent.text {
            std::str::from_utf8(&sent.data).err().map(|e| Fault::Utf8 {
                offset: e.valid_up_to() as u64,
            })
        } else {
            None
        };
        let fault = match (limit, fault) {
            // Invalid and too big: which is seen first depends on where
            // each is (a fragment's header, an inflated byte).
            (Some(limit), Some(_)) if sent.data.len() as u64 > limit => Some(Fault::Either),
            (Some(limit), None) if sent.data.len() as u64 > limit => Some(Fault::TooBig),
            (_, fault) => fault,
        };
        let mut pings = Vec::new();
        // Not into a failing message: which comes first would depend on
        // where in it the failure is seen.
        let close_after =
            (close_inside && index == messages.len() - 1 && last > 0 && fault.is_none())
                .then(|| rng.below(last));
        for (i, payload) in payloads.iter().enumerate() {
            let op = if i == 0 { opcode } else { 0x0 };
            frame(
                &mut wire,
                i == last,
                compress && i == 0,
                op,
                payload,
                mask(&mut rng),
            );
            if close_after == Some(i) {
                let mut close = 1001u16.to_be_bytes().to_vec();
                close.extend_from_slice(b"away");
                frame(&mut wire, true, false, 0x8, &close, mask(&mut rng));
                if failing.is_none() {
                    // The message is cut: its pings before the close come,
                    // the message does not.
                    expected.extend(pings.drain(..).map(Seen::Ping));
                    expected.push(Seen::Closed {
                        code: 1001,
                        initiator: Initiator::Peer,
                        error: None,
                    });
                    failing = Some(sent.clone());
                    closed = true;
                }
            }
            if i != last && rng.chance(15) {
                let n = rng.below(20);
                let p = binary(&mut rng, n);
                frame(&mut wire, true, false, 0x9, &p, mask(&mut rng));
                pings.push(p);
            }
        }
        if failing.is_some() {
            continue;
        }
        match fault {
            None => {
                expected.extend(pings.into_iter().map(Seen::Ping));
                expected.push(Seen::Message {
                    text: sent.text,
                    data: sent.data.clone(),
                });
            }
            Some(fault) => {
                // The pings between the failing message's fragments come
                // before the close or not, by where it fails: left out of
                // the comparison with the oracle.
                let code = match fault {
                    Fault::TooBig => 1009,
                    Fault::Either => 0,
                    _ => 1007,
                };
                expected.push(Seen::Closed {
                    code,
                    initiator: Initiator::Local,
                    error: Some(fault),
                });
                failing = Some(sent.clone());
                if !compress {
                    failing_frames =
                        Some(std::iter::once(0).chain(points.iter().copied()).collect());
                }
            }
        }
    }
    if failing.is_none() && !closed {
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        frame(&mut wire, true, false, 0x8, &close, mask(&mut rng));
        expected.push(Seen::Closed {
            code: 1000,
            initiator: Initiator::Peer,
            error: None,
        });
    }
    // Bytes after the close (ours or the peer's) are ignored.
    frame(&mut wire, true, false, 0x2, b"after", mask(&mut rng));
    Case {
        role,
        params,
        limit,
        wire,
        expected,
        failing,
        failing_frames,
    }
}

fn receiver(case: &Case, streaming: bool) -> Connection {
    let mut config = Config::builder().streaming(streaming);
    if let Some(limit) = case.limit {
        config = config.max_message_size(limit);
    }
    Connection::with_deflate(case.role, config.build(), case.params)
}

/// The pings of the failing message, between its fragments and before its
/// close, are left out; the rest must match exactly.
fn without_failing_pings(seen: &[Seen]) -> Vec<Seen> {
    let ends_failed = matches!(
        seen.last(),
        Some(Seen::Closed {
            initiator: Initiator::Local,
            ..
        })
    );
    if !ends_failed {
        return seen.to_vec();
    }
    let mut out = seen.to_vec();
    let close = out.pop().unwrap();
    let partial = matches!(out.last(), Some(Seen::Partial { .. })).then(|| out.pop().unwrap());
    let keep = out
        .iter()
        .rposition(|s| matches!(s, Seen::Message { .. }))
        .map_or(0, |i| i + 1);
    // Pings after the last whole message: the failing message's, or ones
    // sent before it (which the oracle has); keep the oracle's count.
    let pings: Vec<Seen> = out.split_off(keep);
    out.extend(pings);
    out.extend(partial);
    out.push(close);
    out
}

/// The 1007's evidence: the frame that held the first offending byte (for
/// a code point cut across frames, where it started) and the bytes, as
/// `std::str::from_utf8` has them.
fn check_evidence(case: &Case, events: &[Event], what: &str) -> Result<(), TestCaseError> {
    let Some(Event::Closed(closed)) = events.last() else {
        return Ok(());
    };
    let Some(ProtocolError::InvalidUtf8(evidence)) = closed.error else {
        return Ok(());
    };
    let data = &case.failing.as_ref().unwrap().data;
    let err = std::str::from_utf8(data).unwrap_err();
    let at = err.valid_up_to();
    let bad = match err.error_len() {
        Some(n) => &data[at..at + n],
        None => &data[at..],
    };
    prop_assert!(
        evidence.bytes().is_empty() || evidence.bytes() == bad,
        "{what}: offending bytes {:x?}, from_utf8 says {bad:x?}",
        evidence.bytes()
    );
    if let Some(starts) = &case.failing_frames {
        let frame = starts.iter().rposition(|&s| s <= at).unwrap() + 1;
        prop_assert_eq!(
            evidence.frame() as usize,
            frame,
            "{}: the frame of byte {} (frames start at {:?}; data {:x?}; evidence {:?})",
            what,
            at,
            starts,
            &data[..data.len().min(at + 8)],
            evidence
        );
    }
    Ok(())
}

fn check_receive(seed: u64, deflate: bool, with_limit: bool) -> Result<(), TestCaseError> {
    let case = receive_case(seed, deflate, with_limit);
    let mut reference: Option<Vec<Seen>> = None;
    let largest_frame = parse(&case.wire, case.role == Role::Server)
        .iter()
        .map(|f| f.payload.len())
        .max()
        .unwrap_or(0);
    for streaming in [false, true] {
        for how in [Feed::Whole, Feed::ByteByByte, Feed::Cut, Feed::PrepareRead] {
            let conn = receiver(&case, streaming);
            largest_block::reset();
            let events = feed(conn, &case.wire, how, seed ^ 0x5EED);
            let largest = largest_block::largest();
            if let (Some(limit), Feed::ByteByByte) = (case.limit, how) {
                // Nothing reserved on a header's or a ratio's word past the
                // limit: a block holds at most the message (limit + 1, the
                // byte that shows it is over) or the largest frame, twice
                // over as buffers double (the test's own joining of pieces
                // too), and the inflater's state (zlib-rs: 47 KiB).
                let bound = 2 * (limit as usize + 1).max(largest_frame) + (64 << 10);
                prop_assert!(
                    largest <= bound,
                    "seed {seed:#x} streaming {streaming}: a block of {largest} bytes, limit {limit}, largest frame {largest_frame}"
                );
            }
            check_evidence(
                &case,
                &events,
                &format!("seed {seed:#x} streaming {streaming} {how:?}"),
            )?;
            let got = seen(&events);
            let what = format!(
                "seed {seed:#x} streaming {streaming} {how:?} limit {:?} params {:?}",
                case.limit, case.params
            );
            // Nothing after the close.
            prop_assert!(
                got.iter().position(|s| matches!(s, Seen::Closed { .. })) == Some(got.len() - 1),
                "{what}: the close is not the last event: {got:?}"
            );
            // Pieces of the failing message: valid and within the limit.
            if let Some(Seen::Partial { text, data }) = got.iter().rev().nth(1) {
                let failing = case.failing.as_ref().unwrap();
                prop_assert!(streaming, "{what}: a partial message without streaming");
                prop_assert_eq!(*text, failing.text);
                prop_assert!(
                    failing.data.starts_with(data),
                    "{what}: pieces not what was sent"
                );
                if failing.text {
                    let valid = match std::str::from_utf8(&failing.data) {
                        Ok(_) => failing.data.len(),
                        Err(e) => e.valid_up_to(),
                    };
                    prop_assert!(data.len() <= valid, "{what}: invalid bytes handed out");
                }
                if let Some(limit) = case.limit {
                    prop_assert!(data.len() as u64 <= limit, "{what}: pieces past the limit");
                }
            }
            let mut got = without_partial(&got);
            if let (
                Some(Seen::Closed {
                    code: 0,
                    error: Some(Fault::Either),
                    ..
                }),
                Some(Seen::Closed {
                    code: code @ (1007 | 1009),
                    error,
                    ..
                }),
            ) = (case.expected.last(), got.last_mut())
            {
                *code = 0;
                *error = Some(Fault::Either);
            }
            // Against the oracle: the pings of the failing message aside.
            let oracle_view: Vec<Seen> = got
                .iter()
                .filter(|s| !matches!(s, Seen::Ping(_)))
                .cloned()
                .collect();
            let expected_view: Vec<Seen> = case
                .expected
                .iter()
                .filter(|s| !matches!(s, Seen::Ping(_)))
                .cloned()
                .collect();
            prop_assert_eq!(
                &oracle_view,
                &expected_view,
                "{}: messages and close against the oracle",
                what
            );
            // Every ping the oracle expects, in order, before its message.
            let got = without_failing_pings(&got);
            let expected_prefix: Vec<Seen> = case.expected[..case.expected.len() - 1].to_vec();
            prop_assert!(
                got.starts_with(&expected_prefix),
                "{what}: pings and messages out of order:\n got {got:?}\n expected {:?}",
                case.expected
            );
            // The same events every way.
            match &reference {
                None => reference = Some(got),
                Some(r) => prop_assert_eq!(r, &got, "{}: differs from the first feeding", what),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn plain_messages_read_the_same_every_way_and_fail_where_the_oracle_does(seed in any::<u64>()) {
        check_receive(seed, false, false)?;
    }

    #[test]
    fn compressed_messages_read_the_same_every_way_and_fail_where_the_oracle_does(seed in any::<u64>()) {
        check_receive(seed, true, false)?;
    }

    #[test]
    fn messages_over_the_limit_are_1009_counting_inflated_bytes(seed in any::<u64>(), deflate in any::<bool>()) {
        check_receive(seed, deflate, true)?;
    }
}

// ---------------------------------------------------------------- send

/// One step of a send sequence.
#[derive(Clone, Debug)]
enum Step {
    /// A whole message, sent so.
    Whole(Sent, Via),
    /// `send_fragment`s, with pings after some.
    Fragments(bool, Vec<(Vec<u8>, bool)>),
    Ping(Vec<u8>),
}

/// How a whole message is sent.
#[derive(Clone, Copy, Debug)]
enum Via {
    Send,
    /// `send_compressed` with this `compress`.
    Compressed(bool),
    /// `send_split`: the payload written after the output.
    Split,
}

/// A frame as parsed off the wire.
#[derive(Debug)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
}

fn parse(mut wire: &[u8], masked: bool) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (b0, b1) = (wire[0], wire[1]);
        assert_eq!(b1 & 0x80 != 0, masked, "mask bit");
        let (len, mut at) = match b1 & 0x7F {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = masked.then(|| {
            let key: [u8; 4] = wire[at..at + 4].try_into().unwrap();
            at += 4;
            key
        });
        let mut payload = wire[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push(Frame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0xF,
            payload,
        });
        wire = &wire[at + len..];
    }
    frames
}

/// Raw inflate of one message's payload (`00 00 FF FF` appended, §7.2.2).
fn inflate(stream: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
    let mut out = Vec::with_capacity(input.len() * 4 + 64);
    let start_in = stream.total_in();
    loop {
        let done = (stream.total_in() - start_in) as usize;
        out.reserve(4096);
        stream
            .decompress_vec(&input[done..], &mut out, FlushDecompress::Sync)
            .unwrap();
        if (stream.total_in() - start_in) as usize == input.len() && out.len() < out.capacity() {
            break;
        }
    }
    out
}

fn send_steps(rng: &mut Rng) -> Vec<Step> {
    let count = 1 + rng.below(8);
    (0..count)
        .map(|_| match rng.below(6) {
            0 => {
                let n = rng.below(126);
                Step::Ping(binary(rng, n))
            }
            1 | 2 => {
                let text = rng.chance(50);
                let len = length(rng, false);
                let data = if text {
                    self::text(rng, len)
                } else {
                    binary(rng, len)
                };
                let how = match rng.below(4) {
                    0 => Via::Send,
                    1 => Via::Compressed(true),
                    2 => Via::Compressed(false),
                    _ => Via::Split,
                };
                Step::Whole(Sent { text, data }, how)
            }
            _ => {
                let text = rng.chance(50);
                let n = 1 + rng.below(6);
                let fragments = (0..n)
                    .map(|_| {
                        let len = match rng.below(4) {
                            0 => 0,
                            1 => 1 + rng.below(3),
                            _ => length(rng, false) / 4,
                        };
                        let data = if text {
                            self::text(rng, len)
                        } else {
                            binary(rng, len)
                        };
                        (data, rng.chance(20))
                    })
                    .collect();
                Step::Fragments(text, fragments)
            }
        })
        .collect()
}

fn check_send(seed: u64, bits: u8, takeover: bool) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let role = if rng.chance(50) {
        Role::Server
    } else {
        Role::Client
    };
    // We send with `bits` and `takeover`; the other direction is drawn
    // apart, so that a mix-up of the two shows.
    let other = (8 + rng.below(8) as u8, rng.chance(50));
    let params = directed(role, (bits, takeover), other);
    let threshold = [0, 1, 16, 1024][rng.below(4)];
    let deflate = DeflateConfig::default()
        .threshold(threshold)
        .level(rng.below(10) as u32);
    let frame_size = match rng.below(3) {
        0 => 1 + rng.below(8) as u64,
        1 => 1 + rng.below(600) as u64,
        _ => u64::MAX,
    };
    let config = Config::builder()
        .deflate(Some(deflate))
        .max_outgoing_frame_size(frame_size)
        .max_output_buffer(if rng.chance(30) {
            1 + rng.below(2000)
        } else {
            usize::MAX
        })
        .build();
    let mut conn = Connection::with_deflate(role, config, Some(params));
    let steps = send_steps(&mut rng);
    // What was sent: messages with whether they must be compressed
    // (None: either), and pings, in order.
    let mut sent: Vec<(Seen, Option<bool>)> = Vec::new();
    let mut wire = Vec::new();
    // A send refused with a full output queued nothing: write the output
    // out and send again, as a blocking server does.
    let retry = |conn: &mut Connection,
                 wire: &mut Vec<u8>,
                 send: &mut dyn FnMut(&mut Connection) -> Result<(), SendError>| loop {
        match send(conn) {
            Err(SendError::OutputFull { .. }) => wire.extend_from_slice(&conn.take_output()),
            done => break done.unwrap(),
        }
    };
    // The peer's ping, answered by the automatic pong; the output written
    // out first, so that no unsent pong is replaced.
    let peer_ping = |conn: &mut Connection,
                     wire: &mut Vec<u8>,
                     sent: &mut Vec<(Seen, Option<bool>)>,
                     p: &[u8]| {
        wire.extend_from_slice(&conn.take_output());
        let mut ping = Vec::new();
        frame(
            &mut ping,
            true,
            false,
            0x9,
            p,
            (role == Role::Server).then_some([9, 8, 7, 6]),
        );
        conn.receive(&ping);
        assert_eq!(
            conn.next_event(),
            Some(Event::Ping(Bytes::copy_from_slice(p)))
        );
        sent.push((Seen::Pong(p.to_vec()), Some(false)));
    };
    for step in &steps {
        // Written out at random moments, as a server's loop does.
        if rng.chance(30) {
            wire.extend_from_slice(&conn.take_output());
        }
        if rng.chance(15) {
            let n = rng.below(126);
            peer_ping(&mut conn, &mut wire, &mut sent, &binary(&mut rng, n));
        }
        match step {
            Step::Ping(p) => {
                retry(&mut conn, &mut wire, &mut |c| c.ping(p));
                sent.push((Seen::Ping(p.clone()), Some(false)));
            }
            Step::Whole(m, how) => {
                let message = to_message(m.text, &m.data);
                let compressed = match *how {
                    Via::Send => {
                        retry(&mut conn, &mut wire, &mut |conn| conn.send(message.clone()));
                        m.data.len() >= threshold
                    }
                    Via::Compressed(c) => {
                        retry(&mut conn, &mut wire, &mut |conn| {
                            conn.send_compressed(message.clone(), c)
                        });
                        c
                    }
                    Via::Split => {
                        let payload = loop {
                            match conn.send_split(message.clone()) {
                                Err(SendError::OutputFull { .. }) => {
                                    wire.extend_from_slice(&conn.take_output());
                                }
                                done => break done.unwrap(),
                            }
                        };
                        wire.extend_from_slice(&conn.take_output());
                        wire.extend_from_slice(&payload);
                        m.data.len() >= threshold
                    }
                };
                sent.push((
                    Seen::Message {
                        text: m.text,
                        data: m.data.clone(),
                    },
                    Some(compressed),
                ));
            }
            Step::Fragments(text, fragments) => {
                let last = fragments.len() - 1;
                let mut pings = Vec::new();
                for (i, (data, ping)) in fragments.iter().enumerate() {
                    let fragment = to_message(*text, data);
                    retry(&mut conn, &mut wire, &mut |conn| {
                        conn.send_fragment(fragment.clone(), i == last)
                    });
                    if *ping && i != last {
                        let p = vec![i as u8; i];
                        retry(&mut conn, &mut wire, &mut |c| c.ping(&p));
                        pings.push((Seen::Ping(p), Some(false)));
                    }
                    if i != last && rng.chance(10) {
                        // Its pong goes out between the fragments too.
                        sent.append(&mut pings);
                        peer_ping(&mut conn, &mut wire, &mut sent, &[i as u8]);
                    }
                }
                let data = fragments.iter().flat_map(|(d, _)| d.clone()).collect();
                let compressed = fragments[0].0.len() >= threshold;
                sent.extend(pings);
                sent.push((Seen::Message { text: *text, data }, Some(compressed)));
            }
        }
    }
    wire.extend_from_slice(&conn.take_output());
    let what = format!("seed {seed:#x} bits {bits} takeover {takeover} {role:?} frame size {frame_size} threshold {threshold}");

    // The wire by hand, inflated by flate2.
    let mut inflater = Decompress::new_with_window_bits(false, bits.max(9));
    let mut got: Vec<(Seen, Option<bool>)> = Vec::new();
    let mut open: Option<(u8, bool, Vec<u8>)> = None;
    for f in parse(&wire, role == Role::Client) {
        prop_assert_eq!(f.rsv & 0b011, 0, "{}: RSV2/RSV3 set", what);
        match f.opcode {
            0x9 | 0xA => {
                prop_assert!(
                    f.fin && f.rsv == 0,
                    "{what}: a control frame with RSV1 or without FIN"
                );
                got.push((
                    if f.opcode == 0x9 {
                        Seen::Ping(f.payload)
                    } else {
                        Seen::Pong(f.payload)
                    },
                    Some(false),
                ));
                continue;
            }
            0x1 | 0x2 => {
                prop_assert!(open.is_none(), "{what}: a new message inside one");
                open = Some((f.opcode, f.rsv & 0b100 != 0, Vec::new()));
            }
            0x0 => {
                prop_assert!(open.is_some(), "{what}: a continuation outside a message");
                prop_assert_eq!(
                    f.rsv,
                    0,
                    "{}: RSV1 on a continuation frame (RFC 7692 §6.1)",
                    what
                );
            }
            op => prop_assert!(false, "{what}: opcode {op:#x}"),
        }
        open.as_mut().unwrap().2.extend_from_slice(&f.payload);
        if f.fin {
            let (opcode, compressed, payload) = open.take().unwrap();
            let data = if compressed {
                if !takeover {
                    inflater = Decompress::new_with_window_bits(false, bits.max(9));
                }
                inflate(&mut inflater, &payload)
            } else {
                payload
            };
            got.push((
                Seen::Message {
                    text: opcode == 0x1,
                    data,
                },
                Some(compressed),
            ));
        }
    }
    prop_assert!(open.is_none(), "{what}: a message left open");
    prop_assert_eq!(&got, &sent, "{}: flate2's reading of the wire", what);

    // Our own receiver of the other role: the same messages and pings.
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let peer = Connection::with_deflate(peer_role, Config::default(), Some(params));
    let events = feed(peer, &wire, Feed::Cut, seed);
    let expected: Vec<Seen> = sent.into_iter().map(|(s, _)| s).collect();
    prop_assert_eq!(seen(&events), expected, "{}: our receiver's reading", what);
    Ok(())
}

fn to_message(text: bool, data: &[u8]) -> Message {
    if text {
        Message::from(std::str::from_utf8(data).unwrap().to_owned())
    } else {
        Message::Binary(Bytes::copy_from_slice(data))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn sent_sequences_inflate_to_what_was_sent_with_rsv1_on_first_frames_only(
        seed in any::<u64>(),
        bits in 8u8..=15,
        takeover in any::<bool>(),
    ) {
        check_send(seed, bits, takeover)?;
    }
}

#[test]
fn every_window_and_takeover_sends_what_flate2_and_our_receiver_read() {
    for bits in 8..=15 {
        for takeover in [false, true] {
            for seed in 0..4 {
                check_send(seed * 7919 + u64::from(bits), bits, takeover).unwrap();
            }
        }
    }
}

/// Found by `plain_messages_read_the_same_every_way_and_fail_where_the_oracle_does`:
/// the evidence named the frame before the one that revealed the error,
/// which is not where the code point started when empty frames came
/// between, or when it was cut across more than two frames.
#[test]
fn a_code_point_cut_across_frames_is_reported_in_the_frame_it_started() {
    // (fragments, offset, frame of the offending byte)
    let cases: [(&[&[u8]], u64, u32); 6] = [
        (&[b"", b"\xE0", b"", b"\x80", b"", b"\x80"], 0, 2),
        (&[b"ab\xF0", b"\x9F", b"\x98", b"A"], 2, 1),
        (&[b"ab", b"\xF0", b"", b"", b"\x9F\x98", b"A"], 2, 2),
        (&[b"ab\xE2", b"\x82"], 2, 1), // cut at the end: ends in the last frame
        (&[b"x\xE2", b"\x82", b""], 1, 1),
        (&[b"x", b"\xFF"], 1, 2),
    ];
    for (fragments, offset, frame_number) in cases {
        let wire = masked_text_fragments(fragments);
        for streaming in [false, true] {
            for how in [Feed::Whole, Feed::ByteByByte, Feed::Cut, Feed::PrepareRead] {
                let conn =
                    Connection::new(Role::Server, Config::builder().streaming(streaming).build());
                assert_eq!(
                    utf8_evidence(feed(conn, &wire, how, 7), fragments),
                    (offset, frame_number),
                    "{fragments:x?} streaming {streaming} {how:?}"
                );
            }
        }
    }
}

/// Every fragment layout of a few invalid texts: each gap between two
/// bytes uncut, cut, or cut with an empty frame between; the evidence's
/// frame is the frame holding the byte where `std::str::from_utf8` stops
/// (the oracle), and its offset that byte's.
#[test]
fn the_frame_of_the_evidence_in_every_fragment_layout() {
    let texts: [&[u8]; 5] = [
        b"a\xF0\x9F\x98A",
        b"a\xE2\x82",
        b"a\xFFb",
        b"\xF0\x9F\x98\x80\xE2\x28",
        b"\xED\xA0\x80",
    ];
    for text in texts {
        let err = std::str::from_utf8(text).unwrap_err();
        let at = err.valid_up_to();
        let gaps = text.len() - 1;
        for layout in 0..3usize.pow(gaps as u32) {
            // The fragments, and the frame (1 = the first) of each byte.
            let mut fragments: Vec<Vec<u8>> = vec![vec![text[0]]];
            let mut frame_of = vec![1u32];
            let mut choice = layout;
            for &byte in &text[1..] {
                match choice % 3 {
                    0 => {}
                    1 => fragments.push(Vec::new()),
                    _ => fragments.extend([Vec::new(), Vec::new()]),
                }
                choice /= 3;
                fragments.last_mut().unwrap().push(byte);
                frame_of.push(fragments.len() as u32);
            }
            let wire = masked_text_fragments(&fragments);
            for how in [Feed::Whole, Feed::ByteByByte] {
                let conn = Connection::new(Role::Server, Config::default());
                assert_eq!(
                    utf8_evidence(feed(conn, &wire, how, 7), &fragments),
                    (at as u64, frame_of[at]),
                    "{fragments:x?} {how:?}"
                );
            }
        }
    }
}

/// A client's text message in `fragments`, one masked frame each.
fn masked_text_fragments<F: AsRef<[u8]>>(fragments: &[F]) -> Vec<u8> {
    let mut wire = Vec::new();
    let last = fragments.len() - 1;
    for (i, f) in fragments.iter().enumerate() {
        let op = if i == 0 { 0x1 } else { 0x0 };
        frame(
            &mut wire,
            i == last,
            false,
            op,
            f.as_ref(),
            Some([1, 2, 3, 4]),
        );
    }
    wire
}

/// The offset and frame of the UTF-8 violation that closed the connection
/// (the last event); panics, naming `fragments`, for any other end.
fn utf8_evidence<F: std::fmt::Debug>(events: Vec<Event>, fragments: F) -> (u64, u32) {
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("{fragments:x?}: {events:?}")
    };
    let Some(ProtocolError::InvalidUtf8(evidence)) = &closed.error else {
        panic!("{fragments:x?}: {closed:?}")
    };
    (evidence.offset(), evidence.frame())
}
