//! A relay (proxy) written on the sans-IO core as an embedder would, from
//! the docs alone: a server connection faces the client, a client
//! connection faces the upstream, both in streaming mode, and every piece
//! received on one is forwarded with `send_fragment` on the other, the
//! outgoing side's output bounded (`max_output_buffer`) and written out in
//! small partial writes (`pending_output`/`consume_output`), so the relay
//! stops pulling events while the far side is full. permessage-deflate on
//! either side, both, or neither. The input is fed whole, byte by byte and
//! cut at every point, through both input paths; what goes out is read by
//! hand (RFC 6455 §5.2 framing, the reference inflater), never by the code
//! under test. Covered: messages arriving identical (text, binary, empty,
//! fragments cut inside code points, pings between fragments), the message
//! limit and a compressed bomb inbound, invalid UTF-8 in the middle of a
//! streamed text (the 1007 evidence, compressed or not), and a close from
//! either side in the middle of a streamed message.
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{reference_inflate, sync_compressed, NO_TAKEOVER, RSV1};
use common::{client, close_payload, raw_frame, BINARY, CLOSE, CONT, FIN, PING, PONG, TEXT};
use wsframe::{
    apply_mask_bytewise, CloseCode, Closed, Config, Connection, DeflateConfig, Event, Initiator,
    Message, ProtocolError, Role, SendError,
};

/// The small output bound of the relay's outgoing side: a few frames, so
/// that it fills in the middle of every message.
const OUTPUT_BOUND: usize = 48;
/// How many bytes the far side's socket takes per write.
const WRITE_SIZE: usize = 7;

/// One direction of the relay: the piece pulled from the receiving side
/// that the sending side has not taken yet (its output was full), and how
/// the receiving side ended.
#[derive(Default)]
struct Direction {
    held: Option<(Message, bool)>,
    /// How many times the sending side was full.
    stalls: usize,
    closed: Option<Closed>,
    /// Every piece pulled, in order (text or not, bytes, last).
    pieces: Vec<(bool, Vec<u8>, bool)>,
}

/// The relay itself: forwards what `from` has into `to`, piece by piece,
/// until `from` has nothing more or `to` refuses with `OutputFull` (the
/// piece is then held, and nothing more is pulled from `from` until it is
/// taken). A close is forwarded with the same code where it may go on the
/// wire (§7.4.1), 1000 for a close without a code (1005), 1001 for a
/// connection lost without one (1006).
fn pump(from: &mut Connection, to: &mut Connection, direction: &mut Direction) {
    loop {
        if let Some((piece, last)) = direction.held.take() {
            match to.send_fragment(piece.clone(), last) {
                Ok(()) => {}
                Err(SendError::OutputFull { .. }) => {
                    direction.stalls += 1;
                    direction.held = Some((piece, last));
                    return;
                }
                // The far side is closing: data stops there (§5.5.1).
                Err(SendError::Closed) => {}
                Err(other) => panic!("send_fragment: {other}"),
            }
        }
        if direction.closed.is_some() {
            return;
        }
        match from.next_event() {
            None => return,
            Some(Event::Chunk { data, last }) => {
                direction
                    .pieces
                    .push((data.is_text(), data.as_bytes().to_vec(), last));
                direction.held = Some((data, last));
            }
            Some(Event::Message(message)) => panic!("streaming mode gave a whole {message:?}"),
            // Answered by auto_pong on the side that received it.
            Some(Event::Ping(_) | Event::Pong(_)) => {}
            Some(Event::Closed(closed)) => {
                let code = match closed.code {
                    code if code.is_sendable() => code,
                    CloseCode(1005) => CloseCode::NORMAL,
                    _ => CloseCode(1001),
                };
                match to.close(code, &closed.reason) {
                    Ok(()) | Err(SendError::Closed) => {}
                    Err(other) => panic!("close {code:?} {:?}: {other}", closed.reason),
                }
                direction.closed = Some(*closed);
            }
        }
    }
}

/// At most `n` bytes of `conn`'s output, as a socket taking a partial write.
fn write_some(conn: &mut Connection, n: usize, wire: &mut Vec<u8>) -> usize {
    let take = conn.pending_output().len().min(n);
    wire.extend_from_slice(&conn.pending_output()[..take]);
    conn.consume_output(take);
    take
}

