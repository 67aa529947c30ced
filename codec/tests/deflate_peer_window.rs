//! The window the handshake gives the peer is enforced on what it sends
//! (RFC 7692 §7.1.2): with `client_max_window_bits=N` (a server receiving)
//! or `server_max_window_bits=N` (a client receiving), a distance of
//! `2^N` is read and one of `2^N + 1` closes the connection with 1007
//! ([`ProtocolError::InflateFailed`]), for every N in 8..=14, however the
//! reads are cut; so is a distance before the context's start.
//!
//! The streams are made by hand (common's `fixed_block`, `stored`): a
//! stored block of noise, a fixed-Huffman block of 258-byte matches at
//! distance 1 filling the history to `2^N + 1` bytes, then a match of 258
//! bytes at the probed distance, which reads from the history's first or
//! second byte. Each is first checked against flate2's 32 KiB inflater
//! (the stream is what it is meant to be) and against the windowed oracle
//! (common's `WindowedInflater`: the line is at `2^N`). In three shapes:
//! one message, two messages (the match in the second, context taken
//! over), three fragments of one message; both roles, whole messages and
//! streamed; fed whole, byte by byte and cut at every point, through both
//! input paths (`same_every_way`), the same events every way.
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{
    fixed_block, frames_of, inflate_next, stored, Lz, WindowedInflater, RSV1, TAIL, TAKEOVER,
};
use common::deflate_messages::{seen, Pings, Seen};
use common::{close_payload, raw_frame, same_every_way, BINARY, CLOSE, CONT, FIN, KEY};
use wsframe::{Config, Connection, DeflateParams, Event, ProtocolError, Role};

/// The longest match: the length of every match here.
const MATCH: usize = 258;

/// `len` bytes of noise (a xorshift from `seed`, odd).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// `out` grown by [`MATCH`] bytes copied from `dist` back, byte by byte.
fn copy_back(out: &mut Vec<u8>, dist: usize) {
    for _ in 0..MATCH {
        out.push(out[out.len() - dist]);
    }
}

/// A history of `len` bytes: (a stored block of noise and a fixed block of
/// matches at distance 1, its last byte repeated, as payload bytes ending
/// at the sync point; the bytes). The noise is 300 to 557 bytes (all of it
/// when `len` is smaller), so the fill is whole matches.
fn history(len: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let matches = len.saturating_sub(300) / MATCH;
    let mut data = noise(len - matches * MATCH, seed);
    let mut payload = stored(&data);
    for _ in 0..matches {
        copy_back(&mut data, 1);
    }
    payload.extend(fixed_block(&vec![Lz::Match(1); matches]));
    (payload, data)
}

/// How the probe goes on the wire.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// History and match in one message, one frame.
    OneMessage,
    /// History in one message, the match in the next (context taken over).
    TwoMessages,
    /// One message in three frames: the noise, the fill, the match.
    Fragments,
}

/// The messages (each as frame payloads) and what each inflates to, for a
/// history of `len` bytes and a match `dist` back from its end.
fn probe(shape: Shape, len: usize, dist: usize, seed: u64) -> (Vec<Vec<Vec<u8>>>, Vec<Vec<u8>>) {
    let (history_payload, history_data) = history(len, seed);
    let mut all = history_data.clone();
    copy_back(&mut all, dist);
    let copy = all[len..].to_vec();
    match shape {
        Shape::OneMessage => {
            // The history's empty stored block completed by its lengths,
            // then the match.
            let payload = [
                &history_payload[..],
                &TAIL,
                &fixed_block(&[Lz::Match(dist)]),
            ]
            .concat();
            (vec![vec![payload]], vec![all])
        }
        Shape::TwoMessages => (
            vec![vec![history_payload], vec![fixed_block(&[Lz::Match(dist)])]],
            vec![history_data, copy],
        ),
        Shape::Fragments => {
            // The stored block: its 5 bytes of header, then the noise.
            let split = 5 + len - len.saturating_sub(300) / MATCH * MATCH;
            let noise_block = history_payload[..split].to_vec();
            let fill = [&history_payload[split..], &TAIL].concat();
            let frames = vec![noise_block, fill, fixed_block(&[Lz::Match(dist)])];
            (vec![frames], vec![all])
        }
    }
}

/// The wire of `messages` (binary, compressed) then a close (1000), as
/// the peer of `role` sends it (masked from a client).
fn wire(role: Role, messages: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mask = match role {
        Role::Server => Some(KEY),
        Role::Client => None,
    };
    let mut input = Vec::new();
    for frames in messages {
        for (i, frame) in frames.iter().enumerate() {
            let mut first = if i == 0 { BINARY | RSV1 } else { CONT };
            if i + 1 == frames.len() {
                first |= FIN;
            }
            input.extend(raw_frame(first, frame, mask));
        }
    }
    input.extend(raw_frame(FIN | CLOSE, &close_payload(1000, b""), mask));
    input
}

/// The parameters that limit the window of the peer of a `role` receiver
/// to `bits`, its context taken over or not.
fn params(role: Role, bits: u8, takeover: bool) -> DeflateParams {
    match role {
        Role::Server => DeflateParams {
            client_max_window_bits: bits,
            client_no_context_takeover: !takeover,
            ..TAKEOVER
        },
        Role::Client => DeflateParams {
            server_max_window_bits: bits,
            server_no_context_takeover: !takeover,
            ..TAKEOVER
        },
    }
}

