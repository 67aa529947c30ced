//! `Config::max_outgoing_frame_size`: every data frame we send carries at
//! most that many payload bytes (compressed bytes where permessage-deflate
//! compressed the message), a longer message or fragment going as several
//! frames (RFC 6455 §5.4): the first with the message's opcode and RSV1 if
//! compressed (RFC 7692 §6.1), the rest continuations with RSV 0, FIN on
//! the last of the message only. What is sent is parsed by hand (RFC 6455
//! §5.2, unmasking included), its payload compared with the message or
//! inflated by the reference inflater, and fed to a receiving
//! `Connection` with the default limits, which must give the message back.
//! Covered: bounds of 1, around 125/126, 65535/65536 and around the
//! message's (or its compressed payload's) length; both roles; `send`,
//! `send_compressed`, `send_split`, `send_fragment`; a 16 MiB + 1
//! incompressible message with deflate and the defaults (one 1009-refused
//! frame before the bound existed); messages at or under the bound going
//! out byte for byte as the one frame RFC 6455 makes of them; the output
//! written in odd steps, vectored, with an automatic pong replaced behind
//! split frames; a server's large pieces still held by reference.

mod common;

use std::io::IoSlice;

use bytes::Bytes;
use common::*;
use wsframe::{Config, Connection, Event, Message, Role, SendError};

/// One frame as sent, parsed by hand (RFC 6455 §5.2): its first byte
/// (FIN, RSV, opcode), whether it was masked, its unmasked payload.
#[derive(Debug)]
struct Sent {
    first: u8,
    masked: bool,
    payload: Vec<u8>,
}

/// Every frame in `buf`; panics on a cut frame or a non-minimal length.
fn sent_frames(mut buf: &[u8]) -> Vec<Sent> {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        assert!(buf.len() >= 2, "cut header: {buf:02x?}");
        let (first, second) = (buf[0], buf[1]);
        let mut at = 2;
        let len = match second & 0x7F {
            126 => {
                let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
                assert!(len > 125, "non-minimal 16-bit length {len}");
                at += 2;
                len
            }
            127 => {
                let len = u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize;
                assert!(len > 0xFFFF, "non-minimal 64-bit length {len}");
                at += 8;
                len
            }
            n => n as usize,
        };
        let masked = second & 0x80 != 0;
        let key = masked.then(|| {
            let key: [u8; 4] = buf[at..at + 4].try_into().unwrap();
            at += 4;
            key
        });
        let mut payload = buf[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        frames.push(Sent {
            first,
            masked,
            payload,
        });
        buf = &buf[at + len..];
    }
    frames
}

/// The data frames of one message (or of its fragments sent so far) are
/// well formed for `bound`: as few as can carry `payload_len` bytes, each
/// at most `bound`, the first `opcode` with `rsv`, the rest continuations
/// with RSV 0, FIN on the last only if `fin`, masked by a client only;
/// returns their payloads joined.
fn check_frames(
    what: &str,
    frames: &[Sent],
    role: Role,
    bound: usize,
    (opcode, rsv, fin): (u8, u8, bool),
) -> Vec<u8> {
    assert!(!frames.is_empty(), "{what}: no frame");
    let total: usize = frames.iter().map(|f| f.payload.len()).sum();
    assert_eq!(
        frames.len(),
        total.div_ceil(bound).max(1),
        "{what}: frame count for {total} bytes at {bound}"
    );
    for (i, frame) in frames.iter().enumerate() {
        let last = i + 1 == frames.len();
        assert!(
            frame.payload.len() <= bound,
            "{what}: frame {i} carries {} > {bound}",
            frame.payload.len()
        );
        assert_eq!(
            frame.masked,
            role == Role::Client,
            "{what}: mask, frame {i}"
        );
        let (want_op, want_rsv) = if i == 0 { (opcode, rsv) } else { (CONT, 0) };
        assert_eq!(frame.first & 0x0F, want_op, "{what}: opcode, frame {i}");
        assert_eq!(frame.first & 0x70, want_rsv, "{what}: RSV, frame {i}");
        assert_eq!(
            frame.first & FIN != 0,
            fin && last,
            "{what}: FIN, frame {i} of {}",
            frames.len()
        );
    }
    frames.iter().flat_map(|f| f.payload.clone()).collect()
}

