//! A compressed message kept whole whose payload comes in several pieces
//! (fragments, or a frame cut by the reads) is inflated into one room sized
//! before its first piece from the last message's length: a counting
//! allocator checks that the second of two messages of the same length is
//! given one large block and never grown, fed whole, byte by byte and cut
//! at every point, through `receive` and through `read_buf`.
#![cfg(feature = "deflate")]

mod common;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use common::{deflate::*, *};
use flate2::{Compress, Compression};
use wsframe::{Config, Connection, Event, Role};

/// The messages' length; any other block the connection allocates while
/// the second one arrives (the read buffer, the compressed input, the
/// inflater's copy of about 47 KiB kept while fragments of text are
/// inflated in one call) is smaller than [`LARGE`].
const LEN: usize = 64 << 10;
const LARGE: usize = 56 << 10;

/// The system allocator, counting (while [`COUNTING`]) the allocations and
/// the growing reallocations of at least [`LARGE`] bytes.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LARGE_ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LARGE_GROWS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to `System` unchanged; only counts are recorded.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) && layout.size() >= LARGE {
            LARGE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) && new_size >= LARGE && new_size > layout.size() {
            LARGE_GROWS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Text of `len` bytes that compresses about 4x: words from a small list
/// in a seeded order.
fn prose(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "order", "shipped", "pending", "refund", "café", "naïve", "price", "the", "of", "and",
        "größe", "señal", "quantity", "update", "42", "1999",
    ];
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    while std::str::from_utf8(&out).is_err() {
        out.pop();
        out.push(b' ');
    }
    out
}

#[test]
fn a_message_in_pieces_gets_the_last_ones_room_at_once() {
    let (first, second) = (prose(LEN, 1), prose(LEN, 2));
    for fragmented in [false, true] {
        let mut stream = Compress::new(Compression::default(), false);
        let mut wires = Vec::new();
        // The one frame's header, when not fragmented.
        let mut header = 0;
        for data in [&first, &second] {
            let mut payload = sync_flush(&mut stream, data);
            payload.truncate(payload.len() - 4);
            let mut wire = Vec::new();
            push_compressed(&mut wire, TEXT, &payload, fragmented);
            header = wire.len() - payload.len();
            wires.push(wire);
        }
        let input = &wires[1];
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let cuts = [vec![], bytewise]
            .into_iter()
            .chain((0..=input.len()).map(|cut| vec![cut]));
        for cuts in cuts {
            for read_buf in [false, true] {
                let mut conn =
                    Connection::with_deflate(Role::Server, Config::default(), Some(TAKEOVER));
                let (events, _) = feed_cut(&mut conn, &wires[0], &[], false);
                assert!(
                    matches!(&events[..], [Event::Message(m)] if m.as_bytes() == &first[..]),
                    "{events:?}"
                );
                LARGE_ALLOCS.store(0, Ordering::Relaxed);
                LARGE_GROWS.store(0, Ordering::Relaxed);
                COUNTING.store(true, Ordering::Relaxed);
                let (events, _) = feed_cut(&mut conn, input, &cuts, read_buf);
                COUNTING.store(false, Ordering::Relaxed);
                let case = format!(
                    "fragmented {fragmented}, read_buf {read_buf}, cuts {:?}",
                    &cuts[..cuts.len().min(3)]
                );
                assert!(
                    matches!(&events[..], [Event::Message(m)] if m.as_bytes() == &second[..]),
                    "{case}: {events:?}"
                );
                // A frame whole in one read is inflated in one step (its
                // room is its own affair); in pieces, one room at once.
                let in_pieces =
                    fragmented || cuts.iter().any(|&cut| cut > header && cut < input.len());
                if in_pieces {
                    assert_eq!(LARGE_ALLOCS.load(Ordering::Relaxed), 1, "{case}");
                    assert_eq!(LARGE_GROWS.load(Ordering::Relaxed), 0, "{case}");
                }
            }
        }
    }
}