/// A side of the relay: its role, and the permessage-deflate negotiated on
/// its link (no context takeover, so each message inflates alone).
fn side(role: Role, deflate: bool, bound: usize, limit: u64) -> Connection {
    let config = Config::builder()
        .streaming(true)
        .max_output_buffer(bound)
        .max_message_size(limit)
        .deflate(deflate.then(|| DeflateConfig::default().threshold(0)))
        .build();
    if deflate {
        Connection::with_deflate(role, config, Some(NO_TAKEOVER))
    } else {
        Connection::with_mask_source(role, config, Box::new(|| [9, 8, 7, 6]))
    }
}

/// What the relay did with `input` (the bytes from the receiving side's
/// peer) cut at `cuts`, every other piece through `read_buf` when
/// `use_read_buf`: the bytes written back to that peer, the bytes written
/// to the far peer, and the receiving direction.
#[derive(Default)]
struct Run {
    back: Vec<u8>,
    forward: Vec<u8>,
    direction: Direction,
}

impl Run {
    /// After bytes reached `receiving`: relay what it has, let the far
    /// peer take one partial write, collect what `receiving` answered.
    fn step(&mut self, receiving: &mut Connection, sending: &mut Connection, write_size: usize) {
        pump(receiving, sending, &mut self.direction);
        write_some(sending, write_size, &mut self.forward);
        self.back.extend_from_slice(&receiving.take_output());
    }

    /// The input is all in: the far peer reads on until the relay has
    /// nothing more.
    fn finish(
        mut self,
        receiving: &mut Connection,
        sending: &mut Connection,
        write_size: usize,
    ) -> Run {
        loop {
            pump(receiving, sending, &mut self.direction);
            self.back.extend_from_slice(&receiving.take_output());
            if write_some(sending, write_size, &mut self.forward) == 0
                && self.direction.held.is_none()
            {
                return self;
            }
        }
    }
}

fn run(
    receiving: &mut Connection,
    sending: &mut Connection,
    input: &[u8],
    cuts: &[usize],
    use_read_buf: bool,
    write_size: usize,
) -> Run {
    let mut run = Run::default();
    let mut start = 0;
    for (i, &end) in cuts.iter().chain(std::iter::once(&input.len())).enumerate() {
        if use_read_buf && i % 2 == 1 {
            receiving.read_buf().extend_from_slice(&input[start..end]);
        } else {
            receiving.receive(&input[start..end]);
        }
        start = end;
        run.step(receiving, sending, write_size);
    }
    run.finish(receiving, sending, write_size)
}

