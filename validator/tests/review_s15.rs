//! Session 15's review of `utf8stream` as a standalone user sees it, with the
//! portable and every SIMD kernel this CPU runs: every streaming entry
//! (`feed`, `feed_unmasking`, `feed_unmasking_uninit`,
//! `feed_unmasking_in_place`) against std on adversarial sequences at the
//! end of 2 and 3 chunks and byte by byte, with empty chunks between, an
//! invalid byte at every offset of 256 bytes under chunk sizes around the
//! 16/32/64-byte blocks; the carried bytes, `position`, the sticky error and
//! `reset`; the fused entries and the masking kernels on slices of a larger
//! buffer at every alignment (bytes outside untouched, every byte inside
//! unmasked once, even when the validator had already failed); the one-shot
//! `validate`, `check`, `check_unmasking_in_place` and
//! `unfinished_tail_len`.
//!
//! The kernel is forced for the whole process, so every test takes one lock.

// Only its oracle, `expected`, and `chunk_holding` are used here.
#[allow(dead_code)]
mod common;

use std::mem::MaybeUninit;
use std::sync::Mutex;

use common::{chunk_holding, expected};
use utf8stream::__bench::{force_kernel, Kernel};
use utf8stream::mask::{apply_mask, rotate_key, unmask_into};
use utf8stream::{Utf8Error, Utf8Validator};

static KERNEL: Mutex<()> = Mutex::new(());

/// Runs `test` once under each kernel this CPU runs, holding the lock.
fn with_each_kernel(test: impl Fn(Kernel)) {
    let _guard = KERNEL.lock().unwrap_or_else(|e| e.into_inner());
    let mut ran = Vec::new();
    for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512, Kernel::Neon] {
        if force_kernel(kernel) {
            test(kernel);
            ran.push(kernel);
        }
    }
    assert!(ran.contains(&Kernel::Portable));
}

const KEY: [u8; 4] = [0x9C, 0x01, 0xFE, 0x47];

/// The obvious definition of masking (RFC 6455 §5.3), for byte `offset` on.
fn mask_reference(bytes: &[u8], key: [u8; 4], offset: usize) -> Vec<u8> {
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[(offset + i) % 4])
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Entry {
    Feed,
    Unmasking,
    Uninit,
    InPlace,
}

const ENTRIES: [Entry; 4] = [Entry::Feed, Entry::Unmasking, Entry::Uninit, Entry::InPlace];

/// Bytes around every chunk in memory, and around every output: a lead
/// that would break the chunk's first byte if read as one before it, and
/// a continuation that would complete a lead at its end if read after it.
const BEFORE: u8 = 0xF0;
const AFTER: u8 = 0x80;
const MARGIN: usize = 67;

/// `bytes` at `MARGIN` in a buffer of `BEFORE` and `AFTER` bytes.
fn framed(bytes: &[u8]) -> Vec<u8> {
    let mut buf = vec![BEFORE; MARGIN];
    buf.extend_from_slice(bytes);
    buf.extend_from_slice(&[AFTER; MARGIN]);
    buf
}

/// The middle of a `framed` buffer of `len` bytes, its margins checked
/// untouched.
fn unframed(buf: &[u8], len: usize) -> &[u8] {
    assert!(
        buf[..MARGIN].iter().all(|&b| b == BEFORE),
        "wrote before the chunk"
    );
    assert!(
        buf[MARGIN + len..].iter().all(|&b| b == AFTER),
        "wrote after the chunk"
    );
    &buf[MARGIN..MARGIN + len]
}

