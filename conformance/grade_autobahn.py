#!/usr/bin/env python3
"""Grades kosoku's Autobahn reports strictly and prints a table per case group.

A case passes only if its behavior and behaviorClose are OK or INFORMATIONAL
(NON-STRICT, UNIMPLEMENTED and FAILED fail), and a case that sends invalid
UTF-8 (those whose expected close code is 1007: group 6 and 7.5.1) passes only
if the close frame on the wire carried 1007 (Autobahn tolerates a bare TCP
drop there; we do not).

usage: grade_autobahn.py LABEL=REPORT_DIR [LABEL=REPORT_DIR ...] [--update-readme]
"""
import collections
import os
import json
import pathlib
import re
import sys

GROUPS = {*range(1, 11), 12, 13}
# How many cases must have run: the whole suite by default (AUTOBAHN_CASES
# unset or "all"), unchecked for a selection.
EXPECTED = 517 if os.environ.get("AUTOBAHN_CASES", "all") in ("", "all") else None
PASSING = {"OK", "INFORMATIONAL"}
ROOT = pathlib.Path(__file__).resolve().parent.parent


def grade(report_dir: pathlib.Path, role: str):
    index = json.loads((report_dir / "index.json").read_text())
    if len(index) != 1:
        sys.exit(f"FAIL: {role}: expected one agent in {report_dir}/index.json, got {list(index)}")
    (cases,) = index.values()
    failures, per_group = [], collections.defaultdict(lambda: [0, 0])
    for case_id, result in cases.items():
        group = int(case_id.split(".")[0])
        if group not in GROUPS:
            continue
        detail = json.loads((report_dir / result["reportfile"]).read_text())
        ok = result["behavior"] in PASSING and result["behaviorClose"] in PASSING
        why = f"behavior={result['behavior']} behaviorClose={result['behaviorClose']}"
        expected_codes = detail.get("expectedClose", {}).get("closeCode", [])
        utf8_case = group == 6 or case_id == "7.5.1"
        if ok and utf8_case and expected_codes == [1007] and result["remoteCloseCode"] != 1007:
            ok, why = False, f"invalid UTF-8 answered with {result['remoteCloseCode']}, not a 1007 close frame"
        per_group[group][1] += 1
        if ok:
            per_group[group][0] += 1
        else:
            failures.append(f"{role} {case_id}: {why}")
    total = sum(n for _, n in per_group.values())
    if EXPECTED and total != EXPECTED:
        failures.append(f"{role}: {total} cases ran, not the {EXPECTED} of the whole suite")
    return per_group, failures


def table(graded):
    labels = [label for label, _ in graded]
    lines = ["| case group | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    all_groups = sorted({g for _, per_group in graded for g in per_group})
    for g in all_groups:  # Autobahn has no group 8
        cells = [f"{pg.get(g, [0, 0])[0]}/{pg.get(g, [0, 0])[1]} OK" for _, pg in graded]
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(v[0] for v in pg.values())}/{sum(v[1] for v in pg.values())}**" for _, pg in graded]
    lines.append("| **all** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main():
    graded, failures = [], []
    for arg in sys.argv[1:]:
        if arg.startswith("--"):
            continue
        label, directory = arg.split("=", 1)
        per_group, failed = grade(pathlib.Path(directory), label)
        graded.append((label, per_group))
        failures += failed
    text = table(graded)
    print(text)
    if "--update-readme" in sys.argv:
        readme = ROOT / "README.md"
        body = readme.read_text()
        new = re.sub(r"(<!-- autobahn:begin -->\n).*?(<!-- autobahn:end -->)",
                     lambda m: m.group(1) + text + "\n" + m.group(2), body, flags=re.S)
        readme.write_text(new)
    if failures:
        print("\n".join(["FAIL:"] + failures), file=sys.stderr)
        sys.exit(1)
    print("Autobahn: every case OK or INFORMATIONAL, every invalid-UTF-8 case closed with 1007.")


main()
