"""The AMI listener against the real private Asterisk: counters exact against the calls that happened
(although the engine leaves and re-enters Queue() for every announcement), and a QueueStatus resync
after Asterisk went away and came back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.queue_lab import QueueLab
from harness.scenarios import Hangup, Wait
from harness.sipp import place_calls
from ivr import keys
from ivr.clock import MutableClock
from ivr.settings import Settings
from tests.e2e.conftest import MONDAY_10AM, SHANGHAI
from tests.e2e.test_queue_calls import answered_record, to_queue

pytestmark = [pytest.mark.e2e]
OFF_PEAK = MONDAY_10AM.replace(hour=11, minute=30)


def _patch(data: dict[str, Any]) -> None:
    support = data["queues"]["support"]
    support["wrapup_s"] = 0
    support["announce"]["first_delay_s"] = 3  # waiting callers leave and re-enter Queue() often
    support["announce"]["interval_s"] = 10


@pytest.fixture(scope="module")
def lab(e2e_settings: Settings, asterisk: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueLab]:
    lab = QueueLab(e2e_settings, Path(tmp_path_factory.mktemp("queue-listener")), MutableClock(OFF_PEAK),
                   patch=_patch)
    lab.start()
    yield lab
    lab.stop()


def counters(lab: QueueLab, queue: str = "support") -> dict[str, int]:
    client = redis.Redis.from_url(lab.settings.redis_url, decode_responses=True)
    try:
        day = datetime.now(SHANGHAI).date().isoformat()
        raw = client.hgetall(keys.queue_day(queue, day))
    finally:
        client.close()
    return {str(k): int(float(v)) for k, v in raw.items()}


def delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


@pytest.mark.timeout(200)
def test_counters_equal_the_calls_despite_announcement_reentries(lab: QueueLab) -> None:
    lab.agents("logout", None, ("1001", "1002", "1003"))
    before = counters(lab)
    with lab.phones({"1002": (500, 9000)}):
        lab.agents("login", "support", ("1002",))
        stay = to_queue(lab, [Wait(24000), Hangup()])  # answered, one after the other
        leave = to_queue(lab, [Wait(8000), Hangup()])  # gives up while the agent is busy: abandoned
        with ThreadPoolExecutor(max_workers=2) as pool:
            both = pool.submit(place_calls, lab.target, "hotline", stay, ["13900000501", "13900000502"],
                               rate=0.5, timeout_s=90, workdir=lab.workdir)
            time.sleep(4)  # enters the queue 4 s after the first caller, 2 s after the second
            gives_up = pool.submit(place_calls, lab.target, "hotline", leave, ["13900000503"], timeout_s=90,
                                   workdir=lab.workdir)
            results = [both.result(), gives_up.result()]
    assert all(r.ok for r in results), [r.stderr[-800:] for r in results]
    recs = {c: answered_record(lab, c) for c in ("13900000501", "13900000502", "13900000503")}
    assert recs["13900000501"]["agent"] == "1002" and recs["13900000502"]["agent"] == "1002"
    announcements = [e for r in recs.values() for e in r["events"] if e["kind"] == "queue_announcement"]
    assert announcements, "the waiting callers should have heard announcements (Queue() re-entries)"
    time.sleep(1.0)  # the last AMI events
    after = counters(lab)
    assert delta(before, after, "offered") == 3, (before, after)
    assert delta(before, after, "answered") == 2, (before, after)
    assert delta(before, after, "abandoned") == 1, (before, after)
    assert recs["13900000503"]["answer_timing"]["answered"] is False
    client = redis.Redis.from_url(lab.settings.redis_url, decode_responses=True)
    try:
        assert client.hlen(keys.queue_callers("support")) == 0  # nobody left behind on the wallboard
        assert len(client.lrange(keys.queue_handle_times("support"), 0, -1)) >= 2
    finally:
        client.close()


@pytest.mark.timeout(150)
def test_resync_after_asterisk_comes_back_and_after_a_dropped_connection(lab: QueueLab) -> None:
    lab.agents("logout", None, ("1001", "1002", "1003"))
    listener = lab.service.service.listener
    sessions = listener.sessions
    client = redis.Redis.from_url(lab.settings.redis_url, decode_responses=True)
    try:
        lab.asterisk.stop()
        deadline = time.monotonic() + 20
        while listener.connected.is_set():
            assert time.monotonic() < deadline, "listener did not notice that Asterisk went away"
            time.sleep(0.1)
        client.hset(keys.queue_callers("support"), "ghost.1", json.dumps({"caller": "1", "since": 0}))
        lab.asterisk.start(timeout=60)
        lab.run(lab._wait_listener(), timeout=40)
        assert listener.sessions == sessions + 1
        assert not client.hexists(keys.queue_callers("support"), "ghost.1")  # QueueStatus replaced it

        lab.agents("login", "support", ("1002",))
        lab.agents("pause", "support", ("1002",), reason="lunch")
        client.hdel(keys.queue_agents("support"), "1002")  # the live state lost an agent
        lab.run(_drop_connection(listener))
        deadline = time.monotonic() + 20
        while listener.sessions < sessions + 2 or not client.hexists(keys.queue_agents("support"), "1002"):
            assert time.monotonic() < deadline, "no resync after the connection dropped"
            time.sleep(0.1)
        agent = json.loads(client.hget(keys.queue_agents("support"), "1002") or "{}")
        assert agent.get("state") == "paused" and agent.get("reason") == "lunch", agent
    finally:
        client.close()
        lab.agents("logout", None, ("1002",))


async def _drop_connection(listener: Any) -> None:
    """Close the listener's TCP connection to AMI, as a network blip would."""
    listener._manager.protocol.transport.close()
