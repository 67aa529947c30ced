//! The sans-IO clocks (keepalive, idle and close timeouts) driven with
//! explicit instants, and the bounded output: `OutputFull` queues nothing,
//! automatic pongs are coalesced while unsent once the output is full
//! (RFC 6455 §5.5.3).

mod common;

use std::time::Duration;

use common::{
    hand_driven::{drain, server, wire},
    *,
};
use wsframe::{CloseCode, Config, Connection, Event, Initiator, Message, Role, SendError, State};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn no_timer_runs_unless_configured_or_before_the_first_now() {
    let config = Config::builder().ping_interval(Some(SECOND)).build();
    assert_eq!(Connection::new(Role::Server, config).poll_timeout(), None);
    let (conn, _) = server(Config::builder().close_timeout(None).build());
    assert_eq!(conn.poll_timeout(), None);
    // The default close timeout runs only once our close is sent; bytes
    // received start no clock when no silence is timed.
    let (mut conn, _) = server(Config::default());
    conn.receive(&client(0x80 | PING, b""));
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn keepalive_pings_once_per_interval_of_silence() {
    let (mut conn, start) = server(Config::builder().ping_interval(Some(10 * SECOND)).build());
    assert_eq!(conn.poll_timeout(), Some(start + 10 * SECOND));
    conn.handle_timeout(start + 9 * SECOND);
    assert!(!conn.has_output(), "no ping before the interval");
    conn.handle_timeout(start + 10 * SECOND);
    assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
    assert_eq!(conn.poll_timeout(), Some(start + 20 * SECOND));
    conn.handle_timeout(start + 20 * SECOND);
    assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
}

#[test]
fn bytes_from_the_peer_restart_the_keepalive_clock() {
    let (mut conn, start) = server(Config::builder().ping_interval(Some(10 * SECOND)).build());
    conn.receive(&client(0x80 | PONG, b""));
    // The clock restarts at the next `now`, which is asked for at once.
    assert_eq!(conn.poll_timeout(), Some(start));
    conn.handle_timeout(start + 8 * SECOND);
    assert_eq!(conn.poll_timeout(), Some(start + 18 * SECOND));
    conn.handle_timeout(start + 10 * SECOND);
    assert!(!conn.has_output(), "the peer spoke 2 s ago");
    conn.handle_timeout(start + 18 * SECOND);
    assert_eq!(wire(&mut conn), [(0x80 | PING, vec![])]);
}

#[test]
fn bytes_appended_to_read_buf_count_as_received() {
    let (mut conn, start) = server(Config::builder().idle_timeout(Some(10 * SECOND)).build());
    conn.read_buf().extend_from_slice(&client(0x80 | PONG, b""));
    conn.handle_timeout(start + 9 * SECOND);
    conn.handle_timeout(start + 18 * SECOND);
    assert_eq!(conn.state(), State::Open);
    // Handed out but nothing appended: no activity.
    let _ = conn.read_buf();
    conn.handle_timeout(start + 19 * SECOND);
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn idle_timeout_closes_with_1001_and_reports_it() {
    let (mut conn, start) = server(
        Config::builder()
            .ping_interval(Some(5 * SECOND))
            .idle_timeout(Some(12 * SECOND))
            .build(),
    );
    conn.handle_timeout(start + 5 * SECOND);
    conn.handle_timeout(start + 10 * SECOND);
    assert_eq!(wire(&mut conn).len(), 2, "two keepalive pings");
    assert_eq!(conn.poll_timeout(), Some(start + 12 * SECOND));
    conn.handle_timeout(start + 12 * SECOND);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(close_code_on_wire(&conn.take_output()), Some(1001));
    assert_eq!(conn.poll_timeout(), None);
    let events = drain(&mut conn);
    let [Event::Closed(closed)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(closed.code, CloseCode::GOING_AWAY);
    assert_eq!(closed.reason, "idle timeout");
    assert_eq!(closed.initiator, Initiator::Local);
    assert_eq!(conn.send(Message::from("late")), Err(SendError::Closed));
}

#[test]
fn unanswered_close_times_out_with_1006() {
    let (mut conn, start) = server(Config::default());
    conn.handle_timeout(start + 3 * SECOND);
    conn.close(CloseCode::NORMAL, "bye").unwrap();
    conn.handle_timeout(start + 4 * SECOND);
    let deadline = start + 4 * SECOND + Config::DEFAULT_CLOSE_TIMEOUT;
    assert_eq!(conn.poll_timeout(), Some(deadline));
    conn.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(conn.state(), State::CloseSent);
    conn.handle_timeout(deadline);
    assert_eq!(conn.state(), State::Closed);
    let events = drain(&mut conn);
    let [Event::Closed(closed)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(closed.code, CloseCode::ABNORMAL);
    assert_eq!(closed.reason, "close timeout");
    // Only our own close frame went out: 1006 is never sent.
    assert_eq!(close_code_on_wire(&conn.take_output()), Some(1000));
}

#[test]
fn answered_close_stops_the_close_clock() {
    let (mut conn, start) = server(Config::default());
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.handle_timeout(start);
    conn.receive(&client(0x80 | CLOSE, &close_payload(1000, b"")));
    let events = drain(&mut conn);
    assert!(matches!(&events[..], [Event::Closed(c)] if c.code == CloseCode::NORMAL));
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(start + Config::DEFAULT_CLOSE_TIMEOUT);
    assert_eq!(drain(&mut conn), []);
}

#[test]
fn a_clock_going_backwards_changes_nothing() {
    let (mut conn, start) = server(Config::builder().ping_interval(Some(SECOND)).build());
    conn.handle_timeout(start + 5 * SECOND);
    assert_eq!(wire(&mut conn).len(), 1);
    conn.handle_timeout(start);
    assert_eq!(conn.poll_timeout(), Some(start + 6 * SECOND));
    assert!(!conn.has_output());
}

#[test]
fn a_hundred_thousand_unread_pings_leave_one_pong_past_the_limit() {
    const LIMIT: usize = 64;
    let (mut conn, _) = server(Config::builder().max_output_buffer(LIMIT).build());
    let mut pings = Vec::new();
    for n in 0..100_000u32 {
        pings.extend_from_slice(&client(0x80 | PING, &n.to_be_bytes()));
        if pings.len() > 64 * 1024 || n == 99_999 {
            conn.receive(&pings);
            pings.clear();
            while conn.next_event().is_some() {}
            assert!(
                conn.output_len() < LIMIT + 2 + 4,
                "at most one pong past the limit"
            );
        }
    }
    // The last one answers the latest ping (§5.5.3).
    let frames = wire(&mut conn);
    assert_eq!(
        frames.last(),
        Some(&(0x80 | PONG, 99_999u32.to_be_bytes().to_vec()))
    );
}

#[test]
fn under_the_limit_every_ping_gets_its_pong_in_order() {
    // As Autobahn 2.10 and 2.11 expect: ten pings in one read, ten pongs.
    let (mut conn, _) = server(Config::default());
    let pings: Vec<u8> = (0..10u8)
        .flat_map(|n| client(0x80 | PING, &[n; 10]))
        .collect();
    conn.receive(&pings);
    while conn.next_event().is_some() {}
    let want: Vec<(u8, Vec<u8>)> = (0..10u8).map(|n| (0x80 | PONG, vec![n; 10])).collect();
    assert_eq!(wire(&mut conn), want);
}

#[test]
fn a_pong_partly_written_goes_out_whole_and_the_next_follows_it() {
    // A full output (any pending byte fills it): pongs are coalesced.
    let (mut conn, _) = server(Config::builder().max_output_buffer(1).build());
    conn.receive(&client(0x80 | PING, b"first"));
    drain(&mut conn);
    let written = conn.pending_output()[..1].to_vec();
    conn.consume_output(1);
    conn.receive(&client(0x80 | PING, b"second"));
    conn.receive(&client(0x80 | PING, b"third"));
    drain(&mut conn);
    let mut sent = written;
    sent.extend_from_slice(&conn.take_output());
    assert_eq!(
        server_frames(&sent),
        [
            (0x80 | PONG, b"first".to_vec()),
            (0x80 | PONG, b"third".to_vec())
        ]
    );
}

#[test]
fn a_replaced_pong_leaves_frames_queued_after_it_intact() {
    // Room for the first pong and a send after it; full when "new" comes.
    let (mut conn, _) = server(Config::builder().max_output_buffer(6).build());
    conn.receive(&client(0x80 | PING, b"old"));
    drain(&mut conn);
    conn.send(Message::from("between")).unwrap();
    conn.receive(&client(0x80 | PING, b"new"));
    drain(&mut conn);
    assert_eq!(
        wire(&mut conn),
        [
            (0x80 | TEXT, b"between".to_vec()),
            (0x80 | PONG, b"new".to_vec())
        ]
    );
}

#[test]
fn a_full_output_refuses_sends_and_queues_nothing() {
    let limit = 1000;
    let (mut conn, _) = server(Config::builder().max_output_buffer(limit).build());
    let message = Message::Binary(vec![7; 300].into());
    let mut accepted = 0;
    loop {
        let before = conn.pending_output().to_vec();
        match conn.send(message.clone()) {
            Ok(()) => accepted += 1,
            Err(err) => {
                assert_eq!(
                    err,
                    SendError::OutputFull {
                        pending: before.len(),
                        limit
                    }
                );
                assert_eq!(conn.pending_output(), &before[..], "nothing queued");
                break;
            }
        }
    }
    assert_eq!(
        accepted, 4,
        "accepted while under the limit: 0, 304, 608, 912"
    );
    assert!(conn.output_len() <= limit + 304);
    assert!(matches!(conn.ping(b""), Err(SendError::OutputFull { .. })));
    assert!(matches!(
        conn.send_fragment(Message::from("x"), true),
        Err(SendError::OutputFull { .. })
    ));
    // Automatic pongs and the close still go out.
    conn.receive(&client(0x80 | PING, b"p"));
    drain(&mut conn);
    conn.close(CloseCode::NORMAL, "").unwrap();
    let frames = wire(&mut conn);
    assert_eq!(frames.len(), 6);
    // Written out, there is room again.
    let (mut conn, _) = server(Config::builder().max_output_buffer(limit).build());
    while conn.send(message.clone()).is_ok() {}
    let pending = conn.output_len();
    conn.consume_output(pending);
    assert_eq!(conn.send(message), Ok(()));
}

/// A server's output with every kind of run: small frames copied in, two
/// large payloads held by reference (a message and a fragment), a ping and
/// a close between them. Returns the payloads sent by reference.
fn queue_mixed(conn: &mut Connection) -> [Message; 2] {
    thread_local! {
        // Made once: debug builds validate text slowly.
        static PAYLOADS: [Message; 2] = [
            Message::from(vec![0xA5; 16 * 1024]),
            Message::from("é".repeat(8 * 1024 + 1)),
        ];
    }
    let payloads = PAYLOADS.with(Clone::clone);
    conn.send(Message::from("small")).unwrap();
    conn.send(payloads[0].clone()).unwrap();
    conn.ping(b"between").unwrap();
    conn.send_fragment(payloads[1].clone(), false).unwrap();
    conn.send_fragment(Message::from("end"), true).unwrap();
    conn.close(CloseCode::NORMAL, "bye").unwrap();
    payloads
}

#[test]
fn vectored_output_cut_at_every_point_sends_what_take_output_sends() {
    let (mut taken, _) = server(Config::default());
    let payloads = queue_mixed(&mut taken);
    let want = taken.take_output().to_vec();
    assert_eq!(
        server_frames(&want),
        [
            (0x80 | TEXT, b"small".to_vec()),
            (0x80 | BINARY, payloads[0].as_bytes().to_vec()),
            (0x80 | PING, b"between".to_vec()),
            (TEXT, payloads[1].as_bytes().to_vec()),
            (0x80 | CONT, b"end".to_vec()),
            (0x80 | CLOSE, [&1000u16.to_be_bytes()[..], b"bye"].concat()),
        ]
    );
    let (mut conn, _) = server(Config::default());
    let payloads = queue_mixed(&mut conn);
    // Headers and small frames, each large payload a run of its own,
    // written from the very buffer that was sent.
    let mut slices = [std::io::IoSlice::new(&[]); 16];
    let n = conn.pending_output_vectored(&mut slices);
    assert_eq!(n, 5);
    assert_eq!(slices[1].as_ptr(), payloads[0].as_bytes().as_ptr());
    assert_eq!(slices[3].as_ptr(), payloads[1].as_bytes().as_ptr());
    assert_eq!(conn.output_len(), want.len());
    assert_eq!(conn.pending_output(), &*slices[0]);
    // Only two slices fit: the first two runs.
    let mut two = [std::io::IoSlice::new(&[]); 2];
    assert_eq!(conn.pending_output_vectored(&mut two), 2);
    assert_eq!(two[1].len(), payloads[0].as_bytes().len());

    let runs: Vec<&[u8]> = slices[..n].iter().map(|s| &**s).collect();
    assert_eq!(runs.concat(), want, "the runs are the output");

    for cut in 0..=want.len() {
        let (mut conn, _) = server(Config::default());
        queue_mixed(&mut conn);
        // A vectored write took `cut` bytes, ending in any run.
        let mut wire = want[..cut].to_vec();
        conn.consume_output(cut);
        assert_eq!(conn.output_len(), want.len() - cut);
        // The rest one run at a time, at most 3000 bytes a write.
        while conn.has_output() {
            let run = conn.pending_output();
            assert!(!run.is_empty());
            let n = run.len().min(3000);
            wire.extend_from_slice(&run[..n]);
            conn.consume_output(n);
        }
        assert_eq!(wire, want, "cut at {cut}");
    }
}

#[test]
fn a_replaced_pong_moves_a_payload_held_by_reference_down_intact() {
    let limit = 100;
    let (mut conn, _) = server(Config::builder().max_output_buffer(limit).build());
    conn.receive(&client(0x80 | PING, b"first"));
    drain(&mut conn);
    let large = bytes::Bytes::from(vec![7u8; 20_000]);
    conn.send(Message::Binary(large.clone())).unwrap();
    assert!(conn.output_len() > limit);
    // Over the limit: the unsent first pong is replaced by this one.
    conn.receive(&client(0x80 | PING, b"second"));
    drain(&mut conn);
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    let n = conn.pending_output_vectored(&mut slices);
    assert_eq!(n, 3, "header, payload, pong");
    assert_eq!(slices[1].as_ptr(), large.as_ptr());
    assert_eq!(
        wire(&mut conn),
        [
            (0x80 | BINARY, large.to_vec()),
            (0x80 | PONG, b"second".to_vec())
        ]
    );
}

#[test]
fn a_client_masks_a_large_payload_into_the_output() {
    let mut conn =
        Connection::with_mask_source(Role::Client, Config::default(), Box::new(|| [1, 2, 3, 4]));
    let large = bytes::Bytes::from(vec![7u8; 20_000]);
    conn.send(Message::Binary(large)).unwrap();
    // Masking needs a copy (RFC 6455 §5.3): one run, copied and masked.
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    assert_eq!(conn.pending_output_vectored(&mut slices), 1);
    assert_eq!(conn.pending_output().len(), 8 + 20_000);
    assert_eq!(conn.pending_output()[8..12], [6, 5, 4, 3]);
}

#[test]
fn an_output_limit_of_zero_sends_one_message_at_a_time() {
    // 0 is taken as 1: a send needs an empty output (0 would refuse all).
    let config = Config::builder().max_output_buffer(0).build();
    assert_eq!(config.max_output_buffer(), 1);
    let (mut conn, _) = server(config);
    conn.send(Message::from("first")).unwrap();
    let pending = conn.output_len();
    assert_eq!(
        conn.send(Message::from("second")),
        Err(SendError::OutputFull { pending, limit: 1 })
    );
    conn.consume_output(pending);
    conn.send(Message::from("second")).unwrap();
    let frames = wire(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].1, b"second");
}
