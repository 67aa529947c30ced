//! A fresh review of the sans-IO core's time, keepalive and output bounds,
//! decided from the docs and RFC 6455 (§5.5.1-5.5.3, §7.1.1-7.1.7) and
//! driven by hand: an `Instant` plus offsets for the clock, raw bytes for
//! the peer. `poll_timeout` after every kind of call; `handle_timeout`
//! early, hours late, twice, backwards; keepalive pings and what the peer
//! answers; the idle and close timeouts (their close frames, events and
//! what comes after, in every state); the output bound at and past the
//! limit, with partial writes at every byte; pings flooding a full output
//! (the bytes the peer gets, consumed in tiny steps, are whole frames, the
//! latest ping answered); the close handshake under backpressure.

mod common;

use std::time::{Duration, Instant};

use common::{
    hand_driven::{drain, server, wire},
    *,
};
use wsframe::{CloseCode, Config, Connection, Event, Initiator, Message, Role, SendError, State};

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

fn closed(events: &[Event]) -> &wsframe::Closed {
    match events {
        [.., Event::Closed(closed)] => closed,
        other => panic!("no Closed event: {other:?}"),
    }
}

/// The ways a stream is cut: whole, byte by byte, and at every point.
fn every_cut(len: usize) -> Vec<Vec<usize>> {
    let mut cuts = vec![vec![], (1..len).collect()];
    cuts.extend((0..=len).map(|cut| vec![cut]));
    cuts
}

/// `input` cut at `cuts`, through `receive` or (every other piece)
/// `read_buf`, a `step` of time passing before each piece.
fn feed_in_time(
    conn: &mut Connection,
    start: Instant,
    step: Duration,
    input: &[u8],
    cuts: &[usize],
    use_read_buf: bool,
) -> (Vec<Event>, Instant) {
    let mut now = start;
    let mut events = Vec::new();
    let mut begin = 0;
    for (i, &end) in cuts.iter().chain(std::iter::once(&input.len())).enumerate() {
        if end == begin {
            continue; // no bytes, no time: only a piece is a sign of life
        }
        now += step;
        conn.handle_timeout(now);
        if use_read_buf && i % 2 == 1 {
            conn.read_buf().extend_from_slice(&input[begin..end]);
        } else {
            conn.receive(&input[begin..end]);
        }
        begin = end;
        events.extend(drain(conn));
        conn.handle_timeout(now);
    }
    (events, now)
}

// ---- poll_timeout after every kind of call ----

#[test]
fn poll_timeout_is_the_earliest_deadline_whichever_is_shorter() {
    for (ping, idle) in [(5, 12), (12, 5), (7, 7)] {
        let (mut conn, start) = server(
            Config::builder()
                .ping_interval(Some(ping * SECOND))
                .idle_timeout(Some(idle * SECOND))
                .build(),
        );
        assert_eq!(
            conn.poll_timeout(),
            Some(start + ping.min(idle) * SECOND),
            "ping {ping} idle {idle}"
        );
        conn.handle_timeout(start + ping.min(idle) * SECOND);
        if ping < idle {
            assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
            assert_eq!(
                conn.poll_timeout(),
                Some(start + (2 * ping).min(idle) * SECOND)
            );
        } else {
            assert_eq!(conn.state(), State::Closed, "ping {ping} idle {idle}");
            let frames = wire(&mut conn);
            assert_eq!(
                frames.last().map(|f| f.0),
                Some(0x80 | CLOSE),
                "ping {ping} idle {idle}: {frames:?}"
            );
            assert_eq!(conn.poll_timeout(), None);
        }
    }
}

#[test]
fn our_sends_and_writes_do_not_move_the_keepalive_or_idle_deadline() {
    // Keepalive and idle measure the peer's silence: our own sending is no
    // sign of the peer being there.
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(10 * SECOND))
            .idle_timeout(Some(30 * SECOND))
            .build(),
    );
    conn.handle_timeout(start + 5 * SECOND);
    conn.send(Message::from("x")).unwrap();
    assert_eq!(conn.poll_timeout(), Some(start + 10 * SECOND), "after send");
    conn.ping(b"mine").unwrap();
    assert_eq!(conn.poll_timeout(), Some(start + 10 * SECOND), "after ping");
    conn.consume_output(3);
    assert_eq!(
        conn.poll_timeout(),
        Some(start + 10 * SECOND),
        "after a partial write"
    );
    conn.take_output();
    conn.handle_timeout(start + 6 * SECOND);
    assert_eq!(conn.poll_timeout(), Some(start + 10 * SECOND));
    assert!(!conn.has_output());
}

#[test]
fn after_handle_timeout_the_next_deadline_is_always_later_than_now() {
    // Whatever ran out, the next deadline is in the future (or none): a
    // caller sleeping until `poll_timeout` must never spin.
    let configs = [
        Config::builder().ping_interval(Some(SECOND)).build(),
        Config::builder()
            .ping_interval(Some(SECOND))
            .max_output_buffer(1)
            .build(),
        Config::builder()
            .ping_interval(Some(2 * SECOND))
            .idle_timeout(Some(7 * SECOND))
            .close_timeout(Some(3 * SECOND))
            .max_output_buffer(1)
            .build(),
    ];
    for (which, config) in configs.into_iter().enumerate() {
        for seed in 1..40u64 {
            let mut rng = Rng(seed);
            let (mut conn, start) = server(config);
            let mut now = start;
            for step in 0..60 {
                match rng.below(8) {
                    0 => conn.receive(&client(0x80 | PING, b"p")),
                    1 => conn.receive(&client(0x80 | PONG, b"")),
                    2 => {
                        let _ = conn.send(Message::from("data"));
                    }
                    3 => {
                        let n = rng.below(conn.output_len() + 1);
                        conn.consume_output(n);
                    }
                    4 if rng.below(4) == 0 => {
                        let _ = conn.close(CloseCode::NORMAL, "");
                    }
                    _ => {}
                }
                drain(&mut conn);
                now += Duration::from_millis(rng.below(3000) as u64);
                conn.handle_timeout(now);
                if let Some(at) = conn.poll_timeout() {
                    assert!(
                        at > now,
                        "config {which} seed {seed} step {step}: deadline {:?} not after now",
                        now.checked_duration_since(at)
                    );
                }
                drain(&mut conn);
                if conn.state() == State::Closed {
                    assert_eq!(conn.poll_timeout(), None, "closed: no timer");
                    break;
                }
            }
        }
    }
}

