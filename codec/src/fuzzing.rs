//! Fuzz harnesses, in the library so that they are compiled, linted and
//! replayed by stable `cargo test` (`tests/fuzz_corpus.rs` runs every seed
//! and regression input through them); each `fuzz/fuzz_targets/*.rs` is a
//! one-line call. Not part of the public API.
//!
//! `frame_header` exercises the header grammar (`frame.rs`) and the receive
//! pipeline's frame reader, the one place the header rules live;
//! `connection` and `roundtrip` drive whole connections, so every path of
//! the pipeline (small frames in place, zero-copy messages, own buffers,
//! streaming, copied or read in place) and the state machine above it;
//! `mask` compares the unmasking kernels with the byte loop.

use bytes::BytesMut;

use crate::{
    apply_mask, apply_mask_bytewise,
    frame::{MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN},
    CloseCode, Config, Connection, Event, FrameHeader, Initiator, Message, OpCode, Role, State,
    Status,
};

/// `frame_header`: the header grammar ([`FrameHeader::parse`]) never
/// panics, reads every strict prefix of a header as `Partial`, and encoding
/// a minimally encoded header reproduces its bytes. The receive pipeline's
/// frame reader, the one place the header rules are applied, judges any
/// prefix the way it judges the whole (an error shows as soon as its byte
/// is there, and stays), accepts only headers that keep the rules, and
/// reports the same first item for the bytes fed whole or byte by byte,
/// copied or in place.
pub fn frame_header(data: &[u8]) {
    for role in [Role::Server, Role::Client] {
        let verdict = crate::recv::judge_header(role, FUZZ_FRAME_LIMIT, data);
        for end in 0..data.len() {
            match crate::recv::judge_header(role, FUZZ_FRAME_LIMIT, &data[..end]) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(_)) => assert!(
                    matches!(verdict, Ok(Status::Complete(_))),
                    "a prefix is a header, the whole is not"
                ),
                early => assert_eq!(early, verdict, "prefix {end}"),
            }
        }
        if let Ok(Status::Complete((header, len))) = verdict {
            assert_eq!(header.rsv, 0, "no extension is negotiated");
            assert!(!matches!(header.opcode, OpCode::Reserved(_)));
            if header.opcode.is_control() {
                assert!(header.fin && header.payload_len <= MAX_CONTROL_PAYLOAD as u64);
            }
            assert_eq!(header.mask.is_some(), role == Role::Server);
            assert!(header.payload_len <= FUZZ_FRAME_LIMIT);
            assert_eq!(len, header.encoded_len());
        }
        let first = |cut: usize, in_place: bool| {
            let config = Config::builder().max_frame_size(FUZZ_FRAME_LIMIT).build();
            let mut conn = Connection::with_mask_source(role, config, Box::new(|| [1, 2, 3, 4]));
            for piece in data.chunks(cut) {
                if in_place {
                    conn.read_buf().extend_from_slice(piece);
                } else {
                    conn.receive(piece);
                }
            }
            conn.next_event()
        };
        let whole = first(data.len().max(1), false);
        assert_eq!(first(1, false), whole, "byte by byte");
        assert_eq!(first(1, true), whole, "byte by byte, in place");
    }
    let Status::Complete((header, len)) = FrameHeader::parse(data) else {
        return;
    };
    assert!((2..=MAX_HEADER_LEN).contains(&len));
    for end in 0..len {
        assert_eq!(
            FrameHeader::parse(&data[..end]),
            Status::Partial,
            "prefix {end}"
        );
    }
    // The grammar reads a 64-bit length with its top bit set (the reader
    // refuses it); `encode` never writes one.
    if len == header.encoded_len() && header.payload_len >> 63 == 0 {
        let mut out = BytesMut::new();
        header.encode(&mut out);
        assert_eq!(&out[..], &data[..len]);
    }
}

/// `mask`: the SIMD unmasking equals the byte loop for any key, offset,
/// length and alignment. Layout: key (4 bytes), offset, alignment, payload.
pub fn mask(data: &[u8]) {
    let [k0, k1, k2, k3, offset, align, payload @ ..] = data else {
        return;
    };
    let key = [*k0, *k1, *k2, *k3];
    let align = (*align % 32) as usize;
    let mut fast = vec![0u8; align];
    fast.extend_from_slice(payload);
    let mut slow = fast.clone();
    apply_mask(&mut fast[align..], key, *offset as usize);
    apply_mask_bytewise(&mut slow[align..], key, *offset as usize);
    assert_eq!(fast, slow);
}

