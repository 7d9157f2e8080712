from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio

from ivr import keys
from ivr.clock import FixedClock
from ivr.queueing.callbacks import CallbackRequest, CallbackStore, Duplicate, NumberRefused
from ivr.queueing.config import load_queue_config
from ivr.queueing.dialer import CallbackDialer
from ivr.queueing.numbers import BadNumber
from ivr.schedule import Schedule, Weekly
from ivr.settings import REPO_ROOT, load_settings
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(20)

SH = ZoneInfo("Asia/Shanghai")
WINDOWS = ["09:00-12:00", "15:00-18:00"]
CALLBACK = Schedule(weekly=Weekly(mon=WINDOWS, tue=WINDOWS, wed=WINDOWS, thu=WINDOWS, fri=WINDOWS, sat=WINDOWS))
MON_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # a Monday, inside the morning window
MON_13 = datetime(2026, 3, 2, 13, 0, tzinfo=SH)  # lunch: no callbacks


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def new(store: CallbackStore, number: str, enqueued_at: float, **kw: float) -> CallbackRequest:
    got = await store.request("support", number, f"call-{number}", enqueued_at, MON_10, **kw)  # type: ignore[arg-type]
    assert isinstance(got, CallbackRequest)
    return got


async def test_request_keeps_the_original_place(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    late = await new(store, "13800000002", enqueued_at=2000.0)
    early = await new(store, "13800000001", enqueued_at=1000.0)
    due = await store.due("support", MON_10, CALLBACK)
    assert [cb.id for cb in due] == [early.id, late.id]
    assert due[0].number == "13800000001" and due[0].call_id == "call-13800000001"
    assert await r.zscore(keys.callback_queue("support"), early.id) == 1000.0


async def test_second_request_from_the_same_number_is_a_duplicate(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    first = await new(store, "13800000001", enqueued_at=1000.0)
    again = await store.request("support", "+86 138-0000-0001", "call-2", 1500.0, MON_10)
    assert isinstance(again, Duplicate) and again.existing.id == first.id
    with pytest.raises(BadNumber):
        await store.request("support", "anonymous", "call-3", 1500.0, MON_10)
    assert await r.zcard(keys.callback_queue("support")) == 1


async def test_concurrent_requests_create_exactly_one(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    results = await asyncio.gather(*(store.request("support", "13900000000", f"c{i}", 1000.0 + i, MON_10)
                                     for i in range(20)))
    created = [x for x in results if isinstance(x, CallbackRequest)]
    assert len(created) == 1
    assert all(isinstance(x, Duplicate) and x.existing.id == created[0].id for x in results if x is not created[0])
    assert await r.zcard(keys.callback_queue("support")) == 1


async def test_nothing_is_due_outside_callback_hours(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    await new(store, "13800000001", enqueued_at=1000.0)
    assert await store.due("support", MON_13, CALLBACK) == []
    assert store.next_window(CALLBACK, MON_13) == datetime(2026, 3, 2, 15, 0, tzinfo=SH)
    sunday = datetime(2026, 3, 8, 10, 0, tzinfo=SH)
    assert await store.due("support", sunday, CALLBACK) == []
    assert len(await store.due("support", MON_13, CALLBACK, override="open")) == 1


async def test_claim_is_exclusive_and_an_expired_claim_is_never_dialled_again(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    cb = await new(store, "13800000001", enqueued_at=1000.0, retry_delay_s=600)
    token = await store.claim(cb.id, MON_10, lease_s=120, node="a")
    assert token
    assert not await store.claim(cb.id, MON_10 + timedelta(seconds=10))
    assert await store.due("support", MON_10 + timedelta(seconds=10), CALLBACK) == []
    later = MON_10 + timedelta(seconds=121)  # the dialer died: the claim ran out, the dial may have happened
    orphan = await store.due("support", later, CALLBACK)
    assert [(x.id, x.status, x.dialed_by) for x in orphan] == [(cb.id, "dialing", "a")]  # type: ignore[union-attr]
    assert not await store.claim(cb.id, later)  # never dialled a second time on its own
    assert await store.record_attempt(cb.id, "failed", later, {"reason": "outcome unknown"}, token=token) == "pending"
    assert await store.record_attempt(cb.id, "answered", later, token=token) is None  # that dial: recorded once
    assert not await store.claim(cb.id, later)  # retried only after retry_delay_s
    assert await store.claim(cb.id, later + timedelta(seconds=601))


async def test_retries_are_bounded_and_every_attempt_recorded(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    cb = await new(store, "13800000001", enqueued_at=1000.0, max_attempts=2, retry_delay_s=600)
    t = MON_10
    assert await store.record_attempt(cb.id, "agent_no_answer", t) == "pending"  # customer never dialled
    assert (await store.get(cb.id)).attempts == 0
    assert await store.record_attempt(cb.id, "customer_no_answer", t, {"agent": "1001"}) == "pending"
    assert await store.due("support", t + timedelta(seconds=599), CALLBACK) == []  # retry delay
    assert len(await store.due("support", t + timedelta(seconds=601), CALLBACK)) == 1
    assert await store.record_attempt(cb.id, "customer_busy", t + timedelta(seconds=601)) == "failed"
    final = await store.get(cb.id)
    assert (final.status, final.attempts, final.last_outcome) == ("failed", 2, "customer_busy")
    outcomes = [a["outcome"] for a in await store.attempts(cb.id)]
    assert outcomes == ["agent_no_answer", "customer_no_answer", "customer_busy"]
    assert (await store.attempts(cb.id))[1]["agent"] == "1001"
    assert await r.zcard(keys.callback_queue("support")) == 0
    assert 0 < await r.ttl(keys.callback(cb.id))
    # the number is free again: a new request creates a new callback
    assert isinstance(await store.request("support", "13800000001", "c9", 5000.0, t), CallbackRequest)


async def test_answered_attempt_completes_and_frees_the_number(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    cb = await new(store, "13800000001", enqueued_at=1000.0)
    assert await store.complete(cb.id, MON_10) == "done"
    assert (await store.get(cb.id)).finished_at == MON_10.timestamp()
    assert await store.record_attempt(cb.id, "failed", MON_10) == "done"  # finished stays finished
    assert await r.get(keys.callback_by_number("13800000001")) is None
    assert await store.due("support", MON_10, CALLBACK) == []


async def test_the_plan_refuses_at_booking(r: redis.asyncio.Redis) -> None:
    cfg = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
    store = CallbackStore(r, plan=cfg.callback_numbers)
    for number, reason in (("110", "emergency"), ("+447700900123", "international"), ("10086", "short_code")):
        with pytest.raises(NumberRefused) as info:
            await store.request("support", number, "c1", 1000.0, MON_10)
        assert info.value.reason == reason
    with pytest.raises(BadNumber):
        await store.request("support", "anonymous", "c1", 1000.0, MON_10)
    assert await r.zcard(keys.callback_queue("support")) == 0
    assert isinstance(await store.request("support", "+86 10 6234 5678", "c2", 1000.0, MON_10), CallbackRequest)


async def test_the_dialer_fails_what_it_cannot_dial_without_claiming_and_goes_on(
        r: redis.asyncio.Redis, redis_url: str, tmp_path: Path) -> None:
    """Callbacks stored before the numbering plan (a +44 caller ID, an emergency number) and a record that
    does not decode: each is failed with its reason and counted, none is claimed, the tick goes on (AMI is
    never asked: nothing here may be dialled, and no Asterisk listens on the AMI port)."""
    cfg = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
    old = CallbackStore(r)  # no plan: how callbacks were booked before
    intl = await new(old, "+447700900123", enqueued_at=1000.0)
    emergency = await new(old, "110", enqueued_at=1001.0)
    await r.hset(keys.callback("broken"), mapping={"id": '"broken"', "status": "{not json"})
    await r.zadd(keys.callback_queue("support"), {"broken": 1002.0})
    settings = load_settings(redis_url=redis_url, ami_port=free_port(), state_dir=tmp_path)

    async def getter() -> redis.asyncio.Redis:
        return r

    dialer = CallbackDialer(settings, cfg, {"callback": CALLBACK}, FixedClock(MON_10), getter)
    assert await dialer.tick() == 0
    assert (dialer.failed_undialable, dialer.errors, dialer.attempts) == (3, 0, 0)
    for cb, reason in ((intl, "international"), (emergency, "emergency")):
        got = await old.get(cb.id)
        assert (got.status, got.failed_reason, got.claimed_until) == ("failed", reason, 0.0)
        assert await old.attempts(cb.id) == []  # never dialled
        assert await r.get(keys.callback_by_number(cb.number)) is None
    assert json.loads(await r.hget(keys.callback("broken"), "failed_reason")).startswith("unreadable: ")
    assert await r.zcard(keys.callback_queue("support")) == 0
    day = datetime.now(ZoneInfo(settings.timezone)).date().isoformat()  # counters are kept by real day
    counters = await r.hgetall(keys.queue_day("support", day))
    assert counters[b"callbacks_failed"] == b"3"
    assert await dialer.tick() == 0  # nothing left to do, nothing raised