#[test]
fn a_ping_due_while_the_output_is_full_leaves_a_later_deadline() {
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(10 * SECOND))
            .max_output_buffer(1)
            .build(),
    );
    conn.send(Message::from("unread")).unwrap();
    conn.handle_timeout(start + 10 * SECOND);
    assert_eq!(
        wire(&mut conn),
        [(0x80 | TEXT, b"unread".to_vec())],
        "no ping while the output is full"
    );
    let next = conn.poll_timeout().expect("keepalive still runs");
    assert!(next > start + 10 * SECOND, "{next:?}");
    // Once written out, the next interval pings.
    conn.handle_timeout(next);
    assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
}

#[test]
fn handle_timeout_twice_with_the_same_now_pings_once() {
    let (mut conn, start) = server(Config::builder().ping_interval(Some(SECOND)).build());
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + SECOND);
    conn.handle_timeout(start + SECOND);
    assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
    assert_eq!(conn.poll_timeout(), Some(start + 2 * SECOND));
}

#[test]
fn handle_timeout_hours_late_pings_once_not_once_per_missed_interval() {
    let (mut conn, start) = server(Config::builder().ping_interval(Some(SECOND)).build());
    conn.handle_timeout(start + 3 * HOUR);
    assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
    assert_eq!(conn.poll_timeout(), Some(start + 3 * HOUR + SECOND));
}

#[test]
fn handle_timeout_hours_late_with_every_timer_closes_once_with_1001() {
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(5 * SECOND))
            .idle_timeout(Some(12 * SECOND))
            .close_timeout(Some(3 * SECOND))
            .build(),
    );
    conn.handle_timeout(start + 5 * HOUR);
    assert_eq!(conn.state(), State::Closed);
    let frames = wire(&mut conn);
    let closes: Vec<_> = frames.iter().filter(|f| f.0 & 0x0F == CLOSE).collect();
    assert_eq!(closes.len(), 1, "{frames:?}");
    assert_eq!(frames.last().unwrap().0, 0x80 | CLOSE, "close is last");
    let events = drain(&mut conn);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(closed(&events).code, CloseCode::GOING_AWAY);
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn a_clock_going_backwards_after_bytes_arrive_does_not_panic_or_shorten() {
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(10 * SECOND))
            .idle_timeout(Some(30 * SECOND))
            .build(),
    );
    conn.handle_timeout(start + 20 * SECOND);
    wire(&mut conn);
    conn.receive(&client(0x80 | PONG, b""));
    drain(&mut conn);
    // An earlier `now` is taken as the latest one given (20 s).
    conn.handle_timeout(start + 2 * SECOND);
    assert_eq!(conn.poll_timeout(), Some(start + 30 * SECOND));
    conn.handle_timeout(start);
    conn.handle_timeout(start + 29 * SECOND);
    assert!(!conn.has_output());
    assert_eq!(conn.state(), State::Open);
    // And a close before the clock went back: counted from the latest now.
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.handle_timeout(start);
    assert_eq!(
        conn.poll_timeout(),
        Some(start + 29 * SECOND + Config::DEFAULT_CLOSE_TIMEOUT).min(Some(start + 50 * SECOND))
    );
}

#[test]
fn poll_timeout_asks_for_a_now_after_a_close_and_after_bytes() {
    let (mut conn, start) = server(Config::builder().idle_timeout(Some(10 * SECOND)).build());
    conn.handle_timeout(start + 4 * SECOND);
    conn.receive(&[0x89]);
    assert_eq!(
        conn.poll_timeout(),
        Some(start + 4 * SECOND),
        "bytes: the last now"
    );
    conn.handle_timeout(start + 5 * SECOND);
    assert_eq!(conn.poll_timeout(), Some(start + 15 * SECOND));
    conn.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        conn.poll_timeout(),
        Some(start + 5 * SECOND),
        "close: the last now"
    );
    conn.handle_timeout(start + 6 * SECOND);
    // After our close only the close clock runs (the idle one is for an
    // open connection: our close frame already says we are going).
    assert_eq!(
        conn.poll_timeout(),
        Some(start + 6 * SECOND + Config::DEFAULT_CLOSE_TIMEOUT)
    );
}

#[test]
fn timeouts_too_long_for_an_instant_never_run_and_never_panic() {
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(Duration::MAX))
            .idle_timeout(Some(Duration::MAX))
            .close_timeout(Some(Duration::MAX))
            .build(),
    );
    assert_eq!(conn.poll_timeout(), None);
    conn.receive(&client(0x80 | PING, b""));
    drain(&mut conn);
    conn.handle_timeout(start + HOUR);
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.handle_timeout(start + 2 * HOUR);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.state(), State::CloseSent);
}

