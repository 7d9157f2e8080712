"""The AMI leader's memory between events (ivr/queueing/leader_state.py) survives a round trip through
its Redis writes: a reducer that loads what another wrote after any event gives the answer timings and
auto-pauses the first would have given. Pure: the writes are applied to a dict here (the real Redis
round trip is tests/test_queueing_listener_leader_state.py)."""

from __future__ import annotations

import json
import logging

import pytest

from ivr import keys
from ivr.queueing.heard import HeardEvents
from ivr.queueing.leader_state import RingBook, decode_misses, decode_ring, decode_rings, state_ops
from ivr.queueing.live import LiveReducer, Update
from ivr.queueing.misses import MissCounter
from ivr.state.ops import Expire, HDel, HSet, Op
from tests.test_queueing_live import SCRIPT, T, called, ev

pytestmark = pytest.mark.timeout(15)
Store = dict[str, dict[str, str]]


def reducer() -> LiveReducer:
    return LiveReducer(ring_cycle_s=5, rings=3, tz="Asia/Shanghai", autopause_after_misses=2)


def write(store: Store, ops: list[Op]) -> None:
    """What Redis does with the leader-state writes (hashes only; a TTL changes nothing here)."""
    for op in ops:
        if isinstance(op, HSet):
            store.setdefault(op.key, {}).update(op.fields)
        elif isinstance(op, HDel):
            store.get(op.key, {}).pop(op.field, None)
        else:
            assert isinstance(op, Expire) and op.seconds == 3600, op


def feed(r: LiveReducer, script: list[tuple[float, dict[str, str]]], store: Store) -> Update:
    out = Update()
    for dt, event in script:
        out.extend(r.feed(event, T + dt))
        write(store, state_ops(r.book, r.misses, 3600))
    return out


def loaded(store: Store) -> LiveReducer:
    r = reducer()
    r.book.restore(decode_rings(store.get(keys.AMI_RINGS, {}), T + 100, 3600))
    r.misses.load(decode_misses(store.get(keys.AMI_MISSES, {})))
    return r


@pytest.mark.parametrize("split", range(len(SCRIPT) + 1))
def test_a_new_leader_continues_as_the_old_one_would_have(split: int) -> None:
    r = reducer()
    feed(r, SCRIPT[:split], {})
    expected = feed(r, SCRIPT[split:], {})  # one leader throughout
    store: Store = {}
    feed(reducer(), SCRIPT[:split], store)  # the old leader, as far as it got
    got = feed(loaded(store), SCRIPT[split:], {})
    assert got.timings == expected.timings
    assert [(p.agent, p.misses) for p in got.pauses] == [(p.agent, p.misses) for p in expected.pauses]


def test_the_script_does_need_the_state() -> None:
    """Without a load (today's takeover), the split mid-ring gets another timing and misses no pause."""
    split = 9  # c1 rang 1001 (missed), rings 1002; c2 rings 1001 (miss 1 counted)
    r = reducer()
    feed(r, SCRIPT[:split], {})
    expected = feed(r, SCRIPT[split:], {})
    fresh = feed(reducer(), SCRIPT[split:], {})
    assert expected.timings["c1"].since_first_ring_s == 22.0 and fresh.timings["c1"].since_first_ring_s == 6.0
    assert [p.agent for p in expected.pauses] == ["1001"] and fresh.pauses == []


def test_a_queuestatus_resync_keeps_the_ring_timing_of_callers_still_waiting() -> None:
    r = reducer()
    r.feed(ev("QueueCallerJoin", Uniqueid="c1", Position="1"), T)
    r.feed(called("c1", "1001"), T + 2)
    r.feed(ev("QueueParams", Max="0"), T + 5)  # a reconnect's QueueStatus reply
    r.feed(ev("QueueEntry", Uniqueid="c1", Position="1", Wait="5"), T + 5)
    out = r.feed(ev("AgentConnect", Uniqueid="c1", Interface="PJSIP/1001", HoldTime="16", RingTime="14"), T + 16.5)
    timing = out.timings["c1"]
    assert timing.ring_s == 14.5 and timing.wait_s == 16.5 and timing.within_rings


def test_the_book_is_bounded_and_deletes_what_it_forgets() -> None:
    book = RingBook(gone_kept=2)
    for i in range(4):
        book.join(f"c{i}", "q", T + i)
        book.leave(f"c{i}", T + i + 1)
    store: Store = {}
    write(store, state_ops(book, MissCounter(2), 3600))
    assert sorted(store[keys.AMI_RINGS]) == ["c2", "c3"] and len(book.gone) == 2
    states = decode_rings(store[keys.AMI_RINGS], T + 10, 3600)
    fresh = RingBook(gone_kept=1)
    fresh.restore(states, forget={"old"})
    assert list(fresh.gone) == ["c3"] and fresh.touched == {"c2", "old"}  # the next write deletes them
    assert decode_rings(store[keys.AMI_RINGS], T + 10_000, 3600) == {}  # older than a pass: stale


def test_miss_streaks_round_trip_and_a_pause_resets_them() -> None:
    a, store = MissCounter(3), Store()
    a.missed("1001")
    a.missed("1001")
    write(store, state_ops(RingBook(), a, 3600))
    assert store[keys.AMI_MISSES] == {"1001": "2"}
    b = MissCounter(3)
    b.load(decode_misses(store[keys.AMI_MISSES]))
    order = b.missed("1001")
    assert order is not None and order.misses == 3
    write(store, state_ops(RingBook(), b, 3600))
    assert store[keys.AMI_MISSES] == {}  # paused: the next streak starts from 0


def test_damaged_entries_are_named_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match=r"ivr:ami:rings field 'c9'.*not a ring state"):
        decode_ring("c9", '{"since": 1}')
    caplog.set_level(logging.WARNING)
    assert decode_rings({"c9": "nope", "c1": json.dumps({"queue": "q", "since": T})}, T, 60).keys() == {"c1"}
    assert decode_misses({"1001": "x", "1002": "1"}) == {"1002": 1}
    assert "c9" in caplog.text and "'1001' is 'x'" in caplog.text


def test_heard_events_kept_by_age_unless_redis_is_out_of_reach(caplog: pytest.LogCaptureFixture) -> None:
    heard = HeardEvents(keep_s=30, hold_back_s=3, limit=5)
    heard.add({"Event": "a"}, T, held=False)
    heard.add({"Event": "b"}, T + 28, held=False)  # heard just before Redis went: may not be applied
    heard.add({"Event": "c"}, T + 30, held=True)
    heard.add({"Event": "d"}, T + 100, held=True)
    assert [h.event["Event"] for h in heard.take()] == ["b", "c", "d"]  # a: older than 30 s, a leader had it
    heard.add({"Event": "x"}, T + 100, held=True)
    heard.release()  # another node leads: it applies what it heard
    heard.add({"Event": "y"}, T + 131, held=False)
    assert [h.event["Event"] for h in heard.take()] == ["y"]
    caplog.set_level(logging.ERROR)
    for i in range(7):
        heard.add({"Event": f"e{i}"}, T + 200 + i, held=True)
    assert len(heard) == 5 and heard.lost == 2 and "2 event(s) lost" not in caplog.text
    assert "1 event(s) lost so far waiting for Redis (at most 5 kept)" in caplog.text
    with pytest.raises(ValueError, match="limit=0"):
        HeardEvents(keep_s=1, hold_back_s=1, limit=0)
