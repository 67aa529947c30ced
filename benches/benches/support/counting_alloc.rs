//! A global allocator that counts live bytes, their peak and every
//! allocation, forwarding to `System`. One copy, included with `#[path]` by
//! the memory bench (`benches/benches/memory.rs`) and the decompression
//! bomb test (`codec/tests/deflate_bombs.rs`); including it installs it as
//! that binary's global allocator. Only threads that called
//! [`count_this_thread`] are counted (a test harness's own threads free
//! captured output at any time); the counters are shared by those threads:
//! measure one thing at a time.
// Each includer uses part of it.
#![allow(dead_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
};

thread_local! {
    /// Whether this thread's allocations are counted. `const`-initialised
    /// and without a destructor, so reading it never allocates.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Counts the calling thread's allocations and frees from now on.
pub fn count_this_thread() {
    COUNTED.with(|counted| counted.set(true));
}

/// Stops counting the calling thread. A measuring thread calls it before it
/// lets another measure: what it frees afterwards (its locals, the harness's
/// captured output at its exit) would otherwise be taken off the other
/// measurement's live bytes.
pub fn stop_counting_this_thread() {
    COUNTED.with(|counted| counted.set(false));
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

/// Counts, then forwards to `System`.
pub struct Counting;

/// Bytes allocated and not yet freed.
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since the last [`mark`].
pub static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Bytes ever allocated (a `realloc` counts its new size).
pub static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
/// Allocations and reallocations ever made.
pub static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    if !counted() {
        return;
    }
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
    ALLOCATED.fetch_add(size, Relaxed);
    ALLOCATIONS.fetch_add(1, Relaxed);
}

fn shrank(size: usize) {
    if counted() {
        LIVE.fetch_sub(size, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        shrank(layout.size());
        grew(new_size);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A snapshot of the counters.
#[derive(Clone, Copy)]
pub struct Mark {
    /// [`LIVE`] when taken.
    pub live: usize,
    /// [`ALLOCATED`] when taken.
    pub allocated: usize,
    /// [`ALLOCATIONS`] when taken.
    pub allocations: usize,
}

/// Takes a snapshot and restarts [`PEAK`] from the live bytes.
pub fn mark() -> Mark {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
    Mark {
        live: LIVE.load(Relaxed),
        allocated: ALLOCATED.load(Relaxed),
        allocations: ALLOCATIONS.load(Relaxed),
    }
}

impl Mark {
    /// Live bytes now, less those at the mark.
    pub fn live_since(&self) -> usize {
        LIVE.load(Relaxed).saturating_sub(self.live)
    }

    /// The peak since the mark, less the live bytes at the mark.
    pub fn peak_since(&self) -> usize {
        PEAK.load(Relaxed).saturating_sub(self.live)
    }
}
