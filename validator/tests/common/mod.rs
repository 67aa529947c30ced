//! The oracle every validator test compares against: `std::str::from_utf8`.

use utf8stream::{Utf8Error, Utf8Validator};

/// What std says about a whole stream, plus the fail-fast point derived from
/// std alone: the length of the shortest prefix that std rejects with
/// `error_len() == Some(_)`, i.e. that no further bytes could repair.
#[derive(Debug, PartialEq, Eq)]
pub struct Expected {
    pub error: Option<(u64, Option<usize>)>,
    pub dead_prefix_len: Option<usize>,
}

pub fn expected(bytes: &[u8]) -> Expected {
    match std::str::from_utf8(bytes) {
        Ok(_) => Expected {
            error: None,
            dead_prefix_len: None,
        },
        Err(e) => {
            let start = e.valid_up_to();
            let dead_prefix_len = (start + 1..=bytes.len()).find(|&k| {
                std::str::from_utf8(&bytes[..k])
                    .err()
                    .is_some_and(|e| e.error_len().is_some())
            });
            Expected {
                error: Some((start as u64, e.error_len())),
                dead_prefix_len,
            }
        }
    }
}

/// Where a streaming run stopped: the index of the chunk whose `feed` failed
/// (`chunks.len()` for `finish`), and the error. The same chunks, masked, go
/// through `feed_unmasking` too, which must unmask them exactly and stop at
/// the same chunk with the same error.
pub fn run(chunks: &[&[u8]]) -> Option<(usize, Utf8Error)> {
    let plain = run_plain(chunks);
    assert_eq!(
        run_unmasking(chunks),
        plain,
        "feed_unmasking differs from feed"
    );
    plain
}

const KEY: [u8; 4] = [0xA5, 0x0F, 0x3C, 0x81];

fn run_unmasking(chunks: &[&[u8]]) -> Option<(usize, Utf8Error)> {
    let mut v = Utf8Validator::new();
    let mut at = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let masked: Vec<u8> = chunk
            .iter()
            .enumerate()
            .map(|(j, b)| b ^ KEY[(at + j) % 4])
            .collect();
        let r = at % 4;
        let key = [KEY[r], KEY[(r + 1) % 4], KEY[(r + 2) % 4], KEY[(r + 3) % 4]];
        at += chunk.len();
        // Even chunks go into initialized memory, odd ones into spare
        // capacity.
        let mut out = Vec::with_capacity(chunk.len());
        let result = if i % 2 == 0 {
            out.resize(chunk.len(), 0x55);
            v.feed_unmasking(&mut out, &masked, key)
        } else {
            let result =
                v.feed_unmasking_uninit(&mut out.spare_capacity_mut()[..chunk.len()], &masked, key);
            // SAFETY: `feed_unmasking_uninit` initializes all of `dst`,
            // whatever it returns.
            unsafe { out.set_len(chunk.len()) };
            result
        };
        assert_eq!(&out, chunk, "unmasked bytes differ");
        if let Err(e) = result {
            assert_eq!(v.finish(), Err(e));
            return Some((i, e));
        }
    }
    v.finish().err().map(|e| (chunks.len(), e))
}

fn run_plain(chunks: &[&[u8]]) -> Option<(usize, Utf8Error)> {
    let mut v = Utf8Validator::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if let Err(e) = v.feed(chunk) {
            // Sticky: the same error again, including from finish.
            assert_eq!(v.feed(b"a"), Err(e));
            assert_eq!(v.finish(), Err(e));
            return Some((i, e));
        }
    }
    v.finish().err().map(|e| (chunks.len(), e))
}

/// Feeds `bytes` cut at `cuts` (sorted offsets) and asserts agreement with std:
/// the same error, reported by the chunk holding the last byte of the shortest
/// dead prefix (or by `finish` if only the end shows the error).
pub fn check_chunked(bytes: &[u8], cuts: &[usize]) {
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        chunks.push(&bytes[start..cut]);
        start = cut;
    }
    chunks.push(&bytes[start..]);
    let want = expected(bytes);
    let got = run(&chunks);
    match (want.error, got) {
        (None, None) => {}
        (Some((valid_up_to, error_len)), Some((index, err))) => {
            assert_eq!(
                (err.valid_up_to(), err.error_len()),
                (valid_up_to, error_len),
                "error mismatch for {bytes:02x?} cut at {cuts:?}"
            );
            let want_index = match want.dead_prefix_len {
                // The chunk that holds byte `dead - 1`.
                Some(dead) => chunk_holding(&chunks, dead - 1),
                None => chunks.len(),
            };
            assert_eq!(
                index, want_index,
                "failed on the wrong chunk for {bytes:02x?} cut at {cuts:?}"
            );
        }
        (want, got) => {
            panic!("std says {want:?}, validator says {got:?} for {bytes:02x?} cut at {cuts:?}")
        }
    }
}

/// The index of the chunk that holds byte `byte` of the stream `chunks`
/// cut it into.
pub fn chunk_holding(chunks: &[&[u8]], byte: usize) -> usize {
    let mut end = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        end += chunk.len();
        if byte < end {
            return i;
        }
    }
    unreachable!("byte {byte} is past the end")
}
