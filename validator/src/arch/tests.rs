//! Every kernel this CPU runs (each copying and in place, and its
//! validation-only and masking loops) against std and the byte loop: the
//! dispatcher's choice is only one of them, and each must agree.

extern crate std;
use std::{format, string::String, vec, vec::Vec};

use super::*;
use crate::{mask::apply_mask_bytewise, stream::unfinished_tail_len};

/// The kernels this CPU runs. Under Miri with AVX2 compiled in (the second
/// utf8stream run of scripts/miri.sh) not the portable kernel: the first
/// run, without AVX2, has checked it with the same tests.
pub(super) fn kernels() -> Vec<Kernel> {
    let portable_checked_elsewhere = cfg!(all(miri, target_feature = "avx2"));
    Kernel::ALL
        .into_iter()
        .filter(|k| k.is_available())
        .filter(|&k| !(portable_checked_elsewhere && k == Kernel::Portable))
        .collect()
}

#[test]
fn the_cached_choice_is_available_and_the_best() {
    let best = Kernel::ALL.into_iter().find(|k| k.is_available());
    assert_eq!(Some(selected()), best);
    assert!(selected().is_available());
}

/// One kernel's verdict on `masked` (the unmasked `plain`), copying and in
/// place, with the bytes it wrote; and its validation-only verdict on
/// `plain`.
fn verdicts(kernel: Kernel, plain: &[u8], masked: &[u8], key: [u8; 4]) -> [bool; 3] {
    let mut out = vec![0u8; masked.len()];
    // SAFETY: `out` has room for `masked.len()` bytes and is its own
    // buffer; `kernels` lists only what this CPU runs.
    let copying = unsafe { unmask_and_check(kernel, out.as_mut_ptr(), masked, key) };
    assert_eq!(out, plain, "{kernel:?} copying");
    let mut buf = masked.to_vec();
    let in_place = unmask_and_check_in_place(kernel, &mut buf, key);
    assert_eq!(buf, plain, "{kernel:?} in place");
    [copying, in_place, check_blocks(kernel, plain)]
}

/// Checks one answer against std. `true` must mean that the bytes before a
/// cut code point at the end are valid; `false` that the bytes are neither
/// valid nor a valid prefix. A cut code point that is already wrong (`C0` at
/// the end) may get either answer: the caller judges it with the next chunk.
fn assert_agrees(answer: bool, plain: &[u8], what: &str) {
    let cut = unfinished_tail_len(plain);
    if answer {
        let whole = &plain[..plain.len() - cut];
        assert!(std::str::from_utf8(whole).is_ok(), "accepted {what}");
    } else {
        let prefix_ok = match std::str::from_utf8(plain) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
        assert!(!prefix_ok, "rejected {what}");
    }
}

/// Places `seq` at `at` in ASCII filler of `len` bytes, masks it, and checks
/// every kernel's answers (and the unmasked bytes) against std and against
/// each other.
fn check_at(seq: &[u8], at: usize, len: usize) {
    let key = [0x9C, 0x01, 0xF7, 0x42];
    let mut plain = vec![b'a'; len];
    plain[at..at + seq.len()].copy_from_slice(seq);
    let masked: Vec<u8> = plain
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    let mut first: Option<(Kernel, [bool; 3])> = None;
    for kernel in kernels() {
        let what = format!("{seq:02x?} at {at} of {len} ({kernel:?})");
        let answers = verdicts(kernel, &plain, &masked, key);
        for answer in answers {
            assert_agrees(answer, &plain, &what);
        }
        // Where the answer is free (a wrong cut code point at the end),
        // the SIMD kernels still agree with each other.
        if kernel != Kernel::Portable {
            if let Some((other, theirs)) = first {
                assert_eq!(answers, theirs, "{what} against {other:?}");
            } else {
                first = Some((kernel, answers));
            }
        }
    }
}

/// Lengths that end each kind of step: the first block alone, then after a
/// pair of blocks, then with one block after a pair.
const LENGTHS: [usize; 3] = [128, 192, 256];

/// Every pair of bytes, across the vectors of a block and the 64-byte block
/// boundary, followed by ASCII (which takes the ASCII shortcut) or by
/// nothing (a cut code point at the end is allowed).
#[test]
fn every_byte_pair_at_every_boundary() {
    // Miri interprets slowly: there, one byte of each class; so does qemu,
    // which runs the aarch64 tests in CI: there, every first byte and a
    // second one of each class.
    let classes = vec![
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4,
        0xFF,
    ];
    let (all, seconds): (Vec<u8>, Vec<u8>) = if cfg!(miri) {
        let few = vec![0x41, 0x80, 0xA0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xFF];
        (few.clone(), few)
    } else if cfg!(target_arch = "aarch64") {
        ((0..=255).collect(), classes)
    } else {
        ((0..=255).collect(), (0..=255).collect())
    };
    // Under Miri without AVX2 only the portable kernel is under test: it has
    // no vector boundaries, so one place reaches its unsafe code (its
    // masking tails: the masking test below).
    let simd_under_test = kernels().into_iter().any(has_block_check);
    let places: &[usize] = if cfg!(miri) && !simd_under_test {
        &[126]
    } else if cfg!(miri) {
        &[31, 63, 126, 190]
    } else if cfg!(target_arch = "aarch64") {
        // NEON's vectors are 16 bytes: their boundaries too.
        &[
            0, 14, 15, 16, 30, 31, 32, 46, 47, 62, 63, 64, 126, 127, 190, 254,
        ]
    } else {
        &[0, 30, 31, 32, 62, 63, 64, 126, 127, 190, 254]
    };
    for &at in places {
        for &a in &all {
            for &b in &seconds {
                // Followed by ASCII, and cut by the end where that is a
                // step's end.
                for len in LENGTHS {
                    if at + 2 == len || (at + 2 < len && len == 256) {
                        check_at(&[a, b], at, len);
                    }
                }
            }
        }
    }
}

