"""`ivr transcribe worker`: an RQ worker that loads the Vosk model(s) once and runs jobs in-process.

Why in-process (RQ's SimpleWorker) rather than a forked work-horse per job: the CPU of a job
is Vosk's search, and most of that goes into expanding the decoding graph, which a recognizer
caches (ivr.transcribe.recognize). A work-horse dies after its job and takes that cache with it,
so every call paid the expansion again; a worker that keeps its recognizers does half the work
per call (bench/RESULTS.md). The fork itself (~26 ms per job with the model mapped) was small.

What the fork gave is kept another way:
- an exception in a job fails that job (RQ records it, retries it) and the worker goes on;
- the job's heartbeat is kept by a thread while the job runs (a forked worker's parent did
  that), so a worker that dies mid-job is noticed as soon as before and its job retried;
- a worker killed outright (a crash in Vosk, the OOM killer) is restarted by systemd under the
  same name; the dead namesake's registration is cleared with a warning naming its pid, so the
  restart neither fails on "an active worker named ... already" nor passes unnoticed.
Run one worker per CPU core.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import redis
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.utils import now, utcformat
from rq.worker import WorkerStatus

from ivr.settings import Settings
from ivr.transcribe.jobs import queue
from ivr.transcribe.models import load_model, model_path
from ivr.transcribe.options import WorkerOptions

log = logging.getLogger(__name__)


def preload(settings: Settings, languages: list[str]) -> list[Path]:
    """Load the models of these languages (plus the default language) in this process."""
    paths: list[Path] = []
    for lang in dict.fromkeys([settings.default_language, *languages]):
        path = model_path(settings, lang)
        if path not in paths:
            load_model(path)
            paths.append(path)
    return paths


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class _Heartbeat(threading.Thread):
    """Keeps a running job's (and the worker's) heartbeat while the job runs in the main thread."""

    def __init__(self, worker: TranscribeWorker, job: Job, execution: Execution) -> None:
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self._worker, self._job, self._execution = worker, job, execution
        self._halted = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._halted.wait(self._worker.job_monitoring_interval):
            with self._lock:
                if self._halted.is_set():
                    return
                try:
                    self._worker.maintain_heartbeats(self._job, self._execution)
                except redis.RedisError as exc:
                    log.warning("job %s: heartbeat not sent (%s)", self._job.id, exc)
                except Exception:
                    # Keep beating: a job whose heartbeat stops would be run a second time.
                    log.exception("job %s: heartbeat failed", self._job.id)

    def halt(self) -> None:
        """No heartbeat after this returns (one in flight is waited for), so a finished job is
        never put back among the running ones."""
        with self._lock:
            self._halted.set()
        self.join(timeout=10)


class TranscribeWorker(SimpleWorker):
    """RQ's in-process worker with a heartbeat thread per job, the heartbeat grace as an option
    (RQ adds a fixed 60 s) and the clean-up of a dead namesake."""

    def __init__(self, *args: Any, heartbeat_grace: int = WorkerOptions.heartbeat_grace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat_grace = heartbeat_grace
        self._beat: _Heartbeat | None = None

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(min(remaining, self.job_monitoring_interval)) + self.heartbeat_grace
        return int(self.job_monitoring_interval) + self.heartbeat_grace

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        self._beat = _Heartbeat(self, job, execution)
        self._beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._halt_beat()
        self.set_state(WorkerStatus.IDLE)

    def _halt_beat(self) -> None:
        if self._beat is not None:
            self._beat.halt()
            self._beat = None

    def handle_job_success(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        self._halt_beat()
        super().handle_job_success(job, queue, *args, **kwargs)

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        if self._beat is not None and self._beat._job.id == job.id:
            self._halt_beat()
        super().handle_job_failure(job, queue, *args, **kwargs)

    def register_birth(self) -> None:
        self.clear_dead_namesake()
        super().register_birth()  # type: ignore[no-untyped-call]

    def clear_dead_namesake(self) -> int | None:
        """A registration under this name from a process of this host that no longer runs (it
        was killed, so it never registered its death): mark it dead; returns its pid."""
        hostname, pid, death = self.connection.hmget(self.key, ["hostname", "pid", "death"])
        if hostname is None or pid is None or death is not None:
            return None
        old, host = int(pid), hostname.decode() if isinstance(hostname, bytes) else str(hostname)
        if host != self.hostname or old == os.getpid() or pid_alive(old):
            return None
        log.warning(
            "transcription worker %s: the previous worker of this name (pid %d) died without "
            "stopping; its running job is retried once its heartbeat runs out",
            self.name,
            old,
        )
        self.connection.hset(self.key, "death", utcformat(now()))
        return old


def run_worker(settings: Settings, languages: list[str], options: WorkerOptions) -> bool:
    """Serve the transcription queue until stopped (or until empty with `burst`)."""
    models = preload(settings, languages)
    log.info("transcription worker: models %s; jobs run in this process", ", ".join(str(m) for m in models))
    conn = redis.Redis.from_url(settings.redis_url)
    worker = TranscribeWorker(
        [queue(conn, settings)],
        connection=conn,
        name=options.name,
        job_monitoring_interval=options.monitor_interval,
        maintenance_interval=options.maintenance_interval,
        worker_ttl=options.worker_ttl,
        heartbeat_grace=options.heartbeat_grace,
    )
    return bool(worker.work(burst=options.burst, with_scheduler=True, logging_level="INFO"))
