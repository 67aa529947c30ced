//! One owned copy of an HTTP head and where its header fields lie in it: the
//! headers are exposed as slices of that copy, never copied again.

use std::ops::Range;

use super::{HandshakeError, Status, MAX_HANDSHAKE_LEN, MAX_HEADERS};

/// The bytes of a head and the ranges of its header names and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    bytes: Box<[u8]>,
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl Head {
    /// Copies the parsed head `buf[..len]` and records where each of
    /// `headers` (slices of `buf`, as httparse returns them) lies.
    pub(crate) fn new(buf: &[u8], len: usize, headers: &[httparse::Header<'_>]) -> Self {
        let range_of = |part: &[u8]| range_in(buf, part);
        Self {
            bytes: buf[..len].into(),
            fields: headers
                .iter()
                .map(|h| (range_of(h.name.as_bytes()), range_of(h.value)))
                .collect(),
        }
    }

    /// A slice of the head; `range` came from [`Head::range_of`] or `new`.
    pub(crate) fn get(&self, range: &Range<usize>) -> &[u8] {
        &self.bytes[range.clone()]
    }

    /// The head as received.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Every header field in order: `(name, value)`, duplicates included.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(name, value)| {
            // httparse only returns names made of `tchar`s, which are ASCII.
            let name = std::str::from_utf8(self.get(name)).unwrap_or_default();
            (name, self.get(value))
        })
    }

    /// The ranges of the values of every field called `name` (ASCII
    /// case-insensitive), in order.
    pub(crate) fn value_ranges<'h, 'n>(
        &'h self,
        name: &'n str,
    ) -> impl Iterator<Item = Range<usize>> + use<'h, 'n> {
        self.fields
            .iter()
            .filter(move |(n, _)| self.get(n).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value.clone())
    }

    /// The values of every field called `name`, in order.
    pub(crate) fn values<'h, 'n>(
        &'h self,
        name: &'n str,
    ) -> impl Iterator<Item = &'h [u8]> + use<'h, 'n> {
        self.value_ranges(name).map(|r| self.get(&r))
    }

    /// The only value of `name`: `Ok(None)` when absent, `Err(())` when the
    /// field appears more than once (RFC 6455 §11.3: these fields MUST NOT).
    pub(crate) fn single(&self, name: &str) -> Result<Option<Range<usize>>, ()> {
        let mut ranges = self.value_ranges(name);
        let first = ranges.next();
        match ranges.next() {
            Some(_) => Err(()),
            None => Ok(first),
        }
    }
}

/// Where `part`, a slice of `buf`, lies in it.
pub(crate) fn range_in(buf: &[u8], part: &[u8]) -> Range<usize> {
    if part.is_empty() {
        return 0..0;
    }
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// httparse's answer as ours: "partial" while the head may still fit in
/// [`MAX_HANDSHAKE_LEN`]; 431 for a head longer than that or with more than
/// [`MAX_HEADERS`] fields (RFC 6585 §5); 400 for anything else httparse
/// refuses.
pub(crate) fn parse_status(
    buf: &[u8],
    parsed: httparse::Result<usize>,
) -> Result<Status<usize>, HandshakeError> {
    match parsed {
        Ok(httparse::Status::Complete(used)) if used <= MAX_HANDSHAKE_LEN => {
            Ok(Status::Complete(used))
        }
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HANDSHAKE_LEN => Ok(Status::Partial),
        Ok(_) => Err(HandshakeError::HeadTooLarge),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders),
        Err(_) => Err(HandshakeError::Malformed),
    }
}

/// The part of `buf` a head is read from: at most its first
/// [`MAX_HANDSHAKE_LEN`] + 1 bytes. A head not complete within them is
/// refused with 431 whatever follows (a syntax error after the limit
/// included), so that the verdict does not depend on how the reads cut
/// the bytes: a reader that parses at every read meets the 431 first.
pub(crate) fn within_limit(buf: &[u8]) -> &[u8] {
    &buf[..buf.len().min(MAX_HANDSHAKE_LEN + 1)]
}

/// How many bytes the interim responses at the front of `buf` take: whole
/// heads of a 1xx status other than 101 (100 Continue, 103 Early Hints),
/// which a client skips to the final response (RFC 9110 §15.2: it "MUST be
/// able to parse one or more 1xx responses received prior to a final
/// response"). At most [`MAX_HANDSHAKE_LEN`] of them.
pub(crate) fn interim_len(buf: &[u8]) -> usize {
    let mut skipped = 0;
    loop {
        let mut slots = header_slots();
        let mut res = httparse::Response::new(&mut slots);
        match res.parse(&buf[skipped..]) {
            Ok(httparse::Status::Complete(used))
                if matches!(res.code, Some(100 | 102..=199))
                    && skipped + used <= MAX_HANDSHAKE_LEN =>
            {
                skipped += used;
            }
            _ => return skipped,
        }
    }
}

/// A response's final head, after any interim responses (see
/// [`final_response`]).
pub(crate) struct FinalResponse {
    /// The status code.
    pub(crate) code: u16,
    /// The minor HTTP version (1 for HTTP/1.1).
    pub(crate) minor_version: u8,
    /// The reason phrase, empty if none or not UTF-8.
    pub(crate) reason: String,
    /// The head.
    pub(crate) head: Head,
    /// The bytes of the interim responses skipped before it.
    pub(crate) interim: usize,
}

/// The final response head at the front of `buf`, interim responses
/// skipped ([`interim_len`]); [`Status::Partial`] while it is incomplete.
/// The head is as httparse reads it: what it must be is the caller's.
///
/// # Errors
///
/// As [`parse_status`]; [`HandshakeError::HeadTooLarge`] also when the
/// interim responses fill [`MAX_HANDSHAKE_LEN`] and another follows.
pub(crate) fn final_response(buf: &[u8]) -> Result<Status<FinalResponse>, HandshakeError> {
    let interim = interim_len(buf);
    let whole = buf.len();
    // Only the bytes within the limit are read: the verdict is the same
    // however the head arrived (a syntax error past the limit is a 431).
    let buf = &within_limit(buf)[interim..];
    let mut slots = header_slots();
    let mut res = httparse::Response::new(&mut slots);
    let parsed = res.parse(buf);
    // The interim heads count in the head's length: the final head has
    // what they left of the limit, not a limit of its own.
    let Status::Complete(used) = parse_status(buf, parsed)? else {
        if whole > MAX_HANDSHAKE_LEN {
            return Err(HandshakeError::HeadTooLarge);
        }
        return Ok(Status::Partial);
    };
    if interim + used > MAX_HANDSHAKE_LEN {
        return Err(HandshakeError::HeadTooLarge);
    }
    // An interim head here is one past the interim budget: the final
    // answer has not come within the limit, and a 1xx is none.
    if matches!(res.code, Some(100 | 102..=199)) {
        return Err(HandshakeError::HeadTooLarge);
    }
    Ok(Status::Complete(FinalResponse {
        code: res.code.unwrap_or(0),
        minor_version: res.version.unwrap_or(1),
        reason: res.reason.unwrap_or_default().to_owned(),
        head: Head::new(buf, used, res.headers),
        interim,
    }))
}

/// An empty header array for httparse, [`MAX_HEADERS`] long.
pub(crate) fn header_slots() -> [httparse::Header<'static>; MAX_HEADERS] {
    [httparse::EMPTY_HEADER; MAX_HEADERS]
}
