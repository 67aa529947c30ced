//! Memory figures, counted by a global allocator (reported, not timed):
//!
//! 1. heap held by one idle server connection, wsframe vs tungstenite;
//! 2. bytes and allocations per 20 B message in steady state, every implementation;
//! 3. heap reserved after a 14-byte header declaring 2^40 bytes (and one
//!    declaring just under 16 MiB, inside everyone's limits), every implementation;
//! 4. peak heap while streaming one 1 GiB binary message in streaming mode;
//! 5. permessage-deflate (RFC 7692): heap of a server connection idle, after
//!    receiving one compressed message and after echoing it compressed, with
//!    and without context takeover and with a small window and memory level,
//!    for one connection and for 10,000.
//!
//! `cargo bench -p wsframe-benches --bench memory` (with `--test`, the 1 GiB
//! message shrinks to 64 MiB and the 10,000 connections to 100, so that CI
//! stays quick).
#![allow(missing_docs)]

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use std::{io, sync::atomic::Ordering::Relaxed};

use counting_alloc::{count_this_thread, mark, Mark, ALLOCATED, ALLOCATIONS, LIVE, PEAK};
use futures_util::StreamExt;
use wsframe::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};
use wsframe_benches::{client_stream::push_masked_frame, mem_socket::MemSocket};

fn masked_frame(first: u8, payload_len: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_masked_frame(&mut out, first, payload_len, payload);
    out
}

/// Polls a future once on a runtime that never blocks: an idle socket is
/// `Pending`, and that is when the heap is measured.
fn poll_once<F: std::future::Future>(rt: &tokio::runtime::Runtime, future: F) {
    rt.block_on(async {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(20), future).await;
    });
}

fn idle_connection() {
    println!("## 1. Heap held by one idle server connection (after the handshake)\n");
    let before = mark();
    let conn = Connection::new(Role::Server, Config::default());
    let ours = LIVE.load(Relaxed) - before.live;
    drop(conn);
    let before = mark();
    let ws = tungstenite::WebSocket::from_raw_socket(
        MemSocket::idle(&[]),
        tungstenite::protocol::Role::Server,
        None,
    );
    let theirs = LIVE.load(Relaxed) - before.live;
    drop(ws);
    println!("| implementation | live heap bytes |\n|---|---|");
    println!("| wsframe `Connection` | {ours} |\n| tungstenite `WebSocket` | {theirs} |\n");
}

fn per_message(rt: &tokio::runtime::Runtime) {
    println!("## 2. Allocation per 20 B text message, steady state (10,000 messages after 1,000 warm-up)\n");
    let frame = masked_frame(0x81, 20, b"twenty bytes, ascii!");
    let stream = |n: usize| frame.repeat(n);
    let messages = 10_000;
    println!(
        "| implementation | bytes allocated / message | allocations / message |\n|---|---|---|"
    );

    let mut conn = Connection::new(Role::Server, Config::default());
    let feed = |conn: &mut Connection, bytes: &[u8]| {
        let mut n = 0;
        for read in bytes.chunks(64 << 10) {
            conn.receive(read);
            while let Some(Event::Message(_)) = conn.next_event() {
                n += 1;
            }
        }
        n
    };
    feed(&mut conn, &stream(1000));
    let input = stream(messages);
    let warm_and_measured = stream(1000 + messages);
    let before = mark();
    assert_eq!(feed(&mut conn, &input), messages);
    report("wsframe", before, messages);

    let mut ws = tungstenite::WebSocket::from_raw_socket(
        MemSocket::idle(&warm_and_measured),
        tungstenite::protocol::Role::Server,
        None,
    );
    for _ in 0..1000 {
        ws.read().unwrap();
    }
    let before = mark();
    for _ in 0..messages {
        ws.read().unwrap();
    }
    report("tungstenite", before, messages);

    rt.block_on(async {
        let mut ws =
            tokio_websockets::ServerBuilder::new().serve(MemSocket::idle(&warm_and_measured));
        for _ in 0..1000 {
            ws.next().await.unwrap().unwrap();
        }
        let before = mark();
        for _ in 0..messages {
            ws.next().await.unwrap().unwrap();
        }
        report("tokio-websockets", before, messages);
    });

    rt.block_on(async {
        use fastwebsockets::{FragmentCollector, Role, WebSocket};
        let mut ws = FragmentCollector::new(WebSocket::after_handshake(
            MemSocket::idle(&warm_and_measured),
            Role::Server,
        ));
        for _ in 0..1000 {
            ws.read_frame().await.unwrap();
        }
        let before = mark();
        for _ in 0..messages {
            ws.read_frame().await.unwrap();
        }
        report("fastwebsockets", before, messages);
    });
    println!();
}

