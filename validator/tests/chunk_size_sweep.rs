//! Chunk sizes 1 to 40 mix the short-chunk automaton (under 32 bytes), the
//! padded blocks and the block loop in one stream, with a carried code
//! point between them: every adversarial sequence, at every offset in
//! ASCII and in multi-byte text, under every fixed chunk size and under
//! sizes that alternate between the paths, must give std's error
//! (`valid_up_to`, `error_len`), from the chunk that holds the first byte
//! no continuation could repair, and stay failed afterwards.

mod common;

use common::{check_chunked, expected, run};
use proptest::prelude::*;

/// Truncated, overlong, surrogate and past-U+10FFFF sequences, stray
/// continuations and leads that can never begin a code point, and valid
/// code points of every width (which must pass however they are cut).
const SEQUENCES: &[&[u8]] = &[
    &[0xF0, 0x9F, 0x98, 0x80],
    &[0xF4, 0x8F, 0xBF, 0xBF],
    &[0xE2, 0x82, 0xAC],
    &[0xC3, 0xA9],
    &[0xF0, 0x9F, 0x98],
    &[0xE2, 0x82],
    &[0xC3],
    &[0xC0, 0xAF],
    &[0xC1, 0xBF],
    &[0xE0, 0x80, 0xAF],
    &[0xE0, 0x9F, 0xBF],
    &[0xF0, 0x8F, 0xBF, 0xBF],
    &[0xED, 0xA0, 0x80],
    &[0xED, 0xBF, 0xBF],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0xF5, 0x80, 0x80, 0x80],
    &[0xF8, 0x88, 0x80, 0x80, 0x80],
    &[0xFF],
    &[0x80],
    &[0xBF, 0xBF],
    &[0xC3, 0xC3, 0xA9],
    &[0xF0, 0x9F, 0x41],
];

/// `filler` repeated to at least `len` bytes.
fn text(filler: &str, len: usize) -> Vec<u8> {
    filler.repeat(len.div_ceil(filler.len())).into_bytes()
}

/// Feeds `bytes` in chunks of the given sizes (cycled) and compares with
/// std; `run` also checks that the error stays and `feed_unmasking` agrees.
fn check_sizes(bytes: &[u8], sizes: &[usize], want: &common::Expected) {
    let mut chunks = Vec::new();
    let mut start = 0;
    for &size in sizes.iter().cycle() {
        if start >= bytes.len() {
            break;
        }
        let end = (start + size).min(bytes.len());
        chunks.push(&bytes[start..end]);
        start = end;
    }
    let got = run(&chunks);
    match (&want.error, got) {
        (None, None) => {}
        (Some((valid_up_to, error_len)), Some((index, err))) => {
            assert_eq!(
                (err.valid_up_to(), err.error_len()),
                (*valid_up_to, *error_len),
                "{bytes:02X?} in chunks of {sizes:?}"
            );
            let want_index = match want.dead_prefix_len {
                Some(dead) => (0..chunks.len())
                    .find(|&i| chunks[..=i].iter().map(|c| c.len()).sum::<usize>() >= dead)
                    .expect("dead prefix inside the stream"),
                None => chunks.len(),
            };
            assert_eq!(index, want_index, "{bytes:02X?} in chunks of {sizes:?}");
        }
        (want, got) => panic!("std says {want:?}, validator {got:?}: {bytes:02X?} {sizes:?}"),
    }
}

#[test]
fn every_sequence_at_every_offset_under_every_chunk_size() {
    let step = if cfg!(miri) { 23 } else { 1 };
    for filler in ["a", "é", "中", "😀"] {
        for &sequence in SEQUENCES {
            for offset in (0..72).step_by(step) {
                let mut bytes = text(filler, offset);
                bytes.extend_from_slice(sequence);
                bytes.extend_from_slice(&text(filler, 8));
                let want = expected(&bytes);
                for size in (1..=40).step_by(step) {
                    check_sizes(&bytes, &[size], &want);
                }
                // Alternating between the automaton and the block paths,
                // with a tiny chunk to cut a code point between them.
                for sizes in [
                    &[1, 33][..],
                    &[31, 1, 2],
                    &[3, 40, 1],
                    &[2, 1, 1, 64],
                    &[7, 100],
                ] {
                    check_sizes(&bytes, sizes, &want);
                }
            }
        }
    }
}

/// The same sequences at every offset of a chunk long enough for the block
/// loop (two blocks a step, a pair not all ASCII checked in full), whole
/// and after a short chunk that leaves a code point carried into it.
#[test]
fn every_sequence_at_every_offset_of_a_long_chunk() {
    let step = if cfg!(miri) { 29 } else { 1 };
    for filler in ["a", "é", "😀"] {
        for &sequence in SEQUENCES {
            for offset in (0..200).step_by(step) {
                let mut bytes = text(filler, offset);
                bytes.extend_from_slice(sequence);
                bytes.extend_from_slice(&text(filler, 200));
                let want = expected(&bytes);
                for sizes in [&[usize::MAX][..], &[1, 300], &[3, 128, 1], &[30, 140]] {
                    check_sizes(&bytes, sizes, &want);
                }
            }
        }
    }
}

