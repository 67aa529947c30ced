//! Streaming, fail-fast UTF-8 validation, and the WebSocket masking kernels.
//!
//! A WebSocket text message arrives in pieces: frames, and reads inside a frame.
//! RFC 6455 §8.1 asks an endpoint to fail the connection *as soon as* the bytes
//! stop being valid UTF-8, so waiting for the whole message before validating
//! is both late and memory-hungry. [`Utf8Validator`] checks each chunk as it
//! arrives, however the chunks are cut (inside a code point too), and reports
//! the first chunk after which the stream can no longer be valid UTF-8.
//!
//! # Layers
//!
//! - `arch`: the SIMD kernels, one file per instruction set (x86-64 AVX2,
//!   x86-64 AVX-512 F/BW/VBMI, aarch64 NEON) and a portable one. The CPU is
//!   asked once; the kernel chosen is cached in an atomic that every later
//!   call reads. The UTF-8 block check (the lookup-table method of Keiser and
//!   Lemire, a 64-byte block a step) and the loops over it are written once
//!   and instantiated per instruction set.
//! - `scalar`: the byte rule of UTF-8 (RFC 3629 §4) written once, as a
//!   shift-based automaton (one table load and one shift a byte): short
//!   chunks and the carried bytes of a cut code point.
//! - `stream`: [`Utf8Validator`]. By chunk length: under 32 bytes, an ASCII
//!   test, then the `scalar` automaton (which costs less than any SIMD
//!   set-up, or core's decoder, there), with a carried code point completed
//!   first; up to 124, the carried bytes and the chunk
//!   copied into one or two blocks padded with zeros and checked by one or
//!   two steps of the block loop; longer, the block loop over the chunk
//!   where it lies, starting after the carried bytes (they stand for the
//!   bytes before the chunk, so the code point they begin is judged with
//!   the rest), and its last 64 bytes once more as a block (overlapping,
//!   with the bytes before them read from memory) so that no rest is left.
//!   Only the up to three bytes of a code point cut by a chunk boundary are
//!   carried to the next call. With the portable kernel, `simdutf8` (or
//!   the automaton below 64 bytes) does the checking instead. Errors are located
//!   exactly as std locates them, by `simdutf8`'s `compat` flavour or `core`.
//! - `fused`: [`Utf8Validator::feed_unmasking`],
//!   [`feed_unmasking_uninit`](Utf8Validator::feed_unmasking_uninit) and
//!   [`feed_unmasking_in_place`](Utf8Validator::feed_unmasking_in_place)
//!   take a masked payload chunk (RFC 6455 §5.3) and unmask and validate it
//!   in one pass: each block is loaded once, unmasked, stored and checked
//!   while in registers.
//! - [`mask`]: payload masking alone (in place, into uninitialized memory,
//!   the key rotated to an offset), which `wsframe` re-exports.
//! - [`validate`] and [`check`]: one-shot validation of a whole byte string,
//!   by `simdutf8`.
//!
//! # Quick start
//!
//! ```
//! use utf8stream::Utf8Validator;
//!
//! // "€" is E2 82 AC; the chunks cut it in two.
//! let mut v = Utf8Validator::new();
//! v.feed(b"price: \xE2\x82").unwrap();
//! assert_eq!(v.pending(), 2);
//! v.feed(b"\xAC 12").unwrap();
//! v.finish().unwrap();
//!
//! // Fail fast: ED A0 can only start a UTF-16 surrogate, so the error is
//! // reported by the chunk that brings A0, not at the end of the message.
//! let mut v = Utf8Validator::new();
//! let err = v.feed(b"ok \xED\xA0").unwrap_err();
//! assert_eq!(err.valid_up_to(), 3);
//! assert_eq!(err.error_len(), Some(1));
//! ```
//!
//! # Contract
//!
//! For any byte string `S` and any way of cutting it into chunks, feeding every
//! chunk and then calling [`Utf8Validator::finish`] succeeds exactly when
//! `std::str::from_utf8(S)` does, and a failure carries std's `valid_up_to`
//! (as an absolute offset in the stream) and `error_len`.
//!
//! # Features
//!
//! - `std` (default): `impl std::error::Error for Utf8Error`, and the CPU is
//!   asked at run time which kernel it runs (here and in `simdutf8`). Without
//!   it the crate is `#![no_std]` and uses only the SIMD features enabled at
//!   compile time.
#![no_std]
#![deny(missing_docs)]
// unsafe only in the kernels (`arch`), the raw copies of masking and the
// fused entries; every block has a SAFETY comment.
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

mod arch;
mod error;
mod fused;
pub mod mask;
mod scalar;
mod stream;

pub use error::Utf8Error;
pub use fused::check_unmasking_in_place;
pub use stream::Utf8Validator;

