//! The differential fuzz harness, in the library so that it is compiled and
//! linted with it, and replayed on stable by `cargo test -p utf8stream`
//! (`tests/fuzz_corpus.rs`: every seed and regression input);
//! `fuzz/fuzz_targets/utf8_stream.rs` only calls it. It runs the kernel this
//! CPU was given (`arch`). Not part of the public API.

use crate::Utf8Validator;

/// Cuts the input into chunks chosen by its first bytes, validates it
/// streaming, and panics if the result differs from `core::str::from_utf8`:
/// ok/err, `valid_up_to`, `error_len`, and the chunk that reports the error
/// (the earliest one after which the bytes can no longer be valid UTF-8);
/// after each chunk, the carried bytes are the last ones fed. The same for
/// the fused entries (copying and in place), masked, which must also give the
/// bytes back unmasked.
///
/// Layout: `data[0]` = n, the number of chunk-size bytes that follow (0..=7);
/// the next n bytes are chunk sizes used in a cycle (0 means an empty chunk);
/// the rest is the text.
pub fn utf8_stream(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 8).min(rest.len());
    let (sizes, text) = rest.split_at(n);
    let mut chunks = alloc_free_chunks(text, sizes);

    let expected = core::str::from_utf8(text);
    // The shortest prefix that core rejects outright (error_len is Some):
    // a fail-fast validator must report the error in the chunk holding its
    // last byte.
    let dead_prefix = expected.err().and_then(|e| {
        (e.valid_up_to() + 1..=text.len())
            .find(|&k| core::str::from_utf8(&text[..k]).is_err_and(|e| e.error_len().is_some()))
    });

    let mut validator = Utf8Validator::new();
    let mut fed = 0usize;
    let mut outcome = None;
    for chunk in &mut chunks {
        fed += chunk.len();
        if let Err(err) = validator.feed(chunk) {
            outcome = Some((Some(fed), err));
            break;
        }
        assert_eq!(
            validator.pending_bytes(),
            &text[fed - validator.pending()..fed],
            "carried bytes"
        );
        if let Some(dead) = dead_prefix {
            assert!(
                fed < dead,
                "no error after {fed} bytes; bytes up to {dead} are invalid"
            );
        }
    }
    if outcome.is_none() {
        if let Err(err) = validator.finish() {
            outcome = Some((None, err));
        }
    }
    // The fused path over the same chunks, masked: the same bytes back, the
    // same outcome at the same chunk.
    let plain = outcome.map(|(fed, err)| (fed, err.valid_up_to(), err.error_len()));
    if let Some(fused) = unmasking_outcome(alloc_free_chunks(text, sizes), false) {
        assert_eq!(fused, plain, "feed_unmasking differs from feed");
    }
    if let Some(fused) = unmasking_outcome(alloc_free_chunks(text, sizes), true) {
        assert_eq!(fused, plain, "feed_unmasking_in_place differs from feed");
    }
    match (expected, outcome) {
        (Ok(_), None) => {}
        (Err(want), Some((fed_at_error, got))) => {
            assert_eq!(got.valid_up_to(), want.valid_up_to() as u64, "valid_up_to");
            assert_eq!(got.error_len(), want.error_len(), "error_len");
            match (dead_prefix, fed_at_error) {
                (Some(dead), Some(fed)) => {
                    assert!(fed >= dead, "failed before the error was certain")
                }
                (None, None) => {}
                (dead, fed) => {
                    panic!("failed at the wrong time: dead prefix {dead:?}, fed {fed:?}")
                }
            }
            // Sticky.
            assert_eq!(validator.feed(b"a"), Err(got));
        }
        (want, got) => panic!("core says {want:?}, the validator says {got:?}"),
    }
}

type Outcome = Option<(Option<usize>, u64, Option<usize>)>;

/// Feeds the chunks masked with a fixed key through `feed_unmasking` (or,
/// `in_place`, `feed_unmasking_in_place`), checking that each comes back
/// unmasked; the chunk where it failed, as
/// bytes fed (`None` for `finish`), and the error. `None` if a chunk is
/// longer than the harness's fixed buffers.
fn unmasking_outcome<'a>(
    chunks: impl Iterator<Item = &'a [u8]>,
    in_place: bool,
) -> Option<Outcome> {
    const KEY: [u8; 4] = [0x3C, 0xA5, 0x0F, 0x96];
    let mut validator = Utf8Validator::new();
    let mut fed = 0usize;
    // Chunks come from fuzz inputs, which libFuzzer keeps short by default;
    // a fixed buffer keeps the harness allocation-free.
    let mut masked = [0u8; 4096];
    let mut out = [0u8; 4096];
    for chunk in chunks {
        let n = chunk.len();
        if n > masked.len() {
            return None;
        }
        for (i, (m, b)) in masked.iter_mut().zip(chunk).enumerate() {
            *m = b ^ KEY[(fed + i) % 4];
        }
        let r = fed % 4;
        let key = [KEY[r], KEY[(r + 1) % 4], KEY[(r + 2) % 4], KEY[(r + 3) % 4]];
        fed += n;
        let result = if in_place {
            out[..n].copy_from_slice(&masked[..n]);
            validator.feed_unmasking_in_place(&mut out[..n], key)
        } else {
            validator.feed_unmasking(&mut out[..n], &masked[..n], key)
        };
        assert_eq!(&out[..n], chunk, "unmasked bytes differ");
        if let Err(err) = result {
            return Some(Some((Some(fed), err.valid_up_to(), err.error_len())));
        }
    }
    Some(
        validator
            .finish()
            .err()
            .map(|err| (None, err.valid_up_to(), err.error_len())),
    )
}

/// An iterator over `text` in chunks whose sizes cycle through `sizes`.
fn alloc_free_chunks<'a>(text: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = text;
    let mut i = 0;
    let mut done = false;
    core::iter::from_fn(move || {
        if done {
            return None;
        }
        if rest.is_empty() {
            done = true;
            return Some(rest);
        }
        // All-zero sizes would never make progress: take the rest whole.
        let size = if sizes.iter().all(|&s| s == 0) {
            rest.len()
        } else {
            sizes[i % sizes.len()] as usize
        };
        i += 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}
