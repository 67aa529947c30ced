#!/usr/bin/env python3
"""Print the `utf8` group's medians as a Markdown table of throughput and ratios.

Reads criterion's target/criterion/utf8_<input>/<impl>/<chunk>/new/estimates.json
(run `cargo bench -p wsframe-benches --bench utf8` first).
"""
import json
import pathlib
import sys

MIB = 1 << 20
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
INPUTS = ["ascii", "latin1", "cyrillic", "cjk", "emoji", "mixed"]
CHUNKS = ["16B", "64B", "1KiB", "4KiB", "64KiB", "whole"]


def median_ns(*parts):
    path = root.joinpath(*parts, "new", "estimates.json")
    return json.loads(path.read_text())["median"]["point_estimate"]


def gib_per_s(ns):
    return MIB / ns  # input is 1 MiB: bytes/ns = GB/s; MiB/ns*1e9/2^30 ~ GiB/s


print("Throughput in GiB/s (median); `vs simd` = utf8stream / one-shot simdutf8, "
      "`vs std-stream` = utf8stream / std streaming validator at the same chunk size.\n")
print("| input | std one-shot | simdutf8 one-shot | chunk | utf8stream | std streaming | vs simd | vs std-stream |")
print("|---|---|---|---|---|---|---|---|")
worst_big, worst_small = 9.9, 9.9
for kind in INPUTS:
    group = f"utf8_{kind}"
    std = median_ns(group, "std_oneshot")
    simd = median_ns(group, "simdutf8_oneshot")
    for chunk in CHUNKS:
        ours = median_ns(group, "utf8stream", chunk)
        naive = median_ns(group, "std_stream", chunk)
        vs_simd, vs_naive = simd / ours, naive / ours
        if chunk in ("4KiB", "64KiB", "whole"):
            worst_big = min(worst_big, vs_simd)
        if chunk in ("16B", "64B"):
            worst_small = min(worst_small, vs_naive)
        print(f"| {kind} | {gib_per_s(std)*1e9/2**30:.2f} | {gib_per_s(simd)*1e9/2**30:.2f} | {chunk} | "
              f"{gib_per_s(ours)*1e9/2**30:.2f} | {gib_per_s(naive)*1e9/2**30:.2f} | {vs_simd:.2f}x | {vs_naive:.2f}x |")
print(f"\nWorst ratio, chunks >= 4 KiB vs one-shot simdutf8: {worst_big:.2f}x (target >= 0.90x)")
print(f"Worst ratio, chunks <= 64 B vs std streaming: {worst_small:.2f}x (target >= 1.00x)")
