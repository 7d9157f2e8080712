"""Breadth-first walks over a flow's nodes: the one walk that checks, `ivr flows show` and the
dashboard's flow graph all use, so they agree on what "reachable" and "distance" mean."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from ivr.callflow.model import Flow

Edges = Callable[[str], Iterable[str]]


def breadth_first(roots: Iterable[str], edges: Edges) -> dict[str, int]:
    """Every node reachable from `roots` (roots included) -> its distance from the nearest root,
    in the order the walk reaches them."""
    depth = dict.fromkeys(roots, 0)
    todo = deque(depth)
    while todo:
        node_id = todo.popleft()
        for nxt in edges(node_id):
            if nxt not in depth:
                depth[nxt] = depth[node_id] + 1
                todo.append(nxt)
    return depth


def successors(flow: Flow) -> Edges:
    """A node's targets that are nodes of `flow` (a checked flow has no others; a draft may)."""

    def edges(node_id: str) -> list[str]:
        node = flow.nodes.get(node_id)
        return [] if node is None else [t for _, t in node.targets() if t in flow.nodes]

    return edges


def from_start(flow: Flow) -> dict[str, int]:
    """The nodes a caller can reach from the start node -> how many steps away, nearest first."""
    return breadth_first([flow.start], successors(flow))
