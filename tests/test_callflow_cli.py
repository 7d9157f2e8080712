"""`ivr flows check` and `ivr flows show`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.cli.flows import app

FIXTURES = Path(__file__).parent / "flows"
REPO_FLOWS = Path(__file__).parent.parent / "ivr" / "flows"

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    shutil.copy(REPO_FLOWS / "schedules.yaml", tmp_path / "schedules.yaml")
    shutil.copy(FIXTURES / "basic.yaml", tmp_path / "basic.yaml")
    return tmp_path


def test_check_the_shipped_flows() -> None:
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(REPO_FLOWS)])
    assert result.exit_code == 0, result.output
    assert "hotline.yaml: ok, version" in result.output
    assert "queues.yaml: ok (queues)" in result.output and "schedules.yaml: ok (schedules)" in result.output


def test_check_every_file_an_admin_names_by_its_kind() -> None:
    """`ivr flows check ivr/flows/*.yaml`: queues.yaml and schedules.yaml are not flows."""
    files = [str(p) for p in sorted(REPO_FLOWS.glob("*.yaml"))]
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(REPO_FLOWS), *files])
    assert result.exit_code == 0, result.output
    assert "required field is missing" not in result.output
    assert [line.split(": ok")[0] for line in result.output.splitlines() if ": ok" in line] == files


def test_broken_queues_file_is_reported_as_queues(flows: Path) -> None:
    (flows / "queues.yaml").write_text("queues:\n  support: {strategy: nonsense}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(flows)])
    assert result.exit_code == 1
    assert f"{flows / 'queues.yaml'}: FAILED (queues)" in result.output and "line 2: queue 'support'" in result.output
    assert f"{flows / 'basic.yaml'}: ok" in result.output and "schedules.yaml: ok (schedules)" in result.output


def test_check_reports_errors_with_lines_and_exits_1(flows: Path) -> None:
    shutil.copy(FIXTURES / "many_errors.yaml", flows / "many_errors.yaml")
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(flows)])
    assert result.exit_code == 1
    assert f"{flows / 'basic.yaml'}: ok" in result.output
    assert f"{flows / 'many_errors.yaml'}:24: node 'main' field 'choices.1': unknown target 'enquiryy'" in (
        result.output
    )
    assert "many_errors.yaml: FAILED, 5 error(s)" in result.output


def test_check_named_files_only(flows: Path) -> None:
    result = CliRunner().invoke(
        app, ["check", "--flows-dir", str(flows), str(FIXTURES / "broken_syntax.yaml")]
    )
    assert result.exit_code == 1
    assert "broken_syntax.yaml:9: YAML syntax error" in result.output and "basic.yaml" not in result.output


def test_check_fails_on_a_broken_schedules_file(flows: Path) -> None:
    (flows / "schedules.yaml").write_text("business: {weekly: {mon: [nonsense]}}\n")
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(flows)])
    assert result.exit_code == 1 and "schedules.yaml" in result.output


def test_show_prints_the_graph(flows: Path) -> None:
    result = CliRunner().invoke(app, ["show", "basic", "--flows-dir", str(flows)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("basic (version ")
    assert "main [menu]  prompt: menu, invalid, again" in lines
    assert any(line.split() == ["choices.1", "->", "tag_sales"] for line in lines)
    shown = [line.split(" [")[0] for line in lines if " [" in line]
    assert shown[0] == "welcome" and len(shown) == len(set(shown)) == 18  # every node once


def test_a_check_past_its_time_limit_is_stopped_and_fails(flows: Path) -> None:
    """A flow that takes seconds to check (5,000 spare prompts) under a 0.2 s limit: the check's
    process is stopped at the limit, the file fails, the other files are still checked."""
    text = (REPO_FLOWS / "hotline.yaml").read_text(encoding="utf-8")
    spare = "".join(f"  spare_{i}:\n    zh-CN: 备用提示{i}\n    en-US: Spare prompt number {i}\n" for i in range(5000))
    (flows / "big.yaml").write_text(text.replace("prompts:\n", "prompts:\n" + spare, 1), encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(flows), "--timeout", "0.2"])
    assert time.monotonic() - started < 15
    assert result.exit_code == 1, result.output
    assert f"checking {flows / 'big.yaml'} took longer than 0.2 s: stopped" in result.output
    assert f"{flows / 'big.yaml'}: FAILED, not checked" in result.output
    assert f"{flows / 'basic.yaml'}: " in result.output  # checked too (within 0.2 s only on a calm machine)
