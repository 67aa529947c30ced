//! Group `codec_deflate`: permessage-deflate (RFC 7692), the same bytes for
//! every implementation, throughput in uncompressed message bytes.
//!
//! Workloads (`<count>_x_<size>_<kind>`): 100k × 20 B text, 10k × 1 KiB
//! JSON-like text, 1k × 16 KiB text, 16 × 1 MiB text in 64 KiB fragments,
//! 1k × 64 KiB binary. The text is generated JSON-like records (20 B and
//! 1 KiB) and prose (16 KiB, 1 MiB), some of it non-ASCII, that compress as
//! real traffic does (2.3x for the 20 B messages with the context taken
//! over, 4.5-5.2x for the rest), not repeated text; the binary is packed
//! little-endian samples (1.8x). The setup prints each workload's ratio.
//!
//! - `decode/<workload>`: a client stream (masked frames, RSV1 on each
//!   message's first frame, context taken over between messages, as
//!   browsers send) compressed once by zlib-rs at level 6 with a 32 KiB
//!   window, read in memory by a server with deflate negotiated:
//!   - `wsframe` (`receive`) and `wsframe_read_buf` (reads appended to
//!     `read_buf()`): inflating and validating UTF-8 as the bytes arrive;
//!   - `zlib-rs_inflate`, the floor: each message's compressed payload,
//!     already unframed and unmasked, inflated by the same backend through
//!     the same API (zlib-rs's `Inflate`), nothing checked;
//!   - `zlib-rs_inflate_owned`: the floor as a codec that hands out owned
//!     messages meets it: each message inflated into a fresh `Vec` of its
//!     exact length (which the floor knows and a receiver cannot), handed
//!     out as `Bytes`; one allocation per message, not a reused cache-hot
//!     buffer;
//!   - `zlib-rs_inflate_then_from_utf8`: the floor plus `std::str::from_utf8`
//!     on each text message;
//!   - `zlib-rs_inflate_then_utf8stream` (text rows): the floor plus our
//!     validator on each whole inflated message, cache-hot in one reused
//!     buffer: the least validating costs, so the ceiling of any decoder
//!     that validates with it (the interleaved table's "floor + check");
//!   - `yawc` (0.5, on flate2's zlib-rs backend, UTF-8 checked with
//!     simdutf8): `WebSocket::from_stream_with_extensions` over an in-memory
//!     socket, reading 64 KiB at a time.
//! - `encode/<workload>`: a server sending each message whole and compressed
//!   (level 6, every message, context taken over): `wsframe` (`send`),
//!   `zlib-rs_deflate` (the floor: each message compressed with a sync flush,
//!   tail stripped, no framing) and `yawc` (`SinkExt::feed` per message,
//!   one flush at the end, into a socket that counts the bytes).
//!
//! wsframe and yawc allow messages and frames up to [`LIMIT`]. Every closure checks
//! the count and length of what it decoded or wrote.
//!
//! `DEFLATE_INTERLEAVED=<rounds>` replaces criterion's groups with the
//! decode rows run interleaved: each round runs every implementation of a
//! row once, in turn, so a burst of another tenant's load hits all of them
//! alike instead of one implementation's whole sample; it prints each
//! one's median and fastest run (MiB/s) and wsframe's ratios of both.
//!
//! `DEFLATE_WORKLOAD=<part of a workload's name>` sets up only the workloads
//! named so, with the same bytes, so that counting one row with callgrind
//! (`--toggle-collect='*decode_wsframe*'`, `'*decode_floor*'`,
//! `'*decode_floor_owned*'`) does not first compress all of them under it.
//!
//! Not compared: `soketto` (0.8, feature `deflate`) inflates each message
//! with a new decompressor, so it cannot read a client stream that takes its
//! context over (its server accepts such an offer all the same); it does not
//! check UTF-8; and its `flate2` feature `zlib` would move every `flate2`
//! in this build, yawc's included, onto C zlib. tungstenite (0.30),
//! tokio-websockets (0.13) and fastwebsockets (0.10) have no
//! permessage-deflate.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput,
};
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Message, Role};
use wsframe_benches::{
    client_stream::{push_masked_frame, read_stream},
    interleaved,
    mem_socket::MemSocket,
};
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush};

/// The sync flush's tail, stripped by the sender and appended by the
/// receiver (§7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0, 0, 0xFF, 0xFF];

/// The largest frame and message every implementation accepts.
const LIMIT: usize = 4 << 20;

