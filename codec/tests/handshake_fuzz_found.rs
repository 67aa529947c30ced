//! What the `handshake` fuzz target found, as plain tests: a head's
//! verdict must not depend on how the reads cut it, so a head that passes
//! the size limit is refused for its size (431) whatever follows the limit,
//! read whole or in pieces; and `HeadScan` keeps a trickled head's parses
//! few (its documented bound) past the limit too, where interim responses
//! let a response's head run on.

use wsframe::handshake::{
    ClientHandshake, HandshakeError, HeadScan, RefusedResponse, Status, UpgradeRequest,
    MAX_HANDSHAKE_LEN,
};

/// `first_line`, a header field that fills the head past the limit, then a
/// header name holding a control byte (a syntax error) after the limit.
fn past_limit_then_broken(first_line: &[u8]) -> Vec<u8> {
    let mut head = first_line.to_vec();
    head.extend_from_slice(b"X-Filler: ");
    head.resize(MAX_HANDSHAKE_LEN + 100, b'f');
    head.extend_from_slice(b"\r\nC\x01nnection: Upgrade\r\n\r\n");
    head
}

/// The verdict of every prefix from the limit on (the shorter ones are
/// `Partial`, checked for the limit's), from the first that is not
/// `Partial`: what a server or client reading the head in pieces of any
/// size meets.
fn verdicts<T>(
    head: &[u8],
    parse: impl Fn(&[u8]) -> Result<Status<T>, HandshakeError>,
) -> Vec<Result<(), HandshakeError>> {
    assert!(matches!(
        parse(&head[..MAX_HANDSHAKE_LEN]),
        Ok(Status::Partial)
    ));
    (MAX_HANDSHAKE_LEN..=head.len())
        .filter_map(|end| match parse(&head[..end]) {
            Ok(Status::Partial) => None,
            Ok(Status::Complete(_)) => Some(Ok(())),
            Err(err) => Some(Err(err)),
        })
        .collect()
}

#[test]
fn a_request_past_the_limit_is_refused_with_431_whatever_follows() {
    let head = past_limit_then_broken(b"GET /chat HTTP/1.1\r\n");
    let verdicts = verdicts(&head, UpgradeRequest::parse);
    assert_eq!(verdicts[0], Err(HandshakeError::HeadTooLarge));
    assert!(
        verdicts.iter().all(|v| *v == verdicts[0]),
        "the verdict changes with the read: {:?}",
        verdicts.last()
    );
}

#[test]
fn a_response_past_the_limit_is_refused_with_431_whatever_follows() {
    let head = past_limit_then_broken(b"HTTP/1.1 101 Switching Protocols\r\n");
    let client = ClientHandshake::new(*b"the sample nonce");
    let answers = verdicts(&head, |buf| client.parse_response(buf));
    assert_eq!(answers[0], Err(HandshakeError::HeadTooLarge));
    assert!(answers.iter().all(|v| *v == answers[0]), "{answers:?}");
    let refusals = verdicts(&head, RefusedResponse::parse);
    assert_eq!(refusals[0], Err(HandshakeError::HeadTooLarge));
    assert!(refusals.iter().all(|v| *v == refusals[0]), "{refusals:?}");
}

#[test]
fn a_response_trickled_past_the_limit_behind_an_interim_head_is_parsed_a_few_times() {
    // A 100 Continue just under the limit, then a 101 with a long field:
    // the interim head counts in the limit (`MAX_HANDSHAKE_LEN`'s docs),
    // so the 101 runs past it and is refused with 431, at the first parse
    // past the limit, after a few parses in all.
    let mut response = b"HTTP/1.1 100 Continue\r\nX-Filler: ".to_vec();
    response.resize(MAX_HANDSHAKE_LEN - 100, b'f');
    response.extend_from_slice(b"\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nX-Long: ");
    response.resize(response.len() + 2000, b'l');
    response.extend_from_slice(
        b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let client = ClientHandshake::new(*b"the sample nonce");
    let mut scan = HeadScan::new();
    let mut parses = 0;
    let mut verdict = None;
    for end in 1..=response.len() {
        if !scan.worth_parsing(&response[..end]) {
            continue;
        }
        parses += 1;
        match client.parse_response(&response[..end]) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => panic!("accepted at {end}"),
            Err(err) => {
                verdict = Some((end, err));
                break;
            }
        }
    }
    assert_eq!(
        verdict,
        Some((MAX_HANDSHAKE_LEN + 1, HandshakeError::HeadTooLarge))
    );
    // HeadScan's bound: one parse per empty line, the doublings (log2 of
    // the length, plus the first), the end of the first line, and one
    // past the limit.
    let bound = 2 + response.len().ilog2() + 1 + 1 + 1;
    assert!(parses <= bound, "{parses} parses, bound {bound}");
}
