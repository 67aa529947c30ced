//! Session 17's review of the way out: can a `Connection` be made to send
//! something a strict receiver refuses, or to lose something it accepted?
//! Everything sent is checked by [`Wire`], a receiver written from RFC 6455
//! §5.2-§5.5 and RFC 7692 §6-§7.2 (not from the code under test): masking
//! by role with a fresh key per client frame, minimal length encoding,
//! control frames of at most 125 bytes and never fragmented, FIN and
//! continuation order, no data frame inside another message's fragments,
//! RSV1 only on a compressed message's first frame, close payloads (a
//! sendable code and a UTF-8 reason), nothing after our close; compressed
//! messages inflated by the reference inflater (miniz_oxide), with or
//! without the context kept, to exactly what was sent.
//! Covered: pings, pongs and automatic pongs between the frames of split
//! messages and between fragments; close in the middle of a fragmented
//! send; sends refused for the output limit (nothing queued, compressor
//! context untouched) and retried; output consumed a byte at a time and in
//! random cuts; empty messages and fragments, compressed or not; frame
//! bounds at the length-encoding boundaries; compressed messages around
//! the threshold; a peer's pings while the output is full.
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{reference_inflate, NO_TAKEOVER, RSV1, TAIL, TAKEOVER};
use common::*;
use miniz_oxide::inflate::core::{decompress, inflate_flags::*, DecompressorOxide};
use wsframe::{
    CloseCode, Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role, SendError,
    Text,
};

/// What a strict receiver made of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

/// A message being received: opcode, compressed, payload so far.
struct Open {
    opcode: u8,
    compressed: bool,
    payload: Vec<u8>,
}

/// A strict receiver of what one endpoint (`sender`) writes.
struct Wire {
    sender: Role,
    /// Whether permessage-deflate was negotiated, and the sender keeps its
    /// context between messages.
    deflate: Option<bool>,
    /// Whether a client's consecutive keys must differ (false for a fixed
    /// mask source).
    fresh_keys: bool,
    pending: Vec<u8>,
    open: Option<Open>,
    closed: bool,
    last_key: Option<[u8; 4]>,
    /// With context takeover: every compressed message so far, each with
    /// its tail put back, and what they inflate to.
    history_in: Vec<u8>,
    history_out: Vec<u8>,
    got: Vec<Got>,
    /// Data frames: (first byte, payload length), for bound checks.
    data_frames: Vec<(u8, usize)>,
}

impl Wire {
    fn new(sender: Role, deflate: Option<bool>, fresh_keys: bool) -> Self {
        Self {
            sender,
            deflate,
            fresh_keys,
            pending: Vec::new(),
            open: None,
            closed: false,
            last_key: None,
            history_in: Vec::new(),
            history_out: Vec::new(),
            got: Vec::new(),
            data_frames: Vec::new(),
        }
    }

