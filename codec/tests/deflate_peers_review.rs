//! Session 23 review: permessage-deflate and its handshake tried against
//! real peers (Python `websockets` 17.4, Node `ws`, headless Chromium, raw
//! sockets on 127.0.0.1) as a newcomer would, from the README, the rustdoc
//! and RFC 7692. Each answer, compared with the RFC and with what the real
//! peers do with the same bytes, is pinned here without a network; the
//! tokio client's run against real servers is ignored unless asked for
//! (`WSFRAME_DEFLATE_PEERS`, run by `conformance/deflate_windows.sh`).
//!
//! No bug found in wsframe. Where the peers differ from us (each test says
//! which): Node `ws` answers 400 to an offer RFC 7692 §7 has a server
//! decline (a repeated, unknown or invalid parameter; we and Python
//! decline it and upgrade) and reads `server_max_window_bits=08` as 8;
//! Python declines parameter names in another case, which we read; both
//! read an empty RSV1 payload as an empty message (ours: 1007, the tail
//! alone ends inside a stored block) and drop data after a final block in
//! the same message without a word (ours: 1007); Python websockets reads
//! the message after one that ended in a final block as empty (theirs: a
//! lost message; ours reads it).
#![cfg(feature = "deflate")]

mod common;

use common::deflate::{final_compressed, frames_of, stored, sync_compressed};
use common::{client, close_code_on_wire, BINARY, CONT, FIN, PING, TEXT};
use wsframe::handshake::{HandshakeError, Status, UpgradeRequest};
use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

const RSV1: u8 = 0x40;

