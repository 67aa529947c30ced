//! Decompression bombs (RFC 7692 §8.1: an implementation should limit what
//! it inflates): one frame that would inflate to 1 GiB, and many small
//! fragments that would inflate to 512 MiB, each closed with 1009 with the
//! peak heap at most the message limit + 64 KiB, counted by the memory bench's
//! counting allocator, and stopped after reading about
//! as much input as the limit's worth: the work is bounded by the limit.
#![cfg(feature = "deflate")]

mod common;

#[path = "../../benches/benches/support/counting_alloc.rs"]
mod counting_alloc;

use std::sync::atomic::Ordering::Relaxed;

use common::*;
use counting_alloc::{count_this_thread, stop_counting_this_thread, LIVE, PEAK};
use flate2::{Compress, Compression, FlushCompress};
use wsframe::{
    Config, Connection, DeflateConfig, DeflateParams, Event, Message, ProtocolError, Role,
};

const MIB: usize = 1 << 20;
const LIMIT: u64 = 16 << 20;
const RSV1: u8 = 0x40;
/// Reads of 2 KiB, as the bound (limit + 64 KiB) assumes.
const READ: usize = 2048;
/// The inflater's state: 47.5 KiB with zlib-rs, its 32 KiB window included.
const INFLATER: u64 = 48 * 1024;

/// 1 MiB of zeros compressed and sync-flushed: a whole number of blocks
/// that refer back only to their own first byte, so any number of copies in
/// a row is a valid stream of that many MiB of zeros.
fn one_mib_of_zeros() -> Vec<u8> {
    let mut compress = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(16 * 1024);
    compress
        .compress_vec(&vec![0; MIB], &mut out, FlushCompress::Sync)
        .unwrap();
    assert_eq!(compress.total_in(), MIB as u64);
    assert!(out.ends_with(&[0, 0, 0xFF, 0xFF]));
    out
}

/// Feeds `input` in [`READ`]-byte reads to a server with `LIMIT`; returns the
/// error it closed with, the bytes read until then and the peak heap above
/// what was live before the connection was made.
fn feed(input: &[u8], bits: u8) -> (Option<ProtocolError>, usize, usize) {
    feed_in(input, READ, false, bits)
}

/// [`feed`] in `read_size`-byte reads, copied ([`Connection::receive`]) or
/// appended to [`Connection::read_buf`] (`in_place`); the client's window
/// negotiated to `bits` (below 15, the inflater is a ring of that window).
fn feed_in(
    input: &[u8],
    read_size: usize,
    in_place: bool,
    bits: u8,
) -> (Option<ProtocolError>, usize, usize) {
    let params = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: bits,
    };
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let mut server = Connection::with_deflate(
        Role::Server,
        Config::builder().max_message_size(LIMIT).build(),
        Some(params),
    );
    let mut read = 0;
    let mut error = None;
    'reads: for piece in input.chunks(read_size) {
        if in_place {
            server.read_buf().extend_from_slice(piece);
        } else {
            server.receive(piece);
        }
        read += piece.len();
        while let Some(event) = server.next_event() {
            if let Event::Closed(closed) = event {
                error = closed.error;
                break 'reads;
            }
        }
    }
    let peak = PEAK.load(Relaxed) - before;
    drop(server);
    (error, read, peak)
}

