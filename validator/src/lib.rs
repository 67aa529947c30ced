//! Streaming, fail-fast UTF-8 validation on top of [`simdutf8`].
//!
//! A WebSocket text message arrives in pieces: frames, and reads inside a frame.
//! RFC 6455 §8.1 asks an endpoint to fail the connection *as soon as* the bytes
//! stop being valid UTF-8, so waiting for the whole message before validating
//! is both late and memory-hungry. [`Utf8Validator`] checks each chunk as it
//! arrives, however the chunks are cut (inside a code point too), and reports
//! the first chunk after which the stream can no longer be valid UTF-8.
//!
//! The bulk of every chunk is validated by `simdutf8` (AVX2, SSE4.2, NEON or
//! wasm simd128, chosen at run time when the `std` feature is on); only the up
//! to three bytes of a code point cut by a chunk boundary are carried to the
//! next call and completed by hand. Short chunks go to `core::str::from_utf8`,
//! which is faster than SIMD set-up below a few dozen bytes.
//!
//! For WebSocket servers, [`Utf8Validator::feed_unmasking`] and
//! [`Utf8Validator::feed_unmasking_uninit`] take a masked payload chunk
//! (RFC 6455 §5.3), write it unmasked to a destination and validate it in
//! the same pass: on x86-64 with AVX-512 (F, BW, VBMI) or AVX2 each 64-byte
//! block is loaded once, unmasked, stored and checked in registers (the
//! lookup-table method of Keiser and Lemire); elsewhere they unmask, then
//! validate as above.
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
//! - `std` (default): `impl std::error::Error for Utf8Error` and runtime CPU
//!   feature detection in `simdutf8`. Without it the crate is `#![no_std]` and
//!   `simdutf8` uses only the SIMD features enabled at compile time.
#![no_std]
#![deny(missing_docs)]
// unsafe only for the fused unmask-and-validate loop (`masked`) and the
// calls into it, each allowed where it is.
#![deny(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

mod error;
mod masked;
mod validator;

pub use error::Utf8Error;
pub use validator::Utf8Validator;

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
    if bytes.len() < SIMD_THRESHOLD {
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
    if bytes.len() < SIMD_THRESHOLD {
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
    validator::unfinished_tail_len(bytes)
}

#[doc(hidden)]
pub mod fuzzing;
