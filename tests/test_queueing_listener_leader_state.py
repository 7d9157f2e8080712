"""The AMI leader's memory survives a change of leader and a Redis outage, over a real redis-server.

Takeover: node a applies a caller's first rings and an agent's first miss, then dies while the caller
rings another phone; node b takes over and hears the answer and the agent's next miss. The caller's
answer timing on its call record is the one a single leader would have written (not rebuilt from the
AgentConnect's rounded RingTime, which here would even say "within 3 rings" for a 15.4 s ring), and
the second miss in a row pauses the agent. Outage: one node hears agent events while Redis is down
for longer than a standby keeps events; once Redis is back they are all on the call record, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from ivr import keys
from ivr.queueing.config import load_queue_config
from ivr.queueing.listener import QueueListener
from ivr.queueing.live import LiveReducer
from ivr.queueing.model import QueueConfig
from ivr.schedule import load_schedules
from ivr.settings import REPO_ROOT, Settings, load_settings
from ivr.state.lease import LeaderLease
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter
from tests.support.components import RedisServer, free_port

pytestmark = pytest.mark.timeout(40)
FLOWS = REPO_ROOT / "ivr" / "flows"
Q = "support"


def event(name: str, ts: float, **fields: str) -> dict[str, str]:
    return {"Event": name, "Queue": Q, "Timestamp": f"{ts:.6f}", **fields}


def called(uid: str, agent: str, ts: float) -> dict[str, str]:
    return event("AgentCalled", ts, Uniqueid=uid, Interface=f"PJSIP/{agent}", MemberName=agent)


def missed(uid: str, agent: str, ts: float, ring_s: int) -> dict[str, str]:
    return event("AgentRingNoAnswer", ts, Uniqueid=uid, Interface=f"PJSIP/{agent}", RingTime=str(ring_s * 1000))


def connect(uid: str, agent: str, ts: float, hold_s: int, ring_s: int) -> dict[str, str]:
    """As Asterisk sends it: HoldTime and RingTime in whole seconds."""
    return event("AgentConnect", ts, Uniqueid=uid, Interface=f"PJSIP/{agent}", HoldTime=str(hold_s),
                 RingTime=str(ring_s))


def join(uid: str, ts: float) -> dict[str, str]:
    return event("QueueCallerJoin", ts, Uniqueid=uid, Position="1", CallerIDNum="13900000001")


def reference(settings: Settings, cfg: QueueConfig, events: list[dict[str, str]]) -> dict[str, Any]:
    """The answer timing one leader, never replaced, writes for these events."""
    r = LiveReducer(settings.ring_cycle_s or cfg.ring_cycle_s, cfg.rings, settings.timezone,
                    cfg.autopause_after_misses)
    timings = {}
    for e in events:
        timings.update(r.feed(e, float(e["Timestamp"])).timings)
    return timings["u1"].model_dump()


async def until(cond: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not await cond():  # noqa: ASYNC110 - polling Redis, which has no event to wait on
            await asyncio.sleep(0.05)


async def record(client: aioredis.Redis, uid: str) -> tuple[dict[str, Any], list[str]]:
    fields = {str(k): json.loads(v) for k, v in (await client.hgetall(keys.call(uid))).items()}
    kinds = [str(json.loads(x)["kind"]) for x in await client.lrange(keys.call_events(uid), 0, -1)]
    return fields, kinds


@pytest.fixture
def cfg() -> QueueConfig:
    cfg = load_queue_config(FLOWS / "queues.yaml", schedules=load_schedules(FLOWS / "schedules.yaml"))
    assert cfg.autopause_after_misses == 2 and cfg.rings == 3
    return cfg


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield c
    await c.aclose()


class Node:
    """One `ivr serve`'s listener side: its own Redis connection, lease, record writer and listener."""

    def __init__(self, name: str, url: str, settings: Settings, cfg: QueueConfig, keep_s: float = 30.0) -> None:
        self.hub = RedisHub(url, socket_timeout=0.5, connect_timeout=0.5, backoff_max=0.5)
        self.lease = LeaderLease(self.hub.client, name, lease_s=3, renew_s=1)
        self.writer = RecordWriter(self.hub, keys.call_record_ttl_s(settings), retry_interval=0.1)
        self.listener = QueueListener(settings, cfg, self.hub.client, self.writer, lease=self.lease,
                                      backoff_max_s=0.5, standby_keep_s=keep_s)
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, run_lease: bool = False) -> None:
        await self.writer.start()
        self.tasks.append(asyncio.create_task(self.listener.run()))
        if run_lease:
            self.tasks.append(asyncio.create_task(self.lease.run()))

    def hear(self, *events: dict[str, str]) -> None:
        for e in events:
            self.listener._on_event(None, e)  # what panoramisk calls for each AMI event

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.writer.stop(flush_timeout=1.0)
        await self.hub.close()


