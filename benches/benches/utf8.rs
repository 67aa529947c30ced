//! Group `utf8`: the streaming validator against std one-shot, a std-based
//! streaming validator and one-shot simdutf8, by input kind and chunk size.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use utf8stream::Utf8Validator;
use wsframe_benches::{text_of_len, StdStreamingValidator, CORPORA};

const INPUT_LEN: usize = 1 << 20;
const CHUNKS: [(usize, &str); 6] = [
    (16, "16B"),
    (64, "64B"),
    (1 << 10, "1KiB"),
    (4 << 10, "4KiB"),
    (64 << 10, "64KiB"),
    (INPUT_LEN, "whole"),
];

fn utf8(c: &mut Criterion) {
    wsframe_benches::select_kernel_from_env();
    for (kind, seed) in CORPORA {
        let input = text_of_len(seed, INPUT_LEN);
        let mut group = c.benchmark_group(format!("utf8/{kind}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(20);

        group.bench_function("std_oneshot", |b| {
            b.iter(|| assert!(std::str::from_utf8(black_box(&input)).is_ok()))
        });
        group.bench_function("simdutf8_oneshot", |b| {
            b.iter(|| assert!(simdutf8::basic::from_utf8(black_box(&input)).is_ok()))
        });
        for (size, label) in CHUNKS {
            group.bench_with_input(BenchmarkId::new("utf8stream", label), &size, |b, &size| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    for chunk in black_box(&input).chunks(size) {
                        v.feed(chunk).unwrap();
                    }
                    v.finish().unwrap();
                })
            });
            group.bench_with_input(BenchmarkId::new("std_stream", label), &size, |b, &size| {
                b.iter(|| {
                    let mut v = StdStreamingValidator::default();
                    for chunk in black_box(&input).chunks(size) {
                        assert!(v.feed(chunk));
                    }
                    assert!(v.finish());
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, utf8);
criterion_main!(benches);