    /// Reads `bytes`, as many whole frames as they complete.
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(len) = self.frame() {
            self.pending.drain(..len);
        }
    }

    /// Everything fed ended on a frame boundary.
    fn finish(&self) -> &[Got] {
        assert!(
            self.pending.is_empty(),
            "cut frame at the end: {:02x?}",
            self.pending
        );
        &self.got
    }

    /// One frame from `pending`, checked; its length, or `None` if cut.
    fn frame(&mut self) -> Option<usize> {
        let buf = &self.pending;
        let (first, second) = (*buf.first()?, *buf.get(1)?);
        let mut at = 2;
        let len = match second & 0x7F {
            126 => {
                let len = u16::from_be_bytes(buf.get(2..4)?.try_into().unwrap()) as usize;
                assert!(len > 125, "§5.2: non-minimal 16-bit length {len}");
                at = 4;
                len
            }
            127 => {
                let len = u64::from_be_bytes(buf.get(2..10)?.try_into().unwrap());
                assert!(len >> 63 == 0, "§5.2: 64-bit length's top bit set");
                assert!(len > 0xFFFF, "§5.2: non-minimal 64-bit length {len}");
                at = 10;
                len as usize
            }
            n => n as usize,
        };
        let masked = second & 0x80 != 0;
        assert_eq!(
            masked,
            self.sender == Role::Client,
            "§5.1: a client masks every frame, a server none"
        );
        let key = if masked {
            let key: [u8; 4] = buf.get(at..at + 4)?.try_into().unwrap();
            at += 4;
            Some(key)
        } else {
            None
        };
        let mut payload = buf.get(at..at + len)?.to_vec();
        if let Some(key) = key {
            if self.fresh_keys {
                assert_ne!(Some(key), self.last_key, "§5.3: a fresh key per frame");
            }
            self.last_key = Some(key);
            apply_mask_reference(&mut payload, key);
        }
        self.on_frame(first, payload);
        Some(at + len)
    }

    fn on_frame(&mut self, first: u8, payload: Vec<u8>) {
        assert!(!self.closed, "§5.5.1: a frame after our close: {first:02x}");
        let fin = first & FIN != 0;
        let rsv1 = first & RSV1 != 0;
        assert_eq!(first & 0x30, 0, "RSV2/RSV3 set: {first:02x}");
        let opcode = first & 0x0F;
        if opcode >= 8 {
            assert!(fin, "§5.5: a control frame is never fragmented");
            assert!(!rsv1, "RFC 7692 §6: no RSV1 on a control frame");
            assert!(
                payload.len() <= 125,
                "§5.5: control payload {}",
                payload.len()
            );
        }
        match opcode {
            PING => self.got.push(Got::Ping(payload)),
            PONG => self.got.push(Got::Pong(payload)),
            CLOSE => {
                let got = match payload.len() {
                    0 => Got::Close(None, String::new()),
                    1 => panic!("§5.5.1: a one-byte close payload"),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        assert!(
                            matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999),
                            "§7.4: close code {code} may not be sent"
                        );
                        let reason = String::from_utf8(payload[2..].to_vec())
                            .expect("§5.5.1: a close reason is UTF-8");
                        Got::Close(Some(code), reason)
                    }
                };
                self.got.push(got);
                self.closed = true;
            }
            CONT => {
                assert!(!rsv1, "RFC 7692 §6.1: RSV1 on a continuation frame");
                let open = self
                    .open
                    .as_mut()
                    .expect("§5.4: a continuation frame with no message open");
                self.data_frames.push((first, payload.len()));
                open.payload.extend_from_slice(&payload);
                if fin {
                    let open = self.open.take().unwrap();
                    self.message(open);
                }
            }
            TEXT | BINARY => {
                assert!(
                    self.open.is_none(),
                    "§5.4: a new message inside another's fragments"
                );
                assert!(
                    !rsv1 || self.deflate.is_some(),
                    "RSV1 without permessage-deflate"
                );
                self.data_frames.push((first, payload.len()));
                let open = Open {
                    opcode,
                    compressed: rsv1,
                    payload,
                };
                if fin {
                    self.message(open);
                } else {
                    self.open = Some(open);
                }
            }
            _ => panic!("§5.2: reserved opcode {opcode:x}"),
        }
    }

    fn message(&mut self, open: Open) {
        let data = if !open.compressed {
            open.payload
        } else if self.deflate == Some(true) {
            // The context goes on: the whole history inflates to every
            // message so far (§7.2.2, the tail put back after each).
            self.history_in.extend_from_slice(&open.payload);
            self.history_in.extend_from_slice(&TAIL);
            let all = inflate_all(&self.history_in);
            assert!(
                all.starts_with(&self.history_out),
                "an earlier message inflates differently now"
            );
            let data = all[self.history_out.len()..].to_vec();
            self.history_out = all;
            data
        } else {
            reference_inflate(&open.payload).unwrap_or_else(|| {
                panic!(
                    "RFC 7692 §7.2.1: not a whole message for a fresh inflater: {:02x?}",
                    &open.payload[..open.payload.len().min(64)]
                )
            })
        };
        self.got.push(if open.opcode == TEXT {
            Got::Text(String::from_utf8(data).expect("§5.6: a text message is UTF-8"))
        } else {
            Got::Binary(data)
        });
    }
}

/// The reference unmasking (§5.3), bytewise.
fn apply_mask_reference(payload: &mut [u8], key: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// Everything miniz_oxide inflates of `input` (raw DEFLATE), which must all
/// be taken and end on a block boundary.
fn inflate_all(input: &[u8]) -> Vec<u8> {
    let mut inflater = DecompressorOxide::new();
    let mut out = vec![0; 1 << 16];
    let (mut taken, mut made) = (0, 0);
    let flags = TINFL_FLAG_HAS_MORE_INPUT | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    loop {
        if made == out.len() {
            out.resize(out.len() * 2, 0);
        }
        let (_, used, wrote) = decompress(&mut inflater, &input[taken..], &mut out, made, flags);
        taken += used;
        made += wrote;
        if used == 0 && wrote == 0 {
            break;
        }
    }
    assert_eq!(taken, input.len(), "the inflater stopped before the end");
    out.truncate(made);
    out
}

fn text(s: &str) -> Got {
    Got::Text(s.to_owned())
}

fn bin(b: &[u8]) -> Got {
    Got::Binary(b.to_vec())
}

fn fixed_masks(role: Role, config: Config) -> Connection {
    Connection::with_mask_source(role, config, Box::new(|| [1, 2, 3, 4]))
}

/// A counter as the mask source: a fresh key per frame, reproducible.
fn counting_masks(role: Role, config: Config) -> Connection {
    let mut n = 0u32;
    Connection::with_mask_source(
        role,
        config,
        Box::new(move || {
            n = n.wrapping_add(0x0101_0101);
            n.to_be_bytes()
        }),
    )
}

/// A frame a peer of `us` sends: masked when we are the server.
fn from_peer(us: Role, first: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(first, payload, (us == Role::Server).then_some(KEY))
}

fn framed(bound: u64) -> Config {
    Config::builder().max_outgoing_frame_size(bound).build()
}

fn deflating(threshold: usize, bound: u64) -> Config {
    Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(threshold)))
        .max_outgoing_frame_size(bound)
        .build()
}

fn deflate_conn(role: Role, config: Config, params: DeflateParams) -> Connection {
    Connection::with_deflate(role, config, Some(params))
}

/// Drains `conn`'s events (so automatic answers are queued).
fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

/// Bytes unlike any compressor's favourite: incompressible-ish.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len).map(|_| rng.next() as u8).collect()
}

const BOUNDS: [u64; 7] = [0, 1, 125, 126, 65535, 65536, u64::MAX];

