//! permessage-deflate (RFC 7692) helpers for the tests: the negotiated
//! parameters, a reference compressor's sync-flushed output and a
//! compressed message split into frames.

use flate2::{Compress, FlushCompress};
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
