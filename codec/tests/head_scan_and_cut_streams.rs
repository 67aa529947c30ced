//! Handshake heads and streams cut anywhere, decided from the docs, RFC
//! 6455 and RFC 7692: `handshake::HeadScan` against parsing every
//! prefix (the verdict the same, reached no later than the documented
//! bound; trickled, cut at every point, bare-LF line ends, interim 1xx
//! responses, heads at and past `MAX_HANDSHAKE_LEN`); the close timeout
//! with received bytes not read yet (the peer's close in hand is the
//! answer, one `Closed` only, cut at every point, both input paths); the
//! tokio reader's hang-up inside a frame or a message (`UnexpectedEof`
//! once, then `None`).

mod common;

use std::time::{Duration, Instant};

use common::{
    hand_driven::{drain, server},
    *,
};
#[cfg(feature = "deflate")]
use wsframe::Role;
use wsframe::{CloseCode, Config, Connection, Event, State};

const SECOND: Duration = Duration::from_secs(1);

fn closing_server(config: Config) -> (Connection, Instant) {
    let (mut conn, start) = server(config);
    conn.close(CloseCode::NORMAL, "bye").unwrap();
    conn.handle_timeout(start);
    conn.take_output();
    (conn, start)
}

fn closes(events: &[Event]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Closed(closed) => Some(closed.code.0),
            _ => None,
        })
        .collect()
}

fn give(conn: &mut Connection, bytes: &[u8], use_read_buf: bool) {
    if use_read_buf {
        conn.read_buf().extend_from_slice(bytes);
    } else {
        conn.receive(bytes);
    }
}

/// The peer answers our close after a message; the stream reaches us cut
/// at `read` (drained before the deadline) and `by_deadline` (given, not
/// read, before it); the rest comes after the deadline. The peer's close
/// is the answer exactly when all of it was in hand by the deadline, and
/// there is one `Closed`, whatever comes after.
#[test]
fn close_timeout_takes_the_peers_close_in_hand_cut_at_every_point() {
    let timeout = 5 * SECOND;
    let config = Config::builder().close_timeout(Some(timeout)).build();
    let input = [
        client(FIN | TEXT, b"hello"),
        client(FIN | PING, b"p"),
        client(FIN | CLOSE, &close_payload(1000, b"ok")),
    ]
    .concat();
    for by_deadline in 0..=input.len() {
        for read in 0..=by_deadline {
            for use_read_buf in [false, true] {
                let what = format!("read {read}, in hand {by_deadline}, read_buf {use_read_buf}");
                let (mut conn, start) = closing_server(config);
                give(&mut conn, &input[..read], use_read_buf);
                let mut events = drain(&mut conn);
                give(&mut conn, &input[read..by_deadline], !use_read_buf);
                conn.handle_timeout(start + timeout);
                let in_hand = by_deadline > read;
                let complete = by_deadline == input.len();
                // Bytes that cannot hold the close may be judged at once.
                if closes(&events).is_empty() && in_hand && complete {
                    assert_eq!(conn.state(), State::CloseSent, "{what}");
                    assert_eq!(conn.poll_timeout(), None, "{what}");
                }
                events.extend(drain(&mut conn));
                assert_eq!(conn.state(), State::Closed, "{what}");
                assert_eq!(conn.poll_timeout(), None, "{what}");
                give(&mut conn, &input[by_deadline..], use_read_buf);
                conn.handle_timeout(start + 2 * timeout);
                events.extend(drain(&mut conn));
                events.extend(drain(&mut conn));
                let expected = if complete { 1000 } else { 1006 };
                assert_eq!(closes(&events), [expected], "{what}: {events:?}");
                assert!(
                    matches!(events.last(), Some(Event::Closed(_))),
                    "{what}: nothing after Closed: {events:?}"
                );
            }
        }
    }
}

