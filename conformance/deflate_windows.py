#!/usr/bin/env python3
"""permessage-deflate window bits and context takeover with Python
`websockets` (conformance/deflate_windows.sh runs it).

usage:
  deflate_windows.py clients PORT   clients with every setting against our echo server
  deflate_windows.py cheat PORT     clients that agree on a small client window, then
                                    compress past it: our server must close with 1007
  deflate_windows.py servers BASE   echo servers, one per setting, on BASE, BASE+1, ...
                                    (our client's turn); prints "PORT SETTING" lines

`websockets` refuses client_max_window_bits=8 for itself (zlib will not
compress raw DEFLATE with a 256-byte window), so the client settings stop at
9; server_max_window_bits=8 is offered, our servers answer it, and Python's
zlib then inflates with exactly 256 bytes of window (a distance past it is
"invalid distance too far back"). Its servers do the same with
client_max_window_bits=8 for our client (it refuses server_max_window_bits=8
for itself).
"""
import asyncio
import os
import sys
import zlib

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)


def far_matches():
    """Noise with a copy of 258 bytes at distances around each window's edge
    (2^bits - 262 is the farthest zlib reaches at `bits`)."""
    out = b""
    for d in (200, 249, 250, 251, 256, 257, 300, 511, 512, 513, 2047, 2048, 2049, 8192, 16000, 32768):
        block = os.urandom(d)
        out += block + block[:258]
    return out


def messages():
    far = far_matches()
    noise = os.urandom(70000)
    # A message, then the same again: with context takeover the second
    # refers back into the first, across the inflater's calls, where zlib
    # keeps only its window (at 8 bits it refuses a distance past 257).
    near, beyond = os.urandom(230), os.urandom(300)
    return [
        near, near, beyond, beyond,
        far, far, "", "x", "abcdefgh " * 400, noise, b"", bytes(5000),
        "héllo wörld ✓" * 300, "0123456789abcdef" * 70000, noise[:40000] + noise[:30000],
    ]


def client_settings():
    for client_bits in (True, None, 9, 10, 12, 15):
        for server_bits in (None, 8, 9, 11, 15):
            for server_nct in (False, True):
                for client_nct in (False, True):
                    yield dict(
                        client_max_window_bits=client_bits,
                        server_max_window_bits=server_bits,
                        server_no_context_takeover=server_nct,
                        client_no_context_takeover=client_nct,
                    )


async def echo_session(port, settings):
    """Every message echoed intact; returns the 101's extensions."""
    factory = ClientPerMessageDeflateFactory(**settings)
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/", extensions=[factory], compression=None,
        max_size=64 << 20, ping_interval=None,
    ) as ws:
        for message in messages():
            await ws.send(message)
            echo = await ws.recv()
            if echo != message:
                raise AssertionError(f"the echo of {len(message)} bytes differs")
        return ws.response.headers.get("Sec-WebSocket-Extensions")


async def clients(port):
    failed = compressed = windows_of_8 = 0
    settings = list(client_settings())
    for each in settings:
        try:
            extensions = await asyncio.wait_for(echo_session(port, each), 60)
        except Exception as err:  # noqa: BLE001 - any failure is reported
            failed += 1
            print(f"  FAIL {each}: {type(err).__name__}: {err}")
            continue
        eight = each["server_max_window_bits"] == 8
        if extensions is None or eight != ("server_max_window_bits=8" in extensions):
            failed += 1
            print(f"  FAIL {each}: the 101 answered {extensions!r}")
        compressed += extensions is not None
        windows_of_8 += eight and extensions is not None
    print(f"  {len(settings) - failed}/{len(settings)} sessions echoed intact "
          f"({compressed} compressed, {windows_of_8} of them with server_max_window_bits=8)")
    return failed == 0


async def cheat_session(port, bits, takeover):
    factory = ClientPerMessageDeflateFactory(
        client_max_window_bits=bits, client_no_context_takeover=not takeover)
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/", extensions=[factory], compression=None,
        max_size=None, ping_interval=None,
    ) as ws:
        await ws.send("a" * 2000)
        assert len(await ws.recv()) == 2000
        # From here on our compressor uses 32 KiB, whatever was agreed.
        extension = ws.protocol.extensions[0]
        extension.encoder = zlib.compressobj(wbits=-15)
        extension.local_max_window_bits = 15
        block = os.urandom((1 << bits) + 100)
        try:
            await ws.send(block + block[:258])
            await asyncio.wait_for(ws.recv(), 20)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        return "echoed"


async def cheat(port):
    ok = True
    for bits in (9, 10, 12, 14):
        for takeover in (True, False):
            got = await asyncio.wait_for(cheat_session(port, bits, takeover), 60)
            if got != 1007:
                ok = False
                print(f"  FAIL window {bits}, takeover {takeover}: {got}, not 1007")
    print(f"  {'ok' if ok else 'FAIL'}: a distance past the agreed client window closed with 1007 (windows 9-14, takeover on and off)")
    return ok


SERVER_SETTINGS = [
    dict(),
    dict(server_max_window_bits=9),
    dict(server_max_window_bits=12, client_max_window_bits=10),
    dict(client_max_window_bits=9),
    dict(server_no_context_takeover=True, client_no_context_takeover=True),
    dict(server_max_window_bits=10, client_max_window_bits=9, server_no_context_takeover=True),
    dict(require_client_max_window_bits=True, client_max_window_bits=11),
    dict(client_max_window_bits=8),
    dict(client_max_window_bits=8, server_max_window_bits=9, client_no_context_takeover=True),
]


async def servers(base):
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    for i, each in enumerate(SERVER_SETTINGS):
        await websockets.serve(
            echo, "127.0.0.1", base + i, compression=None,
            extensions=[ServerPerMessageDeflateFactory(**each)],
            max_size=64 << 20, ping_interval=None,
        )
        print(base + i, each, flush=True)
    await asyncio.Future()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "servers":
        asyncio.run(servers(port))
        return 0
    run = {"clients": clients, "cheat": cheat}[mode]
    return 0 if asyncio.run(run(port)) else 1


if __name__ == "__main__":
    sys.exit(main())
