//! Every 1-, 2- and 3-byte sequence, and every 4-byte sequence led by F0..F4
//! whose last two bytes come from a boundary set, against std: whole and split
//! at every point.

mod common;

use common::check_chunked;

fn check_all_splits(bytes: &[u8]) {
    check_chunked(bytes, &[]);
    for i in 0..=bytes.len() {
        check_chunked(bytes, &[i]);
    }
    check_chunked(bytes, &(1..bytes.len()).collect::<Vec<_>>());
}

#[test]
fn all_one_and_two_byte_sequences() {
    for a in 0..=255u8 {
        check_all_splits(&[a]);
        for b in 0..=255u8 {
            check_all_splits(&[a, b]);
        }
    }
}

#[test]
fn all_three_byte_sequences() {
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            for c in 0..=255u8 {
                let bytes = [a, b, c];
                check_chunked(&bytes, &[]);
                check_chunked(&bytes, &[1]);
                check_chunked(&bytes, &[2]);
                check_chunked(&bytes, &[1, 2]);
            }
        }
    }
}

#[test]
fn four_byte_sequences_with_boundary_tails() {
    const EDGES: [u8; 10] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF];
    for a in 0xF0..=0xF4u8 {
        for b in 0..=255u8 {
            for c in EDGES {
                for d in EDGES {
                    check_all_splits(&[a, b, c, d]);
                }
            }
        }
    }
}
