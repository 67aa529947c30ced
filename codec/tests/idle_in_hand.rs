//! The idle timeout with received bytes not read yet (the application was
//! busy, or stopped reading for backpressure): the bytes arrived in time,
//! so what they hold is handed out before the close, which is still
//! decided, and its 1001 close frame queued, at the deadline. Sans-IO with
//! explicit instants: the bytes arrive, a `now` one second later counts
//! them as a sign of life, and the idle deadline (ten seconds after it)
//! finds them unread. The wire is read back by the hand parser, events
//! are checked against the frames as built (and text against
//! `std::str::from_utf8`); streams are fed whole, byte by byte and cut at
//! every point, through `receive` and `read_buf` alike.

mod common;

use std::time::{Duration, Instant};

use common::{hand_driven::wire, *};
use wsframe::{
    CloseCode, Config, Connection, Event, Initiator, Message, ProtocolError, Role, SendError, State,
};

const SECOND: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(10);

/// The idle timeout's close frame as the hand parser reads it: FIN and
/// close, 1001, the reason.
fn idle_close_frame() -> (u8, Vec<u8>) {
    (FIN | CLOSE, close_payload(1001, b"idle timeout"))
}

/// The idle timeout's event.
fn idle_closed() -> Event {
    closed(1001, "idle timeout", Initiator::Local)
}

fn closed(code: u16, reason: &str, initiator: Initiator) -> Event {
    Event::Closed(Box::new(wsframe::Closed {
        code: CloseCode(code),
        reason: reason.to_owned(),
        initiator,
        error: None,
    }))
}

fn text(s: &str) -> Event {
    Event::Message(Message::from(s))
}

/// A server with the idle timeout, its clock started at the instant
/// returned.
fn idle_server(config: wsframe::ConfigBuilder) -> (Connection, Instant) {
    let mut conn = Connection::new(Role::Server, config.idle_timeout(Some(IDLE)).build());
    let start = Instant::now();
    conn.handle_timeout(start);
    (conn, start)
}

/// The state, `poll_timeout` and the frames queued at a moment.
type Moment = (State, Option<Instant>, Vec<(u8, Vec<u8>)>);

/// What a run shows.
#[derive(Debug)]
struct Run {
    /// The events read in time, before the application stopped reading.
    before: Vec<Event>,
    /// The state, `poll_timeout` and the frames queued right at the
    /// deadline, before any event is taken.
    at_deadline: Moment,
    /// The events after the deadline, to the first `None`.
    after: Vec<Event>,
    /// The frames queued while they were taken.
    wire_after: Vec<(u8, Vec<u8>)>,
}

/// `input` arrives cut at `cuts` (every other piece appended to
/// `read_buf` when `use_read_buf`) and nothing is read; a `now` 1 s later
/// counts it as a sign of life; the application takes `read_first`
/// events (or as many as there are) and stops reading; at the idle
/// deadline, 10 s after that `now`, the connection is looked at, then
/// read to the end.
fn busy_until_idle(
    config: wsframe::ConfigBuilder,
    input: &[u8],
    cuts: &[usize],
    use_read_buf: bool,
    read_first: usize,
) -> Run {
    let (mut conn, start) = idle_server(config);
    common::hand_driven::feed(&mut conn, input, cuts, |i| use_read_buf && i % 2 == 1);
    conn.handle_timeout(start + SECOND);
    let before: Vec<Event> = std::iter::from_fn(|| conn.next_event())
        .take(read_first)
        .collect();
    // Pongs to pings read in time: not the concern here.
    let _ = conn.take_output();
    if !input.is_empty() {
        conn.handle_timeout(start + SECOND + IDLE - Duration::from_millis(1));
        assert_eq!(conn.state(), State::Open, "not idle a millisecond early");
    }
    let deadline = start + SECOND + IDLE;
    conn.handle_timeout(deadline);
    let at_deadline = (conn.state(), conn.poll_timeout(), wire(&mut conn));
    let after: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
    let wire_after = wire(&mut conn);
    // Over: nothing more comes, nothing more is held or sent.
    assert_eq!(conn.next_event(), None);
    assert_eq!(conn.buffered_len(), 0, "everything in hand released");
    conn.handle_timeout(deadline + 100 * IDLE);
    assert!(!conn.has_output(), "one close frame, no more");
    assert_eq!(conn.send(Message::from("x")), Err(SendError::Closed));
    Run {
        before,
        at_deadline,
        after,
        wire_after,
    }
}

