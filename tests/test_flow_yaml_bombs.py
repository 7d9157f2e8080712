"""Admin YAML with anchors/aliases (the alias bomb) or absurd nesting is refused fast, with the
file and line, by every loader: flows, queues.yaml, schedules.yaml."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.callflow.loader import check_flow_file
from ivr.callflow.nodes import build_node_registry
from ivr.cli.flows import app
from ivr.queueing.config import QueueConfigError, load_queue_config
from ivr.schedule import ScheduleError, load_schedules

REPO_FLOWS = Path(__file__).parent.parent / "ivr" / "flows"

pytestmark = pytest.mark.timeout(20)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`levels` lists of `width` aliases of the previous list: width**levels nodes once expanded."""
    lines = ["x0: &x0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMB_FLOW = "name: bomb\nstart: a\nnodes:\n  a: {type: hangup}\n" + alias_bomb()


def test_the_alias_bomb_is_refused_at_once_by_flows_check(tmp_path: Path) -> None:
    assert len(BOMB_FLOW) < 600
    shutil.copy(REPO_FLOWS / "schedules.yaml", tmp_path / "schedules.yaml")
    (tmp_path / "bomb.yaml").write_text(BOMB_FLOW, encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(tmp_path), str(tmp_path / "bomb.yaml")])
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert f"{tmp_path / 'bomb.yaml'}:5: anchor &x0: anchors and aliases are not allowed" in result.output


@pytest.mark.parametrize("text, line", [
    ("x: &a [*a]\n", 1),
    ("name: a\nstart: s\nprompts:\n  p: &p {zh-CN: x}\nnodes:\n  s: {type: hangup, prompt: *p}\n", 4),
    ("name: a\nstart: s\nbase: &b {type: hangup}\nnodes:\n  s:\n    <<: *b\n", 3),
])
def test_any_anchor_or_alias_in_a_flow_is_an_error_with_its_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    flow, issues = check_flow_file(path, build_node_registry(), [])
    assert flow is None
    assert [(i.file, i.line) for i in issues] == [(str(path), line)], issues
    assert "anchors and aliases are not allowed" in issues[0].message


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nstart: a\nnodes:\n  a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    flow, issues = check_flow_file(path, build_node_registry(), [])
    assert flow is None and [(i.line, i.message) for i in issues] == [(4, "nested more than 40 levels deep")]


def test_queues_yaml_with_aliases_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (REPO_FLOWS / "queues.yaml").read_text(encoding="utf-8")
    path = tmp_path / "queues.yaml"
    path.write_text(text + "\nbomb:\n" + "".join("  " + line + "\n" for line in alias_bomb().splitlines()),
                    encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(QueueConfigError) as err:
        load_queue_config(path)
    assert time.monotonic() - started < 5
    bomb_line = text.count("\n") + 3
    assert err.value.issues == [f"line {bomb_line}: anchor &x0: anchors and aliases are not allowed here; "
                                "write the value out in full"]


def test_schedules_yaml_with_aliases_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text("business: &b\n  timezone: Asia/Shanghai\n  weekly: {mon: ['09:00-18:00']}\n"
                    "copy: *b\n", encoding="utf-8")
    with pytest.raises(ScheduleError) as err:
        load_schedules(path)
    assert err.value.issues == ["line 1: anchor &b: anchors and aliases are not allowed here; "
                                "write the value out in full"]
