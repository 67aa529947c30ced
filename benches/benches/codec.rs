//! Group `codec`: decoding the same masked client streams (server role, UTF-8
//! validation on) with wsframe, tungstenite, tokio-websockets and
//! fastwebsockets; encoding server messages; and encoding client messages
//! (masked, each frame with a fresh key from the implementation's default
//! source). Every iteration consumes every message and checks the count
//! and total length.
//!
//! `CODEC_INTERLEAVED=<rounds>` replaces criterion's groups with the decode
//! rows run interleaved: each round runs every implementation of a row
//! once, in turn, so a burst of another tenant's load hits all of them
//! alike; it prints each one's median and fastest run (GiB/s) and
//! wsframe's ratios to tungstenite and to the faster of tokio-websockets
//! and fastwebsockets, by the medians and by the fastest runs.
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use std::{io::Write, time::Duration};

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{SinkExt, StreamExt};
use wsframe::{Config, Connection, Role};
use wsframe_benches::{
    client_stream::read_stream,
    interleaved,
    mem_socket::{MemSocket, READ_SIZE},
    workloads::{self, Workload},
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// (messages, payload bytes) decoded by each implementation.
fn decode_wsframe(stream: &[u8], into_read_buf: bool) -> (usize, usize) {
    let mut conn = Connection::new(Role::Server, Config::default());
    let (mut count, mut bytes) = (0, 0);
    read_stream(&mut conn, stream, into_read_buf, |message| {
        count += 1;
        bytes += message.as_bytes().len();
    });
    (count, bytes)
}

fn decode_tungstenite(stream: &[u8], messages: usize) -> (usize, usize) {
    use tungstenite::protocol::{Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(MemSocket::new(stream), Role::Server, None);
    let (mut count, mut bytes) = (0, 0);
    while count < messages {
        match ws.read().expect("valid stream") {
            tungstenite::Message::Text(t) => bytes += t.len(),
            tungstenite::Message::Binary(b) => bytes += b.len(),
            other => panic!("unexpected {other:?}"),
        }
        count += 1;
    }
    (count, bytes)
}

fn decode_tokio_websockets(
    rt: &tokio::runtime::Runtime,
    stream: &[u8],
    messages: usize,
) -> (usize, usize) {
    rt.block_on(async {
        let mut ws = tokio_websockets::ServerBuilder::new().serve(MemSocket::new(stream));
        let (mut count, mut bytes) = (0, 0);
        while count < messages {
            let m = ws.next().await.expect("a message").expect("valid stream");
            assert!(m.is_text() || m.is_binary());
            bytes += m.as_payload().len();
            count += 1;
        }
        (count, bytes)
    })
}

fn decode_fastwebsockets(
    rt: &tokio::runtime::Runtime,
    stream: &[u8],
    messages: usize,
) -> (usize, usize) {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    rt.block_on(async {
        let mut ws = FragmentCollector::new(WebSocket::after_handshake(
            MemSocket::new(stream),
            Role::Server,
        ));
        let (mut count, mut bytes) = (0, 0);
        while count < messages {
            let frame = ws.read_frame().await.expect("valid stream");
            assert!(matches!(frame.opcode, OpCode::Text | OpCode::Binary));
            bytes += frame.payload.len();
            count += 1;
        }
        (count, bytes)
    })
}

/// The decode rows run interleaved (see the module docs): one table row
/// per workload.
fn decode_interleaved(rt: &tokio::runtime::Runtime, rounds: usize) {
    println!("| decode (GiB/s, median / fastest of {rounds} interleaved rounds) | wsframe | wsframe read_buf | tungstenite | tokio-websockets | fastwebsockets | vs tungstenite | vs best of the other two |");
    println!("|---|---|---|---|---|---|---|---|");
    for w in workloads::all() {
        let want = (w.messages, w.payload_bytes);
        let (stream, messages) = (&w.stream[..], w.messages);
        let times = interleaved::run(
            &[
                &|| assert_eq!(decode_wsframe(black_box(stream), false), want),
                &|| assert_eq!(decode_wsframe(black_box(stream), true), want),
                &|| assert_eq!(decode_tungstenite(black_box(stream), messages), want),
                &|| {
                    assert_eq!(
                        decode_tokio_websockets(rt, black_box(stream), messages),
                        want
                    )
                },
                &|| assert_eq!(decode_fastwebsockets(rt, black_box(stream), messages), want),
            ],
            rounds,
        );
        let (median, fastest): (Vec<f64>, Vec<f64>) = times
            .iter()
            .map(|t| t.throughput(stream.len(), (1u64 << 30) as f64))
            .unzip();
        let cell = |i: usize| format!("{:.2} / {:.2}", median[i], fastest[i]);
        let best = |of: &[f64]| of[3].max(of[4]);
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2}x / {:.2}x | {:.2}x / {:.2}x |",
            w.name,
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4),
            median[0] / median[2],
            fastest[0] / fastest[2],
            median[0] / best(&median),
            fastest[0] / best(&fastest)
        );
    }
}

