//! The echo server on tokio (feature `tokio` of this crate): the same
//! behaviour, limits and command line as `echo_server`, a task per
//! connection instead of a thread.
//!
//! ```text
//! cargo run --release -p wsframe-examples --features tokio --bin tokio_echo_server [-- ADDR] [OPTIONS]
//! cargo run --release -p wsframe-examples --features tokio --bin tokio_echo_server -- --help
//! ```
//!
//! permessage-deflate is accepted where a client offers it, except on the
//! path `/plain` (`ws://127.0.0.1:9001/plain`): the choice is made per
//! request, as `echo_server` makes it.
//!
//! The handshake runs under `--handshake-timeout` (10 s), every read and
//! write under `--idle-timeout` (60 s), and at most `--max-connections` (256)
//! are open at once. Exit codes: 0 after `--help`, 1 when it cannot listen, 2
//! for a command line it does not understand.

use std::{
    io,
    process::ExitCode,
    time::{Duration, Instant},
};
use wsframe_examples::say;

use tokio::{
    io::AsyncReadExt,
    net::{TcpListener, TcpStream},
    time::timeout,
};
use wsframe::{tokio::WebSocket, CloseCode, Event, State};
use wsframe_examples::{
    refuse, ConnectionLimit, Parsed, ServerOptions, EXIT_FAILURE, EXIT_USAGE, SERVER_OPTIONS_HELP,
};

/// How long, after our close frame, we read what the client still sends.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);
/// How long an idle client has to answer the close frame we send it.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    let options = match ServerOptions::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            say!("An echo server on tokio, a task per connection.\n\nUsage: tokio_echo_server [ADDR] [OPTIONS]\n\n{SERVER_OPTIONS_HELP}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("tokio_echo_server: {err}\n(see tokio_echo_server --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let listener = match TcpListener::bind(&options.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "tokio_echo_server: cannot listen on {}: {err}",
                options.addr
            );
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // The first line is what scripts wait for; keep its shape.
    match listener.local_addr() {
        Ok(addr) => say!("echo server listening on ws://{addr}"),
        Err(err) => {
            eprintln!(
                "tokio_echo_server: cannot listen on {}: {err}",
                options.addr
            );
            return ExitCode::from(EXIT_FAILURE);
        }
    }
    let limit = ConnectionLimit::new(options.max_connections);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say; the connections open still
                // close and free theirs, so keep accepting.
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(permit) = limit.try_acquire() else {
            say!(
                "[{peer}] refused: {} connections open (--max-connections); answered 503",
                limit.max()
            );
            // Without waiting, so std's blocking calls do as well; if the
            // socket cannot be handed over, dropping it closes it.
            if let Ok(stream) = stream.into_std() {
                refuse(stream);
            }
            continue;
        };
        let options = options.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let peer = peer.to_string();
            if let Err(err) = serve(stream, &peer, &options).await {
                say!("[{peer}] connection ended: {err}");
            }
        });
    }
}

async fn serve(stream: TcpStream, peer: &str, options: &ServerOptions) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let config = options.config();
    // permessage-deflate chosen per request (`Accept::deflate`): none on
    // `/plain`, for a client that wants to see its bytes on the wire;
    // elsewhere `Config::deflate` decides (off with `--no-deflate`).
    let accept = WebSocket::accept_with(stream, config, |request| {
        let accept = request.accept();
        Ok(match request.path() {
            "/plain" => accept.deflate(None),
            _ => accept,
        })
    });
    let mut ws = match timeout(options.handshake_timeout, accept).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(wsframe::tokio::Error::Io(err))) if err.kind() == io::ErrorKind::UnexpectedEof => {
            say!("[{peer}] left before its upgrade request was whole");
            return Ok(());
        }
        Ok(Err(err)) => return Err(err.into()),
        Err(_elapsed) => {
            say!(
                "[{peer}] no whole upgrade request within {:?} (--handshake-timeout): closed",
                options.handshake_timeout
            );
            return Ok(());
        }
    };
    let mut wait = options.idle_timeout;
    let max_output = options.config().max_output_buffer();
    // Since when our output has been full: `next` reads on while the client
    // reads nothing (the pongs it cannot write are coalesced), so a client
    // that only pings would never look idle.
    let mut full_since: Option<Instant> = None;
    loop {
        let event = match timeout(wait, ws.next()).await {
            Ok(Some(Ok(event))) => event,
            // A hang-up without a close frame, inside a frame or not: the
            // 1006 logged below, as `echo_server` logs it.
            Ok(Some(Err(wsframe::tokio::Error::Io(err))))
                if err.kind() == io::ErrorKind::UnexpectedEof =>
            {
                break
            }
            Ok(Some(Err(err))) => return Err(err.into()),
            Ok(None) => break,
            Err(_elapsed) if ws.connection().state() == State::Open => {
                say!("[{peer}] silent for {wait:?} (--idle-timeout): closing with 1001");
                // `close` sends our close frame and waits for the answer.
                match timeout(
                    CLOSE_REPLY_WAIT,
                    ws.close(CloseCode::GOING_AWAY, "idle timeout"),
                )
                .await
                {
                    Ok(Ok(closed)) => say!("[{peer}] {closed}"),
                    Ok(Err(err)) => say!("[{peer}] closing: {err}"),
                    Err(_elapsed) => {
                        // Done waiting: going round again would wait on
                        // for the connection's own close timeout.
                        say!("[{peer}] no answer to our close frame: closed");
                        return Ok(());
                    }
                }
                wait = CLOSE_REPLY_WAIT;
                continue;
            }
            Err(_elapsed) => {
                say!("[{peer}] no answer to our close frame: closed");
                return Ok(());
            }
        };
        match event {
            // Sending only fails after our close, when no messages come.
            Event::Message(message) => timeout(wait, ws.send(message))
                .await
                .map_err(|_| stuck_write())??,
            Event::Closed(closed) => say!("[{peer}] {closed}"),
            Event::Ping(_) | Event::Pong(_) | Event::Chunk { .. } => {}
        }
        if ws.connection().output_len() < max_output {
            full_since = None;
        } else if full_since.get_or_insert_with(Instant::now).elapsed() >= options.idle_timeout {
            return Err(stuck_write());
        }
    }
    if ws.connection().state() != State::Closed {
        say!("[{peer}] TCP closed without a close frame (1006 Abnormal Closure)");
        return Ok(());
    }
    // Our close frame is out and our write side shut; drain what the client
    // still sends for a moment, so that closing does not reset the connection
    // before the client has read the close frame.
    let mut stream = ws.into_inner();
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    // Running out of time is how a drain ends.
    let _ = timeout(CLOSE_DRAIN, drain).await;
    Ok(())
}

/// A write that did not finish within the idle timeout: the client does not
/// read what we send.
fn stuck_write() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the client reads nothing we write (--idle-timeout)",
    )
}