/// Limits small enough that the fuzzer reaches them.
const FUZZ_FRAME_LIMIT: u64 = 4096;
const FUZZ_MESSAGE_LIMIT: u64 = 16384;

/// `connection`: arbitrary bytes into a server and a client, fed whole and in
/// chunks chosen by the input. Never panics; memory stays within the limits;
/// both feedings give the same events and the same output bytes.
///
/// Layout: `data[0]` picks the role (bit 0) and streaming mode (bit 1),
/// puts every other chunk straight into `read_buf` (bit 2), and reads the
/// stream a third time through `prepare_read` (bit 3); `data[1]` is the
/// chunk size (0 = one byte); the rest is the stream.
pub fn connection(data: &[u8]) {
    let [flags, chunk, stream @ ..] = data else {
        return;
    };
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = Config::builder()
        .max_frame_size(FUZZ_FRAME_LIMIT)
        .max_message_size(FUZZ_MESSAGE_LIMIT)
        .streaming(flags & 2 != 0)
        .build();
    let chunk = (*chunk as usize).max(1);
    let conn = || Connection::with_mask_source(role, config, Box::new(|| [0xA1, 0xB2, 0xC3, 0xD4]));
    let whole = run_connection(conn(), stream, stream.len().max(1), false);
    // Every other piece goes straight into `read_buf`, if the flags say so.
    let chunked = run_connection(conn(), stream, chunk, flags & 4 != 0);
    assert_same_run(config, &whole, &chunked);
    if flags & 8 != 0 {
        let prepared = run_prepared_reads(conn(), stream, chunk);
        assert_same_run(config, &whole, &prepared);
    }
}

/// Whole and chunked feeding gave the same: events and output, or with
/// streaming (whose pieces follow the reads) what the pieces add up to.
fn assert_same_run(config: Config, whole: &Run, chunked: &Run) {
    if config.streaming() {
        assert_eq!(whole.1, chunked.1, "output bytes differ");
        assert_eq!(
            joined(&whole.0),
            joined(&chunked.0),
            "streamed data differs"
        );
    } else {
        assert_eq!(whole, chunked, "whole and chunked feeding differ");
    }
}

type Run = (Vec<Event>, Vec<u8>);

/// Feeds `stream` to `conn` in pieces of `chunk` bytes (every other one
/// straight into `read_buf` if `direct`), pulling every event after each.
fn run_connection(mut conn: Connection, stream: &[u8], chunk: usize, direct: bool) -> Run {
    let (mut events, mut out) = (Vec::new(), Vec::new());
    for (i, piece) in stream.chunks(chunk).enumerate() {
        if direct && i % 2 == 1 {
            conn.read_buf().extend_from_slice(piece);
        } else {
            conn.receive(piece);
        }
        pull(&mut conn, chunk, &mut events, &mut out);
    }
    (events, out)
}

/// Feeds `stream` as reads of at most `chunk` bytes straight into
/// `read_buf`, each within the room and the limit `prepare_read` gives,
/// pulling every event after each.
fn run_prepared_reads(mut conn: Connection, stream: &[u8], chunk: usize) -> Run {
    let (mut events, mut out, mut read) = (Vec::new(), Vec::new(), 0);
    while read < stream.len() {
        let limit = conn.prepare_read(chunk);
        let buf = conn.read_buf();
        let room = buf.capacity() - buf.len();
        assert!((1..=room).contains(&limit), "limit {limit}, room {room}");
        let n = limit.min(chunk).min(stream.len() - read);
        buf.extend_from_slice(&stream[read..read + n]);
        read += n;
        pull(&mut conn, chunk, &mut events, &mut out);
    }
    (events, out)
}

/// Every event after a read, the memory bounds, then the output written
/// in `chunk`-byte writes.
fn pull(conn: &mut Connection, chunk: usize, events: &mut Vec<Event>, out: &mut Vec<u8>) {
    let bound = (FUZZ_FRAME_LIMIT + FUZZ_MESSAGE_LIMIT) as usize + MAX_HEADER_LEN;
    while let Some(event) = conn.next_event() {
        events.push(event);
    }
    assert!(
        conn.buffered_len() <= bound,
        "{} bytes buffered",
        conn.buffered_len()
    );
    assert!(conn.read_hint() as u64 <= FUZZ_FRAME_LIMIT);
    out.extend_from_slice(&drain_output(conn, chunk));
}

