from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from ivr import keys
from ivr.state.callrecord import CallRecorder, CallStore, RecordWriter
from ivr.state.redis import RedisHub
from tests.support.components import RedisServer

pytestmark = pytest.mark.timeout(60)
TTL = 120 * 86400


async def wait_for(cond: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def fast_hub(url: str) -> RedisHub:
    return RedisHub(url, socket_timeout=0.5, connect_timeout=0.2, backoff_min=0.05, backoff_max=0.2)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


def start_call(writer: RecordWriter, call_id: str, now: Callable[[], float] = time.time) -> CallRecorder:
    rec = CallRecorder(writer, now=now)
    rec.start(call_id, caller="13800000000", called="4008000000", flow="main", flow_version="v3",
              language="zh-CN", channel="PJSIP/trunk-0001")
    return rec


async def test_record_written_and_read_back(redis_url: str, client: aioredis.Redis) -> None:
    hub = fast_hub(redis_url)
    writer = RecordWriter(hub, TTL)
    await writer.start()
    try:
        rec = start_call(writer, "c1")
        rec.event("node", node="welcome")
        rec.event("dtmf", digits="1", odd=Path("/x"))  # non-JSON values are stringified, not raised
        rec.set("queue", "sales")
        rec.finish("answered")
        await writer.stop(flush_timeout=5)
        record = await CallStore(client).get("c1")
    finally:
        await hub.close()
    assert record is not None
    assert record["caller"] == "13800000000" and record["flow_version"] == "v3"
    assert record["queue"] == "sales" and record["outcome"] == "answered"
    assert record["end"] >= record["start"] and record["duration"] >= 0
    assert [e["kind"] for e in record["events"]] == ["node", "dtmf"]
    assert record["events"][1]["odd"] == "/x" and isinstance(record["events"][0]["t"], float)
    # TTL on both keys, the index has the call scored by its start.
    for key in (keys.call("c1"), keys.call_events("c1")):
        assert TTL - 60 < await client.ttl(key) <= TTL
    assert await client.zscore(keys.CALLS_INDEX, "c1") == pytest.approx(record["start"])
    assert await CallStore(client).get("nope") is None


async def test_recorder_never_raises_before_start(redis_url: str) -> None:
    writer = RecordWriter(fast_hub(redis_url), TTL)
    rec = CallRecorder(writer)
    rec.event("node", node="x")
    rec.set("queue", "x")
    rec.finish("hangup")
    assert writer.pending == 0


async def test_list_newest_first_with_filters(redis_url: str, client: aioredis.Redis) -> None:
    hub = fast_hub(redis_url)
    writer = RecordWriter(hub, TTL)
    await writer.start()
    base = time.time() - 3600
    for i in range(5):
        start_call(writer, f"call{i}", now=lambda i=i: base + i * 60).finish("answered")  # type: ignore[misc]
    await writer.stop(flush_timeout=5)
    await hub.close()
    store = CallStore(client)
    assert [r["call_id"] for r in await store.list(limit=10)] == [f"call{i}" for i in (4, 3, 2, 1, 0)]
    assert [r["call_id"] for r in await store.list(limit=2)] == ["call4", "call3"]
    window = await store.list(since=base + 60, until=base + 180, limit=10)
    assert [r["call_id"] for r in window] == ["call3", "call2", "call1"]
    assert "events" not in window[0]


async def test_outage_buffers_and_flushes_in_order(tmp_path: Path) -> None:
    """Redis goes away mid-call (saving its data, as a real restart would) and comes back."""
    server = RedisServer(tmp_path)
    server.start()
    hub = fast_hub(server.url)
    writer = RecordWriter(hub, TTL, retry_interval=0.05)
    await writer.start()
    try:
        rec = start_call(writer, "outage")
        rec.event("node", node="before")
        await wait_for(lambda: writer.pending == 0)
        sync = redis.Redis.from_url(server.url)
        sync.shutdown(save=True)  # writes dump.rdb, which the restarted server loads
        sync.close()
        server.stop()
        assert (tmp_path / "dump.rdb").is_file()
        for i in range(50):
            rec.event("node", node=f"during{i}")
        rec.set("queue", "sales")
        rec.finish("answered")
        await asyncio.sleep(0.3)  # the writer tries, fails, keeps everything
        assert writer.pending == 52
        server.start()
        await wait_for(lambda: writer.pending == 0)
        c = aioredis.Redis.from_url(server.url)
        record = await CallStore(c).get("outage")
        ttl = await c.ttl(keys.call_events("outage"))
        await c.aclose()
    finally:
        await writer.stop(flush_timeout=1)
        await hub.close()
        server.stop()
    assert record is not None
    assert [e["node"] for e in record["events"]] == ["before"] + [f"during{i}" for i in range(50)]
    assert record["caller"] == "13800000000" and record["outcome"] == "answered"
    assert record["queue"] == "sales"
    assert TTL - 60 < ttl <= TTL
    assert writer.dropped == 0


async def test_buffer_overflow_drops_oldest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = RedisServer(tmp_path)  # down at first
    hub = fast_hub(server.url)
    writer = RecordWriter(hub, TTL, buffer_limit=5, retry_interval=0.05)
    await writer.start()
    try:
        rec = CallRecorder(writer)
        rec.call_id = "ovf"  # events only, so the buffer holds exactly what we count
        for i in range(8):
            rec.event("n", i=i)
        await wait_for(lambda: writer.dropped == 3)
        assert writer.pending == 5
        assert "dropped" in caplog.text
        server.start()
        await wait_for(lambda: writer.pending == 0)
        c = aioredis.Redis.from_url(server.url)
        record = await CallStore(c).get("ovf")
        await c.aclose()
    finally:
        await writer.stop(flush_timeout=1)
        await hub.close()
        server.stop()
    assert record is not None and [e["i"] for e in record["events"]] == [3, 4, 5, 6, 7]
