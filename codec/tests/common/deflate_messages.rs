//! A server fed compressed conversations every way: messages as frame
//! payloads on the wire ([`Msg`], [`wire`]), its events reduced to what a
//! test compares ([`Seen`]), the oracle's verdict ([`expected`]), and the
//! runs that feed a stream whole, byte by byte and cut at every point,
//! through both input paths, whole messages and streaming ([`run`],
//! [`check`]).

use wsframe::{Config, Connection, DeflateParams, Event, Message, Role};

use super::deflate::{
    inflated_before_failing, inflated_before_failing_bytes, reference_inflate,
    windowed_before_failing_bytes, NO_TAKEOVER, RSV1, TAKEOVER,
};
use super::joined_chunks::JoinedChunks;
use super::{client, close_code_on_wire, close_payload, same_every_way};
use super::{CLOSE, CONT, FIN, PING, TEXT};

/// What happened, comparable across cuts and modes: a message (text or
/// not, its bytes), or the close (its code, and whether we failed).
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Message(bool, Vec<u8>),
    Closed(u16, bool),
}

/// What goes on the wire: a message as frame payloads (the first with
/// RSV1 when compressed), or a ping between frames.
#[derive(Clone)]
pub struct Msg {
    pub opcode: u8,
    pub frames: Vec<Vec<u8>>,
    pub compressed: bool,
    /// A ping goes after the frame of this index (not after the last).
    pub ping_after: Option<usize>,
}

/// A compressed message in these frames.
pub fn msg(opcode: u8, frames: &[&[u8]]) -> Msg {
    Msg {
        opcode,
        frames: frames.iter().map(|f| f.to_vec()).collect(),
        compressed: true,
        ping_after: None,
    }
}

/// An uncompressed message in one frame.
pub fn plain(opcode: u8, data: &[u8]) -> Msg {
    Msg {
        opcode,
        frames: vec![data.to_vec()],
        compressed: false,
        ping_after: None,
    }
}

/// `payload` in three fragments, a ping between the first two.
pub fn pinged(opcode: u8, payload: &[u8]) -> Msg {
    let third = payload.len() / 3;
    Msg {
        ping_after: Some(0),
        ..msg(
            opcode,
            &[
                &payload[..third],
                &payload[third..2 * third],
                &payload[2 * third..],
            ],
        )
    }
}

/// The wire bytes of `messages`, then a close frame (1000).
pub fn wire(messages: &[Msg]) -> Vec<u8> {
    let mut input = Vec::new();
    for m in messages {
        let n = m.frames.len();
        for (i, frame) in m.frames.iter().enumerate() {
            let mut first = if i == 0 { m.opcode } else { CONT };
            if i == 0 && m.compressed {
                first |= RSV1;
            }
            if i + 1 == n {
                first |= FIN;
            }
            input.extend(client(first, frame));
            if m.ping_after == Some(i) && i + 1 < n {
                input.extend(client(FIN | PING, b"between"));
            }
        }
    }
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"")));
    input
}

/// What [`seen`] makes of a ping or pong event.
#[derive(Clone, Copy, Debug)]
pub enum Pings {
    /// Left out: the peer sent pings, their pongs are the connection's
    /// business.
    Skipped,
    /// A failure: the peer sent none.
    Unexpected,
}

impl Pings {
    /// Skipped where `messages` put pings on the wire, else unexpected.
    pub fn of(messages: &[Msg]) -> Self {
        match messages.iter().any(|m| m.ping_after.is_some()) {
            true => Pings::Skipped,
            false => Pings::Unexpected,
        }
    }
}