#[test]
fn split_messages_and_fragments_with_control_frames_between_them() {
    for role in [Role::Server, Role::Client] {
        for bound in BOUNDS {
            let mut conn = counting_masks(role, framed(bound));
            let mut wire = Wire::new(role, None, true);
            let big = noise(70_000, 7);
            conn.send(Message::from(big.clone())).unwrap();
            conn.receive(&from_peer(role, FIN | PING, b"p1"));
            events(&mut conn);
            conn.ping(b"ours").unwrap();
            conn.send_fragment(Message::from("héllo "), false).unwrap();
            conn.receive(&from_peer(role, FIN | PING, b"p2"));
            events(&mut conn);
            conn.pong(b"beat").unwrap();
            conn.send_fragment(Message::from(""), false).unwrap();
            conn.ping(&[7; 125]).unwrap();
            conn.send_fragment(Message::from("wörld"), true).unwrap();
            conn.send(Message::from(Vec::new())).unwrap();
            conn.send(Message::from("")).unwrap();
            conn.close(CloseCode::NORMAL, "done").unwrap();
            wire.feed(&conn.take_output());
            assert_eq!(
                wire.finish(),
                [
                    bin(&big),
                    Got::Pong(b"p1".to_vec()),
                    Got::Ping(b"ours".to_vec()),
                    Got::Pong(b"p2".to_vec()),
                    Got::Pong(b"beat".to_vec()),
                    Got::Ping(vec![7; 125]),
                    text("héllo wörld"),
                    bin(b""),
                    text(""),
                    Got::Close(Some(1000), "done".into()),
                ],
                "{role:?} bound {bound}"
            );
            let bound = bound.max(1) as usize;
            assert!(wire.data_frames.iter().all(|&(_, len)| len <= bound));
        }
    }
}

#[test]
fn close_in_the_middle_of_a_fragmented_send_ends_it() {
    for role in [Role::Server, Role::Client] {
        let mut conn = counting_masks(role, framed(3));
        conn.send_fragment(Message::from(&b"abcdefgh"[..]), false)
            .unwrap();
        conn.close(CloseCode::GOING_AWAY, "bye").unwrap();
        assert_eq!(
            conn.send_fragment(Message::from(&b"ij"[..]), true),
            Err(SendError::Closed)
        );
        assert_eq!(conn.ping(b""), Err(SendError::Closed));
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        assert_eq!(wire.finish(), [Got::Close(Some(1001), "bye".into())]);
        assert_eq!(wire.data_frames.len(), 3, "abc def gh, none with FIN");
        assert!(wire.data_frames.iter().all(|&(first, _)| first & FIN == 0));
    }
}

#[test]
fn output_consumed_in_any_cuts_is_the_same_bytes() {
    for role in [Role::Server, Role::Client] {
        for bound in [1, 125, 126, 20_000, u64::MAX] {
            let build = || {
                let mut conn = fixed_masks(role, framed(bound));
                conn.send(Message::from(noise(40_000, 3))).unwrap();
                conn.send(Message::from("x")).unwrap();
                conn.send(Message::from(noise(17_000, 5))).unwrap();
                conn.ping(b"mid").unwrap();
                conn
            };
            let whole = build().take_output().to_vec();
            // A byte at a time, then random cuts, then vectored cuts.
            let mut conn = build();
            let mut one = Vec::new();
            while conn.has_output() {
                one.push(conn.pending_output()[0]);
                conn.consume_output(1);
            }
            assert_eq!(one, whole);
            let mut rng = Rng(bound.wrapping_add(role as u64 + 11));
            let mut conn = build();
            let mut cut = Vec::new();
            while conn.has_output() {
                let run = conn.pending_output();
                let n = 1 + rng.below(run.len().min(5000));
                cut.extend_from_slice(&run[..n]);
                conn.consume_output(n);
            }
            assert_eq!(cut, whole);
            let mut conn = build();
            let mut vectored = Vec::new();
            while conn.has_output() {
                let mut slices = [std::io::IoSlice::new(&[]); 4];
                let n = conn.pending_output_vectored(&mut slices);
                let joined: Vec<u8> = slices[..n].iter().flat_map(|s| s.to_vec()).collect();
                let take = 1 + rng.below(joined.len());
                vectored.extend_from_slice(&joined[..take]);
                conn.consume_output(take);
            }
            assert_eq!(vectored, whole);
            let mut wire = Wire::new(role, None, false);
            wire.feed(&whole);
            assert_eq!(wire.finish().len(), 4);
        }
    }
}

/// A send refused for the output limit queues nothing, and the same send
/// retried after the output is written goes out whole.
#[test]
fn refused_sends_queue_nothing_and_retry_whole() {
    for role in [Role::Server, Role::Client] {
        let config = Config::builder()
            .max_output_buffer(100)
            .max_outgoing_frame_size(10)
            .build();
        let mut conn = counting_masks(role, config);
        let mut wire = Wire::new(role, None, true);
        conn.send_fragment(Message::from(vec![1; 150]), false)
            .unwrap();
        let before = conn.output_len();
        let full = |r: Result<(), SendError>| {
            assert!(matches!(r, Err(SendError::OutputFull { .. })), "{r:?}")
        };
        full(conn.send_fragment(Message::from(vec![2; 5]), true));
        full(conn.ping(b"x"));
        full(conn.pong(b"x"));
        // Both refusals apply; either says nothing was queued.
        let both = conn.send(Message::from("t"));
        assert!(
            matches!(
                both,
                Err(SendError::FragmentOutOfOrder | SendError::OutputFull { .. })
            ),
            "{both:?}"
        );
        assert_eq!(conn.output_len(), before, "nothing queued");
        wire.feed(&conn.take_output());
        conn.send_fragment(Message::from(vec![2; 5]), true).unwrap();
        conn.send(Message::from("after")).unwrap();
        wire.feed(&conn.take_output());
        let mut expected = vec![1; 150];
        expected.extend([2; 5]);
        assert_eq!(wire.finish(), [bin(&expected), text("after")]);
    }
}

