"""Is a call's recording readable on the host a transcription worker runs on?

Workers may run on any node (RQ hands a job to whichever worker asks first), but the recording is
written by Asterisk on its own host. Every worker must see IVR_RECORDINGS_DIR at the same path (shared
storage, docs/operations.md). When it does not, the job fails with a reason that says so, instead of
an audio error that would blame the file; the failure is logged and counted per host, and RQ retries
it (a mount may come back), then leaves it in the failed-jobs list.
"""

from __future__ import annotations

import logging
import socket

import redis

from ivr import keys
from ivr.recording.paths import RecordingPaths

log = logging.getLogger(__name__)


class RecordingUnreachable(OSError):
    """The recording's files are not on this host's file system (at the path the call record names)."""


def check_reachable(conn: redis.Redis, paths: RecordingPaths, host: str | None = None) -> None:
    """Raise RecordingUnreachable (and count it for `host`) unless the caller's feed or the mix is here."""
    if paths.transcript_json.exists() or paths.caller.exists() or paths.mixed.exists():
        return
    host = host or socket.gethostname()
    missing = paths.caller if paths.dir.is_dir() else paths.dir
    reason = (f"recording not found at {missing} on host {host}: every transcription worker must mount "
              f"the recordings directory at the same path (shared storage)")
    log.error("call %s: %s", paths.call_id, reason)
    try:
        conn.hincrby(keys.TRANSCRIBE_UNREACHABLE, host, 1)
    except redis.RedisError as exc:  # the job's failure is still on the record and in the log
        log.warning("call %s: unreachable recording not counted: %s", paths.call_id, exc)
    raise RecordingUnreachable(reason)
