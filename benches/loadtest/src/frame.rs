//! The raw client's side of the wire: a pre-encoded masked binary frame
//! to send, and a check that the bytes read back are exactly its echo
//! (RFC 6455 §5.2), walking frame headers without a WebSocket library so
//! that the client costs the same whichever server answers.

/// The client's masking key (RFC 6455 §5.3). Fixed, so every run sends the
/// same bytes; not zero, so every server really unmasks.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A payload of `len` bytes that no off-by-one hides: each byte differs
/// from its neighbours and the pattern does not repeat every 4 bytes, so a
/// mask applied at the wrong offset shows.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// One final binary frame carrying `payload`, masked with [`MASK_KEY`], as
/// a client must send it (RFC 6455 §5.1, §5.2).
pub fn masked_binary_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | 0x2);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK_KEY);
    frame.extend(
        payload
            .iter()
            .zip(MASK_KEY.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
    frame
}

/// How the bytes read back differ from the echo expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EchoError {
    /// The server masked a frame (§5.1: it must not).
    Masked,
    /// RSV bits set though no extension was negotiated (§5.2).
    Reserved,
    /// A frame other than binary, then continuations (a control frame, a
    /// text frame, a continuation first).
    Opcode(u8),
    /// The frames carry more or fewer bytes than the message sent.
    Length {
        /// The payload length sent.
        expected: usize,
        /// What the frames carry (when more, as soon as that is known).
        echoed: usize,
    },
    /// The payload differs from the one sent at this offset.
    Payload {
        /// The first differing byte.
        offset: usize,
    },
    /// Bytes beyond the echo: the server sent something unasked.
    Trailing(usize),
}

impl std::fmt::Display for EchoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Masked => write!(f, "the server masked its frame (RFC 6455 §5.1)"),
            Self::Reserved => write!(f, "RSV bits set without an extension"),
            Self::Opcode(op) => write!(f, "unexpected opcode {op:#x} in the echo"),
            Self::Length { expected, echoed } => {
                write!(f, "echo of {echoed} bytes for a message of {expected}")
            }
            Self::Payload { offset } => write!(f, "echo differs from the message at byte {offset}"),
            Self::Trailing(n) => write!(f, "{n} bytes after the echo"),
        }
    }
}

impl std::error::Error for EchoError {}

