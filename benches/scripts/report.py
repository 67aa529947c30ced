#!/usr/bin/env python3
"""Tables (Markdown) and a chart (SVG) from criterion's estimates.json files.

usage: benches/scripts/report.py [CRITERION_DIR] [--svg OUT.svg]
  CRITERION_DIR defaults to target/criterion. Prints the tables of whatever
  groups were run (utf8, mask, unmask_utf8, codec_decode, codec_encode); with --svg, also
  draws the codec throughput chart.
"""
import collections
import json
import pathlib
import sys

GIB = 1 << 30
argv = sys.argv[1:]
svg_out = None
if "--svg" in argv:
    at = argv.index("--svg")
    svg_out = argv[at + 1]
    del argv[at:at + 2]
root = pathlib.Path(argv[0] if argv else "target/criterion")

# (group, function, value) -> (median ns, bytes per iteration)
results = {}
for bench in root.glob("**/new/benchmark.json"):
    meta = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())
    key = (meta["group_id"], meta["function_id"], meta.get("value_str"))
    results[key] = (est["median"]["point_estimate"], meta["throughput"]["Bytes"])


def gibps(key):
    ns, nbytes = results[key]
    return nbytes / ns * 1e9 / GIB


def groups(prefix):
    return sorted({g for (g, _, _) in results if g.startswith(prefix)})


def utf8_table():
    inputs = [g.split("/")[1] for g in groups("utf8/")]
    if not inputs:
        return
    chunks = ["16B", "64B", "1KiB", "4KiB", "64KiB", "whole"]
    print("### utf8 (1 MiB input; GiB/s, medians)\n")
    print("| input | std one-shot | simdutf8 one-shot | chunk | utf8stream | std streaming | vs simdutf8 | vs std streaming |")
    print("|---|---|---|---|---|---|---|---|")
    worst_big, worst_small = 99.0, 99.0
    for kind in inputs:
        g = f"utf8/{kind}"
        std, simd = gibps((g, "std_oneshot", None)), gibps((g, "simdutf8_oneshot", None))
        for chunk in chunks:
            ours, naive = gibps((g, "utf8stream", chunk)), gibps((g, "std_stream", chunk))
            if chunk in ("4KiB", "64KiB", "whole"):
                worst_big = min(worst_big, ours / simd)
            if chunk in ("16B", "64B"):
                worst_small = min(worst_small, ours / naive)
            print(f"| {kind} | {std:.2f} | {simd:.2f} | {chunk} | {ours:.2f} | {naive:.2f} | {ours / simd:.2f}x | {ours / naive:.2f}x |")
    print(f"\nWorst, chunks >= 4 KiB vs one-shot simdutf8: **{worst_big:.2f}x** (target >= 0.90x)  ")
    print(f"Worst, chunks <= 64 B vs the std streaming validator: **{worst_small:.2f}x** (target >= 1.00x)\n")


def mask_table():
    sizes = [g.split("/")[1] for g in groups("mask/")]
    if not sizes:
        return
    print("### mask (GiB/s, medians)\n")
    print("| size | apply_mask | byte loop | u32 words | memcpy | apply_mask / memcpy |")
    print("|---|---|---|---|---|---|")
    for size in sorted(sizes, key=lambda s: {"64B": 0, "4KiB": 1, "64KiB": 2, "1MiB": 3}.get(s, 9)):
        g = f"mask/{size}"
        row = [gibps((g, f, None)) for f in ("apply_mask", "byte_loop", "u32_words", "memcpy")]
        print(f"| {size} | " + " | ".join(f"{v:.2f}" for v in row) + f" | {row[0] / row[3]:.2f}x |")
    print()


IMPLS = ["wsframe", "tungstenite", "tokio-websockets", "fastwebsockets"]
# wsframe fed through `Connection::read_buf` (in place) instead of `receive`.
READ_BUF = "wsframe_read_buf"


def codec_rows(direction):
    rows = collections.OrderedDict()
    for g in groups(f"codec_{direction}/"):
        workload = g.split("/", 1)[1]
        rows[workload] = {}
        for (group, function, value), _ in results.items():
            if group == g and (function in IMPLS or function in ("memcpy", READ_BUF)):
                rows[workload][function] = (gibps((group, function, value)), results[(group, function, value)][0])
    return rows