/// The counters are global: one test measures at a time.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// This thread's turn to measure: counts its allocations while held, and
/// stops counting before it lets the next test measure, so that what this
/// thread frees later (its locals, the harness's output at its exit) is
/// not taken off the next test's live bytes.
struct Measuring(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl Measuring {
    fn start() -> Self {
        let turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
        count_this_thread();
        Measuring(turn)
    }
}

impl Drop for Measuring {
    fn drop(&mut self) {
        // Runs before the guard field is dropped, that is, before the lock
        // is released.
        stop_counting_this_thread();
    }
}

#[test]
fn bombs_close_with_1009_within_the_limit_in_memory_and_work() {
    let _turn = Measuring::start();
    let block = one_mib_of_zeros();
    let too_big = Some(ProtocolError::MessageTooBig {
        declared: LIMIT + 1,
        limit: LIMIT,
    });
    // The limit's worth of input, and a read more.
    let enough = (LIMIT as usize / MIB + 1) * block.len() + READ + 64;

    // One frame inflating to 1 GiB; the zeros refer back one byte, so
    // they are valid under any window: zlib-rs's 32 KiB, and the ring of
    // a 9-bit and a 12-bit one.
    let frame = client(FIN | RSV1 | BINARY, &block.repeat(1024));
    for bits in [15, 9, 12] {
        let (error, read, peak) = feed(&frame, bits);
        assert_eq!(error, too_big, "{bits}");
        assert!(
            read <= enough,
            "{bits}: read {read} of {} bytes",
            frame.len()
        );
        assert!(peak as u64 <= LIMIT + 64 * 1024, "{bits}: peak heap {peak}");
    }

    // 512 fragments of 1 MiB each.
    let fragments: Vec<Vec<u8>> = (0..512)
        .map(|i| {
            let first = match i {
                0 => RSV1 | BINARY,
                511 => FIN | CONT,
                _ => CONT,
            };
            client(first, &block)
        })
        .collect();
    let input = stream(&fragments);
    for bits in [15, 9, 12] {
        let (error, read, peak) = feed(&input, bits);
        assert_eq!(error, too_big, "{bits}");
        assert!(
            read <= enough + 512 * 14,
            "{bits}: read {read} of {}",
            input.len()
        );
        assert!(peak as u64 <= LIMIT + 64 * 1024, "{bits}: peak heap {peak}");
        println!(
            "{bits}-bit window: peak heap over the limit: {} bytes",
            peak as u64 - LIMIT
        );
    }
}

/// What the heap holds past the limit, whatever the read size: the
/// inflater's state, and the read buffer, which is the caller's read size
/// and not the limit's. The copying path (`receive`) unmasks a compressed
/// payload into the read buffer before inflating it, and that buffer's
/// `BytesMut` grows to 4 reads' worth before it is reused (measured: 8 KiB
/// at 2 KiB reads, 64 KiB at 16 KiB reads); reading in place, the buffer
/// holds what the caller appended. The inflated output itself never passes
/// the limit + 1 byte.
#[test]
fn past_the_limit_the_heap_holds_only_the_inflater_and_the_read_buffer() {
    let _turn = Measuring::start();
    let frame = client(FIN | RSV1 | BINARY, &one_mib_of_zeros().repeat(64));
    for (read_size, bits) in [512, 2048, 16 * 1024, 64 * 1024]
        .into_iter()
        .flat_map(|size| [(size, 15), (size, 9)])
    {
        for in_place in [false, true] {
            let (error, _, peak) = feed_in(&frame, read_size, in_place, bits);
            assert!(matches!(error, Some(ProtocolError::MessageTooBig { .. })));
            let over = peak as u64 - LIMIT;
            println!(
                "{} KiB reads{}, {bits}-bit window: peak heap over the limit {over} B",
                read_size as f64 / 1024.0,
                if in_place { " in place" } else { "" }
            );
            assert!(
                over <= 1 + INFLATER + 4 * read_size as u64,
                "{read_size} {in_place}: {over}"
            );
        }
    }
}

/// Heap of one server connection: idle, and after one compressed message
/// with and without context takeover.
#[test]
fn deflate_state_is_allocated_when_needed_and_released_without_takeover() {
    let _turn = Measuring::start();
    let hello = client(
        FIN | RSV1 | TEXT,
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    let live = || LIVE.load(Relaxed);
    let base = live();
    let plain = Connection::new(Role::Server, Config::default());
    let idle_plain = live() - base;
    drop(plain);
    for (takeover, params) in [
        (
            true,
            DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            },
        ),
        (
            false,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            },
        ),
    ] {
        let base = live();
        let mut server = Connection::with_deflate(Role::Server, Config::default(), Some(params));
        let idle = live() - base;
        server.receive(&hello);
        assert!(matches!(server.next_event(), Some(Event::Message(_))));
        let after = live() - base;
        println!(
            "heap of a server connection: plain idle {idle_plain} B, deflate idle {idle} B, \
             after one compressed message (context takeover {takeover}) {after} B"
        );
        // The halves are held in place, with no zlib state until a
        // compressed message: nothing on the heap.
        assert_eq!(idle, idle_plain, "idle with deflate negotiated");
        if takeover {
            assert!(
                after - idle > 32 * 1024,
                "the inflater and its window are kept"
            );
        } else {
            assert!(after - idle < 8 * 1024, "the inflater is released: {after}");
        }
    }
}

/// The inflater's heap after one compressed message, by the peer's window
/// (RFC 7692 §7.1.2): zlib-rs's 32 KiB window and state at 15 bits; below
/// it, a ring of exactly `2^bits` bytes and miniz_oxide's decoder (its
/// Huffman tables, about 11 KiB). Measured as what a server holds with
/// context takeover less what it holds without (its inflater released).
#[test]
fn the_inflater_heap_follows_the_peer_window() {
    let _turn = Measuring::start();
    let hello = client(
        FIN | RSV1 | TEXT,
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    let live = || LIVE.load(Relaxed);
    let held = |bits: u8, takeover: bool| {
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: !takeover,
            server_max_window_bits: 15,
            client_max_window_bits: bits,
        };
        let base = live();
        let mut server = Connection::with_deflate(Role::Server, Config::default(), Some(params));
        server.receive(&hello);
        assert!(matches!(server.next_event(), Some(Event::Message(_))));
        let after = live() - base;
        drop(server);
        after
    };
    let mut heaps = Vec::new();
    for bits in [8, 9, 12, 14, 15] {
        let inflater = held(bits, true) - held(bits, false);
        println!("inflater heap, {bits}-bit peer window: {inflater} B");
        heaps.push((bits, inflater));
    }
    for &(bits, inflater) in &heaps {
        let window = 1usize << bits;
        if bits == 15 {
            assert!(inflater > 40 * 1024, "zlib-rs: {inflater}");
        } else {
            // The ring and the decoder's tables, little else.
            assert!(inflater >= window, "{bits}: {inflater}");
            assert!(inflater <= window + 16 * 1024, "{bits}: {inflater}");
        }
    }
}

