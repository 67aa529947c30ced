//! Any request the client builder can produce is accepted by
//! `UpgradeRequest::parse` with what was built (RFC 6455 §4.1 → §4.2.1), and
//! the accept key round-trips: the server's 101 passes the client's check
//! (§4.2.2 item 5.4 → §4.1 item 4).

use proptest::prelude::*;
use wsframe::handshake::{accept_key, ClientHandshake, ExtensionOffer, Status, UpgradeRequest};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn host() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?",
        prop::option::of(1u16..),
    )
        .prop_map(|(name, port)| match port {
            Some(port) => format!("{name}:{port}"),
            None => name,
        })
}

fn target() -> impl Strategy<Value = String> {
    "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,10}){1,4}(\\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,20})?"
}

fn extension() -> impl Strategy<Value = ExtensionOffer> {
    (
        token(),
        prop::collection::vec((token(), prop::option::of(token())), 0..4),
    )
        .prop_map(|(name, params)| {
            params
                .iter()
                .fold(ExtensionOffer::new(&name).unwrap(), |offer, (n, v)| {
                    offer.with_param(n, v.as_deref()).unwrap()
                })
        })
}

/// Extra header fields: token names that the handshake does not write
/// itself, values of visible ASCII with inner spaces and tabs.
fn extra_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~\t]{0,30}[!-~])?"), 0..8)
}

proptest! {
    #[test]
    fn any_built_request_parses_and_its_accept_key_round_trips(
        nonce in any::<[u8; 16]>(),
        host in host(),
        target in target(),
        subprotocols in prop::collection::vec(token(), 0..4),
        extensions in prop::collection::vec(extension(), 0..3),
        headers in extra_headers(),
        choice in any::<prop::sample::Index>(),
        trailing in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut client = ClientHandshake::new(nonce).target(&host, &target).unwrap();
        for p in &subprotocols {
            client = client.subprotocol(p).unwrap();
        }
        for e in &extensions {
            client = client.extension(e.clone());
        }
        for (name, value) in &headers {
            client = client.header(name, value).unwrap();
        }
        let mut request = client.to_bytes();
        let head_len = request.len();
        request.extend_from_slice(&trailing);

        let Ok(Status::Complete((upgrade, used))) = UpgradeRequest::parse(&request) else {
            panic!("refused: {:?}", String::from_utf8_lossy(&request));
        };
        prop_assert_eq!(used, head_len);
        prop_assert_eq!(upgrade.target(), target.as_str());
        prop_assert_eq!(upgrade.host(), host.as_str());
        prop_assert_eq!(upgrade.key(), client.key());
        prop_assert_eq!(upgrade.accept_key(), accept_key(client.key().as_bytes()));
        prop_assert_eq!(upgrade.subprotocols().collect::<Vec<_>>(), subprotocols.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(upgrade.extensions(), extensions.as_slice());
        for (name, value) in &headers {
            prop_assert!(upgrade.header_values(name).any(|v| v == value.as_bytes()));
        }

        // The server's 101, choosing one offered subprotocol and accepting
        // every offered extension, passes the client's check.
        let mut accept = upgrade.accept();
        if !subprotocols.is_empty() {
            accept = accept.subprotocol(choice.get(&subprotocols).as_str()).unwrap();
        }
        for e in &extensions {
            accept = accept.extension(e.clone()).unwrap();
        }
        let mut response = accept.to_bytes();
        let response_len = response.len();
        response.extend_from_slice(&trailing);
        let Ok(Status::Complete(accepted)) = client.parse_response(&response) else {
            panic!("101 refused: {:?}", String::from_utf8_lossy(&response));
        };
        prop_assert_eq!(accepted.head_len, response_len);
        prop_assert_eq!(accepted.subprotocol.as_deref(), (!subprotocols.is_empty()).then(|| choice.get(&subprotocols).as_str()));
        prop_assert_eq!(&accepted.extensions, &extensions);

        // Another key's client refuses it (§4.1 item 4).
        let mut other = nonce;
        other[0] ^= 1;
        let stranger = ClientHandshake::new(other);
        prop_assert!(stranger.parse_response(&response).is_err());
    }
}

/// A valid request and a valid 101 for `ClientHandshake::new([0; 16])`.
fn seeds() -> [Vec<u8>; 2] {
    let client = ClientHandshake::new([0; 16])
        .target("h:1", "/p?q")
        .unwrap()
        .subprotocol("a")
        .unwrap()
        .extension(
            ExtensionOffer::new("x")
                .unwrap()
                .with_param("p", Some("1"))
                .unwrap(),
        );
    let request = client.to_bytes();
    let Ok(Status::Complete((upgrade, _))) = UpgradeRequest::parse(&request) else {
        unreachable!()
    };
    let response = upgrade
        .accept()
        .subprotocol("a")
        .unwrap()
        .extension(ExtensionOffer::new("x").unwrap())
        .unwrap()
        .to_bytes();
    [request, response]
}

/// Edits of a seed: (position, byte, whether to insert or overwrite).
fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, bool)>> {
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop::sample::select(b"\r\n:;,=\" \t\\\0a1-\x80".to_vec()),
            any::<bool>(),
        ),
        0..6,
    )
}

proptest! {
    /// Arbitrary and mutated heads never panic; a head accepted once is
    /// accepted again alone, and every strict prefix of it is partial (the
    /// answer does not depend on how the bytes were cut).
    #[test]
    fn any_bytes_are_refused_or_accepted_without_panic_and_cut_anywhere_alike(
        seed in 0..2usize,
        edits in edits(),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        use_noise in any::<bool>(),
    ) {
        let mut data = if use_noise { noise } else { seeds()[seed].clone() };
        for (at, byte, insert) in edits {
            if data.is_empty() {
                break;
            }
            let at = at.index(data.len());
            if insert { data.insert(at, byte) } else { data[at] = byte }
        }
        let client = ClientHandshake::new([0; 16]).subprotocol("a").unwrap().extension(ExtensionOffer::new("x").unwrap());
        let request = UpgradeRequest::parse(&data);
        let response = client.parse_response(&data);
        if let Ok(Status::Complete((upgrade, used))) = &request {
            prop_assert_eq!(UpgradeRequest::parse(&data[..*used]), Ok(Status::Complete((upgrade.clone(), *used))));
            for end in 0..*used {
                prop_assert_eq!(UpgradeRequest::parse(&data[..end]), Ok(Status::Partial));
            }
        }
        if let Ok(Status::Complete(accepted)) = &response {
            let used = accepted.head_len;
            prop_assert_eq!(client.parse_response(&data[..used]), Ok(Status::Complete(accepted.clone())));
            for end in 0..used {
                prop_assert_eq!(client.parse_response(&data[..end]), Ok(Status::Partial));
            }
        }
    }
}
