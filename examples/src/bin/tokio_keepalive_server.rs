//! An echo server with keepalive and graceful shutdown (feature `tokio`):
//! it pings a quiet client every 5 s, closes one silent for 15 s (1001),
//! drops one whose upgrade request is not whole within 10 s, closes one
//! that takes nothing of an echo for 5 s, its socket full (1008 "not
//! reading", as the shutdown's close, waiting at most the close timeout;
//! a client reading slowly but steadily is not closed however long an echo
//! takes), and on Ctrl-C (SIGINT) closes every connection with 1001 "server shutting down",
//! waiting up to the close timeout (3 s) for each answer (or for a client
//! that reads nothing to take the close frame), then exits.
//!
//! ```text
//! cargo run -p wsframe-examples --features tokio --bin tokio_keepalive_server [-- ADDR]
//! ```

use std::{process::ExitCode, time::Duration};
use wsframe_examples::{exit_code, say, Report};

use tokio::{
    net::{TcpListener, TcpStream},
    select, signal,
    sync::watch,
    task::JoinSet,
    time::timeout,
};
use wsframe::{
    tokio::{Error, WebSocket},
    CloseCode, Config, Event, Message,
};

/// How long a client has to send its whole upgrade request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an echo may wait with none of the output taken by the client
/// (reading slowly but steadily, it may take longer as a whole): a client
/// that sends but never reads would hold its task forever once
/// [`Config::max_output_buffer`](wsframe::Config::max_output_buffer) is
/// reached.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The close sent to every client on Ctrl-C.
const SHUTTING_DOWN: (CloseCode, &str) = (CloseCode::GOING_AWAY, "server shutting down");

/// The close sent to a client that took none of its echoes for
/// [`SEND_TIMEOUT`]: 1008, RFC 6455 §7.4.1's code for a rule of the
/// server's that no more specific code covers.
const NOT_READING: (CloseCode, &str) = (CloseCode::POLICY_VIOLATION, "not reading");

#[tokio::main]
async fn main() -> ExitCode {
    exit_code("tokio_keepalive_server", run().await)
}

async fn run() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr).await.map_err(|err| {
        std::io::Error::new(err.kind(), format!("cannot listen on {addr}: {err}"))
    })?;
    say!(
        "keepalive echo server listening on ws://{}",
        listener.local_addr()?
    );
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(5)))
        .idle_timeout(Some(Duration::from_secs(15)))
        .close_timeout(Some(Duration::from_secs(3)))
        .build();
    let (shutdown, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = select! {
            accepted = listener.accept() => accepted?,
            _ = signal::ctrl_c() => break,
        };
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            // A client that never finishes its request holds neither this
            // task nor the shutdown.
            let mut ws = select! {
                accepted = timeout(HANDSHAKE_TIMEOUT, WebSocket::accept(stream, config)) => {
                    match accepted {
                        Ok(Ok(ws)) => ws,
                        Ok(Err(err)) => return say!("[{peer}] {}", Report(&err)),
                        Err(_) => return say!("[{peer}] no whole request in {HANDSHAKE_TIMEOUT:?}"),
                    }
                }
                _ = stopping.changed() => return say!("[{peer}] shut down in the handshake"),
            };
            let (code, reason) = loop {
                // Both futures are cancel-safe: whichever loses loses nothing.
                // The echo races the shutdown too, and gives up on a client
                // that takes none of it for `SEND_TIMEOUT`.
                let event = select! {
                    event = ws.next() => event,
                    _ = stopping.changed() => break SHUTTING_DOWN,
                };
                let sent = match event {
                    Some(Ok(Event::Message(message))) => select! {
                        sent = echo(&mut ws, message) => match sent {
                            Ok(true) => Ok(()),
                            Ok(false) => {
                                say!("[{peer}] took no echo for {SEND_TIMEOUT:?}: closing with 1008");
                                break NOT_READING;
                            }
                            Err(err) => Err(err),
                        },
                        _ = stopping.changed() => break SHUTTING_DOWN,
                    },
                    None => return,
                    Some(Ok(Event::Closed(closed))) => {
                        say!("[{peer}] {closed}");
                        Ok(())
                    }
                    Some(Ok(_)) => Ok(()),
                    Some(Err(err)) => Err(err),
                };
                if let Err(err) = sent {
                    return say!("[{peer}] {}", Report(&err));
                }
            };
            // The close gives up after the close timeout, also when the
            // client reads nothing and the close frame cannot be written.
            match ws.close(code, reason).await {
                Ok(closed) => say!("[{peer}] {closed}"),
                Err(err) => say!("[{peer}] closing: {}", Report(&err)),
            }
        });
    }
    say!("shutting down: closing {} connection(s)", connections.len());
    let _ = shutdown.send(true);
    while connections.join_next().await.is_some() {}
    say!("all connections closed");
    Ok(())
}

/// Sends `message`; `Ok(false)` once the client took none of the output
/// for [`SEND_TIMEOUT`]. Not a timeout on `send` as a whole: a large echo
/// read slowly but steadily takes longer, and the client keeps up.
/// Cancel-safe: `flush` keeps what it did not write, and `feed` either
/// queued the message or not.
async fn echo(ws: &mut WebSocket<TcpStream>, message: Message) -> Result<bool, Error> {
    // What is queued goes first, so that `feed` finds room at once.
    Ok(written_while_taken(ws).await? && {
        ws.feed(message).await?;
        written_while_taken(ws).await?
    })
}

/// Writes all that is queued while the client takes some of it every
/// [`SEND_TIMEOUT`]; `Ok(false)` when it took none for that long.
async fn written_while_taken(ws: &mut WebSocket<TcpStream>) -> Result<bool, Error> {
    loop {
        let unsent = ws.connection().output_len();
        match timeout(SEND_TIMEOUT, ws.flush()).await {
            Ok(flushed) => return flushed.map(|()| true),
            Err(_) if ws.connection().output_len() < unsent => {}
            Err(_) => return Ok(false),
        }
    }
}
