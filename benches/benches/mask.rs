//! Group `mask`: `apply_mask` against a byte loop, a 32-bit word loop and
//! `copy_from_slice` (memcpy, the bandwidth ceiling) at 64 B .. 1 MiB.
//! Group `unmask_utf8`: a masked text payload copied out of a read buffer,
//! unmasked and validated, in one fused pass (`feed_unmasking`) or three
//! (copy, `apply_mask`, `feed`), against memcpy of the same bytes.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use utf8stream::Utf8Validator;
use wsframe::{apply_mask, apply_mask_bytewise};
use wsframe_benches::{text_of_len, CORPORA};

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (4 << 10, "4KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];

fn mask_u32_words(buf: &mut [u8], key: [u8; 4]) {
    let word = u32::from_ne_bytes(key);
    let mut chunks = buf.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes((&*chunk).try_into().expect("4 bytes")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

fn mask(c: &mut Criterion) {
    wsframe_benches::select_kernel_from_env();
    for (size, label) in SIZES {
        let mut group = c.benchmark_group(format!("mask/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        let source: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut buf = source.clone();
        // Masking in place toggles the bytes; each closure checks the last
        // byte is in one of its two states, so no work can be skipped.
        let expect = source[size - 1] ^ KEY[(size - 1) % 4];
        group.bench_function("apply_mask", |b| {
            b.iter(|| {
                apply_mask(black_box(&mut buf), KEY, 0);
                let last = buf[size - 1];
                assert!(last == expect || last == source[size - 1]);
            })
        });
        group.bench_function("byte_loop", |b| {
            b.iter(|| {
                apply_mask_bytewise(black_box(&mut buf), KEY, 0);
                let last = buf[size - 1];
                assert!(last == expect || last == source[size - 1]);
            })
        });
        group.bench_function("u32_words", |b| {
            b.iter(|| {
                mask_u32_words(black_box(&mut buf), KEY);
                let last = buf[size - 1];
                assert!(last == expect || last == source[size - 1]);
            })
        });
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                buf.copy_from_slice(black_box(&source));
                assert_eq!(buf[size - 1], source[size - 1]);
            })
        });
        group.finish();
    }
}

/// 1 MiB of text, masked, handled in 64 KiB reads as a server would.
fn unmask_utf8(c: &mut Criterion) {
    const LEN: usize = 1 << 20;
    const READ: usize = 64 << 10;
    for input in ["ascii", "mixed"] {
        let seed = CORPORA.iter().find(|(k, _)| *k == input).expect("corpus").1;
        let plain = text_of_len(seed, LEN);
        let masked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ KEY[i % 4])
            .collect();
        let mut out = vec![0u8; plain.len()];
        let mut group = c.benchmark_group(format!("unmask_utf8/{input}"));
        group.throughput(Throughput::Bytes(plain.len() as u64));
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(2));
        group.bench_function("fused", |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for (dst, src) in out.chunks_mut(READ).zip(black_box(&masked).chunks(READ)) {
                    // READ is a multiple of 4: every read starts at key[0].
                    v.feed_unmasking(dst, src, KEY).expect("valid");
                }
                v.finish().expect("valid");
                assert_eq!(out.last(), plain.last());
            })
        });
        let mut staging = vec![0u8; READ];
        group.bench_function("copy_then_fused", |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for (dst, src) in out.chunks_mut(READ).zip(black_box(&masked).chunks(READ)) {
                    staging[..src.len()].copy_from_slice(src);
                    v.feed_unmasking(dst, &staging[..src.len()], KEY)
                        .expect("valid");
                }
                v.finish().expect("valid");
                assert_eq!(out.last(), plain.last());
            })
        });
        group.bench_function("copy_then_in_place", |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for (dst, src) in out.chunks_mut(READ).zip(black_box(&masked).chunks(READ)) {
                    // As a socket read into a connection's buffer, then one
                    // pass over it there.
                    dst.copy_from_slice(src);
                    v.feed_unmasking_in_place(dst, KEY).expect("valid");
                }
                v.finish().expect("valid");
                assert_eq!(out.last(), plain.last());
            })
        });
        group.bench_function("three_passes", |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for (dst, src) in out.chunks_mut(READ).zip(black_box(&masked).chunks(READ)) {
                    dst.copy_from_slice(src);
                    apply_mask(dst, KEY, 0);
                    v.feed(dst).expect("valid");
                }
                v.finish().expect("valid");
                assert_eq!(out.last(), plain.last());
            })
        });
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                for (dst, src) in out.chunks_mut(READ).zip(black_box(&masked).chunks(READ)) {
                    dst.copy_from_slice(src);
                }
                assert_eq!(out.last(), masked.last());
            })
        });
        group.finish();
    }
}

criterion_group!(benches, mask, unmask_utf8);
criterion_main!(benches);