/// Inputs shorter than this go to `core::str::from_utf8`: below it the SIMD
/// set-up costs more than it saves (see the `utf8` benchmark group).
pub(crate) const SIMD_THRESHOLD: usize = 64;

/// Validates a whole byte string at once.
///
/// Equivalent to `std::str::from_utf8`, with the SIMD fast path for long
/// inputs.
///
/// # Errors
///
/// Returns a [`Utf8Error`] with std's `valid_up_to` and `error_len` if `bytes`
/// is not valid UTF-8.
///
/// ```
/// assert_eq!(utf8stream::validate("héllo".as_bytes()).unwrap(), "héllo");
/// let err = utf8stream::validate(b"ab\xFFcd").unwrap_err();
/// assert_eq!((err.valid_up_to(), err.error_len()), (2, Some(1)));
/// ```
pub fn validate(bytes: &[u8]) -> Result<&str, Utf8Error> {
    if bytes.len() < SIMD_THRESHOLD {
        return core::str::from_utf8(bytes).map_err(|e| Utf8Error::from_core(0, e));
    }
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        // The fast flavour says only "invalid"; the compat flavour locates the
        // error exactly as std does. Errors are rare, so locating is worth a
        // second pass over the bytes.
        Err(_) => Err(locate_error(0, bytes)),
    }
}

/// Checks a whole byte string at once, like [`validate`] without handing
/// back the `&str`: the cheapest way to know that bytes are UTF-8.
///
/// # Errors
///
/// As [`validate`].
///
/// ```
/// assert!(utf8stream::check(b"plain ascii").is_ok());
/// assert_eq!(utf8stream::check(b"a\xC0").unwrap_err().valid_up_to(), 1);
/// ```
pub fn check(bytes: &[u8]) -> Result<(), Utf8Error> {
    if is_valid_bulk(bytes) {
        Ok(())
    } else {
        Err(locate_error(0, bytes))
    }
}

/// Finds the first error in `bytes`, which are known to be invalid, and
/// expresses it at stream offset `base`.
fn locate_error(base: u64, bytes: &[u8]) -> Utf8Error {
    // Under Miri, core: simdutf8 0.1.5's AVX2 loop offsets its prefetch
    // pointer past the end of short inputs with `add`, which Miri reports
    // (fixed upstream in rusticstuff/simdutf8#120, not yet released).
    if bytes.len() < SIMD_THRESHOLD || cfg!(miri) {
        return core_error(base, bytes);
    }
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => core_error(base, bytes),
        Err(e) => Utf8Error::new(
            base + e.valid_up_to() as u64,
            e.error_len().map(|n| n as u8),
        ),
    }
}

/// core's answer for `bytes`, which should be invalid; also the fallback if
/// simdutf8's two flavours ever disagreed, so that nothing here can panic.
#[cold]
fn core_error(base: u64, bytes: &[u8]) -> Utf8Error {
    match core::str::from_utf8(bytes) {
        Ok(_) => Utf8Error::new(base + bytes.len() as u64, None),
        Err(e) => Utf8Error::from_core(base, e),
    }
}

/// Whether `bytes` are valid UTF-8, checked by the path that is fastest for
/// their length.
fn is_valid_bulk(bytes: &[u8]) -> bool {
    // Under Miri, core, as in `locate_error`.
    if bytes.len() < SIMD_THRESHOLD || cfg!(miri) {
        // Short messages are mostly ASCII, and the word-at-a-time ASCII check
        // costs less than core's per-call set-up.
        bytes.is_ascii() || core::str::from_utf8(bytes).is_ok()
    } else {
        simdutf8::basic::from_utf8(bytes).is_ok()
    }
}

/// How many bytes at the end of `bytes` begin a code point that `bytes`
/// cuts off (0 to 3): what a caller handing out validated text piece by
/// piece keeps back until the next piece completes it.
///
/// It looks only at the last three bytes and assumes what comes before is
/// valid; for bytes whose validity is unknown, use [`Utf8Validator::pending`].
///
/// ```
/// assert_eq!(utf8stream::unfinished_tail_len("a€".as_bytes()), 0);
/// assert_eq!(utf8stream::unfinished_tail_len(b"a\xE2\x82"), 2);
/// ```
pub fn unfinished_tail_len(bytes: &[u8]) -> usize {
    stream::unfinished_tail_len(bytes)
}

#[doc(hidden)]
pub mod fuzzing;

/// For the benches: which kernel runs. Not part of the public API.
#[doc(hidden)]
pub mod __bench {
    pub use crate::arch::Kernel;

    /// Makes `kernel` the one every later call uses (all threads), if this
    /// CPU runs it; says whether it did. Measures AVX2 on an AVX-512 machine.
    pub fn force_kernel(kernel: Kernel) -> bool {
        crate::arch::select(kernel)
    }

    /// The kernel in use: the best this CPU runs unless forced.
    pub fn kernel() -> Kernel {
        crate::arch::selected()
    }
}
