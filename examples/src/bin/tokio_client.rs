//! A client on tokio (feature `tokio`): connects to `ws://ADDR/`, sends each
//! further argument as a text message, prints each echo, then closes and
//! waits for the server's answer.
//!
//! ```text
//! cargo run -p wsframe-examples --features tokio --bin tokio_client -- 127.0.0.1:9001 hello world
//! ```

use std::{error::Error, process::ExitCode};

use tokio::net::TcpStream;
use wsframe::{handshake::ClientHandshake, tokio::WebSocket, CloseCode, Config, Event, Message};
use wsframe_examples::{exit_code, say};

#[tokio::main]
async fn main() -> ExitCode {
    exit_code("tokio_client", run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or("127.0.0.1:9001".into());
    let stream = TcpStream::connect(&addr)
        .await
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    stream.set_nodelay(true)?;
    let request = ClientHandshake::random()?.target(&addr, "/")?;
    let (mut ws, accepted) = WebSocket::client(stream, &request, Config::default()).await?;
    say!(
        "connected to ws://{addr}/ (subprotocol: {})",
        accepted.subprotocol.as_deref().unwrap_or("none")
    );
    for text in args {
        ws.send(Message::from(text)).await?;
        loop {
            match ws.next().await.ok_or("the server hung up")?? {
                Event::Message(Message::Text(echo)) => break say!("{}", echo.as_str()),
                Event::Closed(closed) => return Err(closed.to_string().into()),
                _ => {}
            }
        }
    }
    let closed = ws.close(CloseCode::NORMAL, "done").await?;
    say!("{closed}");
    Ok(())
}
