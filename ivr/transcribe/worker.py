"""`ivr transcribe worker`: an RQ worker that loads the Vosk model(s) once, before forking jobs.

Each job runs in a work-horse forked from this process, so the model (hundreds of MB) is
shared copy-on-write; no job pays the load time. Run one worker per CPU core.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from ivr.settings import Settings
from ivr.transcribe.jobs import queue
from ivr.transcribe.models import load_model, model_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """Timings of failure detection. The defaults are RQ's; tests shorten them to see a dead
    worker's job come back within seconds instead of minutes."""

    burst: bool = False
    name: str | None = None
    monitor_interval: int = 30  # seconds between heartbeats of a running job
    heartbeat_grace: int = 60  # a job whose heartbeat is this late is abandoned
    maintenance_interval: int = 600  # seconds between sweeps for abandoned jobs
    worker_ttl: int = 420


def preload(settings: Settings, languages: list[str]) -> list[Path]:
    """Load the models of these languages (plus the default language) in this process."""
    paths: list[Path] = []
    for lang in dict.fromkeys([settings.default_language, *languages]):
        path = model_path(settings, lang)
        if path not in paths:
            load_model(path)
            paths.append(path)
    return paths


def _worker_class() -> Any:
    from rq import Worker

    class TranscribeWorker(Worker):
        heartbeat_grace = 60

        def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
            if job.timeout and job.timeout > 0:
                remaining = job.timeout - working_time
                return int(min(remaining, self.job_monitoring_interval)) + self.heartbeat_grace
            return int(self.job_monitoring_interval) + self.heartbeat_grace

    return TranscribeWorker


def run_worker(settings: Settings, languages: list[str], options: WorkerOptions) -> bool:
    """Serve the transcription queue until stopped (or until empty with `burst`)."""
    models = preload(settings, languages)
    log.info("transcription worker: models %s", ", ".join(str(m) for m in models))
    conn = redis.Redis.from_url(settings.redis_url)
    cls = _worker_class()
    cls.heartbeat_grace = options.heartbeat_grace
    worker = cls(
        [queue(conn, settings)],
        connection=conn,
        name=options.name,
        job_monitoring_interval=options.monitor_interval,
        maintenance_interval=options.maintenance_interval,
        worker_ttl=options.worker_ttl,
    )
    return bool(worker.work(burst=options.burst, with_scheduler=True, logging_level="INFO"))
