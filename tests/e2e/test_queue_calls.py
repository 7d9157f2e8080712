"""Queue calls end to end: SIPp callers through hotline.yaml into app_queue, SIPp agents' phones,
the AMI listener, Redis. Ring cycle 1.5 s, so "3 rings" = 4.5 s and a member rings 4 s (queues.conf:
whole seconds, never past the 3rd ring).

The lab's queues.yaml rings support agents in login order (linear) so which agent rings first is
known; announcements start late here (their own tests are in test_queue_waiting.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bench.queue_lab import QueueLab
from harness.scenarios import AwaitHangup, Dtmf, Hangup, Step, Wait
from harness.sipp import place_calls
from harness.timeline import ms_until_menu
from ivr.clock import MutableClock
from ivr.settings import Settings
from tests.e2e.conftest import MONDAY_10AM
from tests.support.calls import find_record, node_path

pytestmark = [pytest.mark.e2e]
OFF_PEAK = MONDAY_10AM.replace(hour=11, minute=30)  # open, outside the peak window


def _patch(data: dict[str, Any]) -> None:
    support = data["queues"]["support"]
    support["strategy"] = "linear"
    support["wrapup_s"] = 0
    support["announce"]["first_delay_s"] = 60


@pytest.fixture(scope="module")
def lab(e2e_settings: Settings, asterisk: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueLab]:
    lab = QueueLab(e2e_settings, Path(tmp_path_factory.mktemp("queue-calls")), MutableClock(OFF_PEAK),
                   patch=_patch)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture
def fresh(lab: QueueLab) -> Iterator[QueueLab]:
    """Every agent logged out (pauses and miss counts reset) before and after the test."""
    lab.agents("logout", None, ("1001", "1002", "1003"))
    assert isinstance(lab.clock, MutableClock)
    lab.clock.set(OFF_PEAK)
    yield lab
    lab.agents("logout", None, ("1001", "1002", "1003"))


def to_queue(lab: QueueLab, then: list[Step]) -> list[Step]:
    """Through hotline.yaml: wait for the main menu, press 0 (operator), then `then`."""
    return [Wait(ms_until_menu(lab.settings, "hotline", "main_menu") + 1200), Dtmf("0"), *then]


def call(lab: QueueLab, caller: str, steps: list[Step], timeout_s: float = 90) -> dict[str, Any]:
    result = place_calls(lab.target, "hotline", steps, [caller], timeout_s=timeout_s, workdir=lab.workdir)
    assert result.ok, result.stderr[-2000:]
    return find_record(lab.settings.redis_url, caller, timeout=20)


def answered_record(lab: QueueLab, caller: str) -> dict[str, Any]:
    """The record once the listener wrote the answer timing."""
    deadline = time.monotonic() + 15
    while True:
        rec = find_record(lab.settings.redis_url, caller, finished=False)
        if "answer_timing" in rec or time.monotonic() > deadline:
            return rec
        time.sleep(0.2)


def wait_for_callers(lab: QueueLab, queue: str, n: int, timeout: float, callers: list[str] = []) -> None:  # noqa: B006
    """Until the listener's live state shows `n` callers waiting in `queue`."""
    import redis

    from ivr import keys

    client = redis.Redis.from_url(lab.settings.redis_url)
    deadline = time.monotonic() + timeout
    try:
        while client.hlen(keys.queue_callers(queue)) < n:
            if time.monotonic() > deadline:
                paths = {c: node_path(find_record(lab.settings.redis_url, c, finished=False)) for c in callers}
                raise AssertionError(f"fewer than {n} callers in {queue} after {timeout} s: {paths}")
            time.sleep(0.2)
    finally:
        client.close()