/// `len` incompressible bytes.
fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `len` bytes that deflate well.
#[cfg(feature = "deflate")]
fn compressible(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"split me, frame me "[i % 19]).collect()
}

fn config(bound: u64) -> Config {
    Config::builder().max_outgoing_frame_size(bound).build()
}

fn peer(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// A sender of `role` without extensions, its client keys fixed.
fn plain_sender(role: Role, config: Config) -> Connection {
    Connection::with_mask_source(role, config, Box::new(|| [0xA1, 0x0B, 0x7C, 0x3E]))
}

/// The messages the peer of `role` gets from `wire`, with the default
/// limits, fed whole and (`cuts`) cut, through both input paths.
fn received(make: &dyn Fn() -> Connection, wire: &[u8], cuts: &[usize]) -> Vec<Event> {
    drive_connection(make, wire, cuts).0
}

/// Checks that connections `make` builds get `wire` as the one binary
/// message `data`: fed whole, byte by byte and cut at every point where
/// the wire is short, else cut three ways, through both input paths.
fn receives_binary(what: &str, make: &dyn Fn() -> Connection, wire: &[u8], data: &[u8]) {
    let events = if wire.len() <= 1200 {
        same_every_way(what, make, wire, true, |(events, _)| events)
    } else {
        received(make, wire, &[1, wire.len() / 2, wire.len() - 1])
    };
    assert_eq!(
        events,
        [Event::Message(Message::from(data.to_vec()))],
        "{what}"
    );
}

const ROLES: [Role; 2] = [Role::Server, Role::Client];

#[test]
fn the_default_bound_is_the_default_frame_limit_and_zero_is_one() {
    assert_eq!(
        Config::default().max_outgoing_frame_size(),
        Config::DEFAULT_MAX_FRAME_SIZE
    );
    assert_eq!(config(0).max_outgoing_frame_size(), 1);
    assert_eq!(config(u64::MAX).max_outgoing_frame_size(), u64::MAX);
}

/// At or under the bound a message goes out as the one frame RFC 6455
/// makes of it (the oracle: `raw_frame`), byte for byte as before.
#[test]
fn at_or_under_the_bound_one_frame_byte_for_byte() {
    let key = [0xA1, 0x0B, 0x7C, 0x3E];
    for len in [
        0,
        1,
        125,
        126,
        127,
        0xFFFF,
        0x1_0000,
        0x1_0001,
        16 * 1024,
        100_000,
    ] {
        let data = random(len, len as u64 + 1);
        for bound in [
            len as u64,
            len as u64 + 1,
            Config::DEFAULT_MAX_FRAME_SIZE,
            u64::MAX,
        ] {
            for role in ROLES {
                let mask = (role == Role::Client).then_some(key);
                let want = raw_frame(FIN | BINARY, &data, mask);
                let mut conn = plain_sender(role, config(bound.max(1)));
                conn.send(Message::from(data.clone())).unwrap();
                assert_eq!(
                    conn.take_output().to_vec(),
                    want,
                    "{role:?} {len} bytes at bound {bound}: send"
                );
                let mut conn = plain_sender(role, config(bound.max(1)));
                let payload = conn.send_split(Message::from(data.clone())).unwrap();
                let mut split = conn.take_output().to_vec();
                split.extend_from_slice(&payload);
                assert_eq!(split, want, "{role:?} {len} at {bound}: send_split");
            }
        }
    }
}

/// Bounds on both sides of the header boundaries and of the message's
/// length, messages of every header size: each frame within the bound,
/// the sequence right, the payload the message's, and a default receiver
/// gets the message back.
#[test]
fn plain_messages_split_at_every_bound() {
    let lens = [
        1usize, 2, 125, 126, 127, 251, 0xFFFF, 0x1_0000, 0x1_0001, 200_003,
    ];
    for len in lens {
        let data = random(len, 7 + len as u64);
        let mut bounds = vec![1usize, 2, 124, 125, 126, 127, 0xFFFE, 0xFFFF, 0x1_0000];
        bounds.extend([len.saturating_sub(1).max(1), len, len + 1]);
        for bound in bounds {
            if len / bound > 70_000 {
                continue; // 200 K one-byte frames say nothing the 65 K ones do not
            }
            for role in ROLES {
                let what = format!("{role:?} {len} bytes at {bound}");
                let mut conn = plain_sender(role, config(bound as u64));
                conn.send(Message::from(data.clone())).unwrap();
                let wire = conn.take_output().to_vec();
                let joined =
                    check_frames(&what, &sent_frames(&wire), role, bound, (BINARY, 0, true));
                assert_eq!(joined, data, "{what}: payload");
                let make = || {
                    Connection::with_mask_source(peer(role), Config::default(), Box::new(|| [9; 4]))
                };
                receives_binary(&what, &make, &wire, &data);
            }
        }
    }
}

/// A text message split inside its code points: every frame within the
/// bound, and the receiver (which checks UTF-8 across fragments) gets
/// the text.
#[test]
fn text_split_inside_code_points() {
    let text = "añ€😀".repeat(40);
    for bound in [1, 2, 3, 5, 125, 126, text.len() - 1, text.len()] {
        for role in ROLES {
            let what = format!("{role:?} text at {bound}");
            let mut conn = plain_sender(role, config(bound as u64));
            conn.send(Message::from(text.as_str())).unwrap();
            let wire = conn.take_output().to_vec();
            let joined = check_frames(&what, &sent_frames(&wire), role, bound, (TEXT, 0, true));
            assert_eq!(joined, text.as_bytes(), "{what}");
            let make = || plain_sender(peer(role), Config::default());
            let events = same_every_way(&what, &make, &wire, wire.len() < 1000, |(e, _)| e);
            assert_eq!(
                events,
                [Event::Message(Message::from(text.as_str()))],
                "{what}"
            );
        }
    }
}

/// Fragments longer than the bound go as several frames; the message
/// stays open until `fin`, a ping may go between, and the receiver gets
/// the whole message.
#[test]
fn fragments_longer_than_the_bound() {
    let parts = [
        random(300, 1),
        random(0, 2),
        random(126, 3),
        random(1000, 4),
    ];
    let whole: Vec<u8> = parts.concat();
    for bound in [1usize, 125, 126, 299, 300, 301] {
        for role in ROLES {
            let what = format!("{role:?} fragments at {bound}");
            let mut conn = plain_sender(role, config(bound as u64));
            let mut frames = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let fin = i + 1 == parts.len();
                conn.send_fragment(Message::from(part.clone()), fin)
                    .unwrap();
                let wire = conn.take_output().to_vec();
                let sent = sent_frames(&wire);
                let opcode = if i == 0 { BINARY } else { CONT };
                let joined = check_frames(&what, &sent, role, bound, (opcode, 0, fin));
                assert_eq!(&joined, part, "{what}: fragment {i}");
                if !fin {
                    assert_eq!(
                        conn.send(Message::from("other")),
                        Err(SendError::FragmentOutOfOrder),
                        "{what}: the message stays open after fragment {i}"
                    );
                    conn.ping(b"between").unwrap();
                }
                frames.extend_from_slice(&wire);
                frames.extend_from_slice(&conn.take_output());
            }
            let make = || plain_sender(peer(role), Config::default());
            let events = received(&make, &frames, &[1, frames.len() / 3, frames.len() - 1]);
            let messages: Vec<_> = events
                .into_iter()
                .filter(|e| matches!(e, Event::Message(_)))
                .collect();
            assert_eq!(
                messages,
                [Event::Message(Message::from(whole.clone()))],
                "{what}"
            );
        }
    }
}

