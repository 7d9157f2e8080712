"""Flow files: a good one loads; every kind of mistake is reported with file, node, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.callflow.issues import FlowInvalid, FlowIssue
from ivr.callflow.loader import check_flow_file, flow_files, is_flow_file, load_flow
from ivr.callflow.nodes import NodeSpec, build_node_registry
from ivr.registry import DuplicateRegistration, Registry

FIXTURES = Path(__file__).parent / "flows"
REPO_FLOWS = Path(__file__).parent.parent / "ivr" / "flows"
SCHEDULES = ["business", "callback"]
BASIC = (FIXTURES / "basic.yaml").read_text(encoding="utf-8")

pytestmark = pytest.mark.timeout(30)


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first line containing `needle` (after the line containing `after`)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def write_basic(tmp_path: Path, old: str, new: str, count: int = 1) -> tuple[Path, str]:
    """A copy of the basic fixture with one edit (file named basic.yaml: name must match)."""
    assert BASIC.count(old) >= count, f"fixture does not contain {old!r}"
    text = BASIC.replace(old, new, count)
    path = tmp_path / "basic.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def check(path: Path, schedules: list[str] | None = None) -> tuple[object, list[FlowIssue]]:
    return check_flow_file(path, build_node_registry(), SCHEDULES if schedules is None else schedules)


def only_error(issues: list[FlowIssue]) -> FlowIssue:
    errors = [i for i in issues if i.severity == "error"]
    assert len(errors) == 1, "\n".join(map(str, issues))
    return errors[0]


def test_basic_fixture_loads_with_every_node_type() -> None:
    flow = load_flow(FIXTURES / "basic.yaml", build_node_registry(), SCHEDULES)
    assert flow.name == "basic" and flow.start == "welcome"
    assert {n.type for n in flow.nodes.values()} == set(build_node_registry().names())
    assert len(flow.version) == 12
    assert ("再见。", "zh-CN") in flow.prompt_texts() and ("Goodbye.", "en-US") in flow.prompt_texts()
    assert flow.nodes["main"].choices == {"1": "tag_sales", "2": "desk", "3": "outside", "0": "agents",  # type: ignore[attr-defined]
                                          "*": "back"}


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    same, _ = write_basic(tmp_path, "再见。", "再见。")
    v1 = load_flow(same, build_node_registry(), SCHEDULES).version
    changed, _ = write_basic(tmp_path, "再见。", "再会。")
    assert load_flow(changed, build_node_registry(), SCHEDULES).version != v1


def test_hotline_flow_is_valid_against_the_real_schedules() -> None:
    from ivr.schedule import load_schedules

    schedules = load_schedules(REPO_FLOWS / "schedules.yaml")
    flow, issues = check_flow_file(REPO_FLOWS / "hotline.yaml", build_node_registry(), schedules)
    assert flow is not None, "\n".join(map(str, issues))
    assert issues == []
    texts = dict(flow.prompt_texts())
    assert "对不起，我听不到您的声音……请您稍后换一部电话再打来好吗？" in texts
    for spec in flow.prompts.values():  # the policy: both languages for every prompt
        assert set(spec.texts) == {"zh-CN", "en-US"}


def test_yaml_syntax_error_names_the_line() -> None:
    flow, issues = check(FIXTURES / "broken_syntax.yaml")
    issue = only_error(issues)
    assert flow is None and issue.line == 9
    assert str(issue).startswith(f"{FIXTURES / 'broken_syntax.yaml'}:9: YAML syntax error")


def test_dangling_target_message_format(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "1: tag_sales", "1: tag_saless")
    flow, issues = check(path)
    issue = only_error(issues)
    assert flow is None
    line = line_of(text, "1: tag_saless")
    assert str(issue) == f"{path}:{line}: node 'main' field 'choices.1': unknown target 'tag_saless'"


def test_unknown_node_type(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "type: goto", "type: jump")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == ("back", "type", line_of(text, "type: jump"))
    assert "unknown node type 'jump'" in issue.message and "goto" in issue.message


def test_missing_required_field(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "    exhausted: agents\n", "")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field) == ("main", "exhausted")
    assert issue.line == line_of(text, "  main:")  # the field is absent: its node's line
    assert issue.message == "required field is missing"


def test_extra_field_is_a_typo(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "    timeout: 4\n", "    timout: 4\n")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == ("main", "timout", line_of(text, "timout: 4"))
    assert issue.message == "unknown field"


def test_bad_value_is_reported_at_its_nested_field(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "    retries: 2\n", "    retries: lots\n")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == ("main", "retries", line_of(text, "retries: lots"))


def test_bad_menu_key(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "      3: outside", "      33: outside")
    issue = only_error(check(path)[1])
    choices_line = line_of(text, "choices:", after="  main:")
    assert (issue.node, issue.field, issue.line) == ("main", "choices", choices_line)
    assert "'33' is not a single DTMF key" in issue.message


def test_transfer_needs_exactly_one_destination(tmp_path: Path) -> None:
    path, _ = write_basic(tmp_path, "    to: PJSIP/100\n", "    to: PJSIP/100\n    number: '123'\n")
    issue = only_error(check(path)[1])
    assert issue.node == "desk" and "exactly one of `to`" in issue.message


def test_unreachable_node_is_a_warning(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "nodes:\n", "nodes:\n  spare:\n    type: goto\n    next: main\n\n")
    flow, issues = check(path)
    assert flow is not None
    [issue] = issues
    assert (issue.severity, issue.node, issue.line) == ("warning", "spare", line_of(text, "  spare:"))
    assert "unreachable" in issue.message and str(issue).startswith(f"{path}:{issue.line}: warning: ")


def test_loop_with_no_exit(tmp_path: Path) -> None:
    # `back` now goes to a pair of nodes that only lead to each other.
    path, text = write_basic(tmp_path, "  back:\n    type: goto\n    next: main\n",
                             "  back:\n    type: goto\n    next: spin\n"
                             "  spin:\n    type: play\n    prompt: again\n    next: back\n")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.line) == ("back", line_of(text, "  back:"))
    assert "loop with no exit: back -> spin -> back" in issue.message


def test_prompt_not_in_catalogue(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "    prompt: busy\n", "    prompt: bussy\n")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == ("busy_msg", "prompt", line_of(text, "prompt: bussy"))
    assert issue.message == "prompt 'bussy' is not in the prompts catalogue"


def test_prompt_without_default_language(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "    zh-CN: 再见。\n", "")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == (None, "prompts.goodbye", line_of(text, "  goodbye:"))
    assert "default language zh-CN" in issue.message


def test_prompt_missing_other_language_is_a_warning(tmp_path: Path) -> None:
    path, _ = write_basic(tmp_path, "    en-US: Goodbye.\n", "")
    flow, [issue] = check(path)
    assert flow is not None and issue.severity == "warning" and issue.field == "prompts.goodbye"


def test_file_prompt_must_exist(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "  goodbye:\n    zh-CN: 再见。\n    en-US: Goodbye.\n",
                             "  goodbye:\n    file: sounds/goodbye.wav\n")
    issue = only_error(check(path)[1])
    assert (issue.field, issue.line) == ("prompts.goodbye.file", line_of(text, "file: sounds"))
    assert str(tmp_path / "sounds" / "goodbye") in issue.message
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "goodbye.wav").write_bytes(b"RIFF")
    flow, issues = check(path)
    assert flow is not None and issues == []
    assert flow.prompt_files() == [tmp_path.resolve() / "sounds" / "goodbye"]  # type: ignore[attr-defined]


def test_unknown_schedule(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "schedule: business", "schedule: buisness")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == ("hours", "schedule", line_of(text, "schedule: buisness"))
    assert "unknown schedule 'buisness' (schedules.yaml defines: business, callback)" in issue.message


def test_language_must_be_declared(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "languages: [zh-CN, en-US]", "languages: [zh-CN]")
    errors = [i for i in check(path)[1] if i.severity == "error"]
    assert any(i.node == "english" and i.field == "language" for i in errors)
    assert any(i.field == "prompts.welcome.en-US" and i.line == line_of(text, "en-US: Hello") for i in errors)


def test_start_node_missing(tmp_path: Path) -> None:
    path, text = write_basic(tmp_path, "start: welcome", "start: welcom")
    issue = only_error(check(path)[1])
    assert (issue.node, issue.field, issue.line) == (None, "start", line_of(text, "start: welcom"))


def test_name_must_match_the_file(tmp_path: Path) -> None:
    path, _ = write_basic(tmp_path, "name: basic", "name: other")
    issue = only_error(check(path)[1])
    assert issue.field == "name" and issue.line == 2 and "file name 'basic'" in issue.message


def test_missing_nodes_section(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("name: empty\nstart: a\n", encoding="utf-8")
    issue = only_error(check(path)[1])
    assert issue.field == "nodes" and issue.message == "required field is missing"


def test_every_error_in_one_pass() -> None:
    path = FIXTURES / "many_errors.yaml"
    text = path.read_text(encoding="utf-8")
    flow, issues = check(path)
    assert flow is None
    got = {(i.node, i.field, i.line) for i in issues}
    assert got == {
        (None, "prompts.hello", line_of(text, "  hello:")),
        ("welcome", "prompt", line_of(text, "prompt: helo")),
        ("main", "choices.1", line_of(text, "1: enquiryy")),
        ("main", "timout", line_of(text, "timout: 5")),
        ("hours", "type", line_of(text, "type: schedul")),
    }
    with pytest.raises(FlowInvalid) as exc:
        load_flow(path, build_node_registry(), SCHEDULES)
    assert "5 error(s)" in str(exc.value) and "unknown target 'enquiryy'" in str(exc.value)


def test_flow_files_skip_data_files(tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text((REPO_FLOWS / "schedules.yaml").read_text(encoding="utf-8"))
    (tmp_path / "queues.yaml").write_text("queues:\n  hotline: {}\n")
    (tmp_path / "basic.yaml").write_text(BASIC, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("name: broken\nnodes:\n  a: [\n")  # still a flow: reported
    assert [p.name for p in flow_files(tmp_path)] == ["basic.yaml", "broken.yaml"]
    assert not is_flow_file(tmp_path / "missing.yaml")


def test_registry_rejects_duplicates() -> None:
    registry = build_node_registry()
    with pytest.raises(DuplicateRegistration, match="node type 'menu' is already registered"):
        registry.register("menu", NodeSpec)
    other: Registry[int] = Registry("thing")
    other.register("a", 1)
    with pytest.raises(KeyError, match="unknown thing 'b'; known: a"):
        other["b"]
