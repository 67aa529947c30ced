//! tokio-tungstenite's echo server for the load test, written as its
//! `autobahn-server` example writes one: `accept_async`, then `next` and
//! `send` (`futures` `StreamExt`/`SinkExt`) for each data message.
//!
//! ```text
//! tungstenite_server [ADDR]   # default 127.0.0.1:0; prints "listening on ADDR"
//! ```

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::{accept_async_with_config, tungstenite::protocol::WebSocketConfig};
use wsframe_loadtest::{server::serve, MAX_MESSAGE_SIZE};

fn main() -> ExitCode {
    serve("tungstenite_server", |stream| async move {
        let config = WebSocketConfig::default()
            .max_frame_size(Some(MAX_MESSAGE_SIZE))
            .max_message_size(Some(MAX_MESSAGE_SIZE));
        let mut ws = accept_async_with_config(stream, Some(config)).await?;
        while let Some(message) = ws.next().await {
            let message = message?;
            if message.is_text() || message.is_binary() {
                ws.send(message).await?;
            }
        }
        Ok(())
    })
}
