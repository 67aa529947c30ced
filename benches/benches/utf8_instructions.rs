//! Instruction counts for the `utf8` comparisons, for `valgrind --tool=callgrind`:
//! unlike wall-clock time on a shared machine, they repeat exactly. Run by
//! `benches/scripts/utf8_instructions.sh`, which collects only inside the
//! `measure_*` functions below.
//!
//! usage: utf8_instructions INPUT IMPL CHUNK [REPEAT]   (IMPL: utf8stream | std_stream |
//! simdutf8; REPEAT, default 1, runs the measurement that many times, so that
//! `perf stat` counts cycles of the validation rather than of the set-up)
#![allow(missing_docs)]

use utf8stream::Utf8Validator;
use wsframe_benches::{text_of_len, StdStreamingValidator, CORPORA};

#[inline(never)]
fn measure_utf8stream(input: &[u8], chunk: usize) {
    let mut v = Utf8Validator::new();
    for piece in input.chunks(chunk) {
        v.feed(piece).unwrap();
    }
    v.finish().unwrap();
}

#[inline(never)]
fn measure_std_stream(input: &[u8], chunk: usize) {
    let mut v = StdStreamingValidator::default();
    for piece in input.chunks(chunk) {
        assert!(v.feed(piece));
    }
    assert!(v.finish());
}

#[inline(never)]
fn measure_simdutf8(input: &[u8]) {
    assert!(simdutf8::basic::from_utf8(input).is_ok());
}

fn main() {
    wsframe_benches::select_kernel_from_env();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // `cargo bench -- --test` runs this with no arguments: do one quick pass.
    let (kind, which, chunk, repeat) = match &args[..] {
        [k, w, c, rest @ ..] if rest.len() <= 1 => (
            k.as_str(),
            w.as_str(),
            c.parse::<usize>().expect("chunk size"),
            rest.first()
                .map_or(1, |r| r.parse::<usize>().expect("repeat count")),
        ),
        _ => ("mixed", "utf8stream", 4096, 1),
    };
    let seed = CORPORA
        .iter()
        .find(|(k, _)| *k == kind)
        .expect("input kind")
        .1;
    let input = text_of_len(seed, 1 << 20);
    for _ in 0..repeat {
        match which {
            "utf8stream" => measure_utf8stream(&input, chunk),
            "std_stream" => measure_std_stream(&input, chunk),
            "simdutf8" => measure_simdutf8(&input),
            other => panic!("unknown implementation {other}"),
        }
    }
}
