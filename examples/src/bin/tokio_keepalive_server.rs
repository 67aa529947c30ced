//! An echo server with keepalive and graceful shutdown (feature `tokio`):
//! it pings a quiet client every 5 s, closes one silent for 15 s (1001), and
//! on Ctrl-C (SIGINT) closes every connection with 1001 "server shutting
//! down", waiting up to the close timeout (3 s) for each answer, then exits.
//!
//! ```text
//! cargo run -p wsframe-examples --features tokio --bin tokio_keepalive_server [-- ADDR]
//! ```

use std::time::Duration;
use wsframe_examples::say;

use tokio::{net::TcpListener, select, signal, sync::watch, task::JoinSet};
use wsframe::{tokio::WebSocket, CloseCode, Config, Event};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr).await?;
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
            let mut ws = match WebSocket::accept(stream, config).await {
                Ok(ws) => ws,
                Err(err) => return say!("[{peer}] {err}"),
            };
            loop {
                // Both futures are cancel-safe: whichever loses loses nothing.
                let event = select! {
                    event = ws.next() => event,
                    _ = stopping.changed() => {
                        match ws.close(CloseCode::GOING_AWAY, "server shutting down").await {
                            Ok(closed) => say!("[{peer}] {closed}"),
                            Err(err) => say!("[{peer}] closing: {err}"),
                        }
                        break;
                    }
                };
                match event {
                    Some(Ok(Event::Message(message))) => {
                        if let Err(err) = ws.send(message).await {
                            break say!("[{peer}] {err}");
                        }
                    }
                    None => break,
                    Some(Ok(Event::Closed(closed))) => say!("[{peer}] {closed}"),
                    Some(Ok(_)) => {}
                    Some(Err(err)) => break say!("[{peer}] {err}"),
                }
            }
        });
    }
    say!("shutting down: closing {} connection(s)", connections.len());
    let _ = shutdown.send(true);
    while connections.join_next().await.is_some() {}
    say!("all connections closed");
    Ok(())
}
