//! permessage-deflate (RFC 7692) helpers for the tests: the negotiated
//! parameters, a reference compressor's sync-flushed output, a compressed
//! message split into frames, a second inflater (miniz_oxide) as the
//! oracle of where a message's data may end, the messages a sender wrote
//! (read off the wire by hand, masked or not), and a receiver whose window
//! is exactly `2^bits` bytes ([`WindowedInflater`]).

use flate2::{Compress, Compression, FlushCompress};
use miniz_oxide::inflate::{
    core::{decompress, inflate_flags::*, DecompressorOxide},
    TINFLStatus,
};
use wsframe::DeflateParams;

use super::{client, CONT, FIN};

/// RSV1: the first frame of a compressed message (§6).
pub const RSV1: u8 = 0x40;

/// Context takeover both ways, 15-bit windows.
pub const TAKEOVER: DeflateParams = DeflateParams {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// No context takeover either way.
pub const NO_TAKEOVER: DeflateParams = DeflateParams {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
    ..TAKEOVER
};

/// `len` bytes deflate cannot shrink (a xorshift from `seed`),
/// deterministic: a message whose compressed size is about its own.
pub fn incompressible(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// `data` compressed by `stream` with a sync flush, the `00 00 FF FF` tail
/// still on (§7.2.1); growing the output until zlib leaves room over.
pub fn sync_flush(stream: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start = stream.total_in();
    loop {
        let taken = (stream.total_in() - start) as usize;
        stream
            .compress_vec(&data[taken..], &mut out, FlushCompress::Sync)
            .unwrap();
        if out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    out
}

/// Appends `payload` (a compressed message, tail stripped) as masked client
/// frames with `opcode`: three of them when `in_thirds` and it has the
/// bytes, RSV1 on the first only (§6.1).
pub fn push_compressed(input: &mut Vec<u8>, opcode: u8, payload: &[u8], in_thirds: bool) {
    if in_thirds && payload.len() >= 3 {
        let third = payload.len() / 3;
        input.extend(client(RSV1 | opcode, &payload[..third]));
        input.extend(client(CONT, &payload[third..2 * third]));
        input.extend(client(FIN | CONT, &payload[2 * third..]));
    } else {
        input.extend(client(FIN | RSV1 | opcode, payload));
    }
}

/// The `00 00 FF FF` a receiver appends to each message (§7.2.2).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// `payload` (a compressed message, tail stripped) through flate2's
/// `inflater`, which keeps its context from message to message (§7.2.2)
/// and 32 KiB of window: what it inflates to (at most 1 MiB).
pub fn inflate_next(inflater: &mut flate2::Decompress, payload: &[u8]) -> Vec<u8> {
    let input = [payload, &TAIL].concat();
    let mut out = Vec::with_capacity(1 << 20);
    let before = inflater.total_in();
    inflater
        .decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    assert_eq!(inflater.total_in() - before, input.len() as u64);
    out
}

/// `stream`'s next message: `data` compressed with a sync flush, the tail
/// stripped (§7.2.1); `00` (§7.2.3.6) if that leaves nothing (zlib writes
/// nothing for a flush with nothing new).
pub fn sync_message(stream: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = sync_flush(stream, data);
    if !out.is_empty() {
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - TAIL.len());
    }
    if out.is_empty() {
        out.push(0x00);
    }
    out
}

/// `data` compressed by a fresh compressor at `level` with a sync flush,
/// the tail stripped ([`sync_message`]).
pub fn sync_compressed(data: &[u8], level: u32) -> Vec<u8> {
    sync_message(&mut Compress::new(Compression::new(level), false), data)
}

/// `data` compressed by a fresh compressor at `level`, ending in a final
/// block.
pub fn final_compressed(data: &[u8], level: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    Compress::new(Compression::new(level), false)
        .compress_vec(data, &mut out, FlushCompress::Finish)
        .unwrap();
    out
}

/// What `payload` (one message, fresh context) inflates to by miniz_oxide,
/// if it is whole: ended by a final block (and at most one `00`, the
/// header byte of the empty stored block a sender appends, §7.2.3.4), or
/// by the header of an empty stored block whose lengths are the tail
/// (§7.2.1). Not merely a whole number of blocks with the tail: a payload
/// whose block takes the tail as content is not one a sender makes.
pub fn reference_inflate(payload: &[u8]) -> Option<Vec<u8>> {
    let (final_in_payload, out) = inflate_with(payload, &TAIL)?;
    if final_in_payload {
        return Some(out);
    }
    // The tail must be an empty stored block's lengths: lengths of one
    // byte, and that byte, give one byte more.
    let (_, longer) = inflate_with(payload, &[0x01, 0x00, 0xFE, 0xFF, b'Z'])?;
    (longer == [&out[..], b"Z"].concat()).then_some(out)
}

/// How much miniz_oxide inflates of `payload` (no tail) before it stops
/// or fails.
pub fn inflated_before_failing(payload: &[u8]) -> usize {
    inflated_before_failing_bytes(payload, 1 << 20).len()
}

/// What miniz_oxide inflates of `payload` (no tail), into at most `room`
/// bytes, before it stops or fails.
pub fn inflated_before_failing_bytes(payload: &[u8], room: usize) -> Vec<u8> {
    let mut inflater = DecompressorOxide::new();
    let mut out = vec![0; room];
    let (mut taken, mut made) = (0, 0);
    let flags = TINFL_FLAG_HAS_MORE_INPUT | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    loop {
        let (_, used, wrote) = decompress(&mut inflater, &payload[taken..], &mut out, made, flags);
        taken += used;
        made += wrote;
        if used == 0 && wrote == 0 {
            out.truncate(made);
            return out;
        }
    }
}

/// What miniz_oxide inflates of `payload` (no tail) with a window of
/// exactly `2^bits` bytes (a ring, as [`WindowedInflater`]), into at most
/// `room` bytes, before it stops or fails: the same as
/// [`inflated_before_failing_bytes`] when no distance reaches past the
/// window.
pub fn windowed_before_failing_bytes(payload: &[u8], bits: u8, room: usize) -> Vec<u8> {
    let mut inflater = DecompressorOxide::new();
    let mut ring = vec![0; 1 << bits];
    let mut out = Vec::new();
    let (mut taken, mut pos) = (0, 0);
    while out.len() < room {
        let (_, used, wrote) = decompress(
            &mut inflater,
            &payload[taken..],
            &mut ring,
            pos,
            TINFL_FLAG_HAS_MORE_INPUT,
        );
        out.extend_from_slice(&ring[pos..pos + wrote]);
        taken += used;
        pos = (pos + wrote) & (ring.len() - 1);
        if used == 0 && wrote == 0 {
            break;
        }
    }
    out.truncate(room);
    out
}

/// A stored block (not final) holding `content`.
pub fn stored(content: &[u8]) -> Vec<u8> {
    stored_declaring(content.len() as u16, content)
}

/// A stored block (not final) of `len` declared bytes holding `content`:
/// cut short or overrun when they differ.
pub fn stored_declaring(len: u16, content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(content);
    out
}

/// `payload` and `follows` through miniz_oxide, stopping at every block
/// boundary: whether a final block ended in the payload, and the output,
/// if the input ends at a boundary (or a final block's end) exactly.
fn inflate_with(payload: &[u8], follows: &[u8]) -> Option<(bool, Vec<u8>)> {
    let input = [payload, follows].concat();
    let mut inflater = DecompressorOxide::new();
    let mut out = vec![0; 1 << 20];
    let (mut taken, mut made) = (0, 0);
    let flags = TINFL_FLAG_HAS_MORE_INPUT
        | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
        | TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY;
    let final_in_payload = loop {
        let (status, used, wrote) =
            decompress(&mut inflater, &input[taken..], &mut out, made, flags);
        taken += used;
        made += wrote;
        match status {
            // Room for more: a bomb's output is larger than the first.
            TINFLStatus::HasMoreOutput => out.resize(out.len() * 2, 0),
            TINFLStatus::BlockBoundary if taken == input.len() => break false,
            TINFLStatus::BlockBoundary => {}
            TINFLStatus::Done
                if taken == payload.len() || payload.get(taken..) == Some(&[0x00]) =>
            {
                break true
            }
            // §7.2.3.4's BFINAL stored block, its lengths stripped.
            TINFLStatus::Done if taken == input.len() => break false,
            _ => return None,
        }
    };
    out.truncate(made);
    Some((final_in_payload, out))
}

/// Every frame in `buf`, parsed by hand from RFC 6455 §5.2, masked or not:
/// (first byte, unmasked payload).
pub fn frames_of(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        let first = buf[0];
        let masked = buf[1] & 0x80 != 0;
        let (len, mut at) = match buf[1] & 0x7F {
            126 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = masked.then(|| {
            let key = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
            at += 4;
            key
        });
        let mut payload = buf[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push((first, payload));
        buf = &buf[at + len..];
    }
    frames
}

/// A data message as it went on the wire: whether its first frame set
/// RSV1, its frames' payloads.
#[derive(Debug)]
pub struct SentMessage {
    pub compressed: bool,
    pub frames: Vec<Vec<u8>>,
}

/// The data messages in `out`; asserts the RSV rules of RFC 7692 §6 on
/// every frame: RSV1 only on a data message's first frame, RSV2/RSV3
/// never, control frames never.
pub fn messages_of(out: &[u8]) -> Vec<SentMessage> {
    let mut messages: Vec<SentMessage> = Vec::new();
    let mut open = false;
    for (first, payload) in frames_of(out) {
        let opcode = first & 0x0F;
        assert_eq!(first & 0x30, 0, "RSV2/RSV3 set: {first:#04x}");
        if opcode >= 0x8 {
            assert_eq!(first & 0x70, 0, "RSV on a control frame: {first:#04x}");
            continue;
        }
        if opcode == CONT {
            assert!(open, "continuation without a message");
            assert_eq!(first & RSV1, 0, "RSV1 on a continuation");
            messages.last_mut().unwrap().frames.push(payload);
        } else {
            assert!(!open, "a new message inside a fragmented one");
            messages.push(SentMessage {
                compressed: first & RSV1 != 0,
                frames: vec![payload],
            });
        }
        open = first & FIN == 0;
    }
    assert!(!open, "a message left open");
    messages
}

/// A receiver whose LZ77 window is exactly `2^bits` bytes: miniz_oxide
/// inflating into a circular buffer of that size (its wrapping mode, no
/// `TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF`). A distance past the buffer
/// is refused outright (miniz_oxide's `DistanceOutOfBounds`: `None` here),
/// and one of exactly `2^bits` is read, as zlib's inflater with a
/// `2^bits` window reads it: `deflate_window_bits` proves both with
/// hand-made streams. `fresh_each`: a new context per message (the sender
/// said it takes none over); a buffer of zeros, so a distance reaching
/// before the message reads zeros, which the test data must not hold
/// there.
pub struct WindowedInflater {
    bits: u8,
    fresh_each: bool,
    state: Box<DecompressorOxide>,
    window: Vec<u8>,
    pos: usize,
}

impl WindowedInflater {
    pub fn new(bits: u8, fresh_each: bool) -> Self {
        Self {
            bits,
            fresh_each,
            state: Box::default(),
            window: vec![0; 1 << bits],
            pos: 0,
        }
    }

    /// One message's payload (frames joined), its tail appended (§7.2.2):
    /// what it inflates to, or `None` if it does not.
    pub fn message(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        if self.fresh_each {
            *self = Self::new(self.bits, true);
        }
        let input = [payload, &TAIL].concat();
        let mask = self.window.len() - 1;
        let (mut taken, mut out) = (0, Vec::new());
        loop {
            let (status, used, wrote) = decompress(
                &mut self.state,
                &input[taken..],
                &mut self.window,
                self.pos,
                TINFL_FLAG_HAS_MORE_INPUT,
            );
            out.extend_from_slice(&self.window[self.pos..self.pos + wrote]);
            self.pos = (self.pos + wrote) & mask;
            taken += used;
            match status {
                TINFLStatus::NeedsMoreInput if taken == input.len() => return Some(out),
                TINFLStatus::HasMoreOutput | TINFLStatus::NeedsMoreInput if used + wrote > 0 => {}
                _ => return None,
            }
        }
    }
}

/// Bits LSB first, as DEFLATE packs them (RFC 1951 §3.1.1).
#[derive(Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    len: u32,
}

impl BitWriter {
    /// `count` bits of `value`, least significant first: header fields
    /// and extra bits.
    pub fn bits(&mut self, value: u32, count: u32) {
        assert!(u64::from(value) < 1 << count);
        self.acc |= u64::from(value) << self.len;
        self.len += count;
        while self.len >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// A Huffman code of `len` bits, packed from its most significant bit.
    pub fn code(&mut self, code: u32, len: u32) {
        self.bits(code.reverse_bits() >> (32 - len), len);
    }

    /// The bytes, the last padded with zeros.
    pub fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// The distance code of `dist` (RFC 1951 §3.2.5): (code, extra bits, the
/// code's first distance).
pub fn distance_code(dist: usize) -> (u32, u32, usize) {
    assert!(
        (1..=32_768).contains(&dist),
        "DEFLATE has no distance {dist}"
    );
    (0..30u32)
        .rev()
        .map(|code| {
            let extra = code.saturating_sub(2) / 2;
            let base = match code {
                0..=3 => code as usize + 1,
                _ => ((2 + (code as usize & 1)) << extra) + 1,
            };
            (code, extra, base)
        })
        .find(|&(_, _, base)| base <= dist)
        .unwrap()
}

/// A fixed-Huffman block, not final (RFC 1951 §3.2.6), of one match of
/// 258 bytes (the longest) at `dist`, then the header of the empty stored
/// block a sync flush ends with: the receiver's `00 00 FF FF` are its
/// lengths (RFC 7692 §7.2.2).
pub fn fixed_match(dist: usize) -> Vec<u8> {
    fixed_block(&[Lz::Match(dist)])
}

/// A symbol of [`fixed_block`]: a literal byte, or a match of 258 bytes
/// (the longest) at a distance.
#[derive(Clone, Copy, Debug)]
pub enum Lz {
    Literal(u8),
    Match(usize),
}

/// A fixed-Huffman block, not final (RFC 1951 §3.2.6), of `symbols`, then
/// the header of the empty stored block a sync flush ends with: the
/// receiver's `00 00 FF FF` are its lengths (RFC 7692 §7.2.2).
pub fn fixed_block(symbols: &[Lz]) -> Vec<u8> {
    let mut out = BitWriter::default();
    out.bits(0, 1); // BFINAL
    out.bits(0b01, 2); // BTYPE: fixed Huffman codes
    for &symbol in symbols {
        match symbol {
            Lz::Literal(byte @ 0..=143) => out.code(0b0011_0000 + u32::from(byte), 8),
            Lz::Literal(byte) => out.code(0b1_1001_0000 + u32::from(byte) - 144, 9),
            Lz::Match(dist) => {
                out.code(0b1100_0000 + (285 - 280), 8); // length 258: code 285
                let (code, extra, base) = distance_code(dist);
                out.code(code, 5);
                out.bits((dist - base) as u32, extra);
            }
        }
    }
    out.code(0, 7); // 256: end of block
    out.bits(0, 3); // a stored block's header, not final
    out.finish()
}
