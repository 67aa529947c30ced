//! The error a validator reports.

use core::fmt;

/// Where and how a byte stream stopped being valid UTF-8.
///
/// The same information as [`core::str::Utf8Error`], but `valid_up_to` is an
/// absolute offset in the whole stream (a `u64`, since a stream can outgrow
/// `usize` on 32-bit targets), not in the last chunk.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Utf8Error {
    valid_up_to: u64,
    error_len: Option<u8>,
}

impl Utf8Error {
    pub(crate) const fn new(valid_up_to: u64, error_len: Option<u8>) -> Self {
        Self {
            valid_up_to,
            error_len,
        }
    }

    /// Converts core's error for bytes that start at stream offset `base`.
    pub(crate) fn from_core(base: u64, e: core::str::Utf8Error) -> Self {
        Self::new(
            base + e.valid_up_to() as u64,
            e.error_len().map(|n| n as u8),
        )
    }

    /// The number of bytes, from the start of the stream, that are valid UTF-8.
    ///
    /// The invalid sequence starts at this offset.
    pub const fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// The length of the invalid sequence, as in [`core::str::Utf8Error::error_len`]:
    ///
    /// - `Some(n)`: `n` bytes (1 to 3) starting at [`valid_up_to`](Self::valid_up_to)
    ///   can never be part of valid UTF-8, whatever follows;
    /// - `None`: the stream ended (at [`Utf8Validator::finish`](crate::Utf8Validator::finish))
    ///   in the middle of a code point.
    pub fn error_len(&self) -> Option<usize> {
        self.error_len.map(usize::from)
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_len {
            Some(n) => write!(
                f,
                "invalid UTF-8: {n} byte(s) at offset {} cannot start or continue a code point",
                self.valid_up_to
            ),
            None => write!(
                f,
                "invalid UTF-8: the text ends inside a code point that starts at offset {}",
                self.valid_up_to
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Utf8Error {}
