//! A global allocator for a test binary: the system allocator, remembering
//! the largest block each thread asks for (tests run side by side on other
//! threads). A test file installs it with
//! `#[global_allocator] static ALLOCATOR: LargestPerThread = LargestPerThread;`
//! and reads it with [`reset`] and [`largest`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, remembering this thread's largest block.
pub struct LargestPerThread;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note_block(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

/// Forgets this thread's blocks so far.
pub fn reset() {
    LARGEST.with(|largest| largest.set(0));
}

/// The largest block this thread asked for since [`reset`], in bytes.
pub fn largest() -> usize {
    LARGEST.with(Cell::get)
}

// SAFETY: every call goes to `System` unchanged; only a size is recorded,
// in a thread-local `Cell` that needs no allocation.
unsafe impl GlobalAlloc for LargestPerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_block(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_block(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
