//! permessage-deflate: the fragments of a compressed text message that end
//! in one read go through the inflater frame by frame or in one call, and
//! either way an invalid byte is told in the frame whose payload brought
//! it, with a ping between fragments delivered only if the fragments
//! before it were valid: the same events however the reads were cut, with
//! either decoder (zlib-rs at 15 bits, the ring below). Also a harness for
//! callgrind (ignored) that feeds messages of many small fragments in one
//! read.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use flate2::{Compress, Compression};
use wsframe::{Config, Connection, DeflateParams, Event, Message, Role};

/// A peer window below 15 bits: the ring decoder.
const RING: DeflateParams = DeflateParams {
    client_max_window_bits: 9,
    ..TAKEOVER
};

/// A client's compressor for `params`: its window within the peer's.
fn compressor(params: DeflateParams) -> Compress {
    Compress::new_with_window_bits(Compression::default(), false, params.client_max_window_bits)
}

/// A client's compressed text message in frames of `parts` (each
/// sync-flushed, the last one's tail stripped), a ping after the fragment
/// `ping_after` if any.
fn fragmented(ours: &mut Compress, parts: &[Vec<u8>], ping_after: Option<usize>) -> Vec<u8> {
    let mut input = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let fin = i == parts.len() - 1;
        let first = if i == 0 { RSV1 | TEXT } else { CONT };
        let payload = match fin {
            true => sync_message(ours, part),
            false => sync_flush(ours, part),
        };
        input.extend(client(if fin { FIN | first } else { first }, &payload));
        if ping_after == Some(i) {
            input.extend(client(FIN | PING, b"between"));
        }
    }
    input
}

#[test]
fn an_invalid_byte_is_told_in_its_fragment_with_either_decoder() {
    // Six fragments, some long enough that one read holds several whole
    // frames with payloads of different lengths; the bad byte (a lone
    // continuation byte, or a lead byte whose sequence the next fragment
    // breaks) in fragment `bad`, a ping after fragment `ping`.
    let parts: Vec<Vec<u8>> = [
        &b"one "[..],
        b"two \xC3\xA9 two two two two two two",
        b"3",
        b"four four four four four four four four four four four four",
        b"\xE2\x82\xAC five",
        b"six",
    ]
    .iter()
    .map(|p| p.to_vec())
    .collect();
    for params in [TAKEOVER, RING] {
        for bad in [None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)] {
            for ping in [None, Some(0), Some(2), Some(4)] {
                let mut parts = parts.clone();
                let mut offset = 0;
                if let Some(k) = bad {
                    // At the end of fragment `k`: a lead byte that the next
                    // fragment's first byte (ASCII) breaks, or in the last
                    // fragment a lone continuation byte.
                    let byte = if k + 1 < parts.len() { 0xE2 } else { 0x80 };
                    parts[k].push(byte);
                    offset = parts[..=k].iter().map(Vec::len).sum::<usize>() - 1;
                }
                let mut ours = compressor(params);
                let mut input = fragmented(&mut ours, &parts, ping);
                // A message after it, which the inflater reaches only if
                // the first is valid.
                input.extend(fragmented(&mut ours, &[b"after".to_vec()], None));
                let make =
                    move || Connection::with_deflate(Role::Server, Config::default(), Some(params));
                let (events, _) = same_every_way("events", &make, &input, true, |run| run);
                let pings = pings_in(&events);
                let at = format!("bad {bad:?}, ping {ping:?}, {params:?}");
                match bad {
                    None => {
                        let text = String::from_utf8(parts.concat()).unwrap();
                        let want: Vec<Event> = ping
                            .map(|_| Event::Ping(bytes::Bytes::from_static(b"between")))
                            .into_iter()
                            .chain([
                                Event::Message(Message::from(text)),
                                Event::Message(Message::from("after")),
                            ])
                            .collect();
                        assert_eq!(events, want, "{at}");
                    }
                    Some(k) => {
                        let evidence = invalid_utf8_closing(&events, &at);
                        // A lead byte broken by the next fragment is found
                        // there; a lone continuation byte in its own.
                        let frame = if k + 1 < parts.len() { k + 2 } else { k + 1 };
                        assert_eq!(evidence.frame(), frame as u32, "{at}");
                        assert_eq!(evidence.offset(), offset as u64, "{at}");
                        // A ping after the fragments found valid came out.
                        let before = ping.is_some_and(|p| p + 1 < frame);
                        assert_eq!(pings, usize::from(before), "{at}");
                        assert_eq!(events.len(), pings + 1, "{at}");
                    }
                }
            }
        }
    }
}

