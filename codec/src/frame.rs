//! Frame headers (RFC 6455 §5.2): parse from bytes without consuming them,
//! validate, and encode.

use bytes::{BufMut, BytesMut};

use crate::error::ProtocolError;

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header: 2 fixed bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame's opcode (RFC 6455 §5.2, §11.8). Reserved opcodes (3–7, 0xB–0xF)
/// are not representable: parsing them is a protocol error.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: starts or answers the closing handshake.
    Close,
    /// 0x9: a heartbeat the peer must answer with a pong.
    Ping,
    /// 0xA: the answer to a ping, or an unsolicited heartbeat.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping and pong: opcodes with the high bit set (RFC 6455 §5.5).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// The result of parsing a header from a buffer that may hold only part of it.
///
/// "Need more bytes" is a status, not an error (as in `httparse`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// Parsed; the header occupies this many bytes at the front of the input.
    Complete(T),
    /// The input is a valid prefix of a header; read more bytes and retry.
    Partial,
}

/// A parsed, valid frame header.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1–RSV3 as the low three bits (RSV1 = 0b100). Always 0 when parsed,
    /// since no extension is negotiated; settable for encoding.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame (§5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length the header declares.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header for an unmasked frame.
    pub const fn new(fin: bool, opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the front of `buf` without consuming anything.
    ///
    /// Returns the header and its encoded length, or [`Status::Partial`] if
    /// `buf` is a valid but incomplete prefix. Errors are reported as soon as
    /// the offending byte is present, without waiting for the rest.
    ///
    /// # Errors
    ///
    /// Every header rule of RFC 6455 §5.2 and §5.5 that does not depend on the
    /// connection: RSV bits without an extension, reserved opcodes,
    /// fragmented or oversized control frames, non-minimal length encodings
    /// and 64-bit lengths with the top bit set. All are close code 1002.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Status<(Self, usize)>, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(Status::Partial);
        };
        let fin = first & 0x80 != 0;
        let rsv = (first >> 4) & 0x07;
        // §5.2: "MUST be 0 unless an extension is negotiated that defines
        // meanings for non-zero values" (none is, so far).
        if rsv != 0 {
            return Err(ProtocolError::ReservedBits(rsv));
        }
        // §5.2: "If an unknown opcode is received, the receiving endpoint MUST
        // _Fail the WebSocket Connection_."
        let opcode =
            OpCode::from_u8(first & 0x0F).ok_or(ProtocolError::ReservedOpcode(first & 0x0F))?;
        // §5.5: "All control frames ... MUST NOT be fragmented."
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        let Some(&second) = buf.get(1) else {
            return Ok(Status::Partial);
        };
        let masked = second & 0x80 != 0;
        let short_len = second & 0x7F;
        // §5.5: "All control frames MUST have a payload length of 125 bytes or less."
        if opcode.is_control() && short_len > MAX_CONTROL_PAYLOAD as u8 {
            return Err(ProtocolError::ControlFrameTooLong);
        }
        let (payload_len, mut pos) = match short_len {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(Status::Partial);
                };
                let len = u16::from_be_bytes([bytes[0], bytes[1]]) as u64;
                // §5.2: "the minimal number of bytes MUST be used to encode the length".
                if len < 126 {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len, 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else {
                    // The top bit is known from the first length byte.
                    if buf.get(2).is_some_and(|b| b & 0x80 != 0) {
                        return Err(ProtocolError::LengthTopBitSet);
                    }
                    return Ok(Status::Partial);
                };
                let len = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
                // §5.2: "the most significant bit MUST be 0".
                if len >> 63 != 0 {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                if len <= u16::MAX as u64 {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len, 10)
            }
            len => (len as u64, 2),
        };
        let mask = if masked {
            let Some(key) = buf.get(pos..pos + 4) else {
                return Ok(Status::Partial);
            };
            pos += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Ok(Status::Complete((
            Self {
                fin,
                rsv: 0,
                opcode,
                mask,
                payload_len,
            },
            pos,
        )))
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub const fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header, with the minimal length encoding, to `out`.
    ///
    /// # Panics
    ///
    /// If `payload_len` has the top bit set, which RFC 6455 forbids and no
    /// real payload reaches.
    pub fn encode(&self, out: &mut BytesMut) {
        assert!(self.payload_len >> 63 == 0, "payload length over 2^63");
        out.reserve(self.encoded_len());
        out.put_u8((self.fin as u8) << 7 | (self.rsv & 0x07) << 4 | self.opcode.as_u8());
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        match self.payload_len {
            len @ 0..=125 => out.put_u8(mask_bit | len as u8),
            len @ 126..=0xFFFF => {
                out.put_u8(mask_bit | 126);
                out.put_u16(len as u16);
            }
            len => {
                out.put_u8(mask_bit | 127);
                out.put_u64(len);
            }
        }
        if let Some(key) = self.mask {
            out.put_slice(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::parse(bytes)
    }

    #[test]
    fn lengths_at_the_encoding_boundaries_round_trip_and_every_prefix_is_partial() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let header = FrameHeader {
                    mask,
                    ..FrameHeader::new(true, OpCode::Binary, len)
                };
                let mut out = BytesMut::new();
                header.encode(&mut out);
                assert_eq!(out.len(), header.encoded_len());
                assert_eq!(parse(&out), Ok(Status::Complete((header, out.len()))));
                for end in 0..out.len() {
                    assert_eq!(
                        parse(&out[..end]),
                        Ok(Status::Partial),
                        "len {len} prefix {end}"
                    );
                }
            }
        }
    }

    #[test]
    fn each_header_rule_has_its_error() {
        use ProtocolError::*;
        assert_eq!(parse(&[0xC1, 0x00]), Err(ReservedBits(4)));
        assert_eq!(parse(&[0x91, 0x00]), Err(ReservedBits(1)));
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(parse(&[0x80 | op]), Err(ReservedOpcode(op)));
        }
        assert_eq!(parse(&[0x09]), Err(FragmentedControlFrame));
        assert_eq!(parse(&[0x89, 126]), Err(ControlFrameTooLong));
        assert_eq!(parse(&[0x82, 126, 0, 125]), Err(NonMinimalLength));
        assert_eq!(
            parse(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(NonMinimalLength)
        );
        assert_eq!(parse(&[0x82, 127, 0x80]), Err(LengthTopBitSet));
        assert!(matches!(parse(&[0x89, 125]), Ok(Status::Complete(_))));
    }
}
