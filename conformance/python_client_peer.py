#!/usr/bin/env python3
"""Our client role against Python `websockets` with permessage-deflate: a
websockets server (compression on, as by default: it asks for a 4 KiB window,
client_max_window_bits=12) plays the three endpoints of the Autobahn fuzzing
server that `autobahn_client` uses, and its one case sends text and binary
that the client must echo. The client talks through a wire tap
(wiretap.py), which shows whether its echoes went compressed.

usage: python_client_peer.py AUTOBAHN_CLIENT_BINARY
"""
import asyncio
import random
import sys

import websockets

from wiretap import WireTap

CLIENT = sys.argv[1]
failures = []

rng = random.Random(7692)
# Letters without a pattern inside one message, so the second send of the
# same text can only be short by pointing back into the first: the client's
# compressor kept its context (no client_no_context_takeover negotiated).
UNIQUE = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz κόσμε") for _ in range(1500))
MESSAGES = [UNIQUE, UNIQUE, "repetitive text κόσμε 😀 " * 8192, bytes(range(256)) * 400, "short"]
echoed = []


def check(name, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)


async def fuzzing_server(ws):
    """/getCaseCount, /runCase?case=1 and /updateReports, as autobahn_client
    asks for them."""
    path = ws.request.path
    if path.startswith("/getCaseCount"):
        await ws.send("1")
    elif path.startswith("/runCase"):
        for message in MESSAGES:
            await ws.send(message)
            echoed.append(await asyncio.wait_for(ws.recv(), 10))
    await ws.close(1000)


async def main():
    async with websockets.serve(fuzzing_server, "127.0.0.1", 0, max_size=None) as server:
        tap = WireTap(server.sockets[0].getsockname()[1])
        client = await asyncio.create_subprocess_exec(
            CLIENT, f"127.0.0.1:{tap.port}", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(client.communicate(), 60)
        await asyncio.sleep(0.2)  # the tap's last bytes
    check("autobahn_client exits 0 without a failed case", client.returncode == 0 and not err,
          (out + err).decode().strip().replace("\n", "; "))
    check(f"its {len(MESSAGES)} echoes equal what was sent (text, 256 KiB of text, binary)", echoed == MESSAGES,
          f"{len(echoed)} echoed")
    case = [c for c in tap.upgraded() if c.client.head.startswith(b"GET /runCase")]
    if len(case) != 1:
        check("the case's connection seen on the wire", False, f"{len(case)} seen")
        return
    (conn,) = case
    check("permessage-deflate negotiated", conn.extensions.startswith("permessage-deflate"),
          f"Sec-WebSocket-Extensions: {conn.extensions!r}")
    sent = conn.messages["client"]
    check("every echo compressed (RSV1)", [m.rsv1 for m in sent] == [True] * len(MESSAGES),
          f"RSV1 per echo: {[m.rsv1 for m in sent]}")
    sizes = [m.wire_bytes for m in sent]
    check("the same text again in under a quarter of its first size (context taken over)",
          len(sizes) > 1 and sizes[1] * 4 < sizes[0], f"wire bytes per echo: {sizes}")
    rsv = conn.client.control_rsv + conn.server.control_rsv
    check("no RSV bit on a control frame", not any(rsv), f"{rsv}")


asyncio.run(main())
sys.exit(1 if failures else 0)
