//! Property: under any chunking, the validator agrees with std, including on
//! which chunk reports the error.

mod common;

use common::check_chunked;
use proptest::prelude::*;

/// Bytes biased towards almost-valid UTF-8: runs of real text of every width,
/// with lone bytes (continuations, surrogate and out-of-range leads) mixed in.
fn near_utf8() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[a-z ]{0,20}".prop_map(String::into_bytes),
        3 => "[é ß ж Ω 中 文 😀 🎉 \u{10FFFF}\u{FFFD}]{0,12}".prop_map(String::into_bytes),
        2 => any::<u8>().prop_map(|b| vec![b]),
        1 => prop::sample::select(vec![
            vec![0xED, 0xA0, 0x80], vec![0xF4, 0x90, 0x80, 0x80], vec![0xC0, 0xAF],
            vec![0xE0, 0x80, 0xAF], vec![0xF0, 0x8F, 0xBF, 0xBF], vec![0xF8],
            vec![0xE2, 0x82], vec![0xF0, 0x9F, 0x98], vec![0x80],
        ]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn bytes_and_cuts() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    prop_oneof![near_utf8(), prop::collection::vec(any::<u8>(), 0..300)].prop_flat_map(|bytes| {
        let len = bytes.len();
        let cuts = prop::collection::vec(0..=len, 0..12).prop_map(|mut c| {
            c.sort_unstable();
            c
        });
        (Just(bytes), cuts)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn streaming_equals_std_under_any_chunking((bytes, cuts) in bytes_and_cuts()) {
        check_chunked(&bytes, &cuts);
    }

    #[test]
    fn one_shot_equals_std(bytes in near_utf8()) {
        let ours = utf8stream::validate(&bytes).map_err(|e| (e.valid_up_to(), e.error_len()));
        let std = std::str::from_utf8(&bytes).map_err(|e| (e.valid_up_to() as u64, e.error_len()));
        prop_assert_eq!(ours, std);
    }

    #[test]
    fn long_inputs_through_the_simd_path_in_fixed_chunks(
        bytes in prop::collection::vec(near_utf8(), 1..8).prop_map(|v| v.concat()),
        size in 1usize..200,
    ) {
        let cuts: Vec<usize> = (size..bytes.len()).step_by(size).collect();
        check_chunked(&bytes, &cuts);
    }
}

proptest! {
    #[test]
    fn check_equals_std(bytes in near_utf8()) {
        let ours = utf8stream::check(&bytes).map_err(|e| (e.valid_up_to(), e.error_len()));
        let std = std::str::from_utf8(&bytes).map(drop).map_err(|e| (e.valid_up_to() as u64, e.error_len()));
        prop_assert_eq!(ours, std);
    }
}
