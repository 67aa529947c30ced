//! The echo server on tokio (feature `tokio`): the same behaviour and command
//! line as `echo_server`, a task per connection instead of a thread.
//!
//! ```text
//! cargo run --release -p wsframe-examples --features tokio --bin tokio_echo_server [-- ADDR]
//! ```

use std::{io, time::Duration};

use tokio::{
    io::AsyncReadExt,
    net::{TcpListener, TcpStream},
};
use wsframe::{tokio::WebSocket, Config, Event};

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    // The first line is what scripts wait for; keep its shape.
    println!("echo server listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(err) = serve(stream, &peer.to_string()).await {
                eprintln!("[{peer}] connection error: {err}");
            }
        });
    }
}

async fn serve(stream: TcpStream, peer: &str) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut ws = WebSocket::accept(stream, Config::default()).await?;
    while let Some(event) = ws.next().await {
        match event? {
            // Sending only fails after our close, when no messages come.
            Event::Message(message) => ws.send(message).await?,
            Event::Closed(closed) => println!("[{peer}] {closed}"),
            Event::Ping(_) | Event::Pong(_) | Event::Chunk { .. } => {}
        }
    }
    if !matches!(ws.connection().state(), wsframe::State::Closed) {
        println!("[{peer}] TCP closed without a close frame (1006 Abnormal Closure)");
        return Ok(());
    }
    // Our close frame is out and our write side shut; drain what the client
    // still sends for a moment, so that closing does not reset the connection
    // before the client has read the close frame.
    let mut stream = ws.into_inner();
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    Ok(())
}
