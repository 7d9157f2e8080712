"""A saved flow cannot reach a shell, the dialplan or Asterisk's internals: channel variables come
from an allow-list, values carry no dialplan expressions, dial targets are PJSIP only, audio paths
cannot split application arguments. Each refusal names file, node, field (the variable) and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.callflow.issues import FlowIssue
from ivr.callflow.loader import check_flow_file
from ivr.callflow.nodes import build_node_registry
from ivr.cli.flows import app

FIXTURES = Path(__file__).parent / "flows"
REPO_FLOWS = Path(__file__).parent.parent / "ivr" / "flows"
BASIC = (FIXTURES / "basic.yaml").read_text(encoding="utf-8")

pytestmark = pytest.mark.timeout(30)

PWN = """  pwn:
    type: set
    channel: {MONITOR_EXEC: "sh -c 'id>/tmp/x'"}
    next: goodbye
"""


def _flow(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    assert old in BASIC
    text = BASIC.replace(old, new, 1)
    path = tmp_path / "basic.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def _errors(path: Path) -> list[FlowIssue]:
    flow, issues = check_flow_file(path, build_node_registry(), ["business", "callback"])
    errors = [i for i in issues if i.severity == "error"]
    assert flow is None and errors, issues
    return errors


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if needle in line) + 1


def test_the_reported_monitor_exec_flow_is_refused_by_flows_check(tmp_path: Path) -> None:
    shutil.copy(REPO_FLOWS / "schedules.yaml", tmp_path / "schedules.yaml")
    path, text = _flow(tmp_path, "nodes:\n", "nodes:\n" + PWN)
    result = CliRunner().invoke(app, ["check", "--flows-dir", str(tmp_path), str(path)])
    assert result.exit_code == 1, result.output
    line = _line(text, "MONITOR_EXEC")
    assert (f"{path}:{line}: node 'pwn' field 'channel.MONITOR_EXEC': channel variable 'MONITOR_EXEC' "
            "may not be set by a flow (allowed: CDR(userfield), VIP)") in result.output


@pytest.mark.parametrize("variable", [
    "AGIEXECFULL", "MONITOR_OPTIONS", "MIXMONITOR_EXEC", "IVR_DONE", "IVR_OUTCOME", "QUEUE_PRIO",
    "CHANNEL(hangup_handler_push)", "CDR(accountcode)", "GOSUB_RETVAL",
])
def test_channel_variables_outside_the_allow_list_are_refused(tmp_path: Path, variable: str) -> None:
    path, text = _flow(tmp_path, "      VIP: true\n", f"      VIP: true\n      {variable}: x\n")
    (error,) = _errors(path)
    assert (error.node, error.field, error.line) == ("tag_sales", f"channel.{variable}", _line(text, variable))
    assert f"channel variable {variable!r} may not be set by a flow" in error.message


@pytest.mark.parametrize("value", ["${SHELL(id)}", "$[1+1]", "a^{x}", "x,y", "a\tb", "'quoted'"])
def test_channel_values_with_dialplan_expressions_are_refused(tmp_path: Path, value: str) -> None:
    plain, _ = _flow(tmp_path, "      CDR(userfield): sales\n", "      CDR(userfield): 售后 sales-2/A.b\n")
    assert check_flow_file(plain, build_node_registry(), ["business", "callback"])[0] is not None
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    path, text = _flow(tmp_path, "      CDR(userfield): sales\n", f'      CDR(userfield): "{quoted}"\n')
    (error,) = _errors(path)
    assert (error.node, error.field) == ("tag_sales", "channel.CDR(userfield)")
    assert error.line == _line(text, "CDR(userfield)")
    assert "may not contain dialplan expression" in error.message


@pytest.mark.parametrize("target", ["Local/s@default", "DAHDI/1", "Console/dsp"])
def test_transfers_dial_pjsip_only(tmp_path: Path, target: str) -> None:
    path, text = _flow(tmp_path, "    to: PJSIP/100\n", f"    to: {target}\n")
    (error,) = _errors(path)
    assert (error.node, error.field, error.line) == ("desk", "to", _line(text, f"to: {target}"))
    assert f"channel technology {target.split('/')[0]!r} is not allowed (allowed: PJSIP)" in error.message
    # the other arguments that reach Dial and Queue cannot split an application's arguments either
    path, _ = _flow(tmp_path, "    trunk: carrier\n", "    trunk: carrier,r\n")
    assert [(e.node, e.field) for e in _errors(path)] == [("outside", "trunk")]
    path, _ = _flow(tmp_path, "    queue: hotline\n", '    queue: "hotline,c,,,${SHELL(id)}"\n')
    assert [(e.node, e.field) for e in _errors(path)] == [("agents", "queue")]


def test_audio_file_paths_cannot_carry_argument_separators(tmp_path: Path) -> None:
    (tmp_path / "a,b.wav").write_bytes(b"RIFF")
    path, text = _flow(tmp_path, "  goodbye:\n    zh-CN: 再见。\n    en-US: Goodbye.\n",
                       "  goodbye:\n    file: a,b.wav\n")
    error = next(e for e in _errors(path) if e.field == "prompts.goodbye.file")
    assert error.line == _line(text, "file: a,b.wav") and "letters, digits" in error.message