/// A frame read by hand (§5.2): first byte, unmasked payload, length.
fn parse_frame(buf: &[u8]) -> (u8, Vec<u8>, usize) {
    let (first, second) = (buf[0], buf[1]);
    let (len, mut at) = match second & 0x7F {
        126 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 => (
            u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let key = (second & 0x80 != 0).then(|| {
        at += 4;
        <[u8; 4]>::try_from(&buf[at - 4..at]).unwrap()
    });
    let mut payload = buf[at..at + len].to_vec();
    if let Some(key) = key {
        apply_mask_bytewise(&mut payload, key, 0);
    }
    (first, payload, at + len)
}

/// What a peer reads in `wire` (written by a `role` end): whole messages
/// (text or not, inflated by the reference inflater where RSV1 is set),
/// control frames (opcode, payload), and the fragments of a message left
/// open when the wire ends or a close comes (text or not, bytes so far).
#[derive(Debug, Default, PartialEq)]
struct Read {
    messages: Vec<(bool, Vec<u8>)>,
    controls: Vec<(u8, Vec<u8>)>,
    open: Option<(bool, Vec<u8>)>,
}

fn read_wire(mut wire: &[u8], masked: bool) -> Read {
    let mut read = Read::default();
    let mut compressed = false;
    while !wire.is_empty() {
        let (first, payload, len) = parse_frame(wire);
        assert_eq!(wire[1] & 0x80 != 0, masked, "§5.1: masked by a client only");
        wire = &wire[len..];
        let opcode = first & 0x0F;
        if opcode >= 8 {
            assert_eq!(first & 0x70, 0, "no RSV on a control frame");
            read.controls.push((opcode, payload));
            continue;
        }
        assert!(
            read.controls.iter().all(|(op, _)| *op != CLOSE),
            "data after a close (§5.5.1)"
        );
        match (&mut read.open, opcode) {
            (None, TEXT | BINARY) => {
                compressed = first & RSV1 != 0;
                read.open = Some((opcode == TEXT, payload));
            }
            (Some((_, bytes)), CONT) => {
                assert_eq!(
                    first & 0x70,
                    0,
                    "RSV1 on the first frame only (RFC 7692 §6.1)"
                );
                bytes.extend_from_slice(&payload);
            }
            _ => panic!("fragment out of order: {first:02x}"),
        }
        if first & FIN != 0 {
            let (text, mut bytes) = read.open.take().unwrap();
            if compressed {
                bytes = reference_inflate(&bytes).expect("a whole compressed message");
            }
            read.messages.push((text, bytes));
        }
    }
    read
}

/// A close frame's code and reason.
fn close_of(read: &Read) -> Option<(u16, Vec<u8>)> {
    let (_, payload) = read.controls.iter().find(|(op, _)| *op == CLOSE)?;
    Some((
        u16::from_be_bytes([payload[0], payload[1]]),
        payload[2..].to_vec(),
    ))
}

/// `input` through a fresh relay made by `make`, whole, byte by byte and
/// cut at every point (`every_cut`), through both input paths: `check`
/// judges each run.
fn every_way(
    make: &dyn Fn() -> (Connection, Connection),
    input: &[u8],
    every_cut: bool,
    check: &dyn Fn(&str, Run),
) {
    every_way_writing(make, input, every_cut, WRITE_SIZE, check);
}

/// As [`every_way`], the far side's socket taking `write_size` bytes a write.
fn every_way_writing(
    make: &dyn Fn() -> (Connection, Connection),
    input: &[u8],
    every_cut: bool,
    write_size: usize,
    check: &dyn Fn(&str, Run),
) {
    let mut cuttings: Vec<(String, Vec<usize>)> = vec![
        ("whole".into(), vec![]),
        ("byte by byte".into(), (1..input.len()).collect()),
    ];
    if every_cut {
        cuttings.extend((0..=input.len()).map(|cut| (format!("cut at {cut}"), vec![cut])));
    }
    for (what, cuts) in cuttings {
        for use_read_buf in [false, true] {
            let (mut receiving, mut sending) = make();
            let run = run(
                &mut receiving,
                &mut sending,
                input,
                &cuts,
                use_read_buf,
                write_size,
            );
            check(&format!("{what}, read_buf {use_read_buf}"), run);
        }
    }
}

/// The text of the tests: multi-byte code points everywhere.
const TEXT_BODY: &str = "héllo wörld — 😀 naïve façade ✓ ";

/// The client's messages, as (text, bytes), and the masked frames carrying
/// them: a text in three fragments cut inside code points with a ping
/// between the first two, a binary message, an empty text, and (where the
/// client's link negotiated permessage-deflate) a compressed text in
/// three fragments and a compressed binary in one.
fn client_stream(deflate: bool) -> (Vec<(bool, Vec<u8>)>, Vec<u8>) {
    let text = TEXT_BODY.repeat(2).into_bytes();
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let mut input = [
        client(TEXT, &text[..2]),
        client(FIN | PING, b"mid"),
        client(CONT, &text[2..20]),
        client(FIN | CONT, &text[20..]),
        client(FIN | BINARY, &binary),
        client(FIN | TEXT, b""),
    ]
    .concat();
    let mut messages = vec![
        (true, text.clone()),
        (false, binary.clone()),
        (true, vec![]),
    ];
    if deflate {
        let compressed = sync_compressed(&text, 6);
        let third = compressed.len() / 3;
        input.extend(client(RSV1 | TEXT, &compressed[..third]));
        input.extend(client(CONT, &compressed[third..2 * third]));
        input.extend(client(FIN | CONT, &compressed[2 * third..]));
        input.extend(client(FIN | RSV1 | BINARY, &sync_compressed(&binary, 1)));
        messages.push((true, text));
        messages.push((false, binary));
    }
    (messages, input)
}

#[test]
fn every_message_reaches_the_upstream_identical_deflate_on_either_side() {
    for (inbound, outbound) in [(false, false), (true, false), (false, true), (true, true)] {
        let (messages, input) = client_stream(inbound);
        let make = || {
            (
                side(Role::Server, inbound, 1 << 20, u64::MAX),
                side(Role::Client, outbound, OUTPUT_BOUND, u64::MAX),
            )
        };
        every_way(&make, &input, true, &|what, run| {
            let what = format!("deflate in {inbound}, out {outbound}: {what}");
            let upstream = read_wire(&run.forward, true);
            assert_eq!(upstream.messages, messages, "{what}");
            assert_eq!(upstream.open, None, "{what}");
            assert_eq!(
                upstream.controls,
                vec![],
                "{what}: pings are answered, not forwarded"
            );
            if what.starts_with("whole") {
                assert!(
                    run.direction.stalls > 0,
                    "{what}: the upstream side never filled"
                );
            }
            // The ping between fragments is answered to the client.
            let back = read_wire(&run.back, false);
            assert_eq!(back.controls, vec![(PONG, b"mid".to_vec())], "{what}");
            // Every text piece ends on a code point (the docs' promise).
            for (text, bytes, _) in &run.direction.pieces {
                assert!(!text || std::str::from_utf8(bytes).is_ok(), "{what}");
            }
        });
    }
}

#[test]
fn every_message_reaches_the_client_identical_from_the_upstream() {
    // The other direction: the upstream's unmasked frames, read by the
    // relay's client side, forwarded by its server side.
    for (inbound, outbound) in [(false, false), (true, false), (false, true), (true, true)] {
        let text = TEXT_BODY.repeat(3).into_bytes();
        let mut input = [
            raw_frame(BINARY, b"\x00\x01", None),
            raw_frame(FIN | PING, b"up", None),
            raw_frame(FIN | CONT, &[0xFF; 40], None),
            raw_frame(TEXT, &text[..1], None),
            raw_frame(FIN | CONT, &text[1..], None),
        ]
        .concat();
        let mut binary = vec![0x00, 0x01];
        binary.extend([0xFF; 40]);
        let mut messages = vec![(false, binary), (true, text.clone())];
        if inbound {
            input.extend(raw_frame(
                FIN | RSV1 | TEXT,
                &sync_compressed(&text, 9),
                None,
            ));
            messages.push((true, text));
        }
        let make = || {
            (
                side(Role::Client, inbound, 1 << 20, u64::MAX),
                side(Role::Server, outbound, OUTPUT_BOUND, u64::MAX),
            )
        };
        every_way(&make, &input, true, &|what, run| {
            let what = format!("deflate in {inbound}, out {outbound}: {what}");
            let client = read_wire(&run.forward, false);
            assert_eq!(client.messages, messages, "{what}");
            assert_eq!(client.open, None, "{what}");
            let back = read_wire(&run.back, true);
            assert_eq!(back.controls, vec![(PONG, b"up".to_vec())], "{what}");
        });
    }
}

/// The client's binary message of three 100-byte frames against a message
/// limit of 250 (lifted on the upstream side): the third frame's header
/// takes it over.
#[test]
fn a_message_over_the_limit_inbound_is_cut_off_by_a_close_on_both_sides() {
    let payload: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
    let input = [
        client(BINARY, &payload[..100]),
        client(CONT, &payload[100..200]),
        client(FIN | CONT, &payload[200..]),
    ]
    .concat();
    for outbound in [false, true] {
        let make = || {
            (
                side(Role::Server, false, 1 << 20, 250),
                side(Role::Client, outbound, OUTPUT_BOUND, u64::MAX),
            )
        };
        every_way(&make, &input, true, &|what, run| {
            let what = format!("deflate out {outbound}: {what}");
            let closed = run.direction.closed.expect("closed");
            assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG, "{what}");
            assert_eq!(closed.initiator, Initiator::Local, "{what}");
            assert_eq!(
                closed.error,
                Some(ProtocolError::MessageTooBig {
                    declared: 300,
                    limit: 250
                }),
                "{what}"
            );
            // Nothing of the third frame was handed out: the limit is
            // checked before its payload is read.
            let relayed: Vec<u8> = run
                .direction
                .pieces
                .iter()
                .flat_map(|p| p.1.clone())
                .collect();
            assert_eq!(relayed, payload[..200], "{what}");
            assert!(
                run.direction.pieces.iter().all(|p| !p.2),
                "{what}: no last piece"
            );
            // 1009 to the client.
            let back = read_wire(&run.back, false);
            assert_eq!(close_of(&back).map(|c| c.0), Some(1009), "{what}");
            // The upstream: the first two frames' bytes as an open message
            // (compressed ones cannot be read alone), then the close that
            // aborts it, with the code forwarded.
            let upstream = read_wire(&run.forward, true);
            assert_eq!(upstream.messages, vec![], "{what}");
            if !outbound {
                assert_eq!(
                    upstream.open,
                    Some((false, payload[..200].to_vec())),
                    "{what}"
                );
            }
            assert_eq!(close_of(&upstream).map(|c| c.0), Some(1009), "{what}");
        });
    }
}

/// A compressed bomb from the client: 4 MiB of zeros in a few KiB, against
/// a message limit of 100 KiB in streaming mode.
#[test]
fn a_compressed_bomb_inbound_is_relayed_in_bounded_pieces_up_to_the_limit() {
    let zeros = vec![0u8; 4 << 20];
    let compressed = sync_compressed(&zeros, 9);
    let input = client(FIN | RSV1 | BINARY, &compressed);
    let limit = 100 << 10;
    let make = || {
        (
            side(Role::Server, true, 1 << 20, limit),
            side(Role::Client, false, 64 << 10, u64::MAX),
        )
    };
    // Whole and byte by byte: each run inflates past the limit.
    every_way(&make, &input, false, &|what, run| {
        let closed = run.direction.closed.expect("closed");
        assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG, "{what}: {closed}");
        assert_eq!(closed.initiator, Initiator::Local, "{what}");
        let relayed: usize = run.direction.pieces.iter().map(|p| p.1.len()).sum();
        assert!(relayed as u64 <= limit, "{what}: {relayed} bytes relayed");
        assert!(
            run.direction
                .pieces
                .iter()
                .all(|p| p.1.len() <= 64 << 10 && !p.2 && p.1.iter().all(|&b| b == 0)),
            "{what}"
        );
        assert_eq!(
            close_of(&read_wire(&run.back, false)).map(|c| c.0),
            Some(1009),
            "{what}"
        );
        let upstream = read_wire(&run.forward, true);
        assert_eq!(
            upstream.open.as_ref().map(|o| o.1.len()),
            Some(relayed),
            "{what}"
        );
        assert_eq!(close_of(&upstream).map(|c| c.0), Some(1009), "{what}");
    });
}

