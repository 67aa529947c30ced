//! Diagnosing a 1007 (RFC 6455 §8.1): each way a sender gets text wrong,
//! sent as a client would send it, whole and in fragments, fed whole, byte by
//! byte and cut at every point, copied and in place, with and without
//! streaming. The close frame's reason on the wire names the offset, the
//! bytes and the likely cause; `Closed`'s `Display` (what a server logs)
//! gives the bytes around them and the fix.

mod common;

use common::*;
use wsframe::{CloseCode, Closed, Config, Event, ProtocolError, Role};

/// Feeds `input` every way; all runs must end in the same `Closed` and write
/// the same close frame. Returns that `Closed` and the close frame's reason.
fn closed_everywhere(input: &[u8]) -> (Closed, String) {
    let mut seen: Option<(Closed, Vec<u8>)> = None;
    for streaming in [false, true] {
        let config = Config::builder().streaming(streaming).build();
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let mut cuts: Vec<Vec<usize>> = vec![vec![], bytewise];
        cuts.extend((0..=input.len()).map(|cut| vec![cut]));
        for cut in cuts {
            let (events, out) = drive(Role::Server, config, input, &cut);
            let Some(Event::Closed(closed)) = events.last() else {
                panic!("no close: {events:?}");
            };
            let (first, payload) = server_frames(&out).pop().expect("a close frame");
            assert_eq!(first, 0x88, "a close frame");
            assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1007);
            let reason = payload[2..].to_vec();
            match &seen {
                None => seen = Some(((**closed).clone(), reason)),
                Some((want, want_reason)) => {
                    assert_eq!(&**closed, want, "streaming {streaming}, cuts {cut:?}");
                    assert_eq!(&reason, want_reason, "streaming {streaming}, cuts {cut:?}");
                }
            }
        }
    }
    let (closed, reason) = seen.expect("ran");
    assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD);
    let reason = String::from_utf8(reason).expect("the reason is UTF-8");
    assert!(reason.len() <= 123);
    assert_eq!(closed.reason, reason);
    (closed, reason)
}

/// Sends `text` as one text frame and as two fragments cut at `split`,
/// checks both give `reason` (with " (frame 2)" when the bad bytes are in
/// the second fragment), and that the logged form carries `cause` and `fix`.
fn diagnosed(text: &[u8], split: usize, reason: &str, cause: &str, fix: &str) {
    let whole = client(FIN | TEXT, text);
    let (closed, on_wire) = closed_everywhere(&whole);
    assert_eq!(on_wire, reason);
    let log = closed.to_string();
    assert!(log.contains(cause), "{log}");
    assert!(log.contains(fix), "{log}");

    let fragmented = stream(&[
        client(TEXT, &text[..split]),
        client(FIN | CONT, &text[split..]),
    ]);
    let (closed, _) = closed_everywhere(&fragmented);
    let evidence = closed
        .error
        .and_then(|e| e.invalid_utf8().copied())
        .unwrap();
    let whole_evidence = wsframe::InvalidUtf8::of(text).unwrap();
    assert_eq!(evidence.offset(), whole_evidence.offset());
    assert_eq!(evidence.bytes(), whole_evidence.bytes());
    assert_eq!(evidence.diagnosis(), whole_evidence.diagnosis());
    let frame = if (evidence.offset() as usize) < split {
        1
    } else {
        2
    };
    assert_eq!(evidence.frame(), frame);
}

#[test]
fn latin1_text_is_named_with_its_character() {
    diagnosed(
        b"Caf\xE9 au lait",
        3,
        "invalid UTF-8 at byte 3 of the message: E9 (Latin-1 '\u{e9}'?)",
        "bytes: 43 61 66 [E9] 20",
        "encode text as UTF-8",
    );
    // Windows-1252's curly quotes, the other half of the same mistake.
    diagnosed(
        b"He said \x93hi\x94",
        5,
        "invalid UTF-8 at byte 8 of the message: 93 (Latin-1 '\u{201c}'?)",
        "looks like '\u{201c}' in Latin-1 / Windows-1252",
        "encode text as UTF-8",
    );
}

#[test]
fn utf16_text_is_named_by_its_bom_or_its_zero_bytes() {
    diagnosed(
        b"\xFF\xFEh\x00i\x00",
        1,
        "invalid UTF-8 at byte 0 of the message: FF (UTF-16?)",
        "UTF-16",
        "encode text as UTF-8",
    );
    diagnosed(
        b"h\x00e\x00l\x00l\x00\xE9\x00",
        9,
        "invalid UTF-8 at byte 8 of the message: E9 (UTF-16?)",
        "bytes: 68 00 65 00 6C 00 6C 00 [E9] 00",
        "encode text as UTF-8",
    );
}

#[test]
fn binary_data_is_named_by_its_signature_or_its_control_bytes() {
    diagnosed(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        4,
        "invalid UTF-8 at byte 0 of the message: 89 (binary: PNG image?)",
        "starts like a PNG image",
        "send raw bytes as a binary message",
    );
    diagnosed(
        b"\x1F\x8B\x08\x00\x00\x00\x00\x00",
        1,
        "invalid UTF-8 at byte 1 of the message: 8B (binary: gzip stream?)",
        "gzip stream",
        "binary message",
    );
    diagnosed(
        b"\x08\x01\x12\x04\x08\x01\x10\x02\x1a\x03abc\x22\x02\xC8\x01",
        6,
        "invalid UTF-8 at byte 15 of the message: C8 (binary data?)",
        "control bytes",
        "binary message",
    );
}