fn decode(c: &mut Criterion) {
    wsframe_benches::select_kernel_from_env();
    let rt = runtime();
    if let Ok(rounds) = std::env::var("CODEC_INTERLEAVED") {
        decode_interleaved(&rt, rounds.parse().expect("CODEC_INTERLEAVED=<rounds>"));
        return;
    }
    for w in workloads::all() {
        let mut group = c.benchmark_group(format!("codec_decode/{}", w.name));
        group.throughput(Throughput::Bytes(w.stream.len() as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        let want = (w.messages, w.payload_bytes);
        let Workload {
            stream, messages, ..
        } = &w;
        group.bench_function("wsframe", |b| {
            b.iter(|| assert_eq!(decode_wsframe(black_box(stream), false), want))
        });
        group.bench_function("wsframe_read_buf", |b| {
            b.iter(|| assert_eq!(decode_wsframe(black_box(stream), true), want))
        });
        group.bench_function("tungstenite", |b| {
            b.iter(|| assert_eq!(decode_tungstenite(black_box(stream), *messages), want))
        });
        // The roofline: the same bytes copied in the same reads, nothing else.
        let mut read_buf = vec![0u8; READ_SIZE];
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                let mut copied = 0;
                for read in black_box(stream).chunks(READ_SIZE) {
                    read_buf[..read.len()].copy_from_slice(read);
                    copied += black_box(&read_buf[..read.len()]).len();
                }
                assert_eq!(copied, stream.len());
            })
        });
        group.bench_function("tokio-websockets", |b| {
            b.iter(|| {
                assert_eq!(
                    decode_tokio_websockets(&rt, black_box(stream), *messages),
                    want
                )
            })
        });
        group.bench_function("fastwebsockets", |b| {
            b.iter(|| {
                assert_eq!(
                    decode_fastwebsockets(&rt, black_box(stream), *messages),
                    want
                )
            })
        });
        group.finish();
    }
}

