//! One test per RFC 6455 rule the connection enforces: the exact close code on
//! the wire and the event reported. Each stream is also fed byte by byte and
//! at every split point, which must give the same events and bytes.

mod common;

use common::*;
use wsframe::{
    CloseCode, Config, Connection, Event, Initiator, Message, ProtocolError, Role, SendError, State,
};

/// Runs `input` whole, byte by byte and cut at every point; all must agree.
fn server_everywhere(input: &[u8]) -> (Vec<Event>, Vec<u8>) {
    server_everywhere_with(Config::default(), input)
}

fn server_everywhere_with(config: Config, input: &[u8]) -> (Vec<Event>, Vec<u8>) {
    let whole = drive(Role::Server, config, input, &[]);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        drive(Role::Server, config, input, &bytewise).1,
        whole.1,
        "bytes, byte by byte"
    );
    if !config.streaming() {
        assert_eq!(
            drive(Role::Server, config, input, &bytewise).0,
            whole.0,
            "events, byte by byte"
        );
        for cut in 0..=input.len() {
            assert_eq!(
                drive(Role::Server, config, input, &[cut]),
                whole,
                "split at {cut}"
            );
        }
    }
    whole
}

/// Asserts the stream fails the connection with `error`, and its code is on the wire.
fn assert_fails(input: &[u8], error: ProtocolError) {
    let (events, out) = server_everywhere(input);
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("expected a close event, got {events:?}");
    };
    assert_eq!(closed.error, Some(error));
    assert_eq!(closed.initiator, Initiator::Local);
    assert_eq!(closed.code, error.close_code());
    assert_eq!(
        close_code_on_wire(&out),
        Some(error.close_code().0),
        "{events:?}"
    );
}

/// Like [`assert_fails`] for invalid UTF-8 (1007): the error names the
/// offset in the message, the offending bytes and the frame that held them,
/// however the stream was cut.
fn assert_fails_utf8(input: &[u8], offset: u64, bytes: &[u8], frame: u32) {
    let (events, out) = server_everywhere(input);
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("expected a close event, got {events:?}");
    };
    let Some(ProtocolError::InvalidUtf8(evidence)) = closed.error else {
        panic!("expected invalid UTF-8, got {closed:?}");
    };
    assert_eq!(
        (evidence.offset(), evidence.bytes(), evidence.frame()),
        (offset, bytes, frame)
    );
    assert_eq!(closed.initiator, Initiator::Local);
    assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD);
    assert_eq!(close_code_on_wire(&out), Some(1007), "{events:?}");
}

/// The offset in the message that a UTF-8 error names, if it is one.
fn utf8_offset(error: Option<ProtocolError>) -> Option<u64> {
    error?.invalid_utf8().map(|evidence| evidence.offset())
}

fn text(s: &str) -> Event {
    Event::Message(Message::from(s))
}

#[test]
fn a_text_message_is_delivered_and_a_binary_one_too() {
    let (events, out) = server_everywhere(&stream(&[
        client(FIN | TEXT, "héllo 😀".as_bytes()),
        client(FIN | BINARY, &[0, 255, 1]),
    ]));
    assert_eq!(
        events,
        vec![
            text("héllo 😀"),
            Event::Message(Message::from(vec![0, 255, 1]))
        ]
    );
    assert!(out.is_empty());
}

#[test]
fn payload_lengths_at_encoding_boundaries_arrive_intact() {
    for len in [0, 125, 126, 127, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (events, _) = server(&client(FIN | BINARY, &payload));
        assert_eq!(
            events,
            vec![Event::Message(Message::from(payload))],
            "len {len}"
        );
    }
}

/// Cuts every `step` bytes, shifted by `shift`.
fn cuts_every(step: usize, shift: usize, len: usize) -> Vec<usize> {
    (1..len).filter(|at| at % step == shift % step).collect()
}