/// An upgrade request with one `Sec-WebSocket-Extensions` line per entry of
/// `lines`.
fn request(lines: &[&str]) -> Vec<u8> {
    let mut head = String::from(
        "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for line in lines {
        head.push_str(&format!("Sec-WebSocket-Extensions: {line}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// What a server with default deflate preferences answers to `lines`:
/// `Ok(Some(extension line of the 101))`, `Ok(None)` for a 101 without the
/// extension, `Err` for a refused request.
fn answer(lines: &[&str]) -> Result<Option<String>, HandshakeError> {
    answer_with(DeflateConfig::default(), lines)
}

fn answer_with(ours: DeflateConfig, lines: &[&str]) -> Result<Option<String>, HandshakeError> {
    let bytes = request(lines);
    let Status::Complete((upgrade, _)) = UpgradeRequest::parse(&bytes)? else {
        panic!("a whole request")
    };
    let accept = upgrade.accept().deflate(Some(ours));
    let head = String::from_utf8(accept.to_bytes()).expect("an ASCII head");
    let line = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .map(str::to_owned);
    // The parameters the 101 names are the ones the connection is made with.
    assert_eq!(line.is_some(), accept.deflate_params().is_some(), "{head}");
    Ok(line)
}

#[test]
fn offers_with_a_repeated_unknown_or_invalid_parameter_are_declined_and_the_upgrade_goes_on() {
    // RFC 7692 §7: a repeated parameter, an unknown one, an invalid value
    // (window outside 8-15, written with a leading zero, a value on a
    // *_no_context_takeover, server_max_window_bits without one) declines
    // the offer; the connection is still upgraded. Python websockets
    // declines each the same way; Node ws answers most with 400 and reads
    // `=08` as 8.
    for offer in [
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; SERVER_MAX_WINDOW_BITS=11",
        "permessage-deflate; x-unknown",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; client_max_window_bits=016",
        "permessage-deflate; client_max_window_bits=+9",
        "permessage-deflate; client_max_window_bits=256",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"x\"",
        "permessage-deflate; server_max_window_bits=\"16\"",
    ] {
        assert_eq!(answer(&[offer]), Ok(None), "{offer}");
    }
}

#[test]
fn window_values_spaced_or_quoted_are_read_as_their_token() {
    // §9.1 of RFC 6455 allows a quoted-string value whose content is a
    // token (RFC 7692 §7 repeats it), and RFC 9110's OWS may surround `=`
    // as Python websockets' parser also allows.
    for offer in [
        "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits = 10",
        "permessage-deflate;server_max_window_bits=\"10\"",
        "permessage-deflate ; server_max_window_bits=\"1\\0\"",
        "permessage-deflate;\tserver_max_window_bits\t=\t10\t",
    ] {
        assert_eq!(
            answer(&[offer]),
            Ok(Some(
                "permessage-deflate; server_max_window_bits=10".to_owned()
            )),
            "{offer}"
        );
    }
    assert_eq!(
        answer(&["permessage-deflate; client_max_window_bits=\"9\""]),
        Ok(Some(
            "permessage-deflate; client_max_window_bits=9".to_owned()
        ))
    );
}

#[test]
fn the_first_acceptable_offer_wins_across_elements_and_header_lines() {
    let good = Ok(Some(
        "permessage-deflate; client_max_window_bits=12".to_owned(),
    ));
    // In one line: the bad first offer is passed over.
    assert_eq!(
        answer(&["permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits=12"]),
        good
    );
    // In two lines (one list, RFC 9110 §5.3): the same.
    assert_eq!(
        answer(&[
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=12",
        ]),
        good
    );
    // Two good offers: the first, not the second.
    assert_eq!(
        answer(&[
            "permessage-deflate; client_max_window_bits=12",
            "permessage-deflate; server_no_context_takeover",
        ]),
        good
    );
    // Another extension first is skipped; an empty element is no offer.
    assert_eq!(
        answer(&["x-webkit-deflate-frame, , permessage-deflate; client_max_window_bits=12"]),
        good
    );
}

#[test]
fn the_extension_name_is_matched_exactly_as_python_and_node_do() {
    // RFC 6455 §9.1 registers extension tokens; neither it nor RFC 7692
    // says they are case-insensitive, and both Python websockets and Node
    // ws compare the name exactly (checked against both: no extension in
    // their 101). Ours: the same.
    for offer in [
        "Permessage-Deflate",
        "PERMESSAGE-DEFLATE",
        "permessage_deflate",
    ] {
        assert_eq!(answer(&[offer]), Ok(None), "{offer}");
    }
}

#[test]
fn every_parameter_is_answered_as_rfc_7692_asks() {
    let all = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
               server_max_window_bits=9; client_max_window_bits=10";
    assert_eq!(answer(&[all]), Ok(Some(all.to_owned())));
    // client_max_window_bits without a value: the server may name a window,
    // or leave it open (no parameter) when it does not limit it.
    assert_eq!(
        answer(&["permessage-deflate; client_max_window_bits"]),
        Ok(Some("permessage-deflate".to_owned()))
    );
    assert_eq!(
        answer_with(
            DeflateConfig::default().peer_max_window_bits(11),
            &["permessage-deflate; client_max_window_bits"]
        ),
        Ok(Some(
            "permessage-deflate; client_max_window_bits=11".to_owned()
        ))
    );
    // An offer without client_max_window_bits cannot be limited (§7.1.2.2):
    // accepted with the client's window left open, never answered with a
    // window the client did not allow.
    assert_eq!(
        answer_with(
            DeflateConfig::default().peer_max_window_bits(11),
            &["permessage-deflate"]
        )
        .map(|line| line.map(|l| !l.contains("client_max_window_bits"))),
        Ok(Some(true)),
    );
    // Our smaller windows answer a larger ask with the smaller value.
    assert_eq!(
        answer_with(
            DeflateConfig::default().max_window_bits(9),
            &["permessage-deflate; server_max_window_bits=12"]
        ),
        Ok(Some(
            "permessage-deflate; server_max_window_bits=9".to_owned()
        ))
    );
    for bits in 8..=15 {
        let offer = format!(
            "permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}"
        );
        assert_eq!(answer(&[&offer]), Ok(Some(offer.clone())), "{offer}");
    }
}

#[test]
fn a_value_that_is_no_token_makes_the_whole_request_malformed() {
    // §9.1: a value must be a token (quoted or not); an empty quoted
    // string, a space inside quotes or a bare `=` is outside the grammar,
    // answered 400 as Python websockets does.
    for offer in [
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; server_max_window_bits=\"1 0\"",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits=\"10",
    ] {
        assert_eq!(
            answer(&[offer]),
            Err(HandshakeError::MalformedExtensions),
            "{offer}"
        );
    }
}

/// Both windows 15, both contexts taken over or not.
fn params(takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

/// A server with deflate negotiated (`params`) and a message limit.
fn server(negotiated: Option<DeflateParams>, limit: u64) -> impl Fn() -> Connection {
    move || {
        Connection::with_deflate(
            Role::Server,
            Config::builder().max_message_size(limit).build(),
            negotiated,
        )
    }
}

/// What a server makes of `wire` whole, byte by byte and cut at every point
/// (all the same): its messages and pings, and the close code it wrote.
fn seen(make: &dyn Fn() -> Connection, wire: &[u8]) -> (Vec<String>, Option<u16>) {
    common::same_every_way("wire", make, wire, true, |(events, out)| {
        let seen = events
            .iter()
            .filter_map(|event| match event {
                Event::Message(Message::Text(t)) => Some(format!("text {:?}", t.as_str())),
                Event::Message(Message::Binary(b)) => Some(format!("binary {}", b.len())),
                Event::Ping(p) => Some(format!("ping {p:?}")),
                _ => None,
            })
            .collect();
        (seen, close_code_on_wire(&out))
    })
}

#[test]
fn an_empty_compressed_message_in_every_form_a_peer_sends_is_empty() {
    // The empty stored block's header byte alone (§7.2.3.6; what zlib's
    // sync flush leaves, tail stripped: Python websockets sends it), an
    // empty final fixed block (`03 00`, with or without the `00` after it),
    // each followed by a compressed "hello" that takes the context over.
    // (An empty payload, no block at all, stays 1007 as session 20 pinned:
    // the tail alone ends inside a stored block's lengths. Python
    // websockets and Node ws read it as an empty message; no sender we
    // tried makes one.)
    for empty in [&[0x00][..], &[0x03, 0x00], &[0x03, 0x00, 0x00]] {
        let mut wire = client(FIN | RSV1 | TEXT, empty);
        wire.extend(client(FIN | RSV1 | TEXT, &sync_compressed(b"hello", 6)));
        for takeover in [true, false] {
            assert_eq!(
                seen(&server(Some(params(takeover)), 1 << 20), &wire),
                (
                    vec!["text \"\"".to_owned(), "text \"hello\"".to_owned()],
                    None
                ),
                "{empty:02x?}, takeover {takeover}"
            );
        }
    }
}

#[test]
fn a_message_ended_by_a_final_block_is_followed_by_another_message() {
    // §7.2.3.4: a sender may end a message with a BFINAL block; the next
    // message starts a new DEFLATE stream on the sender's side, which the
    // receiver must read whether or not it keeps its window. (Node ws reads
    // both; Python websockets 17.4 hands out the second as empty.)
    let mut wire = client(FIN | RSV1 | TEXT, &final_compressed(b"Hello", 6));
    wire.extend(client(
        FIN | RSV1 | TEXT,
        &sync_compressed(b"Hello again", 6),
    ));
    wire.extend(client(
        FIN | RSV1 | BINARY,
        &final_compressed(&[7; 3000], 9),
    ));
    for takeover in [true, false] {
        assert_eq!(
            seen(&server(Some(params(takeover)), 1 << 20), &wire),
            (
                vec![
                    "text \"Hello\"".to_owned(),
                    "text \"Hello again\"".to_owned(),
                    "binary 3000".to_owned()
                ],
                None
            ),
            "takeover {takeover}"
        );
    }
}

#[test]
fn rsv1_on_a_continuation_a_control_frame_or_without_the_extension_is_1002() {
    let compressed = sync_compressed(b"hello hello hello", 6);
    let (head, tail) = compressed.split_at(4);
    let on_continuation = [client(RSV1 | TEXT, head), client(FIN | RSV1 | CONT, tail)].concat();
    let on_ping = client(FIN | RSV1 | PING, b"p");
    for wire in [&on_continuation, &on_ping] {
        assert_eq!(
            seen(&server(Some(params(true)), 1 << 20), wire).1,
            Some(1002)
        );
    }
    assert_eq!(
        seen(
            &server(None, 1 << 20),
            &client(FIN | RSV1 | TEXT, &compressed)
        )
        .1,
        Some(1002)
    );
}

#[test]
fn a_ping_between_compressed_fragments_is_answered_and_the_message_stays_whole() {
    let text = "fragmented and compressed, ".repeat(40);
    let compressed = sync_compressed(text.as_bytes(), 6);
    let third = compressed.len() / 3;
    let wire = [
        client(RSV1 | TEXT, &compressed[..third]),
        client(FIN | PING, b"between"),
        client(CONT, &compressed[third..2 * third]),
        client(FIN | PING, b""),
        client(FIN | CONT, &compressed[2 * third..]),
    ]
    .concat();
    let make = server(Some(params(true)), 1 << 20);
    assert_eq!(
        seen(&make, &wire),
        (
            vec![
                "ping b\"between\"".to_owned(),
                "ping b\"\"".to_owned(),
                format!("text {text:?}")
            ],
            None
        )
    );
    // And the pongs went out uncompressed, in order.
    let mut conn = make();
    conn.receive(&wire);
    while conn.next_event().is_some() {}
    let pongs: Vec<_> = frames_of(&conn.take_output());
    assert_eq!(
        pongs,
        vec![(FIN | 0xA, b"between".to_vec()), (FIN | 0xA, Vec::new())]
    );
}

#[test]
fn corrupt_compressed_data_is_1007() {
    // A reserved block type (BTYPE 11), and a stored block whose length
    // check fails.
    for bad in [&[0x07, 0x00][..], &[0x00, 0x05, 0x00, 0x00, 0x00, b'a']] {
        assert_eq!(
            seen(
                &server(Some(params(true)), 1 << 20),
                &client(FIN | RSV1 | BINARY, bad)
            )
            .1,
            Some(1007),
            "{bad:02x?}"
        );
    }
}

#[test]
fn the_inflated_size_meets_max_message_size_exactly_and_one_byte_over_is_1009() {
    const LIMIT: u64 = 70_000;
    for len in [LIMIT as usize, LIMIT as usize + 1] {
        let data = vec![b'z'; len];
        let want = if len as u64 <= LIMIT {
            (vec![format!("binary {len}")], None)
        } else {
            (Vec::new(), Some(1009))
        };
        // Whole, in one frame, with a sync flush or a final block.
        for compressed in [sync_compressed(&data, 6), final_compressed(&data, 6)] {
            let wire = client(FIN | RSV1 | BINARY, &compressed);
            assert_eq!(
                seen(&server(Some(params(true)), LIMIT), &wire),
                want,
                "{len}"
            );
            // In fragments, the last one empty.
            let (a, b) = compressed.split_at(compressed.len() / 2);
            let wire = [
                client(RSV1 | BINARY, a),
                client(CONT, b),
                client(FIN | CONT, &[]),
            ]
            .concat();
            assert_eq!(
                seen(&server(Some(params(true)), LIMIT), &wire),
                want,
                "{len} fragmented"
            );
        }
        // In stored blocks that cross the limit inside one block.
        // (The sender's data ends with the header byte of the empty stored
        // block the tail completes, §7.2.1.)
        let mut blocks = stored(&data[..40_000]);
        blocks.extend(stored(&data[40_000..]));
        blocks.push(0x00);
        let wire = client(FIN | RSV1 | BINARY, &blocks);
        assert_eq!(
            seen(&server(Some(params(true)), LIMIT), &wire),
            want,
            "{len} stored"
        );
    }
}

/// Our tokio client, offering `ours`, against a server that reads the
/// request and answers the 101 with `extensions` (one header line each):
/// the handshake's outcome, and the offer it read.
#[cfg(feature = "tokio")]
async fn client_against_answer(
    ours: DeflateConfig,
    extensions: &[&str],
) -> (
    Result<
        (
            wsframe::tokio::WebSocket<tokio::io::DuplexStream>,
            wsframe::handshake::Accepted,
        ),
        wsframe::tokio::Error,
    >,
    String,
    tokio::io::DuplexStream,
) {
    use common::sample_handshake::{switching, SAMPLE_NONCE};
    use tokio::io::AsyncWriteExt;
    use wsframe::handshake::ClientHandshake;

    let extra: String = extensions
        .iter()
        .map(|line| format!("Sec-WebSocket-Extensions: {line}\r\n"))
        .collect();
    let (ours_io, mut theirs) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move {
        let request = common::raw_server::read_request(&mut theirs).await;
        theirs.write_all(&switching(&extra)).await.unwrap();
        (String::from_utf8(request).unwrap(), theirs)
    });
    let request = ClientHandshake::new(SAMPLE_NONCE)
        .target("127.0.0.1", "/")
        .unwrap();
    let config = Config::builder().deflate(Some(ours.threshold(0))).build();
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        wsframe::tokio::WebSocket::client(ours_io, &request, config),
    )
    .await
    .expect("client: still waiting after 20 s");
    let (request, theirs) = server.await.unwrap();
    let offer = request
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .unwrap_or_default()
        .to_owned();
    (result, offer, theirs)
}

/// The next frame a client wrote on `io`, unmasked by hand (RFC 6455
/// §5.2, §5.3): its first byte and payload.
#[cfg(feature = "tokio")]
async fn read_client_frame(io: &mut tokio::io::DuplexStream) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0; 2];
    io.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0x80, "a client frame is masked (§5.1)");
    let len = match head[1] & 0x7F {
        126 => usize::from(io.read_u16().await.unwrap()),
        127 => usize::try_from(io.read_u64().await.unwrap()).unwrap(),
        len => usize::from(len),
    };
    let mut key = [0; 4];
    io.read_exact(&mut key).await.unwrap();
    let mut payload = vec![0; len];
    io.read_exact(&mut payload).await.unwrap();
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
    (head[0], payload)
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn our_client_fails_the_handshake_on_an_answer_rfc_7692_refuses() {
    use wsframe::tokio::Error;
    // What a raw socket server answered our tokio client in the session's
    // run, each as RFC 7692 §7.1 has the client fail it.
    let asked = DeflateConfig::default()
        .max_window_bits(10)
        .peer_max_window_bits(10);
    for answer in [
        // A window larger than offered, ours or the server's.
        &["permessage-deflate; server_max_window_bits=11; client_max_window_bits=10"][..],
        &["permessage-deflate; server_max_window_bits=10; client_max_window_bits=11"],
        // server_max_window_bits missing when we asked for it.
        &["permessage-deflate"],
        // client_max_window_bits without a value in a response.
        &["permessage-deflate; server_max_window_bits=10; client_max_window_bits"],
        // An unknown or repeated parameter, an invalid value.
        &["permessage-deflate; server_max_window_bits=10; x-unknown"],
        &["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"],
        &["permessage-deflate; server_max_window_bits=10; client_no_context_takeover; client_no_context_takeover"],
        &["permessage-deflate; server_max_window_bits=010"],
        &["permessage-deflate; server_max_window_bits=7"],
        &["permessage-deflate; server_max_window_bits=10; server_no_context_takeover=1"],
        // The extension accepted twice, in one line or two.
        &["permessage-deflate; server_max_window_bits=10, permessage-deflate; server_max_window_bits=10"],
        &[
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=9",
        ],
    ] {
        let (result, offer, _) = client_against_answer(asked, answer).await;
        assert_eq!(
            offer,
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"
        );
        assert!(
            matches!(
                result,
                Err(Error::Handshake(HandshakeError::BadExtensionResponse))
            ),
            "{answer:?}: {:?}",
            result.map(|(_, accepted)| accepted)
        );
    }
    // An extension we did not offer at all.
    let (result, _, _) = client_against_answer(asked, &["x-webkit-deflate-frame"]).await;
    assert!(
        matches!(
            result,
            Err(Error::Handshake(HandshakeError::UnofferedExtension))
        ),
        "{:?}",
        result.map(|(_, accepted)| accepted)
    );
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn our_client_accepts_what_rfc_7692_lets_a_server_add_and_keeps_to_it() {
    use tokio::io::AsyncWriteExt;
    // §7.1.1.1, §7.1.1.2, §7.1.2.1: a server may answer
    // server_no_context_takeover, client_no_context_takeover and
    // server_max_window_bits that the offer did not have, and may set
    // client_max_window_bits offered without a value. The client keeps to
    // the answer: with client_no_context_takeover each message inflates
    // alone (a fresh reference inflater reads it); without, the second of
    // two equal messages refers back into the first.
    for (answer, fresh) in [
        ("permessage-deflate; server_no_context_takeover", false),
        ("permessage-deflate; client_no_context_takeover", true),
        ("permessage-deflate; server_max_window_bits=9", false),
        ("permessage-deflate; client_max_window_bits=9", false),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=8",
            true,
        ),
        // A name in another case, a value quoted (§9.1).
        (
            "permessage-deflate; Client_No_Context_Takeover; server_max_window_bits=\"12\"",
            true,
        ),
    ] {
        let (result, offer, mut theirs) =
            client_against_answer(DeflateConfig::default(), &[answer]).await;
        assert_eq!(offer, "permessage-deflate; client_max_window_bits");
        let (mut ws, accepted) = result.unwrap_or_else(|err| panic!("{answer}: {err}"));
        assert_eq!(accepted.extensions.len(), 1, "{answer}");
        let text = "the same sentence, said twice over one connection. ".repeat(20);
        let mut payloads = Vec::new();
        for _ in 0..2 {
            ws.send(Message::from(text.as_str())).await.unwrap();
            let (first, payload) = read_client_frame(&mut theirs).await;
            assert_eq!(first, FIN | RSV1 | TEXT, "{answer}");
            payloads.push(payload);
        }
        let alone: Vec<Option<Vec<u8>>> = payloads
            .iter()
            .map(|p| common::deflate::reference_inflate(p))
            .collect();
        assert_eq!(alone[0].as_deref(), Some(text.as_bytes()), "{answer}");
        assert_eq!(
            alone[1].as_deref() == Some(text.as_bytes()),
            fresh,
            "{answer}: the second message inflates alone only without takeover"
        );
        // And the server's compressed message, in its window, reads back.
        let compressed = sync_compressed(b"from the server", 6);
        theirs
            .write_all(&common::raw_frame(FIN | RSV1 | TEXT, &compressed, None))
            .await
            .unwrap();
        match ws.next().await {
            Some(Ok(Event::Message(Message::Text(t)))) => {
                assert_eq!(t.as_str(), "from the server", "{answer}")
            }
            other => panic!("{answer}: {other:?}"),
        }
    }
}

/// Our tokio client against real echo servers (`WSFRAME_DEFLATE_PEERS`,
/// host:port,...: Python websockets and Node ws set each way, see
/// `conformance/deflate_windows.sh`), with windows 9 to 15 on both sides
/// and each side's context takeover off: 1 MiB of text and of binary,
/// 100 small messages queued before reading any echo (one context across
/// them), a message sent compressed in fragments (one empty) and 1 MiB in
/// 64 KiB fragments; every echo compared
/// exactly. A server may refuse an offer (400) or answer one RFC 7692
/// §7.1 has us refuse; none may close, differ or hang.
#[cfg(feature = "tokio")]
#[tokio::test]
#[ignore = "needs WSFRAME_DEFLATE_PEERS (host:port,... of real echo servers; conformance/deflate_windows.sh)"]
async fn our_client_sends_big_small_and_fragmented_to_real_servers() {
    use common::real_peers::{connect_with_deflate, peers_from_env};
    use std::time::Duration;

    let big_text = "a line of text that repeats, with a number: ".repeat(1 << 14)
        + &(0..20_000).map(|i| format!("{i} ")).collect::<String>();
    let big_binary: Vec<u8> = (0..1usize << 20).map(|i| (i * i / 7 % 251) as u8).collect();
    let small: Vec<Message> = (0..100)
        .map(|i| {
            if i % 2 == 0 {
                Message::from(format!("small message {i}, éè, {}", "x".repeat(i)).as_str())
            } else {
                Message::from(vec![i as u8; i * 3])
            }
        })
        .collect();
    let fragments = [
        "first piece, ",
        "second piece — with ü, ",
        "",
        "last piece.",
    ];
    let mut preferences: Vec<DeflateConfig> = (9..=15)
        .map(|bits| {
            DeflateConfig::default()
                .max_window_bits(bits)
                .peer_max_window_bits(bits)
        })
        .collect();
    preferences.push(DeflateConfig::default().no_context_takeover(true));
    preferences.push(DeflateConfig::default().peer_no_context_takeover(true));
    let (mut echoed, mut refused) = (0, 0);
    for addr in &peers_from_env() {
        for prefs in &preferences {
            let session = async {
                let Some((mut ws, _)) = connect_with_deflate(addr, *prefs).await else {
                    return false;
                };
                let what = format!("{addr} {prefs:?}");
                for message in [
                    Message::from(big_text.as_str()),
                    Message::from(big_binary.clone()),
                ] {
                    ws.send(message.clone()).await.expect("send");
                    expect_echo(&mut ws, message, &what).await;
                }
                for message in &small {
                    ws.feed(message.clone()).await.expect("feed");
                }
                ws.flush().await.expect("flush");
                for message in &small {
                    expect_echo(&mut ws, message.clone(), &what).await;
                }
                for (i, piece) in fragments.iter().enumerate() {
                    ws.send_fragment(Message::from(*piece), i + 1 == fragments.len())
                        .await
                        .expect("fragment");
                }
                expect_echo(&mut ws, Message::from(fragments.concat().as_str()), &what).await;
                // 1 MiB in 64 KiB fragments (ASCII: any cut is a char
                // boundary), one compressed message.
                let pieces: Vec<&str> = big_text
                    .as_bytes()
                    .chunks(64 << 10)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                for (i, piece) in pieces.iter().enumerate() {
                    ws.feed_fragment(Message::from(*piece), i + 1 == pieces.len())
                        .await
                        .expect("fragment");
                }
                ws.flush().await.expect("flush");
                expect_echo(&mut ws, Message::from(big_text.as_str()), &what).await;
                ws.close(wsframe::CloseCode::NORMAL, "")
                    .await
                    .expect("close");
                true
            };
            match tokio::time::timeout(Duration::from_secs(60), session).await {
                Ok(true) => echoed += 1,
                Ok(false) => refused += 1,
                Err(_) => panic!("{addr} {prefs:?}: no answer in 60 s"),
            }
        }
    }
    eprintln!("{echoed} sessions echoed big, small and fragmented messages; {refused} handshakes failed (an answer RFC 7692 §7.1 refuses, or a 400)");
    assert!(echoed > 0);
}

/// The next event is the echo of `sent`, exactly.
#[cfg(feature = "tokio")]
async fn expect_echo(
    ws: &mut wsframe::tokio::WebSocket<tokio::net::TcpStream>,
    sent: Message,
    what: &str,
) {
    match ws.next().await {
        Some(Ok(Event::Message(back))) => assert!(
            back == sent,
            "{what}: the echo of {} bytes differs",
            sent.as_bytes().len()
        ),
        other => panic!("{what}: {other:?}"),
    }
}

#[test]
fn a_compressed_message_may_open_with_an_empty_fragment() {
    // A streaming sender that has nothing yet sends RSV1 on an empty first
    // frame (§6.1 puts RSV1 there, whatever its length); the data follows in
    // continuations, the last one empty too.
    let text = "streamed, then compressed. ".repeat(30);
    let compressed = sync_compressed(text.as_bytes(), 6);
    let wire = [
        client(RSV1 | TEXT, &[]),
        client(CONT, &compressed[..10]),
        client(CONT, &[]),
        client(CONT, &compressed[10..]),
        client(FIN | CONT, &[]),
    ]
    .concat();
    for takeover in [true, false] {
        assert_eq!(
            seen(&server(Some(params(takeover)), 1 << 20), &wire),
            (vec![format!("text {text:?}")], None)
        );
    }
}

#[test]
fn data_after_a_final_block_in_the_same_message_is_1007_every_way() {
    // The DEFLATE stream ends with its final block; more data in the same
    // message (beyond the one `00` of §7.2.3.4's example) is not a stream
    // RFC 7692 §7.2.2 can inflate. Python websockets and Node ws deliver
    // "Hello" and drop the rest silently; ours closes with 1007, at every
    // cut, rather than lose data without a word.
    let mut payload = final_compressed(b"Hello", 6);
    payload.extend(sync_compressed(b"world", 6));
    for takeover in [true, false] {
        assert_eq!(
            seen(
                &server(Some(params(takeover)), 1 << 20),
                &client(FIN | RSV1 | TEXT, &payload)
            ),
            (Vec::new(), Some(1007))
        );
    }
}

#[test]
fn fragments_sent_compressed_end_with_the_tail_stripped_even_when_the_last_is_empty() {
    // Our client sends a message in fragments, the last one (or the only
    // one) empty: every message ends as §7.2.1 asks (a reference inflater,
    // and our server, read it) and the last frame's payload is never
    // `00 00 FF FF`-terminated.
    let cases: [&[&str]; 5] = [
        &["abc", ""],
        &["", ""],
        &[""],
        &["abc", "", ""],
        &["first ", "second ", "third"],
    ];
    for pieces in cases {
        for takeover in [true, false] {
            let config = Config::builder()
                .deflate(Some(DeflateConfig::default().threshold(0)))
                .build();
            let mut ours = Connection::with_deflate(Role::Client, config, Some(params(takeover)));
            for _ in 0..2 {
                for (i, piece) in pieces.iter().enumerate() {
                    ours.send_fragment(Message::from(*piece), i + 1 == pieces.len())
                        .unwrap();
                }
            }
            let wire = ours.take_output();
            let frames = frames_of(&wire);
            let last = &frames[pieces.len() - 1].1;
            assert!(
                !last.ends_with(&[0, 0, 0xFF, 0xFF]),
                "{pieces:?}: {frames:02x?}"
            );
            let first_message: Vec<u8> = frames[..pieces.len()]
                .iter()
                .flat_map(|(_, p)| p.clone())
                .collect();
            assert_eq!(
                common::deflate::reference_inflate(&first_message).as_deref(),
                Some(pieces.concat().as_bytes()),
                "{pieces:?}: {frames:02x?}"
            );
            let want = vec![format!("text {:?}", pieces.concat()); 2];
            assert_eq!(
                seen(&server(Some(params(takeover)), 1 << 20), &wire),
                (want, None),
                "{pieces:?}, takeover {takeover}"
            );
        }
    }
}

#[test]
fn an_uncompressed_message_between_compressed_ones_stays_out_of_the_context() {
    // RFC 7692 §6.1: a message without RSV1 is not compressed, and its
    // bytes are no part of the LZ77 window the next compressed message
    // refers to. A reference compressor (flate2) sends A, then B plain,
    // then A again (referring back to the first A); Node ws does this for
    // every message under its 1 KiB threshold.
    let a = b"a sentence the compressor will refer back to, long enough to matter";
    let mut compressor = flate2::Compress::new(flate2::Compression::new(6), false);
    let first = common::deflate::sync_message(&mut compressor, a);
    let again = common::deflate::sync_message(&mut compressor, a);
    assert!(again.len() < first.len() / 2, "the second A refers back");
    let wire = [
        client(FIN | RSV1 | TEXT, &first),
        client(FIN | TEXT, b"plain B between"),
        client(FIN | RSV1 | TEXT, &again),
    ]
    .concat();
    let text = std::str::from_utf8(a).unwrap();
    assert_eq!(
        seen(&server(Some(params(true)), 1 << 20), &wire),
        (
            vec![
                format!("text {text:?}"),
                "text \"plain B between\"".to_owned(),
                format!("text {text:?}")
            ],
            None
        )
    );
    // Our sender, the same way: a message sent uncompressed leaves our
    // context as it was (a reference inflater that skips it reads the
    // third).
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(0)))
        .build();
    let mut ours = Connection::with_deflate(Role::Client, config, Some(params(true)));
    ours.send(Message::from(text)).unwrap();
    ours.send_compressed(Message::from("plain B between"), false)
        .unwrap();
    ours.send(Message::from(text)).unwrap();
    let frames = frames_of(&ours.take_output());
    assert_eq!(
        frames
            .iter()
            .map(|(first, _)| first & RSV1)
            .collect::<Vec<_>>(),
        vec![RSV1, 0, RSV1]
    );
    assert!(
        frames[2].1.len() < frames[0].1.len() / 2,
        "the third refers back"
    );
    let mut inflater = flate2::Decompress::new(false);
    for i in [0, 2] {
        assert_eq!(
            common::deflate::inflate_next(&mut inflater, &frames[i].1),
            text.as_bytes(),
            "message {i}"
        );
    }
}
