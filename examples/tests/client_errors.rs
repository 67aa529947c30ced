//! `tokio_client`'s errors as a person reads them: one line on stderr,
//! the program's name, what failed and why (`Display` and the cause
//! chain, each message once), exit code 1; never the `{:?}` that
//! `main() -> Result` prints (`Io(Os { code: 111, kind: .. })`).
#![cfg(feature = "tokio")]

use std::{
    io::{Read, Write},
    net::TcpListener,
    process::{Command, Output},
    thread,
};

fn client(addr: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokio_client"))
        .args([addr, "hello"])
        .output()
        .expect("tokio_client runs")
}

/// stderr's one line, checked for what any error's line must be.
fn error_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).expect("UTF-8");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr:?}");
    let line = lines[0].to_owned();
    assert!(line.starts_with("tokio_client: "), "{line}");
    for debug in ["Os {", "kind:", "Io(", "Handshake(", "Refused("] {
        assert!(!line.contains(debug), "Debug output: {line}");
    }
    line
}

#[test]
fn a_refused_connection_says_so_in_words() {
    // A port nothing listens on: bound, then freed.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").to_string()
    };
    let line = error_line(&client(&addr));
    assert!(
        line.contains(&format!("cannot connect to {addr}")) && line.contains("refused"),
        "{line}"
    );
}

#[test]
fn a_refused_upgrade_shows_the_status_and_reason_once() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "the client hung up mid-request");
            request.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n\
                  Connection: close\r\n\r\nunknown origin",
            )
            .expect("write");
    });
    let line = error_line(&client(&addr));
    server.join().expect("the server");
    assert!(line.contains("403"), "{line}");
    assert_eq!(line.matches("unknown origin").count(), 1, "{line}");
}