#[test]
fn the_peers_pings_while_the_output_is_full() {
    for role in [Role::Server, Role::Client] {
        for consumed_into_pong in [0, 1, 2, 5] {
            let config = Config::builder().max_output_buffer(1).build();
            let mut conn = counting_masks(role, config);
            let mut wire = Wire::new(role, None, true);
            conn.send(Message::from("m")).unwrap();
            let message_len = conn.output_len();
            conn.receive(&from_peer(role, FIN | PING, b"a"));
            events(&mut conn);
            // Write the message and part of the first pong.
            let n = message_len + consumed_into_pong;
            let n = n.min(conn.output_len());
            wire.feed(&conn.pending_output()[..n]);
            conn.consume_output(n);
            conn.receive(&from_peer(role, FIN | PING, &[b'b'; 100]));
            conn.receive(&from_peer(role, FIN | PING, b"cc"));
            events(&mut conn);
            while conn.has_output() {
                let run = conn.pending_output();
                wire.feed(&run[..1]);
                conn.consume_output(1);
            }
            let got = wire.finish().to_vec();
            assert_eq!(got[0], text("m"));
            let pongs = &got[1..];
            // §5.5.3: the last ping's pong must come; one already begun
            // must be finished.
            assert_eq!(
                pongs.last(),
                Some(&Got::Pong(b"cc".to_vec())),
                "{role:?} {consumed_into_pong}: {pongs:?}"
            );
            if consumed_into_pong > 0 {
                assert_eq!(pongs[0], Got::Pong(b"a".to_vec()));
            }
        }
    }
}

/// An automatic pong waiting while the output is under the limit, then
/// the output written out in every way (all of it taken, consumed up to any
/// byte), a message sent, and the peer's next pings arriving with the
/// output at or over the limit: the pong that replaces the first must not
/// take anything else with it.
#[test]
fn a_replaced_automatic_pong_takes_nothing_else() {
    for role in [Role::Server, Role::Client] {
        for message_len in [100, 20_000] {
            let config = Config::builder().max_output_buffer(50).build();
            let make = || {
                let mut conn = counting_masks(role, config);
                conn.receive(&from_peer(role, FIN | PING, b"a"));
                events(&mut conn);
                conn
            };
            let pong_len = make().output_len();
            for written in 0..=pong_len + 1 {
                for take in [false, true] {
                    let mut conn = make();
                    let mut wire = Wire::new(role, None, true);
                    if take {
                        wire.feed(&conn.take_output());
                    } else {
                        let n = written.min(conn.output_len());
                        wire.feed(&conn.pending_output()[..n]);
                        conn.consume_output(n);
                    }
                    let data = noise(message_len, written as u64);
                    conn.send(Message::from(data.clone())).unwrap();
                    conn.receive(&from_peer(role, FIN | PING, b"bb"));
                    conn.receive(&from_peer(role, FIN | PING, b"ccc"));
                    events(&mut conn);
                    while conn.has_output() {
                        let mut slices = [std::io::IoSlice::new(&[]); 4];
                        let n = conn.pending_output_vectored(&mut slices);
                        let joined: Vec<u8> = slices[..n].iter().flat_map(|s| s.to_vec()).collect();
                        let n = joined.len().min(3);
                        wire.feed(&joined[..n]);
                        conn.consume_output(n);
                    }
                    let got = wire.finish().to_vec();
                    let case = format!("{role:?} len {message_len} written {written} take {take}");
                    assert!(got.contains(&bin(&data)), "{case}: {got:?}");
                    assert_eq!(
                        got.last(),
                        Some(&Got::Pong(b"ccc".to_vec())),
                        "{case}: {got:?}"
                    );
                }
            }
        }
    }
}

/// `Config::max_output_buffer`'s promise: the output exceeds the limit by
/// at most one message, one automatic pong and one close frame, whatever
/// the peer sends.
#[test]
fn the_output_limit_bounds_the_output() {
    for role in [Role::Server, Role::Client] {
        let limit = 1000;
        let config = Config::builder()
            .max_output_buffer(limit)
            .max_outgoing_frame_size(100)
            .build();
        let mut conn = counting_masks(role, config);
        conn.send(Message::from(vec![0; 900])).unwrap();
        let before = conn.output_len();
        assert!(before < limit);
        let message = vec![1; 5000];
        conn.send(Message::from(message)).unwrap();
        let one_message = conn.output_len() - before;
        for i in 0..1000u32 {
            conn.receive(&from_peer(role, FIN | PING, &[i as u8; 125]));
            conn.receive(&from_peer(role, FIN | PONG, &[i as u8; 125]));
            events(&mut conn);
            assert!(matches!(conn.ping(b""), Err(SendError::OutputFull { .. })));
        }
        conn.receive(&from_peer(
            role,
            FIN | CLOSE,
            &close_payload(1000, &[b'r'; 123]),
        ));
        events(&mut conn);
        let bound = limit + one_message + (125 + 2 + 4) + (125 + 2 + 4);
        assert!(
            conn.output_len() <= bound,
            "{role:?}: {} > {bound}",
            conn.output_len()
        );
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        let got = wire.finish();
        assert_eq!(got.last(), Some(&Got::Close(Some(1000), String::new())));
    }
}