/// Streaming mode with permessage-deflate: a compressed message whose
/// input is held until its pieces are taken, then the peer's close, in
/// hand when our close times out (some pieces taken before our close, or
/// none). After our close no more of the message is handed out (`Chunk`'s
/// docs), and the close in hand is the answer; cut short by the deadline,
/// 1006; one `Closed` either way.
#[cfg(feature = "deflate")]
#[test]
fn close_timeout_with_a_paused_compressed_message_in_hand() {
    use common::deflate::*;
    let timeout = 5 * SECOND;
    let config = Config::builder()
        .streaming(true)
        .max_message_size(u64::MAX)
        .close_timeout(Some(timeout))
        .deflate(Some(wsframe::DeflateConfig::default()))
        .build();
    let bomb = sync_compressed(&vec![0; 256 * 1024], 9);
    let mut input = Vec::new();
    push_compressed(&mut input, BINARY, &bomb, true);
    input.extend(client(FIN | CLOSE, &close_payload(1000, b"ok")));
    let cuts: Vec<usize> = (0..=input.len())
        .step_by(7)
        .chain([input.len() - 1, input.len()])
        .collect();
    for by_deadline in cuts {
        for pieces_before_close in [0, 1] {
            for use_read_buf in [false, true] {
                let what = format!(
                    "in hand {by_deadline}, {pieces_before_close} pieces, read_buf {use_read_buf}"
                );
                let mut conn = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
                let start = Instant::now();
                conn.handle_timeout(start);
                give(&mut conn, &input[..by_deadline], use_read_buf);
                let mut events: Vec<Event> = std::iter::from_fn(|| conn.next_event())
                    .take(pieces_before_close)
                    .collect();
                let taken = events.len();
                conn.close(CloseCode::NORMAL, "bye").unwrap();
                conn.handle_timeout(start);
                conn.handle_timeout(start + timeout);
                let complete = by_deadline == input.len();
                if complete && closes(&events).is_empty() {
                    assert_eq!(conn.state(), State::CloseSent, "{what}");
                    assert_eq!(conn.poll_timeout(), None, "{what}");
                }
                events.extend(drain(&mut conn));
                give(&mut conn, &input[by_deadline..], use_read_buf);
                events.extend(drain(&mut conn));
                assert_eq!(conn.state(), State::Closed, "{what}");
                let expected = if complete { 1000 } else { 1006 };
                assert_eq!(closes(&events), [expected], "{what}");
                assert!(
                    events[taken..events.len() - 1].is_empty(),
                    "{what}: handed out after our close: {:?}",
                    &events[taken..]
                );
            }
        }
    }
}

mod head_scan {
    use std::fmt::Debug;

    use wsframe::handshake::{
        accept_key, ClientHandshake, HandshakeError, HeadScan, Status, UpgradeRequest,
        MAX_HANDSHAKE_LEN,
    };

    type Verdict = Result<String, HandshakeError>;

    /// `UpgradeRequest::parse` or a client's `parse_response`.
    type Parse<'a, T> = dyn Fn(&[u8]) -> Result<Status<T>, HandshakeError> + 'a;

    fn verdict<T: Debug>(parsed: Result<Status<T>, HandshakeError>) -> Option<Verdict> {
        match parsed {
            Ok(Status::Partial) => None,
            Ok(Status::Complete(done)) => Some(Ok(format!("{done:?}"))),
            Err(err) => Some(Err(err)),
        }
    }

    /// The oracle: the first prefix of `bytes` whose parse is not partial,
    /// and its verdict.
    fn first_verdict<T: Debug>(bytes: &[u8], parse: &Parse<T>) -> Option<(usize, Verdict)> {
        (1..=bytes.len()).find_map(|end| verdict(parse(&bytes[..end])).map(|v| (end, v)))
    }

    /// `bytes` read in pieces ending at `ends`, parsed when `HeadScan`
    /// says so, as the tokio handshakes do: where the verdict comes, and
    /// what it is.
    fn scanned<T: Debug>(
        bytes: &[u8],
        ends: &[usize],
        parse: &Parse<'_, T>,
    ) -> Option<(usize, Verdict)> {
        let mut scan = HeadScan::new();
        for &end in ends {
            if scan.worth_parsing(&bytes[..end]) {
                if let Some(v) = verdict(parse(&bytes[..end])) {
                    return Some((end, v));
                }
            }
        }
        None
    }

