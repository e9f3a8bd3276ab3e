#!/usr/bin/env python3
"""soakplot.py CSV SVG: time per cycle and the watcher's RSS against cycle number (plain SVG)."""
import csv, sys

rows = list(csv.DictReader(open(sys.argv[1])))
W, H, P = 800, 400, 50
def series(key):
    return [float(r[key] or 0) for r in rows]
secs, rss = series('seconds'), [v / 1024 for v in series('watchRssKiB')]
n = max(len(rows), 2)
def path(vals, top):
    top = top or 1
    pts = [(P + i * (W - 2 * P) / (n - 1), H - P - v / top * (H - 2 * P)) for i, v in enumerate(vals)]
    return ' '.join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
ts, tr = max(secs or [1]) * 1.1, max(rss or [1]) * 1.1
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{P}" y1="{H-P}" x2="{W-P}" y2="{H-P}" stroke="black"/>',
       f'<line x1="{P}" y1="{P}" x2="{P}" y2="{H-P}" stroke="black"/>',
       f'<line x1="{W-P}" y1="{P}" x2="{W-P}" y2="{H-P}" stroke="black"/>',
       f'<path d="{path(secs, ts)}" fill="none" stroke="steelblue"/>',
       f'<path d="{path(rss, tr)}" fill="none" stroke="firebrick"/>',
       f'<text x="{P}" y="{P-10}" fill="steelblue">seconds per cycle (max {ts/1.1:.1f})</text>',
       f'<text x="{W-P}" y="{P-10}" fill="firebrick" text-anchor="end">daxmap watch RSS MiB (max {tr/1.1:.1f})</text>',
       f'<text x="{W/2}" y="{H-15}" text-anchor="middle">cycle (0..{len(rows)-1})</text>', '</svg>']
open(sys.argv[2], 'w').write('\n'.join(svg))
