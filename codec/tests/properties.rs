//! Properties over arbitrary input: frame encode/decode is the identity, any
//! message cut into any fragments (with pings between them) reassembles to
//! itself, and a client and a server wired back to back exchange arbitrary
//! messages and close cleanly with 1000.

mod common;

use bytes::BytesMut;
use proptest::prelude::*;
use wsframe::{
    CloseCode, Config, Connection, Event, FrameHeader, Initiator, Message, OpCode, Role, State,
    Status,
};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop::sample::select(vec![
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ])
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        opcode(),
        any::<bool>(),
        any::<Option<[u8; 4]>>(),
        prop_oneof![0u64..=130, 120u64..70_000, 0u64..(1 << 63)],
    )
        .prop_map(|(opcode, fin, mask, len)| {
            let (fin, len) = if opcode.is_control() {
                (true, len % 126)
            } else {
                (fin, len)
            };
            FrameHeader {
                mask,
                ..FrameHeader::new(fin, opcode, len)
            }
        })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{0,300}".prop_map(Message::from),
        prop::collection::vec(any::<u8>(), 0..3000).prop_map(Message::from),
    ]
}

/// Splits `bytes` at the given fractions, never inside a code point if `text`.
fn cut(bytes: &[u8], fractions: &[f64], text: bool) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = fractions
        .iter()
        .map(|f| (f * bytes.len() as f64) as usize)
        .collect();
    if text {
        let s = std::str::from_utf8(bytes).unwrap();
        for p in &mut points {
            while !s.is_char_boundary(*p) {
                *p -= 1;
            }
        }
    }
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in points {
        pieces.push(bytes[start..p].to_vec());
        start = p;
    }
    pieces.push(bytes[start..].to_vec());
    pieces
}

proptest! {
    #[test]
    fn header_encode_then_parse_is_the_identity(h in header()) {
        let mut out = BytesMut::new();
        h.encode(&mut out);
        prop_assert_eq!(FrameHeader::parse(&out), Status::Complete((h, out.len())));
        for end in 0..out.len() {
            prop_assert_eq!(FrameHeader::parse(&out[..end]), Status::Partial);
        }
    }

    #[test]
    fn any_message_cut_into_any_fragments_with_pings_between_reassembles(
        message in message(),
        fractions in prop::collection::vec(0.0f64..1.0, 0..6),
        pings in prop::collection::vec(any::<bool>(), 6),
        read_size in 1usize..500,
    ) {
        let text = message.is_text();
        let pieces = cut(message.as_bytes(), &fractions, text);
        let mut client = Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [9, 8, 7, 6]));
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let fragment = if text { Message::from(String::from_utf8(piece).unwrap()) } else { Message::from(piece) };
            client.send_fragment(fragment, i + 1 == count).unwrap();
            if pings[i % pings.len()] {
                client.ping(b"between").unwrap();
            }
        }
        let wire = client.take_output();
        let cuts: Vec<usize> = (read_size..wire.len()).step_by(read_size).collect();
        let (events, _) = common::drive(Role::Server, Config::default(), &wire, &cuts);
        let expected = Event::Message(message);
        let messages: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Message(_))).collect();
        prop_assert_eq!(messages, vec![&expected]);
        prop_assert!(events.iter().all(|e| matches!(e, Event::Message(_) | Event::Ping(_))));
    }

    #[test]
    fn partial_writes_through_pending_output_send_what_take_output_sends(
        messages in prop::collection::vec(message(), 1..6),
        write_sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        // The same sends (and a ping and a close between them) on two
        // servers: one drained by take_output, one by a socket that takes a
        // few bytes a call, interleaved with more sends.
        let mut taken = Connection::new(Role::Server, Config::default());
        let mut written = Connection::new(Role::Server, Config::default());
        let mut want = Vec::new();
        let mut wire = Vec::new();
        let mut sizes = write_sizes.iter().cycle();
        for (i, m) in messages.iter().enumerate() {
            for conn in [&mut taken, &mut written] {
                conn.send(m.clone()).unwrap();
                if i == 0 {
                    conn.ping(b"p").unwrap();
                }
            }
            want.extend_from_slice(&taken.take_output());
            // Write some of it now, leaving the rest pending under the next send.
            let n = (*sizes.next().unwrap()).min(written.pending_output().len());
            wire.extend_from_slice(&written.pending_output()[..n]);
            written.consume_output(n);
        }
        for conn in [&mut taken, &mut written] {
            conn.close(CloseCode::NORMAL, "done").unwrap();
        }
        want.extend_from_slice(&taken.take_output());
        while written.has_output() {
            let n = (*sizes.next().unwrap()).min(written.pending_output().len());
            wire.extend_from_slice(&written.pending_output()[..n]);
            written.consume_output(n);
        }
        prop_assert_eq!(written.output_len(), 0);
        prop_assert_eq!(wire, want);
    }

    #[test]
    fn client_and_server_exchange_messages_and_close_with_1000(
        messages in prop::collection::vec(message(), 0..8),
    ) {
        let mut client = Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [1, 2, 3, 4]));
        let mut server = Connection::new(Role::Server, Config::default());
        for m in &messages {
            client.send(m.clone()).unwrap();
        }
        server.receive(&client.take_output());
        let mut received = Vec::new();
        while let Some(Event::Message(m)) = server.next_event() {
            received.push(m.clone());
            server.send(m).unwrap();
        }
        prop_assert_eq!(&received, &messages);
        client.receive(&server.take_output());
        let mut echoed = Vec::new();
        while let Some(Event::Message(m)) = client.next_event() {
            echoed.push(m);
        }
        prop_assert_eq!(&echoed, &messages);

        client.close(CloseCode::NORMAL, "done").unwrap();
        server.receive(&client.take_output());
        let Some(Event::Closed(at_server)) = server.next_event() else { panic!("no close at the server") };
        prop_assert_eq!((at_server.code, at_server.initiator), (CloseCode::NORMAL, Initiator::Peer));
        client.receive(&server.take_output());
        let Some(Event::Closed(at_client)) = client.next_event() else { panic!("no close reply") };
        prop_assert_eq!((at_client.code, at_client.initiator), (CloseCode::NORMAL, Initiator::Local));
        prop_assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
    }
}

#[test]
#[should_panic(expected = "consume_output(5) with only 4 bytes pending")]
fn consuming_more_output_than_is_pending_panics() {
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.send(Message::from("hi")).unwrap();
    conn.consume_output(5);
}