    /// Whole, byte by byte and cut at every point (every `cut_step`th):
    /// the same verdict as the oracle, reached at the read that completes
    /// a head (it ends with an empty line), and for a refusal no later
    /// than the read that doubles its length (or passes the limit).
    fn check<T: Debug>(
        what: &str,
        bytes: &[u8],
        cut_step: usize,
        parse: &Parse<'_, T>,
    ) -> Option<(usize, Verdict)> {
        let oracle = first_verdict(bytes, parse);
        let mut patterns: Vec<Vec<usize>> = vec![vec![bytes.len()], (1..=bytes.len()).collect()];
        for cut in (1..bytes.len()).step_by(cut_step) {
            patterns.push(vec![cut, bytes.len()]);
        }
        for ends in patterns {
            let got = scanned(bytes, &ends, parse);
            let label = format!("{what}: reads ending at {:?}", &ends[..ends.len().min(4)]);
            match (&oracle, &got) {
                (None, None) => {}
                (Some((at, expected)), Some((reached, v))) => {
                    assert_eq!(v, expected, "{label}");
                    let bound = match expected {
                        Ok(_) => *at,
                        // A refusal the parse itself gives only past the
                        // limit (a head ending there) is due where it does.
                        Err(_) => (2 * at).min(MAX_HANDSHAKE_LEN + 1).max(*at),
                    };
                    let bound_read = ends
                        .iter()
                        .copied()
                        .find(|&e| e >= bound)
                        .unwrap_or(bytes.len());
                    assert!(
                        *reached <= bound_read,
                        "{label}: verdict at {reached}, oracle at {at}"
                    );
                }
                _ => panic!("{label}: oracle {oracle:?}, scanned {got:?}"),
            }
        }
        oracle
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn request(line_end: &str, padding: usize) -> Vec<u8> {
        let e = line_end;
        format!(
            "GET /chat HTTP/1.1{e}Host: a{e}Upgrade: websocket{e}Connection: Upgrade{e}\
             Sec-WebSocket-Key: {KEY}{e}Sec-WebSocket-Version: 13{e}X-Pad: {}{e}{e}",
            "p".repeat(padding)
        )
        .into_bytes()
    }

    fn parse_request(bytes: &[u8]) -> Result<Status<(UpgradeRequest, usize)>, HandshakeError> {
        UpgradeRequest::parse(bytes)
    }

    #[test]
    fn requests_every_way() {
        for line_end in ["\r\n", "\n"] {
            let head = request(line_end, 10);
            let what = format!("{line_end:?}");
            let oracle = check(&what, &head, 1, &parse_request);
            assert!(
                matches!(oracle, Some((at, Ok(_))) if at == head.len()),
                "{what}: {oracle:?}"
            );
            // Frames right behind the head, and garbage, in the same read.
            for behind in [
                &[0x81u8, 0x85, 1, 2, 3, 4, b'h'][..],
                b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                b"\0\0\0",
            ] {
                let bytes = [&head[..], behind].concat();
                let oracle = check(&what, &bytes, 1, &parse_request);
                assert!(
                    matches!(oracle, Some((at, Ok(_))) if at == head.len()),
                    "{what} +{behind:?}: {oracle:?}"
                );
            }
        }
        // Mixed line ends, the empty line bare.
        let mixed = b"GET / HTTP/1.1\r\nHost: a\nUpgrade: websocket\r\nConnection: Upgrade\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\n";
        check("mixed", mixed, 1, &parse_request);
        let mixed = b"GET / HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: Upgrade\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\r\n";
        check("mixed bare then crlf", mixed, 1, &parse_request);
    }

    #[test]
    fn requests_wrong_from_the_first_bytes_are_refused_soon() {
        let tls = [&[0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01][..], &[0xAB; 20000]].concat();
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("tls hello", tls),
            (
                "bad version",
                [&b"GET / HTTP/9.9\r\n"[..], &[b'x'; 20000]].concat(),
            ),
            (
                "space in method",
                [&b"G T / HTTP/1.1\r\n"[..], &[b'x'; 20000]].concat(),
            ),
            (
                "bad header name",
                [&b"GET / HTTP/1.1\r\nHo st: a\r\n"[..], &[b'x'; 20000]].concat(),
            ),
            (
                "post with body",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            ),
            ("no upgrade", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ];
        cases.push(("bare lf garbage", [&b"\n\n\n"[..], &[0xFF; 100]].concat()));
        for (what, bytes) in cases {
            let oracle = check(what, &bytes, 97, &parse_request);
            let Some((at, Err(_))) = oracle else {
                panic!("{what}: {oracle:?}")
            };
            if bytes.len() > 1000 {
                assert!(at < 100, "{what}: refused only at {at}");
            }
        }
    }

    #[test]
    fn requests_at_and_past_the_limit() {
        let base = request("\r\n", 0).len();
        for len in [
            MAX_HANDSHAKE_LEN - 1,
            MAX_HANDSHAKE_LEN,
            MAX_HANDSHAKE_LEN + 1,
            MAX_HANDSHAKE_LEN + 2,
        ] {
            let head = request("\r\n", len - base);
            assert_eq!(head.len(), len);
            let bytes = [&head[..], &[0x81, 0x80, 1, 2, 3, 4]].concat();
            let oracle = check(&format!("{len}"), &bytes, 61, &parse_request);
            match oracle {
                Some((_, Ok(_))) => assert!(len <= MAX_HANDSHAKE_LEN, "{len}: {oracle:?}"),
                Some((at, Err(HandshakeError::HeadTooLarge))) => {
                    assert!(
                        len > MAX_HANDSHAKE_LEN && at == MAX_HANDSHAKE_LEN + 1,
                        "{len}: {oracle:?}"
                    )
                }
                other => panic!("{len}: {other:?}"),
            }
        }
    }

    fn handshake() -> ClientHandshake {
        ClientHandshake::new(*b"0123456789abcdef")
            .target("a", "/")
            .unwrap()
    }

    fn switching(key: &str, line_end: &str) -> String {
        let e = line_end;
        format!(
            "HTTP/1.1 101 Switching Protocols{e}Upgrade: websocket{e}Connection: Upgrade{e}\
             Sec-WebSocket-Accept: {}{e}{e}",
            accept_key(key.as_bytes())
        )
    }

    #[test]
    fn responses_with_interim_heads_every_way() {
        let client = handshake();
        let parse = |bytes: &[u8]| client.parse_response(bytes);
        for e in ["\r\n", "\n"] {
            let interim = format!("HTTP/1.1 100 Continue{e}{e}HTTP/1.1 103 Early Hints{e}Link: </a>; rel=preload{e}{e}");
            let accepted = format!("{interim}{}", switching(client.key(), e));
            let oracle = check(&format!("101 {e:?}"), accepted.as_bytes(), 1, &parse);
            assert!(
                matches!(&oracle, Some((at, Ok(_))) if *at == accepted.len()),
                "{oracle:?}"
            );
            let with_frame = [accepted.as_bytes(), &[0x81, 0x01, b'x']].concat();
            check(&format!("101+frame {e:?}"), &with_frame, 1, &parse);
            let refused = format!("{interim}HTTP/1.1 403 Forbidden{e}Content-Length: 2{e}{e}no");
            let oracle = check(&format!("403 {e:?}"), refused.as_bytes(), 1, &parse);
            assert!(
                matches!(oracle, Some((_, Err(HandshakeError::NotSwitching(403))))),
                "{oracle:?}"
            );
        }
        // Interim heads without end: refused past the limit, not taken as
        // a refusal with 100.
        let endless = "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_HANDSHAKE_LEN / 25 + 2);
        let oracle = check("endless 100", endless.as_bytes(), 251, &parse);
        assert!(
            matches!(oracle, Some((_, Err(HandshakeError::HeadTooLarge)))),
            "{oracle:?}"
        );
        // Interim heads up to near the limit, then a final head without
        // end: the head (interim heads counted, as `parse_response` says)
        // is refused once past the limit, not read on to twice it; read a
        // byte at a time, every read past the limit is parsed.
        for near in [MAX_HANDSHAKE_LEN - 100, MAX_HANDSHAKE_LEN] {
            let interim = "HTTP/1.1 100 Continue\r\n\r\n".repeat(near / 25);
            let endless = format!(
                "{interim}HTTP/1.1 101 Switching Protocols\r\nX-Pad: {}",
                "p".repeat(20000)
            );
            let endless = endless.as_bytes();
            assert!(
                matches!(parse(&endless[..MAX_HANDSHAKE_LEN]), Ok(Status::Partial)),
                "{near}"
            );
            assert_eq!(
                parse(&endless[..MAX_HANDSHAKE_LEN + 1]).err(),
                Some(HandshakeError::HeadTooLarge),
                "{near}"
            );
            let bytewise: Vec<usize> = (1..=endless.len()).collect();
            let got = scanned(endless, &bytewise, &parse);
            assert_eq!(
                got,
                Some((MAX_HANDSHAKE_LEN + 1, Err(HandshakeError::HeadTooLarge))),
                "{near}"
            );
        }
        // A 101 whose head ends past the limit counting its interim heads.
        let interim = "HTTP/1.1 100 Continue\r\n\r\n".repeat((MAX_HANDSHAKE_LEN - 100) / 25);
        let late = format!("{interim}{}", switching(client.key(), "\r\n"));
        assert!(late.len() > MAX_HANDSHAKE_LEN);
        assert_eq!(
            parse(late.as_bytes()).err(),
            Some(HandshakeError::HeadTooLarge)
        );
        // Wrong from the first byte.
        let garbage = [&b"SSH-2.0-OpenSSH\r\n"[..], &[b'x'; 20000]].concat();
        let oracle = check("ssh", &garbage, 97, &parse);
        assert!(
            matches!(oracle, Some((at, Err(_))) if at < 100),
            "{oracle:?}"
        );
    }
}

#[cfg(feature = "tokio")]
mod hang_up {
    use std::io::ErrorKind;