#[test]
fn large_whole_messages_arrive_intact_in_reads_of_any_size() {
    // Frames from 32 KiB up get a buffer of their own while they arrive;
    // around that size, with a ping between, in reads that cut them anywhere.
    let words = "κόσμε 😀 ".repeat(4000);
    let mut frames = Vec::new();
    let mut want = Vec::new();
    for len in [32767, 32768, 40000] {
        let binary: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let mut end = len;
        while !words.is_char_boundary(end) {
            end += 1;
        }
        frames.push(client(FIN | BINARY, &binary));
        frames.push(client(FIN | PING, b"hb"));
        frames.push(client(FIN | TEXT, &words.as_bytes()[..end]));
        want.push(Event::Message(Message::from(binary)));
        want.push(Event::Ping("hb".into()));
        want.push(text(&words[..end]));
    }
    let input = stream(&frames);
    for (step, shift) in [(1000, 0), (4096, 7), (65536, 13), (70001, 3)] {
        let cuts = cuts_every(step, shift, input.len());
        let (events, _) = drive(Role::Server, Config::default(), &input, &cuts);
        assert_eq!(events, want, "reads of {step}");
    }
}

#[test]
fn bad_utf8_deep_in_a_large_frame_is_1007_in_the_read_that_brings_it() {
    let mut payload = "é".repeat(30000).into_bytes();
    payload[50001] = b'x'; // the second byte of a code point
    let input = client(FIN | TEXT, &payload);
    // Header and 40,002 payload bytes, then to past the bad byte, then the rest.
    let (events, out) = drive(Role::Server, Config::default(), &input, &[40010, 50020]);
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(utf8_offset(closed.error), Some(50000));
    assert_eq!(close_code_on_wire(&out), Some(1007));
    // Cut just before the bad byte (after the 8-byte header): nothing is
    // reported until it arrives.
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&input[..8 + 50001]);
    assert_eq!(conn.next_event(), None);
    conn.receive(&input[8 + 50001..8 + 50002]);
    assert!(matches!(conn.next_event(), Some(Event::Closed(_))));
}

#[test]
fn fragments_join_and_control_frames_may_come_between_them() {
    // §5.4: control frames MAY be injected in the middle of a fragmented message.
    let (events, out) = server_everywhere(&stream(&[
        client(TEXT, b"frag"),
        client(FIN | PING, b"hb"),
        client(CONT, "men".as_bytes()),
        client(FIN | PONG, b"x"),
        client(FIN | CONT, b"ts"),
    ]));
    assert_eq!(
        events,
        vec![
            Event::Ping("hb".into()),
            Event::Pong("x".into()),
            text("fragments")
        ]
    );
    // §5.5.2: the pong echoes the ping's payload.
    assert_eq!(server_frames(&out), vec![(FIN | PONG, b"hb".to_vec())]);
}

#[test]
fn fragmented_messages_in_one_read_stay_apart_and_in_order() {
    // Each fragmented message is assembled as its bytes arrive; several may
    // arrive before the first is delivered, and none may bleed into another.
    let big = "é".repeat(300);
    let (events, _) = server_everywhere(&stream(&[
        client(TEXT, b"hel"),
        client(FIN | CONT, b"lo"),
        client(BINARY, &[0, 1]),
        client(FIN | PING, b"hb"),
        client(FIN | CONT, &[2]),
        client(FIN | TEXT, b"whole"),
        client(TEXT, &big.as_bytes()[..301]),
        client(CONT, b""),
        client(FIN | CONT, &big.as_bytes()[301..]),
    ]));
    assert_eq!(
        events,
        vec![
            text("hello"),
            Event::Ping("hb".into()),
            Event::Message(Message::from(vec![0u8, 1, 2])),
            text("whole"),
            text(&big),
        ]
    );
}

#[test]
fn bad_utf8_in_a_later_fragment_comes_after_the_events_before_it() {
    let (events, _) = server_everywhere(&stream(&[
        client(TEXT, b"ok "),
        client(FIN | PING, b"first"),
        client(CONT, b"still ok "),
        client(CONT, &[b'x', 0xF5]),
        client(FIN | PING, b"never"),
        client(FIN | CONT, b"."),
    ]));
    assert_eq!(events[0], Event::Ping("first".into()));
    let Event::Closed(closed) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(utf8_offset(closed.error), Some(13));
    assert_eq!(events.len(), 2);
}

