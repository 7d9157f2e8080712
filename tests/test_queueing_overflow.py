from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio

from ivr.queueing.config import parse_queue_config
from ivr.queueing.overflow import QueueSnapshot, evaluate_overflow
from ivr.queueing.priority import VipList, priority_for
from ivr.schedule import Schedule, Weekly
from tests.test_queueing_config import CALLBACK_SECTIONS

pytestmark = pytest.mark.timeout(10)

SH = ZoneInfo("Asia/Shanghai")
PEAK = {"peak": Schedule(weekly=Weekly(mon=["09:00-11:00"]))}
IN_PEAK = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # Monday 10:00
OFF_PEAK = datetime(2026, 3, 2, 14, 0, tzinfo=SH)

CFG = parse_queue_config(textwrap.dedent("""\
    vip_numbers: ["+86 138-0013-8000"]
    priorities: {vip: 10, categories: {complaint: 5, complaint_urgent: 20}}
    queues:
      support:
        overflow:
          - {name: nobody, when: {no_agent_logged_in: true}, to: {voicemail: support}}
          - {name: all-paused, when: {no_agent_staffed: true}, to: {queue: backup}}
          - name: peak
            during: peak
            when: {estimated_wait_over_s: 600, callers_waiting_over: 10, callers_per_agent_over: 3}
            to: callback
          - {name: max-wait, phases: [waiting], when: {waited_over_s: 900}, to: {number: "4008001234"}}
      backup: {}
    """) + CALLBACK_SECTIONS, Path("queues.yaml"))
RULES = CFG.queues["support"].overflow


def snap(ahead: int = 0, logged_in: int = 4, paused: int = 0, est: float | None = 60.0) -> QueueSnapshot:
    return QueueSnapshot(queue="support", callers_ahead=ahead, agents_logged_in=logged_in, agents_paused=paused,
                         estimated_wait_s=est)


def test_quiet_queue_keeps_the_caller() -> None:
    assert evaluate_overflow(RULES, snap(), IN_PEAK, "arrival", schedules=PEAK) is None


def test_nobody_logged_in_goes_to_voicemail_with_reason() -> None:
    d = evaluate_overflow(RULES, snap(logged_in=0, est=None), OFF_PEAK, "arrival", schedules=PEAK)
    assert d is not None
    assert (d.rule, d.reason_code, d.target_kind, d.target) == ("nobody", "no_agent_logged_in", "voicemail", "support")
    assert d.reason == "no agent is logged in to 'support' -> voicemail support (rule nobody)"
    record = json.loads(json.dumps(d.model_dump()))  # what the engine stores on the call record
    assert record["at"] == OFF_PEAK.isoformat() and record["phase"] == "arrival"


def test_everyone_paused_overflows_to_another_queue() -> None:
    d = evaluate_overflow(RULES, snap(logged_in=3, paused=3, est=None), OFF_PEAK, "arrival", schedules=PEAK)
    assert d is not None and (d.reason_code, d.target) == ("no_agent_staffed", "backup")
    assert "3 logged in, 3 paused" in d.reason


@pytest.mark.parametrize(
    ("snapshot", "code", "observed"),
    [
        (snap(est=601), "estimated_wait", 601),
        (snap(ahead=11, est=100), "callers_waiting", 11),
        (snap(ahead=9, logged_in=3, est=100), "callers_per_agent", 10 / 3),
    ],
)
def test_peak_thresholds_only_during_peak(snapshot: QueueSnapshot, code: str, observed: float) -> None:
    d = evaluate_overflow(RULES, snapshot, IN_PEAK, "arrival", schedules=PEAK)
    assert d is not None and (d.rule, d.reason_code, d.target_kind) == ("peak", code, "callback")
    assert d.observed == pytest.approx(observed) and d.during == "peak" and "during 'peak'" in d.reason
    assert evaluate_overflow(RULES, snapshot, OFF_PEAK, "arrival", schedules=PEAK) is None
    forced = evaluate_overflow(RULES, snapshot, OFF_PEAK, "arrival", schedules=PEAK, overrides={"peak": "open"})
    assert forced is not None and forced.rule == "peak"


def test_at_the_threshold_is_not_over_it() -> None:
    assert evaluate_overflow(RULES, snap(ahead=10, est=600, logged_in=10), IN_PEAK, "arrival", schedules=PEAK) is None


def test_max_wait_applies_only_while_waiting() -> None:
    assert evaluate_overflow(RULES, snap(), OFF_PEAK, "arrival", 1000, schedules=PEAK) is None
    assert evaluate_overflow(RULES, snap(), OFF_PEAK, "waiting", 900, schedules=PEAK) is None
    d = evaluate_overflow(RULES, snap(), OFF_PEAK, "waiting", 901, schedules=PEAK)
    assert d is not None and (d.reason_code, d.target_kind, d.target) == ("max_wait", "number", "4008001234")
    assert d.reason.startswith("waited 901 s, over 900 s")


def test_unknown_schedule_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(ValueError, match="unknown schedule 'peak'"):
        evaluate_overflow(RULES, snap(), IN_PEAK, "arrival", schedules={})


def test_priority_vip_and_categories() -> None:
    vips = {"13800138000"}
    assert priority_for("+8613800138000", None, CFG, vips) == 10
    assert priority_for("008613800138000", "complaint", CFG, vips) == 10
    assert priority_for("13800138000", "complaint_urgent", CFG, vips) == 20
    assert priority_for("13900000000", "complaint", CFG, vips) == 5
    assert priority_for("13900000000", "billing", CFG, vips) == 0
    assert priority_for("anonymous", None, CFG, vips) == 0
    assert priority_for(None, None, CFG, vips) == 0


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_vip_list_merges_yaml_and_redis(r: redis.asyncio.Redis) -> None:
    vips = VipList(r, CFG)
    assert await vips.numbers() == {"13800138000"}
    assert await vips.add("+86 139 0000 1111") == "13900001111"
    numbers = await vips.numbers()
    assert numbers == {"13800138000", "13900001111"}
    assert priority_for("13900001111", None, CFG, numbers) == 10
    assert await vips.remove("13900001111") and not await vips.remove("13900001111")


async def test_vip_list_survives_redis_down() -> None:
    dead = redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        assert await VipList(dead, CFG).numbers() == {"13800138000"}
    finally:
        await dead.aclose()