    use bytes::Bytes;
    use wsframe::{
        tokio::{Error, WebSocket},
        CloseCode, Config, Event, Role,
    };

    use super::common::{tokio_peer::Scripted, *};

    /// What a reader gave until it said `None`, and twice more after:
    /// messages (streamed pieces joined at `last`), pings, and I/O errors
    /// by kind.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Message(Vec<u8>),
        Ping,
        Closed(u16),
        Io(ErrorKind),
        Other(String),
    }

    /// Pieces of a streamed message joined, the rest as [`Seen`].
    fn classify(seen: &mut Vec<Seen>, piece: &mut Vec<u8>, item: Result<Event, Error>) {
        match item {
            Ok(Event::Message(m)) => seen.push(Seen::Message(m.as_bytes().to_vec())),
            Ok(Event::Chunk { data, last }) => {
                piece.extend_from_slice(data.as_bytes());
                if last {
                    seen.push(Seen::Message(std::mem::take(piece)));
                }
            }
            Ok(Event::Ping(_)) => seen.push(Seen::Ping),
            Ok(Event::Closed(c)) => seen.push(Seen::Closed(c.code.0)),
            Ok(other) => seen.push(Seen::Other(format!("{other:?}"))),
            Err(Error::Io(err)) => seen.push(Seen::Io(err.kind())),
            Err(err) => seen.push(Seen::Other(format!("{err}"))),
        }
    }