#[test]
fn after_our_close_only_the_close_clock_runs() {
    // The idle clock is for an open connection: after our close frame the
    // close timeout bounds the wait, and `None` there waits for ever.
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(SECOND))
            .idle_timeout(Some(2 * SECOND))
            .close_timeout(None)
            .build(),
    );
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.handle_timeout(start + SECOND);
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(start + HOUR);
    assert_eq!(conn.state(), State::CloseSent);
    assert_eq!(drain(&mut conn), []);
    assert_eq!(wire(&mut conn), [(0x80 | CLOSE, close_payload(1000, b""))]);
}

// ---- the idle clock: any bytes, every way they arrive ----

#[test]
fn a_peer_dripping_a_frame_a_byte_at_a_time_is_not_idle() {
    // "Nothing has been received": any byte counts, a whole frame or not.
    let input = stream(&[
        client(0x80 | TEXT, b"slow but alive"),
        client(0x80 | PING, b"still here"),
        client(0x80 | BINARY, &[9; 40]),
    ]);
    for use_read_buf in [false, true] {
        let config = Config::builder()
            .ping_interval(Some(20 * SECOND))
            .idle_timeout(Some(10 * SECOND))
            .build();
        let (mut conn, start) = server(config);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let (events, _) = feed_in_time(
            &mut conn,
            start,
            9 * SECOND,
            &input,
            &bytewise,
            use_read_buf,
        );
        assert_eq!(conn.state(), State::Open, "read_buf {use_read_buf}");
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            wire(&mut conn),
            [(0x80 | PONG, b"still here".to_vec())],
            "no keepalive ping, no close"
        );
    }
}

#[test]
fn the_idle_timeout_fires_only_after_the_last_byte_at_every_cut() {
    let input = stream(&[client(0x80 | TEXT, b"hello"), client(0x80 | PONG, b"k")]);
    for cuts in every_cut(input.len()) {
        for use_read_buf in [false, true] {
            let (mut conn, start) =
                server(Config::builder().idle_timeout(Some(10 * SECOND)).build());
            let (events, last) =
                feed_in_time(&mut conn, start, 6 * SECOND, &input, &cuts, use_read_buf);
            let what = format!("cuts {cuts:?} read_buf {use_read_buf}");
            assert_eq!(events.len(), 2, "{what}: {events:?}");
            assert_eq!(conn.poll_timeout(), Some(last + 10 * SECOND), "{what}");
            conn.handle_timeout(last + 10 * SECOND - Duration::from_nanos(1));
            assert_eq!(conn.state(), State::Open, "{what}");
            conn.handle_timeout(last + 10 * SECOND);
            assert_eq!(conn.state(), State::Closed, "{what}");
            let frames = wire(&mut conn);
            assert_eq!(
                frames,
                [(0x80 | CLOSE, close_payload(1001, b"idle timeout"))],
                "{what}"
            );
        }
    }
}

// ---- keepalive and what the peer answers ----

#[test]
fn keepalive_answered_by_any_pong_or_none() {
    let config = Config::builder()
        .ping_interval(Some(10 * SECOND))
        .idle_timeout(Some(25 * SECOND))
        .build();
    // The right pong, a wrong payload, an unsolicited one: all are bytes
    // from the peer, reported as pongs, and restart the clocks.
    for answer in [&b""[..], b"not yours", &[0xFF; 125]] {
        let (mut conn, start) = server(config);
        conn.handle_timeout(start + 10 * SECOND);
        assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
        conn.receive(&client(0x80 | PONG, answer));
        let events = drain(&mut conn);
        assert!(
            matches!(&events[..], [Event::Pong(p)] if p[..] == *answer),
            "{events:?}"
        );
        conn.handle_timeout(start + 11 * SECOND);
        assert_eq!(conn.poll_timeout(), Some(start + 21 * SECOND));
        conn.handle_timeout(start + 35 * SECOND);
        assert_eq!(conn.state(), State::Open, "idle counts from the pong");
        assert!(!wire(&mut conn).is_empty(), "pinged again");
    }
    // No answer at all: pings every interval, then the idle timeout.
    let (mut conn, start) = server(config);
    for s in [10, 20] {
        conn.handle_timeout(start + s * SECOND);
        assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])], "at {s} s");
    }
    assert_eq!(conn.poll_timeout(), Some(start + 25 * SECOND));
    conn.handle_timeout(start + 25 * SECOND);
    assert_eq!(
        wire(&mut conn),
        [(0x80 | CLOSE, close_payload(1001, b"idle timeout"))]
    );
}

#[test]
fn a_client_keepalive_ping_is_masked() {
    let config = Config::builder().ping_interval(Some(SECOND)).build();
    let mut conn = Connection::with_mask_source(Role::Client, config, Box::new(|| [1, 2, 3, 4]));
    let start = Instant::now();
    conn.handle_timeout(start);
    conn.handle_timeout(start + SECOND);
    assert_eq!(&conn.take_output()[..], [0x80 | PING, 0x80, 1, 2, 3, 4]);
}

#[test]
fn no_keepalive_ping_after_our_close() {
    // §5.5.1 as the docs put it: nothing is sent after our close frame.
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(SECOND))
            .close_timeout(Some(10 * SECOND))
            .build(),
    );
    conn.close(CloseCode::NORMAL, "").unwrap();
    for s in 0..10 {
        conn.handle_timeout(start + s * SECOND);
    }
    assert_eq!(conn.state(), State::CloseSent);
    assert_eq!(wire(&mut conn), [(0x80 | CLOSE, close_payload(1000, b""))]);
}

// ---- the idle timeout in every state ----

