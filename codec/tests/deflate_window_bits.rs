//! Our compressor keeps, on the wire, to the window the handshake gave it
//! (RFC 7692 §7.1.2): compressing under `server_max_window_bits` (a
//! server) or `client_max_window_bits` (a client) of `bits`, no LZ77
//! distance is larger than `2^bits`, or a peer that keeps only that much
//! window inflates garbage or fails. Our inflater, flate2's and zlib-rs's
//! keep 32 KiB whatever they are told, so no round trip would notice a
//! compressor that reached too far: these tests read what a `Connection`
//! wrote with a receiver whose window is exactly the negotiated one.
//!
//! The oracle is common's `WindowedInflater`: miniz_oxide's low-level
//! `inflate::core::decompress` in its wrapping mode, into a circular
//! buffer of exactly `2^bits` bytes. Why it, and why it is sound:
//! - it is the reference inflater the other tests already trust, not a
//!   DEFLATE decoder written here, and it needs no new dependency (no crate
//!   we use hands out a stream's LZ77 symbols, which would let a test read
//!   the distances themselves);
//! - the window is bounded by construction: the buffer holds the last
//!   `2^bits` bytes and nothing else. miniz_oxide 0.9 refuses outright a
//!   distance larger than its buffer (`DistanceOutOfBounds`); were that
//!   check gone, the distance would read a stale byte, and the data, noise
//!   compared whole with what was sent, would differ;
//! - it draws the line where zlib does: a window of `2^bits` bytes holds
//!   distances up to `2^bits` inclusive (RFC 1951 §2; zlib's inflater with
//!   `windowBits` reads them). `the_oracle_draws_the_line_where_zlib_does`
//!   proves it with streams made by hand (a stored block of noise, then a
//!   fixed-Huffman block with one match, RFC 1951 §3.2.4-§3.2.6), checked
//!   first against flate2's 32 KiB inflater: distance `2^bits` is read
//!   right, `2^bits + 1` refused, for every window, in one message and
//!   across two.
//!
//! The data (`probes`): units of `d` bytes of fresh noise, each followed by
//! a copy of its first 258 bytes (the longest match), so that the only
//! match for the copy is exactly `d` back; `d` just inside the window
//! (half of it; `2^bits - 262`, the farthest zlib-rs reaches, see below,
//! 250 at 8 bits; one past that, `2^bits - 1`, `2^bits`) and just past it (`2^bits + 1`,
//! `+ 2`, twice the window). In three shapes (`Shape`): all in one message
//! (`send`), cut between each noise and its copy into messages (so that
//! with context takeover each copy refers into the message before), and
//! cut there into the fragments of one message (`send_fragment`). Every
//! window 8..=15, both roles, with and without context takeover, every
//! compression level and the extreme memory levels; the parameters come
//! from a handshake through the handshake API (`DeflateConfig::offer`,
//! `accept`, `check_response`), the window set by the compressing side's
//! `max_window_bits` or by the receiving side's `peer_max_window_bits`.
//! The frames are read off `pending_output` and parsed by hand.
//!
//! The checks can fail: `the_check_refuses_a_compressor_with_a_larger_window`
//! runs the same check on flate2 compressing the same data with a window
//! larger than negotiated (8 negotiated and 15 used, and every pair
//! between, but 9 for 8: zlib at 9 bits keeps to 256 bytes), and it fails; and every run asserts that the compressor did refer back
//! further than half the window (a receiver of half the window fails), so
//! the check is not passing on streams that never come near the edge.
//!
//! Found: zlib-rs, as zlib, never refers back more than `2^bits - 262`
//! bytes (`MAX_DIST`: the window less the lookahead it keeps, 258 + 3 +
//! 1), so a 9-bit window reaches back 250 bytes, not 512:
//! `the_compressor_reaches_back_2_bits_less_262_bytes`, and
//! `DeflateConfig::max_window_bits` says so. That is how an 8-bit window is
//! kept: zlib-rs refuses a raw 8-bit window, and is set to 9, whose 250
//! bytes are within 256.
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{
    fixed_match, incompressible, inflate_next, messages_of, stored, sync_flush, sync_message,
    WindowedInflater,
};
use common::sample_handshake::SAMPLE_NONCE;
use flate2::{Compress, Compression, Decompress};
use wsframe::handshake::{ClientHandshake, Status as HandshakeStatus, UpgradeRequest};
use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

/// The longest DEFLATE match (RFC 1951 §3.2.5): the length of each copy.
const MATCH: usize = 258;

