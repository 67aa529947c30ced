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
//! `mask` compares the unmasking kernels with the byte loop; `handshake`
//! reads the opening handshake's heads (request, response, extension
//! offers) whole and as `HeadScan` paces them.

use bytes::BytesMut;

use crate::handshake::{
    ClientHandshake, ExtensionOffer, HandshakeError, HeadScan, RefusedResponse, UpgradeRequest,
};
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
/// takeover, bits 4-6 the client compressor's window (8 + the value: 8 to
/// 15 bits, 8 compressed as 9), bit 7 its memory level (1, else the default 8). The first
/// record's length, when not 0, is also both ends'
/// [`max_outgoing_frame_size`](crate::ConfigBuilder::max_outgoing_frame_size):
/// what they send is split into frames of at most that many bytes.
pub fn roundtrip(data: &[u8]) {
    let (mut client, mut server) = roundtrip_pair(
        data.first().copied().unwrap_or(0),
        data.get(2).copied().unwrap_or(0),
    );
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
fn roundtrip_pair(kind: u8, frame_bound: u8) -> (Connection, Connection) {
    // Both ends split what they send into frames of at most `frame_bound`
    // bytes (0: the default bound, which these messages never reach).
    let config = match frame_bound {
        0 => Config::default(),
        bound => Config::builder()
            .max_outgoing_frame_size(u64::from(bound))
            .build(),
    };
    let client = Connection::with_mask_source(Role::Client, config, Box::new(|| [7, 7, 7, 7]));
    #[cfg(feature = "deflate")]
    if kind & 4 != 0 {
        let reset = kind & 8 != 0;
        let params = crate::DeflateParams {
            server_no_context_takeover: reset,
            client_no_context_takeover: reset,
            server_max_window_bits: 15,
            client_max_window_bits: 8 + (kind >> 4) % 8,
        };
        let memory_level = if kind & 0x80 != 0 { 1 } else { 8 };
        let deflate = crate::ext::Extensions::deflate(
            params,
            Role::Client,
            &crate::DeflateConfig::default()
                .threshold(0)
                .memory_level(memory_level),
        );
        let client =
            Connection::with_extensions(Role::Client, config, Box::new(|| [7, 7, 7, 7]), deflate);
        return (
            client,
            Connection::with_deflate(Role::Server, config, Some(params)),
        );
    }
    let _ = kind;
    (client, Connection::new(Role::Server, config))
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
/// the message limit: zlib-rs's with a 32 KiB window, or, for a smaller
/// negotiated one, miniz_oxide's into a ring of exactly that window (a
/// distance past it refused, RFC 7692 §7.1.2).
///
/// Layout: `data[0]` flags (bit 0: no context takeover, bit 1: streaming,
/// bit 2: every other read in place, bit 3: text, bit 4: read a third time
/// through `prepare_read`, bits 5-7: `v`, the client's window is `15 - v`
/// bits, 8..=15); `data[1]` the chunk size
/// (0 = one byte); `data[2]` the fragment size (0 = one frame); the rest is
/// the compressed payload.
#[cfg(feature = "deflate")]
pub fn deflate(data: &[u8]) {
    let [flags, chunk, fragment, payload @ ..] = data else {
        return;
    };
    let reset = flags & 1 != 0;
    let bits = 15 - (flags >> 5);
    let params = crate::DeflateParams {
        server_no_context_takeover: reset,
        client_no_context_takeover: reset,
        server_max_window_bits: 15,
        client_max_window_bits: bits,
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
        let input = [payload, &[0, 0, 0xFF, 0xFF][..]].concat();
        let inflated = if bits == 15 {
            let mut reference = zlib_rs::Inflate::new(false, 15);
            let mut inflated = vec![0; FUZZ_MESSAGE_LIMIT as usize + 1];
            let _ = reference.decompress(&input, &mut inflated, zlib_rs::InflateFlush::SyncFlush);
            inflated.truncate(reference.total_out() as usize);
            inflated
        } else {
            windowed_inflate(&input, bits, FUZZ_MESSAGE_LIMIT as usize)
                .expect("a message that a window of its bits refuses came out")
        };
        assert!(inflated.len() as u64 <= FUZZ_MESSAGE_LIMIT);
        assert_eq!(
            message.as_bytes(),
            &inflated[..],
            "differs from a one-shot inflate"
        );
        assert_eq!(message.is_text(), text);
    }
}

/// The reference for a window of `bits` below 15: `input` inflated by
/// miniz_oxide in its wrapping mode into a ring of exactly `2^bits` bytes,
/// which refuses a distance past the ring (`None`); it stops at the end of
/// the input, of the stream, or past `limit` bytes of output.
#[cfg(feature = "deflate")]
fn windowed_inflate(input: &[u8], bits: u8, limit: usize) -> Option<Vec<u8>> {
    use miniz_oxide::inflate::{
        core::{decompress, inflate_flags::TINFL_FLAG_HAS_MORE_INPUT, DecompressorOxide},
        TINFLStatus,
    };
    let mut decoder = Box::<DecompressorOxide>::default();
    let mut ring = vec![0; 1 << bits];
    let (mut taken, mut pos, mut out) = (0, 0, Vec::new());
    loop {
        let (status, used, wrote) = decompress(
            &mut decoder,
            &input[taken..],
            &mut ring,
            pos,
            TINFL_FLAG_HAS_MORE_INPUT,
        );
        out.extend_from_slice(&ring[pos..pos + wrote]);
        taken += used;
        pos = (pos + wrote) & (ring.len() - 1);
        match status {
            TINFLStatus::Failed
            | TINFLStatus::FailedCannotMakeProgress
            | TINFLStatus::BadParam
            | TINFLStatus::Adler32Mismatch => return None,
            _ if used + wrote == 0 || out.len() > limit => return Some(out),
            _ => {}
        }
    }
}

/// `handshake`: the opening handshake, the first thing a peer's bytes reach.
///
/// Layout: `data[0]` picks the mode (bits 0-1: 0 an upgrade request, 1 a
/// response to `fuzz_client`, 2 a `Sec-WebSocket-Extensions` value, 3 a
/// permessage-deflate negotiation between two configurations made from the
/// bytes) and, for modes 0 and 1, bit 7 inserts a header field of
/// `data[2] * 128` bytes after the first line (so that heads reach
/// [`MAX_HANDSHAKE_LEN`](crate::handshake::MAX_HANDSHAKE_LEN)); `data[1]`
/// chooses where `head_scan_agrees` cuts the bytes (bits 0-4 seed the
/// piece sizes, bits 5-7 their span: 1 to 128 bytes); the rest is the input.
///
/// A request or response never panics; a complete one says it used at most
/// the bytes given; an error's status is one of those documented and its
/// [`response`](crate::handshake::HandshakeError::response) is a
/// well-formed HTTP response carrying it. A valid request's 101, with and
/// without a permessage-deflate answer, is accepted by a client with the
/// same key and offers. A response's verdict agrees with
/// [`RefusedResponse::parse`](crate::handshake::RefusedResponse::parse) of
/// the same bytes. Extension offers written back parse as the same offers,
/// in a value and in a whole request; what a server's `DeflateConfig::accept`
/// answers, a client whose offer it was accepts with the same parameters.
pub fn handshake(data: &[u8]) {
    let [mode, cuts, rest @ ..] = data else {
        return;
    };
    let input = if mode & 0x80 != 0 && mode & 2 == 0 {
        with_filler(rest)
    } else {
        rest.to_vec()
    };
    match mode & 3 {
        0 => handshake_request(&input, *cuts),
        1 => handshake_response(&input, *cuts),
        2 => extension_grammar(&input),
        _ => deflate_negotiation(&input),
    }
}

/// `rest[1..]` with a header field of `rest[0] * 128` bytes after its first
/// line (at the front if it has none).
fn with_filler(rest: &[u8]) -> Vec<u8> {
    let [size, head @ ..] = rest else {
        return Vec::new();
    };
    let at = head
        .iter()
        .position(|&b| b == b'\n')
        .map_or(0, |line_end| line_end + 1);
    let mut out = head[..at].to_vec();
    out.extend_from_slice(b"X-Filler: ");
    out.resize(out.len() + usize::from(*size) * 128, b'f');
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&head[at..]);
    out
}

/// The nonce of RFC 6455 §1.2's example: its key is
/// `dGhlIHNhbXBsZSBub25jZQ==`.
const SAMPLE_NONCE: [u8; 16] = *b"the sample nonce";

/// The client whose answers mode 1 reads: RFC 6455 §1.2's key, two
/// subprotocols, the default permessage-deflate offer and one more
/// extension.
fn fuzz_client() -> ClientHandshake {
    let client = ClientHandshake::new(SAMPLE_NONCE)
        .target("server.example.com", "/chat")
        .and_then(|c| c.subprotocol("chat"))
        .and_then(|c| c.subprotocol("superchat"))
        .expect("valid");
    #[cfg(feature = "deflate")]
    let client = client.extension(crate::DeflateConfig::default().offer());
    client.extension(ExtensionOffer::new("x-test").expect("a token"))
}

/// Mode 0: `input` as a client's upgrade request.
fn handshake_request(input: &[u8], cuts: u8) {
    let parse = |buf: &[u8]| match UpgradeRequest::parse(buf) {
        Ok(Status::Partial) => None,
        Ok(Status::Complete(request)) => Some(Ok(request)),
        Err(err) => Some(Err(err)),
    };
    match parse(input) {
        None => {}
        Some(Ok((request, used))) => {
            assert!(used <= input.len(), "used {used} of {}", input.len());
            assert_eq!(request.head(), &input[..used]);
            answers_are_accepted(&request);
        }
        Some(Err(err)) => assert_error_answer(err),
    }
    head_scan_agrees(input, cuts, parse);
}

/// The 101 answers to `request` (the plain one choosing its first
/// subprotocol; one with the permessage-deflate answer, if any) are
/// accepted by a client with the same key and offers, which reads back the
/// subprotocol and extensions chosen and the head's length.
fn answers_are_accepted(request: &UpgradeRequest) {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let nonce: [u8; 16] = STANDARD
        .decode(request.key())
        .ok()
        .and_then(|raw| raw.try_into().ok())
        .expect("a valid request's key is the base64 of 16 bytes");
    let mut client = ClientHandshake::new(nonce);
    assert_eq!(client.key(), request.key(), "the key is written one way");
    for subprotocol in request.subprotocols() {
        client = client.subprotocol(subprotocol).expect("checked tokens");
    }
    for offer in request.extensions() {
        client = client.extension(offer.clone());
    }
    let chosen = request.subprotocols().next();
    let mut accept = request.accept();
    if let Some(subprotocol) = chosen {
        accept = accept.subprotocol(subprotocol).expect("offered");
    }
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut answers = vec![(accept.to_bytes(), Vec::new())];
    #[cfg(feature = "deflate")]
    if let Some((_, answer)) = crate::DeflateConfig::default().accept(request.extensions()) {
        let response = accept
            .extension(answer.clone())
            .expect("an offered extension")
            .to_bytes();
        answers.push((response, vec![answer]));
    }
    for (response, extensions) in answers {
        let Ok(Status::Complete(accepted)) = client.parse_response(&response) else {
            panic!(
                "the client refuses the 101 {:?}: {:?}",
                String::from_utf8_lossy(&response),
                client.parse_response(&response)
            );
        };
        assert_eq!(accepted.head_len, response.len());
        assert_eq!(accepted.subprotocol.as_deref(), chosen);
        assert_eq!(accepted.extensions, extensions);
    }
}

/// Mode 1: `input` as the server's answer to [`fuzz_client`].
fn handshake_response(input: &[u8], cuts: u8) {
    let client = fuzz_client();
    let parse = |buf: &[u8]| match client.parse_response(buf) {
        Ok(Status::Partial) => None,
        Ok(Status::Complete(accepted)) => Some(Ok(accepted)),
        Err(err) => Some(Err(err)),
    };
    let verdict = parse(input);
    let refused = RefusedResponse::parse(input);
    match (&verdict, &refused) {
        (None, Ok(Status::Partial)) => {}
        (Some(Ok(accepted)), Ok(Status::Complete(head))) => {
            assert!(accepted.head_len <= input.len());
            assert_eq!((head.status(), head.head_len()), (101, accepted.head_len));
            if let Some(subprotocol) = &accepted.subprotocol {
                assert!(["chat", "superchat"].contains(&subprotocol.as_str()));
            }
            for extension in &accepted.extensions {
                assert!(client
                    .extensions()
                    .iter()
                    .any(|o| o.name() == extension.name()));
            }
            #[cfg(feature = "deflate")]
            let _ = crate::DeflateConfig::default().check_response(&accepted.extensions);
        }
        (Some(Err(HandshakeError::NotSwitching(code))), Ok(Status::Complete(head))) => {
            assert_eq!(head.status(), *code);
            assert!(head.head_len() <= input.len());
            let _ = (head.framing(), head.to_string());
        }
        // RefusedResponse refuses a status below 100 (documented).
        (Some(Err(HandshakeError::NotSwitching(code))), Err(HandshakeError::Malformed)) => {
            assert!(*code < 100, "{code}");
        }
        (Some(Err(HandshakeError::HttpVersion)), Ok(Status::Complete(head))) => {
            assert_ne!(head.minor_version(), 1);
        }
        // Not HTTP/1.1 and a status below 100: parse_response stops at the
        // version, RefusedResponse at the status (both documented).
        (Some(Err(HandshakeError::HttpVersion)), Err(HandshakeError::Malformed)) => {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut head = httparse::Response::new(&mut slots);
            if let Ok(httparse::Status::Complete(_)) = head.parse(input) {
                assert_ne!(head.version, Some(1));
                assert!(head.code.is_some_and(|code| code < 100), "{:?}", head.code);
            }
        }
        // A 101 breaking §4.1: the same head either way.
        (Some(Err(err)), Ok(Status::Complete(head))) if head.status() == 101 => {
            assert_error_answer(*err);
            assert!(head.head_len() <= input.len());
        }
        // An HTTP error (400, 431) seen alike by both readers.
        (Some(Err(err)), Err(same)) if err == same => assert_error_answer(*err),
        other => panic!("parse_response and RefusedResponse::parse disagree: {other:?}"),
    }
    head_scan_agrees(input, cuts, parse);
}

/// What a server answers `err` with: one of the documented statuses, in a
/// well-formed HTTP/1.1 response (httparse reads it whole) that carries
/// that status, the error's own header fields, and its text as the body
/// `Content-Length` counts.
fn assert_error_answer(err: HandshakeError) {
    let status = err.status();
    assert!(
        [400, 405, 426, 431, 505].contains(&status),
        "{err:?}: {status}"
    );
    let response = err.response();
    let mut slots = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut slots);
    let Ok(httparse::Status::Complete(head_len)) = parsed.parse(&response) else {
        panic!(
            "not a complete response: {:?}",
            String::from_utf8_lossy(&response)
        );
    };
    assert_eq!((parsed.version, parsed.code), (Some(1), Some(status)));
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let body = &response[head_len..];
    assert_eq!(body, err.to_string().as_bytes());
    assert_eq!(
        header("Content-Length"),
        Some(body.len().to_string().as_bytes())
    );
    for (name, value) in err.headers() {
        assert_eq!(header(name), Some(value.as_bytes()), "{err:?}");
    }
}