/// Compression level of every compressor here (zlib's default).
const LEVEL: i32 = 6;

/// The extension the handshake agreed on: both sides take their context
/// over, 32 KiB windows.
const TAKEOVER: DeflateParams = DeflateParams {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// The `Sec-WebSocket-Extensions` value of [`TAKEOVER`].
const TAKEOVER_HEADER: &str = "permessage-deflate";

/// A deterministic generator of message contents.
struct Records(u64);

impl Records {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.next() as usize % words.len()]
    }

    /// JSON-like records of exactly `len` bytes: varied keys, numbers and
    /// words (some non-ASCII).
    fn json(&mut self, len: usize) -> String {
        const NAMES: &[&str] = &[
            "alice",
            "bob",
            "carol",
            "dmitri",
            "émilie",
            "françois",
            "günther",
            "hiroshi",
            "ingrid",
            "józef",
            "keiko",
            "lópez",
            "møller",
            "núñez",
            "oğuz",
            "pérez",
        ];
        let mut out = String::with_capacity(len + 256);
        while out.len() < len {
            let id = self.next() % 1_000_000;
            let name = self.pick(NAMES);
            let word = self.pick(WORDS);
            let other = self.pick(WORDS);
            let amount = self.next() % 100_000;
            let flag = self.next().is_multiple_of(2);
            out.push_str(&format!(
                "{{\"id\":{id},\"user\":\"{name}\",\"event\":\"{word}\",\"note\":\"{other} {word}\",\
                 \"amount\":{}.{:02},\"active\":{flag},\"tags\":[\"{other}\",\"{name}\"]}},",
                amount / 100,
                amount % 100
            ));
        }
        cut_to(out, len)
    }

    /// Prose of exactly `len` bytes: words of several scripts, numbers,
    /// punctuation.
    fn prose(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len + 64);
        while out.len() < len {
            match self.next() % 16 {
                0 => out.push_str(". "),
                1 => out.push_str(", "),
                2 => out.push_str(&format!("{} ", self.next() % 10_000)),
                _ => {
                    out.push_str(self.pick(WORDS));
                    out.push(' ');
                }
            }
        }
        cut_to(out, len)
    }

    /// Binary of exactly `len` bytes: records of a counter, a slowly
    /// varying sample and a status byte, little-endian.
    fn binary(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 16);
        let (mut tick, mut sample) = (self.next() as u32, 20_000i32);
        while out.len() < len {
            tick = tick.wrapping_add(1 + (self.next() % 3) as u32);
            sample += (self.next() % 201) as i32 - 100;
            out.extend_from_slice(&tick.to_le_bytes());
            out.extend_from_slice(&sample.to_le_bytes());
            out.push((self.next() % 4) as u8);
        }
        out.truncate(len);
        out
    }
}

const WORDS: &[&str] = &[
    "order",
    "shipped",
    "pending",
    "refund",
    "update",
    "price",
    "quantity",
    "the",
    "of",
    "and",
    "a",
    "to",
    "in",
    "is",
    "that",
    "for",
    "café",
    "Zürich",
    "naïve",
    "résumé",
    "東京",
    "Москва",
    "привет",
    "世界",
    "👍",
    "ok",
    "error",
    "retry",
    "message",
    "frame",
    "window",
    "compressed",
    "über",
    "straße",
    "façade",
    "año",
    "ελληνικά",
    "データ",
    "connection",
    "server",
    "client",
];

/// `text` cut to `len` bytes on a code-point boundary, then padded with
/// spaces to exactly `len`.
fn cut_to(mut text: String, len: usize) -> String {
    let mut end = len.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    while text.len() < len {
        text.push(' ');
    }
    text
}

/// `text` cut into pieces of at most `size` bytes on code-point boundaries.
fn pieces(text: &[u8], size: usize) -> Vec<&[u8]> {
    let text = std::str::from_utf8(text).expect("text");
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        out.push(piece.as_bytes());
        rest = tail;
    }
    out
}

/// The messages of one workload and the compressed client stream that
/// carries them.
struct Workload {
    name: &'static str,
    text: bool,
    messages: Vec<Vec<u8>>,
    /// Each message's compressed payload (its fragments' payloads one after
    /// the other), unmasked, tail stripped.
    compressed: Vec<Vec<u8>>,
    /// The masked client frames carrying `compressed`.
    stream: Vec<u8>,
    /// Total length of `messages`.
    bytes: usize,
}