/// `send_split` of a message longer than the bound: it cannot be one
/// frame, so all of it is queued as `send` queues it and the payload
/// returned is empty.
#[test]
fn send_split_over_the_bound_queues_the_frames() {
    let data = random(70_000, 5);
    for bound in [1000usize, 69_999] {
        for role in ROLES {
            let what = format!("{role:?} send_split at {bound}");
            let mut conn = plain_sender(role, config(bound as u64));
            let payload = conn.send_split(Message::from(data.clone())).unwrap();
            assert!(
                payload.is_empty(),
                "{what}: returned {} bytes",
                payload.len()
            );
            let wire = conn.take_output().to_vec();
            let joined = check_frames(&what, &sent_frames(&wire), role, bound, (BINARY, 0, true));
            assert_eq!(joined, data, "{what}");
        }
    }
}

/// A server's large pieces are still written from the message's own
/// buffer (vectored), not copied into the output.
#[test]
fn a_servers_large_pieces_stay_shared() {
    let data = Bytes::from(random(100_000, 6));
    let mut conn = plain_sender(Role::Server, config(30_000));
    conn.send(Message::Binary(data.clone())).unwrap();
    let mut slots = [IoSlice::new(&[]); 16];
    let filled = conn.pending_output_vectored(&mut slots);
    let inside = |run: &IoSlice<'_>| {
        let start = data.as_ptr() as usize;
        let at = run.as_ptr() as usize;
        at >= start && at + run.len() <= start + data.len()
    };
    let shared: Vec<usize> = slots[..filled]
        .iter()
        .filter(|run| inside(run))
        .map(|run| run.len())
        .collect();
    // The last piece, under 16 KiB, is copied as any small payload is.
    assert_eq!(
        shared, [30_000; 3],
        "every piece of 16 KiB or more is shared"
    );
}

