//! One-frame compressed messages at the edges of the one-call inflate:
//! inflated sizes around the 4 KiB stack room (4095, 4096, 4097), payloads
//! around the 512 B compressed cutoff (511, 512, 513), each under a message
//! limit of its size minus one, its size and plus one; with and without
//! context takeover; BFINAL blocks, corrupt data, an empty message; text
//! that turns invalid at the stack room's edge. Each goes between two
//! other messages, through both input paths, whole, byte by byte and cut
//! at every point, and gives what `flate2` (the oracle) inflates: the
//! message, a 1009 one byte past the limit, or a 1007; the messages
//! before it stay intact and the one after it inflates.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use flate2::{Decompress, FlushDecompress};
use wsframe::{Config, Connection, DeflateParams, Event, Message, ProtocolError, Role};

/// `data` compressed by a fresh compressor at `level`, tail stripped, or
/// ending in a BFINAL block with `last`.
fn compressed(data: &[u8], level: u32, last: bool) -> Vec<u8> {
    match last {
        true => final_compressed(data, level),
        false => sync_compressed(data, level),
    }
}

/// What the oracle inflates `payload` (one whole message) to: `None` if
/// it is corrupt.
fn oracle(payload: &[u8]) -> Option<Vec<u8>> {
    let mut stream = Decompress::new(false);
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
    let mut out = Vec::with_capacity(1 << 16);
    let status = stream
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .ok()?;
    let consumed = stream.total_in() as usize;
    match status {
        // A BFINAL block: nothing of the payload may follow it but the
        // header byte of an empty stored block (§7.2.3.4).
        flate2::Status::StreamEnd if payload.get(consumed..) == Some(&[0x00]) => Some(out),
        flate2::Status::StreamEnd if consumed < payload.len() => None,
        flate2::Status::StreamEnd => Some(out),
        _ if consumed == input.len() => Some(out),
        _ => None,
    }
}

/// `len` bytes that compress to about `compressible` parts in 4096:
/// a pseudo-random run, then a repeated one.
fn data_of(len: usize, noisy: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|i| {
            if i < noisy {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b'a' + (state % 26) as u8
            } else {
                b"wsframe "[i % 8]
            }
        })
        .collect()
}

/// Data of `len` bytes whose compressed payload is `target` bytes, if a
/// mix of noise and repetition near where the size crosses it reaches it
/// exactly.
fn compressing_to(len: usize, target: usize, last: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let size = |noisy: usize| compressed(&data_of(len, noisy), 6, last).len();
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = (low + high) / 2;
        match size(mid) < target {
            true => low = mid + 1,
            false => high = mid,
        }
    }
    (low.saturating_sub(40)..(low + 40).min(len))
        .map(|noisy| data_of(len, noisy))
        .map(|data| (compressed(&data, 6, last), data))
        .find(|(payload, _)| payload.len() == target)
        .map(|(payload, data)| (data, payload))
}

struct Case {
    what: String,
    opcode: u8,
    payload: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for last in [false, true] {
        for len in [4095, 4096, 4097] {
            // Compressed small (the one-call path) and large (the other).
            for target in [40, 511, 512, 513, 600] {
                let found = match target {
                    40 => {
                        let data = data_of(len, 0);
                        Some((data.clone(), compressed(&data, 6, last)))
                    }
                    _ => compressing_to(len, target, last),
                };
                if let Some((data, payload)) = found {
                    assert_eq!(oracle(&payload).as_deref(), Some(&data[..]));
                    cases.push(Case {
                        what: format!("{len} B in {} B, BFINAL {last}", payload.len()),
                        opcode: TEXT,
                        payload,
                    });
                }
            }
        }
        // Around the cutoff with small output too: stored blocks.
        for len in [500, 506, 507, 508] {
            let payload = compressed(&data_of(len, len), 0, last);
            cases.push(Case {
                what: format!("stored {len} B in {} B, BFINAL {last}", payload.len()),
                opcode: BINARY,
                payload,
            });
        }
    }
    // Text that turns invalid at the stack room's edge.
    for at in [4094, 4095, 4096, 4097] {
        let mut data = data_of(5000, 0);
        data[at] = 0xFF;
        cases.push(Case {
            what: format!("invalid UTF-8 at {at}"),
            opcode: TEXT,
            payload: compressed(&data, 6, false),
        });
        // A code point cut by the stack room's edge.
        let mut data = data_of(4100, 0);
        data[at - 1..at + 1].copy_from_slice("\u{e9}".as_bytes());
        cases.push(Case {
            what: format!("é at {}", at - 1),
            opcode: TEXT,
            payload: compressed(&data, 6, false),
        });
    }
    // The empty message, §7.2.3.4's final block with the header byte of an
    // empty stored block after it, and corrupt ones: a reserved block type,
    // stored lengths that disagree, data after BFINAL. (A block the tail
    // leaves unfinished is in deflate_block_boundary.rs, whose oracle can
    // tell.)
    let mut padded_final = compressed(b"Hello", 6, true);
    padded_final.push(0);
    let mut after_final = padded_final.clone();
    after_final.push(0);
    for (what, payload) in [
        ("empty", vec![0x00]),
        ("BFINAL, then a stored block's header", padded_final),
        ("reserved block type", vec![0x07]),
        ("stored lengths", vec![0x00, 0x05, 0x00, 0x00, 0x00]),
        ("data after BFINAL", after_final),
    ] {
        cases.push(Case {
            what: what.into(),
            opcode: TEXT,
            payload,
        });
    }
    cases
}

