//! The `utf8_stream` fuzz target's inputs, replayed on stable in every
//! `cargo test -p utf8stream`: each crash ever found (`fuzz/regressions/utf8_stream/`)
//! and each seed (`fuzz/corpus/utf8_stream/`) goes through the harness the
//! fuzzer runs. The seeds are written by an explicit command, never as a
//! side effect of a test:
//!
//! ```sh
//! cargo test -p utf8stream --test fuzz_corpus -- --ignored   # (re)writes the seeds
//! ```

use std::{fs, path::PathBuf};

use utf8stream::fuzzing::utf8_stream;

fn target_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join("utf8_stream")
}

/// Small, meaningful inputs: `[n, n chunk sizes.., text..]`.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ascii", [&[2, 3, 5][..], b"hello world"].concat()),
        ("emoji_cut", [&[1, 1][..], "a😀b€".as_bytes()].concat()),
        ("surrogate", [&[1, 2][..], b"ab\xED\xA0\x80"].concat()),
        ("too_big", [&[1, 1][..], b"\xF4\x90\x80\x80"].concat()),
        ("truncated", [&[0][..], b"ok\xE2\x82"].concat()),
    ]
}

#[test]
fn every_regression_and_corpus_input_replays_without_failure() {
    let mut replayed = 0;
    for kind in ["regressions", "corpus"] {
        let Ok(entries) = fs::read_dir(target_dir(kind)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() && path.extension().is_none_or(|e| e != "md") {
                utf8_stream(&fs::read(&path).unwrap());
                replayed += 1;
            }
        }
    }
    // The seeds and at least the one regression known so far.
    assert!(
        replayed > seeds().len(),
        "too few fuzz inputs under {}",
        target_dir("").display()
    );
}

#[test]
fn seeds_pass_the_harness_and_match_the_committed_files() {
    for (name, seed) in seeds() {
        utf8_stream(&seed);
        let path = target_dir("corpus").join(format!("seed-{name}"));
        assert_eq!(
            fs::read(&path).ok().as_deref(),
            Some(&seed[..]),
            "{} is missing or stale: run `cargo test -p utf8stream --test fuzz_corpus -- --ignored`",
            path.display()
        );
    }
}

/// Writes the seeds (the explicit command above; `cargo test` alone skips it).
#[test]
#[ignore = "writes fuzz/corpus/utf8_stream; run with --ignored to regenerate"]
fn write_seed_corpus() {
    let dir = target_dir("corpus");
    fs::create_dir_all(&dir).unwrap();
    for (name, seed) in seeds() {
        utf8_stream(&seed);
        fs::write(dir.join(format!("seed-{name}")), &seed).unwrap();
    }
}
