//! `Sec-WebSocket-Extensions` against the grammar of RFC 6455 §9.1: tokens,
//! parameters with and without values, quoted-string values (whose unescaped
//! content must be a token), several lines and comma-separated offers in
//! order, and malformed input refused (400 on a server).

use wsframe::handshake::{BuildError, ExtensionOffer, HandshakeError, Status, UpgradeRequest};

fn parse(lines: &[&str]) -> Result<Vec<ExtensionOffer>, HandshakeError> {
    ExtensionOffer::parse_list(lines.iter().map(|l| l.as_bytes()))
}

/// An offer as its name and `(param, value)` pairs.
type Shape<'o> = (&'o str, Vec<(&'o str, Option<&'o str>)>);

/// Each offer's [`Shape`], for comparison.
fn shape(offers: &[ExtensionOffer]) -> Vec<Shape<'_>> {
    offers
        .iter()
        .map(|o| {
            (
                o.name(),
                o.params().iter().map(|p| (p.name(), p.value())).collect(),
            )
        })
        .collect()
}

#[test]
fn rfc6455_9_1_tokens_params_with_and_without_values_in_order() {
    let offers = parse(&["permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-webkit-deflate-frame"]).unwrap();
    assert_eq!(
        shape(&offers),
        [
            (
                "permessage-deflate",
                vec![
                    ("client_max_window_bits", None),
                    ("server_max_window_bits", Some("10"))
                ]
            ),
            ("x-webkit-deflate-frame", vec![]),
        ]
    );
}

#[test]
fn rfc7692_5_the_rfc_offer_examples_parse() {
    // RFC 7692 §5.2 and §7.1.2.1's examples.
    let offers = parse(&[
        "permessage-deflate; client_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate",
    ])
    .unwrap();
    assert_eq!(offers.len(), 3);
    assert_eq!(
        offers[0]
            .param("client_max_window_bits")
            .and_then(|p| p.value()),
        Some("10")
    );
    assert!(offers[1].param("client_no_context_takeover").is_some());
    assert!(offers[2].params().is_empty());
}

#[test]
fn rfc6455_9_1_quoted_values_are_unescaped_and_must_be_tokens() {
    let offers = parse(&[r#"x; a="10"; b="1\0"; c = "\t\o\k" ;d=e"#]).unwrap();
    assert_eq!(
        shape(&offers),
        [(
            "x",
            vec![
                ("a", Some("10")),
                ("b", Some("10")),
                ("c", Some("tok")),
                ("d", Some("e"))
            ]
        )]
    );
    // The wire form writes every value as a bare token.
    assert_eq!(offers[0].to_string(), "x; a=10; b=10; c=tok; d=e");
}

#[test]
fn rfc9110_5_3_several_lines_are_one_list_in_order_and_empty_elements_are_skipped() {
    let offers = parse(&["a, b; p", "", " , c ,, ", "a; p=1; p=2"]).unwrap();
    let names: Vec<&str> = offers.iter().map(ExtensionOffer::name).collect();
    assert_eq!(names, ["a", "b", "c", "a"]);
    // Duplicated parameters stay visible; `param` gives the first.
    let repeated = &offers[3];
    assert_eq!(repeated.params().len(), 2);
    assert_eq!(repeated.param("P").and_then(|p| p.value()), Some("1"));
    assert!(parse(&[]).unwrap().is_empty());
}

#[test]
fn rfc6455_9_1_malformed_offers_are_refused() {
    for bad in [
        ";",
        "a;",
        "a; ",
        "a;;b",
        "a; =1",
        "a; b=",
        "a; b= ,",
        "a b",
        "a; b c",
        "a; b=c d",
        "a; b=1=2",
        "\"a\"",
        "a=1",
        "a/b",
        "a; b/c",
        // Quoted: unterminated, empty, or not a token once unescaped.
        "a; b=\"1",
        "a; b=\"1\\\"",
        "a; b=\"\"",
        "a; b=\"1 0\"",
        "a; b=\"1,0\"",
        "a; b=\"1\"0",
        "a; b=\"caf\u{e9}\"",
        "caf\u{e9}",
        "a,\u{1}",
    ] {
        assert_eq!(
            parse(&[bad]),
            Err(HandshakeError::MalformedExtensions),
            "{bad:?}"
        );
        // A bad line spoils the whole field, wherever it comes.
        assert_eq!(
            parse(&["good", bad]),
            Err(HandshakeError::MalformedExtensions)
        );
    }
}

#[test]
fn rfc6455_9_1_a_malformed_offer_in_a_request_is_400() {
    let request = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: a; b=\"x y\"\r\n\r\n";
    let err = UpgradeRequest::parse(request.as_bytes()).unwrap_err();
    assert_eq!(err, HandshakeError::MalformedExtensions);
    assert_eq!(err.status(), 400);
    let good = request.replace("\"x y\"", "\"x\"");
    let Ok(Status::Complete((upgrade, _))) = UpgradeRequest::parse(good.as_bytes()) else {
        panic!("refused");
    };
    assert_eq!(
        upgrade.extensions()[0].param("b").unwrap().value(),
        Some("x")
    );
}

#[test]
fn building_an_offer_refuses_what_the_grammar_cannot_carry() {
    assert_eq!(ExtensionOffer::new("").err(), Some(BuildError::Extension));
    assert_eq!(
        ExtensionOffer::new("a b").err(),
        Some(BuildError::Extension)
    );
    let offer = ExtensionOffer::new("x").unwrap();
    for (name, value) in [
        ("", None),
        ("a b", None),
        ("a", Some("")),
        ("a", Some("1 0")),
        ("a", Some("\"1\"")),
    ] {
        assert_eq!(
            offer.clone().with_param(name, value).err(),
            Some(BuildError::Extension),
            "{name:?} {value:?}"
        );
    }
    // What is built parses back to itself.
    let built = offer
        .with_param("a", None)
        .unwrap()
        .with_param("b", Some("15"))
        .unwrap();
    let text = built.to_string();
    assert_eq!(parse(&[&text]).unwrap(), [built]);
}