#[test]
fn a_four_byte_code_point_split_across_fragments_is_valid() {
    let emoji = "😀".as_bytes();
    let (events, _) = server_everywhere(&stream(&[
        client(TEXT, &emoji[..1]),
        client(CONT, &emoji[1..3]),
        client(FIN | CONT, &emoji[3..]),
    ]));
    assert_eq!(events, vec![text("😀")]);
}

#[test]
fn reserved_bits_are_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        assert_fails(
            &client(FIN | rsv | TEXT, b"x"),
            ProtocolError::ReservedBits(rsv >> 4),
        );
    }
}

#[test]
fn reserved_opcodes_are_1002() {
    for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        assert_fails(&client(FIN | op, b""), ProtocolError::ReservedOpcode(op));
    }
}

#[test]
fn fragmented_or_oversized_control_frames_are_1002() {
    for op in [PING, PONG, CLOSE] {
        assert_fails(&client(op, b""), ProtocolError::FragmentedControlFrame);
        assert_fails(
            &client(FIN | op, &[b'a'; 126]),
            ProtocolError::ControlFrameTooLong,
        );
    }
    // 125 is the largest allowed.
    let (events, _) = server(&client(FIN | PING, &[b'a'; 125]));
    assert_eq!(events, vec![Event::Ping(vec![b'a'; 125].into())]);
}

#[test]
fn non_minimal_and_top_bit_lengths_are_1002() {
    let mut sixteen = vec![FIN | BINARY, 0x80 | 126, 0, 5];
    sixteen.extend_from_slice(&KEY);
    assert_fails(&sixteen, ProtocolError::NonMinimalLength);
    let mut sixty_four = vec![FIN | BINARY, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
    sixty_four.extend_from_slice(&KEY);
    assert_fails(&sixty_four, ProtocolError::NonMinimalLength);
    let top = [FIN | BINARY, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert_fails(&top, ProtocolError::LengthTopBitSet);
}

#[test]
fn masking_must_match_the_role() {
    // §5.1: a server fails on an unmasked frame ...
    assert_fails(
        &raw_frame(FIN | TEXT, b"hi", None),
        ProtocolError::UnmaskedFrame,
    );
    // ... and a client on a masked one.
    let (events, out) = drive(
        Role::Client,
        Config::default(),
        &client(FIN | TEXT, b"hi"),
        &[],
    );
    assert!(
        matches!(&events[..], [Event::Closed(c)] if c.error == Some(ProtocolError::MaskedFrame))
    );
    // The client's close frame is masked: decode it as a server would.
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&out);
    match server.next_event() {
        Some(Event::Closed(c)) => assert_eq!(c.code, CloseCode::PROTOCOL_ERROR),
        other => panic!("{other:?}"),
    }
}

#[test]
fn continuation_without_a_message_and_interleaved_messages_are_1002() {
    assert_fails(
        &client(FIN | CONT, b"x"),
        ProtocolError::UnexpectedContinuation,
    );
    assert_fails(
        &stream(&[client(TEXT, b"a"), client(FIN | TEXT, b"b")]),
        ProtocolError::ExpectedContinuation,
    );
    assert_fails(
        &stream(&[client(BINARY, b"a"), client(FIN | BINARY, b"b")]),
        ProtocolError::ExpectedContinuation,
    );
}

#[test]
fn invalid_utf8_is_1007_and_names_the_offset_in_the_message() {
    assert_fails_utf8(
        &stream(&[client(TEXT, b"ab"), client(FIN | CONT, b"c\xFFd")]),
        3,
        b"\xFF",
        2,
    );
    // A surrogate: invalid as soon as ED A0 is seen.
    assert_fails_utf8(&client(FIN | TEXT, b"\xED\xA0\x80"), 0, b"\xED", 1);
}

#[test]
fn a_message_that_ends_inside_a_code_point_is_1007() {
    assert_fails_utf8(
        &stream(&[client(TEXT, b"ok"), client(FIN | CONT, b"\xF0\x9F\x98")]),
        2,
        b"\xF0\x9F\x98",
        2,
    );
}

#[test]
fn utf8_fails_fast_in_the_chunk_that_brings_the_bad_byte() {
    // One text frame delivered in three reads; the invalid byte is in the second.
    let mut payload = b"valid text, then ".to_vec();
    let bad_at = payload.len() + 4;
    payload.extend_from_slice(b"more\xC0\xAF and the rest of the frame that never comes");
    let frame = client(FIN | TEXT, &payload);
    let header_len = frame.len() - payload.len();
    let first_cut = header_len + 10;
    let second_cut = header_len + bad_at + 1;
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&frame[..first_cut]);
    assert_eq!(conn.next_event(), None);
    assert!(!conn.has_output());
    conn.receive(&frame[first_cut..second_cut]);
    match conn.next_event() {
        Some(Event::Closed(c)) => {
            assert_eq!(c.code, CloseCode::INVALID_PAYLOAD);
            assert_eq!(utf8_offset(c.error), Some(bad_at as u64));
        }
        other => panic!("expected 1007 after the second chunk, got {other:?}"),
    }
    assert_eq!(close_code_on_wire(&conn.take_output()), Some(1007));
    assert_eq!(conn.state(), State::Closed);
    // The third chunk is refused.
    conn.receive(&frame[second_cut..]);
    assert_eq!(conn.next_event(), None);
    assert!(!conn.has_output());
}

