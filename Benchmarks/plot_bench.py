#!/usr/bin/env python3
"""plot_bench.py COPY.json [FIO.json [LOG.json]] OUT.svg: GB/s against block size (log scale) for daxmap,
daxmap parallel, libpmem2, memcpy, fio and the measured non-temporal store limit; beside it, with
LOG.json (daxlog-bench --json), DaxLog / libpmemlog records/s for every log row, a bar each, with
DaxLog's p99 append latency under it. Plain SVG."""
import json, math, sys

copy = json.load(open(sys.argv[1]))
fio = json.load(open(sys.argv[2])) if len(sys.argv) > 3 else []
log = json.load(open(sys.argv[3])) if len(sys.argv) > 4 else []
out = sys.argv[-1]

def pts(rows, key, path=None):
    return sorted((r["block"], r[key]) for r in rows if (path is None or r.get("path") == path) and r.get(key) is not None)

page = [r for r in copy if r.get("path") == "page"]
series = [
    ("daxmap", "steelblue", pts(page, "daxmap_gbps")),
    ("libpmem2", "darkorange", pts(page, "libpmem2_gbps")),
    ("memcpy", "gray", pts(page, "memcpy_gbps")),
    ("daxmap cache-line path", "teal", pts(copy, "daxmap_gbps", "cacheLine")),
    ("libpmem2 cache-line", "peru", pts(copy, "libpmem2_gbps", "cacheLine")),
    ("daxmap parallel", "navy", pts(copy, "daxmap_gbps", "parallel")),
    ("NT store limit (all threads)", "firebrick", pts(copy, "limit_gbps", "parallel")),
    ("fio", "green", sorted((r["block"], r["fio_gbps"]) for r in fio)),
]
series = [s for s in series if s[2]]
W, H, P = 860, 460, 60
blocks = [b for _, _, s in series for b, _ in s] or [256, 2 << 20]
lo, hi = math.log2(min(blocks)), math.log2(max(blocks))
top = max([v for _, _, s in series for _, v in s] or [1]) * 1.15
X = lambda b: P + (math.log2(b) - lo) / max(hi - lo, 1) * (W - 2 * P - 170)
Y = lambda v: H - P - v / top * (H - 2 * P)
def size(b):
    return f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB" if b >= 1 << 10 else f"{b} B"
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{P}" y1="{H-P}" x2="{W-P-170}" y2="{H-P}" stroke="black"/>',
       f'<line x1="{P}" y1="{P}" x2="{P}" y2="{H-P}" stroke="black"/>',
       f'<text x="{P}" y="{P-15}">copy + persist, GB/s (10^9 B/s)</text>',
       f'<text x="{(W-170)/2}" y="{H-15}" text-anchor="middle">block size</text>']
for b in sorted(set(blocks)):
    svg.append(f'<text x="{X(b):.1f}" y="{H-P+16}" text-anchor="middle">{size(b)}</text>')
for i in range(6):
    v = top / 1.15 * i / 5
    svg.append(f'<text x="{P-6}" y="{Y(v)+4:.1f}" text-anchor="end">{v:.1f}</text>')
    svg.append(f'<line x1="{P}" y1="{Y(v):.1f}" x2="{W-P-170}" y2="{Y(v):.1f}" stroke="#eee"/>')
for k, (name, color, s) in enumerate(series):
    d = " ".join(f"{'M' if i == 0 else 'L'}{X(b):.1f},{Y(v):.1f}" for i, (b, v) in enumerate(s))
    svg.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
    svg += [f'<circle cx="{X(b):.1f}" cy="{Y(v):.1f}" r="3" fill="{color}"/>' for b, v in s]
    svg.append(f'<rect x="{W-P-150}" y="{P+k*20-9}" width="12" height="3" fill="{color}"/>')
    svg.append(f'<text x="{W-P-132}" y="{P+k*20-4}">{name}</text>')

# The log panel, right of the copy plot: one bar per row, DaxLog / libpmemlog records/s
# (1.0 = parity, the dashed line), grouped by granularity; p99 (µs) under each bar.
if log:
    LX, LW = W + 20, max(420, 34 * len(log) + 2 * P)
    W2 = LX + LW
    svg[0] = svg[0].replace(f'width="{W}"', f'width="{W2}"')
    svg[1] = svg[1].replace(f'width="{W}"', f'width="{W2}"')
    ratios = [r["daxlog_rps"] / r["libpmemlog_rps"] if r["libpmemlog_rps"] else 0 for r in log]
    ltop = max(ratios + [1.0]) * 1.15
    LY = lambda v: H - P - v / ltop * (H - 2 * P)
    bw = (LW - 2 * P) / len(log)
    colors = {"page": "steelblue", "cacheLine": "teal"}
    svg.append(f'<text x="{LX+P}" y="{P-15}">DaxLog / libpmemlog, records/s (append+persist)</text>')
    svg.append(f'<line x1="{LX+P}" y1="{H-P}" x2="{LX+LW-P}" y2="{H-P}" stroke="black"/>')
    svg.append(f'<line x1="{LX+P}" y1="{P}" x2="{LX+P}" y2="{H-P}" stroke="black"/>')
    for i in range(6):
        v = ltop / 1.15 * i / 5
        svg.append(f'<text x="{LX+P-6}" y="{LY(v)+4:.1f}" text-anchor="end">{v:.2f}</text>')
    svg.append(f'<line x1="{LX+P}" y1="{LY(1):.1f}" x2="{LX+LW-P}" y2="{LY(1):.1f}" stroke="black" stroke-dasharray="4,3"/>')
    for i, (r, q) in enumerate(zip(log, ratios)):
        x = LX + P + i * bw
        color = colors.get(r["granularity"], "slategray")
        svg.append(f'<rect x="{x+2:.1f}" y="{LY(q):.1f}" width="{bw-4:.1f}" height="{H-P-LY(q):.1f}" fill="{color}"/>')
        svg.append(f'<text x="{x+bw/2:.1f}" y="{LY(q)-3:.1f}" text-anchor="middle" font-size="9">{q:.2f}</text>')
        label = f'{size(r["record"])} b{r["batch"]}' + (f' t{r["threads"]}' if r["threads"] > 1 else "")
        svg.append(f'<text transform="translate({x+bw/2+3:.1f},{H-P+8}) rotate(60)" font-size="9">{label}</text>')
        svg.append(f'<text x="{x+bw/2:.1f}" y="{H-P-4}" text-anchor="middle" font-size="8" fill="white">{r["daxlog_p99_us"]:.0f}</text>')
    for k, (g, color) in enumerate(colors.items()):
        svg.append(f'<rect x="{LX+LW-P-90}" y="{P+k*16-9}" width="12" height="8" fill="{color}"/>')
        svg.append(f'<text x="{LX+LW-P-74}" y="{P+k*16-1}">{g}</text>')
    svg.append(f'<text x="{LX+P}" y="{H-8}" font-size="10">bar foot: DaxLog p99 append latency, µs; b = batch, t = threads</text>')
svg.append('</svg>')
open(out, "w").write("\n".join(svg))
print(f"plot: {out}", file=sys.stderr)
