//! An echo server on std::net, a thread per connection: every text and binary
//! message comes back exactly, pings are answered, and every close is logged
//! with what its code means.
//!
//! ```text
//! cargo run --release -p wsframe-examples --bin echo_server [-- ADDR] [OPTIONS]   # default 127.0.0.1:9001
//! cargo run --release -p wsframe-examples --bin echo_server -- --help
//! ```
//!
//! permessage-deflate is accepted where a client offers it, except on the
//! path `/plain` (`ws://127.0.0.1:9001/plain`): the choice is made per
//! request.
//!
//! Browsers, any WebSocket client and the Autobahn fuzzing client can talk to
//! it, and none can hold it: a client has 10 s to send its whole upgrade
//! request, a connection silent for 60 s is closed, and at most 256 are open
//! at once (more are answered `503 Service Unavailable`); the flags change
//! each. Exit codes: 0 after `--help`, 1 when it cannot listen, 2 for a
//! command line it does not understand.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};
use wsframe_examples::say;

use wsframe::{
    handshake::{HeadScan, Status, UpgradeRequest},
    CloseCode, Config, Connection, Event, Role, State,
};
use wsframe_examples::{
    refuse, ConnectionLimit, Parsed, ServerOptions, EXIT_FAILURE, EXIT_USAGE, SERVER_OPTIONS_HELP,
};

const READ_CHUNK: usize = 64 * 1024;
/// How long, after our close frame, we read what the client still sends.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);
/// How long an idle client has to answer the close frame we send it.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let options = match ServerOptions::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            say!("An echo server, a thread per connection.\n\nUsage: echo_server [ADDR] [OPTIONS]\n\n{SERVER_OPTIONS_HELP}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("echo_server: {err}\n(see echo_server --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let listener = match TcpListener::bind(&options.addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("echo_server: cannot listen on {}: {err}", options.addr);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // The first line is what scripts wait for; keep its shape.
    match listener.local_addr() {
        Ok(addr) => say!("echo server listening on ws://{addr}"),
        Err(err) => {
            eprintln!("echo_server: cannot listen on {}: {err}", options.addr);
            return ExitCode::from(EXIT_FAILURE);
        }
    }
    let limit = ConnectionLimit::new(options.max_connections);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                // Out of file descriptors, say; the connections open still
                // close and free theirs, so keep accepting.
                eprintln!("accept failed: {err}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        let Some(permit) = limit.try_acquire() else {
            say!(
                "[{peer}] refused: {} connections open (--max-connections); answered 503",
                limit.max()
            );
            refuse(stream);
            continue;
        };
        let options = options.clone();
        thread::spawn(move || {
            let _permit = permit;
            if let Err(err) = serve(stream, &peer, &options) {
                say!("[{peer}] connection ended: {err}");
            }
        });
    }
    ExitCode::SUCCESS
}

/// Reads the upgrade request (whole within `timeout`) and answers it; returns
/// the bytes that followed it (already frames), or `None` if the client left
/// or was refused.
fn handshake(
    stream: &mut TcpStream,
    peer: &str,
    timeout: Duration,
    config: Config,
) -> io::Result<Option<(Vec<u8>, Connection)>> {
    let deadline = Instant::now() + timeout;
    let mut request = Vec::new();
    // Parses only when a read may have completed the head: a request
    // trickled a byte at a time costs linear time, not quadratic.
    let mut scan = HeadScan::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            say!(
                "[{peer}] no whole upgrade request within {timeout:?} (--handshake-timeout): closed"
            );
            return Ok(None);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            // The deadline passed, the check above says so; or a signal
            // interrupted the read (EINTR), which read nothing.
            Err(err) if is_timeout(&err) || err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if n == 0 {
            say!("[{peer}] left before its upgrade request was whole");
            return Ok(None);
        }
        request.extend_from_slice(&buf[..n]);
        if !scan.worth_parsing(&request) {
            continue;
        }
        match UpgradeRequest::parse(&request) {
            Ok(Status::Complete((upgrade, used))) => {
                // permessage-deflate chosen per request (`Accept::deflate`):
                // our preferences (none with `--no-deflate`), or none on
                // `/plain`, for a client that wants to see its bytes on
                // the wire. Accepted only if the client offered it in a
                // form they meet; the connection does what the 101 says.
                let deflate = match upgrade.path() {
                    "/plain" => None,
                    _ => config.deflate(),
                };
                let accept = upgrade.accept().deflate(deflate);
                stream.write_all(&accept.to_bytes())?;
                let conn = Connection::with_deflate(Role::Server, config, accept.deflate_params());
                return Ok(Some((request.split_off(used), conn)));
            }
            // `parse` refuses a request longer than MAX_HANDSHAKE_LEN.
            Ok(Status::Partial) => {}
            Err(err) => {
                say!("[{peer}] handshake refused: {err}");
                stream.write_all(&err.response())?;
                return Ok(None);
            }
        }
    }
}

