//! Group `codec_deflate`: permessage-deflate (RFC 7692).
//!
//! - `decode`: compressed client streams (masked frames, RSV1, context
//!   taken over between messages) read by a server `Connection` with
//!   deflate negotiated, in 64 KiB reads, which inflates and validates UTF-8
//!   as the bytes arrive; against the floor of the same backend (flate2 on
//!   zlib-rs) inflating each whole message's payload, already unmasked, then
//!   `std::str::from_utf8` on it. Same compressed bytes for both.
//! - `encode`: a server `Connection` sending the messages compressed, against
//!   flate2 compressing each with a sync flush.
//!
//! None of the peer crates in this workspace (tungstenite 0.30,
//! tokio-websockets 0.13, fastwebsockets 0.10) implements
//! permessage-deflate, so none is compared. Throughput counts the
//! uncompressed message bytes. Every closure checks its count and bytes.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use wsframe::{
    apply_mask_bytewise, Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role,
};
use wsframe_benches::mem_socket::READ_SIZE;

/// The sync flush's tail, stripped by the sender and appended by the
/// receiver (§7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0, 0, 0xFF, 0xFF];

const TAKEOVER: DeflateParams = DeflateParams {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// A deterministic stream of JSON-like records: varied keys, numbers,
/// words (some non-ASCII), so that it compresses as real traffic does
/// (about 4-6x), not as repeated text.
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

    /// Text of exactly `len` bytes (padded with spaces).
    fn text(&mut self, len: usize) -> String {
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
        const WORDS: &[&str] = &[
            "order",
            "shipped",
            "pending",
            "refund",
            "update",
            "price",
            "quantity",
            "café",
            "Zürich",
            "naïve",
            "résumé",
            "東京",
            "Москва",
            "👍",
            "ok",
            "error",
            "retry",
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
        // Cut on a character boundary, then pad to the length.
        let mut end = len.min(out.len());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        while out.len() < len {
            out.push(' ');
        }
        out
    }
}

/// The messages of one workload, compressed as a client with context
/// takeover compresses them, and framed.
struct Workload {
    name: &'static str,
    messages: Vec<String>,
    /// Each message's compressed payload, tail stripped.
    compressed: Vec<Vec<u8>>,
    /// The masked client frames carrying `compressed`.
    stream: Vec<u8>,
    bytes: usize,
}

impl Workload {
    fn new(name: &'static str, sizes: impl Iterator<Item = usize>) -> Self {
        let mut records = Records(0x5eed);
        let messages: Vec<String> = sizes.map(|len| records.text(len)).collect();
        let mut compress = Compress::new(Compression::default(), false);
        let compressed: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| compress_one(&mut compress, m.as_bytes()))
            .collect();
        let mut stream = Vec::new();
        for payload in &compressed {
            masked_frame(&mut stream, payload);
        }
        let bytes = messages.iter().map(String::len).sum();
        Self {
            name,
            messages,
            compressed,
            stream,
            bytes,
        }
    }
}

/// `data` raw-deflated with a sync flush, the tail stripped (§7.2.1).
fn compress_one(compress: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let start = compress.total_in();
    loop {
        let done = (compress.total_in() - start) as usize;
        compress
            .compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .expect("raw deflate");
        if (compress.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - TAIL.len());
    out
}

/// A masked text frame with RSV1 (FIN, one frame per message).
fn masked_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    out.push(0x80 | 0x40 | 0x1);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask_bytewise(&mut out[start..], key, 0);
}

fn workloads() -> Vec<Workload> {
    let mut small = Records(7);
    vec![
        Workload::new(
            "10k_x_20-200B_json",
            (0..10_000).map(|_| 20 + small.next() as usize % 181),
        ),
        Workload::new("100_x_16KiB_json", std::iter::repeat_n(16 << 10, 100)),
        Workload::new("10_x_1MiB_json", std::iter::repeat_n(1 << 20, 10)),
    ]
}