/// Writes out all `conn` has to send as a socket that takes at most `step`
/// bytes a write, every other write vectored: the bytes, in order.
fn drain_output(conn: &mut Connection, step: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut vectored = false;
    while conn.has_output() {
        let before = out.len();
        if vectored {
            let mut slices = [std::io::IoSlice::new(&[]); 4];
            let filled = conn.pending_output_vectored(&mut slices);
            assert!(filled > 0);
            for slice in &slices[..filled] {
                let take = (step - (out.len() - before)).min(slice.len());
                out.extend_from_slice(&slice[..take]);
            }
        } else {
            let run = conn.pending_output();
            out.extend_from_slice(&run[..run.len().min(step)]);
        }
        conn.consume_output(out.len() - before);
        vectored = !vectored;
    }
    out
}

/// Everything the events carry, with streaming pieces joined, for comparing
/// runs whose pieces were cut differently.
fn joined(events: &[Event]) -> Vec<Event> {
    let mut result = Vec::new();
    let mut pending: Option<(bool, Vec<u8>)> = None;
    for event in events {
        match event {
            Event::Chunk { data, last } => {
                let entry = pending.get_or_insert_with(|| (data.is_text(), Vec::new()));
                entry.1.extend_from_slice(data.as_bytes());
                if *last {
                    let (text, bytes) = pending.take().expect("just inserted");
                    result.push(Event::Message(if text {
                        Message::from(String::from_utf8(bytes).expect("validated text"))
                    } else {
                        Message::from(bytes)
                    }));
                }
            }
            other => result.push(other.clone()),
        }
    }
    result
}

