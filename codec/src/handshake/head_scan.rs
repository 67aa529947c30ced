//! When a head that arrives in pieces is worth parsing again.
//!
//! [`UpgradeRequest::parse`](super::UpgradeRequest::parse) and
//! [`ClientHandshake::parse_response`](super::ClientHandshake::parse_response)
//! parse the whole buffer on every call. Called after every read, a head
//! trickled a byte at a time costs time quadratic in its length (a 16 KiB
//! head: 16 K parses of up to 16 KiB). [`HeadScan`] keeps it linear.

use super::MAX_HANDSHAKE_LEN;

/// Says when the head read so far is worth parsing again: when the bytes
/// read since the last call hold an empty line (the end of a head; a
/// response's interim 1xx heads end with one too) or the end of the first
/// line (so that a peer that sends a wrong request or status line and
/// waits for an answer, an SSH client's banner, is refused then), when the buffer has
/// doubled since the last parse (so that a head that is wrong from its
/// first line is refused soon, not only at its end), or when it first
/// grows longer than [`MAX_HANDSHAKE_LEN`] (so that the parse refuses it
/// with 431; a response whose interim 1xx heads let it run on is parsed
/// again at the doublings, and refused by the first past its own limit).
/// Every byte is looked at once, and the parses' total length is at most
/// twice the head's plus one parse per empty line and one for the first
/// line.
///
/// ```
/// use wsframe::handshake::{HeadScan, Status, UpgradeRequest};
/// let request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let mut scan = HeadScan::new();
/// let mut parses = 0;
/// // The head arriving a byte at a time, as a slow (or hostile) client sends it.
/// for end in 1..=request.len() {
///     let read = &request[..end];
///     if !scan.worth_parsing(read) {
///         continue;
///     }
///     parses += 1;
///     if let Status::Complete((upgrade, used)) = UpgradeRequest::parse(read)? {
///         assert_eq!((upgrade.path(), used), ("/", request.len()));
///     }
/// }
/// assert!(parses <= 10, "{parses} parses");
/// # Ok::<(), wsframe::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct HeadScan {
    /// How many bytes of the buffer were looked at for an empty line.
    scanned: usize,
    /// The buffer's length at the last parse (0: none yet).
    parsed: usize,
    /// Whether a line end was seen (the first line's was parsed).
    line_ended: bool,
}

impl HeadScan {
    /// A scan of a head not read yet.
    pub const fn new() -> Self {
        Self {
            scanned: 0,
            parsed: 0,
            line_ended: false,
        }
    }

    /// Whether `head`, the bytes read so far (the same buffer as at the
    /// last call, grown by a read), should be parsed now; see
    /// [`HeadScan`]. Looks only at the bytes added since the last call.
    ///
    /// # Panics
    ///
    /// If `head` is shorter than at the last call (it is the buffer of one
    /// head, only ever appended to).
    pub fn worth_parsing(&mut self, head: &[u8]) -> bool {
        assert!(head.len() >= self.scanned, "the head only grows");
        // An empty line is `\n\n` or `\n\r\n` (httparse takes both line
        // ends); the last read may have cut one after its first byte or two.
        // Only an empty line whose last byte is new counts: one that ended
        // the last read was seen then.
        let from = self.scanned.saturating_sub(2);
        let empty_line = head[from..]
            .windows(2)
            .enumerate()
            .any(|(i, pair)| match pair {
                b"\n\n" => from + i + 1 >= self.scanned,
                b"\n\r" => from + i + 2 >= self.scanned && head.get(from + i + 2) == Some(&b'\n'),
                _ => false,
            });
        let first_line_end = !self.line_ended && head[self.scanned..].contains(&b'\n');
        self.line_ended |= first_line_end;
        self.scanned = head.len();
        // Past the limit once: a response's head may run on behind its
        // interim heads, and a parse at every read would be quadratic.
        let due = empty_line
            || first_line_end
            || head.len() >= self.parsed.saturating_mul(2).max(1)
            || (head.len() > MAX_HANDSHAKE_LEN && self.parsed <= MAX_HANDSHAKE_LEN);
        if due {
            self.parsed = head.len();
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lengths at which `head`, growing by `step` bytes a read, is
    /// said to be worth parsing.
    fn parses(head: &[u8], step: usize) -> Vec<usize> {
        let mut scan = HeadScan::new();
        (1..=head.len().div_ceil(step))
            .map(|n| (n * step).min(head.len()))
            .filter(|&end| scan.worth_parsing(&head[..end]))
            .collect()
    }

    #[test]
    // Safe code only (the handshake has no `unsafe`), and 15 s under Miri.
    #[cfg_attr(miri, ignore)]
    fn an_empty_line_is_seen_however_the_reads_cut_it() {
        for ending in [&b"\r\n\r\n"[..], b"\n\n", b"\r\n\n", b"\n\r\n"] {
            let mut head = b"GET / HTTP/1.1\r\nHost: a".repeat(40);
            head.extend_from_slice(ending);
            for step in 1..=5 {
                let parses = parses(&head, step);
                assert_eq!(parses.last(), Some(&head.len()), "{ending:?} by {step}");
            }
        }
    }

    #[test]
    // Safe code only (the handshake has no `unsafe`), and 30 s under Miri.
    #[cfg_attr(miri, ignore)]
    fn a_head_without_an_empty_line_is_parsed_at_doublings_and_past_the_limit() {
        let head = vec![b'a'; MAX_HANDSHAKE_LEN + 10];
        let parses = parses(&head, 1);
        let doublings: Vec<usize> = (0..=14).map(|k| 1 << k).collect();
        assert_eq!(&parses[..15], &doublings[..]);
        // Past the limit, at once: the parse refuses it there.
        assert_eq!(parses[15], MAX_HANDSHAKE_LEN + 1);
    }

    #[test]
    fn one_line_end_alone_is_not_an_empty_line() {
        let mut scan = HeadScan::new();
        assert!(scan.worth_parsing(b"GET / HTTP/1.1\r\n"));
        assert!(!scan.worth_parsing(b"GET / HTTP/1.1\r\nHost: a\r\n"));
        // Cut between the `\r` and the `\n` of the empty line.
        assert!(!scan.worth_parsing(b"GET / HTTP/1.1\r\nHost: a\r\n\r"));
        assert!(scan.worth_parsing(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    }

    /// An empty line that ended the last read is not seen again in the
    /// next (the `handshake` fuzz target found the extra parse: a 100
    /// Continue's head ending a read, then one byte more).
    #[test]
    fn an_empty_line_is_seen_once() {
        for ending in [&b"\r\n\r\n"[..], b"\n\n", b"\r\n\n", b"\n\r\n"] {
            let mut head = b"HTTP/1.1 100 Continue".to_vec();
            head.extend_from_slice(ending);
            let mut scan = HeadScan::new();
            assert!(scan.worth_parsing(&head), "{ending:?}");
            head.push(b'H');
            assert!(!scan.worth_parsing(&head), "{ending:?} seen again");
            head.push(b'T');
            assert!(!scan.worth_parsing(&head), "{ending:?} seen again");
        }
    }
}