    /// Calls `$next` until `None`, then twice more (both must be `None`).
    macro_rules! collect {
        ($next:expr) => {{
            let mut seen = Vec::new();
            let mut piece = Vec::new();
            while let Some(item) = $next.await {
                classify(&mut seen, &mut piece, item);
                assert!(seen.len() < 100, "no end: {seen:?}");
            }
            for _ in 0..2 {
                if let Some(more) = $next.await {
                    seen.push(Seen::Other(format!("after None: {more:?}")));
                }
            }
            seen
        }};
    }

    /// Frames of a peer, each marked with whether a message ends with it
    /// (a control frame between messages ends nothing but cuts nothing).
    fn script() -> (Vec<u8>, Vec<usize>, Vec<(usize, Seen)>) {
        let frames = [
            (
                client(FIN | TEXT, b"hello"),
                Some(Seen::Message(b"hello".to_vec())),
            ),
            (client(FIN | PING, b"p"), Some(Seen::Ping)),
            (client(BINARY, b"ab"), None),
            (client(FIN | PING, b"q"), Some(Seen::Ping)),
            (
                client(FIN | CONT, b"cd"),
                Some(Seen::Message(b"abcd".to_vec())),
            ),
            (
                client(FIN | BINARY, &[7; 300]),
                Some(Seen::Message(vec![7; 300])),
            ),
        ];
        let mut input = Vec::new();
        let mut boundaries = vec![0];
        let mut expected = Vec::new();
        for (i, (frame, seen)) in frames.into_iter().enumerate() {
            input.extend(frame);
            if let Some(seen) = seen {
                expected.push((input.len(), seen));
            }
            // Inside the fragmented message (frames 2 to 4) is no boundary.
            if !(2..4).contains(&i) {
                boundaries.push(input.len());
            }
        }
        (input, boundaries, expected)
    }

