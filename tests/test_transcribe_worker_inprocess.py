"""The transcription worker runs jobs in its own process (its recognizers stay warm), and a worker
killed outright under a fixed name (systemd's `--name %H-%i`) comes back under that name, says so,
and finishes the job it was running. Real worker processes, real Redis, the real model."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Queue

from ivr import keys
from ivr.settings import load_settings
from ivr.transcribe.jobs import enqueue_transcription, failed_jobs
from ivr.transcribe.worker import TranscribeWorker
from tests.support.transcribe_worker import (
    DIALOGUE,
    env_for,
    field,
    new_call,
    require_transcription,
    start_worker,
    transcripts,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.timeout(180)



@pytest.fixture(autouse=True)
def _tools() -> None:
    require_transcription(ffmpeg=False)


def test_killed_worker_restarts_under_its_name_and_the_job_is_done(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    root, log = tmp_path / "rec", tmp_path / "w.log"
    settings = load_settings(redis_url=redis_url, transcribe_retries=2, transcribe_retry_intervals=[0])
    paths = new_call(conn, root, "crash1", DIALOGUE)
    env = env_for(redis_url, root)

    first = start_worker(env, log, burst=False, name="host-1")
    enqueue_transcription(conn, "crash1", "zh-CN", settings)
    running = wait_state(conn, "crash1", "running", 90, log)
    assert running["pid"] == first.pid  # the job runs inside the worker, no work-horse
    # A crash inside Vosk kills the whole worker: no chance to register its death.
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert field(conn, "crash1", keys.CALL_TRANSCRIPTION)["state"] == "running", "killed too late to test"

    time.sleep(3)  # the job's heartbeat (kept by the worker's thread: 1 s + 1 s grace) runs out
    second = start_worker(env, log, burst=True, name="host-1")
    assert second.wait(timeout=120) == 0, log.read_text()[-3000:]
    text = log.read_text(errors="replace")
    assert "There exists an active worker" not in text
    assert "call crash1: transcription failed (AbandonedJobError); will retry" in text  # on the record
    state = field(conn, "crash1", keys.CALL_TRANSCRIPTION)
    assert (state["state"], state["attempt"]) == ("done", 2)
    assert transcripts(paths) == [paths.transcript_json]
    assert failed_jobs(conn, settings) == []


def test_a_long_job_keeps_its_heartbeat_and_is_not_taken_twice(redis_url: str, tmp_path: Path) -> None:
    """Two workers; the job outlasts several heartbeat TTLs (1 s + 1 s grace): had the running
    worker stopped beating, the other one's maintenance would run it a second time."""
    conn = redis.Redis.from_url(redis_url)
    root, log = tmp_path / "rec", tmp_path / "w.log"
    settings = load_settings(redis_url=redis_url, transcribe_retries=2, transcribe_retry_intervals=[0])
    paths = new_call(conn, root, "long1", DIALOGUE * 3)
    env = env_for(redis_url, root)
    workers = [start_worker(env, log, burst=False, name=f"host-{i}") for i in (1, 2)]
    try:
        wait_for("both workers", lambda: len(conn.smembers("rq:workers")) == 2, 90, log)
        started = time.monotonic()
        enqueue_transcription(conn, "long1", "zh-CN", settings)
        done = wait_state(conn, "long1", "done", 150, log)
        assert time.monotonic() - started > 4, "the job was too short to outlast a heartbeat"
        assert done["attempt"] == 1
        assert "abandoned" not in log.read_text(errors="replace").lower()
        assert transcripts(paths) == [paths.transcript_json]
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)


def test_a_dead_namesake_is_cleared_a_live_one_is_not(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn = redis.Redis.from_url(redis_url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    live = subprocess.Popen(["sleep", "60"])
    try:
        for name, pid in (("dead-1", dead.pid), ("live-1", live.pid)):
            worker = TranscribeWorker([Queue("transcribe", connection=conn)], connection=conn, name=name)
            conn.hset(worker.key, mapping={"pid": pid, "hostname": str(worker.hostname)})
        with caplog.at_level(logging.WARNING, logger="ivr.transcribe.worker"):
            gone = TranscribeWorker([Queue("transcribe", connection=conn)], connection=conn, name="dead-1")
            assert gone.clear_dead_namesake() == dead.pid
        assert f"previous worker of this name (pid {dead.pid}) died without stopping" in caplog.text
        gone.register_birth()  # no "active worker named ... already"
        assert conn.hget(gone.key, "pid") == str(os.getpid()).encode()
        alive = TranscribeWorker([Queue("transcribe", connection=conn)], connection=conn, name="live-1")
        assert alive.clear_dead_namesake() is None
        with pytest.raises(ValueError, match="active worker named 'live-1'"):
            alive.register_birth()
    finally:
        live.kill()
        live.wait(timeout=10)