/// The output read by the vectored view and written out in odd steps
/// (`pending_output` then `consume_output`) is the same bytes, and parses
/// into the frames of the messages.
#[test]
fn written_in_odd_steps_the_same_bytes() {
    for role in ROLES {
        let mut conn = plain_sender(role, config(125));
        conn.send(Message::from(random(1000, 8))).unwrap();
        conn.ping(b"p").unwrap();
        conn.send(Message::from(random(40_000, 9))).unwrap();
        let mut slots = [IoSlice::new(&[]); 64];
        let filled = conn.pending_output_vectored(&mut slots);
        let whole: Vec<u8> = slots[..filled].iter().flat_map(|s| s.to_vec()).collect();
        assert_eq!(whole.len(), conn.output_len());
        let mut written = Vec::new();
        let steps = [1usize, 3, 7, 126, 129, 5, 65_537];
        let mut i = 0;
        while conn.output_len() > 0 {
            let run = conn.pending_output();
            let n = steps[i % steps.len()].min(run.len());
            written.extend_from_slice(&run[..n]);
            conn.consume_output(n);
            i += 1;
        }
        assert_eq!(written, whole, "{role:?}");
        let frames = sent_frames(&whole);
        assert_eq!(frames.len(), 8 + 1 + 320, "{role:?}");
    }
}