@pytest.mark.timeout(240)
def test_unanswered_agent_is_skipped_and_paused_after_two_misses(fresh: QueueLab) -> None:
    lab = fresh
    with lab.phones({"1001": (30000, 1000), "1002": (800, 3000)}):
        lab.agents("login", "support", ("1001", "1002"))  # linear: 1001 rings first, every call
        first = call(lab, "13900000101", to_queue(lab, [Wait(14000), Hangup()]))
        rec = answered_record(lab, "13900000101")
        assert rec["agent"] == "1002", rec
        timing = rec["answer_timing"]
        # 1002 answered on its first ring (in time); the caller also heard 1001 ring out first
        assert timing["answered"] is True and rec["answered_within_3_rings"] is True
        assert timing["ring_s"] < 4.5 and timing["rings"] == 1
        assert timing["since_first_ring_s"] > 4.5 and timing["wait_s"] >= timing["since_first_ring_s"] - 0.5
        kinds = [(e["kind"], e.get("agent")) for e in rec["events"] if e["kind"].startswith("agent_")]
        assert kinds[:3] == [("agent_called", "1001"), ("agent_missed", "1001"), ("agent_called", "1002")], kinds
        assert ("agent_connect", "1002") in kinds
        assert first["queue"] == "support" and "agent_queue" in node_path(first)

        call(lab, "13900000102", to_queue(lab, [Wait(14000), Hangup()]))
        assert answered_record(lab, "13900000102")["agent"] == "1002"
        deadline = time.monotonic() + 10
        while True:  # the second miss in a row: the listener pauses 1001 through AMI
            m1001 = next(m for m in lab.members("support") if m.agent == "1001")
            if m1001.paused or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert m1001.paused and m1001.paused_reason == "auto: missed 2 calls in a row"

        # 1001 is paused: the next caller rings 1002 at once and is answered within 3 rings.
        call(lab, "13900000103", to_queue(lab, [Wait(8000), Hangup()]))
        rec = answered_record(lab, "13900000103")
        assert rec["agent"] == "1002" and rec["answered_within_3_rings"] is True
        assert rec["answer_timing"]["ring_s"] < 4.5


@pytest.mark.timeout(180)
def test_survey_after_the_agent_hangs_up(fresh: QueueLab) -> None:
    lab = fresh
    caller = "13900000201"
    with lab.phones({"1002": (500, 2500)}):
        lab.agents("login", "support", ("1002",))
        # answered ~1 s after entering, the agent hangs up 2.5 s later, the survey asks: press 4
        steps = to_queue(lab, [Wait(11000), Dtmf("4"), AwaitHangup(30000)])
        rec = call(lab, caller, steps)
    assert rec["survey"]["score"] == 4, rec.get("survey")
    path = node_path(rec)
    assert path[-3:] == ["agent_queue", "survey", "goodbye"], path
    assert rec["agent"] == "1002" and rec["outcome"] == "queued"
    assert [e["score"] for e in rec["events"] if e["kind"] == "survey"] == [4]


@pytest.mark.timeout(200)
def test_vip_is_answered_before_callers_who_waited_longer(fresh: QueueLab) -> None:
    lab = fresh
    vip = "13900000399"
    lab.run(_vip_add(lab, vip))
    with lab.phones({"1002": (300, 1500)}):
        lab.agents("login", "support", ("1002",))
        lab.agents("pause", "support", ("1002",), reason="meeting")
        callers = ["13900000301", "13900000302", vip]  # one SIPp, a call every 2 s: the VIP calls last
        steps = to_queue(lab, [Wait(30000), Hangup()])
        with ThreadPoolExecutor(max_workers=1) as pool:
            placed = pool.submit(place_calls, lab.target, "hotline", steps, callers, rate=0.5, timeout_s=90,
                                 workdir=lab.workdir)
            wait_for_callers(lab, "support", 3, timeout=40, callers=callers)  # the VIP waited least
            lab.agents("unpause", "support", ("1002",))
            result = placed.result()
    assert result.ok, result.stderr[-2000:]
    recs = {c: answered_record(lab, c) for c in callers}
    assert recs[vip]["queue_priority"] == 10 and recs["13900000301"]["queue_priority"] == 0
    connect = {c: next(e["t"] for e in r["events"] if e["kind"] == "agent_connect") for c, r in recs.items()
               if any(e["kind"] == "agent_connect" for e in r["events"])}
    assert vip in connect, recs[vip]["events"]
    assert connect[vip] == min(connect.values()), connect  # first, though it called last
    assert recs[vip]["answer_timing"]["wait_s"] < recs["13900000301"]["answer_timing"]["wait_s"]


async def _vip_add(lab: QueueLab, number: str) -> None:
    from ivr.queueing.priority import VipList

    redis = await lab.service.service.hub.client()
    await VipList(redis, lab.service.service.listener.cfg).add(number)

