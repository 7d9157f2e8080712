from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio

from ivr import keys
from ivr.queueing.live import LiveReducer, Update, abandon_bucket, callback_ops, overflow_ops
from ivr.queueing.overflow import OverflowDecision
from ivr.state.ops import apply_ops

pytestmark = pytest.mark.timeout(15)

T = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
DAY = "2026-03-02"
Q = "support"


def ev(name: str, **fields: str) -> dict[str, str]:
    return {"Event": name, "Queue": Q, **fields}


def member(agent: str) -> dict[str, str]:
    return ev("QueueMemberAdded", Interface=f"PJSIP/{agent}", MemberName=agent, Paused="0", Status="1")


def called(uid: str, agent: str) -> dict[str, str]:
    return ev("AgentCalled", Uniqueid=uid, Interface=f"PJSIP/{agent}", MemberName=agent)


# (seconds after T, event) -- a morning in the life of one queue.
SCRIPT: list[tuple[float, dict[str, str]]] = [
    (0, member("1001")),
    (0, member("1002")),
    (1, ev("QueueCallerJoin", Uniqueid="c1", CallerIDNum="13800000001", Position="1", Count="1")),
    (2, ev("QueueCallerJoin", Uniqueid="c2", CallerIDNum="13800000002", Position="2", Count="2")),
    (3, ev("QueueCallerJoin", Uniqueid="c3", CallerIDNum="13800000003", Position="3", Count="3")),
    (3, called("c1", "1001")),
    (18, ev("AgentRingNoAnswer", Uniqueid="c1", Interface="PJSIP/1001", RingTime="15")),  # miss 1
    (19, called("c1", "1002")),
    (20, called("c2", "1001")),
    (25, ev("QueueCallerLeave", Uniqueid="c1", Position="1", Count="2")),
    # 1002 answers 6 s after its own first ring (in time), 22 s after the caller's first ring at 1001
    (25, ev("AgentConnect", Uniqueid="c1", Interface="PJSIP/1002", HoldTime="24", RingTime="6")),
    (35, ev("AgentRingNoAnswer", Uniqueid="c2", Interface="PJSIP/1001", RingTime="15")),  # miss 2 -> pause
    (36, ev("QueueMemberPause", Interface="PJSIP/1001", Paused="1", PausedReason="auto: missed 2 calls in a row")),
    (40, ev("QueueCallerAbandon", Uniqueid="c2", Position="1", OriginalPosition="2", HoldTime="38")),
    (40, ev("QueueCallerLeave", Uniqueid="c2", Position="1", Count="1")),
    (85, ev("AgentComplete", Uniqueid="c1", Interface="PJSIP/1002", HoldTime="24", TalkTime="60", Reason="caller")),
    (86, called("c3", "1002")),
    (90, ev("QueueCallerLeave", Uniqueid="c3", Position="1", Count="0")),
    (90, ev("AgentConnect", Uniqueid="c3", Interface="PJSIP/1002", HoldTime="87", RingTime="4")),
]


def run(reducer: LiveReducer, script: list[tuple[float, dict[str, str]]]) -> Update:
    out = Update()
    for dt, event in script:
        out.extend(reducer.feed(event, T + dt))
    return out


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_counters_are_exact_for_a_scripted_morning(r: redis.asyncio.Redis) -> None:
    reducer = LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=2)
    for dt, event in SCRIPT:  # applied event by event, as the listener does
        await apply_ops(r, reducer.feed(event, T + dt).ops)
    day = await r.hgetall(keys.queue_day(Q, DAY))
    assert {k: float(v) for k, v in day.items()} == {
        "offered": 3, "answered": 2, "answered_in_time": 2, "abandoned": 1, "abandoned_wait:30-60s": 1,
        "abandoned_wait_s": 38, "rang_out": 2, "wait_s": 24 + 87,
    }
    assert await r.hgetall(keys.queue_callers(Q)) == {}
    agents = {a: json.loads(v) for a, v in (await r.hgetall(keys.queue_agents(Q))).items()}
    assert agents["1001"] == {"state": "paused", "since": T + 36, "reason": "auto: missed 2 calls in a row"}
    assert agents["1002"] == {"state": "on_call", "since": T + 90}
    assert [json.loads(x) for x in await r.lrange(keys.queue_handle_times(Q), 0, -1)] == [60.0]
    assert 0 < await r.ttl(keys.queue_day(Q, DAY))