/// The farthest zlib-rs refers back in a `2^bits` window, `2^bits - 262`;
/// at 8 bits, which it is set to as 9, 250 bytes.
fn reach(bits: u8) -> usize {
    (1usize << bits.max(9)) - 262
}

/// The distances probed for a `2^bits` window, in this order: inside it
/// (half; the farthest zlib-rs reaches, `2^bits - 262`; one past that; the
/// last byte; the edge itself) and past it (one, two, a window).
fn distances(bits: u8) -> [usize; 8] {
    let window = 1usize << bits;
    [
        window / 2,
        reach(bits),
        reach(bits) + 1,
        window - 1,
        window,
        window + 1,
        window + 2,
        2 * window,
    ]
}

/// `out` grown by `len` bytes copied from `dist` back, byte by byte (the
/// copy may overlap itself, as an LZ77 match does).
fn copy_back(out: &mut Vec<u8>, dist: usize, len: usize) {
    for _ in 0..len {
        out.push(out[out.len() - dist]);
    }
}

/// For each distance `d` of [`distances`]: `d` bytes of fresh noise (from
/// `seed`), then [`MATCH`] bytes copied from `d` back. The pieces, noise
/// and copy alternating.
fn probes(bits: u8, seed: u64) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut pieces = Vec::new();
    for (i, d) in distances(bits).into_iter().enumerate() {
        // Odd seeds: xorshift from 0 stays 0.
        let noise = incompressible(d, ((seed << 8) | i as u64) * 2 + 1);
        all.extend_from_slice(&noise);
        pieces.push(noise);
        let start = all.len();
        copy_back(&mut all, d, MATCH);
        pieces.push(all[start..].to_vec());
    }
    pieces
}

/// How the probes go on the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// One message, sent whole.
    Whole,
    /// Cut between each noise and its copy into messages: a copy refers
    /// into the message before.
    Messages,
    /// Cut there into the fragments of one message (`send_fragment`).
    Fragments,
}

impl Shape {
    const ALL: [Shape; 3] = [Shape::Whole, Shape::Messages, Shape::Fragments];

    /// The messages `pieces` (noise and copy alternating, from [`probes`])
    /// make: each as its fragments, one for a whole message.
    fn messages(self, pieces: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
        // The first noise, then each copy with the noise after it.
        let cut: Vec<Vec<u8>> = std::iter::once(pieces[0].clone())
            .chain(pieces[1..].chunks(2).map(<[Vec<u8>]>::concat))
            .collect();
        match self {
            Shape::Whole => vec![vec![pieces.concat()]],
            Shape::Messages => cut.into_iter().map(|m| vec![m]).collect(),
            Shape::Fragments => vec![cut],
        }
    }

    /// Whether a compressor keeping to the window has a match to make past
    /// half of it: within a message, or across them with context takeover.
    fn reaches_far(self, takeover: bool) -> bool {
        self != Shape::Messages || takeover
    }
}

/// Reads `payloads` (each message's payload, its frames joined, in order)
/// with a receiver whose window is exactly `2^bits` bytes, its context kept
/// unless `fresh_each`: `Ok` if each inflates to its `data`, else which
/// did not, and how.
fn read_with_window(
    bits: u8,
    fresh_each: bool,
    payloads: &[Vec<u8>],
    data: &[Vec<u8>],
) -> Result<(), String> {
    assert_eq!(payloads.len(), data.len());
    let mut receiver = WindowedInflater::new(bits, fresh_each);
    for (i, (payload, want)) in payloads.iter().zip(data).enumerate() {
        match receiver.message(payload) {
            Some(got) if got == *want => {}
            Some(_) => {
                return Err(format!(
                    "message {i}: read wrong by a {bits}-bit window (fresh each: \
                     {fresh_each}): a distance before the context's start"
                ))
            }
            None => {
                return Err(format!(
                    "message {i}: refused by a {bits}-bit window: a distance past it"
                ))
            }
        }
    }
    Ok(())
}

/// The largest window (as bits) smaller than the farthest zlib-rs reaches
/// in a `2^bits` one (`2^bits - 262`): a receiver of it fails on a stream
/// that used the far end of the window. Half the window from 10 bits; at 9,
/// whose reach is 250 bytes, 128.
fn below_reach(bits: u8) -> u8 {
    let reach = reach(bits);
    (usize::BITS - 1 - reach.leading_zeros()) as u8
}

/// Who sets the sender's window in the handshake.
#[derive(Clone, Copy, Debug)]
enum SetBy {
    /// The compressing side: its `max_window_bits`.
    Sender,
    /// The other side: its `peer_max_window_bits`.
    Receiver,
}

