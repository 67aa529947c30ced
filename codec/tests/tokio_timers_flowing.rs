//! The tokio wrapper's timers while messages flow, whole and split: the
//! next deadline is kept, not computed at each poll, and the clock is read
//! only when a timer runs, so keepalive pings, the idle timeout and the
//! close timeout must still fire on time (tokio's paused clock) however
//! busy the connection is. And a writer blocked on a full stream, on its
//! own task beside the reader's, is woken when the peer reads (the waker
//! is registered only when the stream is not ready).
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    time::{sleep, timeout, Instant},
};
use wsframe::{tokio::Error, CloseCode, Config, Event, Message, State};

use common::tokio_peer::{peer, server};

/// Everything the peer reads until the server's close frame (or the end
/// of the stream), with the paused clock's time of each event.
async fn peer_events<R: AsyncRead + Unpin>(mut io: R, start: Instant) -> Vec<(Duration, Event)> {
    let mut peer = peer();
    let mut events = Vec::new();
    let mut buf = vec![0; 4096];
    loop {
        while let Some(event) = peer.next_event() {
            let closed = matches!(event, Event::Closed(_));
            events.push((start.elapsed(), event));
            if closed {
                return events;
            }
        }
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => return events,
            Ok(n) => peer.receive(&buf[..n]),
        }
    }
}

/// Keepalive pings after `ping_every` seconds of silence, the idle close
/// after `idle_after`.
fn keepalive(ping_every: u64, idle_after: u64) -> Config {
    Config::builder()
        .ping_interval(Some(Duration::from_secs(ping_every)))
        .idle_timeout(Some(Duration::from_secs(idle_after)))
        .build()
}

/// When the peer got each ping, of the events [`peer_events`] read.
fn ping_times(events: &[(Duration, Event)]) -> Vec<Duration> {
    events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Ping(_)))
        .map(|(at, _)| *at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn keepalive_and_idle_timeout_fire_on_time_while_the_server_sends() {
    // The server sends every second; the peer says nothing. Sending is not
    // hearing: pings at 10 s and 20 s, the idle close at 25 s.
    let (ws, io) = server(1 << 16, keepalive(10, 25));
    let start = Instant::now();
    let watcher = tokio::spawn(peer_events(io, start));
    let (mut reader, mut writer) = ws.split();
    let sender = tokio::spawn(async move {
        let mut n = 0u32;
        loop {
            sleep(Duration::from_secs(1)).await;
            if writer
                .send(Message::from(format!("tick {n}")))
                .await
                .is_err()
            {
                return n;
            }
            n += 1;
        }
    });
    let event = reader.next().await.unwrap().unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(25));
    let Event::Closed(closed) = event else {
        panic!("{event:?}")
    };
    assert_eq!(closed.code, CloseCode::GOING_AWAY);
    let events = watcher.await.unwrap();
    let pings = ping_times(&events);
    assert_eq!(
        pings,
        [Duration::from_secs(10), Duration::from_secs(20)],
        "{events:?}"
    );
    let ticks = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Message(_)))
        .count();
    assert!((23..=25).contains(&ticks), "{ticks} ticks");
    assert!(matches!(events.last(), Some((at, Event::Closed(c)))
        if *at == Duration::from_secs(25) && c.code == CloseCode::GOING_AWAY));
    let sent = sender.await.unwrap();
    assert!(sent >= 23, "{sent}");
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_talks_is_not_idle_and_one_that_stops_is_after_split() {
    // The peer sends every 4 s for 40 s under a 5 s idle timeout and a
    // 3 s keepalive: no close, and a ping after each 3 s of silence (at 3,
    // 7, ... 43 s); then it stops, and the close comes 5 s after its last
    // word.
    let (ws, io) = server(1 << 16, keepalive(3, 5));
    let start = Instant::now();
    let (mut reader, _writer) = ws.split();
    let (peer_rx, mut peer_tx) = tokio::io::split(io);
    let talker = tokio::spawn(async move {
        let mut peer = peer();
        for n in 0..10u8 {
            sleep(Duration::from_secs(4)).await;
            peer.send(Message::Binary(vec![n].into())).unwrap();
            peer_tx.write_all(&peer.take_output()).await.unwrap();
        }
        peer_tx
    });
    let watcher = tokio::spawn(peer_events(peer_rx, start));
    for n in 0..10u8 {
        let event = reader.next().await.unwrap().unwrap();
        assert_eq!(event, Event::Message(Message::Binary(vec![n].into())));
        assert_eq!(start.elapsed(), Duration::from_secs(4 * (u64::from(n) + 1)));
    }
    let event = reader.next().await.unwrap().unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(45), "{event:?}");
    assert!(matches!(event, Event::Closed(c) if c.code == CloseCode::GOING_AWAY));
    let _tx = talker.await.unwrap();
    let events = watcher.await.unwrap();
    let pings = ping_times(&events);
    let want: Vec<Duration> = (0..=10).map(|n| Duration::from_secs(4 * n + 3)).collect();
    assert_eq!(pings, want);
    assert!(
        matches!(events.last(), Some((at, Event::Closed(_))) if *at == Duration::from_secs(45))
    );
}

