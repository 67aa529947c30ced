//! wsframe's echo server for the load test: `wsframe::tokio::WebSocket`
//! with its documented loop (the `wsframe::tokio` module's example),
//! permessage-deflate off.
//!
//! ```text
//! wsframe_server [ADDR]   # default 127.0.0.1:0; prints "listening on ADDR"
//! ```

use std::process::ExitCode;

use wsframe::{tokio::WebSocket, Config, Event};
use wsframe_loadtest::{server::serve, MAX_MESSAGE_SIZE};

const CONFIG: Config = Config::builder()
    .deflate(None)
    .max_frame_size(MAX_MESSAGE_SIZE as u64)
    .max_message_size(MAX_MESSAGE_SIZE as u64)
    .build();

fn main() -> ExitCode {
    serve("wsframe_server", |stream| async move {
        let mut ws = WebSocket::accept(stream, CONFIG).await?;
        while let Some(event) = ws.next().await {
            if let Event::Message(message) = event? {
                ws.send(message).await?;
            }
        }
        Ok(())
    })
}
