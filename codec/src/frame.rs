//! The frame header's grammar (RFC 6455 §5.2): parse it from bytes without
//! consuming them, and encode it.
//!
//! This module only says what the bytes say: every field as written,
//! reserved bits and reserved opcodes included. Whether a header is
//! acceptable (reserved bits without an extension, reserved opcodes, control
//! frame rules, masking by role, minimal length encoding, the frame limit)
//! is decided in one place, the receive pipeline's frame reader.

use bytes::BytesMut;

/// The largest payload a control frame may carry, in bytes (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header, in bytes: 2 fixed bytes, an 8-byte length and a
/// 4-byte masking key (RFC 6455 §5.2).
pub const MAX_HEADER_LEN: usize = 14;

/// A frame's opcode (RFC 6455 §5.2, §11.8).
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
    /// 0x3–0x7 and 0xB–0xF: reserved for further data and control frames.
    /// A receiver refuses them (close code 1002); they are representable so
    /// that the grammar can say what the bytes say.
    Reserved(u8),
}

impl OpCode {
    /// The opcode of the low four bits of `bits`.
    pub const fn from_bits(bits: u8) -> Self {
        // A table, not a `match`: one load in the header parse of every
        // frame instead of a jump table.
        const BY_BITS: [OpCode; 16] = {
            let mut table = [OpCode::Continuation; 16];
            let mut bits = 0;
            while bits < 16 {
                table[bits as usize] = match bits {
                    0x0 => OpCode::Continuation,
                    0x1 => OpCode::Text,
                    0x2 => OpCode::Binary,
                    0x8 => OpCode::Close,
                    0x9 => OpCode::Ping,
                    0xA => OpCode::Pong,
                    other => OpCode::Reserved(other),
                };
                bits += 1;
            }
            table
        };
        BY_BITS[(bits & 0x0F) as usize]
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
            Self::Reserved(bits) => bits & 0x0F,
        }
    }

    /// Opcodes with the high bit set (close, ping, pong and the reserved
    /// 0xB–0xF): control frames (RFC 6455 §5.5).
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
    /// The input is a prefix of a header; read more bytes and retry.
    Partial,
}

/// A frame header as written on the wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1–RSV3 as the low three bits (RSV1 = 0b100), as written.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame (§5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length the header declares, in bytes (a 64-bit length
    /// is taken as written, its most significant bit included, RFC 6455
    /// §5.2).
    pub payload_len: u64,
}

/// FIN, RSV bits and opcode: what a header's first byte says.
#[inline]
pub(crate) const fn first_byte(byte: u8) -> (bool, u8, OpCode) {
    (
        byte & 0x80 != 0,
        (byte >> 4) & 0x07,
        OpCode::from_bits(byte),
    )
}