/// (messages, bytes) a server with deflate reads from `stream`.
fn decode_wsframe(stream: &[u8], into_read_buf: bool) -> (usize, usize) {
    let mut conn = Connection::with_deflate(Role::Server, Config::default(), Some(TAKEOVER));
    let (mut count, mut bytes) = (0, 0);
    for read in stream.chunks(READ_SIZE) {
        if into_read_buf {
            conn.read_buf().extend_from_slice(read);
        } else {
            conn.receive(read);
        }
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(m) => {
                    assert!(m.is_text());
                    count += 1;
                    bytes += m.as_bytes().len();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    (count, bytes)
}

/// The floor: each whole message's payload (unmasked, unframed) inflated
/// by the same backend with context takeover, then validated in one go.
fn decode_reference(compressed: &[Vec<u8>]) -> (usize, usize) {
    let mut inflate = Decompress::new(false);
    let (mut count, mut bytes) = (0, 0);
    let mut input = Vec::new();
    for payload in compressed {
        input.clear();
        input.extend_from_slice(payload);
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(payload.len() * 4);
        let start_in = inflate.total_in();
        loop {
            let done = (inflate.total_in() - start_in) as usize;
            inflate
                .decompress_vec(&input[done..], &mut out, FlushDecompress::Sync)
                .expect("valid deflate");
            if (inflate.total_in() - start_in) as usize == input.len() && out.len() < out.capacity()
            {
                break;
            }
            out.reserve(out.capacity());
        }
        let text = std::str::from_utf8(&out).expect("valid UTF-8");
        count += 1;
        bytes += text.len();
    }
    (count, bytes)
}

fn decode(c: &mut Criterion) {
    for w in workloads() {
        let mut group = c.benchmark_group(format!("codec_deflate/decode/{}", w.name));
        group.throughput(Throughput::Bytes(w.bytes as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        let want = (w.messages.len(), w.bytes);
        group.bench_function("wsframe", |b| {
            b.iter(|| assert_eq!(decode_wsframe(black_box(&w.stream), false), want))
        });
        group.bench_function("wsframe_read_buf", |b| {
            b.iter(|| assert_eq!(decode_wsframe(black_box(&w.stream), true), want))
        });
        group.bench_function("flate2_inflate_then_from_utf8", |b| {
            b.iter(|| assert_eq!(decode_reference(black_box(&w.compressed)), want))
        });
        group.finish();
    }
}

/// Compressed bytes a server with deflate writes for `messages`.
fn encode_wsframe(messages: &[String]) -> usize {
    let config = DeflateConfig::default().threshold(0);
    let mut conn = Connection::with_deflate(
        Role::Server,
        Config::builder().deflate(Some(config)).build(),
        Some(TAKEOVER),
    );
    let mut written = 0;
    for m in messages {
        conn.send(Message::from(m.as_str())).expect("open");
        written += conn.pending_output().len();
        conn.consume_output(conn.pending_output().len());
    }
    written
}

/// The floor: each message compressed with a sync flush, tail stripped.
fn encode_reference(messages: &[String]) -> usize {
    let mut compress = Compress::new(Compression::new(6), false);
    messages
        .iter()
        .map(|m| compress_one(&mut compress, m.as_bytes()).len())
        .sum()
}

fn encode(c: &mut Criterion) {
    for w in workloads() {
        let mut group = c.benchmark_group(format!("codec_deflate/encode/{}", w.name));
        group.throughput(Throughput::Bytes(w.bytes as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        // Deterministic: the same sizes every iteration.
        let ours = encode_wsframe(&w.messages);
        let floor = encode_reference(&w.messages);
        assert!(ours > floor && ours < w.bytes / 2, "{ours} vs {floor}");
        group.bench_function("wsframe", |b| {
            b.iter(|| assert_eq!(encode_wsframe(black_box(&w.messages)), ours))
        });
        group.bench_function("flate2_deflate", |b| {
            b.iter(|| assert_eq!(encode_reference(black_box(&w.messages)), floor))
        });
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