/// The limits of a close frame, and the codes a close may carry.
#[test]
fn close_payload_limits() {
    let reason_123 = "é".repeat(61) + "x";
    assert_eq!(reason_123.len(), 123);
    let mut conn = Connection::new(Role::Server, Config::default());
    assert_eq!(
        conn.close(CloseCode::NORMAL, &(reason_123.clone() + "y")),
        Err(SendError::ControlPayloadTooLong(126))
    );
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            conn.close(CloseCode(code), ""),
            Err(SendError::UnsendableCloseCode(code))
        );
    }
    assert!(!conn.has_output());
    conn.close(CloseCode(4999), &reason_123).unwrap();
    assert_eq!(conn.close(CloseCode::NORMAL, ""), Err(SendError::Closed));
    let mut wire = Wire::new(Role::Server, None, false);
    wire.feed(&conn.take_output());
    assert_eq!(wire.finish(), [Got::Close(Some(4999), reason_123)]);
}

/// Nothing leaves after our close, even an automatic pong for a ping the
/// peer sent after it, or a close reply.
#[test]
fn nothing_after_our_close() {
    for role in [Role::Server, Role::Client] {
        let mut conn = counting_masks(role, Config::default());
        conn.close(CloseCode::NORMAL, "").unwrap();
        conn.receive(&from_peer(role, FIN | PING, b"late"));
        conn.receive(&from_peer(role, FIN | BINARY, b"data"));
        conn.receive(&from_peer(role, FIN | CLOSE, &close_payload(1000, b"")));
        let seen = events(&mut conn);
        assert!(matches!(seen.last(), Some(Event::Closed(_))), "{seen:?}");
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        assert_eq!(wire.finish(), [Got::Close(Some(1000), String::new())]);
    }
}

/// The peer's close is answered once, echoing its code, and nothing is
/// sent after; an invalid frame gets one close with its code.
#[test]
fn automatic_close_replies() {
    for role in [Role::Server, Role::Client] {
        for (peer_close, echoed) in [(vec![], 1000), (close_payload(4001, b"why"), 4001)] {
            let mut conn = counting_masks(role, framed(2));
            conn.send_fragment(Message::from(&b"open"[..]), false)
                .unwrap();
            conn.receive(&from_peer(role, FIN | CLOSE, &peer_close));
            events(&mut conn);
            assert_eq!(
                conn.send_fragment(Message::from(&b"x"[..]), true),
                Err(SendError::Closed)
            );
            let mut wire = Wire::new(role, None, true);
            wire.feed(&conn.take_output());
            assert_eq!(wire.finish(), [Got::Close(Some(echoed), String::new())]);
        }
        let mut conn = counting_masks(role, Config::default());
        conn.receive(&from_peer(role, FIN | TEXT, b"\xff"));
        events(&mut conn);
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        assert!(matches!(wire.finish(), [Got::Close(Some(1007), _)]));
    }
}

/// Text fragments are `Text`, so each is whole UTF-8: a code point cannot
/// be cut between fragments by this API; the joined message is valid.
#[test]
fn text_fragments_are_whole_code_points() {
    assert!(Text::try_from_bytes(bytes::Bytes::from_static(b"\xc3")).is_err());
    let mut conn = Connection::new(Role::Server, framed(1));
    conn.send_fragment(Message::from("é"), false).unwrap();
    conn.send_fragment(Message::from("€"), true).unwrap();
    let mut wire = Wire::new(Role::Server, None, false);
    wire.feed(&conn.take_output());
    assert_eq!(wire.finish(), [text("é€")]);
    // Frames of one byte cut the code points on the wire, as §5.4 allows.
    assert_eq!(wire.data_frames.len(), 5);
}

mod deflate {
    use super::*;

    fn params(takeover: bool) -> DeflateParams {
        if takeover {
            TAKEOVER
        } else {
            NO_TAKEOVER
        }
    }