/// [`busy_until_idle`] for `input` fed whole, byte by byte and cut at
/// every point, through both input paths, and for every number of events
/// read in time up to `events`: in every run, the events read in time and
/// those after the deadline are together `events` (then `end`, the event
/// that closes), the idle timeout's close frame is queued at the deadline,
/// with the state Closed and no timer left, and nothing is queued after it.
fn check_every_way(
    what: &str,
    config: impl Fn() -> wsframe::ConfigBuilder,
    input: &[u8],
    events: &[Event],
    end: &Event,
) {
    let bytewise: Vec<usize> = (1..input.len()).collect();
    let mut ways: Vec<Vec<usize>> = vec![vec![], bytewise];
    ways.extend((0..=input.len()).map(|cut| vec![cut]));
    for cuts in &ways {
        for use_read_buf in [false, true] {
            for read_first in 0..=events.len() {
                let run = busy_until_idle(config(), input, cuts, use_read_buf, read_first);
                let how = format!(
                    "{what}: cuts {cuts:?}, read_buf {use_read_buf}, read first {read_first}"
                );
                assert_eq!(run.before, events[..read_first], "{how}");
                assert_eq!(
                    run.after[..run.after.len() - 1],
                    events[read_first..],
                    "{how}"
                );
                assert_eq!(run.after.last(), Some(end), "{how}");
                assert_eq!(
                    run.at_deadline,
                    (State::Closed, None, vec![idle_close_frame()]),
                    "{how}"
                );
                assert_eq!(run.wire_after, [], "{how}: nothing after our close");
            }
        }
    }
}

#[test]
fn one_two_or_three_whole_messages_in_hand_come_out_in_order_then_the_close() {
    let frames = [
        client(FIN | TEXT, b"one"),
        client(FIN | BINARY, &[2; 300]),
        client(FIN | TEXT, "thr\u{e9}e".as_bytes()),
    ];
    let events = [
        text("one"),
        Event::Message(Message::from(vec![2u8; 300])),
        text("thr\u{e9}e"),
    ];
    for n in 1..=3 {
        check_every_way(
            &format!("{n} messages"),
            Config::builder,
            &frames[..n].concat(),
            &events[..n],
            &idle_closed(),
        );
    }
}

#[test]
fn without_reading_them_in_time_the_messages_would_have_been_lost() {
    // The case this file is about, spelt out once: two messages arrive, a
    // sign of life is noted, nothing reads them; the deadline comes.
    let (mut conn, start) = idle_server(Config::builder());
    conn.receive(&[client(FIN | TEXT, b"one"), client(FIN | TEXT, b"two")].concat());
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + SECOND + IDLE);
    assert_eq!(conn.state(), State::Closed, "the close is decided at once");
    assert_eq!(
        wire(&mut conn),
        [idle_close_frame()],
        "and the peer told at once"
    );
    assert_eq!(conn.next_event(), Some(text("one")));
    assert_eq!(conn.next_event(), Some(text("two")));
    assert_eq!(conn.next_event(), Some(idle_closed()));
    assert_eq!(conn.next_event(), None);
}

/// Frames and the offsets at which each event's frame ends: what the
/// stream holds when the deadline cuts it there.
fn cut_stream() -> (Vec<u8>, Vec<(usize, Event)>) {
    let parts: Vec<(Vec<u8>, Option<Event>)> = vec![
        (client(FIN | TEXT, b"one"), Some(text("one"))),
        // A fragmented text message: complete only with its last frame.
        (client(TEXT, b"tw"), None),
        (
            client(FIN | PONG, b"mid"),
            Some(Event::Pong(b"mid"[..].into())),
        ),
        (client(FIN | CONT, b"o"), Some(text("two"))),
        // 16-bit length.
        (
            client(FIN | BINARY, &[3; 300]),
            Some(Event::Message(Message::from(vec![3u8; 300]))),
        ),
        (client(FIN | PING, b"p"), Some(Event::Ping(b"p"[..].into()))),
        (client(FIN | TEXT, b"four"), Some(text("four"))),
    ];
    let mut input = Vec::new();
    let mut ends = Vec::new();
    for (frame, event) in parts {
        input.extend_from_slice(&frame);
        if let Some(event) = event {
            ends.push((input.len(), event));
        }
    }
    (input, ends)
}

