//! A chat server on tokio (feature `tokio`): every message a client sends
//! goes to every client. Each connection is split: its reader publishes to a
//! broadcast channel, its writer forwards the channel to the client.
//! Keepalive pings every 20 s; a client silent for 60 s is closed (1001),
//! one whose upgrade request is not whole within 10 s dropped.
//!
//! ```text
//! cargo run -p wsframe-examples --features tokio --bin tokio_chat_server [-- ADDR]
//! ```

use std::{process::ExitCode, time::Duration};
use wsframe_examples::{exit_code, say, Report};

use tokio::{net::TcpListener, sync::broadcast, time::timeout};
use wsframe::{tokio::WebSocket, Config, Event, Message};

#[tokio::main]
async fn main() -> ExitCode {
    exit_code("tokio_chat_server", run().await)
}

async fn run() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await.map_err(|err| {
        std::io::Error::new(err.kind(), format!("cannot listen on {addr}: {err}"))
    })?;
    say!("chat server listening on ws://{}", listener.local_addr()?);
    let config = Config::builder()
        .ping_interval(Some(Duration::from_secs(20)))
        .idle_timeout(Some(Duration::from_secs(60)))
        .build();
    let (hub, _) = broadcast::channel::<Message>(1024);
    loop {
        let (stream, peer) = listener.accept().await?;
        let (hub, mut inbox) = (hub.clone(), hub.subscribe());
        tokio::spawn(async move {
            let handshake = timeout(Duration::from_secs(10), WebSocket::accept(stream, config));
            let (mut reader, mut writer) = match handshake.await {
                Ok(Ok(ws)) => ws.split(),
                Ok(Err(err)) => return say!("[{peer}] {}", Report(&err)),
                Err(_) => return say!("[{peer}] no whole upgrade request in 10 s"),
            };
            let forward = tokio::spawn(async move {
                loop {
                    let sent = match inbox.recv().await {
                        Ok(message) => writer.send(message).await.is_ok(),
                        // Too slow a reader misses what the channel dropped.
                        Err(err) => matches!(err, broadcast::error::RecvError::Lagged(_)),
                    };
                    if !sent {
                        break;
                    }
                }
            });
            while let Some(Ok(event)) = reader.next().await {
                match event {
                    Event::Message(message) => drop(hub.send(message)),
                    Event::Closed(closed) => say!("[{peer}] {closed}"),
                    _ => {}
                }
            }
            forward.abort();
        });
    }
}
