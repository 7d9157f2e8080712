"""How quickly a transcription worker notices a failure: the one place these timings are written.

`ivr transcribe worker` takes its option defaults from here and ivr.transcribe.worker hands them
to RQ. Kept apart from the worker so the CLI can show the defaults without importing RQ or Vosk.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerOptions:
    """Timings of failure detection. The defaults are RQ's; tests shorten them to see a dead
    worker's job come back within seconds instead of minutes."""

    burst: bool = False
    name: str | None = None
    monitor_interval: int = 30  # seconds between heartbeats of a running job
    heartbeat_grace: int = 60  # a job whose heartbeat is this late is abandoned
    maintenance_interval: int = 600  # seconds between sweeps for abandoned jobs
    worker_ttl: int = 420  # seconds without a worker heartbeat before the worker counts as dead
