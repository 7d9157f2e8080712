"""Fuzzing the flow loader (hypothesis): whatever an admin saves (random bytes, YAML-looking text,
flows one mistake away from valid), the loader answers with issues or its own FlowInvalid, never
another exception, and within a bounded time per document. Runs in the normal suite (< 30 s)."""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from ivr.callflow.issues import FlowIssue
from ivr.callflow.loader import check_flow_file
from ivr.callflow.nodes import build_node_registry

pytestmark = pytest.mark.timeout(120)
FIXTURES = Path(__file__).parent / "flows"
NODE_TYPES = build_node_registry()
SCHEDULES = ["business", "callback"]
PER_CASE_SECONDS = 2.0
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=True, database=None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("fuzz")


def _check(workdir: Path, raw: bytes, name: str = "basic") -> list[FlowIssue]:
    """check_flow_file on `raw`: issues, never an exception, in bounded time (load_flow is this
    plus FlowInvalid when there is an error)."""
    path = workdir / f"{name}.yaml"
    path.write_bytes(raw)
    # CPU time of this thread, not wall time: a hang or an expansion blow-up burns CPU and is caught
    # either way, while a machine busy with other work (CI, parallel tests) no longer fails a fast case.
    started = time.thread_time()
    flow, issues = check_flow_file(path, NODE_TYPES, SCHEDULES)
    assert time.thread_time() - started < PER_CASE_SECONDS, "one document took too long"
    assert all(isinstance(i, FlowIssue) and i.file == str(path) for i in issues)
    assert (flow is None) == any(i.severity == "error" for i in issues)
    for issue in issues:
        str(issue)  # every issue renders
    return issues


@settings(FUZZ, max_examples=1500)
@given(st.binary(max_size=400))
def test_random_bytes(workdir: Path, raw: bytes) -> None:
    _check(workdir, raw)


YAML_ALPHABET = st.sampled_from([*"abnodestyp:-[]{},&*!|>#'\"? \n\t0192.%@`\\\r", "nodes:", "start:", "  ", "type: ",
                                 "<<: ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "!!binary ",
                                 "!!set ", "!!omap ", "!x ", "&a ", "*a ", "? ", "\u2028", "\ufeff"])


@settings(FUZZ, max_examples=1500)
@given(st.lists(YAML_ALPHABET, max_size=120).map("".join))
@example("!!set ")  # crashed ruamel's constructor (AttributeError)
@example("!!omap ")
@example("<<: \u2028:")  # a merge key ruamel keeps no line for (TypeError in the line lookup)
def test_yaml_looking_text(workdir: Path, text: str) -> None:
    _check(workdir, text.encode("utf-8"))


def _basic() -> Any:
    return YAML(typ="safe").load((FIXTURES / "basic.yaml").read_text(encoding="utf-8"))


BASIC = _basic()
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True), st.text(max_size=20),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from(["welcome", "goodbye", "main", "PJSIP/100", "Local/s@x", "${SHELL(id)}", "zh-CN", "*", "#"]),
)


@st.composite
def near_valid_flows(draw: st.DrawFn) -> Any:
    """basic.yaml with one to three mistakes: a field dropped, replaced by an odd value, or added."""
    data = copy.deepcopy(BASIC)
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(["top", "node", "prompt"]))
        if section == "top":
            target: dict[Any, Any] = data
        else:
            pool = data.get("nodes" if section == "node" else "prompts")
            if not isinstance(pool, dict) or not pool:
                continue
            target = pool[draw(st.sampled_from(sorted(pool, key=str)))]
            if not isinstance(target, dict):
                continue
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "add" or not target:
            target[draw(st.sampled_from(["next", "type", "choices", "channel", "extra", "file", "on", 1]))] = (
                draw(ODD_VALUES))
        else:
            key = draw(st.sampled_from(sorted(target, key=str)))
            if action == "drop":
                del target[key]
            else:
                target[key] = draw(ODD_VALUES)
    return data


@settings(FUZZ, max_examples=300)
@given(near_valid_flows())
def test_near_valid_flows(workdir: Path, data: Any) -> None:
    out = io.StringIO()
    YAML(typ="safe").dump(data, out)
    issues = _check(workdir, out.getvalue().encode("utf-8"))
    assert all(i.line is None or i.line >= 1 for i in issues)


@settings(FUZZ, max_examples=100)
@given(st.integers(2, 9), st.integers(2, 12))
def test_alias_bombs_of_any_shape(workdir: Path, width: int, levels: int) -> None:
    lines = ["x0: &x0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * width) + "]" for i in range(1, levels)]
    text = "name: basic\nstart: a\nnodes:\n  a: {type: hangup}\n" + "\n".join(lines) + "\n"
    (issue,) = _check(workdir, text.encode())
    assert issue.line == 5 and "anchors and aliases are not allowed" in issue.message