impl Workload {
    /// `messages` as a client compresses them (zlib-rs, level 6, context
    /// taken over), each in frames of at most `fragment` uncompressed bytes.
    fn new(name: &'static str, text: bool, messages: Vec<Vec<u8>>, fragment: usize) -> Self {
        let mut deflate = new_deflate();
        let mut compressed = Vec::with_capacity(messages.len());
        let mut stream = Vec::new();
        let opcode = if text { 0x1 } else { 0x2 };
        for message in &messages {
            let parts = if text {
                pieces(message, fragment)
            } else {
                message.chunks(fragment).collect()
            };
            let mut payload = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let start = payload.len();
                deflate_sync(&mut deflate, part, &mut payload);
                let fin = i + 1 == parts.len();
                if fin {
                    assert!(payload.ends_with(&TAIL));
                    payload.truncate(payload.len() - TAIL.len());
                }
                let first = if i == 0 { 0x40 | opcode } else { 0 };
                push_masked_frame(
                    &mut stream,
                    if fin { 0x80 } else { 0 } | first,
                    (payload.len() - start) as u64,
                    &payload[start..],
                );
            }
            compressed.push(payload);
        }
        let bytes = messages.iter().map(Vec::len).sum();
        let deflated: usize = compressed.iter().map(Vec::len).sum();
        eprintln!(
            "{name}: {bytes} B in {} messages, {deflated} B compressed ({:.2}x)",
            messages.len(),
            bytes as f64 / deflated as f64
        );
        Self {
            name,
            text,
            messages,
            compressed,
            stream,
            bytes,
        }
    }

    fn message(&self, bytes: &[u8]) -> Message {
        if self.text {
            Message::from(std::str::from_utf8(bytes).expect("text"))
        } else {
            Message::from(bytes)
        }
    }
}

fn workloads() -> Vec<Workload> {
    let mut gen = Records(0x5eed);
    let mut text = |count: usize, f: &mut dyn FnMut(&mut Records) -> String| -> Vec<Vec<u8>> {
        (0..count).map(|_| f(&mut gen).into_bytes()).collect()
    };
    // `DEFLATE_WORKLOAD=<part of a name>` compresses only the workloads
    // named so (the same bytes as in a full run): a callgrind run of one
    // row need not compress all of them under valgrind first, nor make the
    // large ones (the rows after the last one wanted are not made).
    let only = std::env::var("DEFLATE_WORKLOAD").unwrap_or_default();
    let names = [
        "100k_x_20B_text",
        "10k_x_1KiB_json",
        "1k_x_16KiB_text",
        "16_x_1MiB_text_64KiB_frags",
        "1k_x_64KiB_binary",
    ];
    let wanted = |name: &str| name.contains(only.as_str());
    // The text rows share one generator: a row is made if it or a later
    // text row is wanted.
    let needs = |row: usize| names[row..4].iter().any(|name| wanted(name));
    let mut row = |at: usize, count: usize, make: &mut dyn FnMut(&mut Records) -> String| {
        if needs(at) {
            text(count, make)
        } else {
            Vec::new()
        }
    };
    let tiny = row(0, 100_000, &mut |g| g.json(20));
    let json = row(1, 10_000, &mut |g| g.json(1 << 10));
    let prose = row(2, 1_000, &mut |g| g.prose(16 << 10));
    let large = row(3, 16, &mut |g| g.prose(1 << 20));
    let mut bin = Records(0xb1);
    let binary = if wanted(names[4]) {
        (0..1_000).map(|_| bin.binary(64 << 10)).collect()
    } else {
        Vec::new()
    };
    [
        (names[0], true, tiny, usize::MAX),
        (names[1], true, json, usize::MAX),
        (names[2], true, prose, usize::MAX),
        (names[3], true, large, 64 << 10),
        (names[4], false, binary, usize::MAX),
    ]
    .into_iter()
    .filter(|(name, ..)| name.contains(only.as_str()))
    .map(|(name, text, messages, fragment)| Workload::new(name, text, messages, fragment))
    .collect()
}

/// A raw-deflate compressor as every sender here has: level 6, 32 KiB
/// window, memory level 8.
fn new_deflate() -> Deflate {
    Deflate::new(LEVEL, false, 15)
}

