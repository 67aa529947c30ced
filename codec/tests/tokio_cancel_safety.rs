//! Cancel safety, split halves, timers and backpressure of the tokio layer,
//! over `duplex` streams with tiny buffers so that writes block midway; the
//! peer is a sans-IO `Connection` reading raw bytes, so it sees exactly
//! what went on the wire. Time is tokio's paused clock.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use bytes::Bytes;
use tokio::{
    io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream},
    select,
    time::{sleep, Instant},
};
use wsframe::{
    tokio::{Error, WebSocket},
    CloseCode, Config, Connection, Event, Message, Role, State,
};

use common::tokio_peer::{peer, server};

/// Reads until the peer connection has `count` events, 4096 bytes at a time.
async fn read_events(io: &mut DuplexStream, peer: &mut Connection, count: usize) -> Vec<Event> {
    common::tokio_peer::read_events(io, peer, count, 4096).await
}

/// The repro: a pong half written when `select!` drops `next()`.
#[tokio::test(start_paused = true)]
async fn next_dropped_mid_pong_loses_nothing() {
    let (mut ws, mut io) = server(256, Config::default());
    let binary = Message::Binary(vec![0xAB; 230].into());
    ws.send(binary.clone()).await.unwrap();
    let mut peer = peer();
    peer.ping(&[b'p'; 100]).unwrap();
    io.write_all(&peer.take_output()).await.unwrap();
    // 234 of 256 bytes are taken: the 102-byte pong fits 22 bytes.
    loop {
        select! {
            event = ws.next() => assert_eq!(event.unwrap().unwrap(), Event::Ping(vec![b'p'; 100].into())),
            () = sleep(Duration::from_millis(50)) => break,
        }
    }
    let text = Message::from("after the pong");
    let (sent, events) = tokio::join!(ws.send(text.clone()), read_events(&mut io, &mut peer, 3));
    sent.unwrap();
    assert_eq!(
        events,
        [
            Event::Message(binary),
            Event::Pong(vec![b'p'; 100].into()),
            Event::Message(text)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn send_dropped_mid_write_goes_out_whole() {
    let (mut ws, mut io) = server(64, Config::default());
    let big = Message::Binary((0..1000u32).map(|i| i as u8).collect::<Vec<u8>>().into());
    select! {
        _ = ws.send(big.clone()) => panic!("1004 bytes cannot fit 64"),
        () = sleep(Duration::from_millis(50)) => {}
    }
    let text = Message::from("next");
    let mut peer = peer();
    let (sent, events) = tokio::join!(ws.send(text.clone()), read_events(&mut io, &mut peer, 2));
    sent.unwrap();
    assert_eq!(events, [Event::Message(big), Event::Message(text)]);
}

#[tokio::test(start_paused = true)]
async fn feed_dropped_while_waiting_for_room_queues_nothing() {
    let (mut ws, mut io) = server(64, Config::builder().max_output_buffer(100).build());
    let first = Message::Binary(vec![1; 200].into());
    ws.feed(first.clone()).await.unwrap();
    select! {
        _ = ws.feed(Message::Binary(vec![2; 200].into())) => panic!("no room: 200 bytes unsent"),
        () = sleep(Duration::from_millis(50)) => {}
    }
    let last = Message::from("last");
    let mut peer = peer();
    let (sent, events) = tokio::join!(ws.send(last.clone()), read_events(&mut io, &mut peer, 2));
    sent.unwrap();
    assert_eq!(events, [Event::Message(first), Event::Message(last)]);
}

/// `feed_fragment` is `feed` for fragments: dropped while waiting for
/// room, the fragment was not queued, so the caller sends it again and the
/// peer reads the message once, whole.
#[tokio::test(start_paused = true)]
async fn feed_fragment_dropped_while_waiting_for_room_queues_nothing() {
    let (mut ws, mut io) = server(64, Config::builder().max_output_buffer(100).build());
    ws.feed_fragment(Message::Binary(vec![1; 200].into()), false)
        .await
        .unwrap();
    let second = Message::Binary(vec![2; 50].into());
    select! {
        _ = ws.feed_fragment(second.clone(), true) => panic!("no room: 200 bytes unsent"),
        () = sleep(Duration::from_millis(50)) => {}
    }
    let mut peer = peer();
    let sent = async {
        ws.feed_fragment(second, true).await?;
        ws.flush().await
    };
    let (sent, events) = tokio::join!(sent, read_events(&mut io, &mut peer, 1));
    sent.unwrap();
    let whole: Vec<u8> = [vec![1; 200], vec![2; 50]].concat();
    assert_eq!(events, [Event::Message(Message::Binary(whole.into()))]);
}

/// The split writer's `feed_fragment` queues without writing; the parked
/// reader writes it out.
#[tokio::test(start_paused = true)]
async fn a_split_writer_fed_fragments_are_written_by_the_reader() {
    let (ws, mut io) = server(4096, Config::default());
    let (mut reader, mut writer) = ws.split();
    let reading = tokio::spawn(async move { while reader.next().await.is_some() {} });
    writer
        .feed_fragment(Message::from("two "), false)
        .await
        .unwrap();
    writer
        .feed_fragment(Message::from("halves"), true)
        .await
        .unwrap();
    let mut peer = peer();
    let events = read_events(&mut io, &mut peer, 1).await;
    assert_eq!(events, [Event::Message(Message::from("two halves"))]);
    reading.abort();
}

#[tokio::test(start_paused = true)]
async fn close_dropped_mid_write_sends_one_whole_close_and_resumes() {
    let (mut ws, mut io) = server(8, Config::default());
    let reason = "a reason long enough to block";
    select! {
        _ = ws.close(CloseCode::NORMAL, reason) => panic!("cannot fit 8 bytes"),
        () = sleep(Duration::from_millis(50)) => {}
    }
    assert_eq!(ws.connection().state(), State::CloseSent);
    let mut peer = peer();
    let answer = async {
        let events = read_events(&mut io, &mut peer, 1).await;
        io.write_all(&peer.take_output()).await.unwrap();
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        (events, rest)
    };
    let (closed, (events, rest)) = tokio::join!(ws.close(CloseCode::NORMAL, reason), answer);
    assert_eq!(closed.unwrap().code, CloseCode::NORMAL);
    let [Event::Closed(seen)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (seen.code, seen.reason.as_str()),
        (CloseCode::NORMAL, reason)
    );
    assert!(rest.is_empty(), "no second close frame: {rest:?}");
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_then_idle_timeout_closes_with_1001() {
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(10)))
        .idle_timeout(Some(Duration::from_secs(25)))
        .build();
    let (mut ws, mut io) = server(4096, config);
    let start = Instant::now();
    let event = ws.next().await.unwrap().unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(25));
    let Event::Closed(closed) = event else {
        panic!("{event:?}")
    };
    assert_eq!(closed.code, CloseCode::GOING_AWAY);
    assert!(ws.next().await.is_none());
    let mut peer = peer();
    let events = read_events(&mut io, &mut peer, 3).await;
    assert!(matches!(
        &events[..],
        [Event::Ping(a), Event::Ping(b), Event::Closed(c)]
            if a.is_empty() && b.is_empty() && c.code == CloseCode::GOING_AWAY
    ));
}

#[tokio::test(start_paused = true)]
async fn a_live_peer_is_not_idle() {
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_secs(5)))
        .build();
    let (mut ws, mut io) = server(4096, config);
    let mut peer = peer();
    for n in 0..10u8 {
        sleep(Duration::from_secs(4)).await;
        peer.send(Message::Binary(vec![n].into())).unwrap();
        io.write_all(&peer.take_output()).await.unwrap();
        let event = ws.next().await.unwrap().unwrap();
        assert_eq!(event, Event::Message(Message::Binary(vec![n].into())));
    }
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_close_times_out() {
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(3)))
        .build();
    let (mut ws, _io) = server(4096, config);
    let start = Instant::now();
    let err = ws.close(CloseCode::NORMAL, "").await.unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(ws.connection().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_bounds_the_output_and_send_waits() {
    let limit = 4096;
    let (mut ws, _io) = server(1024, Config::builder().max_output_buffer(limit).build());
    let message = Message::Binary(vec![5; 1000].into());
    let mut sent = 0;
    loop {
        select! {
            result = ws.feed(message.clone()) => { result.unwrap(); sent += 1; }
            () = sleep(Duration::from_secs(1)) => break,
        }
        assert!(ws.connection().output_len() < limit + 1004);
    }
    // 1024 bytes in the pipe, then queued while under the limit.
    assert_eq!(sent, 6, "queued before the output filled");
    let pending = ws.connection().output_len();
    assert!((limit..limit + 1004).contains(&pending), "{pending}");
    // A send waits too, and queues nothing while it waits.
    select! {
        _ = ws.send(message.clone()) => panic!("no room"),
        () = sleep(Duration::from_secs(1)) => {}
    }
    assert_eq!(ws.connection().output_len(), pending);
}

/// 1,000 messages each way through split halves in four tasks, the peer
/// pinging every tenth message: all arrive, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_carry_a_thousand_messages_each_way() {
    const COUNT: u32 = 1000;
    let (a, b) = duplex(1024);
    let server = WebSocket::from_upgraded(a, Role::Server, Config::default(), Bytes::new());
    let client = WebSocket::from_upgraded(b, Role::Client, Config::default(), Bytes::new());
    let (server_rx, mut server_tx) = server.split();
    let (client_rx, mut client_tx) = client.split();
    let message = |n: u32| Message::from(format!("message {n}"));
    let server_send = tokio::spawn(async move {
        for n in 0..COUNT {
            server_tx.send(message(n)).await.unwrap();
        }
        server_tx
    });
    let client_send = tokio::spawn(async move {
        for n in 0..COUNT {
            client_tx.send(message(n)).await.unwrap();
            if n % 10 == 0 {
                client_tx.ping(&n.to_be_bytes()).await.unwrap();
            }
        }
        client_tx
    });
    let receive = |mut rx: wsframe::tokio::WebSocketReader<DuplexStream>| async move {
        let (mut got, mut pongs) = (Vec::new(), 0);
        while got.len() < COUNT as usize {
            match rx.next().await.unwrap().unwrap() {
                Event::Message(m) => got.push(m),
                Event::Pong(_) => pongs += 1,
                Event::Ping(_) => {}
                other => panic!("{other:?}"),
            }
        }
        (got, pongs, rx)
    };
    let server_recv = tokio::spawn(receive(server_rx));
    let client_recv = tokio::spawn(async move {
        let (got, mut pongs, mut rx) = receive(client_rx).await;
        // Pongs still owed may come after the last message.
        while pongs == 0 {
            match rx.next().await.unwrap().unwrap() {
                Event::Pong(_) => pongs += 1,
                other => panic!("{other:?}"),
            }
        }
        got
    });
    let expected: Vec<Message> = (0..COUNT).map(message).collect();
    let (server_got, _, _) = server_recv.await.unwrap();
    assert_eq!(server_got, expected);
    assert_eq!(client_recv.await.unwrap(), expected);
    server_send.await.unwrap();
    client_send.await.unwrap();
}
