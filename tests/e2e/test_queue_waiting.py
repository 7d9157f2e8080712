"""While a caller waits: position and OUR estimate announced in the caller's language, the
self-service hint and the callback offer between them; overflow on arrival inside the peak window
and at the max wait outside it. What the flow sent to Asterisk is on the call record (events with
the text and the prompt file streamed; the overflow decision with its reason)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.queue_lab import QueueLab
from harness.scenarios import AwaitHangup, Dtmf, Hangup, Wait
from harness.sipp import place_calls
from ivr.clock import MutableClock
from ivr.settings import Settings
from tests.e2e.conftest import MONDAY_10AM
from tests.e2e.test_queue_calls import call, to_queue
from tests.e2e.test_queue_listener import counters, delta

pytestmark = [pytest.mark.e2e]
PEAK = MONDAY_10AM  # schedules.yaml peak: 09:00-11:00
OFF_PEAK = MONDAY_10AM.replace(hour=11, minute=30)
MAX_WAIT_S = 12


def _patch(data: dict[str, Any]) -> None:
    support = data["queues"]["support"]
    support["wrapup_s"] = 0
    support["announce"]["first_delay_s"] = 3
    support["announce"]["interval_s"] = 10  # position at 3 s, hint + callback offer at 8 s, position at 13 s
    support["overflow"][2]["when"]["waited_over_s"] = MAX_WAIT_S


@pytest.fixture(scope="module")
def lab(e2e_settings: Settings, asterisk: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueLab]:
    lab = QueueLab(e2e_settings, Path(tmp_path_factory.mktemp("queue-waiting")), MutableClock(OFF_PEAK),
                   patch=_patch)
    lab.start()
    yield lab
    lab.stop()


def clear_queue_state(url: str) -> None:
    """Callbacks and handle times other tests left in the shared Redis (the dialer would act on them)."""
    client = redis.Redis.from_url(url)
    try:
        for pattern in ("ivr:callback*", "ivr:queue:*:callbacks", "ivr:queue:*:handle_times"):
            for key in client.scan_iter(pattern):
                client.delete(key)
    finally:
        client.close()


@pytest.fixture
def fresh(lab: QueueLab) -> Iterator[QueueLab]:
    lab.agents("logout", None, ("1001", "1002", "1003"))
    clear_queue_state(lab.settings.redis_url)
    yield lab
    lab.agents("logout", None, ("1001", "1002", "1003"))
    clear_queue_state(lab.settings.redis_url)


@pytest.mark.timeout(180)
def test_position_estimate_hint_and_callback_offer_are_announced(fresh: QueueLab) -> None:
    lab = fresh
    assert isinstance(lab.clock, MutableClock)
    lab.clock.set(OFF_PEAK)
    with lab.phones({"1002": (300, 30000)}):
        lab.agents("login", "support", ("1002",))
        with ThreadPoolExecutor(max_workers=2) as pool:
            busy = pool.submit(place_calls, lab.target, "hotline", to_queue(lab, [Wait(26000), Hangup()]),
                               ["13900000601"], timeout_s=90, workdir=lab.workdir)
            time.sleep(2)
            waiting = pool.submit(call, lab, "13900000602", to_queue(lab, [Wait(17000), Hangup()]))
            rec = waiting.result()
            assert busy.result().ok
    said = [e for e in rec["events"] if e["kind"] == "queue_announcement"]
    assert [e["announcement"] for e in said][:2] == ["position", "hint"], said
    position, hint = said[0], said[1]
    # one agent, busy; no handle times measured yet: 180 s default, half of it left -> 90 s -> "2 minutes"
    assert position["position"] == 1 and position["estimate_s"] == pytest.approx(90.0)
    assert position["text"] == "您是下一位，预计等待约2分钟。"
    assert 2.5 <= position["waited_s"] <= 6.0
    assert "www.example.com/faq" in hint["text"] and "请按1" in hint["text"]
    for e in said:
        assert Path(e["prompt"]).with_suffix(".wav").exists()  # the file the engine streamed
    assert rec["queue"] == "support" and "overflow" not in rec


@pytest.mark.timeout(200)
def test_overflow_in_the_peak_window_on_arrival_and_at_the_max_wait_outside_it(fresh: QueueLab) -> None:
    lab = fresh
    assert isinstance(lab.clock, MutableClock)
    before = counters(lab)
    with lab.phones({"1002": (300, 2000)}):
        lab.agents("login", "support", ("1002",))
        lab.agents("pause", "support", ("1002",), reason="training")  # logged in, nobody staffed
        lab.clock.set(PEAK)
        # the overflow books a callback: the caller confirms the number read back (press 1)
        rec = call(lab, "13900000701", to_queue(lab, [Wait(9000), Dtmf("1"), AwaitHangup(40000)]))
        overflow = rec["overflow"]
        assert (overflow["rule"], overflow["phase"], overflow["reason_code"]) == (
            "peak-long-wait", "arrival", "estimated_wait")
        assert overflow["during"] == "peak" and overflow["target_kind"] == "callback"
        assert rec["callback"]["via"] == "overflow" and rec["outcome"] == "callback"
        assert [e["key"] for e in rec["events"] if e["kind"] == "callback_confirm"] == ["1"]

        lab.clock.set(OFF_PEAK)  # the same queue state outside the peak window: the caller waits
        rec = call(lab, "13900000702", to_queue(lab, [Wait((MAX_WAIT_S + 14) * 1000), Dtmf("1"), AwaitHangup(60000)]))
        overflow = rec["overflow"]
        assert (overflow["rule"], overflow["phase"], overflow["reason_code"]) == ("max-wait", "waiting", "max_wait")
        assert MAX_WAIT_S <= overflow["waited_s"] <= MAX_WAIT_S + 6
        assert any(e["kind"] == "queue_announcement" for e in rec["events"])  # it did wait
    after = counters(lab)
    for name in ("overflow:peak-long-wait", "overflow:max-wait", "overflow_reason:estimated_wait",
                 "overflow_reason:max_wait"):
        assert delta(before, after, name) == 1, (name, before, after)
    assert delta(before, after, "callbacks_requested") == 2