/// An encode group of `w`'s row: its payload bytes as throughput, ten
/// samples of about 3 s.
fn encode_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    w: &Workload,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(format!("{name}/{}", w.name));
    group.throughput(Throughput::Bytes(w.payload_bytes as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group
}

/// The row's tungstenite function: `message` sent `count` times as `role`
/// into an in-memory socket, which must get at least `min_written` bytes.
fn bench_tungstenite_sends(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    message: &tungstenite::Message,
    count: usize,
    role: tungstenite::protocol::Role,
    min_written: usize,
) {
    group.bench_with_input(
        BenchmarkId::new("tungstenite", count),
        message,
        |b, message| {
            b.iter(|| {
                let mut ws = tungstenite::protocol::WebSocket::from_raw_socket(
                    MemSocket::new(&[]),
                    role,
                    None,
                );
                for _ in 0..count {
                    ws.send(message.clone()).expect("sink");
                }
                assert!(ws.get_ref().written >= min_written);
            })
        },
    );
}

/// Encoding: the server sends `count` copies of the workload's message; each
/// implementation writes every frame to the in-memory socket.
fn encode(c: &mut Criterion) {
    if std::env::var_os("CODEC_INTERLEAVED").is_some() {
        return; // the decode rows only
    }
    wsframe_benches::select_kernel_from_env();
    let rt = runtime();
    for w in workloads::all() {
        if !["100k_x_20B_text", "1k_x_16KiB_text", "1k_x_64KiB_binary"].contains(&w.name) {
            continue;
        }
        let mut group = encode_group(c, "codec_encode", &w);
        let count = w.messages;
        let payload = w.sample.as_bytes().to_vec();
        let is_text = w.sample.is_text();
        let min_written = w.payload_bytes + 2 * count;

        let ours = w.sample.clone();
        group.bench_with_input(BenchmarkId::new("wsframe", count), &ours, |b, message| {
            b.iter(|| {
                let mut socket = MemSocket::new(&[]);
                let mut conn = Connection::new(Role::Server, Config::default());
                for _ in 0..count {
                    // The output is written from where it is and consumed,
                    // as from a socket that takes it all.
                    if message.as_bytes().len() < 4096 {
                        conn.send(message.clone()).expect("open");
                        socket.write_all(conn.pending_output()).expect("sink");
                        conn.consume_output(conn.pending_output().len());
                    } else {
                        // Header, then the payload itself (a vectored write
                        // on a real socket), as the peers do: no copy.
                        let payload = conn.send_split(message.clone()).expect("open");
                        socket.write_all(conn.pending_output()).expect("sink");
                        conn.consume_output(conn.pending_output().len());
                        socket.write_all(&payload).expect("sink");
                    }
                }
                assert!(socket.written >= min_written);
            })
        });

        let theirs = if is_text {
            tungstenite::Message::text(String::from_utf8(payload.clone()).expect("utf8"))
        } else {
            tungstenite::Message::binary(payload.clone())
        };
        bench_tungstenite_sends(
            &mut group,
            &theirs,
            count,
            tungstenite::protocol::Role::Server,
            min_written,
        );

        let tws = if is_text {
            tokio_websockets::Message::text(String::from_utf8(payload.clone()).expect("utf8"))
        } else {
            tokio_websockets::Message::binary(payload.clone())
        };
        group.bench_with_input(
            BenchmarkId::new("tokio-websockets", count),
            &tws,
            |b, message| {
                b.iter(|| {
                    rt.block_on(async {
                        let mut ws =
                            tokio_websockets::ServerBuilder::new().serve(MemSocket::new(&[]));
                        for _ in 0..count {
                            ws.send(message.clone()).await.expect("sink");
                        }
                        assert!(ws.get_ref().written >= min_written);
                    })
                })
            },
        );

        group.bench_with_input(
            BenchmarkId::new("fastwebsockets", count),
            &payload,
            |b, payload| {
                use fastwebsockets::{Frame, Payload, Role, WebSocket};
                b.iter(|| {
                    rt.block_on(async {
                        let mut ws = WebSocket::after_handshake(MemSocket::new(&[]), Role::Server);
                        for _ in 0..count {
                            let body = Payload::Borrowed(payload);
                            let frame = if is_text {
                                Frame::text(body)
                            } else {
                                Frame::binary(body)
                            };
                            ws.write_frame(frame).await.expect("sink");
                        }
                        let socket = ws.into_inner();
                        assert!(socket.written >= min_written);
                    })
                })
            },
        );
        group.finish();
    }
}

/// Client sends: as [`encode`]'s wsframe and tungstenite rows, but as the
/// client, so that every frame is masked with a fresh key (RFC 6455 §5.3)
/// from each one's default source: wsframe's `OsRandomMask`, tungstenite's
/// `rand` thread generator.
fn encode_client(c: &mut Criterion) {
    if std::env::var_os("CODEC_INTERLEAVED").is_some() {
        return; // the decode rows only
    }
    wsframe_benches::select_kernel_from_env();
    for w in workloads::all() {
        if !["100k_x_20B_text", "1k_x_16KiB_text"].contains(&w.name) {
            continue;
        }
        let mut group = encode_group(c, "codec_encode_client", &w);
        let count = w.messages;
        // A client's header carries the 4-byte key.
        let min_written = w.payload_bytes + 6 * count;

        group.bench_with_input(
            BenchmarkId::new("wsframe", count),
            &w.sample,
            |b, message| {
                b.iter(|| {
                    let mut socket = MemSocket::new(&[]);
                    let mut conn = Connection::new(Role::Client, Config::default());
                    for _ in 0..count {
                        conn.send(message.clone()).expect("open");
                        socket.write_all(conn.pending_output()).expect("sink");
                        conn.consume_output(conn.pending_output().len());
                    }
                    assert!(socket.written >= min_written);
                })
            },
        );

        let theirs = tungstenite::Message::text(
            String::from_utf8(w.sample.as_bytes().to_vec()).expect("utf8"),
        );
        bench_tungstenite_sends(
            &mut group,
            &theirs,
            count,
            tungstenite::protocol::Role::Client,
            min_written,
        );
        group.finish();
    }
}

criterion_group!(benches, decode, encode, encode_client);
criterion_main!(benches);