#[test]
fn idle_timeout_after_our_close_sends_no_second_close_frame() {
    // Our close is out; the peer is silent. Whichever timer runs out
    // first, one close frame goes on the wire (§5.5.1), and one event.
    for (idle, close) in [(5, 10), (10, 5), (7, 7)] {
        let (mut conn, start) = server(
            Config::builder()
                .idle_timeout(Some(idle * SECOND))
                .close_timeout(Some(close * SECOND))
                .build(),
        );
        conn.close(CloseCode::NORMAL, "bye").unwrap();
        conn.handle_timeout(start);
        for s in 1..=10 {
            conn.handle_timeout(start + s * SECOND);
        }
        let what = format!("idle {idle} close {close}");
        assert_eq!(conn.state(), State::Closed, "{what}");
        assert_eq!(
            wire(&mut conn),
            [(0x80 | CLOSE, close_payload(1000, b"bye"))],
            "{what}"
        );
        let events = drain(&mut conn);
        assert_eq!(events.len(), 1, "{what}: {events:?}");
        assert_eq!(conn.poll_timeout(), None, "{what}");
    }
}

#[test]
fn idle_timeout_completes_a_half_written_frame_before_its_close() {
    let (mut conn, start) = server(Config::builder().idle_timeout(Some(SECOND)).build());
    let payload = vec![0x5A; 300];
    conn.send(Message::Binary(payload.clone().into())).unwrap();
    let mut sent = conn.pending_output()[..7].to_vec();
    conn.consume_output(7);
    conn.handle_timeout(start + SECOND);
    sent.extend_from_slice(&conn.take_output());
    assert_eq!(
        parse_server_frames(&sent),
        [
            (0x80 | BINARY, payload),
            (0x80 | CLOSE, close_payload(1001, b"idle timeout"))
        ]
    );
}

#[test]
fn idle_timeout_while_the_output_is_full_still_sends_its_close() {
    let (mut conn, start) = server(
        Config::builder()
            .idle_timeout(Some(SECOND))
            .max_output_buffer(1)
            .build(),
    );
    conn.send(Message::from("unread")).unwrap();
    conn.handle_timeout(start + SECOND);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(
        wire(&mut conn),
        [
            (0x80 | TEXT, b"unread".to_vec()),
            (0x80 | CLOSE, close_payload(1001, b"idle timeout"))
        ]
    );
}

#[test]
fn after_an_idle_timeout_the_peer_is_not_read_or_answered() {
    let (mut conn, start) = server(Config::builder().idle_timeout(Some(SECOND)).build());
    conn.handle_timeout(start + SECOND);
    wire(&mut conn);
    let events = drain(&mut conn);
    let closed = closed(&events);
    assert_eq!(
        (closed.code, closed.reason.as_str(), closed.initiator),
        (CloseCode::GOING_AWAY, "idle timeout", Initiator::Local)
    );
    conn.receive(&stream(&[
        client(0x80 | PING, b"late"),
        client(0x80 | CLOSE, &close_payload(1000, b"")),
    ]));
    assert_eq!(drain(&mut conn), []);
    assert!(!conn.has_output(), "no pong, no second close");
    conn.handle_timeout(start + HOUR);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(drain(&mut conn), []);
}

// ---- the close timeout ----

#[test]
fn the_peers_close_one_tick_before_or_at_the_close_deadline() {
    let tick = Duration::from_nanos(1);
    let answer = client(0x80 | CLOSE, &close_payload(1000, b"ok"));
    for cuts in every_cut(answer.len()) {
        for use_read_buf in [false, true] {
            // Before: the handshake completes, with the peer's code.
            let (mut conn, start) = server(Config::default());
            conn.close(CloseCode::NORMAL, "").unwrap();
            conn.handle_timeout(start);
            let deadline = start + Config::DEFAULT_CLOSE_TIMEOUT;
            conn.handle_timeout(deadline - tick);
            let (events, out) = feed_cut(&mut conn, &answer, &cuts, use_read_buf);
            let what = format!("cuts {cuts:?} read_buf {use_read_buf}");
            assert_eq!(events.len(), 1, "{what}");
            assert_eq!(closed(&events).code, CloseCode::NORMAL, "{what}");
            assert_eq!(closed(&events).reason, "ok", "{what}");
            assert_eq!(
                parse_server_frames(&out),
                [(0x80 | CLOSE, close_payload(1000, b""))],
                "{what}"
            );
            assert_eq!(conn.poll_timeout(), None, "{what}");
            conn.handle_timeout(deadline);
            assert_eq!(drain(&mut conn), [], "{what}: no second event");

            // At the deadline: 1006, and the late answer changes nothing.
            let (mut conn, start) = server(Config::default());
            conn.close(CloseCode::NORMAL, "").unwrap();
            conn.handle_timeout(start);
            conn.handle_timeout(start + Config::DEFAULT_CLOSE_TIMEOUT);
            let (events, out) = feed_cut(&mut conn, &answer, &cuts, use_read_buf);
            assert_eq!(events.len(), 1, "{what}");
            assert_eq!(closed(&events).code, CloseCode::ABNORMAL, "{what}");
            assert_eq!(closed(&events).reason, "close timeout", "{what}");
            assert_eq!(
                parse_server_frames(&out),
                [(0x80 | CLOSE, close_payload(1000, b""))],
                "{what}: only our close, written before"
            );
        }
    }
}

