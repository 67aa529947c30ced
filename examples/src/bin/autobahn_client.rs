//! A client for the Autobahn fuzzing server (`wstest -m fuzzingserver` or
//! `kosoku -m fuzzingserver`): asks for the number of cases, runs each one by
//! echoing every message back, then asks the server to write its reports.
//! `--jobs N` runs N cases at a time, each on its own connection and thread
//! (as `kosoku -p N` does against a server): the cases of groups 12 and 13
//! send 1000 messages each, one at a time, and one case at a time leaves a
//! core idle.
//!
//! It offers permessage-deflate, and compresses every message it echoes (see
//! `run` for why, and for its second offer).
//!
//! ```text
//! cargo run --release -p wsframe-examples --bin autobahn_client [-- ADDR [AGENT]] [--jobs N]   # default 127.0.0.1:9001 wsframe, 1 job
//! ```
//!
//! Exit codes: 0 when every case ran and the reports were asked for (a case
//! that fails its connection does not stop the run: the fuzzing server grades
//! it), 1 when the fuzzing server cannot be reached or gives no case count, 2
//! for a command line it does not understand.

use std::{
    io::{self, Read, Write},
    net::TcpStream,
    ops::RangeInclusive,
    process::ExitCode,
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::Duration,
};
use wsframe_examples::say;

use wsframe::{
    handshake::{ClientHandshake, Status},
    Config, Connection, DeflateConfig, Event, Message, Role, State,
};
use wsframe_examples::{EXIT_FAILURE, EXIT_USAGE};

const USAGE: &str = "\
Runs every Autobahn case of a fuzzing server as a client.

Usage: autobahn_client [ADDR [AGENT]] [--jobs N]

Arguments:
  [ADDR]    the fuzzing server [default: 127.0.0.1:9001]
  [AGENT]   the name its reports give us [default: wsframe]

Options:
  --jobs N            run N cases at a time [default: 1]
  --deflate-level N   compress with zlib level N, 0 (stored) to 9 [default: 6]

Exit codes:
  0  every case ran and the reports were asked for
  1  the fuzzing server cannot be reached or gives no case count
  2  a command line it does not understand";

/// A fuzzing server that sends nothing for this long has failed the case.
const SILENCE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        say!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = take_option(&mut args, "--jobs", 1, 1..=u32::MAX).and_then(|jobs| {
        let level = take_option(&mut args, "--deflate-level", 6, 0..=9)?;
        Ok((jobs, level))
    });
    let (jobs, level) = match options {
        Ok(options) => options,
        Err(err) => {
            eprintln!("autobahn_client: {err}\n(see autobahn_client --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(bad) = args.iter().find(|arg| arg.starts_with('-')) {
        eprintln!("autobahn_client: unknown option {bad:?}\n(see autobahn_client --help)");
        return ExitCode::from(EXIT_USAGE);
    }
    if args.len() > 2 {
        eprintln!("autobahn_client: at most ADDR and AGENT\n(see autobahn_client --help)");
        return ExitCode::from(EXIT_USAGE);
    }
    let addr = args.first().map_or("127.0.0.1:9001", String::as_str);
    let agent = args.get(1).map_or("wsframe", String::as_str);
    match run_all(addr, agent, jobs, level) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("autobahn_client: {addr}: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Removes `name N` from `args` and returns N, which must be in `range`
/// (`default` without the option).
fn take_option(
    args: &mut Vec<String>,
    name: &str,
    default: u32,
    range: RangeInclusive<u32>,
) -> Result<u32, String> {
    let Some(at) = args.iter().position(|arg| arg == name) else {
        return Ok(default);
    };
    let value = args.get(at + 1).cloned().unwrap_or_default();
    args.drain(at..(at + 2).min(args.len()));
    match value.parse() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} takes an integer from {} to {}, not {value:?}",
            range.start(),
            range.end()
        )),
    }
}

fn run_all(addr: &str, agent: &str, jobs: u32, level: u32) -> io::Result<()> {
    let count = case_count(addr)?;
    say!("running {count} cases as agent {agent:?}, {jobs} at a time");
    // Each worker takes the next case number until none are left.
    let next = AtomicU32::new(1);
    thread::scope(|scope| {
        for _ in 0..jobs.min(count) {
            scope.spawn(|| loop {
                let case = next.fetch_add(1, Ordering::Relaxed);
                if case > count {
                    break;
                }
                // A case may end with the server resetting TCP (cases that
                // fail the connection do); that ends the case, not the run.
                let path = format!("/runCase?case={case}&agent={agent}");
                if let Err(err) = run(addr, &path, Some(level), |_| {}) {
                    eprintln!("case {case}: {err}");
                }
            });
        }
    });
    let path = format!("/updateReports?agent={agent}");
    run(addr, &path, None, |_| {})?;
    say!("done; reports updated");
    Ok(())
}