    /// Messages of 0, 1, threshold - 1 and threshold bytes, by `send`,
    /// `send_compressed` both ways and `send_fragment`, every bound, both
    /// roles, context kept or not: a strict receiver inflates each to what
    /// was sent, RSV1 exactly where the threshold says.
    #[test]
    fn messages_around_the_threshold_inflate_exactly() {
        const THRESHOLD: usize = 64;
        for role in [Role::Server, Role::Client] {
            for takeover in [true, false] {
                for bound in BOUNDS {
                    let mut conn =
                        deflate_conn(role, deflating(THRESHOLD, bound), params(takeover));
                    let mut wire = Wire::new(role, Some(takeover), true);
                    let mut expected = Vec::new();
                    let mut rsv1 = Vec::new();
                    for len in [0, 1, THRESHOLD - 1, THRESHOLD, 3000, 70_000] {
                        let data: Vec<u8> = (0..len).map(|i| b"abcab"[i % 5]).collect();
                        conn.send(Message::from(data.clone())).unwrap();
                        expected.push(bin(&data));
                        rsv1.push(len >= THRESHOLD);
                        conn.send_compressed(Message::from(data.clone()), true)
                            .unwrap();
                        expected.push(bin(&data));
                        rsv1.push(true);
                        conn.send_compressed(Message::from(data.clone()), false)
                            .unwrap();
                        expected.push(bin(&data));
                        rsv1.push(false);
                        // Fragments: the first decides.
                        let half = len / 2;
                        conn.send_fragment(Message::from(data[..half].to_vec()), false)
                            .unwrap();
                        conn.ping(b"between").unwrap();
                        conn.send_fragment(Message::from(Vec::new()), false)
                            .unwrap();
                        conn.send_fragment(Message::from(data[half..].to_vec()), false)
                            .unwrap();
                        conn.send_fragment(Message::from(Vec::new()), true).unwrap();
                        expected.push(Got::Ping(b"between".to_vec()));
                        expected.push(bin(&data));
                        rsv1.push(half >= THRESHOLD);
                        // Consumed in odd cuts.
                        while conn.has_output() {
                            let run = conn.pending_output();
                            let n = run.len().min(777);
                            wire.feed(&run[..n]);
                            conn.consume_output(n);
                        }
                    }
                    let case = format!("{role:?} takeover {takeover} bound {bound}");
                    assert_eq!(wire.finish(), expected, "{case}");
                    let firsts: Vec<bool> = wire
                        .data_frames
                        .iter()
                        .filter(|&&(first, _)| first & 0x0F != CONT)
                        .map(|&(first, _)| first & RSV1 != 0)
                        .collect();
                    assert_eq!(firsts, rsv1, "{case}");
                    let bound = bound.max(1) as usize;
                    assert!(
                        wire.data_frames.iter().all(|&(_, len)| len <= bound),
                        "{case}"
                    );
                }
            }
        }
    }

    /// A compressed send refused for the output limit must not feed the
    /// compressor: with context takeover the peer's inflater would be
    /// missing what the compressor then refers back to.
    #[test]
    fn refused_compressed_sends_leave_the_context_alone() {
        for role in [Role::Server, Role::Client] {
            for takeover in [true, false] {
                let config = Config::builder()
                    .deflate(Some(DeflateConfig::default().threshold(0)))
                    .max_output_buffer(10)
                    .build();
                let mut conn = deflate_conn(role, config, params(takeover));
                let mut wire = Wire::new(role, Some(takeover), true);
                let first = noise(2000, 9);
                conn.send(Message::from(first.clone())).unwrap();
                let queued = conn.pending_output().to_vec();
                let refused: Vec<u8> = noise(2000, 10);
                for _ in 0..3 {
                    assert!(matches!(
                        conn.send(Message::from(refused.clone())),
                        Err(SendError::OutputFull { .. })
                    ));
                    assert!(matches!(
                        conn.send_compressed(Message::from(refused.clone()), true),
                        Err(SendError::OutputFull { .. })
                    ));
                    assert!(matches!(
                        conn.send_fragment(Message::from(refused.clone()), false),
                        Err(SendError::OutputFull { .. })
                    ));
                }
                assert_eq!(conn.pending_output(), queued, "nothing queued");
                wire.feed(&conn.take_output());
                // The same bytes again: with takeover, a compressor that
                // took the refused ones in would refer back to them.
                conn.send(Message::from(refused.clone())).unwrap();
                wire.feed(&conn.take_output());
                conn.send_fragment(Message::from(refused.clone()), false)
                    .unwrap();
                wire.feed(&conn.take_output());
                conn.send_fragment(Message::from(first.clone()), true)
                    .unwrap();
                wire.feed(&conn.take_output());
                let both = [refused.clone(), first.clone()].concat();
                assert_eq!(
                    wire.finish(),
                    [bin(&first), bin(&refused), bin(&both)],
                    "{role:?} takeover {takeover}"
                );
            }
        }
    }

    /// Close in the middle of a compressed fragmented send, and the peer's
    /// pings between compressed fragments split into small frames.
    #[test]
    fn control_frames_between_compressed_fragments() {
        for role in [Role::Server, Role::Client] {
            for takeover in [true, false] {
                let mut conn = deflate_conn(role, deflating(0, 5), params(takeover));
                let mut wire = Wire::new(role, Some(takeover), true);
                conn.send(Message::from("warm the context up")).unwrap();
                conn.send_fragment(Message::from("héllo héllo "), false)
                    .unwrap();
                conn.receive(&from_peer(role, FIN | PING, b"p"));
                events(&mut conn);
                conn.send_fragment(Message::from("héllo"), true).unwrap();
                conn.send_fragment(Message::from("abandoned abandoned"), false)
                    .unwrap();
                conn.close(CloseCode::NORMAL, "").unwrap();
                wire.feed(&conn.take_output());
                assert_eq!(
                    wire.finish(),
                    [
                        text("warm the context up"),
                        Got::Pong(b"p".to_vec()),
                        text("héllo héllo héllo"),
                        Got::Close(Some(1000), String::new()),
                    ],
                    "{role:?} takeover {takeover}"
                );
            }
        }
    }
}

