#!/usr/bin/env python3
"""plot_bench.py COPY.json FIO.json OUT.svg: GB/s against block size (log scale) for daxmap,
daxmap parallel, libpmem2, memcpy, fio and the measured non-temporal store limit. Plain SVG."""
import json, math, sys

copy = json.load(open(sys.argv[1]))
fio = json.load(open(sys.argv[2])) if len(sys.argv) > 3 else []
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
svg.append('</svg>')
open(out, "w").write("\n".join(svg))
print(f"plot: {out}", file=sys.stderr)
