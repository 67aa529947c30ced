//! Explains WebSocket close codes: what each means, when you see it, and how
//! to fix its cause; with two codes, their differences side by side. With
//! `--text`, diagnoses the bytes of a text message given in hex (as a capture
//! shows them): where they stop being UTF-8 and what the sender likely did.
//!
//! ```text
//! cargo run -p wsframe-examples --bin explain -- 1000 1007
//! cargo run -p wsframe-examples --bin explain -- --text 4361 66e9
//! ```
//!
//! Exit codes: 0 when every code was explained, the text diagnosed (or
//! after `--help`), 2 without a code or on a value that is not a close code
//! (1000-4999) or not hex.

use std::process::ExitCode;
use wsframe_examples::say;

use wsframe::{CloseCode, Explanation, InvalidUtf8, ProtocolError};
use wsframe_examples::EXIT_USAGE;

const USAGE: &str = "\
What WebSocket close codes mean, when you see them and how to fix their
cause; given two, their differences side by side.

Usage: explain CODE [CODE ...]     close codes 1000-4999, e.g. `explain 1000 1007`
       explain --text HEX [HEX ...]  a text message's bytes in hex, e.g. `explain --text 4361 66e9`:
                                     where they stop being UTF-8, and what the sender likely did

Exit codes:
  0  every code explained, or the text diagnosed (or --help)
  2  no code, a value that is not a close code, or bytes that are not hex";

/// Close codes with a meaning: RFC 6455's (1000-2999) and the application ranges.
const RANGE: std::ops::RangeInclusive<u16> = 1000..=4999;
const COLUMN: usize = 44;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        say!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(EXIT_USAGE);
    }
    if args[0] == "--text" {
        return diagnose(&args[1..]);
    }
    let mut codes = Vec::new();
    for arg in &args {
        let digits = arg.strip_prefix('-').unwrap_or(arg);
        let is_integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        match arg.parse::<u16>() {
            Ok(code) if RANGE.contains(&code) => codes.push(CloseCode(code)),
            _ if is_integer => {
                eprintln!("error: {arg} is out of range: WebSocket close codes are 1000-4999");
                return ExitCode::from(EXIT_USAGE);
            }
            _ => {
                eprintln!("error: {arg:?} is not a number: give close codes such as 1000 or 1007");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let explanations: Vec<Explanation> = codes.iter().map(|c| c.explain()).collect();
    for (i, e) in explanations.iter().enumerate() {
        if i > 0 {
            say!();
        }
        say!("{e}");
        say!("  on the wire: {}", sendable(e.code));
    }
    if let [a, b] = explanations[..] {
        say!("\nKey differences");
        side_by_side(&a, &b);
    }
    ExitCode::SUCCESS
}

/// `--text`: the bytes given in hex, as one text message.
fn diagnose(hex: &[String]) -> ExitCode {
    // Groups of whole bytes (pairs of hex digits), separated by spaces,
    // colons or commas; a group of odd length is refused, not joined to
    // its neighbour.
    let bytes: Option<Vec<u8>> = hex
        .iter()
        .flat_map(|arg| arg.split([' ', ':', ',']))
        .filter(|group| !group.is_empty())
        .map(|group| group.trim_start_matches("0x"))
        .map(|group| {
            (group.len().is_multiple_of(2) && group.is_ascii())
                .then(|| {
                    (0..group.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&group[i..i + 2], 16).ok())
                        .collect::<Option<Vec<u8>>>()
                })
                .flatten()
        })
        .collect::<Option<Vec<Vec<u8>>>>()
        .map(|groups| groups.concat());
    let Some(bytes) = bytes.filter(|bytes| !bytes.is_empty()) else {
        eprintln!(
            "error: give the text's bytes as pairs of hex digits, e.g. `explain --text 4361 66e9`"
        );
        return ExitCode::from(EXIT_USAGE);
    };
    match InvalidUtf8::of(&bytes) {
        None => say!(
            "{} byte(s) of valid UTF-8: {:?}",
            bytes.len(),
            String::from_utf8_lossy(&bytes)
        ),
        Some(evidence) => {
            let error = ProtocolError::InvalidUtf8(evidence);
            say!(
                "{} bytes, not valid UTF-8: a receiver closes with 1007",
                bytes.len()
            );
            say!("  reason: {error}");
            say!("  {}", evidence.long());
        }
    }
    ExitCode::SUCCESS
}

fn sendable(code: CloseCode) -> &'static str {
    if code.is_sendable() {
        "may be sent in a close frame"
    } else {
        "never sent; receiving it is a protocol error (1002)"
    }
}

fn side_by_side(a: &Explanation, b: &Explanation) {
    let rows = [
        (
            "",
            format!("{} {}", a.code.0, a.name),
            format!("{} {}", b.code.0, b.name),
        ),
        ("meaning", a.meaning.to_owned(), b.meaning.to_owned()),
        ("when", a.when.to_owned(), b.when.to_owned()),
        ("fix", a.fix.to_owned(), b.fix.to_owned()),
        (
            "on wire",
            sendable(a.code).to_owned(),
            sendable(b.code).to_owned(),
        ),
    ];
    for (label, left, right) in rows {
        let (left, right) = (wrap(&left), wrap(&right));
        for line in 0..left.len().max(right.len()) {
            let tag = if line == 0 { label } else { "" };
            let l = left.get(line).map_or("", String::as_str);
            let r = right.get(line).map_or("", String::as_str);
            let row = format!("  {tag:<8} | {l:<COLUMN$} | {r}");
            say!("{}", row.trim_end());
        }
    }
}

/// Splits `text` into lines of at most `COLUMN` characters, at spaces.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > COLUMN {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