/// A text, valid for its first frames, invalid in the middle of its last;
/// plain or compressed (the evidence then counts inflated bytes).
#[test]
fn invalid_utf8_in_a_streamed_text_relays_only_valid_pieces_and_says_where_the_same_every_way() {
    let mut text = TEXT_BODY.repeat(2).into_bytes();
    let valid = text.len() - 5;
    // A two-byte lead followed by ASCII, then more text.
    text.splice(valid..valid, *b"\xC3(");
    let invalid_at = std::str::from_utf8(&text).unwrap_err().valid_up_to();
    assert_eq!(invalid_at, valid);
    let plain = [
        client(TEXT, &text[..3]),
        client(CONT, &text[3..30]),
        client(FIN | CONT, &text[30..]),
    ]
    .concat();
    let compressed = sync_compressed(&text, 6);
    let third = compressed.len() / 3;
    let deflated = [
        client(RSV1 | TEXT, &compressed[..third]),
        client(CONT, &compressed[third..2 * third]),
        client(FIN | CONT, &compressed[2 * third..]),
    ]
    .concat();
    for (inbound, input, frame) in [(false, plain, 3), (true, deflated, 1)] {
        let make = || {
            (
                side(Role::Server, inbound, 1 << 20, u64::MAX),
                side(Role::Client, false, OUTPUT_BOUND, u64::MAX),
            )
        };
        every_way(&make, &input, true, &|what, run| {
            let what = format!("deflate in {inbound}: {what}");
            let closed = run.direction.closed.expect("closed");
            assert_eq!(closed.code, CloseCode::INVALID_PAYLOAD, "{what}");
            let Some(ProtocolError::InvalidUtf8(evidence)) = closed.error else {
                panic!("{what}: {closed:?}");
            };
            assert_eq!(evidence.offset(), invalid_at as u64, "{what}");
            assert_eq!(evidence.bytes(), b"\xC3", "{what}");
            assert_eq!(evidence.following(), b"(", "{what}");
            if !inbound {
                assert_eq!(evidence.frame(), frame, "{what}");
            }
            // What was relayed is valid text, a prefix of the valid part.
            let relayed: Vec<u8> = run
                .direction
                .pieces
                .iter()
                .flat_map(|p| p.1.clone())
                .collect();
            assert!(relayed.len() <= invalid_at, "{what}");
            assert_eq!(relayed, text[..relayed.len()], "{what}");
            let upstream = read_wire(&run.forward, true);
            assert_eq!(upstream.open, Some((true, relayed.clone())), "{what}");
            assert_eq!(close_of(&upstream).map(|c| c.0), Some(1007), "{what}");
            assert_eq!(
                close_of(&read_wire(&run.back, false)).map(|c| c.0),
                Some(1007),
                "{what}"
            );
        });
    }
}