/// One sending endpoint's settings.
#[derive(Clone, Copy, Debug)]
struct Case {
    sender: Role,
    bits: u8,
    takeover: bool,
    level: u32,
    memory_level: u8,
    set_by: SetBy,
}

impl Case {
    /// Every window, both roles, with and without context takeover, each
    /// compression level (0, stored blocks, to 9), and the extreme memory
    /// levels; the window set by either side in turn.
    fn all() -> Vec<Case> {
        let mut cases = Vec::new();
        let variants = (0..=9u32)
            .map(|level| (level, 8))
            .chain([(6, 1), (9, 9), (1, 1)]);
        for bits in 8..=15 {
            for sender in [Role::Server, Role::Client] {
                for takeover in [true, false] {
                    for (i, (level, memory_level)) in variants.clone().enumerate() {
                        cases.push(Case {
                            sender,
                            bits,
                            takeover,
                            level,
                            memory_level,
                            set_by: match i % 2 {
                                0 => SetBy::Sender,
                                _ => SetBy::Receiver,
                            },
                        });
                    }
                }
            }
        }
        cases
    }

    /// The sender's configuration and the parameters a handshake gives it:
    /// the client's offer through `ClientHandshake` and `UpgradeRequest`,
    /// the server's `accept`, its 101 back through `parse_response` and
    /// the client's `check_response`; both ends must agree, and on this
    /// case's window and context takeover for the sender.
    fn negotiate(self) -> (DeflateConfig, DeflateParams) {
        let mut sender = DeflateConfig::default()
            .threshold(0)
            .level(self.level)
            .memory_level(self.memory_level)
            .no_context_takeover(!self.takeover);
        let mut receiver = DeflateConfig::default();
        match self.set_by {
            SetBy::Sender => sender = sender.max_window_bits(self.bits),
            SetBy::Receiver => receiver = receiver.peer_max_window_bits(self.bits),
        }
        let (client_cfg, server_cfg) = match self.sender {
            Role::Client => (sender, receiver),
            Role::Server => (receiver, sender),
        };
        let client = ClientHandshake::new(SAMPLE_NONCE)
            .target("example.com", "/")
            .unwrap()
            .extension(client_cfg.offer());
        let request = client.to_bytes();
        let Ok(HandshakeStatus::Complete((upgrade, _))) = UpgradeRequest::parse(&request) else {
            panic!("{self:?}: request refused")
        };
        let (server_params, answer) = server_cfg
            .accept(upgrade.extensions())
            .unwrap_or_else(|| panic!("{self:?}: declined"));
        let response = upgrade.accept().extension(answer).unwrap().to_bytes();
        let Ok(HandshakeStatus::Complete(accepted)) = client.parse_response(&response) else {
            panic!("{self:?}: 101 refused")
        };
        let client_params = client_cfg
            .check_response(&accepted.extensions)
            .unwrap_or_else(|e| panic!("{self:?}: {e}"))
            .unwrap_or_else(|| panic!("{self:?}: not accepted"));
        assert_eq!(client_params, server_params, "{self:?}");
        let (bits, no_takeover) = match self.sender {
            Role::Server => (
                server_params.server_max_window_bits,
                server_params.server_no_context_takeover,
            ),
            Role::Client => (
                server_params.client_max_window_bits,
                server_params.client_no_context_takeover,
            ),
        };
        assert_eq!((bits, no_takeover), (self.bits, !self.takeover), "{self:?}");
        (sender, server_params)
    }

    /// A sending connection as negotiated.
    fn connection(self) -> Connection {
        let (config, params) = self.negotiate();
        let config = Config::builder().deflate(Some(config)).build();
        Connection::with_deflate(self.sender, config, Some(params))
    }