/// Whether a head's parse said something beyond `Partial` (a request or an
/// answer, or an error) only once the head was complete: anything but the
/// errors of its HTTP syntax and size, and a request line naming another
/// HTTP version (505: `HTTP/2.0` is known from the line), which can come
/// before its end.
fn from_complete_head<T>(verdict: &Result<T, HandshakeError>) -> bool {
    !matches!(
        verdict,
        Err(HandshakeError::Malformed
            | HandshakeError::TooManyHeaders
            | HandshakeError::HeadTooLarge
            | HandshakeError::HttpVersion)
    )
}

/// The longest input whose every prefix [`head_scan_agrees`] parses.
const EVERY_PREFIX_LIMIT: usize = 4096;

/// `input` read in pieces (cut where `cuts` says), parsed with `parse` only
/// when [`HeadScan::worth_parsing`] says so, until the parse stops being
/// `Partial` (`None`), against the parse of the whole and of every prefix.
///
/// The property: let `first` be the shortest prefix whose parse is not
/// `Partial` (every prefix is parsed, for inputs up to
/// [`EVERY_PREFIX_LIMIT`], and each from `first` on must give the whole
/// input's verdict; longer inputs are bisected), and `due` the first cut
/// at or after it. Then
/// the scan stops at `due` if that verdict came from a complete head (a
/// request, an answer, or an error other than 400 for a malformed head or
/// 431 for too many fields), or if it is 431 for a buffer just past the
/// size limit (a response's head behind interim heads may run on: it is
/// refused later, at a doubling); for the other errors, at `due` or later but at the latest at the
/// first cut at or after `2 * first` (the doubling rule), and not at all
/// only if no cut lies there. Wherever it stops, its verdict is the whole
/// input's. If it never stops, the whole input's verdict is `Partial` or an
/// error of the head's syntax. And its parses are few: besides those at
/// cuts that bring an empty line (`\n\n` or `\n\r\n`, judged here on the
/// bytes), at most `log2(cut) + 2` (the doublings and the one past the
/// limit).
fn head_scan_agrees<T: PartialEq + std::fmt::Debug>(
    input: &[u8],
    cuts: u8,
    parse: impl Fn(&[u8]) -> Option<Result<T, HandshakeError>>,
) {
    let whole = parse(input);
    let first = if input.len() <= EVERY_PREFIX_LIMIT {
        let first = (0..=input.len()).find(|&end| parse(&input[..end]).is_some());
        // Once not `Partial`, the verdict stays: more bytes change nothing.
        for end in first.unwrap_or(input.len())..input.len() {
            assert_eq!(parse(&input[..end]), whole, "prefix {end}");
        }
        first
    } else if whole.is_some() {
        // By bisection, relying on the verdict staying (checked above on
        // the shorter inputs): `lo` is `Partial`, `hi` is not.
        let (mut lo, mut hi) = (0, input.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match parse(&input[..mid]) {
                None => lo = mid,
                Some(verdict) => {
                    assert_eq!(Some(verdict), whole, "prefix {mid}");
                    hi = mid;
                }
            }
        }
        Some(hi)
    } else {
        None
    };
    let ends_empty_line = |i: usize| {
        input[i] == b'\n'
            && ((i >= 1 && input[i - 1] == b'\n') || (i >= 2 && &input[i - 2..i] == b"\n\r"))
    };
    let mut scan = HeadScan::new();
    let (mut state, span) = (u32::from(cuts & 31), 1u32 << (cuts >> 5));
    let (mut end, mut cut_points, mut other_parses) = (0, Vec::new(), 0u32);
    let mut stopped = None;
    while end < input.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let previous = end;
        end = (end + 1 + ((state >> 16) % span) as usize).min(input.len());
        cut_points.push(end);
        if !scan.worth_parsing(&input[..end]) {
            continue;
        }
        if !(previous..end).any(ends_empty_line) {
            other_parses += 1;
            assert!(
                other_parses <= end.ilog2() + 2,
                "{other_parses} parses without an empty line by {end}"
            );
        }
        if let Some(verdict) = parse(&input[..end]) {
            stopped = Some((end, verdict));
            break;
        }
    }
    let Some((stop, verdict)) = stopped else {
        assert!(
            whole.as_ref().is_none_or(|v| !from_complete_head(v)),
            "the scan never parsed the complete head: {whole:?}"
        );
        if let Some(first) = first {
            assert!(
                cut_points.iter().all(|&c| c < 2 * first),
                "no parse by {} although the verdict came at {first}: {whole:?}",
                2 * first
            );
        }
        return;
    };
    assert_eq!(Some(&verdict), whole.as_ref(), "stopped at {stop}");
    let Some(first) = first else {
        return;
    };
    let due = *cut_points
        .iter()
        .find(|&&c| c >= first)
        .expect("the scan stopped at or after it");
    let past_limit = matches!(verdict, Err(HandshakeError::HeadTooLarge))
        && first == crate::handshake::MAX_HANDSHAKE_LEN + 1;
    if from_complete_head(&verdict) || past_limit {
        assert_eq!(stop, due, "the verdict came at {first}: {verdict:?}");
    } else {
        assert!(
            stop == due || cut_points.iter().all(|&c| c < 2 * first || c >= stop),
            "stopped at {stop}, not by the first cut from {} (verdict at {first}): {verdict:?}",
            2 * first
        );
    }
}

