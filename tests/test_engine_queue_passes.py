"""The engine's Queue() passes as the AMI listener sees them (QueuePasses), and the dialplan's queue
exit keys against queues.yaml. Event fields are those app_queue publishes (QueueCallerJoin/Abandon/
Leave); the end-to-end counters against real Asterisk are in tests/e2e/test_queue_listener.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ivr.queueing.config import load_queue_config
from ivr.queueing.listener import QueuePasses
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(10)
UID = "1700000000.7"


def ev(name: str, **fields: Any) -> dict[str, str]:
    return {"Event": name, "Queue": "support", "Uniqueid": UID, **{k: str(v) for k, v in fields.items()}}


def released_into(passes: QueuePasses) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    passes.subscribe(out.extend)
    return out


def test_announcement_break_is_not_an_abandon_and_reentry_is_not_offered() -> None:
    passes = QueuePasses()
    released = released_into(passes)
    passes.begin(UID, "support", 8)
    assert passes.filter(ev("QueueCallerJoin", Position=1), 100.0) == [ev("QueueCallerJoin", Position=1)]
    assert passes.filter(ev("QueueCallerAbandon", HoldTime=8, Position=1), 108.0) == []
    assert passes.filter(ev("QueueCallerLeave", Position=1), 108.0) == []
    passes.begin(UID, "support", 30)
    again = passes.filter(ev("QueueCallerJoin", Position=1), 112.0)
    assert [e["Event"] for e in again] == ["QueueEntry"] and float(again[0]["Wait"]) == pytest.approx(12.0)
    passes.finish(UID, "answered")
    assert released == []


def test_hangup_during_an_announcement_releases_the_held_abandon() -> None:
    passes = QueuePasses()
    released = released_into(passes)
    passes.begin(UID, "support", 8)
    passes.filter(ev("QueueCallerJoin"), 100.0)
    passes.filter(ev("QueueCallerAbandon", HoldTime=9), 109.0)
    passes.filter(ev("QueueCallerLeave"), 109.0)
    passes.finish(UID, "hangup")
    assert [e["Event"] for e in released] == ["QueueCallerAbandon", "QueueCallerLeave"]


def test_overflow_releases_only_the_leave() -> None:
    passes = QueuePasses()
    released = released_into(passes)
    passes.begin(UID, "support", 8)
    passes.filter(ev("QueueCallerJoin"), 100.0)
    passes.filter(ev("QueueCallerAbandon", HoldTime=8), 108.0)
    passes.filter(ev("QueueCallerLeave"), 108.0)
    passes.finish(UID, "callback")
    assert [e["Event"] for e in released] == ["QueueCallerLeave"]


def test_a_real_abandon_mid_pass_passes_through() -> None:
    passes = QueuePasses()
    passes.begin(UID, "support", 30)
    passes.filter(ev("QueueCallerJoin"), 100.0)
    assert passes.filter(ev("QueueCallerAbandon", HoldTime=4), 104.0) == [ev("QueueCallerAbandon", HoldTime=4)]
    assert passes.filter(ev("QueueCallerLeave"), 104.0) == [ev("QueueCallerLeave")]


def test_events_after_the_engine_finished_are_judged_by_its_outcome() -> None:
    passes = QueuePasses()
    passes.begin(UID, "support", 8)
    passes.filter(ev("QueueCallerJoin"), 100.0)
    passes.finish(UID, "overflow")  # the AGI reply came before the AMI events
    assert passes.filter(ev("QueueCallerAbandon", HoldTime=8), 108.0) == []
    assert passes.filter(ev("QueueCallerLeave"), 108.0) == [ev("QueueCallerLeave")]
    other = QueuePasses()
    other.begin(UID, "support", 8)
    other.filter(ev("QueueCallerJoin"), 100.0)
    other.finish(UID, "timeout")
    assert other.filter(ev("QueueCallerAbandon", HoldTime=8), 108.0) == [ev("QueueCallerAbandon", HoldTime=8)]


def test_after_the_engine_gave_up_a_fallback_queue_is_a_new_wait() -> None:
    passes = QueuePasses()
    passes.begin(UID, "support", 8)
    passes.filter(ev("QueueCallerJoin"), 100.0)
    passes.finish(UID, "error")  # the flow failed: the dialplan's fallback queue takes the caller
    assert passes.filter(ev("QueueCallerJoin"), 103.0) == [ev("QueueCallerJoin")]
    assert passes.filter(ev("QueueCallerAbandon", HoldTime=20), 123.0) == [ev("QueueCallerAbandon", HoldTime=20)]


def test_callers_the_engine_does_not_queue_are_untouched() -> None:
    passes = QueuePasses()
    for e in (ev("QueueCallerJoin"), ev("QueueCallerAbandon", HoldTime=300), ev("QueueCallerLeave")):
        assert passes.filter(e, 1.0) == [e]


def test_only_the_callback_keys_leave_the_queue_in_the_dialplan() -> None:
    cfg = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
    keys = {q.callback.key for q in cfg.queues.values() if q.callback.enabled}
    text = (REPO_ROOT / "asterisk-config" / "extensions.conf").read_text(encoding="utf-8")
    section = text.split("[ivr-queue-exit]", 1)[1].split("\n[", 1)[0]
    extensions = set(re.findall(r"^exten => ([^,]+),1,", section, flags=re.M))
    assert extensions == keys
