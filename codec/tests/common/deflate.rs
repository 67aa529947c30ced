//! permessage-deflate (RFC 7692) helpers for the tests: the negotiated
//! parameters, a reference compressor's sync-flushed output, a compressed
//! message split into frames, and a second inflater (miniz_oxide) as the
//! oracle of where a message's data may end.

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
