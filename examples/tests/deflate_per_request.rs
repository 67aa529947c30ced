//! Both echo servers (blocking, and tokio with the `tokio` feature) choose
//! permessage-deflate per request (`Accept::deflate`, sans-IO and in
//! `WebSocket::accept_with`'s `decide`): accepted on `/` and other paths,
//! declined on `/plain`, to a client that offers it on each; each
//! connection compresses as its 101 says (RSV1 on the echo of a
//! compressible message, RFC 7692 §6).

mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
};

use common::{tests_on_each_server, Server, PATIENCE};
use wsframe::{
    handshake::{ClientHandshake, Status},
    Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role,
};

/// A session on `path` offering permessage-deflate: what the server
/// accepted, and the first byte of the frame that echoes a compressible
/// text (whose echo must be that text).
fn offer_deflate_on(addr: &str, path: &str) -> (Option<DeflateParams>, u8) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let ours = DeflateConfig::default();
    let handshake = ClientHandshake::random()
        .expect("a key")
        .target(addr, path)
        .expect("a target")
        .extension(ours.offer());
    stream.write_all(&handshake.to_bytes()).expect("write");
    let mut wire = Vec::new();
    let mut buf = [0u8; 4096];
    let (params, head_len) = loop {
        let n = stream.read(&mut buf).expect("read");
        assert_ne!(n, 0, "closed during the handshake");
        wire.extend_from_slice(&buf[..n]);
        if let Status::Complete(accepted) = handshake.parse_response(&wire).expect("a 101") {
            let params = ours.check_response(&accepted.extensions).expect("valid");
            break (params, accepted.head_len);
        }
    };
    let mut conn = Connection::with_deflate(Role::Client, Config::default(), params);
    let text = "echo me, compressed or not; ".repeat(100);
    conn.send(Message::from(text.as_str())).expect("send");
    stream.write_all(&conn.take_output()).expect("write");
    // The echo's frame starts right after the 101's head; `frames` keeps
    // what came, for its first byte.
    let mut frames = wire.split_off(head_len);
    conn.receive(&frames);
    let echo = loop {
        if let Some(event) = conn.next_event() {
            break event;
        }
        let n = stream.read(&mut buf).expect("read");
        assert_ne!(n, 0, "closed before the echo");
        frames.extend_from_slice(&buf[..n]);
        conn.receive(&buf[..n]);
    };
    assert_eq!(echo, Event::Message(Message::from(text.as_str())));
    (params, frames[0])
}

tests_on_each_server!(deflate_is_accepted_on_slash_and_declined_on_plain);

fn deflate_is_accepted_on_slash_and_declined_on_plain(binary: &str) {
    let server = Server::start(binary, &[]);
    let (params, first) = offer_deflate_on(&server.addr, "/");
    assert!(params.is_some(), "accepted on /");
    assert_eq!(first & 0x40, 0x40, "the echo compressed (RSV1)");
    let (params, first) = offer_deflate_on(&server.addr, "/plain");
    assert_eq!(params, None, "declined on /plain");
    assert_eq!(first & 0x40, 0, "the echo as it is");
    // The path without its query is `/plain`; one below it is not.
    assert_eq!(offer_deflate_on(&server.addr, "/plain?x=1").0, None);
    let (params, first) = offer_deflate_on(&server.addr, "/plain/more");
    assert!(params.is_some(), "accepted on /plain/more");
    assert_eq!(first & 0x40, 0x40, "the echo compressed (RSV1)");
    // With `--no-deflate`, declined everywhere.
    let server = Server::start(binary, &["--no-deflate"]);
    assert_eq!(offer_deflate_on(&server.addr, "/").0, None);
    assert_eq!(offer_deflate_on(&server.addr, "/plain").0, None);
}
