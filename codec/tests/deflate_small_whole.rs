//! Small compressed messages in one frame (payloads under 256 bytes, read
//! whole from the read buffer without opening a message): valid text,
//! text that turns invalid in the middle or ends inside a code point,
//! binary, limits one byte under, at and over the inflated size, corrupt
//! data, BFINAL blocks (with the `00` a sender may append, and with more
//! after it), payloads of 255 and 256 bytes, with and without context
//! takeover, between messages and control frames. Each runs through both
//! input paths, whole, byte by byte and cut at every point (the general
//! path), and gives the same events, which are what the reference inflater
//! and std's UTF-8 check say: the message, a 1007 at std's offset, a 1009
//! or a 1007 for the data.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use wsframe::{Config, Connection, DeflateParams, Event, Message, ProtocolError, Role};

struct Case {
    what: String,
    opcode: u8,
    payload: Vec<u8>,
    /// For a corrupt payload: how much of it is whole data before the
    /// corruption (its output is judged first).
    whole_prefix: usize,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |what: &str, opcode: u8, payload: Vec<u8>| {
        cases.push(Case {
            what: what.to_owned(),
            opcode,
            payload,
            whole_prefix: 0,
        });
    };
    add("ascii", TEXT, sync_compressed(b"{\"id\":1,\"ok\":true}", 6));
    add(
        "multi-byte",
        TEXT,
        sync_compressed("zürich → 東京 🚀".as_bytes(), 6),
    );
    add(
        "invalid in the middle",
        TEXT,
        sync_compressed(b"abc\xFFdef", 6),
    );
    add(
        "a cut code point at the end",
        TEXT,
        sync_compressed(b"abc\xE2\x82", 6),
    );
    add(
        "an overlong at the start",
        TEXT,
        sync_compressed(b"\xC0\xAFabc", 6),
    );
    add("binary", BINARY, sync_compressed(b"\xFF\x00\xC0binary", 6));
    add("empty", TEXT, sync_compressed(b"", 6));
    add("final", TEXT, final_compressed(b"the final block", 6));
    let mut padded = final_compressed(b"the final block", 6);
    padded.push(0x00);
    add("final then 00", TEXT, padded.clone());
    padded.push(0x00);
    add("final then 00 00", TEXT, padded);
    let good = sync_compressed(b"hello hello hello", 6);
    add("truncated", TEXT, good[..good.len() - 2].to_vec());
    add("a bad block type", TEXT, vec![0x07, 0x00]);
    let mut invalid_then_corrupt = sync_compressed(b"ab\xFFcd", 0);
    // Stored (level 0): 5 bytes of header per block, so the payload's size
    // is the text's plus 5 (one block) plus the empty block's header byte: 254, 255 and 256 B.
    for len in [248, 249, 250] {
        let text = vec![b'x'; len];
        let payload = sync_compressed(&text, 0);
        add(&format!("stored {} B", payload.len()), TEXT, payload);
    }
    let whole_prefix = invalid_then_corrupt.len();
    invalid_then_corrupt.extend_from_slice(&[0x07, 0x00]);
    cases.push(Case {
        what: "invalid text then corrupt data".to_owned(),
        opcode: TEXT,
        payload: invalid_then_corrupt,
        whole_prefix,
    });
    cases
}

/// What the case's message must give under `limit`: its event, or the
/// error the connection closes with.
fn oracle(case: &Case, limit: u64) -> Result<Message, fn(&ProtocolError) -> bool> {
    let Some(data) = reference_inflate(&case.payload) else {
        // What came out before the corruption is judged first.
        let before = reference_inflate(&case.payload[..case.whole_prefix]).unwrap_or_default();
        if std::str::from_utf8(&before).is_err_and(|e| e.error_len().is_some()) {
            return Err(|e| matches!(e, ProtocolError::InvalidUtf8(_)));
        }
        return Err(|e| matches!(e, ProtocolError::InflateFailed));
    };
    let within = &data[..data.len().min(limit as usize + 1)];
    if case.opcode == TEXT {
        if let Err(err) = std::str::from_utf8(within) {
            if err.error_len().is_some() || data.len() as u64 <= limit {
                return Err(|e| matches!(e, ProtocolError::InvalidUtf8(_)));
            }
        }
    }
    if data.len() as u64 > limit {
        return Err(|e| matches!(e, ProtocolError::MessageTooBig { .. }));
    }
    Ok(match case.opcode {
        TEXT => Message::from(String::from_utf8(data).expect("checked")),
        _ => Message::from(data),
    })
}

fn run(params: DeflateParams, case: &Case, limit: u64) {
    let mut input = client(FIN | RSV1 | TEXT, &sync_compressed(b"before", 6));
    input.extend(client(FIN | PING, b"p"));
    input.extend(client(FIN | RSV1 | case.opcode, &case.payload));
    input.extend(client(FIN | RSV1 | TEXT, &sync_compressed(b"after", 6)));
    let config = Config::builder().max_message_size(limit).build();
    let make = || Connection::with_deflate(Role::Server, config, Some(params));
    let whole = drive_connection(&make, &input, &[]);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert!(
        drive_connection(&make, &input, &bytewise) == whole,
        "{}: byte by byte",
        case.what
    );
    for cut in 0..=input.len() {
        assert!(
            drive_connection(&make, &input, &[cut]) == whole,
            "{}: cut at {cut}",
            case.what
        );
    }
    let (events, _) = whole;
    let what = &case.what;
    assert_eq!(events[0], Event::Message(Message::from("before")), "{what}");
    assert!(matches!(events[1], Event::Ping(_)), "{what}");
    match oracle(case, limit) {
        Ok(message) => {
            assert_eq!(
                events[2..],
                [
                    Event::Message(message),
                    Event::Message(Message::from("after"))
                ],
                "{what}"
            );
        }
        Err(is_error) => {
            let [Event::Closed(closed)] = &events[2..] else {
                panic!("{what} under {limit}: {events:?}")
            };
            let error = closed.error.as_ref().expect("an error");
            assert!(is_error(error), "{what} under {limit}: {error:?}");
            if let ProtocolError::InvalidUtf8(evidence) = error {
                let data = reference_inflate(&case.payload)
                    .or_else(|| reference_inflate(&case.payload[..case.whole_prefix]))
                    .expect("inflates");
                let valid = std::str::from_utf8(&data)
                    .expect_err("invalid")
                    .valid_up_to();
                assert_eq!(evidence.offset(), valid as u64, "{what}");
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)] // thousands of cuts through zlib-rs
fn small_whole_messages_give_the_same_events_as_any_cut_and_what_the_oracle_says() {
    for case in cases() {
        assert!(
            case.payload.len() <= 256,
            "{}: {} B",
            case.what,
            case.payload.len()
        );
        let size = reference_inflate(&case.payload).map_or(64, |d| d.len() as u64);
        for limit in [size.saturating_sub(1), size, size + 1] {
            for params in [TAKEOVER, NO_TAKEOVER] {
                run(params, &case, limit.max(6));
            }
        }
    }
}
