//! `Connection::prepare_read` driven as a careless embedder would: reads
//! of random sizes (1 byte to several MiB) that obey its limit, ignore it,
//! or stop short; messages held or dropped; small, large, fragmented and
//! control frames interleaved; a close mid-message. Every run gives the
//! events of the `receive` path fed the same stream whole; a peer that
//! declares a large frame and stops gets no more room than the frame
//! size limit allows.

mod common;

use common::*;
use wsframe::{Config, Connection, Event, ProtocolError, Role};

/// `len` bytes of a pattern that differs between messages.
fn payload(len: usize, tag: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ tag).collect()
}

/// A client's stream: small and large messages, fragmented ones with
/// pings and pongs between their fragments, empty frames, then (with
/// `close_mid_message`) a close between the fragments of a large message,
/// or else a normal close.
fn wire(close_mid_message: bool) -> Vec<u8> {
    let mut frames = vec![
        client(FIN | TEXT, b"hello"),
        client(FIN | BINARY, &payload(40_000, 1)),
        client(FIN | BINARY, &payload(40_000, 2)),
        client(FIN | BINARY, b""),
        client(FIN | PING, b"p1"),
        client(FIN | BINARY, &payload(300_000, 3)),
        client(TEXT, b"frag"),
        client(FIN | PING, b"p2"),
        client(CONT, &[b'a'; 70_000]),
        client(FIN | PONG, b""),
        client(CONT, b""),
        client(FIN | CONT, &[b'b'; 33_000]),
        client(FIN | BINARY, &payload(32_767, 4)),
        client(FIN | BINARY, &payload(32_768, 5)),
        client(BINARY, &payload(50_000, 6)),
        client(CONT, &payload(50_000, 7)),
        client(FIN | CONT, &payload(10, 8)),
        client(FIN | BINARY, &payload(2 << 20, 9)),
        client(FIN | TEXT, "κόσμε".as_bytes()),
    ];
    if close_mid_message {
        frames.push(client(BINARY, &payload(60_000, 10)));
    }
    frames.push(client(FIN | CLOSE, &close_payload(1000, b"bye")));
    frames.concat()
}

/// How an embedder sizes each read against the limit it was given.
#[derive(Clone, Copy, Debug)]
enum Obey {
    /// Up to the limit, and up to its own read size.
    Fully,
    /// Its own read size, whatever the limit.
    Not,
    /// Sometimes the limit, sometimes past it, sometimes less.
    Partly,
}

/// Reads `input` through `prepare_read` with random read sizes; returns the
/// events. Checks every limit is within the room, and never 0.
fn read_through(input: &[u8], config: Config, seed: u64, obey: Obey, hold: bool) -> Vec<Event> {
    read_into(
        Connection::new(Role::Server, config),
        input,
        seed,
        obey,
        hold,
    )
}

/// [`read_through`] with any connection.
fn read_into(mut conn: Connection, input: &[u8], seed: u64, obey: Obey, hold: bool) -> Vec<Event> {
    let mut rng = Rng(seed | 1);
    let (mut events, mut held, mut read) = (Vec::new(), Vec::new(), 0);
    while read < input.len() {
        // Read sizes over six orders of magnitude: 1 B to 4 MiB.
        let scale = 2 * (1 + rng.below(11));
        let want = 1 + rng.below(1 << scale);
        let limit = conn.prepare_read(want);
        let buf = conn.read_buf();
        let room = buf.capacity() - buf.len();
        assert!(limit >= 1, "seed {seed}: a zero limit");
        assert!(
            limit <= room,
            "seed {seed}: limit {limit} past the room {room}"
        );
        let n = match obey {
            Obey::Fully => limit.min(want),
            Obey::Not => want,
            Obey::Partly => match rng.below(3) {
                0 => limit,
                1 => limit + 1 + rng.below(100_000),
                _ => 1 + rng.below(limit),
            },
        }
        .min(input.len() - read);
        conn.read_buf().extend_from_slice(&input[read..read + n]);
        read += n;
        while let Some(event) = conn.next_event() {
            if hold {
                held.push(event.clone());
            }
            events.push(event);
        }
    }
    events
}