#[test]
fn close_payload_of_one_byte_is_1002() {
    assert_fails(
        &client(FIN | CLOSE, &[0x03]),
        ProtocolError::CloseFrameTooShort,
    );
}

#[test]
fn unsendable_close_codes_are_1002_and_sendable_ones_are_echoed() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        assert_fails(
            &client(FIN | CLOSE, &close_payload(code, b"")),
            ProtocolError::InvalidCloseCode(code),
        );
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let (events, out) = server(&client(FIN | CLOSE, &close_payload(code, b"why")));
        assert_eq!(close_code_on_wire(&out), Some(code));
        match &events[..] {
            [Event::Closed(c)] => {
                assert_eq!(
                    (c.code, c.reason.as_str(), c.initiator, c.error),
                    (CloseCode(code), "why", Initiator::Peer, None)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_close_reason_that_is_not_utf8_is_1007() {
    let (events, out) = server_everywhere(&client(FIN | CLOSE, &close_payload(1000, b"bad \xFF")));
    let Some(Event::Closed(closed)) = events.last() else {
        panic!("expected a close event, got {events:?}");
    };
    let Some(ProtocolError::InvalidCloseReason(evidence)) = closed.error else {
        panic!("expected an invalid close reason, got {closed:?}");
    };
    assert_eq!((evidence.offset(), evidence.bytes()), (4, &b"\xFF"[..]));
    assert_eq!(close_code_on_wire(&out), Some(1007));
}

#[test]
fn an_empty_close_is_answered_with_1000_and_reported_as_1005() {
    let (events, out) = server_everywhere(&client(FIN | CLOSE, b""));
    assert_eq!(
        server_frames(&out),
        vec![(FIN | CLOSE, 1000u16.to_be_bytes().to_vec())]
    );
    assert!(matches!(&events[..], [Event::Closed(c)] if c.code == CloseCode::NO_STATUS_RECEIVED));
}

#[test]
fn frames_after_the_peers_close_are_ignored() {
    let (events, out) = server_everywhere(&stream(&[
        client(FIN | TEXT, b"before"),
        client(FIN | CLOSE, &close_payload(1000, b"")),
        client(FIN | TEXT, b"after"),
        client(FIN | PING, b""),
        client(0xFF, b"garbage"),
    ]));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], text("before"));
    assert_eq!(server_frames(&out).len(), 1, "only the close reply");
}

#[test]
fn after_our_close_only_control_frames_and_the_peers_close_are_read() {
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.close(CloseCode::GOING_AWAY, "restart").unwrap();
    assert_eq!(close_code_on_wire(&conn.take_output()), Some(1001));
    assert_eq!(conn.state(), State::CloseSent);
    assert_eq!(conn.send(Message::from("late")), Err(SendError::Closed));
    conn.receive(&stream(&[
        client(FIN | TEXT, b"discarded"),
        client(FIN | PING, b"p"),
        client(FIN | CLOSE, &close_payload(1001, b"")),
    ]));
    assert_eq!(conn.next_event(), Some(Event::Ping("p".into())));
    match conn.next_event() {
        Some(Event::Closed(c)) => assert_eq!(
            (c.code, c.initiator),
            (CloseCode::GOING_AWAY, Initiator::Local)
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        !conn.has_output(),
        "no pong and no second close after our close"
    );
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn a_frame_over_the_limit_is_1009_from_its_header_alone() {
    // A 14-byte header declaring 2^40 bytes: refused before anything is buffered.
    let mut header = vec![FIN | BINARY, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&KEY);
    assert_fails(
        &header,
        ProtocolError::FrameTooBig {
            declared: 1 << 40,
            limit: Config::DEFAULT_MAX_FRAME_SIZE,
        },
    );
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&header);
    conn.next_event();
    assert!(
        conn.read_buf().capacity() < 1024,
        "nothing reserved for the declared length"
    );
}

#[test]
fn a_message_over_the_limit_is_1009_when_the_fragment_that_crosses_it_is_announced() {
    let config = Config::builder()
        .max_frame_size(100)
        .max_message_size(150)
        .build();
    let input = stream(&[client(BINARY, &[1; 100]), client(FIN | CONT, &[2; 60])]);
    let (events, out) = server_everywhere_with(config, &input);
    let error = ProtocolError::MessageTooBig {
        declared: 160,
        limit: 150,
    };
    assert!(matches!(events.last(), Some(Event::Closed(c)) if c.error == Some(error)));
    assert_eq!(close_code_on_wire(&out), Some(1009));
    // The fragment's header alone is enough.
    let header_only = &input[..input.len() - 60];
    let (events, _) = drive(Role::Server, config, header_only, &[]);
    assert!(matches!(events.last(), Some(Event::Closed(c)) if c.error == Some(error)));
}

#[test]
fn what_was_delivered_stays_delivered_when_an_error_follows() {
    let (events, out) = server_everywhere(&stream(&[
        client(FIN | TEXT, b"one"),
        client(FIN | BINARY, b"two"),
        client(FIN | 0x3, b""),
    ]));
    assert_eq!(
        events[..2],
        [text("one"), Event::Message(Message::from(b"two".to_vec()))]
    );
    assert_eq!(close_code_on_wire(&out), Some(1002));
}

#[test]
fn streaming_mode_hands_out_text_on_code_point_boundaries() {
    let config = Config::builder().streaming(true).build();
    let message = "a😀bc€d".repeat(50);
    let bytes = message.as_bytes();
    // Fragments that cut code points, fed byte by byte and in odd reads.
    let input = stream(&[
        client(TEXT, &bytes[..2]),
        client(CONT, &bytes[2..150]),
        client(FIN | CONT, &bytes[150..]),
    ]);
    for step in [1, 3, 7, 64, input.len()] {
        let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
        let (events, _) = drive(Role::Server, config, &input, &cuts);
        let mut joined = String::new();
        for (i, event) in events.iter().enumerate() {
            let Event::Chunk {
                data: Message::Text(piece),
                last,
            } = event
            else {
                panic!("{event:?}");
            };
            assert_eq!(*last, i == events.len() - 1);
            joined.push_str(piece.as_str());
        }
        assert_eq!(joined, message, "step {step}");
    }
}

/// `Event::Chunk`'s docs: an empty final fragment is an empty last piece;
/// after our close, the rest of a message being received is not handed
/// out, so it gets no last piece. Whole, byte by byte and at every cut.
#[test]
fn streaming_mode_empty_last_piece_and_no_last_piece_after_our_close() {
    let config = Config::builder().streaming(true).build();
    let make = || Connection::new(Role::Server, config);
    let input = stream(&[client(BINARY, b"abc"), client(FIN | CONT, b"")]);
    let pieces = same_every_way(
        "empty final fragment",
        &make,
        &input,
        true,
        |(events, _)| {
            let mut joined = Vec::new();
            let mut lasts = Vec::new();
            for event in events {
                let Event::Chunk { data, last } = event else {
                    panic!("{event:?}");
                };
                joined.extend_from_slice(data.as_bytes());
                lasts.push((data.as_bytes().is_empty(), last));
            }
            (joined, lasts.last().copied())
        },
    );
    assert_eq!(pieces, (b"abc".to_vec(), Some((true, true))));

    // Our close after the first fragment: the second is dropped, and a
    // text's invalid byte in it is not judged (no 1007).
    let second = stream(&[
        client(FIN | CONT, b"d\xFF"),
        client(FIN | CLOSE, &close_payload(1000, b"")),
    ]);
    for cut in 0..=second.len() {
        let mut conn = make();
        conn.receive(&client(TEXT, b"abc"));
        assert!(matches!(
            conn.next_event(),
            Some(Event::Chunk { last: false, .. })
        ));
        conn.close(CloseCode::NORMAL, "").unwrap();
        let (events, _) = feed_cut(&mut conn, &second, &[cut], false);
        assert!(
            matches!(&events[..], [Event::Closed(c)] if c.code == CloseCode::NORMAL),
            "cut {cut}: {events:?}"
        );
    }
}

#[test]
fn streaming_mode_still_fails_fast_and_at_a_cut_code_point() {
    let config = Config::builder().streaming(true).build();
    let (events, out) = drive(
        Role::Server,
        config,
        &stream(&[client(TEXT, b"ok\xE2\x82"), client(FIN | CONT, b"x")]),
        &[],
    );
    assert!(
        matches!(events.last(), Some(Event::Closed(c)) if c.code == CloseCode::INVALID_PAYLOAD)
    );
    assert_eq!(close_code_on_wire(&out), Some(1007));
    // The valid text before the error was delivered first.
    assert!(
        matches!(&events[0], Event::Chunk { data: Message::Text(t), last: false } if t.as_str() == "ok")
    );
}

#[test]
fn auto_pong_can_be_turned_off() {
    let (events, out) = drive(
        Role::Server,
        Config::builder().auto_pong(false).build(),
        &client(FIN | PING, b"x"),
        &[],
    );
    assert_eq!(events, vec![Event::Ping("x".into())]);
    assert!(out.is_empty());
}

#[test]
fn local_misuse_is_a_send_error_and_changes_nothing() {
    let mut conn = Connection::new(Role::Server, Config::default());
    assert_eq!(
        conn.close(CloseCode::NO_STATUS_RECEIVED, ""),
        Err(SendError::UnsendableCloseCode(1005))
    );
    assert_eq!(
        conn.ping(&[0; 126]),
        Err(SendError::ControlPayloadTooLong(126))
    );
    assert_eq!(
        conn.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::ControlPayloadTooLong(126))
    );
    conn.send_fragment(Message::from("a"), false).unwrap();
    assert_eq!(
        conn.send_fragment(Message::from(vec![1]), true),
        Err(SendError::FragmentOutOfOrder)
    );
    assert_eq!(
        conn.send(Message::from("b")),
        Err(SendError::FragmentOutOfOrder)
    );
    conn.send_fragment(Message::from("b"), true).unwrap();
    assert_eq!(conn.state(), State::Open);
    let frames = server_frames(&conn.take_output());
    assert_eq!(
        frames,
        vec![(TEXT, b"a".to_vec()), (FIN | CONT, b"b".to_vec())]
    );
}
