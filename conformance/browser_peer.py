#!/usr/bin/env python3
"""Headless Chromium against our echo server, with and without
permessage-deflate: a page served on 127.0.0.1 round-trips text (a short one,
1 MiB of repetitive text) and binary over `new WebSocket(...)`, closes with
1000, and POSTs its checks back here. Chromium talks to each server through
a wire tap (wiretap.py), and the checks here read its frames: with deflate,
the 101 names permessage-deflate and every data message went compressed
(RSV1) both ways, the 1 MiB text in a fraction of its size; without, no
extension and no RSV1.

usage: browser_peer.py DEFLATE_WS_PORT PLAIN_WS_PORT
  DEFLATE_WS_PORT: an echo server with permessage-deflate (the default)
  PLAIN_WS_PORT:   an echo server run with --no-deflate
"""
import http.server
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from wiretap import WireTap

DEFLATE_PORT, PLAIN_PORT = int(sys.argv[1]), int(sys.argv[2])
# Messages the page sends on each connection (page.html): a short text,
# 1 MiB of text, 70000 bytes of binary.
LARGE_TEXT = 1 << 20
SENT = 3
PAGE = (pathlib.Path(__file__).parent / "browser" / "page.html").read_bytes()
result = {}
done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(PAGE)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        result["checks"] = json.loads(body)
        self.send_response(204)
        self.end_headers()
        done.set()

    def log_message(self, *args):
        pass


def main():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("  FAIL chromium is not installed (Debian package `chromium`)")
        return 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deflate_tap, plain_tap = WireTap(DEFLATE_PORT), WireTap(PLAIN_PORT)
    url = (f"http://127.0.0.1:{server.server_address[1]}/page.html"
           f"?ws={deflate_tap.port}&plain={plain_tap.port}")
    # Chromium's helper processes outlive a kill of the main one and may
    # still write to the profile while it is removed: run the browser in its
    # own process group, kill the group, and let a leftover file not fail
    # the cleanup.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            finished = done.wait(60)
        finally:
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            browser.wait()
    server.shutdown()
    if not finished:
        print("  FAIL the page reported nothing within 60 s")
        return 1
    checks = result["checks"] + wire_checks("deflate", deflate_tap, True) + wire_checks("no deflate", plain_tap, False)
    failed = 0
    for check in checks:
        print(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
        failed += not check["ok"]
    return 1 if failed or not result["checks"] else 0


def wire_checks(label, tap, deflate):
    """What the tap saw on the page's one connection through it."""
    checks = []

    def check(name, ok, detail=""):
        checks.append({"name": f"{label}, on the wire: {name}", "ok": ok, "detail": detail})

    connections = tap.upgraded()
    check("one upgraded connection", len(connections) == 1, f"{len(connections)}")
    if len(connections) != 1:
        return checks
    (conn,) = connections
    named = conn.extensions.startswith("permessage-deflate")
    check(f"the 101 {'names' if deflate else 'has no'} permessage-deflate", named == deflate,
          f"Sec-WebSocket-Extensions: {conn.extensions!r}")
    for side, messages in conn.messages.items():
        flags = [m.rsv1 for m in messages]
        check(f"{side}'s {SENT} data messages all {'compressed (RSV1)' if deflate else 'uncompressed'}",
              flags == [deflate] * SENT, f"RSV1 per message: {flags}")
        large = max((m for m in messages if m.kind == "text"), key=lambda m: m.wire_bytes, default=None)
        size = large.wire_bytes if large else 0
        if deflate:
            check(f"{side}'s 1 MiB text in under 1/20 of it", 0 < size < LARGE_TEXT // 20,
                  f"{size} B in {large.frames if large else 0} frames")
        else:
            check(f"{side}'s 1 MiB text as it is", size == LARGE_TEXT, f"{size} B")
    rsv = conn.client.control_rsv + conn.server.control_rsv
    check("no RSV bit on a control frame", not any(rsv), f"{rsv}")
    return checks


sys.exit(main())