/// Past the output limit, an automatic pong not yet written is replaced
/// by the next one behind the frames of a split message; the frames stay
/// whole, and once a byte of the pong is written it goes out whole.
#[test]
fn automatic_pong_replaced_behind_split_frames() {
    let data = random(1000, 10);
    let limited = Config::builder()
        .max_outgoing_frame_size(100)
        .max_output_buffer(1)
        .build();
    let mut conn = Connection::new(Role::Server, limited);
    conn.send(Message::from(data.clone())).unwrap();
    conn.consume_output(150); // partway into the second frame
    conn.receive(&client(FIN | PING, b"one"));
    conn.receive(&client(FIN | PING, b"two"));
    while conn.next_event().is_some() {}
    assert!(matches!(
        conn.send(Message::from("more")),
        Err(SendError::OutputFull { .. })
    ));
    let mut rest = conn.take_output().to_vec();
    let mut wire = raw_frame(BINARY, &data[..100], None);
    wire.extend_from_slice(&raw_frame(CONT, &data[100..200], None));
    let written = wire[..150].to_vec();
    rest.splice(0..0, written);
    let frames = sent_frames(&rest);
    let joined = check_frames("data", &frames[..10], Role::Server, 100, (BINARY, 0, true));
    assert_eq!(joined, data);
    assert_eq!(frames.len(), 11, "{frames:?}");
    assert_eq!(frames[10].first, FIN | PONG);
    assert_eq!(frames[10].payload, b"two");
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use common::deflate::{reference_inflate, NO_TAKEOVER, RSV1, TAKEOVER};
    use wsframe::{DeflateConfig, DeflateParams};

    /// A sender of `role` with permessage-deflate as `params` say, every
    /// message compressed (threshold 0), and `config`'s bound.
    fn deflating(role: Role, config: Config, params: DeflateParams) -> Connection {
        let config = Config::builder()
            .max_outgoing_frame_size(config.max_outgoing_frame_size())
            .deflate(Some(DeflateConfig::default().threshold(0)))
            .build();
        Connection::with_deflate(role, config, Some(params))
    }

    /// What a sender of `role` sends for `data` with the bound `bound`.
    fn sent(role: Role, bound: u64, params: DeflateParams, data: &[u8]) -> Vec<u8> {
        let mut conn = deflating(role, config(bound), params);
        conn.send_compressed(Message::from(data.to_vec()), true)
            .unwrap();
        conn.take_output().to_vec()
    }

    fn receiver(role: Role, params: DeflateParams) -> Connection {
        Connection::with_deflate(peer(role), Config::default(), Some(params))
    }

    /// Compressed messages split at bounds of 1, around the header
    /// boundaries and around the compressed payload's length: RSV1 on the
    /// first frame only, the joined payload inflates (reference inflater)
    /// to the message, a default receiver gets it back.
    #[test]
    fn compressed_messages_split_at_every_bound() {
        for (kind, data) in [
            ("compressible", compressible(5000)),
            ("random", random(300, 11)),
            ("random", random(70_000, 12)),
        ] {
            for role in ROLES {
                let one = sent(role, u64::MAX, NO_TAKEOVER, &data);
                let compressed = sent_frames(&one)[0].payload.len();
                let mut bounds = vec![1usize, 125, 126, 0xFFFF, 0x1_0000];
                bounds.extend([compressed - 1, compressed, compressed + 1]);
                for bound in bounds {
                    if compressed / bound > 70_000 {
                        continue;
                    }
                    let what = format!("{role:?} {kind} {} ({compressed}) at {bound}", data.len());
                    let wire = sent(role, bound as u64, NO_TAKEOVER, &data);
                    let frames = sent_frames(&wire);
                    let joined = check_frames(&what, &frames, role, bound, (BINARY, RSV1, true));
                    assert_eq!(joined.len(), compressed, "{what}: same compressed bytes");
                    assert_eq!(
                        reference_inflate(&joined).as_deref(),
                        Some(&data[..]),
                        "{what}"
                    );
                    if bound >= compressed && role == Role::Server {
                        assert_eq!(wire, one, "{what}: one frame as before");
                    }
                    let make = || receiver(role, NO_TAKEOVER);
                    receives_binary(&what, &make, &wire, &data);
                }
            }
        }
    }

    /// The case from the issue: 16 MiB + 1 incompressible bytes, deflate
    /// on, every limit the default. As one frame the compressed payload is
    /// past a default receiver's 16 MiB frame limit (1009, shown with the
    /// bound lifted); split by default, every frame is within it and the
    /// receiver gets the message. Both roles.
    #[test]
    fn sixteen_mib_and_one_incompressible_with_the_defaults() {
        let data = random((16 << 20) + 1, 13);
        let limit = Config::DEFAULT_MAX_FRAME_SIZE as usize;
        for role in ROLES {
            let what = format!("{role:?} 16 MiB + 1");
            let wire = sent(role, Config::DEFAULT_MAX_FRAME_SIZE, TAKEOVER, &data);
            let frames = sent_frames(&wire);
            let joined = check_frames(&what, &frames, role, limit, (BINARY, RSV1, true));
            assert!(joined.len() > limit, "{what}: it did not shrink");
            assert_eq!(
                reference_inflate(&joined).as_deref(),
                Some(&data[..]),
                "{what}"
            );
            let make = || receiver(role, TAKEOVER);
            let events = received(&make, &wire, &[limit + 3, wire.len() - 1]);
            assert_eq!(events.len(), 1, "{what}");
            assert!(
                matches!(&events[0], Event::Message(m) if m.as_bytes() == &data[..]),
                "{what}: not the message"
            );

            let unbounded = sent(role, u64::MAX, TAKEOVER, &data);
            let (events, _) = feed_cut(&mut receiver(role, TAKEOVER), &unbounded, &[], false);
            assert!(
                matches!(&events[..], [Event::Closed(closed)] if closed.code.0 == 1009),
                "{what}: one frame is refused: {:?}",
                events
                    .iter()
                    .map(|e| match e {
                        Event::Closed(closed) => closed.code.0,
                        _ => 0,
                    })
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Compressed fragments longer than the bound: the stream across
    /// fragments is one, RSV1 on the message's first frame only, and the
    /// receiver gets the whole message.
    #[test]
    fn compressed_fragments_longer_than_the_bound() {
        let parts = [random(500, 14), compressible(3000), random(200, 15)];
        let whole: Vec<u8> = parts.concat();
        for bound in [1usize, 125, 126, 400] {
            for role in ROLES {
                let what = format!("{role:?} compressed fragments at {bound}");
                let mut conn = deflating(role, config(bound as u64), TAKEOVER);
                let mut wire = Vec::new();
                let mut payload = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let fin = i + 1 == parts.len();
                    conn.send_fragment(Message::from(part.clone()), fin)
                        .unwrap();
                    let out = conn.take_output().to_vec();
                    let (opcode, rsv) = if i == 0 { (BINARY, RSV1) } else { (CONT, 0) };
                    payload.extend(check_frames(
                        &what,
                        &sent_frames(&out),
                        role,
                        bound,
                        (opcode, rsv, fin),
                    ));
                    wire.extend_from_slice(&out);
                }
                assert_eq!(
                    reference_inflate(&payload).as_deref(),
                    Some(&whole[..]),
                    "{what}"
                );
                let make = || receiver(role, TAKEOVER);
                let events = received(&make, &wire, &[1, wire.len() / 2, wire.len() - 1]);
                assert_eq!(
                    events,
                    [Event::Message(Message::from(whole.clone()))],
                    "{what}"
                );
            }
        }
    }

    /// `send_split` with deflate queues the compressed frames (split at
    /// the bound) and returns an empty payload, as it did unsplit.
    #[test]
    fn send_split_compressed_is_split_too() {
        let data = random(5000, 16);
        for role in ROLES {
            let what = format!("{role:?} send_split compressed");
            let mut conn = deflating(role, config(1000), TAKEOVER);
            let payload = conn.send_split(Message::from(data.clone())).unwrap();
            assert!(payload.is_empty(), "{what}");
            let wire = conn.take_output().to_vec();
            let joined = check_frames(&what, &sent_frames(&wire), role, 1000, (BINARY, RSV1, true));
            assert_eq!(
                reference_inflate(&joined).as_deref(),
                Some(&data[..]),
                "{what}"
            );
        }
    }
}
