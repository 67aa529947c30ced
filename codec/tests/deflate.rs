//! permessage-deflate (RFC 7692) on a connection: compressed streams give
//! the same events fed whole, byte by byte and cut at every point, through
//! both input paths; text is validated as it inflates; limits count what
//! comes out.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use flate2::{Compress, Compression};
use wsframe::{
    Config, Connection, DeflateConfig, DeflateParams, Event, Message, ProtocolError, Role,
};

/// A reference compressor (flate2 directly, not the codec), as a client's.
struct Deflate(Compress);

impl Deflate {
    fn new() -> Self {
        Self(Compress::new(Compression::default(), false))
    }

    /// `data` compressed with a sync flush; `fin` strips the tail (§7.2.1).
    fn chunk(&mut self, data: &[u8], fin: bool) -> Vec<u8> {
        match fin {
            true => sync_message(&mut self.0, data),
            false => sync_flush(&mut self.0, data),
        }
    }
}

fn server_with(config: Config, params: DeflateParams) -> impl Fn() -> Connection {
    move || Connection::with_deflate(Role::Server, config, Some(params))
}

/// `input` to a server with `params`, whole, byte by byte and at every cut
/// (each through both input paths); all must agree.
fn everywhere(config: Config, params: DeflateParams, input: &[u8]) -> (Vec<Event>, Vec<u8>) {
    let make = server_with(config, params);
    if config.streaming() {
        // Streamed chunks may split differently; the messages they join to
        // may not.
        same_every_way("joined", &make, input, false, |(events, _)| joined(events));
        return drive_connection(&make, input, &[]);
    }
    same_every_way("events and output", &make, input, true, |run| run)
}