/// `len` bytes of printable ASCII that deflate shrinks little (about
/// 0.8 of it), deterministic from `seed`.
/// How many pings `events` holds.
fn pings_in(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Ping(_)))
        .count()
}

/// The invalid-UTF-8 evidence of the close that ends `events` (panics,
/// naming `at`, if they do not end in a 1007 for invalid text).
fn invalid_utf8_closing(events: &[Event], at: &str) -> wsframe::InvalidUtf8 {
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("{at}: {events:?}")
    };
    closed
        .error
        .and_then(|e| e.invalid_utf8().copied())
        .expect("1007 for the invalid byte")
}

fn noisy_text(len: usize, seed: u64) -> Vec<u8> {
    incompressible(len, seed)
        .into_iter()
        .map(|b| b' ' + b % 95)
        .collect()
}

#[test]
fn large_fragments_in_one_read_tell_the_frame_of_an_invalid_byte() {
    // Five fragments of 16 KiB that deflate barely shrinks, a ping after
    // the third. With zlib-rs (15 bits), read at once, the first three go
    // through the inflater in one call after a copy of its state (each
    // frame is expected to inflate to about zlib's window, so calls of
    // their own would copy two windows more), replayed frame by frame on
    // an error, and the last two in a call each (one window more); with
    // the ring, all in a call each. The invalid byte (0xFF) at the start,
    // in the middle or at the end of fragment `bad`.
    const LEN: usize = 16 * 1024;
    for params in [TAKEOVER, RING] {
        for (bad, at) in [(None, 0), (Some(0), 0), (Some(1), 0), (Some(2), LEN - 1)]
            .into_iter()
            .chain((0..5).map(|k| (Some(k), LEN / 2)))
            .chain([(Some(3), 0), (Some(4), LEN - 1)])
        {
            let mut parts: Vec<Vec<u8>> = (0..5).map(|i| noisy_text(LEN, 7 + i)).collect();
            if let Some(k) = bad {
                parts[k][at] = 0xFF;
            }
            let mut ours = compressor(params);
            let input = fragmented(&mut ours, &parts, Some(2));
            let make =
                move || Connection::with_deflate(Role::Server, Config::default(), Some(params));
            // Whole, byte by byte, and cut around each frame's end and
            // every 1 KiB: the same events.
            let whole = drive_connection(&make, &input, &[]);
            let bytewise: Vec<usize> = (1..input.len()).collect();
            let at_all = format!("bad {bad:?} at {at}, {params:?}");
            assert_eq!(
                drive_connection(&make, &input, &bytewise),
                whole,
                "{at_all}: byte by byte"
            );
            let mut ends = Vec::new();
            let mut rest = &input[..];
            while let Some((frame, len)) = next_frame(rest) {
                ends.push(input.len() - rest.len() + len);
                let _ = frame;
                rest = &rest[len..];
            }
            let cuts = ends
                .iter()
                .flat_map(|&end| [end - 1, end, end + 1])
                .chain((0..input.len()).step_by(1024))
                .filter(|&cut| cut <= input.len());
            for cut in cuts {
                assert_eq!(
                    drive_connection(&make, &input, &[cut]),
                    whole,
                    "{at_all}: cut at {cut}"
                );
            }
            let (events, _) = whole;
            let pings = pings_in(&events);
            match bad {
                None => {
                    let text = String::from_utf8(parts.concat()).unwrap();
                    assert_eq!(events.last(), Some(&Event::Message(Message::from(text))));
                    assert_eq!((pings, events.len()), (1, 2), "{at_all}");
                }
                Some(k) => {
                    let evidence = invalid_utf8_closing(&events, &at_all);
                    assert_eq!(evidence.frame(), k as u32 + 1, "{at_all}");
                    assert_eq!(evidence.offset(), (k * LEN + at) as u64, "{at_all}");
                    // The ping after fragment 3 came out if they were valid.
                    assert_eq!(pings, usize::from(k > 2), "{at_all}");
                }
            }
        }
    }
}