#[test]
fn the_deadline_at_every_point_of_the_stream_hands_out_what_is_whole_and_drops_the_rest() {
    // What arrived before the deadline is every prefix of the stream: the
    // events whose frames it holds whole come out (a fragmented message
    // only with its last fragment), a frame or message it cuts is
    // dropped, and the close follows.
    let (input, ends) = cut_stream();
    for len in 0..=input.len() {
        let prefix = &input[..len];
        let events: Vec<Event> = ends
            .iter()
            .filter(|(end, _)| *end <= len)
            .map(|(_, event)| event.clone())
            .collect();
        // Nothing in hand: the plain idle timeout (also checked here).
        let bytewise: Vec<usize> = (1..len).collect();
        for cuts in [vec![], bytewise] {
            for use_read_buf in [false, true] {
                let run = busy_until_idle(Config::builder(), prefix, &cuts, use_read_buf, 0);
                let how = format!("prefix {len}, cuts {}, read_buf {use_read_buf}", cuts.len());
                assert_eq!(run.before, [], "{how}");
                let mut expected = events.clone();
                expected.push(idle_closed());
                assert_eq!(run.after, expected, "{how}");
                assert_eq!(run.at_deadline.2, [idle_close_frame()], "{how}");
                assert_eq!(run.wire_after, [], "{how}");
            }
        }
    }
}

#[test]
fn the_whole_stream_every_way_and_read_in_part_first() {
    let (input, ends) = cut_stream();
    let events: Vec<Event> = ends.into_iter().map(|(_, event)| event).collect();
    check_every_way(
        "mixed stream",
        Config::builder,
        &input,
        &events,
        &idle_closed(),
    );
}

#[test]
fn a_ping_in_hand_is_handed_out_without_a_pong() {
    let input = [
        client(FIN | TEXT, b"a"),
        client(FIN | PING, b"are you there"),
        client(FIN | TEXT, b"b"),
    ]
    .concat();
    // Read in time, the ping is answered: the test would see a pong.
    let (mut conn, _) = idle_server(Config::builder());
    conn.receive(&input);
    let _: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
    assert_eq!(wire(&mut conn), [(FIN | PONG, b"are you there".to_vec())]);
    // In hand at the deadline: handed out, not answered (our close frame
    // went first, and is the last frame we send).
    check_every_way(
        "ping",
        Config::builder,
        &input,
        &[
            text("a"),
            Event::Ping(b"are you there"[..].into()),
            text("b"),
        ],
        &idle_closed(),
    );
}

#[test]
fn the_peers_close_in_hand_closes_cleanly_as_the_peers() {
    // The peer closed before our deadline: its close, not our idle
    // timeout, is the connection's end; our 1001 close frame is the
    // answer (no echo after it), and what follows the close is not read.
    for (payload, code, reason) in [
        (close_payload(1000, b"bye"), 1000, "bye"),
        (
            close_payload(4000, "f\u{e9}in".as_bytes()),
            4000,
            "f\u{e9}in",
        ),
        (Vec::new(), 1005, ""),
    ] {
        let input = [
            client(FIN | TEXT, b"a"),
            client(FIN | CLOSE, &payload),
            client(FIN | TEXT, b"never"),
        ]
        .concat();
        check_every_way(
            &format!("close {code}"),
            Config::builder,
            &input,
            &[text("a")],
            &closed(code, reason, Initiator::Peer),
        );
    }
}

