//! What a `Connection` with permessage-deflate sends is, byte for byte, the
//! frames RFC 6455 §5.2 and RFC 7692 §7.2.1 make of the payloads zlib-rs
//! compresses at the same settings (raw deflate, level 6, memory level 8,
//! the negotiated window, 9 for a negotiated 8): each message or fragment
//! compressed with a sync flush, the last one's empty stored block
//! stripped (a lone 0x00 for a message with nothing left to flush), the
//! compressor fresh for each message without context takeover. Whole
//! messages and fragments, both roles (a client's keys from a counter),
//! windows 8 to 15, takeover on and off, payloads whose frames need each
//! header length (7, 16 and 64 bits), a frame bound that splits compressed
//! payloads, and output partly written between sends.
#![cfg(feature = "deflate")]

mod common;

use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Message, Role};
use zlib_rs::{Deflate, DeflateFlush};

/// The oracle: one message's compressor, as RFC 7692 §7.2.1 uses it.
struct Reference {
    bits: u8,
    takeover: bool,
    deflate: Option<Deflate>,
}

impl Reference {
    fn new(bits: u8, takeover: bool) -> Self {
        Self {
            bits,
            takeover,
            deflate: None,
        }
    }

    /// One fragment's compressed bytes; `fin`: it ends the message.
    fn fragment(&mut self, data: &[u8], fin: bool) -> Vec<u8> {
        let bits = self.bits.max(9);
        let deflate = self.deflate.get_or_insert_with(|| {
            Deflate::new_with_config(zlib_rs::DeflateConfig {
                level: 6,
                window_bits: -i32::from(bits),
                mem_level: 8,
                ..zlib_rs::DeflateConfig::default()
            })
        });
        // Room for anything at once: one call flushes all.
        let mut out = vec![0; data.len() * 2 + 1024];
        let before = deflate.total_out();
        deflate
            .compress(data, &mut out, DeflateFlush::SyncFlush)
            .expect("raw deflate");
        out.truncate((deflate.total_out() - before) as usize);
        if fin {
            if out.ends_with(&[0, 0, 0xff, 0xff]) {
                out.truncate(out.len() - 4);
            }
            if out.is_empty() {
                out.push(0);
            }
            if !self.takeover {
                self.deflate = None;
            }
        }
        out
    }
}

/// Appends one frame (§5.2) to `wire`: masked with the next key of `keys`
/// if it is `Some`.
fn frame(wire: &mut Vec<u8>, first: u8, payload: &[u8], keys: &mut Option<u32>) {
    let key = keys.as_mut().map(|counter| {
        let key = counter.to_be_bytes();
        *counter += 1;
        key
    });
    wire.extend_from_slice(&common::raw_frame(first, payload, key));
}

/// Appends a data message's (or fragment's) compressed payload as frames
/// of at most `max_frame` bytes: `opcode` and RSV1 on the first if
/// `first`, continuations after, FIN on the last if `fin`.
fn frames(
    wire: &mut Vec<u8>,
    opcode: u8,
    first: bool,
    fin: bool,
    payload: &[u8],
    max_frame: usize,
    keys: &mut Option<u32>,
) {
    let chunks: Vec<&[u8]> = payload.chunks(max_frame).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut byte = if i == 0 && first { opcode | 0x40 } else { 0 };
        if fin && i + 1 == chunks.len() {
            byte |= 0x80;
        }
        frame(wire, byte, chunk, keys);
    }
}

/// Text that compresses (and refers back across messages), and noise that
/// does not, in `len` bytes.
fn data(seed: u64, len: usize, noise: bool) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let words = ["alpha ", "beta ", "gamma ", "delta ", "epsilon ", "zeta "];
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if noise {
            out.extend_from_slice(&state.to_le_bytes());
        } else {
            out.extend_from_slice(words[(state % 6) as usize].as_bytes());
        }
    }
    out.truncate(len);
    out
}

/// Sends a sequence of whole messages and fragmented ones, writing part of
/// the output now and then; compares the bytes written with the oracle's.
fn check(role: Role, bits: u8, takeover: bool, max_frame: usize) {
    let params = DeflateParams {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    };
    let config = Config::builder()
        .max_outgoing_frame_size(max_frame as u64)
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let mut counter = 0x0102_0304u32;
    let mut conn = Connection::with_deflate_and_mask_source(
        role,
        config,
        Some(params),
        Box::new(move || {
            let key = counter.to_be_bytes();
            counter += 1;
            key
        }),
    );
    let mut keys = matches!(role, Role::Client).then_some(0x0102_0304u32);
    let mut reference = Reference::new(bits, takeover);
    let (mut expected, mut written) = (Vec::new(), Vec::new());
    let sizes = [0, 1, 20, 20, 200, 1000, 5000, 70_000, 0, 20];
    for (i, &len) in sizes.iter().enumerate() {
        // Binary messages are noise (the 70 000 bytes need a 64-bit length).
        let binary = i % 2 == 1;
        let payload = data(i as u64, len, binary);
        let opcode = if binary { 2 } else { 1 };
        let message = |bytes: &[u8]| match binary {
            true => Message::Binary(bytes.to_vec().into()),
            false => Message::from(String::from_utf8(bytes.to_vec()).unwrap()),
        };
        if i % 4 == 2 {
            // In three fragments (the last empty for one message).
            let cuts = [0, len / 3, if i == 6 { len } else { len / 2 }, len];
            for f in 0..3 {
                let piece = &payload[cuts[f]..cuts[f + 1]];
                let fin = f == 2;
                conn.send_fragment(message(piece), fin).expect("open");
                let compressed = reference.fragment(piece, fin);
                frames(
                    &mut expected,
                    opcode,
                    f == 0,
                    fin,
                    &compressed,
                    max_frame,
                    &mut keys,
                );
            }
        } else {
            conn.send(message(&payload)).expect("open");
            let compressed = reference.fragment(&payload, true);
            frames(
                &mut expected,
                opcode,
                true,
                true,
                &compressed,
                max_frame,
                &mut keys,
            );
        }
        // Part of the output written: the next frames go after what stays.
        if i % 3 == 1 {
            let some = conn.pending_output().len().min(7);
            written.extend_from_slice(&conn.pending_output()[..some]);
            conn.consume_output(some);
        }
    }
    written.extend_from_slice(&conn.take_output());
    assert!(
        written == expected,
        "{role:?}, {bits} bits, takeover {takeover}, frames of {max_frame}: {} bytes written, {} expected, first difference at {:?}",
        written.len(),
        expected.len(),
        written.iter().zip(&expected).position(|(a, b)| a != b)
    );
}

#[test]
fn compressed_frames_are_the_reference_compressors_bytes() {
    for role in [Role::Server, Role::Client] {
        for bits in 8..=15 {
            for takeover in [true, false] {
                check(role, bits, takeover, usize::MAX >> 1);
            }
        }
    }
}

#[test]
fn compressed_payloads_over_the_frame_bound_go_as_the_reference_compressors_frames() {
    for role in [Role::Server, Role::Client] {
        for takeover in [true, false] {
            for max_frame in [1, 100, 4096] {
                check(role, 15, takeover, max_frame);
            }
        }
    }
}
