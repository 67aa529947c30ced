//! tokio-websockets' echo server for the load test, written as its
//! `echo_server` example (the one its published benchmarks run) writes
//! one: `ServerBuilder::accept`, then `next` and `send` for each data
//! message, in an `unconstrained` task.
//!
//! ```text
//! tokio_websockets_server [ADDR]   # default 127.0.0.1:0; prints "listening on ADDR"
//! ```

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use tokio_websockets::{Limits, ServerBuilder};
use wsframe_loadtest::{server::serve, MAX_MESSAGE_SIZE};

fn main() -> ExitCode {
    serve("tokio_websockets_server", |stream| {
        tokio::task::unconstrained(async move {
            let (_request, mut ws) = ServerBuilder::new()
                .limits(Limits::default().max_payload_len(Some(MAX_MESSAGE_SIZE)))
                .accept(stream)
                .await?;
            while let Some(message) = ws.next().await {
                let message = message?;
                if message.is_text() || message.is_binary() {
                    ws.send(message).await?;
                }
            }
            Ok(())
        })
    })
}