#[test]
fn the_close_clock_starts_when_our_close_is_queued_not_written() {
    // The docs: the clock starts at the first now after `close`; an
    // unwritten close frame (a peer that reads nothing) still times out.
    let (mut conn, start) = server(Config::builder().max_output_buffer(1).build());
    conn.send(Message::from(vec![1u8; 1000])).unwrap();
    conn.close(CloseCode::NORMAL, "")
        .expect("close is never OutputFull");
    conn.handle_timeout(start + SECOND);
    let deadline = start + SECOND + Config::DEFAULT_CLOSE_TIMEOUT;
    assert_eq!(conn.poll_timeout(), Some(deadline));
    let mut read = conn.pending_output()[..10].to_vec();
    conn.consume_output(10);
    assert_eq!(conn.poll_timeout(), Some(deadline), "a write moves nothing");
    conn.handle_timeout(deadline);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(closed(&drain(&mut conn)).code, CloseCode::ABNORMAL);
    // The rest of the output is still the connection's to hand out.
    read.extend_from_slice(&conn.take_output());
    assert_eq!(
        parse_server_frames(&read),
        [
            (0x80 | BINARY, vec![1; 1000]),
            (0x80 | CLOSE, close_payload(1000, b""))
        ]
    );
}

#[test]
fn a_failed_or_peer_closed_connection_runs_no_timer() {
    let config = Config::builder()
        .ping_interval(Some(SECOND))
        .idle_timeout(Some(2 * SECOND))
        .build();
    for input in [
        client(0x80 | CLOSE, &close_payload(1000, b"")),
        client(0x80 | 0x3, b""),            // reserved opcode: 1002
        client(0x80 | TEXT, &[0xFF]),       // invalid UTF-8: 1007
        raw_frame(0x80 | TEXT, b"x", None), // unmasked: 1002
    ] {
        let (mut conn, start) = server(config);
        conn.receive(&input);
        let events = drain(&mut conn);
        assert_eq!(conn.state(), State::Closed, "{events:?}");
        assert_eq!(conn.poll_timeout(), None);
        let out = conn.take_output();
        conn.handle_timeout(start + HOUR);
        assert_eq!(drain(&mut conn), [], "{out:02x?}");
        assert!(!conn.has_output());
    }
}

// ---- the output bound ----

#[test]
fn a_send_is_refused_exactly_at_the_limit_after_a_write_of_every_length() {
    const LIMIT: usize = 20;
    let first = Message::from(vec![3u8; 30]); // 32 bytes with its header
    let second = Message::from("next");
    for written in 0..=32 {
        let (mut conn, _) = server(Config::builder().max_output_buffer(LIMIT).build());
        conn.send(first.clone()).unwrap();
        let mut sent = conn.pending_output()[..written].to_vec();
        conn.consume_output(written);
        let pending = 32 - written;
        let before = conn.pending_output().to_vec();
        let result = conn.send(second.clone());
        if pending >= LIMIT {
            assert_eq!(
                result,
                Err(SendError::OutputFull {
                    pending,
                    limit: LIMIT
                }),
                "written {written}"
            );
            assert_eq!(conn.pending_output(), &before[..], "nothing queued");
            assert_eq!(conn.output_len(), pending);
        } else {
            assert_eq!(result, Ok(()), "written {written}");
        }
        // Written out a byte at a time, then the second goes.
        while conn.has_output() {
            sent.push(conn.pending_output()[0]);
            conn.consume_output(1);
        }
        if pending >= LIMIT {
            conn.send(second.clone()).unwrap();
            sent.extend_from_slice(&conn.take_output());
        }
        assert_eq!(
            parse_server_frames(&sent),
            [
                (0x80 | BINARY, vec![3; 30]),
                (0x80 | TEXT, b"next".to_vec())
            ],
            "written {written}"
        );
    }
}

#[test]
fn a_users_pong_and_ping_are_never_replaced_by_an_automatic_pong() {
    let (mut conn, _) = server(Config::builder().max_output_buffer(1).build());
    conn.pong(b"mine").unwrap();
    conn.receive(&client(0x80 | PING, b"p1"));
    conn.receive(&client(0x80 | PING, b"p2"));
    drain(&mut conn);
    assert_eq!(
        wire(&mut conn),
        [
            (0x80 | PONG, b"mine".to_vec()),
            (0x80 | PONG, b"p2".to_vec())
        ]
    );
    conn.ping(b"ours").unwrap();
    conn.receive(&client(0x80 | PING, b"p3"));
    drain(&mut conn);
    assert_eq!(
        wire(&mut conn),
        [
            (0x80 | PING, b"ours".to_vec()),
            (0x80 | PONG, b"p3".to_vec())
        ]
    );
}

/// Pings of every length flood a server whose peer reads a few bytes now
/// and then; data is sent when there is room. What the peer reads must be
/// whole frames: every data message intact and in order, pongs answering
/// pings in the order they came (some skipped, §5.5.3), the latest ping
/// answered, and the output bounded at every step. Small messages read a
/// few bytes at a time; then large ones (a server holds 16 KiB or more by
/// reference) read with vectored writes that end anywhere.
#[test]
fn pings_flooding_a_trickling_reader_give_whole_frames_and_the_latest_answer() {
    const LIMIT: usize = 64;
    for (largest, read_at_most, seeds) in [(40, 4, 200u64), (20_000, 6000, 40)] {
        // Under the limit, one frame more (a message, or a pong begun and
        // so kept); then the one coalesced pong.
        let bound = LIMIT + (largest + 4).max(127) + 127;
        let (mut pings, mut pongs) = (0, 0);
        for seed in 1..seeds {
            let (sent, answered) = flood(seed, LIMIT, largest, read_at_most, bound);
            pings += sent;
            pongs += answered;
        }
        assert!(
            pongs < pings,
            "the runs coalesce: {pongs} pongs, {pings} pings"
        );
    }
}