/// The closing event of `run`: its code, initiator and error.
fn end_of(run: &Run) -> (u16, Initiator, Option<ProtocolError>) {
    match run.after.last() {
        Some(Event::Closed(closed)) => (closed.code.0, closed.initiator, closed.error),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_close_in_hand_is_reported_as_its_violation() {
    // As it would have been reported in time; the close frame on the wire
    // stays the 1001 queued at the deadline.
    let bad_reason = [0x03, 0xE8, b'a', 0xC3, 0x28];
    assert!(std::str::from_utf8(&bad_reason[2..]).is_err());
    for (payload, code, error) in [
        (vec![0x03], 1002, ProtocolError::CloseFrameTooShort),
        (
            close_payload(1005, b""),
            1002,
            ProtocolError::InvalidCloseCode(1005),
        ),
        (
            close_payload(999, b""),
            1002,
            ProtocolError::InvalidCloseCode(999),
        ),
    ] {
        let input = [client(FIN | TEXT, b"a"), client(FIN | CLOSE, &payload)].concat();
        for read_first in [0, 1] {
            let run = busy_until_idle(Config::builder(), &input, &[], false, read_first);
            assert_eq!(
                [&run.before[..], &run.after[..1]].concat()[..1],
                [text("a")]
            );
            assert_eq!(end_of(&run), (code, Initiator::Local, Some(error)));
            assert_eq!(run.at_deadline.2, [idle_close_frame()]);
            assert_eq!(run.wire_after, []);
        }
    }
    let input = [client(FIN | TEXT, b"a"), client(FIN | CLOSE, &bad_reason)].concat();
    let run = busy_until_idle(Config::builder(), &input, &[], false, 0);
    assert_eq!(run.after[0], text("a"));
    let (code, initiator, error) = end_of(&run);
    assert_eq!((code, initiator), (1007, Initiator::Local));
    assert!(
        matches!(error, Some(ProtocolError::InvalidCloseReason(_))),
        "{error:?}"
    );
    assert_eq!(run.at_deadline.2, [idle_close_frame()]);
}

#[test]
fn invalid_utf8_in_hand_is_1007_after_what_came_before_it() {
    // Had the application read in time it would have had "ok", then the
    // 1007: so it has now; the wire keeps the 1001 sent at the deadline,
    // and nothing after the bad message is read.
    let bad: Vec<u8> = vec![b'a', 0xC3, 0x28, b'b'];
    let bad_err = std::str::from_utf8(&bad).unwrap_err();
    assert_eq!(bad_err.valid_up_to(), 1, "the oracle: bad at offset 1");
    // Whole, and cut short: fail-fast reports it before the message ends.
    for bad_frames in [
        client(FIN | TEXT, &bad),
        client(TEXT, &bad),
        [client(TEXT, b"a"), client(CONT, &bad[1..])].concat(),
    ] {
        let input = [
            client(FIN | TEXT, b"ok"),
            bad_frames,
            client(FIN | TEXT, b"never"),
        ]
        .concat();
        let bytewise: Vec<usize> = (1..input.len()).collect();
        for cuts in [vec![], bytewise] {
            for use_read_buf in [false, true] {
                for read_first in [0, 1] {
                    let run =
                        busy_until_idle(Config::builder(), &input, &cuts, use_read_buf, read_first);
                    let how = format!("cuts {}, read_buf {use_read_buf}", cuts.len());
                    let all = [&run.before[..], &run.after[..]].concat();
                    assert_eq!(all.len(), 2, "{how}: {all:?}");
                    assert_eq!(all[0], text("ok"), "{how}");
                    let (code, initiator, error) = end_of(&run);
                    assert_eq!((code, initiator), (1007, Initiator::Local), "{how}");
                    match error {
                        Some(ProtocolError::InvalidUtf8(evidence)) => {
                            assert_eq!(evidence.offset(), bad_err.valid_up_to() as u64, "{how}")
                        }
                        other => panic!("{how}: {other:?}"),
                    }
                    assert_eq!(run.at_deadline.2, [idle_close_frame()], "{how}");
                    assert_eq!(run.wire_after, [], "{how}");
                }
            }
        }
    }
    // Valid so far but cut inside a code point: an incomplete message,
    // dropped; the idle timeout's close.
    let cut = &"\u{e9}".as_bytes()[..1];
    let input = [client(FIN | TEXT, b"ok"), client(TEXT, cut)].concat();
    check_every_way(
        "cut code point",
        Config::builder,
        &input,
        &[text("ok")],
        &idle_closed(),
    );
}

#[test]
fn bytes_that_arrive_after_the_deadline_are_ignored_while_those_in_hand_come_out() {
    for use_read_buf in [false, true] {
        let (mut conn, start) = idle_server(Config::builder());
        let early = [client(FIN | TEXT, b"a"), client(FIN | TEXT, b"b")].concat();
        if use_read_buf {
            conn.read_buf().extend_from_slice(&early);
        } else {
            conn.receive(&early);
        }
        conn.handle_timeout(start + SECOND);
        conn.handle_timeout(start + SECOND + IDLE);
        // Late, by every way in: none of it joins what is in hand.
        conn.receive(&client(FIN | TEXT, b"late"));
        conn.read_buf()
            .extend_from_slice(&client(FIN | TEXT, b"late too"));
        let room = conn.prepare_read(4096);
        assert!(room > 0);
        conn.read_buf()
            .extend_from_slice(&client(FIN | TEXT, b"late three"));
        assert_eq!(conn.read_hint(), 0);
        let events: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
        assert_eq!(
            events,
            [text("a"), text("b"), idle_closed()],
            "read_buf {use_read_buf}"
        );
        assert_eq!(wire(&mut conn), [idle_close_frame()]);
    }
}

#[test]
fn buffered_len_counts_the_late_read_held_until_the_next_call() {
    let (mut conn, start) = idle_server(Config::builder());
    let early = [client(FIN | TEXT, b"a"), client(FIN | TEXT, b"b")].concat();
    conn.receive(&early);
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + SECOND + IDLE);
    let in_hand = conn.buffered_len();
    assert!(in_hand > 0, "the two messages are held");
    let late = vec![0x81; 100_000];
    // Given to `receive`, late bytes are dropped at once.
    conn.receive(&late);
    assert_eq!(conn.buffered_len(), in_hand);
    // Appended to `read_buf`, they are held apart from what is in hand
    // until the next call that reads: memory the connection holds, so
    // counted.
    conn.read_buf().extend_from_slice(&late);
    assert_eq!(conn.buffered_len(), in_hand + late.len());
    // The next read drops them: one late read at most is ever held.
    assert!(conn.prepare_read(16) > 0);
    assert_eq!(conn.buffered_len(), in_hand);
    conn.read_buf().extend_from_slice(&late);
    let events: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
    assert_eq!(events, [text("a"), text("b"), idle_closed()]);
    assert_eq!(conn.buffered_len(), late.len(), "the last late read");
    conn.read_buf();
    assert_eq!(conn.buffered_len(), 0);
}

#[test]
fn nothing_in_hand_is_the_plain_idle_timeout() {
    // All read in time: the close event comes alone, as before.
    let (mut conn, start) = idle_server(Config::builder());
    conn.receive(&client(FIN | TEXT, b"a"));
    assert_eq!(conn.next_event(), Some(text("a")));
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + SECOND + IDLE);
    assert_eq!(wire(&mut conn), [idle_close_frame()]);
    assert_eq!(conn.next_event(), Some(idle_closed()));
    assert_eq!(conn.next_event(), None);
}

