#!/usr/bin/env python3
"""Interop with the Python `websockets` client against our echo server.

usage: python_peer.py PORT
"""
import asyncio
import sys

import websockets
from websockets.exceptions import ConnectionClosed

URL = f"ws://127.0.0.1:{sys.argv[1]}"
failures = []


def check(name, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)


async def main():
    async with websockets.connect(URL, max_size=None) as ws:
        await ws.send("héllo, wörld 😀")
        check("text echo", await ws.recv() == "héllo, wörld 😀")
        payload = bytes(range(256)) * 300
        await ws.send(payload)
        check("binary echo (76800 B)", await ws.recv() == payload)
        emoji = "😀".encode()
        await ws.send([b"split ", emoji[:2], emoji[2:], b" done"], text=True)
        check("fragmented text, 4-byte code point split across fragments", await ws.recv() == "split 😀 done")
        await ws.close(1000)
        check("close 1000 both ways", ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000,
              f"received {ws.protocol.close_rcvd}")

    async with websockets.connect(URL) as ws:
        await ws.close(3000, "application reason")
        check("close 3000 with a reason echoed", ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 3000,
              f"received {ws.protocol.close_rcvd}")

    async with websockets.connect(URL) as ws:
        await ws.send(b"valid \xff\xfe invalid", text=True)
        try:
            await ws.recv()
            check("invalid UTF-8 closes with 1007", False, "got a message back")
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            check("invalid UTF-8 closes with 1007", rcvd is not None and rcvd.code == 1007, f"reported: {closed!r}")

    # The 1007's reason says which bytes and what the sender likely did.
    for name, payload, reason in [
        ("Latin-1 text", "Café au lait".encode("latin-1"),
         "invalid UTF-8 at byte 3 of the message: E9 (Latin-1 'é'?)"),
        ("UTF-16 text", "hi, UTF-16".encode("utf-16"),
         "invalid UTF-8 at byte 0 of the message: FF (UTF-16?)"),
    ]:
        async with websockets.connect(URL, compression=None) as ws:
            await ws.send(payload, text=True)
            try:
                await ws.recv()
                check(f"{name} diagnosed in the 1007", False, "got a message back")
            except ConnectionClosed as closed:
                rcvd = closed.rcvd
                print(f"    {name}: {rcvd!r}")
                check(f"{name} diagnosed in the 1007",
                      rcvd is not None and rcvd.code == 1007 and rcvd.reason == reason, f"reported: {closed!r}")


async def compressed():
    """permessage-deflate (RFC 7692), which websockets offers by default."""
    async with websockets.connect(URL, max_size=None) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        check("permessage-deflate negotiated", "permessage-deflate" in extensions, extensions)
        text = "compressed text, κόσμε 😀 " * 200
        for i in range(3):
            # The same message again: with context takeover, a back reference.
            await ws.send(text)
            check(f"compressed text echo {i + 1} (context takeover)", await ws.recv() == text)
        payload = bytes(range(256)) * 400
        await ws.send(payload)
        check("compressed binary echo (102400 B)", await ws.recv() == payload)

    async with websockets.connect(URL, max_size=None) as ws:
        # Large enough that websockets compresses it; the bad byte inflates
        # out of the compressed frame.
        await ws.send(b"a" * 4096 + b" \xff\xfe invalid", text=True)
        try:
            await ws.recv()
            check("compressed invalid UTF-8 closes with 1007", False, "got a message back")
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            check("compressed invalid UTF-8 closes with 1007", rcvd is not None and rcvd.code == 1007,
                  f"reported: {closed!r}")


asyncio.run(main())
asyncio.run(compressed())
sys.exit(1 if failures else 0)
