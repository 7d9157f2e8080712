"""Inline SVG charts drawn on the server: no chart library, no CDN, nothing for the browser to fetch."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#1f6feb", "#e8590c", "#2e7d32", "#8e24aa", "#c62828", "#00838f")
Point = tuple[float, float]


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if v <= step:
            return float(step)
    return float(v)


def _hour_ticks(x0: float, x1: float) -> list[tuple[float, str]]:
    """Ticks every 2 hours when x is seconds since local midnight."""
    ticks = []
    h = int(x0 // 3600)
    while h * 3600 <= x1:
        if h * 3600 >= x0 and h % 2 == 0:
            ticks.append((h * 3600.0, f"{h:02d}:00"))
        h += 1
    return ticks


def line_chart(series: dict[str, Sequence[Point]], *, x_range: tuple[float, float], title: str,
               y_max: float | None = None, unit: str = "", width: int = 560, height: int = 180) -> str:
    """Lines over the day: x is seconds since local midnight, one line per series."""
    left, right, top, bottom = 40, 110, 22, 22
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = x_range
    ymax = y_max if y_max is not None else _nice_max(max((y for pts in series.values() for _, y in pts),
                                                         default=0.0))

    def sx(x: float) -> float:
        return left + (x - x0) / max(x1 - x0, 1.0) * pw

    def sy(y: float) -> float:
        return top + ph - min(max(y, 0.0), ymax) / ymax * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="{left}" y="14" font-size="12" font-weight="600">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#d0d5dd"/>']
    for frac in (0.5, 1.0):
        y = sy(ymax * frac)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7ec"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                   f'{ymax * frac:g}{escape(unit)}</text>')
    for x, label in _hour_ticks(x0, x1):
        out.append(f'<text x="{sx(x):.1f}" y="{height - 6}" font-size="10" text-anchor="middle">{label}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        if pts:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{path}"/>')
        ly = top + 12 + i * 15
        out.append(f'<rect x="{left + pw + 8}" y="{ly - 8}" width="10" height="3" fill="{color}"/>')
        out.append(f'<text x="{left + pw + 22}" y="{ly}" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