fn serve(mut stream: TcpStream, peer: &str, options: &ServerOptions) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Writes too: a client that does not read must not hold the thread.
    stream.set_write_timeout(Some(options.idle_timeout))?;
    let Some((early, mut conn)) = handshake(
        &mut stream,
        peer,
        options.handshake_timeout,
        options.config(),
    )?
    else {
        return Ok(());
    };
    stream.set_read_timeout(Some(options.idle_timeout))?;
    conn.receive(&early);
    let max_output = options.config().max_output_buffer();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(message) => {
                    // One read can bring several messages, and `send`
                    // refuses one while the output holds `max_output`
                    // bytes: write it out first.
                    if conn.output_len() >= max_output {
                        write_output(&mut stream, &mut conn)?;
                    }
                    // With room, sending only fails once we have closed,
                    // and then the connection emits no more messages.
                    if let Err(err) = conn.send(message) {
                        say!("[{peer}] message not echoed: {err}");
                    }
                }
                Event::Closed(closed) => say!("[{peer}] {closed}"),
                Event::Ping(_) | Event::Pong(_) | Event::Chunk { .. } => {}
            }
        }
        write_output(&mut stream, &mut conn)?;
        if conn.state() == State::Closed {
            // §7.1.1: the server closes the TCP connection first. Drain what
            // the client still sends for a moment so that our close frame is
            // not lost to a reset.
            stream.shutdown(Shutdown::Write)?;
            stream.set_read_timeout(Some(CLOSE_DRAIN))?;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Err(err) if err.kind() != io::ErrorKind::Interrupted => break,
                    Ok(_) | Err(_) => {}
                }
            }
            return Ok(());
        }
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            // A signal interrupted the read (EINTR): nothing was read.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if is_timeout(&err) && conn.state() == State::Open => {
                say!(
                    "[{peer}] silent for {:?} (--idle-timeout): closing with 1001",
                    options.idle_timeout
                );
                // Open, so `close` cannot fail; its frame goes out above.
                let _ = conn.close(CloseCode::GOING_AWAY, "idle timeout");
                stream.set_read_timeout(Some(CLOSE_REPLY_WAIT))?;
                continue;
            }
            Err(err) if is_timeout(&err) => {
                say!("[{peer}] no answer to our close frame: closed");
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        if n == 0 {
            say!("[{peer}] TCP closed without a close frame (1006 Abnormal Closure)");
            return Ok(());
        }
        conn.receive(&buf[..n]);
    }
}

/// Writes what the connection has to send. A write stuck for the idle
/// timeout (the socket's write timeout) means the client reads nothing we
/// write, and the error says so.
fn write_output(stream: &mut TcpStream, conn: &mut Connection) -> io::Result<()> {
    if !conn.has_output() {
        return Ok(());
    }
    stream.write_all(&conn.take_output()).map_err(|err| {
        if is_timeout(&err) {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the client reads nothing we write (--idle-timeout)",
            )
        } else {
            err
        }
    })
}

/// Whether a read failed because its timeout passed (`WouldBlock` on Unix,
/// `TimedOut` on Windows).
fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