/// Appends `data` raw-deflated with a sync flush to `out`.
fn deflate_sync(deflate: &mut Deflate, data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() / 2 + 64);
    let mut input = data;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let start = out.len();
        let room = out.capacity() - start;
        out.resize(out.capacity(), 0);
        let (before_in, before_out) = (deflate.total_in(), deflate.total_out());
        deflate
            .compress(input, &mut out[start..], DeflateFlush::SyncFlush)
            .expect("raw deflate");
        let written = (deflate.total_out() - before_out) as usize;
        out.truncate(start + written);
        input = &input[(deflate.total_in() - before_in) as usize..];
        // Room left over: the flush is complete.
        if input.is_empty() && written < room {
            return;
        }
    }
}

fn config() -> Config {
    Config::builder()
        .max_frame_size(LIMIT as u64)
        .max_message_size(LIMIT as u64)
        .deflate(Some(
            DeflateConfig::default().threshold(0).level(LEVEL as u32),
        ))
        .build()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// (messages, bytes) a server with deflate reads from `stream`. Kept out
/// of line so that callgrind's `--toggle-collect='*decode_wsframe*'` counts
/// one row's work.
#[inline(never)]
fn decode_wsframe(stream: &[u8], text: bool, into_read_buf: bool) -> (usize, usize) {
    let mut conn = Connection::with_deflate(Role::Server, config(), Some(TAKEOVER));
    let (mut count, mut bytes) = (0, 0);
    read_stream(&mut conn, stream, into_read_buf, |message| {
        assert_eq!(message.is_text(), text);
        count += 1;
        bytes += message.as_bytes().len();
    });
    (count, bytes)
}

/// Inflates one message's compressed `payload` and the `00 00 FF FF` tail
/// (RFC 7692 §7.2.2) into the front of `out`, which has room; returns the
/// inflated length.
#[inline]
fn inflate_message(inflate: &mut Inflate, payload: &[u8], out: &mut [u8]) -> usize {
    let start = inflate.total_out();
    for input in [payload, &TAIL[..]] {
        let before = inflate.total_in();
        let done = (inflate.total_out() - start) as usize;
        inflate
            .decompress(input, &mut out[done..], InflateFlush::SyncFlush)
            .expect("valid deflate");
        assert_eq!((inflate.total_in() - before) as usize, input.len());
    }
    (inflate.total_out() - start) as usize
}

/// The floor: each message's payload (unmasked, unframed) inflated by the
/// same backend with context takeover into one reused buffer, then checked
/// as `validate` says.
fn decode_floor(compressed: &[Vec<u8>], largest: usize, validate: Validate) -> (usize, usize) {
    let mut inflate = Inflate::new(false, 15);
    let mut out = vec![0u8; largest + 1];
    let (mut count, mut bytes) = (0, 0);
    for payload in compressed {
        let len = inflate_message(&mut inflate, payload, &mut out);
        match validate {
            Validate::No => {}
            Validate::Std => {
                std::str::from_utf8(&out[..len]).expect("valid UTF-8");
            }
            Validate::Ours => utf8stream::check(&out[..len]).expect("valid UTF-8"),
        }
        count += 1;
        bytes += len;
    }
    (count, bytes)
}

/// How [`decode_floor`] checks each inflated message's UTF-8.
#[derive(Clone, Copy)]
enum Validate {
    /// Not at all: the floor.
    No,
    /// `std::str::from_utf8`.
    Std,
    /// `utf8stream::check`, our validator on the whole message at once:
    /// what validating costs at the least with it, the ceiling of any
    /// decoder that checks text with it.
    Ours,
}

/// The floor for a codec that hands out owned messages: as
/// [`decode_floor`], but each message inflated into a fresh `Vec` of its
/// exact length (known here, which no receiver knows) and handed out as
/// `Bytes`: the least one allocation per message, its page faults for large
/// ones, and output that is not cache-hot cost.
fn decode_floor_owned(compressed: &[Vec<u8>], lens: &[usize]) -> (usize, usize) {
    let mut inflate = Inflate::new(false, 15);
    let (mut count, mut bytes) = (0, 0);
    for (payload, &len) in compressed.iter().zip(lens) {
        // One byte more, as `decode_floor`'s buffer, so the tail's call has room.
        let mut out = vec![0u8; len + 1];
        let len = inflate_message(&mut inflate, payload, &mut out);
        out.truncate(len);
        let message = bytes::Bytes::from(black_box(out));
        count += 1;
        bytes += message.len();
    }
    (count, bytes)
}

fn yawc_options() -> yawc::Options {
    yawc::Options::default()
        .with_limits(LIMIT + 1, LIMIT + 1)
        .with_compression_level(yawc::CompressionLevel::new(LEVEL as u32))
        .with_compression_threshold(0)
        .with_utf8()
}

fn decode_yawc(
    rt: &tokio::runtime::Runtime,
    stream: &[u8],
    text: bool,
    messages: usize,
) -> (usize, usize) {
    rt.block_on(async {
        let mut ws = yawc::WebSocket::from_stream_with_extensions(
            MemSocket::new(stream),
            yawc::Role::Server,
            Some(TAKEOVER_HEADER),
            yawc_options(),
        )
        .expect("deflate negotiated");
        let (mut count, mut bytes) = (0, 0);
        while count < messages {
            let frame = ws.next_frame().await.expect("valid stream");
            let kind = if text {
                yawc::OpCode::Text
            } else {
                yawc::OpCode::Binary
            };
            assert!(frame.opcode() == kind && frame.is_fin());
            bytes += frame.payload().len();
            count += 1;
        }
        (count, bytes)
    })
}

fn tuned<'a>(
    c: &'a mut Criterion,
    name: String,
    bytes: usize,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group
}