/// The MASK bit and the 7-bit length: what a header's second byte says.
#[inline]
pub(crate) const fn second_byte(byte: u8) -> (bool, u8) {
    (byte & 0x80 != 0, byte & 0x7F)
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
    /// Returns the header and its encoded length in bytes (2 to
    /// [`MAX_HEADER_LEN`]), or [`Status::Partial`] if `buf` holds less than a
    /// whole header. Any bytes are a header's grammar, so this never fails:
    /// the rules of RFC 6455 §5 (reserved bits and opcodes, control frames,
    /// minimal lengths) are the receiver's to apply, with the connection's
    /// role, limits and extensions at hand.
    // Always inlined: it runs for every frame, and a call returns the
    // header through memory.
    #[inline(always)]
    pub fn parse(buf: &[u8]) -> Status<(Self, usize)> {
        let [first, second, ..] = *buf else {
            return Status::Partial;
        };
        let (fin, rsv, opcode) = first_byte(first);
        let (masked, short_len) = second_byte(second);
        let (payload_len, mut len) = match short_len {
            126 => {
                let [_, _, hi, lo, ..] = *buf else {
                    return Status::Partial;
                };
                (u16::from_be_bytes([hi, lo]) as u64, 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else {
                    return Status::Partial;
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                (u64::from_be_bytes(be), 10)
            }
            short => (short as u64, 2),
        };
        let mask = if masked {
            let Some(key) = buf.get(len..len + 4) else {
                return Status::Partial;
            };
            len += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Status::Complete((
            Self {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            len,
        ))
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
    /// Any header is written as given, so that one from
    /// [`parse`](Self::parse) is written back as it was read: a
    /// `payload_len` with the top bit set, which RFC 6455 §5.2 forbids and
    /// no real payload reaches (the grammar reads any 64-bit length; the
    /// connection refuses it as
    /// [`ProtocolError::LengthTopBitSet`](crate::ProtocolError::LengthTopBitSet)),
    /// included. A relay that forwards headers it parsed checks
    /// `payload_len >> 63 == 0` first if it must not pass such a frame on.
    pub fn encode(&self, out: &mut BytesMut) {
        self.encode_reserving(out, 0);
    }

    /// As [`encode`](Self::encode), with room for `then` more bytes (the
    /// payload) reserved with the header's: one capacity check per frame,
    /// and the header written in one store of its bytes.
    #[inline(always)]
    pub(crate) fn encode_reserving(&self, out: &mut BytesMut, then: usize) {
        if self.mask.is_none() && self.payload_len <= 125 {
            // A server's short frame (an echo's, a pong): two bytes, and
            // inlined where it is sent.
            out.reserve(2 + then);
            out.extend_from_slice(&[self.first_byte(), self.payload_len as u8]);
            return;
        }
        self.encode_longer(out, then);
    }

    /// FIN, RSV1-3 and the opcode, as the first byte of the header.
    #[inline(always)]
    const fn first_byte(&self) -> u8 {
        (self.fin as u8) << 7 | (self.rsv & 0x07) << 4 | self.opcode.as_u8()
    }

    /// [`encode_reserving`](Self::encode_reserving) of a header with a
    /// masking key or a longer length.
    fn encode_longer(&self, out: &mut BytesMut, then: usize) {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let len = self.write_to(&mut bytes);
        out.reserve(len + then);
        out.extend_from_slice(&bytes[..len]);
    }

    /// Writes the header at the front of `bytes`, as given (see
    /// [`encode`](Self::encode)); returns its length
    /// ([`encoded_len`](Self::encoded_len)).
    pub(crate) fn write_to(&self, bytes: &mut [u8; MAX_HEADER_LEN]) -> usize {
        bytes[0] = self.first_byte();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match self.payload_len {
            len @ 0..=125 => {
                bytes[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                bytes[1] = mask_bit | 126;
                bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                bytes[1] = mask_bit | 127;
                bytes[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_at_the_encoding_boundaries_round_trip_and_every_prefix_is_partial() {
        // The last two have the top bit set (RFC 6455 §5.2 forbids it):
        // written back as parsed, not a panic.
        for len in [
            0u64,
            1,
            125,
            126,
            127,
            65535,
            65536,
            1 << 32,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX,
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let header = FrameHeader {
                    mask,
                    ..FrameHeader::new(true, OpCode::Binary, len)
                };
                let mut out = BytesMut::new();
                header.encode(&mut out);
                assert_eq!(out.len(), header.encoded_len());
                assert_eq!(
                    FrameHeader::parse(&out),
                    Status::Complete((header, out.len()))
                );
                for end in 0..out.len() {
                    assert_eq!(
                        FrameHeader::parse(&out[..end]),
                        Status::Partial,
                        "len {len} prefix {end}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_grammar_reads_every_field_as_written() {
        // RSV bits, a reserved opcode, a control frame without FIN and a
        // non-minimal length: all read as they are, judged elsewhere.
        let Status::Complete((header, len)) = FrameHeader::parse(&[0x7B, 126, 0, 5]) else {
            panic!("whole header")
        };
        assert_eq!(len, 4);
        assert_eq!(
            header,
            FrameHeader {
                fin: false,
                rsv: 0b111,
                opcode: OpCode::Reserved(0xB),
                mask: None,
                payload_len: 5
            }
        );
        for bits in 0..16u8 {
            assert_eq!(OpCode::from_bits(bits).as_u8(), bits);
            assert_eq!(OpCode::from_bits(bits).is_control(), bits >= 8);
        }
    }
}