/// One frame's header: (FIN, opcode, payload length, header length), or
/// `None` if `buf` does not hold the whole header yet.
fn header(buf: &[u8]) -> Result<Option<(bool, u8, usize, usize)>, EchoError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b1 & 0x80 != 0 {
        return Err(EchoError::Masked);
    }
    if b0 & 0x70 != 0 {
        return Err(EchoError::Reserved);
    }
    let (len, header_len) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(len) => (u64::from(u16::from_be_bytes([len[0], len[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|len| <[u8; 8]>::try_from(len).ok()) {
            Some(len) => (u64::from_be_bytes(len), 10),
            None => return Ok(None),
        },
        len => (u64::from(len), 2),
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    Ok(Some((b0 & 0x80 != 0, b0 & 0x0f, len, header_len)))
}

/// Whether `buf` (everything read since the message was sent) is the echo
/// of `expected`: `Ok(None)` while it is a correct beginning, `Ok(Some(n))`
/// once the final frame is in, `n` being the bytes the echo took (it must
/// be all of `buf`: one message is in flight). The server may fragment the
/// echo (§5.4); the payload is compared only once whole, so a large echo
/// read in many pieces is compared once.
///
/// # Errors
///
/// [`EchoError`] as soon as the bytes cannot be the echo.
pub fn check_echo(buf: &[u8], expected: &[u8]) -> Result<Option<usize>, EchoError> {
    // First walk the headers: is the echo whole?
    let mut at = 0;
    let mut echoed = 0usize;
    let mut frames = 0usize;
    let end = loop {
        let Some((fin, opcode, len, header_len)) = header(&buf[at..])? else {
            return Ok(None);
        };
        let wanted = if frames == 0 { 0x2 } else { 0x0 };
        if opcode != wanted {
            return Err(EchoError::Opcode(opcode));
        }
        echoed = echoed.saturating_add(len);
        if echoed > expected.len() {
            return Err(EchoError::Length {
                expected: expected.len(),
                echoed,
            });
        }
        frames += 1;
        let frame_end = at + header_len + len;
        if buf.len() < frame_end {
            return Ok(None);
        }
        at = frame_end;
        if fin {
            break at;
        }
    };
    if echoed != expected.len() {
        return Err(EchoError::Length {
            expected: expected.len(),
            echoed,
        });
    }
    if buf.len() > end {
        return Err(EchoError::Trailing(buf.len() - end));
    }
    // Then compare the payload, frame by frame.
    let (mut at, mut offset) = (0, 0);
    while at < end {
        let (_, _, len, header_len) = header(&buf[at..])?.expect("walked above");
        let got = &buf[at + header_len..at + header_len + len];
        let want = &expected[offset..offset + len];
        if got != want {
            let first = got.iter().zip(want).position(|(a, b)| a != b);
            return Err(EchoError::Payload {
                offset: offset + first.unwrap_or(0),
            });
        }
        at += header_len + len;
        offset += len;
    }
    Ok(Some(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The echo a server sends: `masked_binary_frame` unmasked, the mask
    /// bit and key removed.
    fn echo_of(frame: &[u8]) -> Vec<u8> {
        let header_len = match frame[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        let mut echo = frame[..header_len].to_vec();
        echo[1] &= 0x7f;
        let key = &frame[header_len..header_len + 4];
        echo.extend(
            frame[header_len + 4..]
                .iter()
                .zip(key.iter().cycle())
                .map(|(byte, key)| byte ^ key),
        );
        echo
    }

    #[test]
    fn every_length_class_round_trips_and_is_complete_only_when_whole() {
        for len in [0, 1, 20, 125, 126, 127, 0xffff, 0x10000, 1 << 20] {
            let message = payload(len);
            let echo = echo_of(&masked_binary_frame(&message));
            assert_eq!(check_echo(&echo, &message), Ok(Some(echo.len())), "{len}");
            for cut in [0, 1, 2, 3, echo.len() / 2, echo.len() - 1] {
                if cut < echo.len() {
                    assert_eq!(
                        check_echo(&echo[..cut], &message),
                        Ok(None),
                        "{len} cut {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_cut_of_a_small_echo_is_partial() {
        let message = payload(300);
        let echo = echo_of(&masked_binary_frame(&message));
        for cut in 0..echo.len() {
            assert_eq!(check_echo(&echo[..cut], &message), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn a_fragmented_echo_is_accepted() {
        let message = payload(200);
        let mut echo = vec![0x02, 100];
        echo.extend_from_slice(&message[..100]);
        echo.extend_from_slice(&[0x80, 100]);
        echo.extend_from_slice(&message[100..]);
        assert_eq!(check_echo(&echo, &message), Ok(Some(echo.len())));
        assert_eq!(check_echo(&echo[..150], &message), Ok(None));
    }

    #[test]
    fn a_wrong_echo_is_named() {
        let message = payload(64);
        let good = echo_of(&masked_binary_frame(&message));
        let mut flipped = good.clone();
        flipped[2 + 40] ^= 1;
        assert_eq!(
            check_echo(&flipped, &message),
            Err(EchoError::Payload { offset: 40 })
        );
        let mut text = good.clone();
        text[0] = 0x81;
        assert_eq!(check_echo(&text, &message), Err(EchoError::Opcode(1)));
        let mut masked = good.clone();
        masked[1] |= 0x80;
        assert_eq!(check_echo(&masked, &message), Err(EchoError::Masked));
        let mut rsv = good.clone();
        rsv[0] |= 0x40;
        assert_eq!(check_echo(&rsv, &message), Err(EchoError::Reserved));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(check_echo(&trailing, &message), Err(EchoError::Trailing(1)));
        assert_eq!(
            check_echo(&good, &message[..63]),
            Err(EchoError::Length {
                expected: 63,
                echoed: 64
            })
        );
        assert_eq!(
            check_echo(&good, &payload(65)),
            Err(EchoError::Length {
                expected: 65,
                echoed: 64
            })
        );
    }

    #[test]
    fn the_mask_is_applied_from_the_payload_start() {
        let frame = masked_binary_frame(&[0, 0, 0, 0, 0]);
        assert_eq!(&frame[..2], &[0x82, 0x85]);
        assert_eq!(&frame[2..6], &MASK_KEY);
        assert_eq!(&frame[6..], &[0x37, 0xfa, 0x21, 0x3d, 0x37]);
    }
}
