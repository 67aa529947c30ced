//! An echo server on std::net, a thread per connection: every text and binary
//! message comes back exactly, pings are answered, and every close is logged
//! with what its code means.
//!
//! ```text
//! cargo run --release -p wsframe-examples --bin echo_server [-- ADDR]   # default 127.0.0.1:9001
//! ```
//!
//! Browsers, any WebSocket client and the Autobahn fuzzing client can talk to it.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    thread,
    time::Duration,
};

use wsframe::{
    handshake::{Status, UpgradeRequest},
    Config, Connection, Event, Role, State,
};

const READ_CHUNK: usize = 64 * 1024;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    // The first line is what scripts wait for; keep its shape.
    println!("echo server listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                eprintln!("accept failed: {err}");
                continue;
            }
        };
        thread::spawn(move || {
            let peer = stream
                .peer_addr()
                .map_or_else(|_| "?".to_owned(), |a| a.to_string());
            if let Err(err) = serve(stream, &peer) {
                eprintln!("[{peer}] connection error: {err}");
            }
        });
    }
    Ok(())
}

/// Reads the upgrade request and answers it; returns the bytes that followed
/// it (already frames), or `None` if the request was refused.
fn handshake(stream: &mut TcpStream, peer: &str) -> io::Result<Option<Vec<u8>>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        request.extend_from_slice(&buf[..n]);
        match UpgradeRequest::parse(&request) {
            Ok(Status::Complete((upgrade, used))) => {
                stream.write_all(&upgrade.response(None))?;
                return Ok(Some(request.split_off(used)));
            }
            Ok(Status::Partial) => {}
            Err(err) => {
                eprintln!("[{peer}] handshake refused: {err}");
                stream.write_all(&err.response())?;
                return Ok(None);
            }
        }
    }
}

fn serve(mut stream: TcpStream, peer: &str) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let Some(early) = handshake(&mut stream, peer)? else {
        return Ok(());
    };
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&early);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(message) => {
                    // Sending only fails once we have closed, and then the
                    // connection emits no more messages.
                    let _ = conn.send(message);
                }
                Event::Closed(closed) => println!("[{peer}] {closed}"),
                Event::Ping(_) | Event::Pong(_) | Event::Chunk { .. } => {}
            }
        }
        if conn.has_output() {
            stream.write_all(&conn.take_output())?;
        }
        if conn.state() == State::Closed {
            // §7.1.1: the server closes the TCP connection first. Drain what
            // the client still sends for a moment so that our close frame is
            // not lost to a reset.
            stream.shutdown(Shutdown::Write)?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            return Ok(());
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            println!("[{peer}] TCP closed without a close frame (1006 Abnormal Closure)");
            return Ok(());
        }
        conn.receive(&buf[..n]);
    }
}