/// The length of the frame at the start of `wire` (a client's, masked),
/// with its first byte, if all of its header is there.
fn next_frame(wire: &[u8]) -> Option<(u8, usize)> {
    let (&first, rest) = wire.split_first()?;
    let (len, header) = match rest.first()? & 0x7F {
        126 => (
            u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]) as usize,
            4,
        ),
        127 => {
            let bytes: [u8; 8] = rest.get(1..9)?.try_into().ok()?;
            (u64::from_be_bytes(bytes) as usize, 10)
        }
        len => (len as usize, 2),
    };
    Some((first, header + 4 + len))
}

/// For callgrind: `messages` text messages of `fragments` fragments of
/// `len` bytes each, all in one input, compressed for `params`.
fn small_fragments(
    params: DeflateParams,
    messages: usize,
    fragments: usize,
    len: usize,
) -> Vec<u8> {
    let mut ours = compressor(params);
    let words = b"lorem ipsum dolor sit amet, consectetur adipiscing elit ";
    let mut input = Vec::new();
    for m in 0..messages {
        let parts: Vec<Vec<u8>> = (0..fragments)
            .map(|f| {
                (0..len)
                    .map(|i| words[(m * 7 + f * 13 + i) % words.len()])
                    .collect()
            })
            .collect();
        input.extend(fragmented(&mut ours, &parts, None));
    }
    input
}

/// Decodes `input` with a server fed it in reads of `read` bytes: the
/// messages and their bytes. Out of line, for callgrind's
/// `--toggle-collect='*decode_small_fragments*'`.
#[inline(never)]
fn decode_small_fragments(params: DeflateParams, input: &[u8], read: usize) -> (usize, usize) {
    let mut conn = Connection::with_deflate(Role::Server, Config::default(), Some(params));
    let (mut count, mut bytes) = (0, 0);
    for chunk in input.chunks(read) {
        conn.receive(chunk);
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(message) => {
                    count += 1;
                    bytes += message.as_bytes().len();
                }
                other => panic!("{other:?}"),
            }
        }
    }
    (count, bytes)
}

/// `WSFRAME_FRAGMENTS=<fragments>x<len>[,ring]` (default `64x1`): 200
/// messages of that many fragments of that many bytes, in 64 KiB reads.
/// Run under callgrind in a release build:
/// `valgrind --tool=callgrind --toggle-collect='*decode_small_fragments*'
/// <test binary> --ignored --exact small_fragments_harness`.
#[test]
#[ignore = "a harness for callgrind"]
fn small_fragments_harness() {
    let spec = std::env::var("WSFRAME_FRAGMENTS").unwrap_or_else(|_| "64x1".into());
    let (shape, ring) = match spec.strip_suffix(",ring") {
        Some(shape) => (shape, true),
        None => (spec.as_str(), false),
    };
    let (fragments, len) = shape.split_once('x').expect("<fragments>x<len>");
    let (fragments, len): (usize, usize) = (fragments.parse().unwrap(), len.parse().unwrap());
    let messages = 200;
    let params = if ring { RING } else { TAKEOVER };
    let input = small_fragments(params, messages, fragments, len);
    let got = decode_small_fragments(params, &input, 64 * 1024);
    assert_eq!(got, (messages, messages * fragments * len));
}