fn decode(c: &mut Criterion, workloads: &[Workload], rt: &tokio::runtime::Runtime) {
    for w in workloads {
        let mut group = tuned(c, format!("codec_deflate/decode/{}", w.name), w.bytes);
        let want = (w.messages.len(), w.bytes);
        let largest = w.messages.iter().map(Vec::len).max().unwrap_or(0);
        group.bench_function("wsframe", |b| {
            b.iter(|| assert_eq!(decode_wsframe(black_box(&w.stream), w.text, false), want))
        });
        group.bench_function("wsframe_read_buf", |b| {
            b.iter(|| assert_eq!(decode_wsframe(black_box(&w.stream), w.text, true), want))
        });
        group.bench_function("zlib-rs_inflate", |b| {
            b.iter(|| {
                assert_eq!(
                    decode_floor(black_box(&w.compressed), largest, Validate::No),
                    want
                )
            })
        });
        let lens: Vec<usize> = w.messages.iter().map(Vec::len).collect();
        group.bench_function("zlib-rs_inflate_owned", |b| {
            b.iter(|| assert_eq!(decode_floor_owned(black_box(&w.compressed), &lens), want))
        });
        if w.text {
            group.bench_function("zlib-rs_inflate_then_from_utf8", |b| {
                b.iter(|| {
                    assert_eq!(
                        decode_floor(black_box(&w.compressed), largest, Validate::Std),
                        want
                    )
                })
            });
            group.bench_function("zlib-rs_inflate_then_utf8stream", |b| {
                b.iter(|| {
                    assert_eq!(
                        decode_floor(black_box(&w.compressed), largest, Validate::Ours),
                        want
                    )
                })
            });
        }
        group.bench_function("yawc", |b| {
            b.iter(|| {
                assert_eq!(
                    decode_yawc(rt, black_box(&w.stream), w.text, w.messages.len()),
                    want
                )
            })
        });
        group.finish();
    }
}

/// Bytes a server with deflate writes for `w`'s messages.
fn encode_wsframe(w: &Workload) -> usize {
    let mut conn = Connection::with_deflate(Role::Server, config(), Some(TAKEOVER));
    let mut written = 0;
    for m in &w.messages {
        conn.send(w.message(m)).expect("open");
        // A large payload waits in the output as a piece of its own.
        while conn.has_output() {
            let piece = conn.pending_output().len();
            written += piece;
            conn.consume_output(piece);
        }
    }
    written
}

/// The floor: each message compressed with a sync flush into one reused
/// buffer, tail stripped; the compressed bytes.
fn encode_floor(messages: &[Vec<u8>]) -> usize {
    let mut deflate = new_deflate();
    let mut out = Vec::new();
    messages
        .iter()
        .map(|m| {
            out.clear();
            deflate_sync(&mut deflate, m, &mut out);
            assert!(out.ends_with(&TAIL));
            out.len() - TAIL.len()
        })
        .sum()
}

/// A write-only socket that counts what it is given, where yawc (which
/// keeps its socket) can be asked afterwards.
struct CountingSocket(Arc<AtomicUsize>);

impl AsyncRead for CountingSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl AsyncWrite for CountingSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.fetch_add(buf.len(), Ordering::Relaxed);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn encode_yawc(rt: &tokio::runtime::Runtime, w: &Workload) -> usize {
    let written = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut ws = yawc::WebSocket::from_stream_with_extensions(
            CountingSocket(written.clone()),
            yawc::Role::Server,
            Some(TAKEOVER_HEADER),
            yawc_options(),
        )
        .expect("deflate negotiated");
        for m in &w.messages {
            let frame = if w.text {
                yawc::Frame::text(m.clone())
            } else {
                yawc::Frame::binary(m.clone())
            };
            ws.feed(frame).await.expect("sink");
        }
        ws.flush().await.expect("sink");
    });
    written.load(Ordering::Relaxed)
}