fn report(name: &str, before: Mark, messages: usize) {
    let bytes = ALLOCATED.load(Relaxed) - before.allocated;
    let count = ALLOCATIONS.load(Relaxed) - before.allocations;
    println!(
        "| {name} | {:.1} | {:.4} |",
        bytes as f64 / messages as f64,
        count as f64 / messages as f64
    );
}

fn huge_header(rt: &tokio::runtime::Runtime) {
    println!("## 3. Heap reserved after receiving only a header (and what each answers)\n");
    println!("| declared length | implementation | heap reserved (peak, bytes) | outcome |\n|---|---|---|---|");
    for declared in [1u64 << 40, (16 << 20) - 1] {
        let header = masked_frame(0x82, declared, &[]);
        let label = if declared == 1 << 40 {
            "2^40"
        } else {
            "16 MiB - 1"
        };

        let before = mark();
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.receive(&header);
        let event = conn.next_event();
        let peak = PEAK.load(Relaxed) - before.live;
        let outcome = match event {
            Some(Event::Closed(c)) => format!("close {}", c.code.0),
            None => "waits for the payload".to_owned(),
            Some(other) => format!("{other:?}"),
        };
        println!("| {label} | wsframe | {peak} | {outcome} |");
        drop(conn);

        let before = mark();
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            MemSocket::idle(&header),
            tungstenite::protocol::Role::Server,
            None,
        );
        let result = ws.read();
        let peak = PEAK.load(Relaxed) - before.live;
        let outcome = match result {
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                "waits for the payload".to_owned()
            }
            Err(e) => format!("error: {e}"),
            Ok(m) => format!("{m:?}"),
        };
        println!("| {label} | tungstenite | {peak} | {outcome} |");
        drop(ws);

        let before = mark();
        let outcome = std::cell::RefCell::new(String::from("waits for the payload"));
        poll_once(rt, async {
            let mut ws = tokio_websockets::ServerBuilder::new().serve(MemSocket::idle(&header));
            if let Some(Err(e)) = ws.next().await {
                *outcome.borrow_mut() = format!("error: {e}");
            }
        });
        println!(
            "| {label} | tokio-websockets | {} | {} |",
            PEAK.load(Relaxed) - before.live,
            outcome.borrow()
        );

        let before = mark();
        let outcome = std::cell::RefCell::new(String::from("waits for the payload"));
        poll_once(rt, async {
            use fastwebsockets::{FragmentCollector, Role, WebSocket};
            let mut ws = FragmentCollector::new(WebSocket::after_handshake(
                MemSocket::idle(&header),
                Role::Server,
            ));
            if let Err(e) = ws.read_frame().await {
                *outcome.borrow_mut() = format!("error: {e}");
            }
        });
        println!(
            "| {label} | fastwebsockets | {} | {} |",
            PEAK.load(Relaxed) - before.live,
            outcome.borrow()
        );
    }
    println!();
}