/// The compressor's heap, as `DeflateConfig::memory_level` documents it:
/// about `4 * 2^bits + 7 * 2^(level + 6)` bytes + zlib-rs's fixed 128 KiB
/// hash table + 3 KiB of state, held after a message with context takeover.
/// At 8 bits the backend is set to 9 (zlib refuses a raw 8-bit window), so
/// 8 costs what 9 does.
#[test]
fn the_compressor_heap_follows_the_window_and_memory_level() {
    let _turn = Measuring::start();
    let text = "{\"id\":1,\"name\":\"compressible\"}".repeat(100);
    for (bits, level) in [(15u8, 8u8), (9, 1), (9, 8), (12, 4), (8, 1)] {
        let deflate = DeflateConfig::default()
            .max_window_bits(bits)
            .memory_level(level);
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: bits,
            client_max_window_bits: 15,
        };
        let config = Config::builder().deflate(Some(deflate)).build();
        let before = LIVE.load(Relaxed);
        let mut server = Connection::with_deflate(Role::Server, config, Some(params));
        server.send(Message::from(text.as_str())).unwrap();
        drop(server.take_output());
        let held = LIVE.load(Relaxed) - before;
        let formula = (4usize << bits.max(9)) + (7usize << (level + 6)) + (128 << 10);
        println!("compressor with {bits}-bit window, memory level {level}: {held} B");
        // Besides the compressor: the output buffer keeps the room the
        // message was compressed into (straight into the output, half the
        // message's length and 64 bytes first).
        let output_room = text.len() / 2 + 64;
        assert!(
            held >= formula && held <= formula + 4096 + output_room,
            "{bits} {level}: {held} vs {formula}"
        );
    }
}

/// The heap a connection keeps after sending one large message that
/// compresses well (4 MiB of JSON-like text, about 20 KB on the wire),
/// without context takeover (the compressor released), once the output
/// is written (`consume_output`, as a non-blocking server does, or
/// `take_output`): the output buffer, kept for the connection's life,
/// holds what the compressed frames needed, not the room for half the
/// message they were compressed into. Session 24 compressed straight into
/// the output with room for half the payload first and kept it: every
/// server connection that had once sent a large compressible message held
/// half its size (32 MiB after a 64 MiB message) for good, where a plain
/// server send holds nothing (its large payload goes by reference).
#[test]
fn after_a_large_compressed_send_the_output_keeps_about_its_compressed_size() {
    let _turn = Measuring::start();
    let text = "{\"id\":1,\"name\":\"compressible\"} ".repeat(130_000);
    let params = common::deflate::NO_TAKEOVER;
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default()))
        .build();
    for role in [Role::Server, Role::Client] {
        for take in [false, true] {
            let base = LIVE.load(Relaxed);
            let mut conn = Connection::with_deflate(role, config, Some(params));
            conn.send(Message::from(text.as_str())).unwrap();
            let wire = conn.output_len();
            if take {
                drop(conn.take_output());
            } else {
                while conn.has_output() {
                    let n = conn.pending_output().len();
                    conn.consume_output(n);
                }
            }
            let held = LIVE.load(Relaxed) - base;
            println!(
                "{role:?}, take_output {take}: {} B sent as {wire} B, {held} B held after",
                text.len()
            );
            assert!(wire < 32 * 1024, "it compresses: {wire}");
            assert!(
                held <= 2 * wire + 64 * 1024,
                "{role:?}, take_output {take}: {held} B held after sending {wire} B"
            );
        }
    }
}

/// Compressed sends queued without writing any out (a slow reader, a
/// burst): the output grows as a buffer does, moving O(log n) times, not
/// once per message. Freeing a compressed message's unused room (the test
/// above) must not copy the whole queue at every send once it is large:
/// that would copy O(n²) bytes.
#[test]
fn queued_compressed_sends_move_the_output_a_logarithmic_number_of_times() {
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default()))
        .max_output_buffer(usize::MAX)
        .build();
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::with_deflate(role, config, Some(common::deflate::TAKEOVER));
        let mut moves = 0;
        let mut at = conn.pending_output().as_ptr();
        let mut sent = 0;
        for i in 0..600u32 {
            // 40 KiB of noise-free but varied text, 5-10 KiB compressed: the
            // queue reaches megabytes.
            let text: String = (0..4096)
                .map(|j| format!("{:09}\n", i * 7919 + j * 31))
                .collect();
            conn.send(Message::from(text.as_str())).unwrap();
            sent += text.len();
            if conn.pending_output().as_ptr() != at {
                moves += 1;
                at = conn.pending_output().as_ptr();
            }
        }
        let queued = conn.output_len();
        println!("{role:?}: {sent} B sent, {queued} B queued, the output moved {moves} times");
        assert!(queued > 2 << 20, "the queue is large: {queued}");
        assert!(
            moves <= 40,
            "{role:?}: the output moved {moves} times for 600 sends"
        );
    }
}