/// Bytes the peer reads: at most `n` from the runs a vectored write gets.
fn read_vectored(conn: &mut Connection, n: usize) -> Vec<u8> {
    let mut slices = [std::io::IoSlice::new(&[]); 8];
    let filled = conn.pending_output_vectored(&mut slices);
    let mut read = Vec::new();
    for slice in &slices[..filled] {
        let take = (n - read.len()).min(slice.len());
        read.extend_from_slice(&slice[..take]);
    }
    conn.consume_output(read.len());
    read
}

/// One run of the flood: see the test above.
/// Returns how many pings were sent and how many pongs answered them.
fn flood(
    seed: u64,
    limit: usize,
    largest: usize,
    read_at_most: usize,
    bound: usize,
) -> (usize, usize) {
    let mut rng = Rng(seed);
    let (mut conn, _) = server(Config::builder().max_output_buffer(limit).build());
    let mut peer_read = Vec::new();
    let mut sent_messages = Vec::new();
    let mut last_ping = None;
    let mut pings = 0;
    for n in 0..300u32 {
        match rng.below(4) {
            0 | 1 => {
                let len = rng.below(126);
                let mut payload = vec![(n % 251) as u8; len];
                if len >= 4 {
                    payload[..4].copy_from_slice(&n.to_be_bytes());
                }
                let wire_ping = client(0x80 | PING, &payload);
                // The ping itself arrives cut in two.
                let cut = rng.below(wire_ping.len() + 1);
                conn.receive(&wire_ping[..cut]);
                let mut events = drain(&mut conn);
                conn.receive(&wire_ping[cut..]);
                events.extend(drain(&mut conn));
                assert!(
                    matches!(&events[..], [Event::Ping(p)] if p[..] == payload[..]),
                    "seed {seed}"
                );
                last_ping = Some(payload);
                pings += 1;
            }
            2 => {
                let message = vec![(n % 256) as u8; rng.below(largest)];
                if conn.send(Message::Binary(message.clone().into())).is_ok() {
                    sent_messages.push(message);
                }
            }
            _ => {
                let n = rng.below(read_at_most);
                peer_read.extend(read_vectored(&mut conn, n));
            }
        }
        assert!(
            conn.output_len() < bound,
            "seed {seed}: {}",
            conn.output_len()
        );
    }
    peer_read.extend_from_slice(&conn.take_output());
    let frames = parse_server_frames(&peer_read);
    let data: Vec<Vec<u8>> = frames
        .iter()
        .filter(|f| f.0 == 0x80 | BINARY)
        .map(|f| f.1.clone())
        .collect();
    assert_eq!(data, sent_messages, "seed {seed}: data intact, in order");
    let pongs: Vec<&Vec<u8>> = frames
        .iter()
        .filter(|f| f.0 == 0x80 | PONG)
        .map(|f| &f.1)
        .collect();
    assert_eq!(
        frames.len(),
        data.len() + pongs.len(),
        "seed {seed}: nothing else"
    );
    if let Some(last) = &last_ping {
        assert_eq!(pongs.last(), Some(&last), "seed {seed}: latest answered");
    }
    // Pongs answer pings in order: each tagged payload's number rises.
    let tags: Vec<u32> = pongs
        .iter()
        .filter(|p| p.len() >= 4)
        .map(|p| u32::from_be_bytes(p[..4].try_into().unwrap()))
        .collect();
    assert!(
        tags.windows(2).all(|w| w[0] < w[1]),
        "seed {seed}: {tags:?}"
    );
    (pings, pongs.len())
}

#[test]
fn a_half_written_pong_is_finished_intact_at_every_point() {
    // Output full from the start; the pong for "first" is cut anywhere,
    // then a new ping comes: the peer reads "first" whole, then "second".
    let first = client(0x80 | PING, b"first ping payload");
    let len = 2 + b"first ping payload".len();
    for written in 0..=len {
        let (mut conn, _) = server(Config::builder().max_output_buffer(1).build());
        conn.receive(&first);
        drain(&mut conn);
        let mut read = Vec::new();
        read.extend_from_slice(&conn.pending_output()[..written]);
        conn.consume_output(written);
        conn.receive(&client(0x80 | PING, b"second"));
        conn.receive(&client(0x80 | PING, b"third"));
        drain(&mut conn);
        while conn.has_output() {
            read.push(conn.pending_output()[0]);
            conn.consume_output(1);
        }
        // Unbegun, the first pong may be replaced; begun, it is finished.
        let mut want = vec![(0x80 | PONG, b"third".to_vec())];
        if written > 0 {
            want.insert(0, (0x80 | PONG, b"first ping payload".to_vec()));
        }
        assert_eq!(parse_server_frames(&read), want, "written {written}");
    }
}

// ---- the close handshake under backpressure ----

#[test]
fn the_peers_close_while_our_output_is_full_is_answered() {
    let input = stream(&[
        client(0x80 | PING, b"p"),
        client(0x80 | CLOSE, &close_payload(1001, b"leaving")),
    ]);
    for cuts in every_cut(input.len()) {
        for use_read_buf in [false, true] {
            let (mut conn, _) = server(Config::builder().max_output_buffer(8).build());
            conn.send(Message::from(vec![4u8; 100])).unwrap();
            let mut read = conn.pending_output()[..50].to_vec();
            conn.consume_output(50);
            let (events, out) = feed_cut(&mut conn, &input, &cuts, use_read_buf);
            read.extend_from_slice(&out);
            let what = format!("cuts {cuts:?} read_buf {use_read_buf}");
            assert_eq!(events.len(), 2, "{what}: {events:?}");
            let closed = closed(&events);
            assert_eq!(
                (closed.code, closed.initiator),
                (CloseCode::GOING_AWAY, Initiator::Peer),
                "{what}"
            );
            assert_eq!(
                parse_server_frames(&read),
                [
                    (0x80 | BINARY, vec![4; 100]),
                    (0x80 | PONG, b"p".to_vec()),
                    (0x80 | CLOSE, 1001u16.to_be_bytes().to_vec()),
                ],
                "{what}"
            );
            assert_eq!(conn.state(), State::Closed);
        }
    }
}