/// The events a server must give for `hello`, the case, then `after`,
/// under `limit`.
fn expected(case: &Case, limit: u64) -> Vec<Event> {
    let hello = Event::Message(Message::from("Hello"));
    let mut events = vec![hello];
    match oracle(&case.payload) {
        None => return events,
        Some(data) if data.len() as u64 > limit => return events,
        Some(data) if case.opcode == TEXT => match String::from_utf8(data) {
            Ok(text) => events.push(Event::Message(Message::from(text))),
            Err(_) => return events,
        },
        Some(data) => events.push(Event::Message(Message::from(data))),
    }
    events.push(Event::Message(Message::from("after")));
    events
}

/// Why the connection must close on the case, if it must: whichever of
/// invalid text and the limit the inflated bytes reach first.
fn closing_error(case: &Case, limit: u64) -> Option<fn(&ProtocolError) -> bool> {
    let data = match oracle(&case.payload) {
        None => return Some(|e| matches!(e, ProtocolError::InflateFailed)),
        Some(data) => data,
    };
    let within = &data[..data.len().min(limit as usize)];
    let dead = std::str::from_utf8(within).is_err_and(|e| e.error_len().is_some());
    if case.opcode == TEXT && dead {
        return Some(|e| matches!(e, ProtocolError::InvalidUtf8(_)));
    }
    if data.len() as u64 > limit {
        return Some(|e| matches!(e, ProtocolError::MessageTooBig { .. }));
    }
    if case.opcode == TEXT && std::str::from_utf8(&data).is_err() {
        return Some(|e| matches!(e, ProtocolError::InvalidUtf8(_)));
    }
    None
}

fn run(params: DeflateParams, case: &Case, limit: u64, every_cut: bool) {
    // `hello` by one compressor; the case by a fresh one (valid after any
    // context); `after` by another fresh one (valid after a BFINAL).
    let mut input = client(FIN | RSV1 | TEXT, &compressed(b"Hello", 6, false));
    input.extend(client(FIN | RSV1 | case.opcode, &case.payload));
    input.extend(client(FIN | RSV1 | TEXT, &compressed(b"after", 6, false)));
    let config = Config::builder().max_message_size(limit).build();
    let make = || Connection::with_deflate(Role::Server, config, Some(params));
    let (mut events, _) = same_every_way(&case.what, &make, &input, every_cut, |run| run);
    let want = expected(case, limit);
    match closing_error(case, limit) {
        None => assert!(events == want, "{} under {limit}: {events:?}", case.what),
        Some(is_error) => {
            let Some(Event::Closed(closed)) = events.pop() else {
                panic!("{} under {limit}: {events:?}", case.what)
            };
            assert!(
                closed.error.as_ref().is_some_and(is_error),
                "{} under {limit}: {closed:?}",
                case.what
            );
            assert!(events == want, "{} under {limit}: {events:?}", case.what);
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)] // thousands of cuts through zlib-rs
fn one_frame_messages_at_the_one_call_edges_give_what_the_oracle_inflates() {
    for case in cases() {
        let size = oracle(&case.payload).map_or(4096, |d| d.len() as u64);
        for limit in [size.saturating_sub(1), size, size + 1] {
            for params in [TAKEOVER, NO_TAKEOVER] {
                // Every cut once per case: under its exact limit.
                let every_cut = limit == size && params == TAKEOVER;
                run(params, &case, limit.max(5), every_cut);
            }
        }
    }
}