/// What a `role` endpoint with `params` makes of `input`, whole messages
/// and streamed, fed whole, byte by byte and cut at every point, through
/// both input paths: the same every way. The events, the failure (if
/// any) and the close code on the wire.
fn received(
    what: &str,
    role: Role,
    params: DeflateParams,
    input: &[u8],
) -> (Vec<Seen>, Option<ProtocolError>, Option<u16>) {
    let mut first = None;
    for streaming in [false, true] {
        let config = Config::builder().streaming(streaming).build();
        // A fixed mask: a client's output is the same every run.
        let make = || {
            Connection::with_deflate_and_mask_source(role, config, Some(params), Box::new(|| KEY))
        };
        let got = same_every_way(
            &format!("{what}, streaming {streaming}"),
            &make,
            input,
            true,
            |(events, out): (Vec<Event>, Vec<u8>)| {
                let error = events.iter().find_map(|e| match e {
                    Event::Closed(c) => c.error,
                    _ => None,
                });
                (seen(events, Pings::Unexpected), error, close_code(&out))
            },
        );
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(&got, f, "{what}: streaming and whole differ"),
        }
    }
    first.unwrap()
}

/// The code of the close frame in `out` (masked or not).
fn close_code(out: &[u8]) -> Option<u16> {
    frames_of(out)
        .into_iter()
        .find(|(first, _)| first & 0x0F == CLOSE)
        .map(|(_, payload)| u16::from_be_bytes([payload[0], payload[1]]))
}

/// The events a receiver should see: the messages, then the peer's close
/// (1000), or, when `refused`, all but the last, then our 1007.
fn expected(data: &[Vec<u8>], refused: bool) -> (Vec<Seen>, Option<ProtocolError>, Option<u16>) {
    let shown = if refused { data.len() - 1 } else { data.len() };
    let mut seen: Vec<Seen> = data[..shown]
        .iter()
        .map(|d| Seen::Message(false, d.clone()))
        .collect();
    if refused {
        seen.push(Seen::Closed(1007, true));
        (seen, Some(ProtocolError::InflateFailed), Some(1007))
    } else {
        seen.push(Seen::Closed(1000, false));
        (seen, None, Some(1000))
    }
}

/// Each message through a 32 KiB inflater (flate2), context kept: what
/// the stream is.
fn inflate_32k(messages: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut inflater = flate2::Decompress::new(false);
    messages
        .iter()
        .map(|frames| inflate_next(&mut inflater, &frames.concat()))
        .collect()
}

#[test]
fn a_distance_of_the_window_is_read_and_one_past_it_is_1007() {
    for bits in 8..=14u8 {
        let window = 1usize << bits;
        for dist in [window, window + 1] {
            for shape in [Shape::OneMessage, Shape::TwoMessages, Shape::Fragments] {
                let what = format!("{bits} bits, distance {dist}, {shape:?}");
                let (messages, data) = probe(shape, window + 1, dist, u64::from(bits) * 2 + 1);
                // The stream is what it is meant to be, and the oracle
                // draws the line at the window.
                assert_eq!(inflate_32k(&messages), data, "{what}");
                let mut oracle = WindowedInflater::new(bits, false);
                let by_oracle: Option<Vec<Vec<u8>>> = messages
                    .iter()
                    .map(|m| oracle.message(&m.concat()))
                    .collect();
                let refused = dist > window;
                assert_eq!(by_oracle.is_none(), refused, "{what}: oracle");
                for role in [Role::Server, Role::Client] {
                    let what = format!("{what}, {role:?}");
                    let got = received(
                        &what,
                        role,
                        params(role, bits, true),
                        &wire(role, &messages),
                    );
                    assert_eq!(got, expected(&data, refused), "{what}");
                }
            }
        }
    }
}

#[test]
fn a_distance_before_the_context_start_is_1007_on_every_window() {
    for bits in 8..=15u8 {
        let seed = u64::from(bits) * 2 + 1;
        let literals = |data: &[u8]| data.iter().map(|&b| Lz::Literal(b)).collect::<Vec<_>>();
        let text = noise(100, seed);
        for role in [Role::Server, Role::Client] {
            // The first message: a match of 100 back reads its first byte,
            // 101 back reaches before it.
            for dist in [100, 101] {
                let what = format!("{bits} bits, first message, distance {dist}, {role:?}");
                let mut symbols = literals(&text);
                symbols.push(Lz::Match(dist));
                let messages = vec![vec![fixed_block(&symbols)]];
                let mut data = text.clone();
                let refused = dist > 100;
                if !refused {
                    copy_back(&mut data, dist);
                }
                let got = received(
                    &what,
                    role,
                    params(role, bits, true),
                    &wire(role, &messages),
                );
                assert_eq!(got, expected(&[data], refused), "{what}");
            }
            // The second message refers into the first: read with context
            // takeover, 1007 when the peer resets its context.
            for takeover in [true, false] {
                let what = format!("{bits} bits, takeover {takeover}, {role:?}");
                let messages = vec![
                    vec![fixed_block(&literals(&text))],
                    vec![fixed_block(&[Lz::Match(100)])],
                ];
                let mut all = text.clone();
                copy_back(&mut all, 100);
                let data = vec![text.clone(), all[100..].to_vec()];
                let got = received(
                    &what,
                    role,
                    params(role, bits, takeover),
                    &wire(role, &messages),
                );
                assert_eq!(got, expected(&data, !takeover), "{what}");
            }
        }
    }
}