/// Streamed chunks joined into the messages they make.
fn joined(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut open: Option<(bool, Vec<u8>)> = None;
    for event in events {
        match event {
            Event::Chunk { data, last: fin } => {
                let entry = open.get_or_insert_with(|| (data.is_text(), Vec::new()));
                entry.1.extend_from_slice(data.as_bytes());
                if fin {
                    let (text, bytes) = open.take().unwrap();
                    out.push(Event::Message(if text {
                        Message::from(String::from_utf8(bytes).unwrap())
                    } else {
                        Message::from(bytes)
                    }));
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn closed_with(events: &[Event]) -> Option<ProtocolError> {
    match events.last() {
        Some(Event::Closed(closed)) => closed.error,
        other => panic!("{other:?}"),
    }
}

#[test]
fn compressed_streams_give_the_same_events_for_every_cut_and_path() {
    let long = "κόσμε 😀 wsframe ".repeat(40);
    for params in [TAKEOVER, NO_TAKEOVER] {
        let mut ours = Deflate::new();
        let mut next = |data: &[u8], fin: bool| {
            let out = ours.chunk(data, fin);
            if fin && params.client_no_context_takeover {
                ours = Deflate::new();
            }
            out
        };
        let hello = next(b"Hello", true);
        let again = next(b"Hello", true);
        let long_z = next(long.as_bytes(), true);
        let binary: Vec<u8> = (0..=255).collect();
        let binary_z = next(&binary, true);
        // "😀" cut by the fragment boundary, a ping between the fragments.
        let first = next(&long.as_bytes()[..13], false);
        let second = next(&long.as_bytes()[13..], true);
        let input = stream(&[
            client(FIN | RSV1 | TEXT, &hello),
            client(FIN | RSV1 | TEXT, &again),
            client(FIN | TEXT, b"plain"),
            client(FIN | RSV1 | TEXT, &long_z),
            client(FIN | RSV1 | BINARY, &binary_z),
            client(RSV1 | TEXT, &first),
            client(FIN | PING, b"p"),
            client(FIN | CONT, &second),
            client(FIN | RSV1 | BINARY, &[0x00]),
            client(FIN | CLOSE, &close_payload(1000, b"")),
        ]);
        let want = [
            Event::Message(Message::from("Hello")),
            Event::Message(Message::from("Hello")),
            Event::Message(Message::from("plain")),
            Event::Message(Message::from(long.as_str())),
            Event::Message(Message::from(binary.clone())),
            Event::Ping(bytes::Bytes::from_static(b"p")),
            Event::Message(Message::from(long.as_str())),
            Event::Message(Message::from(Vec::new())),
        ];
        for streaming in [false, true] {
            let config = Config::builder().streaming(streaming).build();
            let (events, _) = everywhere(config, params, &input);
            let events = if streaming { joined(events) } else { events };
            assert_eq!(
                &events[..want.len()],
                &want[..],
                "{params:?} streaming {streaming}"
            );
            assert!(matches!(events[want.len()], Event::Closed(_)));
        }
    }
}

#[test]
fn two_connections_round_trip_compressed_messages_and_fragments() {
    for params in [TAKEOVER, NO_TAKEOVER] {
        let config = Config::builder()
            .deflate(Some(DeflateConfig::default().threshold(0)))
            .build();
        let mut client = Connection::with_deflate(Role::Client, config, Some(params));
        let mut server = Connection::with_deflate(Role::Server, config, Some(params));
        let text = "permessage-deflate ".repeat(100);
        for _ in 0..3 {
            client.send(Message::from(text.as_str())).unwrap();
        }
        client.send_fragment(Message::from("abc"), false).unwrap();
        client.send_fragment(Message::from("def"), true).unwrap();
        client.send_compressed(Message::from("x"), false).unwrap();
        let wire = client.take_output();
        assert_eq!(wire[0] & 0x70, 0x40, "RSV1 on a compressed message");
        assert!(wire.len() < 3 * text.len() / 4);
        server.receive(&wire);
        let mut got = Vec::new();
        while let Some(event) = server.next_event() {
            got.push(event);
        }
        let mut want = vec![Event::Message(Message::from(text.as_str())); 3];
        want.push(Event::Message(Message::from("abcdef")));
        want.push(Event::Message(Message::from("x")));
        assert_eq!(got, want, "{params:?}");
        // And back.
        server.send(Message::from(text.as_str())).unwrap();
        client.receive(&server.take_output());
        assert_eq!(
            client.next_event(),
            Some(Event::Message(Message::from(text.as_str())))
        );
    }
}

#[test]
fn rsv1_on_a_continuation_or_a_control_frame_is_1002_and_bad_data_is_1007() {
    let hello = sync_compressed(b"Hello", 6);
    let cases = [
        (
            stream(&[client(RSV1 | TEXT, &hello), client(FIN | RSV1 | CONT, &[0])]),
            ProtocolError::ReservedBits(4),
        ),
        (
            client(FIN | RSV1 | PING, b""),
            ProtocolError::ReservedBits(4),
        ),
        (
            client(FIN | 0x20 | TEXT, b"a"),
            ProtocolError::ReservedBits(2),
        ),
        // Reserved block type 3; a stored block whose length check fails.
        (
            client(FIN | RSV1 | TEXT, &[0x07]),
            ProtocolError::InflateFailed,
        ),
        (
            client(FIN | RSV1 | BINARY, &[0x00, 0x05, 0x00, 0x00, 0x00]),
            ProtocolError::InflateFailed,
        ),
    ];
    for (input, error) in cases {
        let (events, out) = everywhere(Config::default(), TAKEOVER, &input);
        assert_eq!(closed_with(&events), Some(error));
        assert_eq!(close_code_on_wire(&out), Some(error.close_code().0));
    }
    assert_eq!(ProtocolError::InflateFailed.close_code().0, 1007);
    // Without the extension, RSV1 stays reserved.
    let (events, _) = drive(
        Role::Server,
        Config::default(),
        &client(FIN | RSV1 | TEXT, &hello),
        &[],
    );
    assert_eq!(closed_with(&events), Some(ProtocolError::ReservedBits(4)));
}

#[test]
fn invalid_inflated_text_is_1007_in_the_read_that_brings_it() {
    // In the first fragment of a message that has not ended.
    let mut ours = Deflate::new();
    let first = ours.chunk(b"ok \xC0 bad", false);
    let input = client(RSV1 | TEXT, &first);
    let (events, out) = everywhere(Config::default(), TAKEOVER, &input);
    let error = closed_with(&events);
    assert_eq!(
        error.and_then(|e| e.invalid_utf8().map(|u| u.offset())),
        Some(3)
    );
    assert!(matches!(error, Some(ProtocolError::InvalidUtf8(_))));
    assert_eq!(close_code_on_wire(&out), Some(1007));

    // Early in one large frame of which only the first 2 KiB have arrived.
    let mut seed = 7u32;
    let mut text: Vec<u8> = (0..1 << 20)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b'a' + (seed >> 16) as u8 % 26
        })
        .collect();
    text[100] = 0xFF;
    let frame = client(FIN | RSV1 | TEXT, &sync_compressed(&text, 6));
    assert!(frame.len() > 500_000, "hardly compressible");
    let mut server = server_with(Config::default(), TAKEOVER)();
    server.receive(&frame[..2048]);
    let Some(Event::Closed(closed)) = server.next_event() else {
        panic!("closed before more arrived")
    };
    let evidence = closed
        .error
        .and_then(|e| e.invalid_utf8().copied())
        .unwrap();
    assert_eq!((evidence.offset(), evidence.bytes()), (100, &b"\xFF"[..]));
}

#[test]
fn the_message_limit_counts_inflated_bytes_exactly() {
    let data = vec![b'a'; 5000];
    let input = client(FIN | RSV1 | TEXT, &sync_compressed(&data, 6));
    for (limit, ok) in [(5000, true), (4999, false)] {
        let config = Config::builder().max_message_size(limit).build();
        let (events, out) = everywhere(config, TAKEOVER, &input);
        if ok {
            assert_eq!(
                events,
                vec![Event::Message(Message::from(
                    String::from_utf8(data.clone()).unwrap()
                ))]
            );
        } else {
            assert_eq!(
                closed_with(&events),
                Some(ProtocolError::MessageTooBig {
                    declared: limit + 1,
                    limit
                })
            );
            assert_eq!(close_code_on_wire(&out), Some(1009));
        }
    }
}

#[test]
fn fragments_inflated_together_or_apart_give_the_same_events() {
    // A compressed text message in five frames that may all arrive in one
    // read (the reader then inflates them in one call): its events, and
    // the frame an invalid byte is found in, are those of any other cut,
    // with a ping between fragments keeping its place; first on the
    // connection, or after a message that leaves the inflater its tail
    // owed.
    let parts: [&[u8]; 5] = [
        b"first, ",
        b"second \xC3\xA9, ",
        b"third, ",
        b"fourth, ",
        b"end",
    ];
    for (bad, between, after) in (0..6 * 3 * 2).map(|i| {
        let bad = [None, Some(0), Some(1), Some(2), Some(3), Some(4)][i % 6];
        (bad, [None, Some(1), Some(3)][i / 6 % 3], i / 18 == 1)
    }) {
        {
            let mut ours = Deflate::new();
            let mut input = Vec::new();
            if after {
                input.extend(client(FIN | RSV1 | TEXT, &ours.chunk(b"before", true)));
            }
            let mut text = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let mut data = part.to_vec();
                if bad == Some(i) {
                    data.insert(1, 0xFF);
                }
                text.extend_from_slice(&data);
                let fin = i == parts.len() - 1;
                let first = match i {
                    0 => RSV1 | TEXT,
                    _ => CONT,
                };
                input.extend(client(
                    if fin { FIN | first } else { first },
                    &ours.chunk(&data, fin),
                ));
                if between == Some(i) {
                    input.extend(client(FIN | PING, b"between"));
                }
            }
            let (events, _) = everywhere(Config::default(), TAKEOVER, &input);
            let pings = events
                .iter()
                .filter(|e| matches!(e, Event::Ping(_)))
                .count();
            match bad {
                None => {
                    let oracle = String::from_utf8(text).unwrap();
                    assert_eq!(events.last(), Some(&Event::Message(Message::from(oracle))));
                    assert_eq!(pings, usize::from(between.is_some()));
                    assert_eq!(events.len(), usize::from(after) + pings + 1);
                }
                Some(i) => {
                    let evidence = closed_with(&events)
                        .and_then(|e| e.invalid_utf8().copied())
                        .expect("1007 for the invalid byte");
                    let offset: usize = parts[..i].iter().map(|p| p.len()).sum::<usize>() + 1;
                    assert_eq!(evidence.offset(), offset as u64);
                    assert_eq!(evidence.frame(), i as u32 + 1, "bad in frame {}", i + 1);
                    // A ping before the bad fragment came out first.
                    assert_eq!(pings, usize::from(between.is_some_and(|b| b < i)));
                }
            }
        }
    }
}