/// Feeds `chunk` (plain text at stream offset `at`, lying in memory
/// between bytes that must not be read) through `entry`, masked with `KEY`
/// from the stream's start where the entry unmasks, and checks the bytes
/// come back unmasked whatever the result, and nothing around them
/// written.
fn feed_via(v: &mut Utf8Validator, entry: Entry, chunk: &[u8], at: usize) -> Result<(), Utf8Error> {
    let len = chunk.len();
    let range = MARGIN..MARGIN + len;
    let masked = framed(&mask_reference(chunk, KEY, at));
    let key = rotate_key(KEY, at);
    let (result, out) = match entry {
        Entry::Feed => {
            let plain = framed(chunk);
            return v.feed(&plain[range]);
        }
        Entry::Unmasking => {
            let mut out = framed(&vec![0x55; len]);
            (
                v.feed_unmasking(&mut out[range.clone()], &masked[range], key),
                out,
            )
        }
        Entry::Uninit => {
            let mut out = Vec::with_capacity(len + 2 * MARGIN);
            let spare = &mut out.spare_capacity_mut()[..len + 2 * MARGIN];
            for (i, b) in spare.iter_mut().enumerate() {
                if i < MARGIN {
                    b.write(BEFORE);
                } else if i >= MARGIN + len {
                    b.write(AFTER);
                }
            }
            let result = v.feed_unmasking_uninit(&mut spare[range.clone()], &masked[range], key);
            // SAFETY: the margins were written above, and
            // `feed_unmasking_uninit` documents that every byte of `dst` is
            // initialized when it returns, `Ok` or `Err`.
            unsafe { out.set_len(len + 2 * MARGIN) };
            (result, out)
        }
        Entry::InPlace => {
            let mut out = masked;
            (v.feed_unmasking_in_place(&mut out[range], key), out)
        }
    };
    assert_eq!(
        unframed(&out, len),
        chunk,
        "{entry:?} left the bytes masked ({result:?})"
    );
    result
}

/// Feeds `chunks` through `entry` and compares with std on their
/// concatenation: the error, the chunk that reports it (the one holding the
/// last byte of the shortest prefix std rejects outright, else `finish`),
/// the carried bytes and `position` after each chunk, and the sticky error.
fn check_stream(chunks: &[&[u8]], entry: Entry, kernel: Kernel) {
    let bytes = chunks.concat();
    let want = expected(&bytes);
    let context = || format!("{kernel:?} {entry:?} {chunks:02X?}");
    let mut v = Utf8Validator::new();
    let mut at = 0;
    let mut outcome = None;
    for (i, chunk) in chunks.iter().enumerate() {
        let result = feed_via(&mut v, entry, chunk, at);
        at += chunk.len();
        match result {
            Ok(()) => {
                // What is carried is the tail std leaves unjudged: the
                // bytes from `valid_up_to` of a prefix that is only cut.
                let carried = match std::str::from_utf8(&bytes[..at]) {
                    Ok(_) => 0,
                    Err(e) => {
                        assert_eq!(
                            e.error_len(),
                            None,
                            "no error after {at} bytes: {}",
                            context()
                        );
                        at - e.valid_up_to()
                    }
                };
                assert_eq!(v.pending(), carried, "{}", context());
                assert_eq!(v.pending_bytes(), &bytes[at - carried..at], "{}", context());
                assert_eq!(v.position(), at as u64, "{}", context());
            }
            Err(err) => {
                assert_eq!(
                    (v.position(), v.pending()),
                    (at as u64, 0),
                    "after the error: {}",
                    context()
                );
                outcome = Some((i, err));
                break;
            }
        }
    }
    let outcome = outcome.or_else(|| v.finish().err().map(|e| (chunks.len(), e)));
    match (want.error, outcome) {
        (None, None) => {
            // `finish` again, and `finish` changes nothing.
            assert_eq!(v.finish(), Ok(()), "{}", context());
            assert_eq!(v.position(), bytes.len() as u64);
        }
        (Some((valid_up_to, error_len)), Some((index, err))) => {
            assert_eq!(
                (err.valid_up_to(), err.error_len()),
                (valid_up_to, error_len),
                "{}",
                context()
            );
            let want_index = match want.dead_prefix_len {
                Some(dead) => chunk_holding(chunks, dead - 1),
                None => chunks.len(),
            };
            assert_eq!(index, want_index, "wrong chunk: {}", context());
            // Sticky through every entry, with the bytes still unmasked.
            for later in ENTRIES {
                for chunk in [&b""[..], b"a", &[0xE2, 0x82], &[b'x'; 200]] {
                    assert_eq!(
                        feed_via(&mut v, later, chunk, at),
                        Err(err),
                        "{}",
                        context()
                    );
                    at += chunk.len();
                    assert_eq!((v.position(), v.pending()), (at as u64, 0), "{}", context());
                }
            }
            assert_eq!(v.finish(), Err(err));
            assert_eq!((v.position(), v.pending()), (at as u64, 0), "{}", context());
            // And `reset` starts over from offset 0.
            v.reset();
            assert_eq!((v.pending(), v.position()), (0, 0));
            assert_eq!(feed_via(&mut v, entry, "é".as_bytes(), 0), Ok(()));
            assert_eq!(v.finish(), Ok(()));
        }
        (want, got) => panic!("std says {want:?}, validator {got:?}: {}", context()),
    }
}

