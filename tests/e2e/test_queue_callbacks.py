"""Queued callbacks end to end: the caller presses the callback key in Queue() (ivr-queue-exit), keeps
their place and hangs up; a second request from the same number is refused; the dialer waits for the
callback hours, rings the agent first, then the customer (a SIPp phone), retries a customer who did not
answer, and records every attempt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.queue_lab import QueueLab
from harness.scenarios import AwaitHangup, Dtmf, Wait
from ivr.clock import MutableClock
from ivr.settings import Settings
from tests.e2e.conftest import MONDAY_10AM
from tests.e2e.test_queue_calls import call, to_queue
from tests.e2e.test_queue_listener import counters, delta
from tests.e2e.test_queue_waiting import clear_queue_state

pytestmark = [pytest.mark.e2e]
NO_CALLBACKS = MONDAY_10AM.replace(hour=13, minute=30)  # open for calls; callbacks only 09-12 and 15-18
CALLBACK_HOURS = MONDAY_10AM.replace(hour=15, minute=5)


def _patch(data: dict[str, Any]) -> None:
    support = data["queues"]["support"]
    support["wrapup_s"] = 0
    support["announce"]["first_delay_s"] = 60
    support["callback"]["max_attempts"] = 2
    support["callback"]["retry_delay_s"] = 30


@pytest.fixture(scope="module")
def lab(e2e_settings: Settings, asterisk: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueLab]:
    lab = QueueLab(e2e_settings, Path(tmp_path_factory.mktemp("queue-callbacks")), MutableClock(NO_CALLBACKS),
                   patch=_patch)
    lab.start()
    yield lab
    lab.stop()


def callback_state(lab: QueueLab, callback_id: str) -> tuple[str, list[dict[str, Any]]]:
    async def read() -> tuple[str, list[dict[str, Any]]]:
        from ivr.queueing.callbacks import CallbackStore

        store = CallbackStore(await lab.service.service.hub.client())
        attempts = await store.attempts(callback_id)  # first: the status read after is at least as new
        return (await store.get(callback_id)).status, attempts

    result: tuple[str, list[dict[str, Any]]] = lab.run(read())
    return result


def wait_attempts(lab: QueueLab, callback_id: str, n: int, timeout: float = 40) -> tuple[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    while True:
        status, attempts = callback_state(lab, callback_id)
        if len(attempts) >= n or time.monotonic() > deadline:
            return status, attempts
        time.sleep(0.3)


@pytest.mark.timeout(300)
def test_callback_keeps_the_place_is_dialled_in_callback_hours_agent_first_with_retries(lab: QueueLab) -> None:
    assert isinstance(lab.clock, MutableClock)
    clear_queue_state(lab.settings.redis_url)
    lab.agents("logout", None, ("1001", "1002", "1003"))
    before = counters(lab)
    caller = "13900000801"
    # in Queue() by then; then 1 again: "we will call you back at 1 3 9, ...; press 1 to confirm"
    press_one = to_queue(lab, [Wait(8000), Dtmf("1"), Wait(5000), Dtmf("1"), AwaitHangup(30000)])
    with lab.phones({"1002": (300, 12000)}):
        lab.agents("login", "support", ("1002",))
        lab.agents("pause", "support", ("1002",), reason="meeting")  # the caller has to wait
        first = call(lab, caller, press_one)
        booked = first["callback"]
        assert booked["via"] == "key" and booked["duplicate"] is False and first["outcome"] == "callback"
        assert any(e["kind"] == "dtmf" and e.get("during") == "queue" and e["digits"] == "1" for e in first["events"])
        assert [e["key"] for e in first["events"] if e["kind"] == "callback_confirm"] == ["1"]
        assert booked["callback_number"] == "139****0801"  # masked on the record; raw only in the store
        place = booked["enqueued_at"]

        again = call(lab, caller, press_one)  # one open callback per number
        assert again["callback"]["duplicate"] is True and again["callback"]["id"] == booked["id"]

        lab.agents("unpause", "support", ("1002",))
        time.sleep(3)  # six dialer polls at 13:30: outside the callback hours, nothing is dialled
        status, attempts = callback_state(lab, booked["id"])
        assert (status, attempts) == ("pending", [])

        lab.clock.set(CALLBACK_HOURS)
        with lab.phones({"customer": (20000, 1000)}):  # rings, nobody picks up
            status, attempts = wait_attempts(lab, booked["id"], 1)
        assert status == "pending" and [a["outcome"] for a in attempts] == ["customer_no_answer"], attempts
        assert attempts[0]["agent"] == "1002" and attempts[0]["dialstatus"] == "NOANSWER"

        with lab.phones({"customer": (500, 1500)}):
            time.sleep(1.0)
            assert callback_state(lab, booked["id"])[1] == attempts  # retry_delay_s not over yet
            lab.clock.set(CALLBACK_HOURS.replace(second=40))  # 35 s later on the clock
            status, attempts = wait_attempts(lab, booked["id"], 2)
    assert status == "done", attempts
    assert [a["outcome"] for a in attempts] == ["customer_no_answer", "answered"]
    rec = call_record_events(lab, first["call_id"])
    dialled = [e for e in rec if e["kind"] == "callback_attempt"]
    assert [e["outcome"] for e in dialled] == ["customer_no_answer", "answered"]
    assert all("139****0801" in e["dial"] and caller not in e["dial"] for e in dialled)  # supervisors see it masked
    after = counters(lab)
    assert delta(before, after, "callbacks_requested") == 1 and delta(before, after, "callbacks_completed") == 1
    assert place <= first["start"] + 60  # the place is the queue entry of the first call, not the dial time
    lab.agents("logout", None, ("1002",))
    clear_queue_state(lab.settings.redis_url)


def call_record_events(lab: QueueLab, call_id: str) -> list[dict[str, Any]]:
    import json

    import redis

    from ivr import keys

    client = redis.Redis.from_url(lab.settings.redis_url, decode_responses=True)
    try:
        deadline = time.monotonic() + 5
        while True:
            events = [json.loads(e) for e in client.lrange(keys.call_events(call_id), 0, -1)]
            if sum(e["kind"] == "callback_attempt" for e in events) >= 2 or time.monotonic() > deadline:
                return events
            time.sleep(0.2)
    finally:
        client.close()
