//! Group `utf8`: the streaming validator against std one-shot, a std-based
//! streaming validator and one-shot simdutf8, by input kind and chunk size.
//!
//! `UTF8_INTERLEAVED=<rounds>` replaces criterion's groups with the same
//! runs interleaved: each round validates every input once with each
//! contender in turn (1 MiB each), so a burst of another tenant's load
//! hits all of them alike; it prints, per input and chunk size, the
//! streaming validator's ratio to one-shot simdutf8 and to the std
//! streaming validator, by the medians and by the fastest runs.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use utf8stream::Utf8Validator;
use wsframe_benches::{interleaved, text_of_len, StdStreamingValidator, CORPORA};

const INPUT_LEN: usize = 1 << 20;
const CHUNKS: [(usize, &str); 6] = [
    (16, "16B"),
    (64, "64B"),
    (1 << 10, "1KiB"),
    (4 << 10, "4KiB"),
    (64 << 10, "64KiB"),
    (INPUT_LEN, "whole"),
];

/// Validates `input` in chunks of `size` with the streaming validator.
fn utf8stream_in_chunks(input: &[u8], size: usize) {
    let mut v = Utf8Validator::new();
    for chunk in input.chunks(size) {
        v.feed(chunk).unwrap();
    }
    v.finish().unwrap();
}

/// Validates `input` in chunks of `size` with the std-based streaming
/// validator.
fn std_stream_in_chunks(input: &[u8], size: usize) {
    let mut v = StdStreamingValidator::default();
    for chunk in input.chunks(size) {
        assert!(v.feed(chunk));
    }
    assert!(v.finish());
}

/// The interleaved runs (see the module docs): one table row per input
/// and chunk size.
fn run_interleaved(rounds: usize) {
    println!("| input | chunk | utf8stream MiB/s (median / fastest of {rounds}) | vs simdutf8 one-shot | vs std streaming |");
    println!("|---|---|---|---|---|");
    for (kind, seed) in CORPORA {
        let input = text_of_len(seed, INPUT_LEN);
        let input = &input[..];
        for (size, label) in CHUNKS {
            let times = interleaved::run(
                &[
                    &|| utf8stream_in_chunks(black_box(input), size),
                    &|| assert!(simdutf8::basic::from_utf8(black_box(input)).is_ok()),
                    &|| std_stream_in_chunks(black_box(input), size),
                ],
                rounds,
            );
            let (median, fastest): (Vec<f64>, Vec<f64>) = times
                .iter()
                .map(|t| t.throughput(input.len(), (1 << 20) as f64))
                .unzip();
            // Ours over theirs: above 1 is faster.
            let ratio = |i: usize| {
                format!(
                    "{:.2}x / {:.2}x",
                    median[0] / median[i],
                    fastest[0] / fastest[i]
                )
            };
            println!(
                "| {kind} | {label} | {:.0} / {:.0} | {} | {} |",
                median[0],
                fastest[0],
                ratio(1),
                ratio(2)
            );
        }
    }
}

fn utf8(c: &mut Criterion) {
    wsframe_benches::select_kernel_from_env();
    if let Ok(rounds) = std::env::var("UTF8_INTERLEAVED") {
        run_interleaved(rounds.parse().expect("UTF8_INTERLEAVED=<rounds>"));
        return;
    }
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
                b.iter(|| utf8stream_in_chunks(black_box(&input), size))
            });
            group.bench_with_input(BenchmarkId::new("std_stream", label), &size, |b, &size| {
                b.iter(|| std_stream_in_chunks(black_box(&input), size))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, utf8);
criterion_main!(benches);