fn reference(input: &[u8], config: Config) -> Vec<Event> {
    drive(Role::Server, config, input, &[]).0
}

#[test]
fn random_reads_through_prepare_read_give_the_events_of_receive() {
    let seeds: u64 = if cfg!(miri) { 1 } else { 12 };
    for close_mid_message in [false, true] {
        let input = wire(close_mid_message);
        for config in [Config::default(), Config::builder().streaming(true).build()] {
            let want = reference(&input, config);
            assert!(matches!(want.last(), Some(Event::Closed(_))));
            for seed in 0..seeds {
                for obey in [Obey::Fully, Obey::Not, Obey::Partly] {
                    for hold in [false, true] {
                        let got = read_through(&input, config, seed * 7919 + 1, obey, hold);
                        if config.streaming() {
                            // Pieces are cut by the reads: see the next test.
                            assert!(matches!(got.last(), Some(Event::Closed(_))));
                            continue;
                        }
                        assert!(got == want, "seed {seed}, {obey:?}, hold {hold}");
                    }
                }
            }
        }
    }
}

#[test]
fn streamed_pieces_through_prepare_read_join_to_the_bytes_sent() {
    let input = wire(false);
    let config = Config::builder().streaming(true).build();
    let whole = |events: Vec<Event>| {
        let mut bytes = Vec::new();
        let mut others = Vec::new();
        for event in events {
            match event {
                Event::Chunk { data, last } => {
                    bytes.extend_from_slice(data.as_bytes());
                    if last {
                        others.push(std::mem::take(&mut bytes));
                    }
                }
                Event::Message(m) => others.push(m.as_bytes().to_vec()),
                Event::Ping(p) | Event::Pong(p) => others.push(p.to_vec()),
                Event::Closed(c) => others.push(format!("{c:?}").into_bytes()),
            }
        }
        others
    };
    let want = whole(reference(&input, config));
    for seed in 0..6 {
        for obey in [Obey::Fully, Obey::Not, Obey::Partly] {
            let got = whole(read_through(
                &input,
                config,
                seed * 31 + 5,
                obey,
                seed % 2 == 0,
            ));
            assert!(got == want, "seed {seed}, {obey:?}");
        }
    }
}

/// The header of a binary frame of `len` bytes from a client, with none of
/// its payload.
fn header_only(len: u64) -> Vec<u8> {
    let mut frame = client(BINARY | FIN, &[]);
    frame.truncate(2);
    frame[1] = 0x80 | 127;
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&KEY);
    frame
}

#[test]
fn a_peer_that_declares_a_large_frame_and_stops_gets_at_most_the_frame_limit() {
    const LIMIT: u64 = 1 << 20;
    let config = Config::builder()
        .max_frame_size(LIMIT)
        .max_message_size(4 * LIMIT)
        .build();
    for declared in [LIMIT - 1, LIMIT] {
        for chunk in [1, 4096, 16_384] {
            let mut conn = Connection::new(Role::Server, config);
            conn.read_buf().extend_from_slice(&header_only(declared));
            assert!(conn.next_event().is_none());
            let limit = conn.prepare_read(chunk);
            let room = conn.read_buf().capacity() - conn.read_buf().len();
            // The header's word reserves the frame's rest, no more: a
            // frame never gets room twice, and never more than its limit.
            assert_eq!(limit as u64, declared, "declared {declared}");
            assert!(room as u64 >= declared);
            assert!(
                (room as u64) < declared + chunk as u64 + 64,
                "declared {declared}, chunk {chunk}: room {room}"
            );
            // Asked again with nothing read: nothing more.
            let capacity = conn.read_buf().capacity();
            assert_eq!(conn.prepare_read(chunk), limit);
            assert_eq!(conn.read_buf().capacity(), capacity);
        }
    }
    // Past the limit: refused on the header (1009), and nothing reserved
    // on its word.
    let mut conn = Connection::new(Role::Server, config);
    conn.read_buf().extend_from_slice(&header_only(LIMIT + 1));
    let closed = std::iter::from_fn(|| conn.next_event()).last();
    let Some(Event::Closed(closed)) = closed else {
        panic!("{closed:?}")
    };
    assert!(
        matches!(closed.error, Some(ProtocolError::FrameTooBig { .. })),
        "{closed:?}"
    );
    let limit = conn.prepare_read(4096);
    assert!(limit >= 1);
    assert!(conn.read_buf().capacity() < 64 * 1024);
}