async def test_a_call_ringing_during_a_takeover_keeps_its_timing_and_a_miss_streak_continues(
        redis_url: str, client: aioredis.Redis, cfg: QueueConfig, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(redis_url=redis_url, ami_port=free_port(), state_dir=tmp_path)  # no AMI: events fed
    cycle = settings.ring_cycle_s or cfg.ring_cycle_s
    t0 = time.time() - 60
    before = [join("u1", t0), called("u1", "1002", t0 + 1), missed("u1", "1002", t0 + 14, 13)]
    ringing = called("u1", "1001", t0 + 15)  # a dies before it applies this one
    answered = connect("u1", "1001", t0 + 15 + 3 * cycle + 0.4, hold_s=int(15 + 3 * cycle), ring_s=int(3 * cycle))
    streak = [join("u2", t0 + 40), called("u2", "1002", t0 + 41), missed("u2", "1002", t0 + 56, 15)]
    a, b = Node("a", redis_url, settings, cfg), Node("b", redis_url, settings, cfg)
    caplog.set_level(logging.WARNING, logger="ivr.queueing.listener")
    try:
        await a.start()
        await b.start()
        assert await a.lease.step() and not await b.lease.step()
        assert b.lease.redis_ok and b.lease.held_elsewhere  # b's events are a's to apply: kept by age
        await until(lambda: _true(a.listener.active))
        a.hear(*before)
        b.hear(*before)  # Asterisk sends every event to both sessions
        await until(lambda: _eq(client.zcard(keys.AMI_APPLIED), len(before)))
        await a.stop()  # node a dies; its lease is left to expire
        a.lease._valid_until = 0.0
        b.hear(ringing)
        await client.delete(keys.LEADER)  # the dead holder's lease expired
        assert await b.lease.step()
        await until(lambda: _true(b.listener.active))
        b.hear(answered, *streak)
        await until(lambda: _has(client, "u1", "answer_timing"))
        fields, kinds = await record(client, "u1")
        want = reference(settings, cfg, [*before, ringing, answered])
        assert want["within_rings"] is False and want["since_first_ring_s"] == pytest.approx(14.4 + 3 * cycle)
        assert fields["answer_timing"] == pytest.approx(want)
        assert fields["answered_within_3_rings"] is False
        assert kinds == ["agent_called", "agent_missed", "agent_called", "agent_connect"]  # each once
        await until(lambda: _true("agent 1002: auto: missed 2 calls in a row" in caplog.text))
        assert b.listener.duplicates == len(before) and b.listener.replayed == 1
    finally:
        await a.stop()
        await b.stop()


async def test_agent_events_heard_while_redis_is_down_reach_the_call_record(
        cfg: QueueConfig, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings = load_settings(redis_url=server.url, ami_port=free_port(), state_dir=tmp_path)
    node = Node("solo", server.url, settings, cfg, keep_s=1.0)  # a standby keeps 1 s; the outage lasts longer
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        await node.start(run_lease=True)
        await until(lambda: _true(node.listener.active))
        t = time.time()
        first = [join("u1", t), called("u1", "1001", t + 0.1)]
        node.hear(*first)
        await until(lambda: _eq(client.llen(keys.call_events("u1")), 1))  # written before Redis goes
        await client.save()  # the restarted Redis keeps its data, as a production one would
        server.stop()
        outage = []
        for e in (missed("u1", "1001", time.time(), 15), called("u1", "1002", time.time() + 0.1)):
            outage.append(e)
            node.hear(e)
            await asyncio.sleep(2.0)
        last = connect("u1", "1002", time.time(), hold_s=int(time.time() - t), ring_s=2)
        outage.append(last)
        node.hear(last)
        await until(lambda: _false(node.lease.leading))
        await asyncio.sleep(1.5)
        server.start()
        await until(lambda: _has(client, "u1", "answer_timing"), within=15)
        fields, kinds = await record(client, "u1")
        assert kinds == ["agent_called", "agent_missed", "agent_called", "agent_connect"]
        assert fields["agent"] == "1002" and fields["answer_timing"] == pytest.approx(
            reference(settings, cfg, [*first, *outage]))
        assert node.listener.heard.lost == 0
    finally:
        await node.stop()
        await client.aclose()
        server.stop()


async def _true(v: bool) -> bool:
    return v


async def _false(v: bool) -> bool:
    return not v


async def _eq(aw: Awaitable[int], want: int) -> bool:
    return await aw == want


async def _has(client: aioredis.Redis, uid: str, field: str) -> bool:
    try:
        return bool(await client.hexists(keys.call(uid), field))
    except (aioredis.ConnectionError, OSError):
        return False