/// Leads with a second byte from each class and any third byte, so that
/// missing and extra third and fourth bytes are seen at the boundaries.
#[test]
fn three_byte_prefixes_at_the_boundaries() {
    let seconds = [0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC2];
    if cfg!(miri) {
        // The pairs above reach every line of the unsafe code already.
        return;
    }
    // On aarch64 (emulated by qemu in CI, slowly): NEON's 16-byte vector
    // boundaries too, and a third byte from each class rather than every one.
    let (places, thirds): (&[usize], Vec<u8>) = if cfg!(target_arch = "aarch64") {
        (
            &[13, 14, 15, 29, 30, 31, 45, 46, 47, 61, 62, 63, 125, 126],
            vec![
                0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC2, 0xE0, 0xF0, 0xFF,
            ],
        )
    } else {
        (
            &[29, 30, 31, 61, 62, 63, 125, 126, 189, 190],
            (0..=255).collect(),
        )
    };
    for &at in places {
        // The smallest length that holds the bytes: some are cut by the
        // end, the others followed by ASCII.
        let fit = |n| {
            LENGTHS
                .into_iter()
                .find(|&len| at + n <= len)
                .expect("fits")
        };
        for a in 0xC0..=0xFFu8 {
            for b in seconds {
                for &c in &thirds {
                    check_at(&[a, b, c], at, fit(3));
                    check_at(&[a, b, c, 0x80], at, fit(4));
                }
            }
        }
    }
}

/// Real text of every width over many blocks (the loops past their first
/// steps, the ASCII shortcut taken and not), whole and with one byte
/// broken, every kernel against std.
#[test]
fn text_of_every_width_over_many_blocks() {
    let key = [0x5A, 0xC3, 0x17, 0x8E];
    // Under Miri, which interprets slowly, fewer blocks.
    let blocks = if cfg!(miri) { 5 } else { 16 };
    let text: String = "aé€😀 naïve κόσμε 我能吞下玻璃 ".repeat(2 * blocks);
    let ascii = "plain ASCII text, ".repeat(4 * blocks);
    for source in [text.as_bytes(), ascii.as_bytes()] {
        let len = source.len() / BLOCK * BLOCK;
        let stride = if cfg!(miri) { 151 } else { 7 };
        for broken in (0..len).step_by(stride).map(Some).chain([None]) {
            let mut plain = source[..len].to_vec();
            if let Some(at) = broken {
                plain[at] = 0xC0;
            }
            let masked: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            for kernel in kernels() {
                let what = format!("broken at {broken:?} ({kernel:?})");
                for answer in verdicts(kernel, &plain, &masked, key) {
                    assert_agrees(answer, &plain, &what);
                }
            }
        }
    }
}

#[test]
fn masking_equals_the_byte_loop_for_every_length_offset_and_alignment() {
    let key = [0xA5, 0x3C, 0x0F, 0xF0];
    let backing: Vec<u8> = (0..600u32).map(|i| (i * 31 + 7) as u8).collect();
    // Miri interprets slowly: there, the lengths around each loop's edges.
    let lengths: Vec<usize> = if cfg!(miri) {
        vec![
            0, 1, 7, 8, 9, 15, 16, 17, 33, 63, 64, 65, 127, 128, 129, 257,
        ]
    } else {
        (0..520).collect()
    };
    let aligns = if cfg!(miri) { 0..2 } else { 0..8 };
    for kernel in kernels() {
        for &len in &lengths {
            for offset in 0..4 {
                let rotated = crate::mask::rotate_key(key, offset);
                for align in aligns.clone() {
                    let mut want = backing[align..align + len].to_vec();
                    apply_mask_bytewise(&mut want, key, offset);
                    let key = rotated;
                    let mut buf = backing.clone();
                    mask_in_place(kernel, &mut buf[align..align + len], key);
                    let what = format!("{kernel:?} len {len} offset {offset} align {align}");
                    assert_eq!(&buf[align..align + len], &want[..], "in place, {what}");
                    assert_eq!(&buf[..align], &backing[..align], "before, {what}");
                    assert_eq!(
                        &buf[align + len..],
                        &backing[align + len..],
                        "after, {what}"
                    );
                    let mut out = vec![0u8; len + 8];
                    // SAFETY: `out[align..]` has room for `len` bytes and is
                    // its own buffer; the kernel runs here.
                    unsafe {
                        mask_copy(
                            kernel,
                            out[align..].as_mut_ptr(),
                            &backing[align..align + len],
                            key,
                        );
                    }
                    assert_eq!(&out[align..align + len], &want[..], "copying, {what}");
                }
            }
        }
    }
}