/// The tokio wrapper's halves: a writer task sending split messages,
/// fragments and pings, a reader task answering the peer's pings, over a
/// pipe of 64 bytes (every write partial); the peer reads everything
/// through [`Wire`].
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_halves_interleave_whole_frames() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = Config::builder()
        .max_outgoing_frame_size(7)
        .max_output_buffer(50)
        .build();
    let (ws, theirs) = common::tokio_peer::server(64, config);
    let (mut reader, mut writer) = ws.split();
    let (mut peer_read, mut peer_write) = tokio::io::split(theirs);
    const PINGS: usize = 200;
    let pinger = tokio::spawn(async move {
        for i in 0..PINGS {
            let frame = client(FIN | PING, &[i as u8; 3]);
            peer_write.write_all(&frame).await.unwrap();
        }
        peer_write
    });
    let reading = tokio::spawn(async move {
        let mut events = 0;
        while let Some(event) = reader.next().await {
            event.unwrap();
            events += 1;
        }
        events
    });
    let peer_reading = tokio::spawn(async move {
        let mut wire = Wire::new(Role::Server, None, false);
        let mut buf = vec![0; 100];
        while !wire.closed {
            let n = peer_read.read(&mut buf).await.unwrap();
            assert!(n > 0);
            wire.feed(&buf[..n]);
        }
        wire
    });
    let mut expected = Vec::new();
    for i in 0..40u8 {
        let data = vec![i; 20 + i as usize];
        writer.send(Message::from(data.clone())).await.unwrap();
        expected.push(bin(&data));
        writer
            .send_fragment(Message::from("ab€"), false)
            .await
            .unwrap();
        writer.ping(&[i]).await.unwrap();
        writer
            .feed_fragment(Message::from(""), false)
            .await
            .unwrap();
        writer
            .send_fragment(Message::from("c".repeat(i as usize)), true)
            .await
            .unwrap();
        expected.push(Got::Ping(vec![i]));
        expected.push(text(&format!("ab€{}", "c".repeat(i as usize))));
    }
    let mut peer_write = pinger.await.unwrap();
    writer
        .send_fragment(Message::from(&b"cut"[..]), false)
        .await
        .unwrap();
    writer.close(CloseCode::NORMAL, "").await.unwrap();
    let wire = peer_reading.await.unwrap();
    peer_write
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    reading.await.unwrap();
    let got = wire.finish();
    let pongs = got.iter().filter(|g| matches!(g, Got::Pong(_))).count();
    assert!((1..=PINGS).contains(&pongs), "{pongs}");
    let others: Vec<Got> = got
        .iter()
        .filter(|g| !matches!(g, Got::Pong(_)))
        .cloned()
        .collect();
    expected.push(Got::Close(Some(1000), String::new()));
    assert_eq!(others, expected);
}

/// `WebSocket::send`'s promise: `Error::Closed` after the peer's close "at
/// once, also while waiting for room". A writer half waits for room (the
/// peer reads nothing); the peer's close arrives on the reader half.
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_waiting_for_room_ends_when_the_peer_closes() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use wsframe::tokio::Error;
    let config = Config::builder()
        .max_output_buffer(50)
        .close_timeout(Some(Duration::from_secs(30)))
        .build();
    let (ws, theirs) = common::tokio_peer::server(64, config);
    let (mut reader, mut writer) = ws.split();
    let (_peer_read, mut peer_write) = tokio::io::split(theirs);
    // Fills the pipe and the output: the next send waits for room.
    writer.feed(Message::from(vec![0; 1000])).await.unwrap();
    let waiting = tokio::spawn(async move {
        let sent = writer.send(Message::from("more")).await;
        (sent, writer)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "no room: the send waits");
    let reading = tokio::spawn(async move {
        let first = reader.next().await;
        (first, reader)
    });
    peer_write
        .write_all(&client(FIN | CLOSE, &close_payload(1000, b"")))
        .await
        .unwrap();
    let (sent, _writer) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting send ends when the peer's close is read")
        .unwrap();
    assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
    reading.abort();
}

