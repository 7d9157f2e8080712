"""Reliability of the transcription queue with real `ivr transcribe worker` processes, real Redis
and the real Vosk model: idempotent jobs, permanent failures without a crash loop, and a worker
killed in the middle of a job."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from harness.speech import Turn
from ivr import keys
from ivr.settings import load_settings
from ivr.transcribe.jobs import enqueue_transcription, failed_jobs
from tests.support.transcribe_worker import (
    DIALOGUE,
    env_for,
    field,
    new_call,
    require_transcription,
    start_worker,
    transcripts,
    wait_state,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_transcription(ffmpeg=True)


SHORT = [Turn("agent", "您好", pause_after=0.3), Turn("caller", "你好", pause_after=0.2)]


def test_queued_twice_one_job_one_transcript(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    env = env_for(redis_url, tmp_path / "rec")
    settings = load_settings(redis_url=redis_url, transcribe_retries=2, transcribe_retry_intervals=[0])
    paths = new_call(conn, tmp_path / "rec", "dup1", SHORT)

    assert enqueue_transcription(conn, "dup1", "zh-CN", settings) == "transcribe-dup1"
    assert enqueue_transcription(conn, "dup1", "zh-CN", settings) == "transcribe-dup1"
    assert conn.llen("rq:queue:transcribe") == 1

    worker = start_worker(env, tmp_path / "w.log", burst=True, worker_ttl=16)
    assert worker.wait(timeout=120) == 0, (tmp_path / "w.log").read_text()
    assert transcripts(paths) == [paths.transcript_json]
    assert paths.transcript_text.exists()
    assert field(conn, "dup1", keys.CALL_TRANSCRIPT)["json"] == str(paths.transcript_json)
    assert field(conn, "dup1", keys.CALL_TRANSCRIPTION)["state"] == "done"
    assert "flags" in field(conn, "dup1", keys.CALL_QA)

    # Queued again after it finished: the finished job is left alone, nothing new runs.
    stamp = paths.transcript_json.stat().st_mtime_ns
    enqueue_transcription(conn, "dup1", "zh-CN", settings)
    assert conn.llen("rq:queue:transcribe") == 0
    # Even if the job record expired, the job itself links the transcript instead of redoing it.
    from ivr.transcribe.pipeline import process_call

    assert process_call(conn, settings, "dup1", "zh-CN") == "exists"
    assert paths.transcript_json.stat().st_mtime_ns == stamp
    assert transcripts(paths) == [paths.transcript_json]


def test_bad_audio_fails_once_with_its_reason_and_the_worker_goes_on(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    root = tmp_path / "rec"
    settings = load_settings(redis_url=redis_url, transcribe_retries=2, transcribe_retry_intervals=[0])
    broken = {"empty": b"", "cut": None, "junk": b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk" * 40}
    calls = {}
    for name, data in broken.items():
        paths = new_call(conn, root, name, SHORT)
        raw = paths.caller.read_bytes()
        paths.caller.write_bytes(raw[: len(raw) // 2] if data is None else data)
        calls[name] = paths
        enqueue_transcription(conn, name, "zh-CN", settings)
    good = new_call(conn, root, "good", SHORT)
    enqueue_transcription(conn, "good", "zh-CN", settings)

    worker = start_worker(env_for(redis_url, root), tmp_path / "w.log", burst=True, worker_ttl=16)
    assert worker.wait(timeout=120) == 0, (tmp_path / "w.log").read_text()

    reasons = {name: field(conn, name, keys.CALL_TRANSCRIPTION) for name in broken}
    assert {n: r["state"] for n, r in reasons.items()} == {
        "empty": "failed",
        "cut": "failed",
        "junk": "failed",
    }
    assert "recording is empty (0 bytes)" in reasons["empty"]["reason"]
    assert "truncated WAV" in reasons["cut"]["reason"]
    assert "corrupt" in reasons["junk"]["reason"]
    for paths in calls.values():
        assert paths.caller.exists() and paths.agent.exists()  # the evidence is kept
        assert transcripts(paths) == []
    failed = {row["call_id"]: row for row in failed_jobs(conn, settings)}
    assert set(failed) == set(broken)
    assert "AudioError" in failed["junk"]["error"]
    from rq.job import Job

    for name in broken:  # a permanent failure runs once, no retry
        assert reasons[name]["attempt"] == 1
        assert Job.fetch(f"transcribe-{name}", connection=conn).meta["attempts"] == 1
    assert field(conn, "good", keys.CALL_TRANSCRIPTION)["state"] == "done"
    assert transcripts(good) == [good.transcript_json]


def test_worker_killed_mid_job_is_retried_and_one_transcript_results(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    root, log = tmp_path / "rec", tmp_path / "w.log"
    settings = load_settings(redis_url=redis_url, transcribe_retries=2, transcribe_retry_intervals=[0])
    paths = new_call(conn, root, "kill1", DIALOGUE)
    env = env_for(redis_url, root)

    first = start_worker(env, log, burst=False, worker_ttl=16)
    enqueue_transcription(conn, "kill1", "zh-CN", settings)
    running = wait_state(conn, "kill1", "running", 90, log)
    time.sleep(0.3)
    # Power cut: the worker and its work-horse die at once, without any chance to clean up.
    os.kill(running["pid"], signal.SIGKILL)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert field(conn, "kill1", keys.CALL_TRANSCRIPTION)["state"] == "running", "killed too late to test"
    assert transcripts(paths) == []

    time.sleep(3)  # the job's heartbeat (1 s interval + 1 s grace) runs out
    second = start_worker(env, log, burst=True, worker_ttl=16)
    assert second.wait(timeout=120) == 0, log.read_text()[-3000:]

    state = field(conn, "kill1", keys.CALL_TRANSCRIPTION)
    assert (state["state"], state["attempt"]) == ("done", 2)
    assert transcripts(paths) == [paths.transcript_json]
    assert not list(paths.dir.glob(".*.tmp"))
    assert failed_jobs(conn, settings) == []


def test_cli_pending_transcribes_calls_without_transcript(redis_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ivr.cli.main import build_app

    conn = redis.Redis.from_url(redis_url)
    root = tmp_path / "rec"
    todo = new_call(conn, root, "pend1", SHORT)
    bad = new_call(conn, root, "pend2", SHORT)
    bad.agent.write_bytes(b"")
    conn.zadd(keys.CALLS_INDEX, {"no-recording": time.time()})
    out = CliRunner().invoke(build_app(), ["transcribe", "--pending"], env=env_for(redis_url, root))
    assert out.exit_code == 1, out.output  # one call could not be transcribed
    assert field(conn, "pend1", keys.CALL_TRANSCRIPTION)["state"] == "done"
    assert transcripts(todo) == [todo.transcript_json]
    failed = field(conn, "pend2", keys.CALL_TRANSCRIPTION)
    assert failed["state"] == "failed" and "recording is empty" in failed["reason"]
    again = CliRunner().invoke(build_app(), ["transcribe", "--pending"], env=env_for(redis_url, root))
    assert "pend1" not in again.output  # done calls are no longer pending
