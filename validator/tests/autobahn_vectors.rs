//! The 132 UTF-8 vectors of Autobahn case group 6 (Markus Kuhn's stress test),
//! fed whole, byte by byte, at every 1-cut and every 2-cut, and padded so the
//! error lands on either side of 16/32/64-byte SIMD block boundaries.

mod common;

use common::{check_chunked, expected};

struct Vector {
    id: String,
    valid: bool,
    fail_at: Option<usize>,
    bytes: Vec<u8>,
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\": ");
    let start = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + key.len();
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end].trim().trim_matches('"')
}

fn vectors() -> Vec<Vector> {
    include_str!("data/autobahn6_utf8_vectors.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let hex = field(line, "hex");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect::<Vec<_>>();
            assert_eq!(bytes.len(), field(line, "len").parse::<usize>().unwrap());
            Vector {
                id: field(line, "id").to_owned(),
                valid: field(line, "valid") == "true",
                fail_at: field(line, "fail_at").parse().ok(),
                bytes,
            }
        })
        .collect()
}

#[test]
fn the_file_holds_63_valid_and_69_invalid_vectors_that_std_agrees_with() {
    let all = vectors();
    assert_eq!(all.len(), 132);
    assert_eq!(all.iter().filter(|v| v.valid).count(), 63);
    for v in &all {
        let want = expected(&v.bytes);
        assert_eq!(want.error.is_none(), v.valid, "{}", v.id);
        // The file's fail-fast byte is the last byte of std's shortest dead prefix.
        assert_eq!(want.dead_prefix_len.map(|k| k - 1), v.fail_at, "{}", v.id);
    }
}

#[test]
fn every_vector_whole_byte_by_byte_and_at_every_one_and_two_cuts() {
    for v in vectors() {
        let b = &v.bytes;
        check_chunked(b, &[]);
        check_chunked(b, &(1..b.len()).collect::<Vec<_>>());
        for i in 0..=b.len() {
            check_chunked(b, &[i]);
            for j in i..=b.len() {
                check_chunked(b, &[i, j]);
            }
        }
    }
}

#[test]
fn every_vector_padded_across_simd_block_boundaries() {
    // Pads of ASCII and of 2-byte text put each vector's error just before, on,
    // and just after the 16/32/64-byte boundaries the SIMD kernels work in.
    let pads: Vec<usize> = [16usize, 32, 64, 128]
        .iter()
        .flat_map(|&n| n.saturating_sub(4)..n + 4)
        .collect();
    for v in vectors() {
        for &pad in &pads {
            for filler in ["a", "é"] {
                let mut bytes = filler.repeat(pad).into_bytes();
                bytes.truncate(pad);
                if std::str::from_utf8(&bytes).is_err() {
                    bytes.pop(); // never cut the filler itself
                }
                let prefix = bytes.len();
                bytes.extend_from_slice(&v.bytes);
                bytes.extend_from_slice(&b"z".repeat(70));
                check_chunked(&bytes, &[]);
                for cut in [1, 15, 16, 17, 31, 32, 33, 63, 64, 65] {
                    let cuts: Vec<usize> = (cut..bytes.len()).step_by(cut).collect();
                    check_chunked(&bytes, &cuts);
                }
                for i in prefix..=prefix + v.bytes.len() {
                    check_chunked(&bytes, &[i]);
                }
            }
        }
    }
}
