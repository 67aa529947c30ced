//! A code point cut before a long chunk (125 B to 8 KiB, the block loop's
//! inputs) is judged with the bytes that complete it: with every kernel
//! this CPU runs, every cut of valid and invalid sequences, chunks that do
//! and do not end on a block, errors inside the long chunk at block edges,
//! and code points carried from one long chunk into the next, the error
//! (`valid_up_to`, `error_len`) and the chunk that reports it are std's.
//!
//! One test in its own binary: it forces the kernel for the whole process.

mod common;

use common::check_chunked;
use utf8stream::__bench::{force_kernel, kernel, Kernel};

const SEQUENCES: &[&[u8]] = &[
    &[0xC3, 0xA9],
    &[0xE2, 0x82, 0xAC],
    &[0xF0, 0x9F, 0x98, 0x80],
    &[0xF4, 0x8F, 0xBF, 0xBF],
    &[0xEF, 0xBF, 0xBF],
    // Overlong, surrogate, past U+10FFFF.
    &[0xC0, 0xAF],
    &[0xE0, 0x80, 0xAF],
    &[0xE0, 0x9F, 0xBF],
    &[0xF0, 0x8F, 0xBF, 0xBF],
    &[0xED, 0xA0, 0x80],
    &[0xED, 0xBF, 0xBF],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0xF5, 0x80, 0x80, 0x80],
    // A continuation missing: ASCII, a lead, or the end of the stream.
    &[0xE2, 0x82, 0x41],
    &[0xF0, 0x9F, 0x98, 0x41],
    &[0xF0, 0x9F, 0x41],
    &[0xC3, 0xC3, 0xA9],
    &[0xF0, 0x9F, 0x98, 0xF0, 0x9F, 0x98, 0x80],
    // One continuation too many.
    &[0xE2, 0x82, 0xAC, 0xAC],
    &[0xC3, 0xA9, 0x80],
];

const LONG: &[usize] = &[
    125, 126, 127, 128, 129, 159, 160, 191, 192, 193, 255, 256, 1000, 2047, 2048, 4095, 4096, 4097,
    8191, 8192,
];

const FILLERS: &[&str] = &[
    "a",
    "\u{e9}",
    "\u{20ac}",
    "\u{1f600}",
    "a\u{e9}\u{20ac}\u{1f600}",
];

fn kernels() -> Vec<Kernel> {
    [Kernel::Portable, Kernel::Avx2, Kernel::Avx512, Kernel::Neon]
        .into_iter()
        .filter(|&k| force_kernel(k))
        .collect()
}

/// `head`, then `filler` repeated to `len` bytes in all (cut anywhere).
fn filled(head: &[u8], filler: &str, len: usize) -> Vec<u8> {
    let mut bytes = head.to_vec();
    while bytes.len() < len {
        bytes.extend_from_slice(filler.as_bytes());
    }
    bytes.truncate(len);
    bytes
}

#[test]
#[cfg_attr(miri, ignore)] // seconds natively, hours under Miri
fn code_points_carried_into_long_chunks_give_stds_verdict_with_every_kernel() {
    let kernels = kernels();
    assert!(kernels.contains(&Kernel::Portable));
    for &k in &kernels {
        assert!(force_kernel(k));
        assert_eq!(kernel(), k);
        // A sequence cut before a long chunk that completes (or breaks) it.
        for &sequence in SEQUENCES {
            for cut in 1..sequence.len() {
                for &len in LONG {
                    for filler in FILLERS {
                        for before in [&b"ab"[..], "\u{e9}x".as_bytes(), &[b'a'; 130][..]] {
                            let mut stream = before.to_vec();
                            stream.extend_from_slice(&sequence[..cut]);
                            let first = stream.len();
                            // The long chunk: the rest of the sequence,
                            // then the filler, `len` bytes in all, cut
                            // where the filler's code points are cut.
                            let long = filled(&sequence[cut..], filler, len);
                            let whole = long.len() - utf8stream::unfinished_tail_len(&long);
                            stream.extend_from_slice(&long[..whole]);
                            check_chunked(&stream, &[first]);
                            // And a short chunk after it.
                            stream.extend_from_slice(&sequence[..cut]);
                            check_chunked(&stream, &[first, first + whole]);
                        }
                    }
                }
            }
        }
        // An error inside a long chunk after a carried code point, at and
        // around block edges.
        for &len in &[256, 4096] {
            for at in [
                0,
                1,
                2,
                3,
                62,
                63,
                64,
                65,
                127,
                128,
                len - 65,
                len - 64,
                len - 4,
            ] {
                for bad in [&[0x80][..], &[0xC0, 0x80], &[0xED, 0xA0, 0x80], &[0xFF]] {
                    let mut long = filled(&[0x82, 0xAC], "a", len);
                    long[at.max(2)..at.max(2) + bad.len()].copy_from_slice(bad);
                    let mut stream = b"x\xE2".to_vec();
                    stream.extend_from_slice(&long);
                    check_chunked(&stream, &[2]);
                }
            }
        }
        // Multi-byte text in long chunks, each cut inside a code point, so
        // every chunk after the first starts with a carried one.
        for filler in &FILLERS[1..] {
            let text = filled(b"", filler, 3 * 8192 + 16);
            let text = &text[..text.len() - utf8stream::unfinished_tail_len(&text)];
            for &len in &[125, 128, 130, 1000, 4096] {
                for shift in 0..4 {
                    let cuts: Vec<usize> = (1..)
                        .map(|i| i * len + shift)
                        .take_while(|&c| c < text.len())
                        .collect();
                    check_chunked(text, &cuts);
                    // The same with one byte broken near the end.
                    let mut broken = text.to_vec();
                    let at = broken.len() - 40;
                    broken[at] = 0xFF;
                    check_chunked(&broken, &cuts);
                }
            }
        }
    }
}