    /// The peer hangs up after `end` bytes, which came in `cuts`: what
    /// was whole, then `UnexpectedEof` once if `end` is inside a frame or a
    /// message, then `None`.
    fn expected_at(
        end: usize,
        boundaries: &[usize],
        expected: &[(usize, Seen)],
        streaming: bool,
    ) -> Vec<Seen> {
        let mut seen: Vec<Seen> = Vec::new();
        for (at, s) in expected {
            if *at <= end {
                seen.push(match s {
                    Seen::Message(m) => Seen::Message(m.clone()),
                    Seen::Ping => Seen::Ping,
                    _ => unreachable!(),
                });
            }
        }
        // In streaming mode a message's pieces before the cut come out,
        // but the message is never whole: nothing to compare but the end.
        let _ = streaming;
        if !boundaries.contains(&end) {
            seen.push(Seen::Io(ErrorKind::UnexpectedEof));
        }
        seen
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn cut_ways(len: usize) -> Vec<Vec<usize>> {
        let mut ways = vec![vec![], (1..len).collect()];
        ways.extend((1..len).map(|cut| vec![cut]));
        ways
    }

    #[test]
    fn next_split_and_stream_report_a_cut_once_then_none() {
        let (input, boundaries, expected) = script();
        let rt = runtime();
        for streaming in [false, true] {
            let config = Config::builder().streaming(streaming).build();
            for end in 0..=input.len() {
                let want = expected_at(end, &boundaries, &expected, streaming);
                for cuts in cut_ways(end) {
                    let what = format!(
                        "streaming {streaming}, end {end}, cuts {:?}",
                        &cuts[..cuts.len().min(3)]
                    );
                    let make = || {
                        let io = Scripted::new(&input[..end], &cuts).then_eof();
                        WebSocket::from_upgraded(io, Role::Server, config, Bytes::new())
                    };
                    let whole = rt.block_on(async {
                        let mut ws = make();
                        collect!(ws.next())
                    });
                    assert_eq!(whole, want, "{what}: next");
                    let split = rt.block_on(async {
                        let (mut reader, _writer) = make().split();
                        collect!(reader.next())
                    });
                    assert_eq!(split, want, "{what}: split reader");
                    #[cfg(feature = "futures")]
                    {
                        use futures_util::StreamExt;
                        let stream = rt.block_on(async {
                            let mut ws = make();
                            collect!(ws.next())
                        });
                        let via_stream = rt.block_on(async {
                            let mut ws = make();
                            collect!(StreamExt::next(&mut ws))
                        });
                        assert_eq!(stream, via_stream, "{what}: Stream");
                    }
                }
            }
        }
    }

    /// After our close (the split writer's, which does not wait): a cut
    /// inside a frame is still `UnexpectedEof` once (`next`'s docs: "when
    /// the peer hung up inside a frame or a message"; `WsCodec::decode_eof`
    /// fails after our close even at a boundary), then `None`.
    #[test]
    fn a_cut_after_our_close_is_reported_once() {
        let (input, _, _) = script();
        let frame_ends: Vec<usize> = {
            let mut ends = vec![0];
            let mut rest = &input[..];
            while let Some((_, _, len)) = parse_client_frame(rest) {
                ends.push(ends.last().unwrap() + len);
                rest = &rest[len..];
            }
            ends
        };
        let rt = runtime();
        for end in 0..=input.len() {
            for cuts in [vec![], (1..end).collect()] {
                let io = Scripted::new(&input[..end], &cuts).then_eof();
                let seen = rt.block_on(async {
                    let ws =
                        WebSocket::from_upgraded(io, Role::Server, Config::default(), Bytes::new());
                    let (mut reader, mut writer) = ws.split();
                    writer.close(CloseCode::NORMAL, "bye").await.unwrap();
                    collect!(reader.next())
                });
                let errors = seen
                    .iter()
                    .filter(|s| matches!(s, Seen::Io(_) | Seen::Other(_)))
                    .count();
                assert!(errors <= 1, "end {end}: {seen:?}");
                if !frame_ends.contains(&end) {
                    assert_eq!(
                        seen.last(),
                        Some(&Seen::Io(ErrorKind::UnexpectedEof)),
                        "end {end}: {seen:?}"
                    );
                }
                if let Some(at) = seen.iter().position(|s| matches!(s, Seen::Io(_))) {
                    assert_eq!(
                        at,
                        seen.len() - 1,
                        "end {end}: the error is the last: {seen:?}"
                    );
                }
            }
        }
    }

    /// A masked frame's length at the front of `buf` (header parsed by hand).
    fn parse_client_frame(buf: &[u8]) -> Option<((), (), usize)> {
        if buf.len() < 2 {
            return None;
        }
        let (len, header) = match buf[1] & 0x7F {
            126 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 => return None,
            n => (n as usize, 2),
        };
        let total = header + 4 + len;
        (buf.len() >= total).then_some(((), (), total))
    }
}

/// The tokio handshakes over heads arriving a byte at a time from a peer
/// that then waits (no end of stream): refused as soon as the parse can
/// tell (a head wrong from its first bytes), interim responses skipped.
#[cfg(feature = "tokio")]
mod handshake_trickled {
    use std::time::Duration;

    use wsframe::{
        handshake::{accept_key, ClientHandshake, HandshakeError},
        tokio::{Error, WebSocket},
        Config, Event, Message,
    };

    use super::common::tokio_peer::Scripted;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn bytewise(input: &[u8]) -> Scripted {
        Scripted::new(input, &(1..input.len()).collect::<Vec<_>>())
    }

