"""Hot reload: good versions swap in, bad ones never replace them, deletions keep serving,
the watcher reloads on save, and results reach Redis for the dashboard."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ivr import keys
from ivr.callflow.report import RedisReloadReporter
from ivr.callflow.store import FlowStore, ReloadResult
from tests.support.flowstore import Reloads

FIXTURES = Path(__file__).parent / "flows"
REPO_SCHEDULES = Path(__file__).parent.parent / "ivr" / "flows" / "schedules.yaml"
BASIC = (FIXTURES / "basic.yaml").read_text(encoding="utf-8")
BROKEN = BASIC.replace("1: tag_sales", "1: tag_saless")

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    shutil.copy(REPO_SCHEDULES, d / "schedules.yaml")
    (d / "basic.yaml").write_text(BASIC, encoding="utf-8")
    return d


def make_store(flows: Path, results: list[ReloadResult] | None = None) -> FlowStore:
    return FlowStore(flows, on_reload=None if results is None else results.append)


def test_reload_all_serves_valid_flows_and_skips_data_files(flows: Path) -> None:
    store = make_store(flows)
    [result] = store.reload_all()  # schedules.yaml is not a flow
    assert (result.name, result.ok) == ("basic", True)
    flow = store.get("basic")
    assert flow is not None and result.serving == flow.version
    assert store.names() == ["basic"] and store.flows() == [flow]
    assert store.last_errors("basic") == []


def test_invalid_edit_keeps_the_old_version(flows: Path) -> None:
    results: list[ReloadResult] = []
    store = make_store(flows, results)
    store.reload("basic")
    good = store.get("basic")
    assert good is not None
    (flows / "basic.yaml").write_text(BROKEN, encoding="utf-8")
    result = store.reload("basic")
    assert store.get("basic") is good
    assert (result.ok, result.serving) == (False, good.version)
    [error] = store.last_errors("basic")
    assert error.node == "main" and error.field == "choices.1" and error.line is not None
    assert "unknown target 'tag_saless'" in str(error)
    assert results[-1] is result

    (flows / "basic.yaml").write_text(BASIC.replace("再见。", "再会。"), encoding="utf-8")
    fixed = store.reload("basic")
    new = store.get("basic")
    assert fixed.ok and new is not None and new is not good and new.version != good.version
    assert store.last_errors("basic") == []


def test_brand_new_invalid_file_is_not_served(flows: Path) -> None:
    store = make_store(flows)
    (flows / "basic.yaml").write_text(BROKEN, encoding="utf-8")
    [result] = store.reload_all()
    assert not result.ok and result.serving is None and store.get("basic") is None
    assert store.last_errors("basic")


def test_deleted_file_keeps_serving_and_is_reported(flows: Path) -> None:
    results: list[ReloadResult] = []
    store = make_store(flows, results)
    store.reload("basic")
    good = store.get("basic")
    assert good is not None
    (flows / "basic.yaml").unlink()
    [result] = store.reload_all()
    assert result.deleted and not result.ok and result.serving == good.version
    assert store.get("basic") is good
    assert "file deleted; still serving version" in str(store.last_errors("basic")[0])
    never = store.reload("never_existed")
    assert never.deleted and never.serving is None and never.issues == []


def test_a_failing_callback_does_not_stop_reloads(flows: Path) -> None:
    def broken(_: ReloadResult) -> None:
        raise RuntimeError("dashboard down")

    store = FlowStore(flows, on_reload=broken)
    assert store.reload("basic").ok and store.get("basic") is not None


def test_schedule_names_come_from_schedules_yaml_and_survive_its_breakage(flows: Path) -> None:
    store = make_store(flows)
    assert store.reload("basic").ok
    (flows / "schedules.yaml").write_text("business: [not, a, schedule]\n", encoding="utf-8")
    assert store.reload("basic").ok  # last good schedule names
    (flows / "basic.yaml").write_text(BASIC.replace("schedule: business", "schedule: night"))
    result = store.reload("basic")
    assert not result.ok and "unknown schedule 'night'" in str(result.errors[0])
    fresh = make_store(flows)  # never saw a good schedules.yaml: every schedule is unknown
    (flows / "basic.yaml").write_text(BASIC, encoding="utf-8")
    assert not fresh.reload("basic").ok


async def test_watch_reloads_on_save(flows: Path) -> None:
    reloads = Reloads()
    store = FlowStore(flows, on_reload=reloads)
    store.reload_all()
    v1 = store.get("basic")
    stop = asyncio.Event()
    task = asyncio.create_task(store.watch(stop, debounce_ms=50))
    try:
        await asyncio.sleep(0.5)  # let the watcher start
        (flows / "basic.yaml").write_text(BASIC.replace("再见。", "再会。"), encoding="utf-8")
        await reloads.until(lambda: store.get("basic") is not v1)
        v2 = store.get("basic")
        (flows / "basic.yaml").write_text(BROKEN, encoding="utf-8")
        await reloads.until(lambda: store.last_errors("basic") != [])
        assert store.get("basic") is v2
        (flows / "notes.txt").write_text("not yaml")  # ignored
        (flows / "other.yaml").write_text(BASIC.replace("name: basic", "name: other"), encoding="utf-8")
        await reloads.until(lambda: store.get("other") is not None)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert store.names() == ["basic", "other"]
    assert {r.name for r in reloads.results} == {"basic", "other"}


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_reload_results_reach_redis(flows: Path, redis_client: aioredis.Redis) -> None:
    async def getter() -> aioredis.Redis | None:
        return redis_client

    reporter = RedisReloadReporter(getter, now=lambda: 1234.0)
    store = FlowStore(flows, on_reload=reporter)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(keys.FLOW_EVENTS)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation

    (flows / "basic.yaml").write_text(BROKEN, encoding="utf-8")
    store.reload("basic")
    await reporter.drain()
    raw = await redis_client.get(keys.flow_error("basic"))
    assert raw is not None
    stored = json.loads(raw)
    assert stored["at"] == 1234.0 and stored["file"] == str(flows / "basic.yaml")
    assert "unknown target 'tag_saless'" in stored["errors"][0]
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None
    event = json.loads(message["data"])
    assert (event["flow"], event["ok"], event["serving"]) == ("basic", False, None)

    (flows / "basic.yaml").write_text(BASIC, encoding="utf-8")
    store.reload("basic")
    await reporter.drain()
    assert await redis_client.get(keys.flow_error("basic")) is None
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None and json.loads(message["data"])["ok"] is True
    await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_reporter_without_redis_does_not_fail(flows: Path) -> None:
    async def down() -> aioredis.Redis | None:
        return None

    reporter = RedisReloadReporter(down)
    store = FlowStore(flows, on_reload=reporter)
    assert store.reload("basic").ok
    await reporter.drain()