#[test]
fn a_keepalive_ping_deadline_with_bytes_in_hand_changes_nothing() {
    // Only the idle timeout closes: a ping due with messages in hand is
    // queued, and they are read as ever.
    let config = || Config::builder().ping_interval(Some(5 * SECOND));
    let (mut conn, start) = idle_server(config());
    conn.receive(&client(FIN | TEXT, b"a"));
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + 6 * SECOND);
    assert_eq!(conn.state(), State::Open);
    assert_eq!(wire(&mut conn), [(FIN | PING, vec![])]);
    assert_eq!(conn.next_event(), Some(text("a")));
    assert_eq!(conn.next_event(), None);
    // With a keepalive too, the idle deadline still hands out what is in
    // hand first.
    conn.receive(&client(FIN | TEXT, b"b"));
    conn.handle_timeout(start + 7 * SECOND);
    conn.handle_timeout(start + 17 * SECOND);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(wire(&mut conn), [idle_close_frame()]);
    assert_eq!(conn.next_event(), Some(text("b")));
    assert_eq!(conn.next_event(), Some(idle_closed()));
}

#[test]
fn streamed_pieces_in_hand_come_out_and_an_unfinished_message_ends_with_the_close() {
    // Streaming mode: what arrived of a message is handed out as pieces,
    // as it would have been in time; the message never ends, the close
    // follows.
    let long: Vec<u8> = "d\u{e9}j\u{e0} vu ".repeat(40).into_bytes();
    let input = [
        client(FIN | TEXT, b"whole"),
        // The frame's header says all of `long`; 150 bytes came.
        client(FIN | TEXT, &long)[..8 + 150].to_vec(),
    ]
    .concat();
    let bytewise: Vec<usize> = (1..input.len()).collect();
    for cuts in [vec![], bytewise, vec![20], vec![input.len() - 3]] {
        for use_read_buf in [false, true] {
            let run = busy_until_idle(
                Config::builder().streaming(true),
                &input,
                &cuts,
                use_read_buf,
                0,
            );
            let how = format!("cuts {cuts:?}, read_buf {use_read_buf}");
            let (last, pieces) = run.after.split_last().unwrap();
            assert_eq!(last, &idle_closed(), "{how}");
            let mut messages: Vec<(Vec<u8>, bool)> = Vec::new();
            let mut open = false;
            for piece in pieces {
                let Event::Chunk { data, last } = piece else {
                    panic!("{how}: {piece:?}");
                };
                assert!(matches!(data, Message::Text(_)), "{how}");
                if !open {
                    messages.push((Vec::new(), false));
                }
                let message = messages.last_mut().unwrap();
                message.0.extend_from_slice(data.as_bytes());
                message.1 = *last;
                open = !last;
            }
            assert_eq!(messages.len(), 2, "{how}: {messages:?}");
            assert_eq!(messages[0], (b"whole".to_vec(), true), "{how}");
            let (got, ended) = &messages[1];
            assert!(!ended, "{how}: the cut message never ends");
            // Text pieces end on code points: all of the 150 bytes but a
            // code point they cut.
            assert!(
                long.starts_with(got) && got.len() + 1 >= 150,
                "{how}: {}",
                got.len()
            );
            assert!(std::str::from_utf8(got).is_ok(), "{how}");
            assert_eq!(run.at_deadline.2, [idle_close_frame()], "{how}");
        }
    }
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_messages_in_hand_come_out_inflated() {
    use common::deflate::{reference_inflate, sync_message, RSV1, TAKEOVER};
    use flate2::{Compress, Compression};
    // Two messages of one compressor (context takeover: the second reads
    // back into the first), inflated by the reference inflater as well.
    let first = b"the same words, the same words, again".to_vec();
    let second = b"the same words once more".to_vec();
    let mut compressor = Compress::new(Compression::new(9), false);
    let a = sync_message(&mut compressor, &first);
    let b = sync_message(&mut compressor, &second);
    assert_eq!(reference_inflate(&a).as_deref(), Some(&first[..]));
    let input = [client(FIN | RSV1 | TEXT, &a), client(FIN | RSV1 | TEXT, &b)].concat();
    for cuts in [vec![], (1..input.len()).collect()] {
        let mut conn = Connection::with_deflate(
            Role::Server,
            Config::builder().idle_timeout(Some(IDLE)).build(),
            Some(TAKEOVER),
        );
        let start = Instant::now();
        conn.handle_timeout(start);
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&input.len())) {
            conn.receive(&input[from..to]);
            from = to;
        }
        conn.handle_timeout(start + SECOND);
        conn.handle_timeout(start + SECOND + IDLE);
        assert_eq!(wire(&mut conn), [idle_close_frame()]);
        let events: Vec<Event> = std::iter::from_fn(|| conn.next_event()).collect();
        assert_eq!(
            events,
            [
                text(std::str::from_utf8(&first).unwrap()),
                text(std::str::from_utf8(&second).unwrap()),
                idle_closed()
            ]
        );
    }
}

