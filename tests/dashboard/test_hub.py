"""The wallboard hub: one poller while someone listens, a push only on a real change, newest only;
periodic jobs under the TaskSupervisor."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dashboard.hub import Hub
from dashboard.periodic import Periodic
from ivr.tasks import TaskSupervisor

pytestmark = pytest.mark.timeout(30)


async def test_pushes_changes_only_and_slow_clients_get_the_newest() -> None:
    state: dict[str, Any] = {"at": 0, "waiting": 0}
    reads = 0

    async def snapshot() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        state["at"] += 1  # a timestamp alone is not a change
        return dict(state)

    hub, tasks = Hub(snapshot, interval=0.01), TaskSupervisor()
    hub.start(tasks)
    async with hub.subscribe() as q:
        first = await asyncio.wait_for(q.get(), 1)
        assert '"waiting": 0' in first
        await asyncio.sleep(0.1)
        assert q.empty() and reads > 3  # polled, nothing new pushed
        state["waiting"] = 1
        state["waiting"] = 2  # two changes before the client reads: it sees the newest
        await asyncio.sleep(0.1)
        assert '"waiting": 2' in q.get_nowait() and q.empty()
        async with hub.subscribe() as late:
            assert '"waiting": 2' in late.get_nowait()  # a new client gets the current state at once
        assert hub.clients == 1
    await asyncio.sleep(0.05)
    polled = reads
    await asyncio.sleep(0.1)
    assert reads == polled  # nobody listening: no polling
    hub.stop()
    await tasks.stop()


async def test_a_failing_read_is_reported_not_fatal() -> None:
    calls = 0

    async def snapshot() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("redis down")
        return {"waiting": 3}

    hub, tasks = Hub(snapshot, interval=0.01), TaskSupervisor()
    hub.start(tasks)
    async with hub.subscribe() as q:
        assert "live state unavailable: redis down" in await asyncio.wait_for(q.get(), 1)
        assert '"waiting": 3' in await asyncio.wait_for(q.get(), 1)
    hub.stop()
    await tasks.stop()


async def test_a_stopped_periodic_job_ends_without_counting_a_death() -> None:
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            raise ConnectionError("redis down")  # a failing run is logged, the next one runs

    tasks = TaskSupervisor()
    periodic = Periodic("tick", job, 0.01)
    periodic.start(tasks)
    await asyncio.sleep(0.1)
    periodic.stop()
    await asyncio.sleep(0.05)
    assert runs >= 3 and not tasks.deaths and tasks.names == []
    await tasks.stop()