#[test]
fn a_code_point_cut_across_one_byte_chunks_between_long_ones() {
    for sequence in SEQUENCES.iter().filter(|s| s.len() > 1) {
        for lead_in in [0usize, 1, 31, 32, 63, 64, 65, 124, 125] {
            let mut bytes = text("a", lead_in);
            let at = bytes.len();
            bytes.extend_from_slice(sequence);
            bytes.extend_from_slice(&text("ж", 70));
            let want = expected(&bytes);
            // Whole run before it, then one byte a chunk through it, then
            // the rest in one piece.
            let mut chunks: Vec<&[u8]> = vec![&bytes[..at]];
            for i in at..at + sequence.len() {
                chunks.push(&bytes[i..=i]);
            }
            chunks.push(&bytes[at + sequence.len()..]);
            let got = run(&chunks).map(|(_, e)| (e.valid_up_to(), e.error_len()));
            assert_eq!(got, want.error, "{bytes:02X?}");
            // And every byte its own chunk, where the fail-fast chunk shows.
            let every: Vec<usize> = (1..bytes.len()).collect();
            check_chunked(&bytes, &every);
        }
    }
}

#[test]
fn finish_inside_a_code_point_reports_the_cut_at_its_lead() {
    for prefix in [
        &[0xC3][..],
        &[0xE2, 0x82],
        &[0xF0, 0x9F, 0x98],
        &[0xF4, 0x8F],
    ] {
        for lead_in in [0usize, 5, 31, 40, 64, 100] {
            let mut bytes = text("a", lead_in);
            bytes.extend_from_slice(prefix);
            let want = std::str::from_utf8(&bytes).unwrap_err();
            for size in 1..=40 {
                let mut v = utf8stream::Utf8Validator::new();
                for chunk in bytes.chunks(size) {
                    v.feed(chunk).expect("a valid prefix so far");
                }
                let err = v.finish().unwrap_err();
                assert_eq!(err.valid_up_to(), want.valid_up_to() as u64);
                assert_eq!(err.error_len(), None);
                // And stays failed.
                assert_eq!(v.feed(b"\x80"), Err(err));
                assert_eq!(v.finish(), Err(err));
            }
        }
    }
}

fn mixed_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => "[a-z]{0,40}".prop_map(String::into_bytes),
        3 => "[é中😀\u{10FFFF}\u{7FF}\u{800}\u{FFFF}\u{10000}]{0,20}".prop_map(String::into_bytes),
        1 => prop::sample::select(SEQUENCES.to_vec()).prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 8 } else { 2048 }))]

    #[test]
    fn random_text_under_random_chunk_sizes_up_to_40(
        bytes in mixed_text(),
        sizes in prop::collection::vec(1usize..=40, 1..8),
    ) {
        check_sizes(&bytes, &sizes, &expected(&bytes));
    }
}

/// After an error, chunks of every path (empty, ASCII, short, padded, long,
/// valid or not) and `finish` give that same error, and after `reset` the
/// validator judges a new stream from offset 0, its carry forgotten.
#[test]
fn after_an_error_every_path_repeats_it_and_reset_starts_over() {
    let long_text = "ж".repeat(150);
    let later: [&[u8]; 7] = [
        b"",
        b"a",
        "é".as_bytes(),
        &[0xE2, 0x82],
        &[0x80; 40],
        long_text.as_bytes(),
        &[0xF0; 300],
    ];
    for &sequence in SEQUENCES {
        let mut bytes = text("a", 20);
        bytes.extend_from_slice(sequence);
        bytes.push(b'!');
        let Err(std_err) = std::str::from_utf8(&bytes) else {
            continue;
        };
        for size in [1, 5, 31, 32, 100, 200] {
            let mut v = utf8stream::Utf8Validator::new();
            let err = bytes
                .chunks(size)
                .find_map(|chunk| v.feed(chunk).err())
                .or_else(|| v.finish().err())
                .expect("an error");
            assert_eq!(err.valid_up_to(), std_err.valid_up_to() as u64);
            assert_eq!(err.error_len(), std_err.error_len());
            for chunk in later {
                assert_eq!(v.feed(chunk), Err(err), "{chunk:02X?} after {bytes:02X?}");
            }
            assert_eq!(v.finish(), Err(err));
            v.reset();
            assert_eq!(v.pending_bytes(), b"");
            v.feed(&[0xE2, 0x82]).unwrap();
            assert_eq!(v.feed(&[0xFF]).unwrap_err().valid_up_to(), 0);
            v.reset();
            v.feed(long_text.as_bytes()).unwrap();
            assert_eq!(v.finish(), Ok(()));
        }
    }
}
