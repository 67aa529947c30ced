//! Group `mask`: `apply_mask` against a byte loop, a 32-bit word loop and
//! `copy_from_slice` (memcpy, the bandwidth ceiling) at 64 B .. 1 MiB.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use wsframe::{apply_mask, apply_mask_bytewise};

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

criterion_group!(benches, mask);
criterion_main!(benches);