#[test]
fn a_fragment_declared_past_what_the_message_limit_leaves_reserves_no_more_than_the_frame() {
    // The first fragment takes most of the message budget; the next one
    // declares a frame within the frame limit but past the message's
    // remaining budget.
    let config = Config::builder()
        .max_frame_size(1 << 20)
        .max_message_size(1 << 20)
        .build();
    let mut conn = Connection::new(Role::Server, config);
    conn.read_buf()
        .extend_from_slice(&client(BINARY, &payload(900_000, 1)));
    assert!(conn.next_event().is_none());
    let mut header = header_only(500_000);
    header[0] = CONT;
    conn.read_buf().extend_from_slice(&header);
    let event = conn.next_event();
    let capacity_before = conn.read_buf().capacity();
    let limit = conn.prepare_read(4096);
    let room = conn.read_buf().capacity() - conn.read_buf().len();
    assert!((1..=room).contains(&limit), "limit {limit}, room {room}");
    match event {
        // Refused on the header: nothing reserved for it.
        Some(Event::Closed(closed)) => {
            assert!(matches!(
                closed.error,
                Some(ProtocolError::MessageTooBig { .. })
            ));
            assert!(conn.read_buf().capacity() <= capacity_before.max(64 * 1024));
        }
        // Accepted for now: its room stays within the frame limit.
        other => {
            assert!(other.is_none(), "{other:?}");
            assert!(room <= (1 << 20) + 4096, "room {room}");
        }
    }
}

#[test]
fn after_close_prepare_read_still_gives_a_limit_within_the_room() {
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&client(FIN | CLOSE, &close_payload(1000, b"")));
    while conn.next_event().is_some() {}
    for chunk in [1, 4096, 1 << 20] {
        let limit = conn.prepare_read(chunk);
        let buf = conn.read_buf();
        let room = buf.capacity() - buf.len();
        assert!(
            (1..=room).contains(&limit),
            "chunk {chunk}: limit {limit}, room {room}"
        );
        // Bytes appended after the close are ignored, and not kept.
        buf.extend_from_slice(&vec![0; limit]);
        assert!(conn.next_event().is_none());
        assert!(conn.buffered_len() <= 1 << 20, "{}", conn.buffered_len());
    }
}

#[test]
fn bytes_appended_after_close_without_prepare_read_are_not_kept() {
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&client(FIN | CLOSE, &close_payload(1000, b"")));
    while conn.next_event().is_some() {}
    for _ in 0..8 {
        conn.read_buf().extend_from_slice(&[0; 1 << 20]);
        assert!(conn.next_event().is_none());
    }
    // Ignored is dropped: one read's bytes at most are held.
    assert!(conn.buffered_len() <= 1 << 20, "{}", conn.buffered_len());
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_messages_through_prepare_read_give_the_events_of_receive() {
    use common::deflate::{push_compressed, sync_flush, TAKEOVER};
    use flate2::{Compress, Compression};

    let mut ours = Compress::new(Compression::default(), false);
    let mut input = Vec::new();
    for (n, len) in [5, 4096, 40_000, 300_000, 70, 1 << 20]
        .into_iter()
        .enumerate()
    {
        let mut data = payload(len, n as u8);
        // Compressible, but not to nothing.
        data.iter_mut().step_by(3).for_each(|b| *b = b'w');
        let mut compressed = sync_flush(&mut ours, &data);
        compressed.truncate(compressed.len() - 4);
        push_compressed(&mut input, BINARY, &compressed, n % 2 == 1);
        input.extend(client(FIN | PING, &[n as u8]));
    }
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    let config = Config::default();
    let make = || Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    let want = drive_connection(&make, &input, &[]).0;
    assert_eq!(want.len(), 13, "{want:?}");
    for seed in 0..6 {
        for obey in [Obey::Fully, Obey::Not, Obey::Partly] {
            let got = read_into(make(), &input, seed * 131 + 7, obey, seed % 2 == 1);
            assert!(got == want, "seed {seed}, {obey:?}");
        }
    }
}