fn streaming(total: u64) {
    println!("## 4. Peak heap while streaming one {} MiB binary message (streaming mode, 64 KiB fragments, 64 KiB reads)\n", total >> 20);
    let config = Config::builder()
        .streaming(true)
        .max_message_size(u64::MAX)
        .build();
    let mut conn = Connection::new(Role::Server, config);
    let fragment = 64u64 << 10;
    let payload = vec![0x5Au8; fragment as usize];
    let count = total / fragment;
    let before = mark();
    let mut received = 0u64;
    for i in 0..count {
        let first = if i == 0 { 0x02 } else { 0x00 } | if i + 1 == count { 0x80 } else { 0 };
        let frame = masked_frame(first, fragment, &payload);
        for read in frame.chunks(64 << 10) {
            conn.receive(read);
            while let Some(event) = conn.next_event() {
                match event {
                    Event::Chunk {
                        data: Message::Binary(b),
                        ..
                    } => received += b.len() as u64,
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    assert_eq!(received, total);
    // The frames themselves (built per fragment, 64 KiB each) are counted too.
    println!(
        "| message | peak heap over the run | of which one 64 KiB input frame |\n|---|---|---|"
    );
    println!(
        "| {} MiB | {} bytes | {} bytes |\n",
        total >> 20,
        PEAK.load(Relaxed) - before.live,
        fragment + 14
    );
}

/// A server's and a client's permessage-deflate preferences, and a name.
struct DeflateSetting {
    name: &'static str,
    server: DeflateConfig,
    client: DeflateConfig,
}

fn deflate_settings() -> [DeflateSetting; 3] {
    let fresh = DeflateConfig::default()
        .no_context_takeover(true)
        .peer_no_context_takeover(true);
    let small = DeflateConfig::default().max_window_bits(9).memory_level(1);
    [
        DeflateSetting {
            name: "defaults (15-bit window, memory level 8), context takeover",
            server: DeflateConfig::default(),
            client: DeflateConfig::default(),
        },
        DeflateSetting {
            name: "defaults, no context takeover (both ways)",
            server: fresh,
            client: fresh,
        },
        DeflateSetting {
            name: "9-bit window, memory level 1, context takeover",
            server: small.peer_max_window_bits(9),
            client: small,
        },
    ]
}

/// The parameters both ends agree on for `setting`, as their handshake
/// would: the client's offer, the server's answer, the client's check.
fn negotiate(setting: &DeflateSetting) -> (DeflateParams, DeflateParams) {
    let (server, response) = setting
        .server
        .accept(&[setting.client.offer()])
        .expect("accepted");
    let client = setting
        .client
        .check_response(&[response])
        .expect("a valid response")
        .expect("accepted");
    (server, client)
}

/// A 2 KiB JSON-like text, over the default 1 KiB compression threshold.
fn json_text() -> String {
    let mut text = String::from("[");
    let mut i: u32 = 0;
    while text.len() < 2048 - 80 {
        text.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"active\":{},\"score\":{}}},",
            i * 7 % 100,
            i.is_multiple_of(3),
            i * 37 % 1000
        ));
        i += 1;
    }
    text.push_str("{}]");
    text
}

/// The server's parameters for `setting`, and the client's first
/// compressed message to it.
fn first_message(setting: &DeflateSetting) -> (DeflateParams, Vec<u8>) {
    let (server_params, client_params) = negotiate(setting);
    let config = Config::builder().deflate(Some(setting.client)).build();
    let mut client = Connection::with_deflate(Role::Client, config, Some(client_params));
    client.send(Message::from(json_text())).unwrap();
    let wire = client.take_output().to_vec();
    assert_eq!(wire[0] & 0x40, 0x40, "compressed");
    (server_params, wire)
}

fn deflate_memory(connections: usize) {
    println!(
        "## 5. permessage-deflate: heap of server connections (a 2 KiB JSON text received, then echoed)\n"
    );
    println!(
        "`Connection` itself is {} bytes (inline, wherever the caller keeps it), with or without \
         deflate; the heap is what it allocates.\n",
        std::mem::size_of::<Connection>()
    );
    let config = Config::default();
    println!(
        "| settings | connections | idle | after one message received | after it is echoed (compressed) |\n|---|---|---|---|---|"
    );
    let plain = mark();
    let idle_plain = Connection::new(Role::Server, config);
    println!("| no deflate | 1 | {} B | | |", plain.live_since());
    drop(idle_plain);
    for setting in deflate_settings() {
        let config = Config::builder().deflate(Some(setting.server)).build();
        let (params, wire) = first_message(&setting);
        let text = json_text();
        for count in [1, connections] {
            let before = mark();
            let mut servers: Vec<Connection> = (0..count)
                .map(|_| Connection::with_deflate(Role::Server, config, Some(params)))
                .collect();
            // The Vec of connections is the caller's, not theirs.
            let own = count * std::mem::size_of::<Connection>();
            let idle = before.live_since() - own;
            for server in &mut servers {
                server.receive(&wire);
                let Some(Event::Message(message)) = server.next_event() else {
                    panic!("one message")
                };
                assert_eq!(message.as_bytes(), text.as_bytes());
            }
            let received = before.live_since() - own;
            for server in &mut servers {
                server.send(Message::from(text.as_str())).unwrap();
                let out = server.take_output();
                assert!(out.len() < 1024 && out[0] & 0x40 == 0x40, "sent compressed");
            }
            let echoed = before.live_since() - own;
            println!(
                "| {} | {count} | {} | {} | {} |",
                setting.name,
                per_connection(idle, count),
                per_connection(received, count),
                per_connection(echoed, count)
            );
            drop(servers);
        }
    }
    println!();
}

/// `total` bytes for `count` connections, with the share of each.
fn per_connection(total: usize, count: usize) -> String {
    if count == 1 {
        format!("{total} B")
    } else {
        format!(
            "{:.1} MiB ({} B each)",
            total as f64 / (1 << 20) as f64,
            total / count
        )
    }
}

fn main() {
    count_this_thread();
    let quick = std::env::args().any(|a| a == "--test");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    idle_connection();
    per_message(&rt);
    huge_header(&rt);
    streaming(if quick { 64 << 20 } else { 1 << 30 });
    deflate_memory(if quick { 100 } else { 10_000 });
}
