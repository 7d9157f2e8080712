"""ivr.tasks.TaskSupervisor: a background task never dies silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from ivr.tasks import Backoff, TaskSupervisor

pytestmark = pytest.mark.timeout(20)
FAST = Backoff(first=0.01, factor=2.0, most=0.05, stable_after=60.0)


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 (polling a condition the supervisor has no event for)
            await asyncio.sleep(0.005)


async def test_a_dying_task_is_logged_counted_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    recorded: list[str] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise KeyError("bug in an event handler")
        await asyncio.Event().wait()

    async def on_death(name: str) -> None:
        recorded.append(name)

    sup = TaskSupervisor(backoff=FAST, on_death=on_death)
    sup.spawn("listener", flaky)
    await _until(lambda: len(runs) == 3)
    assert sup.deaths["listener"] == 2 and recorded == ["listener", "listener"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in errors)
    assert sup.names == ["listener"]
    await sup.stop()
    assert sup.names == []


async def test_a_task_that_returns_is_a_death_too() -> None:
    runs: list[int] = []

    async def returns() -> None:
        runs.append(1)

    sup = TaskSupervisor(backoff=FAST)
    sup.spawn("dialer", returns)
    await _until(lambda: len(runs) >= 2)
    assert sup.deaths["dialer"] >= 1
    await sup.stop()


async def test_a_fatal_task_stops_the_service_instead_of_restarting() -> None:
    fatal: list[tuple[str, str]] = []

    async def broken() -> None:
        raise RuntimeError("cannot go on")

    sup = TaskSupervisor(backoff=FAST, on_fatal=lambda name, exc: fatal.append((name, str(exc))))
    sup.spawn("writer", broken, restart=False)
    await _until(lambda: bool(fatal))
    await asyncio.sleep(0.05)
    assert fatal == [("writer", "cannot go on")] and sup.deaths["writer"] == 1


async def test_a_failing_death_hook_does_not_stop_the_restart(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("boom")
        await asyncio.Event().wait()

    async def redis_down(name: str) -> None:
        raise ConnectionError("redis down")

    sup = TaskSupervisor(backoff=FAST, on_death=redis_down)
    sup.spawn("listener", flaky)
    await _until(lambda: len(runs) == 2)
    assert any("not recorded" in r.getMessage() for r in caplog.records)
    await sup.stop()


async def test_duplicate_names_are_refused() -> None:
    sup = TaskSupervisor(backoff=FAST)
    sup.spawn("x", asyncio.Event().wait)
    with pytest.raises(ValueError, match="already running"):
        sup.spawn("x", asyncio.Event().wait)
    await sup.stop()


async def test_an_error_while_stopping_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def bad_cleanup() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise OSError("socket close failed")

    sup = TaskSupervisor(backoff=FAST)
    sup.spawn("ami", bad_cleanup)
    await asyncio.sleep(0.01)
    await sup.stop()
    assert any("failed while stopping" in r.getMessage() for r in caplog.records)