#[tokio::test(start_paused = true)]
async fn the_close_timeout_fires_on_time_after_split_while_messages_flow() {
    // The peer keeps sending after our close but never answers it: the
    // close timeout ends the connection 3 s after the close, not later.
    let config = Config::builder()
        .close_timeout(Some(Duration::from_secs(3)))
        .build();
    let (ws, mut io) = server(1 << 16, config);
    let (mut reader, mut writer) = ws.split();
    let start = Instant::now();
    let talker = tokio::spawn(async move {
        let mut peer = peer();
        let mut buf = vec![0; 4096];
        for n in 0..100u8 {
            sleep(Duration::from_millis(500)).await;
            peer.send(Message::Binary(vec![n].into())).unwrap();
            if io.write_all(&peer.take_output()).await.is_err() {
                return;
            }
            // Read (and so unblock) what the server wrote, not answering.
            if let Ok(Ok(n)) = timeout(Duration::from_millis(1), io.read(&mut buf)).await {
                if n == 0 {
                    return;
                }
            }
        }
    });
    let first = reader.next().await.unwrap().unwrap();
    assert_eq!(first, Event::Message(Message::Binary(vec![0].into())));
    let closed_at = start.elapsed();
    writer.close(CloseCode::NORMAL, "bye").await.unwrap();
    let end = loop {
        match reader.next().await {
            Some(Ok(Event::Message(_))) => {}
            other => break other,
        }
    };
    assert_eq!(
        start.elapsed() - closed_at,
        Duration::from_secs(3),
        "{end:?}"
    );
    assert!(
        matches!(
            end,
            Some(Err(Error::Timeout)) | Some(Ok(Event::Closed(_))) | None
        ),
        "{end:?}"
    );
    assert_eq!(reader.state(), State::Closed);
    talker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_blocked_on_a_full_stream_is_woken_when_the_peer_reads() {
    // A 512-byte pipe; the writer sends 2 MiB on its task while the reader
    // takes the peer's pings (queueing pongs that need the same full
    // stream) on another; the peer reads in small bites, slowly. A lost
    // wakeup shows as a hang, caught by the timeout.
    const MESSAGES: usize = 2048;
    let (ws, io) = server(512, Config::default());
    let (mut reader, mut writer) = ws.split();
    let (mut peer_rx, mut peer_tx) = tokio::io::split(io);
    let writing = tokio::spawn(async move {
        for n in 0..MESSAGES {
            writer
                .send(Message::Binary(vec![n as u8; 1024].into()))
                .await
                .unwrap();
        }
        writer.flush().await.unwrap();
        writer
    });
    let reading = tokio::spawn(async move {
        let mut pings = 0;
        while pings < 200 {
            match reader.next().await.unwrap().unwrap() {
                Event::Ping(_) => pings += 1,
                other => panic!("{other:?}"),
            }
        }
        reader
    });
    let pinging = tokio::spawn(async move {
        let mut peer = peer();
        for n in 0..200u32 {
            peer.ping(&n.to_be_bytes()).unwrap();
            peer_tx.write_all(&peer.take_output()).await.unwrap();
            if n % 16 == 0 {
                tokio::task::yield_now().await;
            }
        }
        peer_tx
    });
    let checking = tokio::spawn(async move {
        let mut peer = peer();
        let mut buf = vec![0; 97];
        let (mut messages, mut pongs) = (0, 0);
        while messages < MESSAGES || pongs < 200 {
            let n = peer_rx.read(&mut buf).await.unwrap();
            assert!(n > 0);
            peer.receive(&buf[..n]);
            while let Some(event) = peer.next_event() {
                match event {
                    Event::Message(m) => {
                        assert_eq!(m.as_bytes(), &vec![messages as u8; 1024][..]);
                        messages += 1;
                    }
                    Event::Pong(p) => {
                        assert_eq!(p.as_ref(), (pongs as u32).to_be_bytes());
                        pongs += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        (messages, pongs)
    });
    let all = async {
        let writer = writing.await.unwrap();
        let reader = reading.await.unwrap();
        let _tx = pinging.await.unwrap();
        let counts = checking.await.unwrap();
        (writer, reader, counts)
    };
    let (_writer, _reader, counts) = timeout(Duration::from_secs(30), all)
        .await
        .expect("a lost wakeup: a half never woke");
    assert_eq!(counts, (MESSAGES, 200));
}
