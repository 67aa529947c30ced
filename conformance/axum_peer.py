#!/usr/bin/env python3
"""The Python `websockets` client against the axum example: HTTP and
WebSocket on one port, a subprotocol chosen among two offered, an echo, and
a refused Origin answered 403.

usage: axum_peer.py PORT
"""
import asyncio
import sys
import urllib.request

import websockets
from websockets.exceptions import InvalidStatus

HOST = f"127.0.0.1:{sys.argv[1]}"
failures = []
passed = 0


def check(name, ok, detail=""):
    global passed
    passed += ok
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)


async def main():
    with urllib.request.urlopen(f"http://{HOST}/", timeout=10) as page:
        body = page.read().decode()
        check("plain HTTP page on the same port", page.status == 200 and "wsframe" in body, f"{page.status} {body!r}")

    # Offered in the client's order chat.v1, chat.v2; the server prefers v2.
    async with websockets.connect(f"ws://{HOST}/ws", subprotocols=["chat.v1", "chat.v2"],
                                  origin=f"http://{HOST}") as ws:
        check("the server's choice among two offered subprotocols", ws.subprotocol == "chat.v2", repr(ws.subprotocol))
        await ws.send("héllo 😀")
        check("text echo", await ws.recv() == "héllo 😀")
        await ws.send(bytes(range(256)))
        check("binary echo", await ws.recv() == bytes(range(256)))
        await ws.close(1000)
        check("close 1000", ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000,
              f"received {ws.protocol.close_rcvd}")

    async with websockets.connect(f"ws://{HOST}/ws", subprotocols=["chat.v1"]) as ws:
        check("no Origin (not a browser) is allowed; the only offer chosen", ws.subprotocol == "chat.v1",
              repr(ws.subprotocol))

    try:
        async with websockets.connect(f"ws://{HOST}/ws", origin="http://evil.example"):
            check("a foreign Origin is refused", False, "upgraded")
    except InvalidStatus as err:
        status = err.response.status_code
        check("a foreign Origin is refused with 403", status == 403, str(status))


asyncio.run(main())
print(f"axum peer: {passed} passed, {len(failures)} failed")
if failures:
    print(f"failed: {', '.join(failures)}")
    sys.exit(1)