/// `bytes` cut into chunks of `size` (cycled), with an empty chunk before
/// each if `empties`.
fn cut_by<'a>(bytes: &'a [u8], sizes: &[usize], empties: bool) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    for &size in sizes.iter().cycle() {
        if start >= bytes.len() {
            break;
        }
        if empties {
            chunks.push(&bytes[start..start]);
        }
        let end = (start + size).min(bytes.len());
        chunks.push(&bytes[start..end]);
        start = end;
    }
    if empties {
        chunks.push(&bytes[start..start]);
    }
    chunks
}

/// Cut, truncated, overlong, surrogate and past-U+10FFFF sequences, stray
/// continuations and leads that begin nothing.
const SEQUENCES: &[&[u8]] = &[
    &[0xC3, 0xA9],
    &[0xE2, 0x82, 0xAC],
    &[0xF0, 0x9F, 0x98, 0x80],
    &[0xF4, 0x8F, 0xBF, 0xBF],
    &[0xED, 0x9F, 0xBF],
    &[0xEE, 0x80, 0x80],
    &[0xC3],
    &[0xE2, 0x82],
    &[0xF0, 0x9F, 0x98],
    &[0xF4],
    &[0xF4, 0x8F],
    &[0xC0],
    &[0xC1, 0xBF],
    &[0xC0, 0x80],
    &[0xE0, 0x80],
    &[0xE0, 0x9F, 0xBF],
    &[0xE0, 0xA0],
    &[0xF0, 0x80],
    &[0xF0, 0x8F, 0xBF, 0xBF],
    &[0xF0, 0x90],
    &[0xED, 0xA0],
    &[0xED, 0xBF, 0xBF],
    &[0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80],
    &[0xF4, 0x90],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0xF5],
    &[0xF8, 0x88, 0x80, 0x80, 0x80],
    &[0xFE],
    &[0xFF],
    &[0x80],
    &[0xBF, 0xBF, 0xBF],
    &[0xC3, 0xC3, 0xA9],
    &[0xE2, 0x41],
    &[0xF0, 0x9F, 0x98, 0x41],
    &[0xF0, 0x9F, 0x98, 0xF0, 0x9F, 0x98, 0x80],
];

/// `filler` repeated to exactly `len` bytes (the last one may be cut).
fn filled(filler: &str, len: usize) -> Vec<u8> {
    let mut bytes = filler.repeat(len / filler.len() + 1).into_bytes();
    bytes.truncate(len);
    bytes
}

