//! fastwebsockets' echo server for the load test, written as its
//! `echo_server` example (the one its published benchmarks run) writes
//! one: hyper serves the upgrade, and the upgraded socket, in a
//! `FragmentCollector`, echoes each data frame from an `unconstrained`
//! task.
//!
//! ```text
//! fastwebsockets_server [ADDR]   # default 127.0.0.1:0; prints "listening on ADDR"
//! ```

use std::process::ExitCode;

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::{
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
    Request, Response,
};
use hyper_util::rt::TokioIo;
use wsframe_loadtest::{server::serve, MAX_MESSAGE_SIZE};

async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = upgraded.await?;
    ws.set_max_message_size(MAX_MESSAGE_SIZE);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn upgrade(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut request)?;
    tokio::spawn(tokio::task::unconstrained(async move {
        if let Err(err) = echo(upgraded).await {
            eprintln!("connection ended: {err}");
        }
    }));
    Ok(response)
}

fn main() -> ExitCode {
    serve("fastwebsockets_server", |stream| async move {
        http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service_fn(upgrade))
            .with_upgrades()
            .await?;
        Ok(())
    })
}