/// The client closes in the middle of its streamed message: the relay
/// forwards the close (code and reason) to the upstream, after the pieces
/// it had; a close without a code goes on as 1000, never 1005 (§7.4.1).
#[test]
fn a_close_from_the_client_in_the_middle_of_a_message_is_relayed_after_its_pieces() {
    for (close, forwarded) in [
        (
            close_payload(4000, "bye ✓".as_bytes()),
            (4000, "bye ✓".as_bytes().to_vec()),
        ),
        (vec![], (1000, vec![])),
    ] {
        let input = [
            client(TEXT, "héllo".as_bytes()),
            client(FIN | PING, b""),
            client(FIN | CLOSE, &close),
        ]
        .concat();
        let make = || {
            (
                side(Role::Server, false, 1 << 20, u64::MAX),
                side(Role::Client, true, OUTPUT_BOUND, u64::MAX),
            )
        };
        every_way(&make, &input, true, &|what, run| {
            let closed = run.direction.closed.expect("closed");
            assert_eq!(closed.initiator, Initiator::Peer, "{what}");
            assert_eq!(
                closed.code.0,
                if close.is_empty() { 1005 } else { 4000 },
                "{what}"
            );
            let upstream = read_wire(&run.forward, true);
            assert_eq!(close_of(&upstream), Some(forwarded.clone()), "{what}");
            assert_eq!(upstream.messages, vec![], "{what}");
            // The client gets its pong and the echo of its code (1000 for none).
            let back = read_wire(&run.back, false);
            assert_eq!(back.controls[0], (PONG, vec![]), "{what}");
            let echoed = if close.is_empty() { 1000 } else { 4000 };
            assert_eq!(close_of(&back).map(|c| c.0), Some(echoed), "{what}");
        });
    }
}

