"""When a simulated caller should press a key: walk a flow along the path a silent caller takes
and add up the prompt lengths, so SIPp presses keys while the right menu is listening."""

from __future__ import annotations

import wave
from pathlib import Path

from ivr.callflow.nodes import (
    GotoNode,
    IncidentNode,
    LanguageNode,
    MenuNode,
    NodeSpec,
    PlayNode,
    ScheduleNode,
    SetNode,
)
from ivr.callflow.store import FlowStore
from ivr.prompts import prompt_file
from ivr.settings import Settings

ANSWER_MS = 700  # Answer() plus the FastAGI connect, with margin


def _wav_ms(path: Path) -> int:
    with wave.open(str(path.with_suffix(".wav")), "rb") as w:
        return int(w.getnframes() * 1000 / w.getframerate())


def _prompt_ms(settings: Settings, store: FlowStore, flow_name: str, prompt_id: str | None) -> int:
    if prompt_id is None:
        return 0
    flow = store.get(flow_name)
    assert flow is not None
    spec = flow.prompts[prompt_id]
    if spec.file is not None:
        return _wav_ms(spec.file)
    text = spec.texts[flow.default_language]
    return _wav_ms(prompt_file(text, flow.default_language, settings.prompts_path))


def _step(node: NodeSpec, clock_open: bool) -> tuple[str | None, str | None, int]:
    """(prompt played, next node, extra wait ms) for a caller who presses nothing."""
    if isinstance(node, PlayNode):
        return node.prompt, node.next, 0
    if isinstance(node, MenuNode):
        nxt = node.no_input.goto or node.silent or node.exhausted
        return node.prompt, nxt, int(node.timeout * 1000)
    if isinstance(node, ScheduleNode):
        return None, node.open if clock_open else node.closed, 0
    if isinstance(node, IncidentNode | LanguageNode | SetNode | GotoNode):
        return None, node.next, 0
    raise ValueError(f"cannot walk past a {node.type} node")


def ms_until_menu(settings: Settings, flow_name: str, target: str, *, clock_open: bool = True) -> int:
    """Milliseconds from the INVITE until node `target` starts, for a caller who presses nothing
    (no incident statement on). The prompts must have been built (the service does at start)."""
    store = FlowStore(settings.flows_dir)
    store.reload(flow_name)
    flow = store.get(flow_name)
    if flow is None:
        raise ValueError(f"flow {flow_name!r} does not load: {store.last_errors(flow_name)}")
    total, node_id, seen = ANSWER_MS, flow.start, 0
    while node_id != target:
        seen += 1
        if seen > len(flow.nodes):
            raise ValueError(f"{target!r} is not on the silent caller's path of {flow_name!r}")
        prompt, nxt, wait = _step(flow.node(node_id), clock_open)
        total += _prompt_ms(settings, store, flow_name, prompt) + wait
        if nxt is None:
            raise ValueError(f"{target!r} is not on the silent caller's path of {flow_name!r}")
        node_id = nxt
    return total
