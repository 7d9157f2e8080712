"""How calls end: caller hangups, failing nodes (fallback to the queue), the loop guard, handlers,
and a call in progress keeping its flow version across a reload."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest

from agi.protocol import AgiInvalidCommand
from harness.scripted_channel import HANGUP, ScriptedChannel
from ivr.callflow.nodes import build_node_registry
from ivr.callflow.store import FlowStore
from ivr.clock import FixedClock
from ivr.engine.engine import FlowEngine
from ivr.engine.recorder import MemoryRecorder
from ivr.engine.runners import Runner, build_runner_registry
from ivr.registry import DuplicateRegistration, Registry
from ivr.schedule import load_schedules
from ivr.state.callrecord import CallRecorder, CallStore
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter
from tests.test_engine_calls import CLOSED, FIXTURES, OPEN, SCHEDULES_FILE, call, make_engine, no_redis

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info]


async def test_caller_hangup_mid_menu_is_a_normal_end(
    tmp_path: Path, prompts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.engine")
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, rec = await call(engine, ["", "7", HANGUP])
    assert outcome == "caller_hangup" and rec.path()[-1] == "main"
    assert "IVR_DONE" not in ch.variables
    [record] = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert record.levelno == logging.INFO and "flow basic at node main" in record.getMessage()
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    ("app", "script", "outcome"), [("Queue", ["", "0"], "queued"), ("Record", ["", "0"], "voicemail")]
)
async def test_hangup_inside_an_application_keeps_what_the_call_became(
    tmp_path: Path, prompts_dir: Path, app: str, script: list[str], outcome: str
) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    sets = {"Queue": {"QUEUESTATUS": "JOINEMPTY"}} if app == "Record" else {}
    got, ch, _ = await call(engine, script, exec_sets=sets, exec_hangup=[app])
    assert got == outcome and "IVR_DONE" not in ch.variables


async def test_node_exception_falls_back_without_ivr_done(
    tmp_path: Path, prompts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The schedules were reloaded without `business`: the schedule node raises KeyError.
    engine = make_engine(tmp_path, prompts_dir, schedules={})
    outcome, ch, rec = await call(engine, [""])
    assert outcome == "error" and rec.path()[-1] == "hours"
    assert "IVR_DONE" not in ch.variables and ch.variables["IVR_OUTCOME"] == "error"
    assert ("hangup",) not in ch.commands  # the dialplan takes the caller to the fallback queue
    [record] = tracebacks(caplog)
    assert record.levelno == logging.ERROR
    assert "flow basic version" in record.getMessage() and "at node hours" in record.getMessage()


async def test_agi_error_in_a_node_is_an_error_outcome(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, _ = await call(engine, ["", "0"], exec_errors={"Queue": AgiInvalidCommand("no app Queue")})
    assert outcome == "error" and "IVR_DONE" not in ch.variables


async def test_loop_guard_stops_a_flow_going_round(
    tmp_path: Path, prompts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(tmp_path, prompts_dir, CLOSED, max_visits=20)
    outcome, ch, rec = await call(engine, [], name="loopy")
    assert outcome == "error" and len(rec.path()) == 20
    assert rec.path()[:4] == ["hours", "wait", "hours", "wait"]
    assert "IVR_DONE" not in ch.variables and ch.variables["IVR_OUTCOME"] == "error"
    assert any(
        "more than 20 node visits" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
    )


async def test_handler_for_runs_calls_with_a_fresh_recorder(tmp_path: Path, prompts_dir: Path) -> None:
    recorders: list[MemoryRecorder] = []

    def factory() -> MemoryRecorder:
        recorders.append(MemoryRecorder())
        return recorders[-1]

    store = FlowStore(FIXTURES, build_node_registry(), lambda: ["business"])
    store.reload("basic")
    engine = FlowEngine(store, {}, FixedClock(OPEN), no_redis, prompts_dir, tmp_path, factory)
    assert engine.handler_for("nonexistent") is None
    assert engine.handler_for("many_errors") is None  # invalid: never loaded
    handler = engine.handler_for("basic")
    assert handler is not None
    await handler(ScriptedChannel([HANGUP]))
    await handler(ScriptedChannel([HANGUP]))
    assert [r.fields["outcome"] for r in recorders] == ["caller_hangup", "caller_hangup"]


def test_engine_refuses_node_types_without_runner(tmp_path: Path) -> None:
    runners: Registry[Runner] = Registry("node runner")
    runners.register("play", build_runner_registry()["play"])
    store = FlowStore(FIXTURES, build_node_registry(), list)
    with pytest.raises(ValueError, match=r"node types without a runner: .*menu"):
        FlowEngine(store, {}, FixedClock(OPEN), no_redis, tmp_path, tmp_path, MemoryRecorder, runners=runners)
    with pytest.raises(DuplicateRegistration):
        runners.register("play", build_runner_registry()["play"])


async def test_call_in_progress_keeps_its_version(tmp_path: Path, prompts_dir: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(FIXTURES / "basic.yaml", flows / "basic.yaml")
    engine = make_engine(tmp_path, prompts_dir, flows_dir=flows)
    v1 = engine.store.get("basic")
    handler = engine.handler_for("basic")  # resolved when the call arrives
    assert handler is not None and v1 is not None

    at_menu, release = asyncio.Event(), asyncio.Event()

    async def hold_at_main_menu() -> None:
        if not ch.script or ch.script[0] != "1":
            return
        at_menu.set()
        await release.wait()

    ch = ScriptedChannel(["", "1"], before_input=hold_at_main_menu)
    task = asyncio.ensure_future(handler(ch))
    await asyncio.wait_for(at_menu.wait(), 10)
    text = (flows / "basic.yaml").read_text(encoding="utf-8")
    (flows / "basic.yaml").write_text(text.replace("1: tag_sales", "1: desk").replace("再见。", "再会。"))
    result = engine.store.reload("basic")
    assert result.ok and result.serving != v1.version
    release.set()
    await asyncio.wait_for(task, 10)
    assert ch.execs("Queue") and not ch.execs("Dial")  # v1's menu: 1 -> sales -> queue

    outcome, ch2, rec2 = await call(engine, ["", "1"], exec_sets={"Dial": {"DIALSTATUS": "ANSWER"}})
    assert outcome == "transferred" and ch2.execs("Dial")  # a new call gets v2: 1 -> desk
    assert rec2.fields["flow_version"] == result.serving


async def test_engine_writes_a_real_call_record(tmp_path: Path, prompts_dir: Path, redis_url: str) -> None:
    hub = RedisHub(redis_url)
    writer = RecordWriter(hub, ttl_seconds=3600)
    await writer.start()
    try:
        store = FlowStore(FIXTURES, build_node_registry(), lambda: ["business"])
        store.reload("basic")
        engine = FlowEngine(
            store,
            load_schedules(SCHEDULES_FILE),
            FixedClock(OPEN),
            hub.client,
            prompts_dir,
            tmp_path,
            lambda: CallRecorder(writer),
        )
        handler = engine.handler_for("basic")
        assert handler is not None
        await handler(ScriptedChannel(["", "", "", ""]))
        await writer.stop(flush_timeout=5)
        client = await hub.client()
        assert client is not None
        record = await CallStore(client).get("1700000000.1")
    finally:
        await hub.close()
    assert record is not None
    assert record["outcome"] == "hangup" and record["flow"] == "basic"
    assert [e["node"] for e in record["events"] if e["kind"] == "node"][-1] == "silent_line"
