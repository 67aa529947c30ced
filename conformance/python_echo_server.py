#!/usr/bin/env python3
"""A Python `websockets` echo server on 127.0.0.1:PORT for our client's
real-peer tests (codec/tests/deflate_real_peer_echo.rs): compression on, as by
default, and a 64 MiB message limit (their default is 1 MiB; the tests send
17 MiB messages). No keepalive pings: on a loaded machine a 17 MiB round
trip in a debug build took over their 20 s interval, and the tests expect
the echo as the next event, not a ping.

usage: python_echo_server.py PORT
"""
import asyncio
import sys

import websockets


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=64 << 20, ping_interval=None) as server:
        await server.serve_forever()


asyncio.run(main())