/// Mode 2: `input` as a `Sec-WebSocket-Extensions` value.
fn extension_grammar(input: &[u8]) {
    let Ok(offers) = ExtensionOffer::parse_list([input]) else {
        return;
    };
    let written: Vec<String> = offers.iter().map(ToString::to_string).collect();
    let value = written.join(", ");
    assert_eq!(
        ExtensionOffer::parse_list([value.as_bytes()]).as_ref(),
        Ok(&offers),
        "{value:?}"
    );
    // The same offers through a client's request and a server's parse.
    let client = offers
        .iter()
        .fold(ClientHandshake::new(SAMPLE_NONCE), |c, offer| {
            c.extension(offer.clone())
        })
        .target("server.example.com", "/")
        .expect("valid");
    let request = client.to_bytes();
    let Ok(Status::Complete((upgrade, used))) = UpgradeRequest::parse(&request) else {
        panic!("{:?}", String::from_utf8_lossy(&request));
    };
    assert_eq!((upgrade.extensions(), used), (&offers[..], request.len()));
    #[cfg(feature = "deflate")]
    for offer in &offers {
        server_and_client_agree(&crate::DeflateConfig::default(), offer);
    }
}

/// Mode 3: a client's and a server's permessage-deflate preferences from
/// the bytes (windows, context takeover): the client's own offer is
/// accepted, and the server's answer gives both the same parameters.
fn deflate_negotiation(input: &[u8]) {
    #[cfg(feature = "deflate")]
    {
        let config = |bytes: &[u8]| {
            let [flags, window, peer_window, ..] = *bytes else {
                return crate::DeflateConfig::default();
            };
            crate::DeflateConfig::default()
                .no_context_takeover(flags & 1 != 0)
                .peer_no_context_takeover(flags & 2 != 0)
                .max_window_bits(window)
                .peer_max_window_bits(peer_window)
        };
        let client = config(input);
        let server = config(input.get(3..).unwrap_or_default());
        let offer = client.offer();
        assert!(
            server.accept(std::slice::from_ref(&offer)).is_some(),
            "{offer} declined"
        );
        server_and_client_agree(&server, &offer);
    }
    let _ = input;
}