def test_pause_orders_and_answer_timings() -> None:
    reducer = LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=2)
    out = run(reducer, SCRIPT)
    assert [(p.agent, p.misses) for p in out.pauses] == [("1001", 2)]
    c1, c2, c3 = out.timings["c1"], out.timings["c2"], out.timings["c3"]
    assert (c1.answered, c1.wait_s, c1.ring_s, c1.within_rings) == (True, 24, 6, True)
    assert c1.since_first_ring_s == 22  # the ring-out at 1001 stays on the caller's record
    assert (c2.answered, c2.wait_s, c2.within_rings) == (False, 38, False)
    assert (c3.wait_s, c3.ring_s, c3.rings, c3.within_rings) == (87, 4, 1, True)
    assert c3.since_first_ring_s == 4


def test_a_slow_answer_on_the_ringing_phone_is_late() -> None:
    reducer = LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=0)
    script = [(0, member("1001")), (1, ev("QueueCallerJoin", Uniqueid="y", Position="1")),
              (2, called("y", "1001")), (18, ev("AgentConnect", Uniqueid="y", Interface="PJSIP/1001"))]
    timing = run(reducer, script).timings["y"]
    assert (timing.ring_s, timing.rings, timing.within_rings) == (16, 4, False)


def test_a_six_second_cycle_changes_what_is_in_time() -> None:
    reducer = LiveReducer(ring_cycle_s=6, rings=3, tz="Asia/Shanghai", autopause_after_misses=0)
    script = [(0, member("1001")), (1, ev("QueueCallerJoin", Uniqueid="x", Position="1")),
              (2, called("x", "1001")), (19, ev("AgentConnect", Uniqueid="x", Interface="PJSIP/1001"))]
    out = run(reducer, script)
    assert out.timings["x"].within_rings  # 17 s <= 18 s; with a 5 s cycle it would be late
    assert out.pauses == []


async def test_queue_status_reply_replaces_the_live_state(r: redis.asyncio.Redis) -> None:
    reducer = LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=2)
    await apply_ops(r, run(reducer, SCRIPT[:5]).ops)  # 2 agents, 3 callers
    reply = [
        {"Event": "QueueParams", "Queue": Q, "Calls": "1"},
        {"Event": "QueueMember", "Queue": Q, "Location": "PJSIP/1003", "Name": "1003", "Status": "2",
         "InCall": "1", "Paused": "0"},
        {"Event": "QueueEntry", "Queue": Q, "Position": "1", "Uniqueid": "c9", "CallerIDNum": "139", "Wait": "12"},
        {"Event": "QueueStatusComplete", "EventList": "Complete"},
    ]
    await apply_ops(r, reducer.feed_many(reply, T + 100).ops)
    callers = {u: json.loads(v) for u, v in (await r.hgetall(keys.queue_callers(Q))).items()}
    assert callers == {"c9": {"caller": "139", "since": T + 88, "position": 1, "priority": 0}}
    agents = {a: json.loads(v)["state"] for a, v in (await r.hgetall(keys.queue_agents(Q))).items()}
    assert agents == {"1003": "on_call"}
    assert (await r.hgetall(keys.queue_day(Q, DAY)))["offered"] == "3"  # counters are not reset


async def test_day_rolls_over_at_local_midnight(r: redis.asyncio.Redis) -> None:
    reducer = LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=2)
    midnight = datetime(2026, 3, 3, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    await apply_ops(r, reducer.feed(ev("QueueCallerJoin", Uniqueid="a"), midnight - 1).ops)
    await apply_ops(r, reducer.feed(ev("QueueCallerJoin", Uniqueid="b"), midnight).ops)
    assert (await r.hgetall(keys.queue_day(Q, "2026-03-02")))["offered"] == "1"
    assert (await r.hgetall(keys.queue_day(Q, "2026-03-03")))["offered"] == "1"


async def test_engine_counters_for_overflow_and_callbacks(r: redis.asyncio.Redis) -> None:
    decision = OverflowDecision(
        queue=Q, rule="peak-long-wait", reason_code="estimated_wait", reason="x", target_kind="callback",
        target=None, phase="arrival", waited_s=0, during="peak", at="2026-03-02T10:00:00+08:00",
        observed=700, threshold=600)
    await apply_ops(r, overflow_ops(decision, DAY) + overflow_ops(decision, DAY))
    await apply_ops(r, callback_ops(Q, DAY, "requested") + callback_ops(Q, DAY, "completed"))
    day = await r.hgetall(keys.queue_day(Q, DAY))
    assert day == {"overflow:peak-long-wait": "2", "overflow_reason:estimated_wait": "2",
                   "callbacks_requested": "1", "callbacks_completed": "1"}
    with pytest.raises(ValueError, match="callback counter"):
        callback_ops(Q, DAY, "dialled")


def test_unknown_events_and_buckets() -> None:
    reducer = LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=2)
    assert reducer.feed({"Event": "Newchannel"}, T) == Update()
    assert [abandon_bucket(s) for s in (0, 10, 11, 45, 90, 121)] == [
        "0-10s", "0-10s", "10-30s", "30-60s", "60-120s", "120s+"]