/// The upstream closes while the client's message is half relayed: the
/// relay closes the client's side with the upstream's code and reason; the
/// rest of the client's message is then not handed out (our close came
/// first, §5.5.1), and the client's answer ends it as ours.
#[test]
fn a_close_from_the_upstream_in_the_middle_of_a_client_message_stops_the_relay() {
    let make = || {
        let mut server = side(Role::Server, false, 1 << 20, u64::MAX);
        let mut upstream_side = side(Role::Client, false, OUTPUT_BOUND, u64::MAX);
        server.receive(&client(TEXT, b"abc"));
        pump(&mut server, &mut upstream_side, &mut Direction::default());
        upstream_side.receive(&raw_frame(
            FIN | CLOSE,
            &close_payload(1001, b"going"),
            None,
        ));
        let mut back = Direction::default();
        pump(&mut upstream_side, &mut server, &mut back);
        let closed = back.closed.expect("the upstream's close");
        assert_eq!((closed.code.0, closed.initiator), (1001, Initiator::Peer));
        (server, upstream_side)
    };
    let input = [
        client(FIN | CONT, b"def"),
        client(FIN | CLOSE, &close_payload(1001, b"")),
    ]
    .concat();
    every_way(&make, &input, true, &|what, run| {
        assert_eq!(
            run.direction.pieces,
            vec![],
            "{what}: nothing after our close"
        );
        let closed = run.direction.closed.expect("closed");
        assert_eq!(
            (closed.code.0, closed.initiator),
            (1001, Initiator::Local),
            "{what}"
        );
        let back = read_wire(&run.back, false);
        assert_eq!(close_of(&back), Some((1001, b"going".to_vec())), "{what}");
        let upstream = read_wire(&run.forward, true);
        assert_eq!(upstream.open, Some((true, b"abc".to_vec())), "{what}");
        assert_eq!(close_of(&upstream).map(|c| c.0), Some(1001), "{what}");
    });
}

/// A compressed text of 300 KiB, its code points straddling every 64 KiB
/// piece boundary, relayed to a plain upstream: every piece is valid text
/// and at most 64 KiB (the docs' bound), the whole arrives identical.
#[test]
fn a_large_compressed_text_is_relayed_in_whole_code_points() {
    // 1 + 2 + 3 + 4 bytes: every alignment of a code point.
    let text = "aé✓😀".repeat(30 << 10).into_bytes();
    let compressed = sync_compressed(&text, 9);
    let input = [
        client(RSV1 | TEXT, &compressed[..compressed.len() / 2]),
        client(FIN | CONT, &compressed[compressed.len() / 2..]),
    ]
    .concat();
    let make = || {
        (
            side(Role::Server, true, 1 << 20, u64::MAX),
            side(Role::Client, false, 64 << 10, u64::MAX),
        )
    };
    every_way_writing(&make, &input, true, 16 << 10, &|what, run| {
        for (is_text, bytes, _) in &run.direction.pieces {
            assert!(*is_text && bytes.len() <= 64 << 10, "{what}");
            assert!(
                std::str::from_utf8(bytes).is_ok(),
                "{what}: a piece cut inside a code point"
            );
        }
        let upstream = read_wire(&run.forward, true);
        assert_eq!(upstream.messages.len(), 1, "{what}");
        assert!(upstream.messages[0] == (true, text.clone()), "{what}");
    });
}