/// If `server` accepts `offer` and `offer` is what some client
/// configuration offers, that client accepts the answer with the
/// parameters the server took. Either way the answer, written and parsed
/// again, is the same.
#[cfg(feature = "deflate")]
fn server_and_client_agree(server: &crate::DeflateConfig, offer: &ExtensionOffer) {
    let Some((params, answer)) = server.accept(std::slice::from_ref(offer)) else {
        return;
    };
    let written = answer.to_string();
    assert_eq!(
        ExtensionOffer::parse_list([written.as_bytes()]),
        Ok(vec![answer.clone()])
    );
    let Some(client) = client_offering(offer) else {
        return;
    };
    assert_eq!(
        client.check_response(std::slice::from_ref(&answer)),
        Ok(Some(params)),
        "offer {offer}, answer {answer}"
    );
}

/// The client configuration whose [`offer`](crate::DeflateConfig::offer)
/// is `offer` (its parameters in any order), if there is one.
#[cfg(feature = "deflate")]
fn client_offering(offer: &ExtensionOffer) -> Option<crate::DeflateConfig> {
    let mut config = crate::DeflateConfig::default();
    for param in offer.params() {
        let bits = match param.value() {
            Some(value) => Some(value.parse::<u8>().ok()?),
            None => None,
        };
        config = match (param.name(), bits) {
            ("client_no_context_takeover", None) => config.no_context_takeover(true),
            ("server_no_context_takeover", None) => config.peer_no_context_takeover(true),
            ("server_max_window_bits", Some(bits)) => config.peer_max_window_bits(bits),
            ("client_max_window_bits", bits) => config.max_window_bits(bits.unwrap_or(15)),
            _ => return None,
        };
    }
    let made = config.offer();
    let same = made.name() == offer.name()
        && made.params().len() == offer.params().len()
        && made.params().iter().all(|p| offer.params().contains(p));
    same.then_some(config)
}