/// Whether a write failed because the peer has closed the connection.
fn gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// `/getCaseCount` answers with one text message holding the number.
fn case_count(addr: &str) -> io::Result<u32> {
    let mut count = None;
    let result = run(addr, "/getCaseCount", None, |message| {
        if let Message::Text(text) = message {
            count = text.trim().parse().ok();
        }
    });
    // Once the number has arrived, how the server hangs up does not matter.
    match (count, result) {
        (Some(count), _) => Ok(count),
        (None, Err(err)) => Err(err),
        (None, Ok(())) => Err(io::Error::other("no case count from the fuzzing server")),
    }
}

/// Connects to `path` and shows every message to `seen` (and echoes it back,
/// compressed at `echo`'s level, if it is `Some`) until the connection
/// closes.
fn run(
    addr: &str,
    path: &str,
    echo: Option<u32>,
    mut seen: impl FnMut(&Message),
) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(SILENCE))?;
    stream.set_write_timeout(Some(SILENCE))?;
    // permessage-deflate offered (RFC 7692), used if the server accepts it.
    // Every message is compressed (threshold 0): kosoku 0.1.0 hands an echo
    // that came back uncompressed to the cases of groups 12 and 13 as a
    // `str`, and their SHA-1 of it fails, though RFC 7692 allows it (see
    // `ServerOptions::config`).
    let deflate = DeflateConfig::default()
        .threshold(0)
        .level(echo.unwrap_or(6));
    // A second offer, with client_no_context_takeover: the servers of cases
    // 13.2, 13.5 and 13.6 ask us to reset our context each message only if
    // our offer says we can (Autobahn's `acceptNoContextTakeover`), and
    // otherwise decline, running the case uncompressed (UNIMPLEMENTED).
    // RFC 7692 §7.1.1.2 would let them ask anyway; §5 lets a client make
    // several offers, in order of preference.
    let handshake = ClientHandshake::random()?
        .target(addr, path)?
        .extension(deflate.offer())
        .extension(deflate.no_context_takeover(true).offer());
    stream.write_all(&handshake.to_bytes())?;

    let mut buf = vec![0u8; 64 * 1024];
    let mut response = Vec::new();
    let (early, params) = loop {
        let n = read_some(&mut stream, &mut buf)?;
        if n == 0 {
            return Err(io::Error::other("server closed during the handshake"));
        }
        response.extend_from_slice(&buf[..n]);
        match handshake.parse_response(&response) {
            // The bytes after the head are frames: the Connection gets them.
            Ok(Status::Complete(accepted)) => {
                let params = deflate
                    .check_response(&accepted.extensions)
                    .map_err(io::Error::other)?;
                break (response.split_off(accepted.head_len), params);
            }
            Ok(Status::Partial) => {}
            Err(err) => return Err(io::Error::other(err)),
        }
    };

    let config = Config::builder().deflate(Some(deflate)).build();
    let mut conn = Connection::with_deflate(Role::Client, config, params);
    conn.receive(&early);
    loop {
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(message) => {
                    seen(&message);
                    if echo.is_some() {
                        // Fails only after our close, when nothing more is echoed.
                        let _ = conn.send(message);
                    }
                }
                Event::Closed(closed) if closed.error.is_some() => {
                    eprintln!("{path}: failed with {}: {}", closed.code, closed.reason);
                }
                _ => {}
            }
        }
        if conn.has_output() {
            if let Err(err) = stream.write_all(&conn.take_output()) {
                // The server may close TCP right after its close frame; our
                // reply then has nowhere to go, and the exchange is over.
                if conn.state() == State::Closed && gone(&err) {
                    return Ok(());
                }
                return Err(err);
            }
        }
        if conn.state() == State::Closed {
            // §7.1.1: the client waits (a while) for the server to close TCP.
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            // Until the server's FIN, an error or the timeout; a signal
            // (`Interrupted`) is none of these.
            while matches!(read_some(&mut stream, &mut buf), Ok(n) if n > 0) {}
            return Ok(());
        }
        let n = read_some(&mut stream, &mut buf)?;
        if n == 0 {
            // The server dropped TCP without a close handshake (1006).
            return Ok(());
        }
        conn.receive(&buf[..n]);
    }
}

/// One `read`, again when a signal interrupted it (`Interrupted`, EINTR:
/// nothing was read), as `read_exact` and `write_all` do.
fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}
