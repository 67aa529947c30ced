//! What every echo server shares, so that only the library's own loop
//! differs: the command line, a single-threaded tokio runtime, the
//! listener, `TCP_NODELAY` on each connection, one task per connection.

use std::{error::Error, future::Future, net::SocketAddr, process::ExitCode};

use tokio::net::{TcpListener, TcpStream};

/// What a connection's handler may fail with; printed, never fatal.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Runs an echo server: binds the address given as the first argument
/// (default `127.0.0.1:0`, a free port), prints `listening on ADDR` as its
/// first line (what `run.sh` waits for), and hands each accepted stream to
/// `handle` in a task of its own, on a `current_thread` runtime: the whole
/// server on one core, as the peers' published benchmarks run theirs.
///
/// A handler's error is printed to stderr (the client hanging up at the end
/// of a run is one) and ends only that connection.
///
/// Exit codes: 1 when the runtime cannot start or the address cannot be
/// bound, 2 for a command line that is not one address.
pub fn serve<F, Fut>(name: &str, handle: F) -> ExitCode
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let mut args = std::env::args().skip(1);
    let addr = match (args.next(), args.next()) {
        (None, _) => SocketAddr::from(([127, 0, 0, 1], 0)),
        (Some(addr), None) => match addr.parse() {
            Ok(addr) => addr,
            Err(err) => {
                eprintln!("{name}: {addr:?} is not an address: {err}\nusage: {name} [ADDR]");
                return ExitCode::from(2);
            }
        },
        (Some(_), Some(_)) => {
            eprintln!("usage: {name} [ADDR]");
            return ExitCode::from(2);
        }
    };
    // The time driver too: wsframe's close timeout needs it, and the same
    // runtime for everyone keeps the comparison about the libraries.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{name}: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("{name}: cannot listen on {addr}: {err}");
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(addr) => println!("listening on {addr}"),
            Err(err) => {
                eprintln!("{name}: cannot listen on {addr}: {err}");
                return ExitCode::FAILURE;
            }
        }
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors, say: the open connections
                    // still run.
                    eprintln!("{name}: accept failed: {err}");
                    continue;
                }
            };
            // Every server the same: a library that writes a frame in two
            // writes would otherwise wait for a delayed ACK (Nagle).
            if let Err(err) = stream.set_nodelay(true) {
                eprintln!("{name}: TCP_NODELAY: {err}");
            }
            let connection = handle(stream);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    eprintln!("connection ended: {err}");
                }
            });
        }
    })
}