    /// A peer that sends a wrong first line and waits for an answer (an
    /// SSH client's banner) is refused at that line's end, as before
    /// `HeadScan`; it waited for the caller's timeout, the 21 bytes short
    /// of the next doubling (32).
    #[test]
    fn accept_refuses_a_head_wrong_from_its_first_bytes_soon() {
        let rt = runtime();
        let heads: [&[u8]; 3] = [
            &[
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xAB, 0xAB, 0xAB,
                0xAB, 0xAB,
            ],
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"GET / HTTP/1.1\r\nHo st: a\r\nX: yyyyyyyyy",
        ];
        for head in heads {
            let result = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    WebSocket::accept(bytewise(head), Config::default()),
                )
                .await
            });
            assert!(
                matches!(result, Ok(Err(Error::Handshake(HandshakeError::Malformed)))),
                "{head:?}: {:?}",
                result.map(|r| r.err())
            );
        }
    }

    #[test]
    fn client_skips_interim_heads_trickled_and_reads_the_frame_behind() {
        let rt = runtime();
        let request = ClientHandshake::new(*b"0123456789abcdef")
            .target("a", "/")
            .unwrap();
        for e in ["\r\n", "\n"] {
            let head = format!(
                "HTTP/1.1 100 Continue{e}{e}HTTP/1.1 103 Early Hints{e}Link: </a>{e}{e}\
                 HTTP/1.1 101 Switching Protocols{e}Upgrade: websocket{e}Connection: Upgrade{e}\
                 Sec-WebSocket-Accept: {}{e}{e}",
                accept_key(request.key().as_bytes())
            );
            let input = [head.as_bytes(), &[0x81, 0x02, b'h', b'i']].concat();
            let cut_ways: Vec<Vec<usize>> = [vec![], (1..input.len()).collect()]
                .into_iter()
                .chain((1..input.len()).map(|c| vec![c]))
                .collect();
            for cuts in cut_ways {
                let event = rt.block_on(async {
                    let io = Scripted::new(&input, &cuts);
                    let (mut ws, accepted) = tokio::time::timeout(
                        Duration::from_secs(5),
                        WebSocket::client(io, &request, Config::default()),
                    )
                    .await
                    .expect("no hang")
                    .expect("accepted");
                    assert_eq!(accepted.head_len, head.len());
                    ws.next().await
                });
                assert!(
                    matches!(&event, Some(Ok(Event::Message(Message::Text(t)))) if t.as_str() == "hi"),
                    "{e:?} {cuts:?}: {event:?}"
                );
            }
            let refused = format!(
                "HTTP/1.1 100 Continue{e}{e}HTTP/1.1 403 Forbidden{e}Content-Length: 2{e}{e}no"
            );
            let result = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    WebSocket::client(bytewise(refused.as_bytes()), &request, Config::default()),
                )
                .await
            });
            match result {
                Ok(Err(Error::Refused(response))) => assert_eq!(response.status(), 403),
                other => panic!("{e:?}: {:?}", other.map(|r| r.err())),
            }
        }
    }
}

/// permessage-deflate through `Framed` (`WsCodec::from_connection`) and
/// through `WebSocket::from_connection`: compressed messages (context
/// taken over), inflated as the reference inflater does, the same events
/// both ways however the bytes are cut, and a hang-up cut inside a
/// compressed message an `UnexpectedEof` from both, at a boundary none.
#[cfg(all(feature = "tokio", feature = "futures", feature = "deflate"))]
mod deflate_both_ways {
    use std::io::ErrorKind;

    use flate2::{Compress, Compression};
    use futures_util::StreamExt;
    use tokio_util::codec::Framed;
    use wsframe::{
        tokio::{Error, WebSocket, WsCodec},
        Config, Connection, DeflateConfig, Event, Role,
    };

    use super::common::{deflate::*, tokio_peer::Scripted, *};

    #[derive(Debug, PartialEq)]
    enum Seen {
        Message(Vec<u8>),
        Eof,
        Other(String),
    }

    fn seen(item: Result<Event, Error>, piece: &mut Vec<u8>) -> Option<Seen> {
        match item {
            Ok(Event::Message(m)) => Some(Seen::Message(m.as_bytes().to_vec())),
            Ok(Event::Chunk { data, last }) => {
                piece.extend_from_slice(data.as_bytes());
                last.then(|| Seen::Message(std::mem::take(piece)))
            }
            Err(Error::Io(err)) if err.kind() == ErrorKind::UnexpectedEof => Some(Seen::Eof),
            other => Some(Seen::Other(format!("{other:?}"))),
        }
    }

    #[test]
    fn compressed_messages_through_framed_and_websocket_agree() {
        let messages: [Vec<u8>; 3] = [
            b"hello hello hello".to_vec(),
            vec![b'z'; 3000],
            b"hello again, hello".to_vec(),
        ];
        let mut compress = Compress::new(Compression::default(), false);
        let mut input = Vec::new();
        let mut boundaries = vec![0];
        for (i, m) in messages.iter().enumerate() {
            push_compressed(&mut input, TEXT, &sync_message(&mut compress, m), i == 1);
            boundaries.push(input.len());
        }
        // The oracle: each message as the reference inflater reads it.
        assert_eq!(
            messages[0],
            reference_inflate(&sync_compressed(&messages[0], 6)).unwrap()
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for streaming in [false, true] {
            let config = Config::builder()
                .streaming(streaming)
                .deflate(Some(DeflateConfig::default()))
                .build();
            let conn = || Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
            for end in (0..=input.len()).step_by(3).chain([input.len()]) {
                let mut want: Vec<Seen> = boundaries[1..]
                    .iter()
                    .zip(&messages)
                    .filter(|(b, _)| **b <= end)
                    .map(|(_, m)| Seen::Message(m.clone()))
                    .collect();
                if !boundaries.contains(&end) {
                    want.push(Seen::Eof);
                }
                for cuts in [vec![], (1..end).collect::<Vec<_>>(), vec![end / 2]] {
                    let what = format!("streaming {streaming}, end {end}, {} cuts", cuts.len());
                    let (framed, socket) = rt.block_on(async {
                        let io = Scripted::new(&input[..end], &cuts).then_eof();
                        let mut framed = Framed::new(io, WsCodec::from_connection(conn()));
                        let (mut a, mut piece) = (Vec::new(), Vec::new());
                        while let Some(item) = framed.next().await {
                            a.extend(seen(item, &mut piece));
                            assert!(a.len() < 20);
                        }
                        let io = Scripted::new(&input[..end], &cuts).then_eof();
                        let mut ws = WebSocket::from_connection(io, conn());
                        let mut b = Vec::new();
                        piece.clear();
                        while let Some(item) = ws.next().await {
                            b.extend(seen(item, &mut piece));
                            assert!(b.len() < 20);
                        }
                        (a, b)
                    });
                    assert_eq!(framed, want, "{what}: Framed");
                    assert_eq!(socket, want, "{what}: WebSocket");
                }
            }
        }
    }
}

/// `send_compressed` through the tokio wrapper and its split writer: RSV1
/// exactly on the messages asked compressed (empty, small, over the
/// threshold or under), each inflating by the reference inflater (no
/// context takeover: each alone) to what was sent; without
/// permessage-deflate, never compressed.
#[cfg(all(feature = "tokio", feature = "deflate"))]
mod send_compressed {
    use tokio::io::AsyncReadExt;
    use wsframe::{tokio::WebSocket, Config, Connection, DeflateConfig, Message, Role};

