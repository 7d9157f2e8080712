"""A flow drawn as a graph in SVG on the server (no graphviz, nothing fetched by the browser).

Layout: nodes in layers by their distance from the start node (the breadth-first walk of
ivr.callflow.walk, the one `ivr flows check` uses for reachability), one row per layer; edges
labelled with the field that leads there (`choices.1`, `open`, `on.timeout` ...).
Edges that go back up (loops, retries) are drawn as curves on the right so they stay readable.
"""

from __future__ import annotations

from html import escape

from ivr.callflow.model import Flow
from ivr.callflow.walk import from_start

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 150, 40, 28, 70, 20
COLORS = {"menu": "#dbeafe", "queue": "#dcfce7", "transfer": "#dcfce7", "hangup": "#fee2e2",
          "voicemail": "#fef3c7", "schedule": "#ede9fe", "incident": "#ffedd5"}


def layers(flow: Flow) -> list[list[str]]:
    depth = from_start(flow)
    last = max(depth.values(), default=0)
    for node_id in flow.nodes:  # unreachable nodes (a warning in checks) go at the bottom
        depth.setdefault(node_id, last + 1)
    rows: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node_id in flow.nodes:
        rows[depth[node_id]].append(node_id)
    return [r for r in rows if r]


def render_svg(flow: Flow) -> str:
    rows = layers(flow)
    widest = max(len(r) for r in rows)
    width = MARGIN * 2 + widest * (NODE_W + GAP_X) + 120
    height = MARGIN * 2 + len(rows) * (NODE_H + GAP_Y)
    pos: dict[str, tuple[float, float]] = {}
    for row_no, row in enumerate(rows):
        offset = (widest - len(row)) * (NODE_W + GAP_X) / 2
        for col, node_id in enumerate(row):
            pos[node_id] = (MARGIN + offset + col * (NODE_W + GAP_X), MARGIN + row_no * (NODE_H + GAP_Y))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flowgraph" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="flow {escape(flow.name)}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#667085"/></marker></defs>']
    for node_id, node in flow.nodes.items():
        for field, target in node.targets():
            if target in pos:
                out.append(_edge(pos[node_id], pos[target], field, right=width - 10))
    for node_id, node in flow.nodes.items():
        x, y = pos[node_id]
        fill = COLORS.get(node.type, "#f2f4f7")
        stroke = "#1f6feb" if node_id == flow.start else "#98a2b3"
        out.append(f'<g class="node" data-node="{escape(node_id)}"><rect x="{x:.0f}" y="{y:.0f}" rx="6" '
                   f'width="{NODE_W}" height="{NODE_H}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
                   f'<text x="{x + NODE_W / 2:.0f}" y="{y + 17:.0f}" font-size="12" font-weight="600" '
                   f'text-anchor="middle">{escape(_short(node_id))}</text>'
                   f'<text x="{x + NODE_W / 2:.0f}" y="{y + 32:.0f}" font-size="10" fill="#475467" '
                   f'text-anchor="middle">{escape(node.type)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _edge(src: tuple[float, float], dst: tuple[float, float], label: str, right: float) -> str:
    sx, sy = src[0] + NODE_W / 2, src[1] + NODE_H
    tx, ty = dst[0] + NODE_W / 2, dst[1]
    if ty > sy:  # downward: straight line, label at a third of the way
        lx, ly = sx + (tx - sx) / 3, sy + (ty - sy) / 3
        path = f'<line x1="{sx:.0f}" y1="{sy:.0f}" x2="{tx:.0f}" y2="{ty:.0f}" stroke="#667085" ' \
               f'marker-end="url(#arrow)"/>'
    else:  # back edge: loop out to the right margin and come back into the target's right side
        sx, sy = src[0] + NODE_W, src[1] + NODE_H / 2
        tx, ty = dst[0] + NODE_W, dst[1] + NODE_H / 2
        cx = min(right, max(sx, tx) + 60)
        lx, ly = cx - 20, (sy + ty) / 2
        path = f'<path d="M {sx:.0f} {sy:.0f} C {cx:.0f} {sy:.0f}, {cx:.0f} {ty:.0f}, {tx:.0f} {ty:.0f}" ' \
               f'fill="none" stroke="#98a2b3" stroke-dasharray="4 3" marker-end="url(#arrow)"/>'
    return (f'<g class="edge">{path}<text x="{lx:.0f}" y="{ly:.0f}" font-size="10" fill="#344054" '
            f'text-anchor="middle">{escape(label)}</text></g>')
