//! HTTP and WebSocket on one port with axum (feature `axum` of this crate):
//! `/` is a plain page, `/ws` upgrades with wsframe's handshake over the
//! `http` types (checking `Origin`, choosing a subprotocol) and echoes every
//! message through a wsframe `Connection` on hyper's upgraded stream.
//!
//! ```text
//! cargo run --release -p wsframe-examples --features axum --bin axum_server [-- ADDR] [--allow-origin ORIGIN]...
//! ```
//!
//! `Origin` (sent by every browser): a request from an origin that is not
//! allowed is answered 403, so that no other site's page can open a
//! WebSocket with its visitors' cookies (RFC 6455 §10.2). Without
//! `--allow-origin`, only the server's own origin (`http://HOST`) is allowed;
//! a request without `Origin` (not from a browser) is always allowed.
//! Subprotocols: `chat.v2`, then `chat.v1`, whichever the client offered
//! first in this server's order; none if it offered neither.
//! Exit codes: 0 after `--help`, 1 when it cannot listen, 2 for a command
//! line it does not understand.

use std::{process::ExitCode, sync::Arc};
use wsframe_examples::say;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{Response, StatusCode},
    routing::{any, get},
    Router,
};
use hyper_util::rt::TokioIo;
use wsframe::{handshake::UpgradeRequest, tokio::WebSocket, Config, Event, Role};
use wsframe_examples::{EXIT_FAILURE, EXIT_USAGE};

/// The subprotocols this server speaks, most preferred first.
const SUBPROTOCOLS: &[&str] = &["chat.v2", "chat.v1"];

const USAGE: &str = "Usage: axum_server [ADDR] [--allow-origin ORIGIN]...\n\n\
    ADDR                    where to listen (default 127.0.0.1:9003)\n\
    --allow-origin ORIGIN   an Origin allowed to open /ws (repeatable; default: the server's own)";

/// Which `Origin`s may open a WebSocket.
struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    fn allows(&self, origin: &str, host: &str) -> bool {
        if self.allowed.is_empty() {
            origin.eq_ignore_ascii_case(&format!("http://{host}"))
        } else {
            self.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr = "127.0.0.1:9003".to_owned();
    let mut allowed = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                say!("HTTP and WebSocket on one port, with axum.\n\n{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--allow-origin" => match args.next() {
                Some(origin) => allowed.push(origin),
                None => {
                    eprintln!("axum_server: --allow-origin needs a value\n{USAGE}");
                    return ExitCode::from(EXIT_USAGE);
                }
            },
            _ if !arg.starts_with('-') => addr = arg,
            _ => {
                eprintln!("axum_server: unknown option {arg}\n{USAGE}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("axum_server: cannot listen on {addr}: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if let Ok(local) = listener.local_addr() {
        say!("axum server listening on http://{local} (WebSocket at ws://{local}/ws)");
    }
    let app = Router::new()
        .route("/", get(page))
        // `any`, so that wsframe's checks answer a wrong method (405).
        .route("/ws", any(upgrade))
        .with_state(Arc::new(OriginPolicy { allowed }));
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("axum_server: {err}");
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}

/// The plain HTTP route.
async fn page() -> &'static str {
    "wsframe axum example: plain HTTP here, a WebSocket echo at /ws\n"
}

/// The WebSocket route: validate, check `Origin`, choose a subprotocol,
/// answer 101 and run the echo on the upgraded stream.
async fn upgrade(State(policy): State<Arc<OriginPolicy>>, mut request: Request) -> Response<Body> {
    let handshake = match UpgradeRequest::from_http_request(&request) {
        Ok(handshake) => handshake,
        // 400, 405, 426 (with `Sec-WebSocket-Version: 13`), 431 or 505.
        Err(err) => {
            say!("refused: {err}");
            return err.to_http().map(|()| Body::from(err.to_string()));
        }
    };
    if let Some(origin) = handshake.origin() {
        if !policy.allows(origin, handshake.host()) {
            say!("refused origin {origin}: 403");
            let mut response =
                Response::new(Body::from("this origin may not open a WebSocket here\n"));
            *response.status_mut() = StatusCode::FORBIDDEN;
            return response;
        }
    }
    let mut accept = handshake.accept();
    if let Some(chosen) = SUBPROTOCOLS
        .iter()
        .find(|p| handshake.offers_subprotocol(p))
    {
        // Offered, so accepted: `subprotocol` refuses only unoffered names.
        accept = match accept.subprotocol(chosen) {
            Ok(accept) => accept,
            Err(err) => return internal_error(&err),
        };
    }
    let response = accept.to_http().map(|()| Body::empty());
    // hyper hands over the connection once the 101 is written.
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                // Bytes the client sent after its request stay in
                // `upgraded`, so no leftover bytes are passed here.
                let ws = WebSocket::from_upgraded(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Config::default(),
                    wsframe::bytes::Bytes::new(),
                );
                if let Err(err) = echo(ws).await {
                    say!("connection ended: {err}");
                }
            }
            Err(err) => say!("upgrade failed: {err}"),
        }
    });
    response
}

fn internal_error(err: &dyn std::error::Error) -> Response<Body> {
    let mut response = Response::new(Body::from(err.to_string()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Echoes every message until the close handshake ends.
async fn echo(mut ws: WebSocket<TokioIo<hyper::upgrade::Upgraded>>) -> std::io::Result<()> {
    while let Some(event) = ws.next().await {
        match event? {
            Event::Message(message) => ws.send(message).await?,
            Event::Closed(closed) => say!("{closed}"),
            _ => {}
        }
    }
    Ok(())
}
