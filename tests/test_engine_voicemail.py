"""A message is never silently lost: the voicemail node checks Record's status and the file; a
message that is not there is not recorded as kept, the caller hears the apology, an ERROR is
logged and the counter ivr_voicemail_lost_total{reason} counts it (also across a Redis outage)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from dashboard.app import create_app
from harness.demo.scripted import _outcome
from harness.scripted_channel import HANGUP, RECORDED_MESSAGE, ScriptedChannel
from ivr import keys
from ivr.callflow.nodes import build_node_registry
from ivr.callflow.store import FlowStore
from ivr.clock import FixedClock
from ivr.engine.engine import FlowEngine
from ivr.schedule import load_schedules
from ivr.state.callrecord import CallRecorder, CallStore
from ivr.state.writer import RecordWriter
from tests.dashboard_support import dashboard_settings
from tests.support.components import RedisServer
from tests.test_engine_calls import CLOSED, FIXTURES, SCHEDULES_FILE, call, make_engine, said
from tests.test_state_callrecord import fast_hub, wait_for

pytestmark = pytest.mark.timeout(60)
APOLOGY = "对不起，您的留言未能保存。"  # tests/flows/basic.yaml prompt voicemail_failed
REPO_FLOWS = Path(__file__).parent.parent / "ivr" / "flows"


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


@pytest.mark.parametrize(("audio", "status", "reason"), [
    (None, "SILENCE", "missing"),
    (b"", "TIMEOUT", "empty"),  # the whole time allowed and no audio written: the recording failed
    (RECORDED_MESSAGE[:44], "TIMEOUT", "empty"),  # a .wav header and no audio
    (RECORDED_MESSAGE, "ERROR", "record_error"),
])
async def test_a_message_that_is_not_there_is_not_recorded_as_kept(
    tmp_path: Path, prompts_dir: Path, caplog: pytest.LogCaptureFixture, audio: bytes | None, status: str,
    reason: str,
) -> None:
    engine = make_engine(tmp_path, prompts_dir, CLOSED)
    outcome, ch, rec = await call(engine, [""], record_audio=audio, exec_sets={"Record": {"RECORD_STATUS": status}})
    wav = tmp_path / "recordings" / "voicemail" / f"{CLOSED:%Y/%m/%d}" / "1700000000.1.wav"
    assert outcome == "voicemail_failed" and ch.variables["IVR_OUTCOME"] == "voicemail_failed"
    assert rec.fields["voicemail"] is None
    assert rec.fields["voicemail_error"] == {"reason": reason, "path": str(wav), "status": status}
    assert rec.counters == {(keys.VOICEMAIL_LOST, reason): 1}
    played = ch.played()
    assert played[-2:] == [said(prompts_dir, APOLOGY), said(prompts_dir, "再见。")]  # apology, then goodbye
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "voicemail NOT saved" in error.getMessage() and reason in error.getMessage()


async def test_a_good_message_is_kept_and_not_counted(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir, CLOSED)
    outcome, ch, rec = await call(engine, [""], exec_sets={"Record": {"RECORD_STATUS": "SILENCE"}})
    size = await asyncio.to_thread(os.path.getsize, rec.fields["voicemail"])
    assert outcome == "voicemail" and size == len(RECORDED_MESSAGE)
    assert "voicemail_error" not in rec.fields and rec.counters == {}
    assert said(prompts_dir, APOLOGY) not in ch.played()


@pytest.mark.parametrize("ending", ["SILENCE", "DTMF", "HANGUP"])
async def test_a_caller_who_says_nothing_left_no_message_which_is_no_loss(
    tmp_path: Path, prompts_dir: Path, caplog: pytest.LogCaptureFixture, ending: str
) -> None:
    engine = make_engine(tmp_path, prompts_dir, CLOSED)
    outcome, ch, rec = await call(engine, [""], record_audio=RECORDED_MESSAGE[:44],
                                  exec_sets={"Record": {"RECORD_STATUS": ending}})
    assert outcome == "voicemail_empty" and rec.fields["voicemail"] is None
    assert "voicemail_error" not in rec.fields and rec.counters == {}
    assert said(prompts_dir, APOLOGY) not in ch.played()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_caller_who_hangs_up_at_the_beep_left_no_message(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir, CLOSED)
    outcome, _, rec = await call(engine, [""], record_audio=RECORDED_MESSAGE[:44], exec_hangup=["Record"])
    assert outcome == "voicemail_empty" and rec.fields["voicemail"] is None and rec.counters == {}


async def test_caller_hanging_up_on_a_lost_message_is_counted_too(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir, CLOSED)
    outcome, _, rec = await call(engine, [""], record_audio=None, exec_hangup=["Record"])
    assert outcome == "voicemail_failed" and rec.fields["voicemail"] is None
    assert rec.fields["voicemail_error"]["reason"] == "missing"
    assert rec.counters == {(keys.VOICEMAIL_LOST, "missing"): 1}


async def _lost_call_while_redis_is_down(server: RedisServer, tmp_path: Path, prompts_dir: Path) -> None:
    hub = fast_hub(server.url)
    writer = RecordWriter(hub, ttl_seconds=3600, retry_interval=0.05)
    await writer.start()
    try:
        store = FlowStore(FIXTURES, build_node_registry(), lambda: ["business"])
        assert store.reload("basic").ok
        engine = FlowEngine(store, load_schedules(SCHEDULES_FILE), FixedClock(CLOSED), hub.client, prompts_dir,
                            tmp_path / "recordings", lambda: CallRecorder(writer))
        handler = engine.handler_for("basic")
        assert handler is not None
        server.stop()
        await handler(ScriptedChannel(["", HANGUP], record_audio=None))
        await asyncio.sleep(0.3)  # the writer tries, fails, keeps everything
        assert writer.pending > 0
        server.start()
        await wait_for(lambda: writer.pending == 0)
        client = await hub.client()
        assert client is not None
        record = await CallStore(client).get("1700000000.1")
        assert record is not None and record["outcome"] == "voicemail_failed"
    finally:
        await writer.stop(flush_timeout=1)
        await hub.close()


def test_lost_messages_reach_metrics_across_a_redis_outage(tmp_path: Path, prompts_dir: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        asyncio.run(_lost_call_while_redis_is_down(server, tmp_path, prompts_dir))
        r = redis.Redis.from_url(server.url)
        assert r.hgetall(keys.VOICEMAIL_LOST) == {b"missing": b"1"}
        assert r.ttl(keys.VOICEMAIL_LOST) == -1  # a counter never expires
        r.close()
        settings = dashboard_settings(server.url, tmp_path)
        for f in REPO_FLOWS.glob("*.yaml"):
            shutil.copy(f, settings.flows_dir / f.name)
        with TestClient(create_app(settings)) as client:
            text = client.get("/metrics").text
        assert "# TYPE ivr_voicemail_lost_total counter" in text
        assert 'ivr_voicemail_lost_total{reason="missing"} 1.0' in text
        assert 'ivr_voicemail_lost_total{reason="record_error"} 0.0' in text
    finally:
        server.stop()


def test_the_demo_says_message_recorded_only_when_the_file_is_there(tmp_path: Path) -> None:
    wav = tmp_path / "m.wav"
    record = {"outcome": "voicemail", "voicemail": str(wav)}
    assert "message recorded" not in _outcome(record) and "NOT saved" in _outcome(record)
    wav.write_bytes(RECORDED_MESSAGE)
    assert f"message recorded ({len(RECORDED_MESSAGE)} bytes)" in _outcome(record)
    lost = {"outcome": "voicemail_failed", "voicemail": None, "voicemail_error": {"reason": "missing"}}
    assert "message NOT saved (missing)" in _outcome(lost) and "recorded" not in _outcome(lost)