#[cfg(feature = "tokio")]
#[test]
fn the_tokio_codec_decodes_what_was_in_hand_then_the_close() {
    use tokio_util::codec::Decoder;
    use wsframe::tokio::WsCodec;
    let config = Config::builder().idle_timeout(Some(IDLE)).build();
    let mut codec = WsCodec::from_connection(Connection::new(Role::Server, config));
    let start = Instant::now();
    codec.connection_mut().handle_timeout(start);
    let mut src = bytes::BytesMut::from(
        &[client(FIN | TEXT, b"one"), client(FIN | TEXT, b"two")].concat()[..],
    );
    // `Framed` hands everything over; the caller takes one event and is
    // busy past the deadline.
    assert_eq!(codec.decode(&mut src).unwrap(), Some(text("one")));
    codec.connection_mut().handle_timeout(start + SECOND);
    codec.connection_mut().handle_timeout(start + SECOND + IDLE);
    // Bytes that came after the deadline are ignored.
    src.extend_from_slice(&client(FIN | TEXT, b"late"));
    assert_eq!(codec.decode(&mut src).unwrap(), Some(text("two")));
    assert_eq!(codec.decode(&mut src).unwrap(), Some(idle_closed()));
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    assert_eq!(wire(codec.connection_mut()), [idle_close_frame()]);
}