/// A 40 KiB binary message from the upstream, relayed to the client by the
/// server side, which holds large payloads by reference in its output: the
/// partial writes cross the runs.
#[test]
fn a_large_message_from_the_upstream_is_relayed_through_partial_writes() {
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let input = [
        raw_frame(BINARY, &payload[..30_000], None),
        raw_frame(FIN | CONT, &payload[30_000..], None),
        raw_frame(FIN | BINARY, &payload[..20_000], None),
    ]
    .concat();
    let make = || {
        (
            side(Role::Client, false, 1 << 20, u64::MAX),
            side(Role::Server, false, 1000, u64::MAX),
        )
    };
    every_way_writing(&make, &input, false, 999, &|what, run| {
        let client = read_wire(&run.forward, false);
        assert_eq!(client.messages.len(), 2, "{what}");
        assert!(client.messages[0] == (false, payload.clone()), "{what}");
        assert!(
            client.messages[1] == (false, payload[..20_000].to_vec()),
            "{what}"
        );
    });
}

/// Empty pieces: an empty compressed message, an empty final fragment,
/// relayed with deflate on the way out too.
#[test]
fn empty_messages_and_empty_last_fragments_are_relayed() {
    let input = [
        client(FIN | RSV1 | TEXT, &[0x00]),
        client(BINARY, b"ab"),
        client(FIN | CONT, b""),
        client(RSV1 | TEXT, &sync_compressed(b"xyz", 6)),
        client(FIN | CONT, b""),
        client(FIN | RSV1 | BINARY, &sync_compressed(b"", 6)),
    ]
    .concat();
    let expected = vec![
        (true, vec![]),
        (false, b"ab".to_vec()),
        (true, b"xyz".to_vec()),
        (false, vec![]),
    ];
    for outbound in [false, true] {
        let make = || {
            (
                side(Role::Server, true, 1 << 20, u64::MAX),
                side(Role::Client, outbound, OUTPUT_BOUND, u64::MAX),
            )
        };
        every_way(&make, &input, true, &|what, run| {
            let upstream = read_wire(&run.forward, true);
            assert_eq!(
                upstream.messages, expected,
                "deflate out {outbound}: {what}"
            );
        });
    }
}

/// The 1007 evidence a relay logs for a client's bad text: the same
/// however the input is cut and read (the docs of `InvalidUtf8`), its
/// context the text's bytes just before the offset, inflated bytes for a
/// compressed text; the close reason the client gets names that offset.
#[test]
fn the_invalid_utf8_evidence_is_the_same_every_way_compressed_or_not() {
    let mut text = "naïve ".repeat(200).into_bytes();
    let bad = text.len() - 300;
    text[bad] = 0xE9; // Latin-1 'é' amid UTF-8, followed by a space or letter
    let invalid_at = std::str::from_utf8(&text).unwrap_err().valid_up_to();
    let compressed = sync_compressed(&text, 6);
    let third = compressed.len() / 3;
    let deflated = [
        client(RSV1 | TEXT, &compressed[..third]),
        client(CONT, &compressed[third..2 * third]),
        client(FIN | CONT, &compressed[2 * third..]),
    ]
    .concat();
    let plain = [
        client(TEXT, &text[..bad - 5]),
        client(FIN | CONT, &text[bad - 5..]),
    ]
    .concat();
    for (inbound, input) in [(false, plain), (true, deflated)] {
        let make = || {
            (
                side(Role::Server, inbound, 1 << 20, u64::MAX),
                side(Role::Client, false, 1 << 20, u64::MAX),
            )
        };
        let seen = std::cell::RefCell::new(Vec::new());
        every_way(&make, &input, true, &|what, run| {
            let closed = run.direction.closed.expect("closed");
            let Some(ProtocolError::InvalidUtf8(evidence)) = closed.error else {
                panic!("{what}: {closed:?}");
            };
            assert_eq!(evidence.offset(), invalid_at as u64, "{what}");
            assert_eq!(
                evidence.context(),
                &text[invalid_at - 12..invalid_at],
                "{what}"
            );
            assert_eq!(evidence.bytes(), [0xE9], "{what}");
            let reason = close_of(&read_wire(&run.back, false)).unwrap().1;
            let reason = String::from_utf8(reason).unwrap();
            assert!(
                reason.contains(&format!("byte {invalid_at} ")),
                "{what}: {reason}"
            );
            seen.borrow_mut().push((what.to_owned(), evidence, reason));
        });
        let seen = seen.into_inner();
        for (what, evidence, reason) in &seen {
            assert_eq!(
                (evidence, reason),
                (&seen[0].1, &seen[0].2),
                "deflate in {inbound}: {what} against {}",
                seen[0].0
            );
        }
    }
}