/// Events as [`Seen`]s, a streamed message's chunks joined, pings as
/// `pings` says.
pub fn seen(events: Vec<Event>, pings: Pings) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut partial = JoinedChunks::default();
    for event in events {
        match event {
            Event::Message(m) => out.push(Seen::Message(
                matches!(m, Message::Text(_)),
                m.as_bytes().to_vec(),
            )),
            Event::Chunk { data, last } => {
                if let Some((text, bytes)) = partial.push(&data, last) {
                    out.push(Seen::Message(text, bytes));
                }
            }
            Event::Closed(c) => out.push(Seen::Closed(c.code.into(), c.error.is_some())),
            Event::Ping(_) | Event::Pong(_) if matches!(pings, Pings::Skipped) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    out
}

/// A server's [`Seen`]s for `messages` (then a close), with `params`,
/// whole and streaming, fed whole, byte by byte and (short streams) cut
/// at every point: the same every way, with the close code on the wire.
/// Pings are skipped only when `messages` send some ([`Pings::of`]).
pub fn run(params: DeflateParams, messages: &[Msg], limit: usize) -> Vec<Seen> {
    let input = wire(messages);
    let pings = Pings::of(messages);
    let mut first: Option<Vec<Seen>> = None;
    for streaming in [false, true] {
        let config = Config::builder()
            .max_message_size(limit as u64)
            .streaming(streaming)
            .build();
        let make = || Connection::with_deflate(Role::Server, config, Some(params));
        let (whole, close_on_wire) = same_every_way(
            &format!("streaming {streaming}"),
            &make,
            &input,
            input.len() <= 400,
            |(events, out)| (seen(events, pings), close_code_on_wire(&out)),
        );
        let Some(Seen::Closed(code, _)) = whole.last() else {
            panic!("no close: {whole:?}")
        };
        assert_eq!(close_on_wire, Some(*code), "close on the wire");
        match &first {
            None => first = Some(whole),
            Some(f) => assert_eq!(&whole, f, "streaming and whole differ"),
        }
    }
    first.unwrap()
}

/// What the oracle says a server makes of `messages` under `limit`: each
/// message inflated by [`reference_inflate`] (fresh context: the messages
/// given here never refer back), its text checked by std; the first that
/// fails closes with 1007 (1009 when whole but over the limit, or when
/// what inflates before its corruption is); else the peer's 1000.
pub fn expected(messages: &[Msg], limit: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    for m in messages {
        let payload = m.frames.concat();
        let data = match m.compressed {
            true => reference_inflate(&payload),
            false => Some(payload.clone()),
        };
        let Some(data) = data else {
            let code = if inflated_before_failing(&payload) > limit {
                1009
            } else {
                1007
            };
            seen.push(Seen::Closed(code, true));
            return seen;
        };
        let text = m.opcode == TEXT;
        if text && std::str::from_utf8(&data).is_err() {
            seen.push(Seen::Closed(1007, true));
            return seen;
        }
        if data.len() > limit {
            seen.push(Seen::Closed(1009, true));
            return seen;
        }
        seen.push(Seen::Message(text, data));
    }
    seen.push(Seen::Closed(1000, false));
    seen
}

/// [`run`] with both context modes, checked against [`expected`]; with a
/// 32 KiB window (zlib-rs's path) and the smallest window of 9..=14 bits
/// within which every compressed message inflates as with 32 KiB (the
/// ring's path: [`windowed_before_failing_bytes`]).
pub fn check(what: &str, messages: &[Msg], limit: usize) {
    let want = expected(messages, limit);
    let bits = (9..=14)
        .find(|&bits| {
            messages.iter().filter(|m| m.compressed).all(|m| {
                let payload = m.frames.concat();
                windowed_before_failing_bytes(&payload, bits, 1 << 20)
                    == inflated_before_failing_bytes(&payload, 1 << 20)
            })
        })
        .unwrap_or(15);
    let small = |params: DeflateParams| DeflateParams {
        client_max_window_bits: bits,
        ..params
    };
    for params in [NO_TAKEOVER, TAKEOVER, small(NO_TAKEOVER), small(TAKEOVER)] {
        let got = run(params, messages, limit);
        assert_eq!(got, want, "{what} ({params:?})");
    }
}
