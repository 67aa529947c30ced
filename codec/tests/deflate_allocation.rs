//! The inflater never reserves more than the message budget (limit + 1
//! bytes, the one past showing the message is over): a counting allocator
//! records the largest block asked for while compressed messages of
//! limit - 1, limit and limit + 1 inflated bytes arrive whole and in small
//! reads, after messages whose ratio would predict far more or far less.
#![cfg(feature = "deflate")]

mod common;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
};

use common::{deflate::*, *};
use flate2::{Compress, Compression};
use wsframe::{Config, Connection, Event, ProtocolError, Role};

/// The system allocator, remembering the largest block requested.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to `System` unchanged; only a size is recorded.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// `messages` compressed by one flate2 stream (context takeover), each
/// masked in three frames when `fragmented`.
fn wire(messages: &[Vec<u8>], fragmented: bool) -> Vec<u8> {
    let mut stream = Compress::new(Compression::default(), false);
    let mut input = Vec::new();
    for data in messages {
        push_compressed(
            &mut input,
            BINARY,
            &sync_message(&mut stream, data),
            fragmented,
        );
    }
    input
}

#[test]
fn inflating_never_reserves_past_the_budget() {
    // Larger than anything else the connection allocates.
    let limit: usize = 3 << 20;
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for size in [limit - 1, limit, limit + 1] {
        for fragmented in [false, true] {
            for read in [usize::MAX, 1000, 7] {
                // A 1:1 message, then one that inflates 1000 times, then
                // the one under test.
                let messages = [noise.clone(), vec![0; 1 << 20], vec![b'x'; size]];
                let input = wire(&messages, fragmented);
                let config = Config::builder().max_message_size(limit as u64).build();
                let mut conn = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
                let mut events = Vec::new();
                LARGEST.store(0, Ordering::Relaxed);
                for piece in input.chunks(read.min(input.len())) {
                    conn.receive(piece);
                    while let Some(event) = conn.next_event() {
                        events.push(event);
                    }
                }
                let largest = LARGEST.load(Ordering::Relaxed);
                let case = format!("size {size}, fragmented {fragmented}, reads of {read}");
                assert!(largest <= limit + 1, "{case}: a block of {largest} bytes");
                assert_eq!(events.len(), 3, "{case}");
                for (event, data) in events[..2].iter().zip(&messages) {
                    let Event::Message(message) = event else {
                        panic!("{case}: {event:?}")
                    };
                    assert_eq!(message.as_bytes(), &data[..], "{case}");
                }
                match (&events[2], size > limit) {
                    (Event::Message(message), false) => {
                        assert_eq!(message.as_bytes(), &messages[2][..], "{case}")
                    }
                    (Event::Closed(closed), true) => assert_eq!(
                        closed.error,
                        Some(ProtocolError::MessageTooBig {
                            declared: limit as u64 + 1,
                            limit: limit as u64
                        }),
                        "{case}"
                    ),
                    (other, _) => panic!("{case}: {other:?}"),
                }
            }
        }
    }
}