    /// Its peer, receiving, as negotiated: its inflater keeps to the
    /// window it let the sender use.
    fn receiver(self) -> Connection {
        let (_, params) = self.negotiate();
        let role = match self.sender {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        Connection::with_deflate(role, Config::default(), Some(params))
    }
}

/// Everything `conn` has to write, appended to `wire` as a socket that
/// takes it all would: `pending_output`, then `consume_output`.
fn drain(conn: &mut Connection, wire: &mut Vec<u8>) {
    while conn.has_output() {
        let run = conn.pending_output();
        wire.extend_from_slice(run);
        let written = run.len();
        conn.consume_output(written);
    }
}

/// `messages` (each as its fragments) through `conn`: a message of one
/// fragment with `send`, others with `send_fragment`. The payloads read
/// off the wire (frames joined), each checked compressed, and of as many
/// frames as fragments.
fn send_all(conn: &mut Connection, messages: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    send_all_wire(conn, messages).0
}

/// As [`send_all`], with the bytes written.
fn send_all_wire(conn: &mut Connection, messages: &[Vec<Vec<u8>>]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut wire = Vec::new();
    for fragments in messages {
        if let [whole] = &fragments[..] {
            conn.send(Message::Binary(whole.clone().into())).unwrap();
        } else {
            for (i, fragment) in fragments.iter().enumerate() {
                let fin = i + 1 == fragments.len();
                conn.send_fragment(Message::Binary(fragment.clone().into()), fin)
                    .unwrap();
            }
        }
        drain(conn, &mut wire);
    }
    let sent = messages_of(&wire);
    assert_eq!(sent.len(), messages.len());
    let payloads = sent
        .iter()
        .zip(messages)
        .map(|(m, fragments)| {
            assert!(m.compressed, "RSV1: compressed");
            assert_eq!(m.frames.len(), fragments.len(), "a frame per fragment");
            m.frames.concat()
        })
        .collect();
    (payloads, wire)
}

/// What `conn` reads of `wire`, fed whole: the messages' bytes, or the
/// close that ended them.
fn read_all(conn: &mut Connection, wire: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    conn.receive(wire);
    let mut got = Vec::new();
    while let Some(event) = conn.next_event() {
        match event {
            Event::Message(m) => got.push(m.as_bytes().to_vec()),
            other => return Err(format!("{other:?}")),
        }
    }
    Ok(got)
}

/// Every [`Case`] sending the probes in `shape`, each read by a receiver of
/// exactly its window; and, where there is a far match to make (not at
/// level 0, which stores), not read by one of [`below_reach`].
fn every_case_keeps_to_its_window(shape: Shape) {
    for case in Case::all() {
        let messages = shape.messages(&probes(case.bits, u64::from(case.bits)));
        let data: Vec<Vec<u8>> = messages.iter().map(|m| m.concat()).collect();
        let (payloads, wire) = send_all_wire(&mut case.connection(), &messages);
        // Our receiver, whose window is now exactly the negotiated one,
        // reads what our compressor wrote.
        assert_eq!(
            read_all(&mut case.receiver(), &wire),
            Ok(data.clone()),
            "{case:?} {shape:?}: round trip"
        );
        let fresh_each = !case.takeover;
        if let Err(why) = read_with_window(case.bits, fresh_each, &payloads, &data) {
            panic!("{case:?} {shape:?}: {why}");
        }
        if case.level > 0 && shape.reaches_far(case.takeover) {
            let narrow = below_reach(case.bits);
            assert!(
                read_with_window(narrow, fresh_each, &payloads, &data).is_err(),
                "{case:?} {shape:?}: no distance past 2^{narrow}: the edge was not tried"
            );
        }
    }
}

#[test]
fn whole_messages_keep_to_the_negotiated_window() {
    every_case_keeps_to_its_window(Shape::Whole);
}

#[test]
fn messages_keep_to_the_negotiated_window_across_their_boundaries() {
    every_case_keeps_to_its_window(Shape::Messages);
}

#[test]
fn fragments_keep_to_the_negotiated_window_across_their_boundaries() {
    every_case_keeps_to_its_window(Shape::Fragments);
}

#[test]
fn the_check_refuses_a_compressor_with_a_larger_window() {
    // The same data and check, compressed outside wsframe by flate2
    // (zlib-rs) with a window larger than negotiated: what a compressor
    // that ignored the handshake would write. Refused, for every pair
    // (9 negotiated, 15 used, among them), in every shape; read by a
    // receiver of the window actually used.
    for bits in 8..=14u8 {
        // At 9 bits zlib reaches 250 bytes back, within an 8-bit window.
        let first = if bits == 8 { 10 } else { bits + 1 };
        for used in first..=15 {
            for shape in Shape::ALL {
                let messages = shape.messages(&probes(bits, 99));
                let data: Vec<Vec<u8>> = messages.iter().map(|m| m.concat()).collect();
                let mut compressor =
                    Compress::new_with_window_bits(Compression::default(), false, used);
                // Each fragment sync-flushed, the tail stripped at the
                // message's end, as our compressor does (§7.2.1).
                let payloads: Vec<Vec<u8>> = messages
                    .iter()
                    .map(|fragments| {
                        let (last, first) = fragments.split_last().unwrap();
                        let mut payload: Vec<u8> = first
                            .iter()
                            .flat_map(|f| sync_flush(&mut compressor, f))
                            .collect();
                        payload.extend(sync_message(&mut compressor, last));
                        payload
                    })
                    .collect();
                assert_eq!(
                    read_with_window(used, false, &payloads, &data),
                    Ok(()),
                    "{bits} {used} {shape:?}"
                );
                let refused = read_with_window(bits, false, &payloads, &data);
                assert!(refused.is_err(), "{bits} {used} {shape:?}");
                if shape == Shape::Whole && (used == first || used == 15) {
                    println!(
                        "negotiated {bits}, compressed with {used}: {}",
                        refused.unwrap_err()
                    );
                }
            }
        }
    }
}

/// `payloads` (messages, the tail appended to each) through flate2's
/// inflater, which keeps 32 KiB of window: what each inflates to.
fn inflate_32k(payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut inflater = Decompress::new(false);
    payloads
        .iter()
        .map(|payload| inflate_next(&mut inflater, payload))
        .collect()
}

#[test]
fn the_oracle_draws_the_line_where_zlib_does() {
    for bits in 8..=15u8 {
        let window = 1usize << bits;
        let history = incompressible(window + 1, u64::from(bits) * 2 + 1);
        // DEFLATE has no distance past 32 KiB: at 15 bits none is past
        // the window.
        for dist in [window - 1, window, window + 1]
            .into_iter()
            .filter(|&d| d <= 32_768)
        {
            let mut all = history.clone();
            copy_back(&mut all, dist, MATCH);
            let copy = all[history.len()..].to_vec();
            let what = format!("{bits} bits, distance {dist}");
            // In one message, and the match in a second one (context kept).
            let one = vec![[stored(&history), fixed_match(dist)].concat()];
            let two = vec![[&stored(&history)[..], &[0x00]].concat(), fixed_match(dist)];
            for (payloads, data) in [(one, vec![all.clone()]), (two, vec![history.clone(), copy])] {
                // The stream is what it is meant to be.
                assert_eq!(inflate_32k(&payloads), data, "{what}");
                let read = |bits, fresh_each| {
                    let mut receiver = WindowedInflater::new(bits, fresh_each);
                    payloads
                        .iter()
                        .map(|p| receiver.message(p))
                        .collect::<Option<Vec<Vec<u8>>>>()
                };
                if dist <= window {
                    assert_eq!(read(bits, false), Some(data.clone()), "{what}: within");
                } else {
                    // Refused outright, not merely read wrong; a window
                    // twice as large reads it, so it is the distance that
                    // is refused.
                    assert_eq!(read(bits, false), None, "{what}: past the window");
                    assert_eq!(read(bits + 1, false), Some(data.clone()), "{what}");
                }
                if payloads.len() == 2 {
                    // A fresh context (no takeover) does not read a match
                    // into the message before.
                    assert_ne!(read(bits, true), Some(data.clone()), "{what}: fresh");
                }
            }
        }
    }
}

#[test]
fn the_compressor_reaches_back_2_bits_less_262_bytes() {
    // zlib-rs, as zlib, keeps 262 bytes of lookahead (a longest match,
    // 258, plus a minimum one, 3, plus 1) in its window, and refers back at
    // most `2^bits - 262` bytes (`MAX_DIST`). So the last 262 bytes of the
    // window are never used: a 9-bit window reaches 250 bytes back, as
    // does an 8-bit one (set as 9). At every level that matches (1 to 9).
    for bits in 8..=15u8 {
        for level in 1..=9 {
            let case = Case {
                sender: Role::Server,
                bits,
                takeover: true,
                level,
                memory_level: 8,
                set_by: SetBy::Sender,
            };
            // The compressed size of noise of `dist` bytes (the same noise,
            // a byte longer for a longer `dist`) then its copy.
            let size = |dist: usize| {
                let mut data = incompressible(dist, 5);
                copy_back(&mut data, dist, MATCH);
                let payloads = send_all(&mut case.connection(), &[vec![data.clone()]]);
                assert_eq!(read_with_window(bits, false, &payloads, &[data]), Ok(()));
                payloads[0].len()
            };
            // The copy a match (a few bytes) at the reach, literals (about
            // 258) one byte further: the one difference that shows both.
            let reach = reach(bits);
            let (at, past) = (size(reach), size(reach + 1));
            assert!(
                past > at + MATCH / 2,
                "{case:?}: {at} bytes with the copy {reach} back, {past} one further"
            );
        }
    }
}
