"""Transcription jobs on Redis with RQ.

Why RQ rather than arq: transcription is CPU-bound, synchronous C code (Vosk); RQ runs each
job in a plain synchronous worker that keeps the model and its recognizers loaded between
jobs (in-process, see ivr.transcribe.worker for why not a forked work-horse), a job's
exception or timeout fails only that job, and RQ keeps what we need out of the box: retries with back-off, a per-job
timeout, a FailedJobRegistry (the failed-jobs list, `rq info` shows it), abandoned-job
recovery when a worker dies, and unique job ids. arq is asyncio-first and would need a
thread or process pool around every job to do the same.

Worker command: `ivr transcribe worker` (one process per core; see docs/transcription.md).

Idempotency: the job id is `transcribe-<call_id>` (ivr.keys, beside the jobs' TTLs), enqueued
with `unique=True`, and the job itself links an existing transcript instead of recomputing it;
files are written to a temporary name and renamed. Permanent failures (empty, truncated, corrupt audio; no model)
are not retried: the reason goes on the call record, the recording stays on disk.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

import redis
from rq import Callback, Queue, Retry, get_current_job
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from ivr import keys
from ivr.recording.paths import RecordingError
from ivr.settings import Settings, load_settings
from ivr.transcribe.audio import AudioError
from ivr.transcribe.models import ModelError
from ivr.transcribe.pipeline import process_call, recording_of, set_state
from ivr.transcribe.reachable import check_reachable

log = logging.getLogger(__name__)

JOB_FUNC = "ivr.transcribe.jobs.transcribe_call"
PERMANENT = (AudioError, ModelError, RecordingError)


def queue(conn: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.transcribe_queue, connection=conn, default_timeout=settings.transcribe_job_timeout)


def enqueue_transcription(conn: redis.Redis, call_id: str, language: str, settings: Settings) -> str:
    """Queue the transcription of a call's recording once; returns the job id.

    A job already queued, running, scheduled for retry or finished is left alone; a failed or
    stopped one is put back on the queue (an explicit re-queue is a deliberate retry).
    """
    jid = keys.transcribe_job_id(call_id)
    q = queue(conn, settings)
    retry = (
        Retry(max=settings.transcribe_retries, interval=settings.transcribe_retry_intervals)
        if settings.transcribe_retries > 0
        else None
    )
    try:
        q.enqueue(
            JOB_FUNC,
            call_id,
            language,
            job_id=jid,
            unique=True,
            retry=retry,
            job_timeout=settings.transcribe_job_timeout,
            result_ttl=keys.TRANSCRIBE_RESULT_TTL_S,
            failure_ttl=keys.TRANSCRIBE_FAILURE_TTL_S,
            on_failure=Callback(on_job_failed),
            description=f"transcribe call {call_id} ({language})",
        )
    except DuplicateJobError:
        job = Job.fetch(jid, connection=conn)
        status = job.get_status()
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            job.requeue()
            log.info("call %s: failed transcription job re-queued", call_id)
        else:
            log.info("call %s: transcription job already %s", call_id, status)
            return jid
    set_state(conn, call_id, "queued", job_id=jid)
    return jid


def transcribe_call(call_id: str, language: str) -> str:
    """The job body, run inside a transcription worker."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("transcribe_call runs inside an RQ worker; use pipeline.process_call elsewhere")
    settings = load_settings()
    # Counted in the job's meta in Redis, so an attempt cut short by a dead worker still counts.
    attempt = int(job.meta.get("attempts", 0)) + 1
    job.meta["attempts"] = attempt
    job.save_meta()  # type: ignore[no-untyped-call]
    try:
        # A worker on another node than Asterisk's sees the files only on shared storage: say so.
        check_reachable(job.connection, recording_of(job.connection, call_id))
        return process_call(job.connection, settings, call_id, language, attempt=attempt, job_id=job.id)
    except PERMANENT:
        # Retrying cannot fix the file or the configuration: fail once, keep the recording.
        job.retries_left = 0
        raise


def on_job_failed(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    tb: TracebackType | None,
) -> None:
    """RQ failure callback (also for a job abandoned by a dead worker): the reason goes on the record."""
    call_id = str(job.args[0]) if job.args else ""
    if not call_id:
        return
    name = exc_type.__name__ if exc_type else "Error"
    reason = f"{name}: {exc_value}" if exc_value and str(exc_value) else name
    will_retry = bool(job.retries_left) and not isinstance(exc_value, PERMANENT)
    set_state(
        connection,
        call_id,
        "retrying" if will_retry else "failed",
        job_id=job.id,
        reason=reason,
        attempt=int(job.meta.get("attempts", 0)),
        failed_at=time.time(),
    )
    log.warning("call %s: transcription failed (%s)%s", call_id, reason, "; will retry" if will_retry else "")


def failed_jobs(conn: redis.Redis, settings: Settings) -> list[dict[str, Any]]:
    """The failed-jobs list: job id, call id and the last error line."""
    out: list[dict[str, Any]] = []
    for jid in FailedJobRegistry(queue=queue(conn, settings)).get_job_ids():
        job = Job.fetch(jid, connection=conn)
        info = job.latest_result()
        err = (info.exc_string or "").strip().splitlines() if info else []
        out.append(
            {"job_id": jid, "call_id": job.args[0] if job.args else None, "error": err[-1] if err else ""}
        )
    return out
