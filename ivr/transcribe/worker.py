"""`ivr transcribe worker`: an RQ worker that loads the Vosk model(s) once, before forking jobs.

Each job runs in a work-horse forked from this process, so the model (hundreds of MB) is
shared copy-on-write; no job pays the load time. Run one worker per CPU core.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis
from rq import Worker
from rq.job import Job

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


class TranscribeWorker(Worker):
    """RQ's worker with the heartbeat grace as an option (RQ adds a fixed 60 s)."""

    def __init__(self, *args: Any, heartbeat_grace: int = WorkerOptions.heartbeat_grace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat_grace = heartbeat_grace

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(min(remaining, self.job_monitoring_interval)) + self.heartbeat_grace
        return int(self.job_monitoring_interval) + self.heartbeat_grace


def run_worker(settings: Settings, languages: list[str], options: WorkerOptions) -> bool:
    """Serve the transcription queue until stopped (or until empty with `burst`)."""
    models = preload(settings, languages)
    log.info("transcription worker: models %s", ", ".join(str(m) for m in models))
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
