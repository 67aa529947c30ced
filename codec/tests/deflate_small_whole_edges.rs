//! A reviewer's attempts on the one-step path for small compressed
//! messages (one frame, FIN and RSV1, payload 1..255 bytes, lying whole in
//! the read buffer): every stream here is fed whole (that path), byte by
//! byte and cut at every point (the general path), through both input
//! paths, and must give the same events and the same bytes out (the close
//! reason included); where the stream's verdict is plain, it is also held
//! to the reference inflater and std's UTF-8 check. Payload lengths around
//! the 7-bit and 16-bit length headers and the path's 255-byte bound,
//! masked and unmasked (a client reading a server), limits 0, 1 and around
//! the inflated size, invalid text at the start, middle and end with
//! corruption or an overrun after it, RSV bits the extension does not
//! define or with no extension, streaming, context takeover across many
//! messages (and a peer referring back without it), output around the
//! 4 KiB stack room, the frame at every offset across the reader's 4 KiB
//! window, and random streams of all of these with fragments, closes and
//! frame, message and output limits. (`SEED=n` reseeds the random ones.)
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use wsframe::{Config, Connection, DeflateParams, Event, Message, Role};

/// A frame as `role`'s peer sends it: masked to a server, not to a client.
fn peer_frame(role: Role, first: u8, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Server => client(first, payload),
        Role::Client => raw_frame(first, payload, None),
    }
}

/// `input` to `role` with `params` and `config`, fed whole, byte by byte
/// and (short streams) cut at every point, through both input paths: the
/// same events, a streamed message's chunks joined (and, for a server,
/// whose output is not masked at random, the same bytes out); returns the
/// events of the whole run.
fn same_every_way_as(
    what: &str,
    role: Role,
    config: Config,
    params: Option<DeflateParams>,
    input: &[u8],
) -> Vec<Event> {
    let make = || Connection::with_deflate(role, config, params);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    let mut cut_sets = vec![vec![], bytewise];
    if input.len() <= 600 {
        cut_sets.extend((0..=input.len()).map(|cut| vec![cut]));
    }
    let mut first: Option<(Vec<Event>, Vec<u8>)> = None;
    for cuts in &cut_sets {
        for use_read_buf in [false, true] {
            let (events, out) = feed_cut(&mut make(), input, cuts, use_read_buf);
            let run = (
                join_chunks(events),
                match role {
                    Role::Server => out,
                    Role::Client => Vec::new(),
                },
            );
            match &first {
                None => first = Some(run),
                Some(whole) => assert!(
                    &run == whole,
                    "{what}: cut at {cuts:?} (read_buf {use_read_buf}):\n{run:?}\nwhole:\n{whole:?}",
                    cuts = &cuts[..cuts.len().min(3)]
                ),
            }
        }
    }
    first.expect("runs").0
}

