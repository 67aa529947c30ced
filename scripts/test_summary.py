#!/usr/bin/env python3
"""Counts what scripts/test.sh ran, from its stages' logs, into one line:

    SUMMARY: N passed, N failed (cargo test ..., examples ..., Autobahn ..., peers ..., deflate windows ..., tokio examples ..., axum example ...)

Exits 1 if anything failed or a stage ended in failure without a count.
usage: test_summary.py LOG_DIR   (holds NAME.log and NAME.status per stage)
"""
import pathlib
import re
import sys

logs = pathlib.Path(sys.argv[1])
passed = failed = 0
parts = []


def stage(name):
    log = logs / f"{name}.log"
    status = logs / f"{name}.status"
    text = log.read_text(errors="replace") if log.exists() else ""
    code = int(status.read_text()) if status.exists() else None
    return text, code


def count(ok, bad, part):
    global passed, failed
    passed += ok
    failed += bad
    parts.append(part)


def stage_failed(name, code):
    """A stage that failed without saying what: one failure, named."""
    count(0, 1, f"{name} failed (exit {code}) before counting")


# cargo test: one "test result:" line per test binary and per crate's doc tests.
text, code = stage("cargo-test")
results = re.findall(r"^test result: \w+\. (\d+) passed; (\d+) failed", text, re.M)
ok, bad = sum(int(p) for p, _ in results), sum(int(f) for _, f in results)
if results:
    count(ok, bad, f"cargo test {ok}/{ok + bad} in {len(results)} binaries")
if code != 0 and bad == 0:
    stage_failed("cargo test", code)  # a build error, or a binary that crashed

# The explainer's checks: "examples: N passed, N failed".
text, code = stage("examples")
m = re.search(r"^examples: (\d+) passed, (\d+) failed$", text, re.M)
if m:
    count(int(m[1]), int(m[2]), f"examples {m[1]}/{int(m[1]) + int(m[2])}")
if code != 0 and not (m and int(m[2])):
    stage_failed("examples", code)

# Autobahn: grade_autobahn.py's table; its header names the roles and its
# last row holds each role's OK/total.
text, code = stage("autobahn")
header = re.search(r"^\| case group \|(.*)\|$", text, re.M)
totals = re.search(r"^\| \*\*all\*\* \|(.*)\|$", text, re.M)
bad = 0
roles_counted = []
if header and totals:
    roles = [cell.strip() for cell in header[1].split("|")]
    cells = [re.fullmatch(r"\*\*(\d+)/(\d+)\*\*", c.strip()) for c in totals[1].split("|")]
    for role, cell in zip(roles, cells):
        ok, total = int(cell[1]), int(cell[2])
        bad += total - ok
        # "server (echo_server)" -> "echo_server", "client (autobahn_client)" -> "autobahn_client"
        name = re.sub(r"^\w+ \((.*)\)$", r"\1", role)
        roles_counted.append(f"{name} {ok}/{total}")
        passed += ok
        failed += total - ok
    parts.append("Autobahn " + ", ".join(roles_counted))
if code != 0 and bad == 0:
    stage_failed("Autobahn", code)

# Peers: conformance/peers.sh prints "== <peer>" before each and, at the end,
# "All peers green." or "FAIL: peers: <names>; ...". Each peer prints one
# "  ok  " or "  FAIL" line per check; those are shown, the peers counted.
text, code = stage("peers")
ran = re.findall(r"^== (\S+)", text, re.M)
m = re.search(r"^FAIL: peers: ([^;]*);", text, re.M)
bad = len(m[1].split()) if m else 0
checks_ok = len(re.findall(r"^  ok  ", text, re.M))
checks = checks_ok + len(re.findall(r"^  FAIL", text, re.M))
if ran:
    detail = [f"{checks_ok}/{checks} checks"] + ([f"failed: {m[1]}"] if m else [])
    count(len(ran) - bad, bad, f"peers {len(ran) - bad}/{len(ran)} ({', '.join(detail)})")
if code != 0 and bad == 0:
    stage_failed("peers", code)

# Deflate windows: conformance/deflate_windows.sh prints "== <check>" before
# each and, at the end, "All deflate window checks green." or
# "FAIL: deflate windows: <checks>".
text, code = stage("deflate-windows")
ran = re.findall(r"^== ", text, re.M)
m = re.search(r"^FAIL: deflate windows: (.*)$", text, re.M)
bad = len(m[1].split()) if m else 0
if ran:
    count(len(ran) - bad, bad, f"deflate windows {len(ran) - bad}/{len(ran)}")
if code != 0 and bad == 0:
    stage_failed("deflate windows", code)

# The tokio examples against Python websockets: one "  ok  " or "  FAIL"
# line per check.
text, code = stage("tokio-examples")
ok = len(re.findall(r"^  ok  ", text, re.M))
bad = len(re.findall(r"^  FAIL ", text, re.M))
if ok or bad:
    count(ok, bad, f"tokio examples {ok}/{ok + bad}")
if code != 0 and bad == 0:
    stage_failed("tokio examples", code)

# The axum example against Python websockets: "axum peer: N passed, N failed".
text, code = stage("axum")
m = re.search(r"^axum peer: (\d+) passed, (\d+) failed$", text, re.M)
if m:
    count(int(m[1]), int(m[2]), f"axum example {m[1]}/{int(m[1]) + int(m[2])}")
if code != 0 and not (m and int(m[2])):
    stage_failed("axum example", code)

print(f"SUMMARY: {passed} passed, {failed} failed ({'; '.join(parts)})")
sys.exit(1 if failed else 0)
