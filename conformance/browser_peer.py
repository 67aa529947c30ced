#!/usr/bin/env python3
"""Headless Chromium against our echo server: a page served on 127.0.0.1
round-trips text and binary over `new WebSocket(...)`, closes with 1000, and
POSTs its checks back here.

usage: browser_peer.py WS_PORT
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

WS_PORT = sys.argv[1]
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
    url = f"http://127.0.0.1:{server.server_address[1]}/page.html?ws={WS_PORT}"
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
            finished = done.wait(45)
        finally:
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            browser.wait()
    server.shutdown()
    if not finished:
        print("  FAIL the page reported nothing within 45 s")
        return 1
    failed = 0
    for check in result["checks"]:
        print(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
        failed += not check["ok"]
    return 1 if failed or not result["checks"] else 0


sys.exit(main())