/// Events with a streamed message's chunks joined into one (its pieces
/// depend on the cuts).
fn join_chunks(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut partial: Option<(bool, Vec<u8>)> = None;
    for event in events {
        match event {
            Event::Chunk { data, last } => {
                let text = matches!(data, Message::Text(_));
                let entry = partial.get_or_insert((text, Vec::new()));
                entry.1.extend_from_slice(data.as_bytes());
                if last {
                    let (text, bytes) = partial.take().expect("open");
                    out.push(Event::Chunk {
                        data: match text {
                            true => Message::from(String::from_utf8(bytes).expect("text")),
                            false => Message::from(bytes),
                        },
                        last,
                    });
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// What the oracle says of one compressed message under `limit`, judged
/// in stream order: the message, or the close code.
fn oracle(text: bool, payload: &[u8], limit: u64) -> Result<Message, u16> {
    let Some(data) = reference_inflate(payload) else {
        // What came out before the data failed is judged first, then the
        // limit, then the failure.
        let before = inflated_before_failing_bytes(payload, 1 << 16);
        let within = &before[..before.len().min(limit as usize + 1)];
        if text && std::str::from_utf8(within).is_err_and(|e| e.error_len().is_some()) {
            return Err(1007);
        }
        return Err(match before.len() as u64 > limit {
            true => 1009,
            false => 1007,
        });
    };
    let within = &data[..data.len().min(limit as usize + 1)];
    if text {
        if let Err(err) = std::str::from_utf8(within) {
            if err.error_len().is_some() || data.len() as u64 <= limit {
                return Err(1007);
            }
        }
    }
    if data.len() as u64 > limit {
        return Err(1009);
    }
    Ok(match text {
        true => Message::from(String::from_utf8(data).expect("checked")),
        false => Message::from(data),
    })
}

fn closed_code(events: &[Event]) -> Option<u16> {
    events.iter().find_map(|e| match e {
        Event::Closed(c) => Some(c.code.into()),
        _ => None,
    })
}

/// A payload of exactly `len` bytes that inflates to text: `00` alone for
/// 1, fixed Huffman for a few bytes, a stored block for more.
fn payload_of_len(len: usize) -> Vec<u8> {
    if len == 1 {
        return vec![0x00];
    }
    if len == 2 {
        // An empty fixed Huffman block, then the empty stored block's
        // header.
        return vec![0x02, 0x00];
    }
    if len >= 6 {
        // A stored block of `len - 6` bytes, then the empty block's header.
        let mut p = stored(&vec![b'x'; len - 6]);
        p.push(0x00);
        assert_eq!(p.len(), len);
        return p;
    }
    for n in 0..64 {
        let p = sync_compressed(&vec![b'a'; n], 6);
        if p.len() == len {
            return p;
        }
        let p = sync_compressed(&b"abcdefghijklmnopqrstuvwxyz"[..n.min(26)], 6);
        if p.len() == len {
            return p;
        }
    }
    panic!("no payload of {len} B")
}

/// One compressed message between others, a ping before it, under
/// `limit`, for both roles and context modes: the same every way, and
/// what the oracle says.
fn one_message(what: &str, opcode: u8, payload: &[u8], limit: u64) {
    let text = opcode == TEXT;
    for role in [Role::Server, Role::Client] {
        for params in [TAKEOVER, NO_TAKEOVER] {
            let mut input = Vec::new();
            input.extend(peer_frame(role, FIN | PING, b"p"));
            input.extend(peer_frame(role, FIN | RSV1 | opcode, payload));
            input.extend(peer_frame(role, FIN | BINARY, b"plain after"));
            let config = Config::builder().max_message_size(limit).build();
            let what = format!("{what} ({role:?}, {params:?}, limit {limit})");
            let events = same_every_way_as(&what, role, config, Some(params), &input);
            assert!(matches!(events[0], Event::Ping(_)), "{what}: {events:?}");
            match oracle(text, payload, limit) {
                Ok(message) => {
                    let mut rest = vec![Event::Message(message)];
                    if limit >= 11 {
                        rest.push(Event::Message(Message::from(b"plain after".to_vec())));
                    }
                    assert_eq!(events[1..1 + rest.len()], rest[..], "{what}");
                }
                Err(code) => {
                    assert_eq!(closed_code(&events[1..2]), Some(code), "{what}: {events:?}")
                }
            }
        }
    }
}

fn limits(payload: &[u8]) -> Vec<u64> {
    let size = reference_inflate(payload).map_or(64, |d| d.len() as u64);
    let mut limits = vec![0, 1, size.saturating_sub(1), size, size + 1, 1 << 20];
    limits.sort();
    limits.dedup();
    limits
}

#[test]
#[cfg_attr(miri, ignore)]
fn payload_lengths_around_the_length_headers_and_the_bound() {
    for len in [1, 2, 3, 6, 7, 125, 126, 127, 254, 255, 256] {
        let payload = payload_of_len(len);
        for limit in limits(&payload) {
            one_message(&format!("{len} B"), TEXT, &payload, limit);
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn invalid_text_with_corruption_or_an_overrun_after_it() {
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for (where_, text) in [
        ("at the start", &b"\xFFabcdefgh"[..]),
        ("in the middle", b"abcd\xFFefgh"),
        ("last byte", b"abcdefgh\xFF"),
        ("a cut code point at the end", b"abcdefg\xE2\x82"),
        ("a surrogate", b"abc\xED\xA0\x80def"),
        ("an overlong", b"abc\xC0\xAFdef"),
        ("valid", "abc→東🚀".as_bytes()),
    ] {
        for level in [0, 6] {
            let good = sync_compressed(text, level);
            cases.push((format!("{where_}, level {level}"), good.clone()));
            let mut corrupt = good.clone();
            corrupt.extend_from_slice(&[0x07, 0x00]);
            cases.push((format!("{where_}, level {level}, then corrupt"), corrupt));
            let mut more = good.clone();
            more.extend(stored(b"0123456789"));
            more.push(0x00);
            cases.push((format!("{where_}, level {level}, then more"), more));
            cases.push((
                format!("{where_}, level {level}, truncated"),
                good[..good.len() - 1].to_vec(),
            ));
            cases.push((
                format!("{where_}, level {level}, final"),
                final_compressed(text, level),
            ));
        }
    }
    for (what, payload) in &cases {
        for opcode in [TEXT, BINARY] {
            for limit in limits(payload).into_iter().chain([3, 4, 5, 8, 9, 10]) {
                one_message(&format!("{what} op {opcode}"), opcode, payload, limit);
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn rsv_bits_not_defined_or_not_negotiated_fail_as_anywhere() {
    let payload = sync_compressed(b"hello", 6);
    for role in [Role::Server, Role::Client] {
        for (first, params) in [
            (FIN | RSV1 | TEXT, None),
            (FIN | 0x20 | TEXT, Some(TAKEOVER)),
            (FIN | 0x10 | TEXT, Some(TAKEOVER)),
            (FIN | 0x60 | TEXT, Some(TAKEOVER)),
            (FIN | 0x70 | BINARY, Some(TAKEOVER)),
            (RSV1 | TEXT, Some(TAKEOVER)),
            (FIN | RSV1 | PING, Some(TAKEOVER)),
            (FIN | RSV1 | CONT, Some(TAKEOVER)),
        ] {
            let input = peer_frame(role, first, &payload);
            let what = format!("{first:#04x} {params:?} {role:?}");
            let events = same_every_way_as(&what, role, Config::default(), params, &input);
            if first & 0x80 != 0 {
                assert_eq!(closed_code(&events), Some(1002), "{what}: {events:?}");
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn after_a_large_plain_message_a_fragmented_one_and_pings() {
    for role in [Role::Server, Role::Client] {
        for params in [TAKEOVER, NO_TAKEOVER] {
            let mut input = Vec::new();
            input.extend(peer_frame(role, FIN | TEXT, &[b'L'; 300]));
            input.extend(peer_frame(
                role,
                FIN | RSV1 | TEXT,
                &sync_compressed(b"one", 6),
            ));
            let second = sync_compressed(b"two two two", 6);
            input.extend(peer_frame(role, RSV1 | TEXT, &second[..3]));
            input.extend(peer_frame(role, FIN | PING, b""));
            input.extend(peer_frame(role, FIN | CONT, &second[3..]));
            input.extend(peer_frame(
                role,
                FIN | RSV1 | BINARY,
                &sync_compressed(b"three", 6),
            ));
            input.extend(peer_frame(role, FIN | PONG, b"x"));
            input.extend(peer_frame(role, FIN | RSV1 | TEXT, &[0x00]));
            input.extend(peer_frame(
                role,
                FIN | RSV1 | TEXT,
                &final_compressed(b"four", 6),
            ));
            input.extend(peer_frame(
                role,
                FIN | RSV1 | TEXT,
                &sync_compressed(b"five", 6),
            ));
            let what = format!("{role:?} {params:?}");
            let events = same_every_way_as(&what, role, Config::default(), Some(params), &input);
            let messages: Vec<_> = events
                .iter()
                .filter_map(|e| match e {
                    Event::Message(m) => Some(m.as_bytes().to_vec()),
                    _ => None,
                })
                .collect();
            let want: Vec<Vec<u8>> = [
                &[b'L'; 300][..],
                b"one",
                b"two two two",
                b"three",
                b"",
                b"four",
                b"five",
            ]
            .iter()
            .map(|m| m.to_vec())
            .collect();
            assert_eq!(messages, want, "{what}: {events:?}");
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn context_takeover_across_many_small_messages() {
    // One compressor for the whole conversation, its tails stripped: each
    // message refers back to the ones before.
    let words: Vec<String> = (0..40)
        .map(|i| format!("msg {} {}", i % 7, "ab".repeat(i % 5)))
        .collect();
    let mut stream = flate2::Compress::new(flate2::Compression::new(6), false);
    let mut input = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let payload = sync_message(&mut stream, w.as_bytes());
        let opcode = if i % 3 == 0 { BINARY } else { TEXT };
        input.extend(client(FIN | RSV1 | opcode, &payload));
        if i % 5 == 0 {
            input.extend(client(FIN | PING, b"p"));
        }
    }
    let events = same_every_way_as(
        "takeover",
        Role::Server,
        Config::default(),
        Some(TAKEOVER),
        &input,
    );
    let messages: Vec<Vec<u8>> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.as_bytes().to_vec()),
            _ => None,
        })
        .collect();
    let want: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    assert_eq!(messages, want);
}

#[test]
#[cfg_attr(miri, ignore)]
fn streaming_does_not_take_the_path() {
    let payload = sync_compressed(b"stream me \xE2\x82\xAC", 6);
    let mut input = client(FIN | RSV1 | TEXT, &payload);
    input.extend(client(FIN | RSV1 | TEXT, &sync_compressed(b"ab\xFFcd", 6)));
    let config = Config::builder().streaming(true).build();
    let events = same_every_way_as("streaming", Role::Server, config, Some(NO_TAKEOVER), &input);
    assert!(matches!(events[0], Event::Chunk { .. }), "{events:?}");
    assert_eq!(closed_code(&events), Some(1007), "{events:?}");
}

const ROUNDS: usize = 1000;

/// xorshift: a deterministic stream of numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_text(rng: &mut Rng) -> Vec<u8> {
    let pieces: [&[u8]; 10] = [
        b"a",
        b"hello ",
        "é".as_bytes(),
        "→".as_bytes(),
        "🚀".as_bytes(),
        b"\xFF",
        b"\xE2\x82",
        b"\xF0",
        b"\xC0\xAF",
        b"\x00",
    ];
    let n = rng.below(12);
    let mut out = Vec::new();
    for _ in 0..n {
        let p = pieces[rng.below(pieces.len())];
        // Mostly valid.
        let invalid = p.len() == 1 && p[0] >= 0x80 || p == b"\xE2\x82" || p == b"\xC0\xAF";
        if invalid && rng.below(4) != 0 {
            continue;
        }
        out.extend_from_slice(p);
    }
    match rng.below(6) {
        0 => out.extend(std::iter::repeat_n(b'z', rng.below(300))),
        // Small payloads that inflate past the stack room (4 KiB).
        1 => out.extend(std::iter::repeat_n(b'y', 3000 + rng.below(20_000))),
        _ => {}
    }
    out
}

fn random_payload(rng: &mut Rng) -> Vec<u8> {
    let text = random_text(rng);
    let mut p = match rng.below(4) {
        0 => sync_compressed(&text, 0),
        1 => final_compressed(&text, rng.below(10) as u32),
        _ => sync_compressed(&text, rng.below(10) as u32),
    };
    match rng.below(8) {
        0 if !p.is_empty() => {
            let at = rng.below(p.len());
            p[at] ^= 1 << rng.below(8);
        }
        1 if !p.is_empty() => p.truncate(rng.below(p.len())),
        2 => p.push(0x00),
        3 => p.extend_from_slice(&[0x07, 0x00]),
        _ => {}
    }
    p
}

#[test]
#[cfg_attr(miri, ignore)]
fn random_streams_give_the_same_events_every_way() {
    let mut rng =
        Rng(std::env::var("SEED").map_or(0x9E37_79B9_7F4A_7C15, |s| s.parse().expect("seed")));
    for round in 0..ROUNDS {
        let role = match rng.below(2) {
            0 => Role::Server,
            _ => Role::Client,
        };
        let params = match rng.below(2) {
            0 => TAKEOVER,
            _ => NO_TAKEOVER,
        };
        let mut input = Vec::new();
        let mut sizes = Vec::new();
        for _ in 0..1 + rng.below(4) {
            match rng.below(10) {
                0 => input.extend(peer_frame(role, FIN | PING, b"pi")),
                1 => input.extend(peer_frame(role, FIN | TEXT, &vec![b'q'; rng.below(200)])),
                // A message left open (compressed or not), continued or not.
                6 => {
                    let payload = random_payload(&mut rng);
                    let cut = rng.below(payload.len() + 1);
                    let first = [TEXT, RSV1 | TEXT, BINARY, RSV1 | BINARY][rng.below(4)];
                    input.extend(peer_frame(role, first, &payload[..cut]));
                    if rng.below(4) != 0 {
                        input.extend(peer_frame(role, FIN | CONT, &payload[cut..]));
                    }
                }
                7 => input.extend(peer_frame(role, FIN | CONT, b"c")),
                8 => {
                    let reason: &[u8] = [&b"bye"[..], b"\xFF"][rng.below(2)];
                    input.extend(peer_frame(role, FIN | CLOSE, &close_payload(1000, reason)));
                }
                _ => {
                    let payload = random_payload(&mut rng);
                    if let Some(d) = reference_inflate(&payload) {
                        sizes.push(d.len() as u64);
                    }
                    let opcode = if rng.below(3) == 0 { BINARY } else { TEXT };
                    input.extend(peer_frame(role, FIN | RSV1 | opcode, &payload));
                }
            }
        }
        let limit = match rng.below(5) {
            0 => 1 << 20,
            4 => 4090 + rng.below(12) as u64,
            1 => rng.below(8) as u64,
            _ => match sizes.get(rng.below(sizes.len().max(1))) {
                Some(&s) => (s + rng.below(3) as u64).saturating_sub(1),
                None => 16,
            },
        };
        let max_frame = match rng.below(4) {
            0 => rng.below(300) as u64,
            _ => 1 << 20,
        };
        let config = Config::builder()
            .max_message_size(limit)
            .max_frame_size(max_frame)
            .max_output_buffer([1 << 20, 8, 64][rng.below(3)])
            .build();
        same_every_way_as(
            &format!(
                "round {round}: {role:?} {params:?} limit {limit} frame {max_frame} {input:02x?}"
            ),
            role,
            config,
            Some(params),
            &input,
        );
    }
}

/// Many small messages in one read (past the reader's window and its
/// limit of ready events), one compressor for all of them (each refers
/// back to the ones before), some invalid: the same every way.
#[test]
#[cfg_attr(miri, ignore)]
fn long_conversations_in_one_read() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for round in 0..6 {
        let mut stream = flate2::Compress::new(flate2::Compression::new(6), false);
        let mut input = Vec::new();
        for _ in 0..150 {
            let mut text = random_text(&mut rng);
            text.truncate(200);
            let payload = sync_message(&mut stream, &text);
            let opcode = if rng.below(4) == 0 { BINARY } else { TEXT };
            input.extend(client(FIN | RSV1 | opcode, &payload));
            if rng.below(10) == 0 {
                input.extend(client(FIN | PING, b"p"));
            }
        }
        let limit = [1 << 20, 100, 250][round % 3];
        let config = Config::builder().max_message_size(limit).build();
        let make = || Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
        let whole = drive_connection(&make, &input, &[]);
        for cuts in [
            (1..input.len()).collect::<Vec<_>>(),
            (1..input.len()).step_by(7).collect(),
            (1..input.len()).step_by(4096).collect(),
            vec![input.len() / 2],
        ] {
            assert!(
                drive_connection(&make, &input, &cuts) == whole,
                "round {round}: cuts every {}",
                cuts.get(1).copied().unwrap_or(0)
            );
        }
    }
}

/// Small payloads that inflate to about the stack room (4 KiB) and past
/// it, to the byte: the overflow goes on as any other message's.
#[test]
#[cfg_attr(miri, ignore)]
fn output_around_the_stack_room() {
    for len in (4090..=4102).chain([8191, 8192, 8193]) {
        for level in [1, 6, 9] {
            for (name, data) in [
                ("y", vec![b'y'; len]),
                (
                    "cycle",
                    (0..len).map(|i| b"abcdefg"[i % 7]).collect::<Vec<u8>>(),
                ),
                ("cut €", {
                    let mut d = vec![b'e'; len - 2];
                    d.extend_from_slice(b"\xE2\x82");
                    d
                }),
            ] {
                for payload in [
                    sync_compressed(&data, level),
                    final_compressed(&data, level),
                ] {
                    if payload.len() > 255 {
                        continue;
                    }
                    for limit in [len as u64 - 1, len as u64, 1 << 20] {
                        one_message(
                            &format!("{name} {len} level {level}"),
                            TEXT,
                            &payload,
                            limit,
                        );
                    }
                }
            }
        }
    }
}

/// A small compressed frame at every offset across the end of the
/// reader's 4 KiB window of one read (and after a frame longer than it):
/// the same every way, read through `receive` and `read_buf`.
#[test]
#[cfg_attr(miri, ignore)]
fn across_the_window_of_one_read() {
    let messages: [(&str, &[u8]); 3] = [
        ("valid", b"small and whole"),
        ("invalid", b"small \xFF whole"),
        ("cut", b"small \xE2\x82"),
    ];
    for (what, text) in messages {
        let compressed = client(FIN | RSV1 | TEXT, &sync_compressed(text, 6));
        for first_len in [4000, 5000] {
            let first = client(FIN | BINARY, &vec![b'b'; first_len]);
            for pad in 0..=(4096 + 300 - first.len().min(4096 + 200)) {
                if first_len == 5000 && pad > 120 {
                    break;
                }
                let mut input = first.clone();
                // Plain ping frames of 6 to 131 bytes as padding.
                let mut left = pad;
                while left > 0 {
                    let n = left.min(131);
                    if n < 6 {
                        input.extend(client(FIN | PING, b""));
                        input.truncate(input.len());
                        break;
                    }
                    input.extend(client(FIN | PING, &vec![b'p'; n - 6]));
                    left -= n;
                }
                input.extend(&compressed);
                input.extend(client(FIN | RSV1 | TEXT, &sync_compressed(b"next", 6)));
                let make =
                    || Connection::with_deflate(Role::Server, Config::default(), Some(NO_TAKEOVER));
                let whole = drive_connection(&make, &input, &[]);
                let via_read_buf = drive_connection(&make, &input, &[0]);
                assert!(
                    via_read_buf == whole,
                    "{what} {first_len} pad {pad}: read_buf"
                );
                if pad % 16 == 0 {
                    let bytewise: Vec<usize> = (1..input.len()).collect();
                    assert!(
                        drive_connection(&make, &input, &bytewise) == whole,
                        "{what} pad {pad}: byte by byte"
                    );
                }
                let step: Vec<usize> = (1..input.len()).step_by(97).collect();
                assert!(
                    drive_connection(&make, &input, &step) == whole,
                    "{what} pad {pad}: every 97"
                );
                let messages = whole
                    .0
                    .iter()
                    .filter(|e| matches!(e, Event::Message(_)))
                    .count();
                let closed = closed_code(&whole.0);
                match what {
                    "valid" => assert_eq!((messages, closed), (3, None), "{what} pad {pad}"),
                    _ => assert_eq!((messages, closed), (1, Some(1007)), "{what} pad {pad}"),
                }
            }
        }
    }
}

/// Without context takeover, a peer whose messages refer back to earlier
/// ones (it kept its context) fails at the first that does, every way.
#[test]
#[cfg_attr(miri, ignore)]
fn referring_back_without_context_takeover_fails_the_same_every_way() {
    let mut stream = flate2::Compress::new(flate2::Compression::new(9), false);
    let mut input = Vec::new();
    let texts: [&[u8]; 3] = [b"repeat after me, repeat", b"repeat after me, repeat", b"x"];
    for text in texts {
        input.extend(client(FIN | RSV1 | TEXT, &sync_message(&mut stream, text)));
    }
    for params in [NO_TAKEOVER, TAKEOVER] {
        let events = same_every_way_as(
            "refers back",
            Role::Server,
            Config::default(),
            Some(params),
            &input,
        );
        let messages = events
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count();
        match params.client_no_context_takeover {
            true => {
                assert_eq!(messages, 1, "{events:?}");
                assert_eq!(closed_code(&events), Some(1007), "{events:?}");
            }
            false => assert_eq!((messages, closed_code(&events)), (3, None), "{events:?}"),
        }
    }
}