#[test]
fn each_sequence_at_the_end_of_two_and_three_chunks_and_byte_by_byte() {
    with_each_kernel(|kernel| {
        for &sequence in SEQUENCES {
            for lead_in in [0, 1, 3, 13, 29, 31, 32, 61, 63, 64, 67, 125, 128, 200] {
                for tail in [&b""[..], b"z", &[b'z'; 70]] {
                    let mut bytes = filled("a", lead_in);
                    bytes.extend_from_slice(sequence);
                    bytes.extend_from_slice(tail);
                    let end = lead_in + sequence.len();
                    for entry in ENTRIES {
                        // Two chunks: the cut anywhere in or around the sequence.
                        for cut in lead_in.saturating_sub(2)..=(end + 1).min(bytes.len()) {
                            check_stream(&[&bytes[..cut], &bytes[cut..]], entry, kernel);
                            // Three: a second cut in or after the sequence.
                            for second in cut..=(end + 1).min(bytes.len()) {
                                check_stream(
                                    &[&bytes[..cut], &bytes[cut..second], &bytes[second..]],
                                    entry,
                                    kernel,
                                );
                            }
                        }
                    }
                    if lead_in <= 64 && tail.len() <= 1 {
                        for entry in ENTRIES {
                            check_stream(&cut_by(&bytes, &[1], true), entry, kernel);
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn a_bad_byte_at_every_offset_of_256_under_chunk_sizes_around_the_blocks() {
    const SIZES: &[usize] = &[
        1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 95, 96, 124, 125, 127, 128, 129, 191,
        192, 200, 255, 256,
    ];
    with_each_kernel(|kernel| {
        for filler in ["a", "é", "€", "😀", "aé€😀"] {
            let good = filled(filler, 256);
            for bad in [0x80, 0xFF, 0xC0, 0xED] {
                for at in 0..256 {
                    let mut bytes = good.clone();
                    bytes[at] = bad;
                    for &size in SIZES {
                        for entry in ENTRIES {
                            check_stream(&cut_by(&bytes, &[size], false), entry, kernel);
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn every_chunk_size_up_to_200_over_text_with_a_bad_byte_near_its_end() {
    with_each_kernel(|kernel| {
        for filler in ["a", "é", "aé€😀"] {
            for len in [1000, 4096] {
                for back in [1, 2, 3, 4, 63, 64, 65] {
                    let mut bytes = filled(filler, len);
                    let at = len - back;
                    bytes[at] = 0xF5;
                    for size in 1..=200 {
                        for entry in ENTRIES {
                            check_stream(&cut_by(&bytes, &[size], false), entry, kernel);
                        }
                    }
                }
                let bytes = filled(filler, len);
                for size in 1..=200 {
                    for entry in ENTRIES {
                        check_stream(&cut_by(&bytes, &[size, 1, size + 3], true), entry, kernel);
                    }
                }
            }
        }
    });
}

/// Fills a buffer with a guard byte, puts `plain` masked at `offset`, runs
/// `unmask` on that slice and checks the slice is `plain` and the rest
/// still guard.
fn in_guarded_slice<R>(
    plain: &[u8],
    offset: usize,
    masked_from: usize,
    unmask: impl FnOnce(&mut [u8]) -> R,
) -> R {
    const GUARD: u8 = 0xA7;
    let mut buf = vec![GUARD; offset + plain.len() + 80];
    buf[offset..offset + plain.len()].copy_from_slice(&mask_reference(plain, KEY, masked_from));
    let result = unmask(&mut buf[offset..offset + plain.len()]);
    assert_eq!(&buf[offset..offset + plain.len()], plain, "at {offset}");
    assert!(
        buf[..offset].iter().all(|&b| b == GUARD),
        "wrote before the slice"
    );
    assert!(
        buf[offset + plain.len()..].iter().all(|&b| b == GUARD),
        "wrote after the slice"
    );
    result
}

#[test]
fn masking_at_every_alignment_length_and_key_offset() {
    with_each_kernel(|_| {
        let plain: Vec<u8> = (0..=300u16).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..64 {
            for len in 0..=300 {
                let plain = &plain[..len];
                for payload_at in [0usize, 1, 2, 3, 5, usize::MAX - 1, usize::MAX] {
                    in_guarded_slice(plain, offset, payload_at % 4, |buf| {
                        apply_mask(buf, KEY, payload_at)
                    });
                }
                // Into uninitialized room: a slice of spare capacity.
                let masked = mask_reference(plain, KEY, 1);
                let mut room: Vec<u8> = Vec::with_capacity(offset + len + 80);
                let spare = room.spare_capacity_mut();
                for b in spare.iter_mut() {
                    b.write(0xA7);
                }
                unmask_into(
                    &mut spare[offset..offset + len],
                    &masked,
                    rotate_key(KEY, 1),
                );
                // SAFETY: every byte of the spare capacity was written above.
                unsafe { room.set_len(offset + len + 80) };
                assert_eq!(&room[offset..offset + len], plain);
                assert!(room[..offset]
                    .iter()
                    .chain(&room[offset + len..])
                    .all(|&b| b == 0xA7));
            }
        }
    });
}

#[test]
fn fused_entries_at_every_alignment_against_unmask_then_std() {
    with_each_kernel(|kernel| {
        let texts: Vec<Vec<u8>> = vec![
            filled("a", 300),
            filled("aé€😀", 300),
            {
                let mut t = filled("é", 300);
                t[150] = 0xFF;
                t
            },
            {
                let mut t = filled("a", 300);
                t[299] = 0xE2;
                t
            },
        ];
        for text in &texts {
            for offset in 0..64 {
                for len in (0..=300).filter(|l| l % 7 == offset % 7 || *l < 70 || *l > 250) {
                    let plain = &text[..len];
                    let want = std::str::from_utf8(plain)
                        .map(|_| ())
                        .map_err(|e| (e.valid_up_to() as u64, e.error_len()));
                    let shape =
                        |r: Result<(), Utf8Error>| r.map_err(|e| (e.valid_up_to(), e.error_len()));
                    // One shot.
                    let got = in_guarded_slice(plain, offset, 0, |buf| {
                        utf8stream::check_unmasking_in_place(buf, KEY)
                    });
                    assert_eq!(
                        shape(got),
                        want,
                        "{kernel:?} check_unmasking_in_place {offset} {len}"
                    );
                    // Streaming, the slice as a chunk at payload offset 3,
                    // after a carried code point or none.
                    for carried in [&b""[..], b"\xC3", b"\xF0\x9F\x98"] {
                        let mut whole = carried.to_vec();
                        whole.extend_from_slice(plain);
                        let want_stream = expected(&whole).error;
                        let head: Vec<u8> = [b"abc".as_slice(), carried].concat();
                        let want_stream = want_stream.map(|(at, n)| (at + 3, n));
                        for entry in [Entry::Unmasking, Entry::Uninit, Entry::InPlace] {
                            let mut v = Utf8Validator::new();
                            v.feed(&head).unwrap();
                            let at = head.len();
                            let key = rotate_key(KEY, at);
                            let got = in_guarded_slice(plain, offset, at, |buf| match entry {
                                Entry::InPlace => v.feed_unmasking_in_place(buf, key),
                                _ => {
                                    let masked = buf.to_vec();
                                    if let Entry::Uninit = entry {
                                        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`,
                                        // and `feed_unmasking_uninit` writes only bytes.
                                        let dst = unsafe {
                                            &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>])
                                        };
                                        v.feed_unmasking_uninit(dst, &masked, key)
                                    } else {
                                        v.feed_unmasking(buf, &masked, key)
                                    }
                                }
                            });
                            let got = got.and_then(|()| v.finish());
                            assert_eq!(
                                shape(got),
                                want_stream.map_or(Ok(()), Err),
                                "{kernel:?} {entry:?} offset {offset} len {len} carried {carried:02X?}"
                            );
                        }
                    }
                }
            }
        }
    });
}

/// A validator that failed still unmasks what the fused entries are given:
/// their docs promise every byte unmasked, `Ok` or `Err`.
#[test]
fn fused_entries_unmask_in_full_after_an_earlier_error() {
    with_each_kernel(|kernel| {
        for len in [0, 1, 5, 31, 32, 64, 66, 67, 128, 129, 300] {
            let plain = filled("aé€😀", len);
            for entry in [Entry::Unmasking, Entry::Uninit, Entry::InPlace] {
                let mut v = Utf8Validator::new();
                let err = v.feed(b"ok\xFF").unwrap_err();
                assert_eq!(
                    feed_via(&mut v, entry, &plain, 3),
                    Err(err),
                    "{kernel:?} {entry:?}"
                );
            }
            let mut v = Utf8Validator::new();
            v.feed(b"\xE2\x82").unwrap();
            let err = v.finish().unwrap_err();
            for entry in [Entry::Unmasking, Entry::Uninit, Entry::InPlace] {
                assert_eq!(
                    feed_via(&mut v, entry, &plain, 2),
                    Err(err),
                    "{kernel:?} {entry:?}"
                );
            }
        }
    });
}

/// A validator reused after success goes on from where the stream is, and
/// after `reset` from offset 0; `finish` does not reset it.
#[test]
fn reuse_after_success_and_after_reset() {
    with_each_kernel(|kernel| {
        for entry in ENTRIES {
            let mut v = Utf8Validator::new();
            assert_eq!(feed_via(&mut v, entry, "héllo".as_bytes(), 0), Ok(()));
            assert_eq!(v.finish(), Ok(()));
            assert_eq!(v.position(), 6);
            // The same stream, on: the error is located in it.
            let long = filled("a", 200);
            assert_eq!(feed_via(&mut v, entry, &long, 6), Ok(()));
            let err = feed_via(&mut v, entry, b"ab\xC0", 206).unwrap_err();
            assert_eq!(
                (err.valid_up_to(), err.error_len()),
                (208, Some(1)),
                "{kernel:?} {entry:?}"
            );
            v.reset();
            assert_eq!(feed_via(&mut v, entry, b"\xF0\x9F", 0), Ok(()));
            assert_eq!(v.pending_bytes(), b"\xF0\x9F");
            v.reset();
            assert_eq!(v.pending_bytes(), b"");
            assert_eq!(v.finish(), Ok(()), "reset forgets the carried bytes");
            let err = feed_via(&mut v, entry, &[0x98], 0).unwrap_err();
            assert_eq!((err.valid_up_to(), err.error_len()), (0, Some(1)));
        }
    });
}

#[test]
fn one_shot_entries_at_every_length_with_a_bad_byte_anywhere() {
    with_each_kernel(|kernel| {
        for filler in ["a", "é", "aé€😀"] {
            let good = filled(filler, 300);
            for len in 0..=300 {
                let mut cases = vec![good[..len].to_vec()];
                for at in (0..len).filter(|at| len < 70 || at % 5 == 0 || at + 4 > len) {
                    for bad in [0x80, 0xF5, 0xE2] {
                        let mut bytes = good[..len].to_vec();
                        bytes[at] = bad;
                        cases.push(bytes);
                    }
                }
                for bytes in &cases {
                    let want = std::str::from_utf8(bytes)
                        .map_err(|e| (e.valid_up_to() as u64, e.error_len()));
                    let shape = |e: Utf8Error| (e.valid_up_to(), e.error_len());
                    assert_eq!(
                        utf8stream::validate(bytes).map_err(shape),
                        want,
                        "{kernel:?} validate {bytes:02X?}"
                    );
                    assert_eq!(
                        utf8stream::check(bytes).map_err(shape),
                        want.map(|_| ()),
                        "{kernel:?} check"
                    );
                }
            }
        }
    });
}

/// On valid text cut anywhere, `unfinished_tail_len` is the tail that std
/// leaves unjudged.
#[test]
fn unfinished_tail_len_is_what_std_leaves_unjudged() {
    let text = "aé€😀\u{10FFFF}\u{7FF}\u{800}\u{FFFF}\u{10000}z".repeat(3);
    let bytes = text.as_bytes();
    for end in 0..=bytes.len() {
        for start in (0..=end).filter(|&s| text.is_char_boundary(s)) {
            let piece = &bytes[start..end];
            let want = match std::str::from_utf8(piece) {
                Ok(_) => 0,
                Err(e) => piece.len() - e.valid_up_to(),
            };
            assert_eq!(utf8stream::unfinished_tail_len(piece), want, "{piece:02X?}");
        }
    }
}

/// `position` is "the number of bytes fed so far" and the carried bytes
/// are "valid so far": after an error, every byte fed counts and nothing is
/// carried, whichever path (kernel, chunk length, entry) met the error.
#[test]
fn position_and_pending_after_an_error() {
    with_each_kernel(|kernel| {
        for entry in ENTRIES {
            for chunk in [&b"de\xFFgh"[..], &[b'd'; 100], &[b'd'; 1000]] {
                let mut chunk = chunk.to_vec();
                let last = chunk.len() - 1;
                chunk[last] = 0xFF;
                // After a carried code point, then not.
                for head in [&b"abc"[..], b"abc\xE2"] {
                    let mut v = Utf8Validator::new();
                    feed_via(&mut v, entry, head, 0).unwrap();
                    let err = feed_via(&mut v, entry, &chunk, head.len()).unwrap_err();
                    let fed = (head.len() + chunk.len()) as u64;
                    let context = format!(
                        "{kernel:?} {entry:?} {head:02X?} {} B: {err:?}",
                        chunk.len()
                    );
                    assert_eq!(
                        (v.position(), v.pending_bytes()),
                        (fed, &b""[..]),
                        "{context}"
                    );
                    assert!(feed_via(&mut v, entry, b"xyz", fed as usize).is_err());
                    assert_eq!(v.position(), fed + 3, "{context}");
                }
            }
            // At `finish`: the cut code point is no longer carried.
            let mut v = Utf8Validator::new();
            feed_via(&mut v, entry, b"abc\xE2", 0).unwrap();
            assert!(v.finish().is_err());
            assert_eq!(
                (v.position(), v.pending_bytes()),
                (4, &b""[..]),
                "{kernel:?} {entry:?}"
            );
        }
    });
}

/// Long ASCII runs, where the block loop goes several blocks a step, left
/// for multi-byte text at any offset and back: one bad byte at every
/// offset near the switch and at the tail, fed whole and cut after the
/// multi-byte character.
#[test]
fn a_bad_byte_where_a_long_ascii_run_ends_or_resumes() {
    with_each_kernel(|kernel| {
        for len in [1024, 4096] {
            for switch in (0..len - 8).step_by(61).chain([255, 256, 257, len - 5]) {
                let mut good = filled("a", len);
                good[switch..switch + 3].copy_from_slice("€".as_bytes());
                let near =
                    (switch.saturating_sub(70)..(switch + 200).min(len)).chain(len - 70..len);
                for at in near.step_by(3) {
                    let mut bytes = good.clone();
                    bytes[at] = if at % 2 == 0 { 0x80 } else { 0xF8 };
                    for entry in ENTRIES {
                        check_stream(&[&bytes], entry, kernel);
                        check_stream(&[&bytes[..switch + 2], &bytes[switch + 2..]], entry, kernel);
                    }
                }
                for entry in ENTRIES {
                    check_stream(&[&good], entry, kernel);
                }
            }
        }
    });
}

/// A clone taken anywhere goes on as the original would, on its own; a
/// validator can move to and be shared with other threads.
#[test]
fn a_clone_goes_on_independently() {
    fn send_and_sync<T: Send + Sync + Clone + Default + std::fmt::Debug>() {}
    send_and_sync::<Utf8Validator>();
    with_each_kernel(|kernel| {
        let mut bytes = filled("aé€😀", 150);
        bytes.extend_from_slice(b"\xF0\x9F\x98");
        for cut in 0..=bytes.len() {
            let mut v = Utf8Validator::new();
            let _ = v.feed(&bytes[..cut]);
            let mut copy = v.clone();
            let _ = v.feed(&bytes[cut..]);
            // The original goes on to a different end; the copy is not moved.
            let _ = v.feed(b"\x80!");
            assert_eq!(v.finish(), Ok(()), "{kernel:?} {cut}");
            let _ = copy.feed(&bytes[cut..]);
            let err = copy.finish().unwrap_err();
            assert_eq!(
                (err.valid_up_to(), err.error_len()),
                (150, None),
                "{kernel:?} {cut}"
            );
        }
        assert_eq!(
            format!("{:?}", Utf8Validator::default()),
            format!("{:?}", Utf8Validator::new())
        );
    });
}
