"""The hot reload's limits: a flow file saved straight into the flows directory that is too large,
or too slow to check, is refused like an invalid one (ERROR log naming the file and why, reported
to on_reload) while the event loop runs on and the previous good version keeps serving."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.callflow.loader import MAX_FLOW_BYTES
from ivr.callflow.model import Flow
from ivr.callflow.store import FlowStore, ReloadResult
from ivr.files import atomic_write
from tests.support.flowstore import Reloads, big_flow

BASIC = (Path(__file__).parent / "flows" / "basic.yaml").read_text(encoding="utf-8")
REPO_SCHEDULES = Path(__file__).parent.parent / "ivr" / "flows" / "schedules.yaml"
LIMIT_S = 0.5  # the check of big_flow(BASIC) takes seconds: always past this limit

pytestmark = pytest.mark.timeout(60)


class LoopTurns:
    """Counts the event loop's turns in which a call starting then would get the good version;
    `checks_began` holds the count each time a check asked for the schedule names (as it begins)."""

    def __init__(self) -> None:
        self.good: Flow | None = None
        self.store: FlowStore | None = None
        self.turns = 0
        self.checks_began: list[int] = []
        self.at_result: list[int] = []
        self.reloaded = asyncio.Event()

    def schedule_names(self) -> list[str]:
        self.checks_began.append(self.turns)
        return ["business"]

    def on_reload(self, result: ReloadResult) -> None:
        self.at_result.append(self.turns)
        self.reloaded.set()

    async def run(self) -> None:
        while True:
            if self.store is not None and self.good is not None and self.store.get("basic") is self.good:
                self.turns += 1
            await asyncio.sleep(0)  # one turn of the loop: the counter moves only when the loop is free


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    shutil.copy(REPO_SCHEDULES, d / "schedules.yaml")
    (d / "basic.yaml").write_text(BASIC, encoding="utf-8")
    return d


@pytest.fixture
async def watched(flows: Path) -> AsyncIterator[tuple[FlowStore, Reloads]]:
    """A store serving basic.yaml, its watcher running (debounce 50 ms)."""
    reloads = Reloads()
    store = FlowStore(flows, on_reload=reloads, check_timeout=LIMIT_S)
    assert store.reload("basic").ok
    reloads.results.clear()  # only the watcher's reloads from here
    stop = asyncio.Event()
    task = asyncio.create_task(store.watch(stop, debounce_ms=50))
    await asyncio.sleep(0.5)  # let the watcher start
    yield store, reloads
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_an_oversize_file_is_refused_unread_and_the_old_version_serves(
    watched: tuple[FlowStore, Reloads], flows: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, reloads = watched
    good = store.get("basic")
    assert good is not None
    padding = "# a valid flow, only too large\n" * (MAX_FLOW_BYTES // 30)
    path = flows / "basic.yaml"
    with caplog.at_level(logging.ERROR, logger="ivr.callflow.store"):
        atomic_write(path, BASIC + padding)  # one change event, as the editor saves
        await reloads.until(lambda: bool(reloads.results))
    [result] = reloads.results
    assert (result.ok, result.serving) == (False, good.version) and store.get("basic") is good
    [error] = result.errors
    assert str(error) == (f"{path}: refused unchecked: {path.stat().st_size} bytes, larger than the "
                          f"{MAX_FLOW_BYTES}-byte limit of a flow file")
    assert store.last_errors("basic") == [error]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(path) in record.getMessage() and "larger than the" in record.getMessage()
    assert f"still serving version {good.version}" in record.getMessage()


async def test_a_check_past_the_time_limit_is_refused_while_the_loop_serves_the_old_version(
    flows: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Counted, not timed: a check on the event loop lets the loop turn not once until it ends,
    however fast the machine; off the loop it turns many times while the check runs."""
    loop = LoopTurns()
    store = FlowStore(flows, schedule_names=loop.schedule_names, on_reload=loop.on_reload, check_timeout=LIMIT_S)
    assert store.reload("basic").ok
    loop.store, loop.good = store, store.get("basic")
    assert loop.good is not None
    stop = asyncio.Event()
    ticker = asyncio.create_task(loop.run())
    watcher = asyncio.create_task(store.watch(stop, debounce_ms=50))
    path = flows / "basic.yaml"
    try:
        await asyncio.sleep(0.5)  # let the watcher start
        with caplog.at_level(logging.WARNING, logger="ivr.callflow.store"):
            atomic_write(path, big_flow(BASIC))
            async with asyncio.timeout(30):
                while len(loop.at_result) < 2:  # the start-up reload, then the watcher's
                    await loop.reloaded.wait()
                    loop.reloaded.clear()
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 10)
        ticker.cancel()
    began, ended = loop.checks_began[1], loop.at_result[1]
    assert ended - began >= 3, (began, ended)  # calls got the good version while the file was checked
    assert store.get("basic") is loop.good
    [error] = store.last_errors("basic")
    assert str(error) == (f"{path}: checking basic.yaml took longer than {LIMIT_S:g} s: stopped; refused "
                          "(is the file very large or deeply nested?)")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(error) in record.getMessage() and f"still serving version {loop.good.version}" in record.getMessage()
    killed = re.search(r"took longer than .* s: stopped \(process (\d+)\)", caplog.text)
    assert killed, caplog.text  # the overrun ends at the limit: its process is gone, not left to finish
    with pytest.raises(ProcessLookupError):
        os.kill(int(killed.group(1)), 0)


async def test_the_watcher_serves_a_good_edit_after_refusing_a_bad_one(
    watched: tuple[FlowStore, Reloads], flows: Path
) -> None:
    store, reloads = watched
    good = store.get("basic")
    atomic_write(flows / "basic.yaml", big_flow(BASIC))
    await reloads.until(lambda: bool(reloads.results))
    assert store.get("basic") is good and not reloads.results[0].ok
    (flows / "basic.yaml").write_text(BASIC.replace("再见。", "再会。"), encoding="utf-8")
    await reloads.until(lambda: store.get("basic") is not good)
    new = store.get("basic")
    assert new is not None and good is not None and new.version != good.version
    assert store.last_errors("basic") == []


def test_start_up_refuses_an_oversize_file_too(flows: Path) -> None:
    """A file the running service refused must not be served after a restart."""
    path = flows / "basic.yaml"
    atomic_write(path, BASIC + "# a valid flow, only too large\n" * (MAX_FLOW_BYTES // 30))
    result = FlowStore(flows).reload("basic")
    assert (result.ok, result.serving) == (False, None)
    [error] = result.errors
    assert "larger than the" in str(error) and str(path) in str(error)