/// A message of exactly the limit passes whole; one byte less of limit is
/// 1009, with no more than the limit relayed: plain (its size declared by
/// the headers) or compressed (its inflated size counted as it inflates).
#[test]
fn a_message_of_exactly_the_limit_is_relayed_and_one_byte_over_is_not() {
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 7) as u8 + b'a').collect();
    let compressed = sync_compressed(&data, 6);
    let half = compressed.len() / 2;
    let inputs = [
        (
            false,
            [
                client(BINARY, &data[..30_000]),
                client(FIN | CONT, &data[30_000..]),
            ]
            .concat(),
        ),
        (
            true,
            [
                client(RSV1 | BINARY, &compressed[..half]),
                client(FIN | CONT, &compressed[half..]),
            ]
            .concat(),
        ),
    ];
    for (inbound, input) in inputs {
        for limit in [data.len() as u64, data.len() as u64 - 1] {
            let make = || {
                (
                    side(Role::Server, inbound, 1 << 20, limit),
                    side(Role::Client, false, 64 << 10, u64::MAX),
                )
            };
            every_way_writing(&make, &input, false, 8 << 10, &|what, run| {
                let what = format!("deflate in {inbound}, limit {limit}: {what}");
                let relayed: Vec<u8> = run
                    .direction
                    .pieces
                    .iter()
                    .flat_map(|p| p.1.clone())
                    .collect();
                let upstream = read_wire(&run.forward, true);
                if limit == data.len() as u64 {
                    assert_eq!(run.direction.closed, None, "{what}");
                    assert!(upstream.messages == vec![(false, data.clone())], "{what}");
                } else {
                    let closed = run.direction.closed.clone().expect("closed");
                    assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG, "{what}");
                    assert!(relayed.len() as u64 <= limit, "{what}: {}", relayed.len());
                    assert!(relayed == data[..relayed.len()], "{what}");
                    assert_eq!(upstream.messages, vec![], "{what}");
                }
            });
        }
    }
}

/// The relay reading as the tokio wrapper does (`prepare_read`, then a
/// read of up to its limit into `read_buf`) while it holds pieces the
/// full far side has not taken: the buffer those pieces were read into
/// must not be reused under them.
fn run_prepared(
    receiving: &mut Connection,
    sending: &mut Connection,
    input: &[u8],
    chunk: usize,
    write_size: usize,
) -> Run {
    let mut run = Run::default();
    let mut read = 0;
    while read < input.len() {
        let limit = receiving.prepare_read(chunk);
        let n = limit.min(chunk).min(input.len() - read);
        receiving
            .read_buf()
            .extend_from_slice(&input[read..read + n]);
        read += n;
        run.step(receiving, sending, write_size);
    }
    run.finish(receiving, sending, write_size)
}

#[test]
fn reading_through_prepare_read_while_pieces_are_held_loses_nothing() {
    for (inbound, outbound) in [(false, false), (true, false), (false, true), (true, true)] {
        let (mut messages, mut input) = client_stream(inbound);
        // Whole messages large enough to be read in place (32 KiB or more).
        for seed in 0..2u32 {
            let big: Vec<u8> = (0..40_000u32).map(|i| (i * 31 + seed) as u8).collect();
            input.extend(client(FIN | BINARY, &big));
            messages.push((false, big));
        }
        for chunk in [7, 1000, 16 << 10, 64 << 10] {
            let mut receiving = side(Role::Server, inbound, 1 << 20, u64::MAX);
            let mut sending = side(Role::Client, outbound, 4000, u64::MAX);
            let run = run_prepared(&mut receiving, &mut sending, &input, chunk, 1500);
            let upstream = read_wire(&run.forward, true);
            let what = format!("deflate in {inbound}, out {outbound}, chunk {chunk}");
            assert_eq!(upstream.messages.len(), messages.len(), "{what}");
            for (i, (got, want)) in upstream.messages.iter().zip(&messages).enumerate() {
                assert!(got == want, "{what}: message {i} differs");
            }
        }
    }
}
