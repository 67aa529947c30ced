#!/usr/bin/env python3
"""The tokio examples against Python `websockets`: the chat server's
broadcast between two clients, `tokio_client` against a websockets echo
server, and the keepalive server's graceful shutdown on SIGINT.

usage: tokio_examples.py CHAT_PORT TOKIO_CLIENT_BINARY KEEPALIVE_SERVER_BINARY
"""
import asyncio
import signal
import socket
import sys

import websockets

CHAT = f"ws://127.0.0.1:{sys.argv[1]}"
CLIENT = sys.argv[2]
KEEPALIVE = sys.argv[3]
failures = []


def check(name, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(name)


async def chat():
    async with websockets.connect(CHAT) as a, websockets.connect(CHAT) as b:
        await a.send("hello from a")
        got = [await asyncio.wait_for(ws.recv(), 5) for ws in (a, b)]
        check("chat: a's text reaches a and b", got == ["hello from a"] * 2, repr(got))
        payload = bytes(range(256)) * 40
        await b.send(payload)
        got = [await asyncio.wait_for(ws.recv(), 5) for ws in (a, b)]
        check("chat: b's binary reaches a and b", got == [payload] * 2)
        for n in range(100):
            await a.send(f"burst {n}")
        got = [await asyncio.wait_for(b.recv(), 5) for _ in range(100)]
        check("chat: 100 messages in order", got == [f"burst {n}" for n in range(100)])
        # websockets pings and waits for the pong: the reader half answers it.
        pong = await b.ping(b"keepalive?")
        await asyncio.wait_for(pong, 5)
        check("chat: the reader half answers pings", True)


async def client():
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            CLIENT, f"127.0.0.1:{port}", "hello", "héllo wörld 😀",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        lines = out.decode().splitlines()
        check("tokio_client: exits 0", proc.returncode == 0, err.decode().strip())
        check("tokio_client: echoes printed", lines[1:3] == ["hello", "héllo wörld 😀"], repr(lines))
        check("tokio_client: closed with 1000", any("1000" in line for line in lines[3:]), repr(lines))


async def graceful_shutdown():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        KEEPALIVE, f"127.0.0.1:{port}", stdout=asyncio.subprocess.PIPE)
    await proc.stdout.readline()  # "... listening on ..."
    async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
        await ws.send("still here?")
        check("keepalive server: echoes", await asyncio.wait_for(ws.recv(), 5) == "still here?")
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(ws.recv(), 10)
            check("keepalive server: closes on SIGINT", False, "a message came instead")
        except websockets.exceptions.ConnectionClosed as closed:
            code, reason = closed.rcvd.code, closed.rcvd.reason
            check("keepalive server: closes with 1001 on SIGINT",
                  (code, reason) == (1001, "server shutting down"), f"{code} {reason!r}")
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    check("keepalive server: exits 0 after closing all", proc.returncode == 0
          and "all connections closed" in out.decode(), out.decode())


asyncio.run(chat())
asyncio.run(client())
asyncio.run(graceful_shutdown())
if failures:
    print(f"FAIL: {len(failures)} check(s): {', '.join(failures)}")
    sys.exit(1)
print("tokio examples: all checks passed")