#[test]
fn a_character_cut_at_the_end_of_a_message_is_named_so() {
    // Cut across the two fragments as well: F0 | 9F 98, then the end.
    diagnosed(
        b"smile \xF0\x9F\x98",
        7,
        "invalid UTF-8 at byte 6 of the message: F0 9F 98 (character cut at the end)",
        "split a character across messages",
        "send each string whole",
    );
    let (closed, reason) = closed_everywhere(&stream(&[
        client(TEXT, b"smile "),
        client(CONT, b"\xF0\x9F"),
        client(FIN | CONT, b"\x98"),
    ]));
    assert_eq!(
        reason,
        "invalid UTF-8 at byte 6 of the message (frame 2): F0 9F 98 (character cut at the end)"
    );
    assert_eq!(closed.error.unwrap().invalid_utf8().unwrap().frame(), 2);
}

#[test]
fn cesu8_overlong_and_too_large_code_points_are_named() {
    diagnosed(
        b"emoji \xED\xA0\xBD\xED\xB8\x80",
        7,
        "invalid UTF-8 at byte 6 of the message: ED (CESU-8 surrogate?)",
        "[ED] A0",
        "standard UTF-8 encoder",
    );
    diagnosed(
        b"nul \xC0\x80 here",
        5,
        "invalid UTF-8 at byte 4 of the message: C0 (overlong encoding)",
        "Java's modified UTF-8",
        "standard UTF-8 encoder",
    );
    diagnosed(
        b"x \xE0\x80\xAF",
        3,
        "invalid UTF-8 at byte 2 of the message: E0 (overlong encoding)",
        "[E0] 80",
        "standard UTF-8 encoder",
    );
    diagnosed(
        b"x \xF4\x90\x80\x80",
        3,
        "invalid UTF-8 at byte 2 of the message: F4 (above U+10FFFF)",
        "above U+10FFFF",
        "check the sender's text encoding",
    );
}

#[test]
fn anything_else_is_shown_in_hex() {
    diagnosed(
        b"abc \xE2\x82\x41",
        5,
        "invalid UTF-8 at byte 4 of the message: E2 82",
        "bytes: 61 62 63 20 [E2 82] 41",
        "check the sender's text encoding",
    );
}

#[test]
fn an_invalid_close_reason_is_diagnosed_too() {
    let (events, out) = server(&client(FIN | CLOSE, &close_payload(1000, b"Caf\xE9")));
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("{events:?}")
    };
    let (_, payload) = server_frames(&out).pop().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&payload[2..]),
        "invalid UTF-8 at byte 3 of the close reason: E9 (Latin-1 '\u{e9}'?)"
    );
    assert!(matches!(
        closed.error,
        Some(ProtocolError::InvalidCloseReason(_))
    ));
    assert!(
        closed.to_string().contains("bytes: 43 61 66 [E9]"),
        "{closed}"
    );
}

proptest::proptest! {
    /// Any bytes sent as a text message, in any fragments and reads: valid
    /// text arrives whole; invalid text is a 1007 whose evidence names std's
    /// offset and offending bytes.
    #[test]
    fn any_invalid_text_is_named_as_std_names_it(
        text in proptest::collection::vec(
            proptest::prop_oneof![proptest::prelude::any::<u8>(), 0x20u8..0x7F, 0x80u8..0xC0],
            0..120,
        ),
        fragment in 1usize..40,
        read in 1usize..64,
    ) {
        let pieces: Vec<&[u8]> = if text.is_empty() { vec![&[]] } else { text.chunks(fragment).collect() };
        let frames: Vec<Vec<u8>> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let opcode = if i == 0 { TEXT } else { CONT };
                let fin = if i + 1 == pieces.len() { FIN } else { 0 };
                client(fin | opcode, piece)
            })
            .collect();
        let input = stream(&frames);
        let cuts: Vec<usize> = (read..input.len()).step_by(read).collect();
        for streaming in [false, true] {
            let config = Config::builder().streaming(streaming).build();
            let (events, _) = drive(Role::Server, config, &input, &cuts);
            match std::str::from_utf8(&text) {
                Ok(valid) if !streaming => {
                    proptest::prop_assert_eq!(events, vec![Event::Message(valid.into())])
                }
                Ok(_) => proptest::prop_assert!(!matches!(events.last(), Some(Event::Closed(_)))),
                Err(std) => {
                    let Some(Event::Closed(closed)) = events.last() else {
                        panic!("{events:?}");
                    };
                    let evidence = closed.error.and_then(|e| e.invalid_utf8().copied()).unwrap();
                    let at = std.valid_up_to();
                    let bad = match std.error_len() {
                        Some(len) => &text[at..at + len],
                        None => &text[at..],
                    };
                    proptest::prop_assert_eq!(evidence.offset(), at as u64);
                    proptest::prop_assert_eq!(evidence.bytes(), bad);
                    proptest::prop_assert_eq!(evidence.context(), &text[at.saturating_sub(12)..at]);
                    proptest::prop_assert!(closed.reason.len() <= 123);
                }
            }
        }
    }
}