def codec_table(direction):
    rows = codec_rows(direction)
    if not rows:
        return
    unit = "client stream bytes" if direction == "decode" else "payload bytes"
    roofline = direction == "decode" and any("memcpy" in r for r in rows.values())
    print(f"### codec {direction} (median time per run; GiB/s of {unit})\n")
    in_place = any(READ_BUF in r for r in rows.values())
    extra = " | memcpy, same reads | wsframe / memcpy" if roofline else ""
    extra += " | wsframe via read_buf | read_buf vs tungstenite / best peer" if in_place else ""
    print("| workload | " + " | ".join(IMPLS) + " | vs tungstenite | vs best of tokio-websockets / fastwebsockets" + extra + " |")
    print("|---|" + "---|" * (len(IMPLS) + 2 + (2 if roofline else 0) + (2 if in_place else 0)))
    for workload, impls in rows.items():
        cells = [f"{impls[i][1] / 1e6:.2f} ms ({impls[i][0]:.2f})" if i in impls else "-" for i in IMPLS]
        ours = impls["wsframe"][1]
        best = min(impls[i][1] for i in ("tokio-websockets", "fastwebsockets"))
        tail = ""
        if roofline and "memcpy" in impls:
            copy = impls["memcpy"]
            tail = f" | {copy[1] / 1e6:.2f} ms ({copy[0]:.2f}) | {copy[1] / ours:.2f}x"
        if in_place and READ_BUF in impls:
            via = impls[READ_BUF]
            tail += f" | {via[1] / 1e6:.2f} ms ({via[0]:.2f}) | {impls['tungstenite'][1] / via[1]:.2f}x / {best / via[1]:.2f}x"
        print(f"| {workload} | " + " | ".join(cells) + f" | {impls['tungstenite'][1] / ours:.2f}x | {best / ours:.2f}x{tail} |")
    print()


def unmask_utf8_table():
    inputs = [g.split("/")[1] for g in groups("unmask_utf8/")]
    if not inputs:
        return
    names = ["fused", "copy_then_fused", "copy_then_in_place", "three_passes", "memcpy"]
    print("### unmask_utf8 (1 MiB masked text in 64 KiB reads: copy out, unmask, validate; GiB/s, medians)\n")
    print("| input | " + " | ".join(names) + " | fused / three passes | in place / three passes | fused / memcpy |")
    print("|---|" + "---|" * (len(names) + 3))
    for kind in inputs:
        g = f"unmask_utf8/{kind}"
        row = [gibps((g, n, None)) for n in names]
        print(f"| {kind} | " + " | ".join(f"{v:.2f}" for v in row)
              + f" | {row[0] / row[3]:.2f}x | {row[2] / row[3]:.2f}x | {row[0] / row[4]:.2f}x |")
    print()


def svg(path):
    panels = [(d, codec_rows(d)) for d in ("decode", "encode")]
    colors = {"wsframe": "#d95f02", "tungstenite": "#7570b3", "tokio-websockets": "#1b9e77", "fastwebsockets": "#e7298a", "memcpy": "#999999"}
    drawn = IMPLS + ["memcpy"]
    bar, gap, label_w, plot_w = 12, 10, 230, 460
    rows_total = sum(len(r) for _, r in panels)
    height = 60 + rows_total * (len(drawn) * bar + gap) + len(panels) * 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 200}" height="{height}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">wsframe vs peers: throughput in GiB/s (criterion medians; bars scaled per workload; longer is faster)</text>']
    x0 = label_w
    for i, name in enumerate(drawn):
        label = "memcpy of the same reads" if name == "memcpy" else name
        out.append(f'<rect x="{x0 - 200 + i * 130}" y="30" width="10" height="10" fill="{colors[name]}"/><text x="{x0 - 200 + i * 130 + 14}" y="39">{label}</text>')
    y = 60
    for direction, rows in panels:
        if not rows:
            continue
        out.append(f'<text x="10" y="{y + 12}" font-weight="bold">{direction}</text>')
        y += 20
        for workload, impls in rows.items():
            # Bars are scaled per workload (the fastest is full length): the
            # workloads differ by orders of magnitude.
            top = max(v[0] for v in impls.values())
            out.append(f'<text x="10" y="{y + len(drawn) * bar / 2 + 4}">{workload}</text>')
            for name in drawn:
                if name in impls:
                    w = impls[name][0] / top * plot_w
                    out.append(f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{colors[name]}"/>')
                    out.append(f'<text x="{x0 + w + 4:.1f}" y="{y + bar - 3}">{impls[name][0]:.2f}</text>')
                y += bar
            y += gap
        y += 20
    out.append("</svg>")
    pathlib.Path(path).write_text("\n".join(out) + "\n")


utf8_table()
mask_table()
unmask_utf8_table()
codec_table("decode")
codec_table("encode")
if svg_out:
    svg(svg_out)