/// The errors the send methods' docs list, each leaving the output as it
/// was.
#[test]
fn documented_refusals_queue_nothing() {
    for role in [Role::Server, Role::Client] {
        let mut conn = counting_masks(role, framed(4));
        conn.ping(&[1; 125]).unwrap();
        conn.pong(&[2; 125]).unwrap();
        let before = conn.pending_output().len();
        assert_eq!(
            conn.ping(&[1; 126]),
            Err(SendError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            conn.pong(&[1; 126]),
            Err(SendError::ControlPayloadTooLong(126))
        );
        conn.send_fragment(Message::from("text"), false).unwrap();
        let open = conn.pending_output().len();
        assert!(open > before);
        for refused in [
            conn.send_fragment(Message::from(&b"bin"[..]), true),
            conn.send(Message::from("whole")),
            conn.send_compressed(Message::from("whole"), false),
            conn.send_split(Message::from("whole")).map(drop),
        ] {
            assert_eq!(refused, Err(SendError::FragmentOutOfOrder));
        }
        assert_eq!(conn.pending_output().len(), open);
        conn.send_fragment(Message::from("!"), true).unwrap();
        // Written in part, then the rest taken whole.
        let whole = conn.pending_output().to_vec();
        conn.consume_output(3);
        assert_eq!(conn.take_output().to_vec(), whole[3..]);
        assert!(!conn.has_output());
        let mut wire = Wire::new(role, None, true);
        wire.feed(&whole);
        assert_eq!(
            wire.finish(),
            [
                Got::Ping(vec![1; 125]),
                Got::Pong(vec![2; 125]),
                text("text!")
            ]
        );
    }
}

/// `consume_output`'s documented panic.
#[test]
#[should_panic]
fn consuming_more_than_the_output_panics() {
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.send(Message::from("hi")).unwrap();
    conn.consume_output(5);
}

/// Keepalive pings and the idle timeout's close between the frames of a
/// fragmented send.
#[test]
fn timers_between_fragments() {
    use std::time::{Duration, Instant};
    for role in [Role::Server, Role::Client] {
        let config = Config::builder()
            .max_outgoing_frame_size(2)
            .ping_interval(Some(Duration::from_secs(1)))
            .idle_timeout(Some(Duration::from_secs(3)))
            .build();
        let mut conn = counting_masks(role, config);
        let start = Instant::now();
        conn.handle_timeout(start);
        conn.send_fragment(Message::from(&b"abcde"[..]), false)
            .unwrap();
        conn.handle_timeout(start + Duration::from_secs(1));
        conn.send_fragment(Message::from(&b"fgh"[..]), false)
            .unwrap();
        conn.handle_timeout(start + Duration::from_secs(3));
        assert_eq!(
            conn.send_fragment(Message::from(&b"i"[..]), true),
            Err(SendError::Closed)
        );
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        let got = wire.finish();
        assert_eq!(got.first(), Some(&Got::Ping(Vec::new())), "{got:?}");
        assert_eq!(
            got.last(),
            Some(&Got::Close(Some(1001), "idle timeout".into())),
            "{got:?}"
        );
    }
}

/// `send_split`: the header is queued, the payload returned "to be
/// written right after all the output". Taken at once, that is a valid
/// stream, masked for a client, and a message over the frame bound comes
/// in the output with an empty payload returned.
#[test]
fn send_split_taken_at_once() {
    for role in [Role::Server, Role::Client] {
        let mut conn = counting_masks(role, framed(100));
        conn.ping(b"before").unwrap();
        let payload = conn.send_split(Message::from("split")).unwrap();
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        wire.feed(&payload);
        let payload = conn.send_split(Message::from(vec![5; 250])).unwrap();
        assert!(payload.is_empty());
        wire.feed(&conn.take_output());
        assert_eq!(
            wire.finish(),
            [Got::Ping(b"before".to_vec()), text("split"), bin(&[5; 250])]
        );
    }
}

/// `send_split` as its docs ask: the output taken and written, then the
/// payload, before the peer's ping is read; its automatic pong follows the
/// whole frame. (Read before the write, the pong would be queued behind
/// the header and go out inside the frame: the docs forbid that order.)
#[test]
fn send_split_written_before_a_ping_is_read() {
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        let payload = conn.send_split(Message::from("split")).unwrap();
        let mut wire = Wire::new(role, None, false);
        wire.feed(&conn.take_output());
        wire.feed(&payload);
        let ping = match role {
            Role::Server => client(FIN | PING, b"p"),
            Role::Client => vec![FIN | PING, 1, b'p'], // unmasked, from a server
        };
        conn.receive(&ping);
        events(&mut conn);
        wire.feed(&conn.take_output());
        assert_eq!(wire.finish(), [text("split"), Got::Pong(b"p".to_vec())]);
    }
}

/// `Connection::close`: "The close frame is queued whatever
/// [`Config::max_output_buffer`] says."
#[test]
fn close_ignores_the_output_limit() {
    for role in [Role::Server, Role::Client] {
        let mut conn = counting_masks(role, Config::builder().max_output_buffer(1).build());
        conn.send_fragment(Message::from("open"), false).unwrap();
        assert!(matches!(conn.ping(b""), Err(SendError::OutputFull { .. })));
        conn.close(CloseCode::NORMAL, "full").unwrap();
        let mut wire = Wire::new(role, None, true);
        wire.feed(&conn.take_output());
        assert_eq!(wire.finish(), [Got::Close(Some(1000), "full".into())]);
    }
}

/// `WsCodec`: "The encoder moves all the output into `Framed`'s write
/// buffer at once, so [`Config::max_output_buffer`] never refuses a send
/// here". A ping decoded before the send leaves its automatic pong in the
/// connection until the next encode.
#[cfg(feature = "tokio")]
#[test]
fn ws_codec_sends_after_a_decoded_ping() {
    use tokio_util::codec::{Decoder, Encoder};
    use wsframe::tokio::{Outgoing, WsCodec};
    let mut codec = WsCodec::new(Role::Server, Config::builder().max_output_buffer(1).build());
    let mut src = bytes::BytesMut::from(&client(FIN | PING, b"p")[..]);
    assert!(matches!(codec.decode(&mut src), Ok(Some(Event::Ping(_)))));
    let mut dst = bytes::BytesMut::new();
    let sent = codec.encode(Outgoing::Message(Message::from("after")), &mut dst);
    assert!(sent.is_ok(), "{sent:?}");
    let mut wire = Wire::new(Role::Server, None, false);
    wire.feed(&dst);
    assert_eq!(wire.finish(), [Got::Pong(b"p".to_vec()), text("after")]);
}