/// `roundtrip`: messages built from the input, sent by a client as fragments
/// of sizes chosen by the input with pings between them, come out of a server
/// identical; then the close handshake completes with 1000 on both sides.
///
/// Layout: a sequence of records `[kind, fragment size, length, bytes...]`.
/// With the `deflate` feature, bit 2 of the first record's kind negotiates
/// permessage-deflate (every message compressed), bit 3 without context
/// takeover, bits 4-6 the client compressor's window (9 + the value mod 7
/// bits), bit 7 its memory level (1, else the default 8).
pub fn roundtrip(data: &[u8]) {
    let (mut client, mut server) = roundtrip_pair(data.first().copied().unwrap_or(0));
    let mut sent = Vec::new();
    let mut rest = data;
    while let [kind, fragment, len, tail @ ..] = rest {
        let len = (*len as usize).min(tail.len());
        let (body, tail) = tail.split_at(len);
        rest = tail;
        let message = if kind & 1 == 0 {
            Message::from(body)
        } else {
            Message::from(String::from_utf8_lossy(body).into_owned())
        };
        send_fragmented(
            &mut client,
            &message,
            (*fragment as usize).max(1),
            kind & 2 != 0,
        );
        sent.push(message);
    }
    // The server sends them back (its larger payloads by reference),
    // written out by a socket that takes a few bytes a write.
    for message in &sent {
        server.send(message.clone()).expect("open");
    }
    let step = usize::from(data.get(1).copied().unwrap_or(0)).max(1);
    client.receive(&drain_output(&mut server, step));
    let echoed: Vec<Message> = std::iter::from_fn(|| client.next_event())
        .map(|event| match event {
            Event::Message(m) => m,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(echoed, sent);
    client.close(CloseCode::NORMAL, "done").expect("open");
    server.receive(&client.take_output());
    let mut received = Vec::new();
    let closed = loop {
        match server.next_event() {
            Some(Event::Message(m)) => received.push(m),
            Some(Event::Ping(_)) => {}
            Some(Event::Closed(c)) => break c,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(received, sent);
    assert_eq!(
        (closed.code, closed.initiator, closed.error),
        (CloseCode::NORMAL, Initiator::Peer, None)
    );
    client.receive(&server.take_output());
    loop {
        match client.next_event() {
            Some(Event::Pong(_)) => {}
            Some(Event::Closed(c)) => {
                assert_eq!((c.code, c.initiator), (CloseCode::NORMAL, Initiator::Local));
                break;
            }
            other => panic!("no close reply: {other:?}"),
        }
    }
    assert_eq!(
        (client.state(), server.state()),
        (State::Closed, State::Closed)
    );
}

/// The client and server of `roundtrip`, compressing if `kind` says so.
fn roundtrip_pair(kind: u8) -> (Connection, Connection) {
    let client =
        Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [7, 7, 7, 7]));
    #[cfg(feature = "deflate")]
    if kind & 4 != 0 {
        let reset = kind & 8 != 0;
        let params = crate::DeflateParams {
            server_no_context_takeover: reset,
            client_no_context_takeover: reset,
            server_max_window_bits: 15,
            client_max_window_bits: 9 + (kind >> 4) % 7,
        };
        let memory_level = if kind & 0x80 != 0 { 1 } else { 8 };
        let deflate = crate::ext::Extensions::deflate(
            params,
            Role::Client,
            &crate::DeflateConfig::default()
                .threshold(0)
                .memory_level(memory_level),
        );
        let client = Connection::with_extensions(
            Role::Client,
            Config::default(),
            Box::new(|| [7, 7, 7, 7]),
            deflate,
        );
        return (
            client,
            Connection::with_deflate(Role::Server, Config::default(), Some(params)),
        );
    }
    let _ = kind;
    (client, Connection::new(Role::Server, Config::default()))
}

/// Sends `message` in fragments of `size` bytes (cut on code points for
/// text), with a ping after each fragment if `pings`.
fn send_fragmented(conn: &mut Connection, message: &Message, size: usize, pings: bool) {
    let bytes = message.as_bytes();
    let mut start = 0;
    loop {
        let mut end = (start + size).min(bytes.len());
        if let Message::Text(text) = message {
            while !text.is_char_boundary(end) {
                end += 1;
            }
        }
        let piece = &bytes[start..end];
        let fragment = match message {
            Message::Text(_) => {
                Message::from(std::str::from_utf8(piece).expect("cut on a boundary"))
            }
            Message::Binary(_) => Message::from(piece),
        };
        conn.send_fragment(fragment, end == bytes.len())
            .expect("open");
        if pings {
            conn.ping(b"p").expect("open");
        }
        if end == bytes.len() {
            return;
        }
        start = end;
    }
}

/// `deflate`: one compressed message (RFC 7692) of arbitrary payload bytes,
/// in fragments, into a server with permessage-deflate negotiated, fed whole
/// and in chunks. Never panics; memory stays within the limits; both
/// feedings give the same events; a message that comes out is what a
/// one-shot inflate of the payload and its `00 00 FF FF` tail gives, within
/// the message limit.
///
/// Layout: `data[0]` flags (bit 0: no context takeover, bit 1: streaming,
/// bit 2: every other read in place, bit 3: text, bit 4: read a third time
/// through `prepare_read`); `data[1]` the chunk size
/// (0 = one byte); `data[2]` the fragment size (0 = one frame); the rest is
/// the compressed payload.
#[cfg(feature = "deflate")]
pub fn deflate(data: &[u8]) {
    let [flags, chunk, fragment, payload @ ..] = data else {
        return;
    };
    let reset = flags & 1 != 0;
    let params = crate::DeflateParams {
        server_no_context_takeover: reset,
        client_no_context_takeover: reset,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let config = Config::builder()
        .max_frame_size(FUZZ_FRAME_LIMIT)
        .max_message_size(FUZZ_MESSAGE_LIMIT)
        .streaming(flags & 2 != 0)
        .build();
    let text = flags & 8 != 0;
    let mut wire = BytesMut::new();
    let pieces: Vec<&[u8]> = match *fragment {
        0 => vec![payload],
        size => payload.chunks(size as usize).collect(),
    };
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = match (i, text) {
            (0, true) => OpCode::Text,
            (0, false) => OpCode::Binary,
            _ => OpCode::Continuation,
        };
        let header = FrameHeader {
            fin: i == last,
            rsv: if i == 0 { 0b100 } else { 0 },
            opcode,
            mask: Some([0; 4]),
            payload_len: piece.len() as u64,
        };
        header.encode(&mut wire);
        wire.extend_from_slice(piece);
    }
    if payload.is_empty() {
        return;
    }
    let conn = || Connection::with_deflate(Role::Server, config, Some(params));
    let whole = run_connection(conn(), &wire, wire.len(), false);
    let chunk = (*chunk as usize).max(1);
    let chunked = run_connection(conn(), &wire, chunk, flags & 4 != 0);
    assert_same_run(config, &whole, &chunked);
    if flags & 16 != 0 {
        let prepared = run_prepared_reads(conn(), &wire, chunk);
        assert_same_run(config, &whole, &prepared);
    }
    if let Some(Event::Message(message)) = joined(&whole.0).first() {
        let mut reference = zlib_rs::Inflate::new(false, 15);
        let mut inflated = vec![0; FUZZ_MESSAGE_LIMIT as usize + 1];
        let input = [payload, &[0, 0, 0xFF, 0xFF][..]].concat();
        let _ = reference.decompress(&input, &mut inflated, zlib_rs::InflateFlush::SyncFlush);
        inflated.truncate(reference.total_out() as usize);
        assert!(inflated.len() as u64 <= FUZZ_MESSAGE_LIMIT);
        assert_eq!(
            message.as_bytes(),
            &inflated[..],
            "differs from a one-shot inflate"
        );
        assert_eq!(message.is_text(), text);
    }
}