    use super::common::{deflate::*, *};

    const RSV1_BIT: u8 = 0x40;

    fn payloads() -> Vec<(Vec<u8>, bool)> {
        vec![
            (Vec::new(), true),
            (b"a".to_vec(), true),
            (vec![b'x'; 5000], true),
            (vec![b'x'; 5000], false),
            (Vec::new(), false),
            ((0..=255u8).cycle().take(70_000).collect(), true),
            (b"tail".to_vec(), true),
        ]
    }

    async fn wire(negotiated: bool, split: bool) -> Vec<(u8, Vec<u8>)> {
        let config = Config::builder()
            .deflate(Some(DeflateConfig::default()))
            .build();
        let conn =
            Connection::with_deflate(Role::Server, config, negotiated.then_some(NO_TAKEOVER));
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let ws = WebSocket::from_connection(ours, conn);
        let (_reader, mut writer);
        let mut whole = None;
        if split {
            (_reader, writer) = ws.split();
            for (p, c) in payloads() {
                writer
                    .send_compressed(Message::Binary(p.into()), c)
                    .await
                    .unwrap();
            }
        } else {
            let mut ws = ws;
            for (p, c) in payloads() {
                ws.send_compressed(Message::Binary(p.into()), c)
                    .await
                    .unwrap();
            }
            whole = Some(ws);
        }
        drop(whole);
        let mut out = Vec::new();
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = theirs.read(&mut buf).await.unwrap();
            out.extend_from_slice(&buf[..n]);
            if n == 0 || frames(&out).len() == payloads().len() {
                break;
            }
        }
        frames(&out)
    }

    /// An unmasked frame at the front of `buf`, RSV bits allowed: (first
    /// byte, payload, bytes used); parsed by hand.
    fn frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
        let (len, header) = match *buf.get(1)? {
            126 => (
                u16::from_be_bytes(buf.get(2..4)?.try_into().unwrap()) as usize,
                4,
            ),
            127 => (
                u64::from_be_bytes(buf.get(2..10)?.try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let payload = buf.get(header..header + len)?;
        Some((buf[0], payload.to_vec(), header + len))
    }

    fn frames(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut all = Vec::new();
        while let Some((first, payload, used)) = frame(out) {
            all.push((first, payload));
            out = &out[used..];
        }
        all
    }

    #[test]
    fn rsv1_exactly_where_asked_and_the_payload_inflates_to_the_message() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for negotiated in [true, false] {
            for split in [false, true] {
                let frames = rt.block_on(wire(negotiated, split));
                let what = format!("negotiated {negotiated}, split {split}");
                assert_eq!(frames.len(), payloads().len(), "{what}");
                for ((first, payload), (sent, compress)) in frames.iter().zip(payloads()) {
                    let compressed = negotiated && compress;
                    assert_eq!(
                        first & RSV1_BIT != 0,
                        compressed,
                        "{what}: {} bytes",
                        sent.len()
                    );
                    assert_eq!(first & 0x8F, FIN | BINARY, "{what}");
                    if compressed {
                        assert_eq!(
                            reference_inflate(payload).as_deref(),
                            Some(&sent[..]),
                            "{what}"
                        );
                    } else {
                        assert_eq!(payload, &sent, "{what}");
                    }
                }
            }
        }
    }
}
