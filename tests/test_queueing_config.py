from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.queueing.config import QueueConfigError, load_queue_config, parse_queue_config
from ivr.queueing.model import QueueConfig
from ivr.schedule import load_schedules
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(10)

FLOWS = REPO_ROOT / "ivr" / "flows"
_SHIPPED = (FLOWS / "queues.yaml").read_text(encoding="utf-8")
# The shipped callback_numbers and callback_texts: required once a queue offers callbacks (the default).
CALLBACK_SECTIONS = "\n" + _SHIPPED[_SHIPPED.index("callback_numbers:"):_SHIPPED.index("\nqueues:")] + "\n"
# The shipped announcement_texts alone (part of CALLBACK_SECTIONS too): required in every queues.yaml.
ANNOUNCEMENT_SECTION = "\n" + _SHIPPED[_SHIPPED.index("announcement_texts:"):_SHIPPED.index("\nqueues:")] + "\n"
MINIMAL = """\
queues:
  support: {}
"""


def parse(text: str, schedules: list[str] | None = None) -> QueueConfig:
    return parse_queue_config(textwrap.dedent(text) + CALLBACK_SECTIONS, Path("queues.yaml"), schedules)


def problems(text: str, schedules: list[str] | None = None) -> list[str]:
    with pytest.raises(QueueConfigError) as info:
        parse(text, schedules)
    assert str(info.value).startswith("queues.yaml: ")
    return info.value.issues


def test_shipped_queues_yaml_loads_against_shipped_schedules() -> None:
    schedules = load_schedules(FLOWS / "schedules.yaml")
    cfg = load_queue_config(FLOWS / "queues.yaml", schedules)
    assert cfg.rings == 3
    assert {"support", "complaints"} <= set(cfg.queues)
    assert all(set(a.queues) <= set(cfg.queues) for a in cfg.agents.values())


def test_defaults_of_a_minimal_file() -> None:
    cfg = parse(MINIMAL)
    q = cfg.queues["support"]
    assert (cfg.ring_cycle_s, cfg.rings, cfg.ring_timeout_s()) == (5.0, 3, 15)
    assert cfg.ring_timeout_s(6.0) == 18
    assert cfg.ring_timeout_s(4.5) == 13  # 13.5 s rounded down: a member never rings past the 3rd ring
    assert cfg.ring_timeout_s(1.5) == 4
    assert (q.strategy, q.announce.first_delay_s, q.callback.schedule) == ("rrmemory", 30, "callback")


def test_unknown_field_names_queue_field_and_line() -> None:
    issues = problems("""\
        ring_cycle_s: 5
        queues:
          support:
            strategy: linear
            ringtime: 20
        """)
    assert issues == ["line 5: queue 'support', field ringtime: Extra inputs are not permitted"]


def test_bad_value_deep_in_an_overflow_rule() -> None:
    issues = problems("""\
        queues:
          support:
            overflow:
              - name: long
                when: {estimated_wait_over_s: -5}
                to: callback
        """)
    assert len(issues) == 1
    assert issues[0].startswith("line 5: queue 'support', field overflow.0.when.estimated_wait_over_s:")
    assert "greater than 0" in issues[0]


def test_agent_pointing_at_unknown_queue_names_its_line() -> None:
    issues = problems("""\
        queues:
          support: {}
        agents:
          "1001":
            name: 张敏
            queues: {support: 0, sales: 1}
        """)
    assert issues == ["line 6: agent '1001', field queues.sales: agent '1001': unknown queue 'sales'"]


def test_overflow_targets_short_forms_and_errors() -> None:
    cfg = parse("""\
        queues:
          a:
            overflow:
              - {name: r1, when: {no_agent_logged_in: true}, to: callback}
              - {name: r2, when: {callers_waiting_over: 3}, to: {queue: b}}
              - {name: r3, when: {callers_waiting_over: 9}, to: {number: "4008001234"}}
          b: {}
        """)
    kinds = [(r.to.kind, r.to.value) for r in cfg.queues["a"].overflow]
    assert kinds == [("callback", None), ("queue", "b"), ("number", "4008001234")]
    issues = problems("""\
        queues:
          a:
            overflow:
              - {name: self, when: {callers_waiting_over: 3}, to: {queue: a}}
              - {name: nowhere, when: {callers_waiting_over: 3}, to: {queue: zz}}
              - {name: empty, when: {}, to: callback}
        """)
    assert len(issues) == 1 and "line 6" in issues[0] and "at least one trigger" in issues[0]
    issues = problems("""\
        queues:
          a:
            overflow:
              - {name: self, when: {callers_waiting_over: 3}, to: {queue: a}}
              - {name: nowhere, when: {callers_waiting_over: 3}, to: {queue: zz}}
        """)
    assert issues[0].startswith("line 4: queue 'a', field overflow.0.to:") and "into itself" in issues[0]
    assert issues[1].startswith("line 5: queue 'a', field overflow.1.to:") and "'zz'" in issues[1]


def test_unknown_schedule_is_reported_when_schedules_are_given() -> None:
    text = """\
        queues:
          a:
            callback: {schedule: cb}
            overflow:
              - {name: p, during: rush, when: {callers_waiting_over: 3}, to: callback}
        """
    parse(text)  # without schedules the names cannot be checked
    issues = problems(text, ["callback", "peak"])
    assert issues[0].startswith("line 3: queue 'a', field callback.schedule: unknown schedule 'cb'")
    assert issues[1].startswith("line 5: queue 'a', field overflow.0.during: unknown schedule 'rush'")
    assert "known schedules: callback, peak" in issues[1]


def test_names_unsafe_for_asterisk_config_are_refused() -> None:
    issues = problems("""\
        queues:
          "sup port": {}
        agents:
          "10;01": {name: x, queues: {"sup port": 0}}
        """)
    assert any("line 2" in i and "'sup port'" in i for i in issues)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid YAML" in problems("queues: [\n")[0]
    with pytest.raises(QueueConfigError) as info:
        parse_queue_config("- a\n- b\n", Path("queues.yaml"))
    assert info.value.issues == ["line 1: top level must be a mapping (queues, agents, ...)"]
    with pytest.raises(QueueConfigError, match="cannot read"):
        load_queue_config(tmp_path / "absent.yaml")