fn encode(c: &mut Criterion, workloads: &[Workload], rt: &tokio::runtime::Runtime) {
    for w in workloads {
        let mut group = tuned(c, format!("codec_deflate/encode/{}", w.name), w.bytes);
        // Deterministic: the same sizes every iteration. Framing adds 2 to
        // 10 bytes a message to the compressed payload; the same compressor
        // writes the same bytes.
        let floor = encode_floor(&w.messages);
        let (low, high) = (floor + 2 * w.messages.len(), floor + 11 * w.messages.len());
        let ours = encode_wsframe(w);
        let theirs = encode_yawc(rt, w);
        assert!((low..=high).contains(&ours), "{ours} vs {floor}");
        // yawc flushes its compressor on its own schedule: a few bytes more.
        let near = floor + floor / 100 + 16 * w.messages.len();
        assert!((low..=near).contains(&theirs), "{theirs} vs {floor}");
        group.bench_function("wsframe", |b| {
            b.iter(|| assert_eq!(encode_wsframe(black_box(w)), ours))
        });
        group.bench_function("zlib-rs_deflate", |b| {
            b.iter(|| assert_eq!(encode_floor(black_box(&w.messages)), floor))
        });
        group.bench_function("yawc", |b| {
            b.iter(|| assert_eq!(encode_yawc(rt, black_box(w)), theirs))
        });
        group.finish();
    }
}

/// The decode rows run interleaved, `rounds` times each (see the module
/// docs); prints one table row per workload.
fn decode_interleaved(workloads: &[Workload], rt: &tokio::runtime::Runtime, rounds: usize) {
    println!("| decode (MiB/s, median / fastest of {rounds} interleaved rounds) | wsframe | wsframe read_buf | floor: inflate | floor: inflate, owned | floor + check | yawc | vs floor | vs owned floor | vs floor + check | vs yawc |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for w in workloads {
        let want = (w.messages.len(), w.bytes);
        let largest = w.messages.iter().map(Vec::len).max().unwrap_or(0);
        let lens: Vec<usize> = w.messages.iter().map(Vec::len).collect();
        let (stream, compressed) = (&w.stream[..], &w.compressed[..]);
        let times = interleaved::run(
            &[
                &|| assert_eq!(decode_wsframe(black_box(stream), w.text, false), want),
                &|| assert_eq!(decode_wsframe(black_box(stream), w.text, true), want),
                &|| {
                    assert_eq!(
                        decode_floor(black_box(compressed), largest, Validate::No),
                        want
                    )
                },
                &|| assert_eq!(decode_floor_owned(black_box(compressed), &lens), want),
                // Binary rows have nothing to check: the floor again.
                &|| {
                    let validate = if w.text { Validate::Ours } else { Validate::No };
                    assert_eq!(decode_floor(black_box(compressed), largest, validate), want)
                },
                &|| {
                    let got = decode_yawc(rt, black_box(stream), w.text, w.messages.len());
                    assert_eq!(got, want)
                },
            ],
            rounds,
        );
        let (median, fastest): (Vec<f64>, Vec<f64>) = times
            .iter()
            .map(|t| t.throughput(w.bytes, (1 << 20) as f64))
            .unzip();
        let cell = |i: usize| format!("{:.1} / {:.1}", median[i], fastest[i]);
        let ratio = |i: usize| {
            format!(
                "{:.2}x / {:.2}x",
                median[0] / median[i],
                fastest[0] / fastest[i]
            )
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            w.name,
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4),
            cell(5),
            ratio(2),
            ratio(3),
            ratio(4),
            ratio(5)
        );
    }
}

fn benches(c: &mut Criterion) {
    let workloads = workloads();
    let rt = runtime();
    if let Ok(rounds) = std::env::var("DEFLATE_INTERLEAVED") {
        let rounds = rounds.parse().expect("DEFLATE_INTERLEAVED=<rounds>");
        decode_interleaved(&workloads, &rt, rounds);
        return;
    }
    decode(c, &workloads, &rt);
    encode(c, &workloads, &rt);
}

criterion_group!(deflate, benches);
criterion_main!(deflate);
