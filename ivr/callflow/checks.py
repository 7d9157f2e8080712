"""Whole-flow checks after each node is valid on its own.

Errors: start node missing, dangling targets, prompts not in the catalogue, a prompt without
the default language, a file prompt whose audio does not exist, unknown schedules and
languages, and loops with no exit (nodes from which no hangup/queue/transfer/voicemail node
can be reached: a caller there would go round for ever).

Warnings (the flow still loads): unreachable nodes (admins keep spare nodes while editing,
and they cannot hurt a call) and a prompt missing a non-default language (the caller hears
the default language instead).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ivr.callflow.issues import FlowIssue, Locator, errors_only
from ivr.callflow.model import Flow, audio_exists
from ivr.callflow.walk import breadth_first


def check_flow(
    flow: Flow, *, declared: Collection[str], schedules: Collection[str], loc: Locator, complete: bool
) -> list[FlowIssue]:
    """`declared`: every node id in the file (also ones that failed validation, so they are not
    reported as dangling); `complete`: every node validated, so the graph checks are meaningful."""
    issues = _start(flow, declared, loc) + _catalogue(flow, loc) + _refs(flow, declared, schedules, loc)
    if complete and not errors_only(issues):
        issues += _unreachable(flow, loc) + _traps(flow, loc)
    return issues


def _start(flow: Flow, declared: Collection[str], loc: Locator) -> list[FlowIssue]:
    if flow.start in declared:
        return []
    return [loc.top_issue("start", f"start node {flow.start!r} is not defined under nodes")]


def _catalogue(flow: Flow, loc: Locator) -> list[FlowIssue]:
    issues = []
    for pid, spec in flow.prompts.items():
        if spec.file is not None:
            if not audio_exists(spec.file):
                issues.append(loc.top_issue(f"prompts.{pid}.file", f"audio file {spec.file} does not exist"))
            continue
        if flow.default_language not in spec.texts:
            issues.append(loc.top_issue(
                f"prompts.{pid}", f"no text in the default language {flow.default_language}"))
        for language in spec.texts:
            if language not in flow.languages:
                issues.append(loc.top_issue(
                    f"prompts.{pid}.{language}", f"language {language!r} is not in the flow's languages "
                    f"{list(flow.languages)}"))
        for language in flow.languages:
            if language not in spec.texts and language != flow.default_language:
                issues.append(loc.top_issue(
                    f"prompts.{pid}", f"no {language} text; callers in {language} hear "
                    f"{flow.default_language}", "warning"))
    return issues


def _refs(flow: Flow, declared: Collection[str], schedules: Collection[str], loc: Locator) -> list[FlowIssue]:
    issues = []
    for node_id, node in flow.nodes.items():
        for ref in node.refs():
            problem = None
            if ref.kind == "node" and ref.value not in declared:
                problem = f"unknown target {ref.value!r}"
            elif ref.kind == "prompt" and ref.value not in flow.prompts:
                problem = f"prompt {ref.value!r} is not in the prompts catalogue"
            elif ref.kind == "schedule" and ref.value not in schedules:
                known = ", ".join(sorted(schedules)) or "none"
                problem = f"unknown schedule {ref.value!r} (schedules.yaml defines: {known})"
            elif ref.kind == "language" and ref.value not in flow.languages:
                problem = f"language {ref.value!r} is not in the flow's languages {list(flow.languages)}"
            if problem:
                issues.append(loc.node_issue(node_id, ref.field, problem))
    return issues


def _successors(flow: Flow, node_id: str) -> list[str]:
    return [target for _, target in flow.nodes[node_id].targets()]


def _reachable(roots: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    return set(breadth_first(roots, lambda node_id: edges.get(node_id, [])))


def _unreachable(flow: Flow, loc: Locator) -> list[FlowIssue]:
    forward = {n: _successors(flow, n) for n in flow.nodes}
    reached = _reachable([flow.start], forward)
    return [loc.node_issue(n, None, f"unreachable from start node {flow.start!r}", "warning")
            for n in flow.nodes if n not in reached]


def _traps(flow: Flow, loc: Locator) -> list[FlowIssue]:
    """Nodes reachable from start that can never reach a node that ends the call."""
    forward = {n: _successors(flow, n) for n in flow.nodes}
    backward: dict[str, list[str]] = {}
    for src, targets in forward.items():
        for dst in targets:
            backward.setdefault(dst, []).append(src)
    exits = [n for n, node in flow.nodes.items() if node.ends_call]
    can_leave = _reachable(exits, backward)
    trapped = _reachable([flow.start], forward) - can_leave
    issues = []
    for node_id in sorted(trapped):
        cycle = _cycle_from(node_id, forward, trapped)
        if cycle:  # report each loop once, at the node where its lowest-named member is
            issues.append(loc.node_issue(
                node_id, None, "loop with no exit: " + " -> ".join(cycle)
                + " never reaches a hangup, queue, transfer or voicemail node"))
    return issues


def _cycle_from(node_id: str, forward: dict[str, list[str]], trapped: set[str]) -> list[str] | None:
    """The cycle through `node_id` if `node_id` is its smallest member (for one report per loop)."""
    path, seen = [node_id], {node_id}
    stack = [(node_id, iter(t for t in forward[node_id] if t in trapped))]
    while stack:
        _current, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            path.pop()
            continue
        if nxt == node_id:
            return [*path, node_id] if min(path) == node_id else None
        if nxt not in seen and nxt > node_id:
            seen.add(nxt)
            path.append(nxt)
            stack.append((nxt, iter(t for t in forward[nxt] if t in trapped)))
    return None