#[test]
fn a_ping_after_our_close_neither_answers_nor_moves_an_unsent_pong_behind_it() {
    // The pong owed before our close stays before it; a ping after our
    // close gets no pong (§5.5.1), and must not replace the earlier one
    // with a pong after our close frame.
    let (mut conn, _) = server(Config::builder().max_output_buffer(1).build());
    conn.receive(&client(0x80 | PING, b"before"));
    drain(&mut conn);
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.receive(&client(0x80 | PING, b"after"));
    let events = drain(&mut conn);
    assert!(matches!(&events[..], [Event::Ping(_)]), "{events:?}");
    assert_eq!(
        wire(&mut conn),
        [
            (0x80 | PONG, b"before".to_vec()),
            (0x80 | CLOSE, close_payload(1000, b""))
        ]
    );
}

#[test]
fn close_while_the_output_is_full_is_queued_after_everything_unsent() {
    let (mut conn, start) = server(Config::builder().max_output_buffer(4).build());
    conn.send(Message::from("a message")).unwrap();
    let mut read = conn.pending_output()[..3].to_vec();
    conn.consume_output(3);
    assert!(matches!(
        conn.send(Message::from("refused")),
        Err(SendError::OutputFull { .. })
    ));
    conn.close(CloseCode::NORMAL, "done").unwrap();
    conn.handle_timeout(start);
    conn.receive(&client(0x80 | CLOSE, &close_payload(1000, b"")));
    let events = drain(&mut conn);
    assert_eq!(closed(&events).initiator, Initiator::Local);
    while conn.has_output() {
        read.push(conn.pending_output()[0]);
        conn.consume_output(1);
    }
    assert_eq!(
        parse_server_frames(&read),
        [
            (0x80 | TEXT, b"a message".to_vec()),
            (0x80 | CLOSE, close_payload(1000, b"done"))
        ]
    );
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn an_empty_receive_is_no_sign_of_life() {
    let (mut conn, start) = server(Config::builder().idle_timeout(Some(10 * SECOND)).build());
    for s in [3, 6, 9] {
        conn.receive(&[]);
        drain(&mut conn);
        conn.handle_timeout(start + s * SECOND);
    }
    assert_eq!(conn.poll_timeout(), Some(start + 10 * SECOND));
    conn.handle_timeout(start + 10 * SECOND);
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn with_auto_pong_off_a_ping_flood_queues_nothing() {
    let (mut conn, _) = server(
        Config::builder()
            .auto_pong(false)
            .max_output_buffer(1)
            .build(),
    );
    conn.send(Message::from("unread")).unwrap();
    let before = conn.output_len();
    for n in 0..1000u32 {
        conn.receive(&client(0x80 | PING, &n.to_be_bytes()));
        assert_eq!(drain(&mut conn).len(), 1);
    }
    assert_eq!(conn.output_len(), before);
}

#[test]
fn both_closes_crossing_while_our_output_is_full_send_one_close_frame() {
    let answer = client(0x80 | CLOSE, &close_payload(1000, b"crossing"));
    for cuts in every_cut(answer.len()) {
        for use_read_buf in [false, true] {
            let what = format!("cuts {cuts:?} read_buf {use_read_buf}");
            let (mut conn, start) = server(Config::builder().max_output_buffer(1).build());
            conn.send(Message::from("unread")).unwrap();
            let mut read = conn.pending_output()[..1].to_vec();
            conn.consume_output(1);
            conn.close(CloseCode::NORMAL, "mine").unwrap();
            conn.handle_timeout(start);
            let (events, out) = feed_cut(&mut conn, &answer, &cuts, use_read_buf);
            read.extend_from_slice(&out);
            assert_eq!(events.len(), 1, "{what}: {events:?}");
            let closed = closed(&events);
            assert_eq!(
                (closed.code, closed.reason.as_str(), closed.initiator),
                (CloseCode::NORMAL, "crossing", Initiator::Local),
                "{what}"
            );
            assert_eq!(
                parse_server_frames(&read),
                [
                    (0x80 | TEXT, b"unread".to_vec()),
                    (0x80 | CLOSE, close_payload(1000, b"mine"))
                ],
                "{what}"
            );
            assert_eq!(conn.poll_timeout(), None, "{what}");
        }
    }
}

#[test]
fn a_protocol_error_while_our_output_is_full_still_queues_its_close() {
    // A ping (answered, coalesced), then a reserved opcode: 1002 (§7.1.7).
    let input = stream(&[client(0x80 | PING, b"p"), client(0x80 | 0xB, b"")]);
    for cuts in every_cut(input.len()) {
        for use_read_buf in [false, true] {
            let what = format!("cuts {cuts:?} read_buf {use_read_buf}");
            let (mut conn, _) = server(Config::builder().max_output_buffer(1).build());
            conn.send(Message::from("unread")).unwrap();
            let mut read = conn.pending_output()[..3].to_vec();
            conn.consume_output(3);
            let (events, out) = feed_cut(&mut conn, &input, &cuts, use_read_buf);
            read.extend_from_slice(&out);
            assert_eq!(closed(&events).code, CloseCode::PROTOCOL_ERROR, "{what}");
            let frames = parse_server_frames(&read);
            assert_eq!(frames.len(), 3, "{what}: {frames:?}");
            assert_eq!(frames[0], (0x80 | TEXT, b"unread".to_vec()), "{what}");
            assert_eq!(frames[1], (0x80 | PONG, b"p".to_vec()), "{what}");
            assert_eq!(frames[2].0, 0x80 | CLOSE, "{what}");
            assert_eq!(frames[2].1[..2], 1002u16.to_be_bytes(), "{what}");
            assert_eq!(conn.poll_timeout(), None, "{what}");
        }
    }
}

/// Bytes handed over before a `now` count as arriving at that `now`: for
/// the idle clock they are in time (the idle deadline at that `now` does
/// not fire), and so is the peer's close among them for the close clock.
/// (It was dropped unread, and the connection reported 1006 "close
/// timeout": a loop that does what `handle_timeout`'s docs say, read,
/// `handle_timeout(now)`, then `next_event`, met it whenever the answer was
/// read in the same turn as the deadline, as the tokio wrapper reads.)
/// Bytes in hand without a close: 1006 once they are read, with no timer
/// and the state `CloseSent` until then.
#[test]
fn a_peers_close_in_hand_at_the_close_deadline_is_the_answer() {
    let answer = client(0x80 | CLOSE, &close_payload(1000, b"ok"));
    for use_read_buf in [false, true] {
        // The idle clock, the same order of calls: the bytes count.
        let (mut conn, start) = server(Config::builder().idle_timeout(Some(10 * SECOND)).build());
        conn.handle_timeout(start + 9 * SECOND);
        conn.receive(&client(0x80 | PONG, b""));
        conn.handle_timeout(start + 10 * SECOND);
        assert_eq!(conn.state(), State::Open, "bytes in hand are life");

        let (mut conn, start) = server(Config::default());
        conn.close(CloseCode::NORMAL, "").unwrap();
        conn.handle_timeout(start);
        if use_read_buf {
            conn.read_buf().extend_from_slice(&answer);
        } else {
            conn.receive(&answer);
        }
        conn.handle_timeout(start + Config::DEFAULT_CLOSE_TIMEOUT);
        let events = drain(&mut conn);
        let closed = closed(&events);
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (CloseCode::NORMAL, "ok"),
            "read_buf {use_read_buf}: the peer's answer, not a timeout"
        );
        assert_eq!(conn.state(), State::Closed);

        // Data, then a ping, in hand: read (and dropped, §5.5.1), then the
        // timeout, once.
        let (mut conn, start) = server(Config::default());
        conn.close(CloseCode::NORMAL, "").unwrap();
        conn.handle_timeout(start);
        let mut input = client(0x80 | TEXT, b"late");
        input.extend_from_slice(&client(0x80 | PING, b"p"));
        if use_read_buf {
            conn.read_buf().extend_from_slice(&input);
        } else {
            conn.receive(&input);
        }
        conn.handle_timeout(start + Config::DEFAULT_CLOSE_TIMEOUT);
        assert_eq!(conn.state(), State::CloseSent, "read_buf {use_read_buf}");
        assert_eq!(conn.poll_timeout(), None, "read_buf {use_read_buf}");
        let events = drain(&mut conn);
        let timed_out = self::closed(&events);
        assert_eq!(
            (timed_out.code, timed_out.reason.as_str()),
            (CloseCode::ABNORMAL, "close timeout"),
            "read_buf {use_read_buf}: {events:?}"
        );
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(conn.next_event(), None, "one close event");
    }
}

#[test]
fn reading_what_is_in_read_buf_and_making_room_are_no_sign_of_life() {
    // Handing out `read_buf`, reading the frames in it and `prepare_read`
    // moving a partial frame down change its length: none is a byte from
    // the peer. A frame read in place (40 000 bytes) and one copied.
    for large in [false, true] {
        let (mut conn, start) = server(Config::builder().idle_timeout(Some(10 * SECOND)).build());
        let first = if large {
            client(0x80 | BINARY, &vec![1; 40_000])
        } else {
            client(0x80 | PING, b"a")
        };
        let mut input = stream(&[first.clone(), first]);
        input.extend_from_slice(&client(0x80 | PING, b"b")[..1]);
        conn.read_buf().extend_from_slice(&input);
        assert!(conn.next_event().is_some());
        conn.handle_timeout(start + SECOND);
        for s in 2..=10 {
            let _ = conn.read_buf();
            drain(&mut conn);
            conn.prepare_read(if s % 2 == 0 { 4096 } else { 100_000 });
            conn.prepare_read(16);
            conn.handle_timeout(start + s * SECOND);
            assert_eq!(conn.state(), State::Open, "large {large} at {s} s");
        }
        conn.handle_timeout(start + 11 * SECOND);
        assert_eq!(conn.state(), State::Closed, "large {large}");
    }
}

/// A zero keepalive interval would be due again at the very `now` that
/// pinged: `poll_timeout` returns `now`, a caller sleeping until it spins,
/// and every turn queues another ping (up to the 4 MiB output limit). As
/// `max_output_buffer(0)` is taken as 1, a zero interval must not mean a
/// busy loop.
#[test]
fn a_zero_ping_interval_is_no_busy_loop() {
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(Duration::ZERO))
            .build(),
    );
    let mut now = start;
    for turn in 0..100 {
        conn.handle_timeout(now);
        if let Some(at) = conn.poll_timeout() {
            assert!(at > now, "turn {turn}: due again at once");
            now = at;
        }
    }
    assert!(
        conn.output_len() <= 2,
        "{} bytes of pings",
        conn.output_len()
    );
}
