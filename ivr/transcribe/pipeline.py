"""One call's transcription from recording to linked transcript and QA flags.

Shared by the queue job (ivr.transcribe.jobs) and the bulk command (`ivr transcribe --pending`),
so both paths write the same files and the same call-record fields. Idempotent: a transcript
that is already on disk is linked again, never recomputed or duplicated.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import redis

from ivr import keys
from ivr.qa.store import analyse_and_store
from ivr.recording.paths import RecordingError, RecordingPaths, paths_from_record
from ivr.settings import Settings
from ivr.transcribe.models import load_model, model_path, model_provenance
from ivr.transcribe.recognize import transcribe_files
from ivr.transcribe.transcript import (
    Transcript,
    TranscriptError,
    load_transcript,
    save_transcript,
)

log = logging.getLogger(__name__)


def get_field(conn: redis.Redis, call_id: str, field: str) -> Any:
    raw = conn.hget(keys.call(call_id), field)
    return json.loads(raw) if raw else None


def set_field(conn: redis.Redis, call_id: str, field: str, value: Any) -> None:
    conn.hset(keys.call(call_id), field, json.dumps(value, ensure_ascii=False, default=str))
    conn.zadd(keys.RECORDS_PENDING, {call_id: time.time()})  # the records mover copies it into SQL


def set_state(conn: redis.Redis, call_id: str, state: str, **extra: Any) -> None:
    set_field(conn, call_id, keys.CALL_TRANSCRIPTION, {"state": state, "at": time.time(), **extra})


def recording_of(conn: redis.Redis, call_id: str) -> RecordingPaths:
    value = get_field(conn, call_id, keys.CALL_RECORDING)
    if not isinstance(value, dict):
        raise RecordingError(f"call {call_id}: call record has no 'recording' field")
    return paths_from_record(call_id, value)


def model_name(path: Path) -> str:
    # A packaged model lives in <package>/model: the package name says which one it is.
    return path.parent.name if path.name == "model" else path.name


def transcribe_paths(settings: Settings, paths: RecordingPaths, language: str) -> Transcript:
    """Recognise both legs of a recording and write its transcript files (atomically)."""
    mpath = model_path(settings, language)
    transcript = transcribe_files(
        load_model(mpath),
        paths.caller,
        paths.agent,
        rate=settings.transcribe_sample_rate,
        call_id=paths.call_id,
        language=language,
        model_name=model_name(mpath),
        speech_only=settings.transcribe_speech_only,
    )
    transcript = transcript.model_copy(update=model_provenance(settings, language))
    save_transcript(transcript, paths.transcript_json, paths.transcript_text)
    return transcript


def existing_transcript(paths: RecordingPaths) -> Transcript | None:
    if not paths.transcript_json.is_file():
        return None
    try:
        return load_transcript(paths.transcript_json)
    except TranscriptError:
        # Only a complete file is ever renamed into place, so this is damage after the fact.
        log.warning("%s: unreadable transcript is replaced", paths.transcript_json)
        return None


def link(conn: redis.Redis, paths: RecordingPaths, transcript: Transcript) -> None:
    set_field(
        conn,
        paths.call_id,
        keys.CALL_TRANSCRIPT,
        {
            "json": str(paths.transcript_json),
            "text": str(paths.transcript_text),
            "language": transcript.language,
            "model": transcript.model,
            "at": time.time(),
        },
    )


def analyse(conn: redis.Redis, settings: Settings, call_id: str, transcript: Transcript) -> None:
    """QA flags onto the record; a QA problem (a bad phrase list) never loses the transcript."""
    try:
        analyse_and_store(conn, settings, call_id, transcript)
    except Exception as exc:
        log.exception("call %s: QA analysis failed", call_id)
        set_field(conn, call_id, keys.CALL_QA, {"error": f"{type(exc).__name__}: {exc}", "at": time.time()})


def process_call(
    conn: redis.Redis, settings: Settings, call_id: str, language: str, *, attempt: int = 1, job_id: str = ""
) -> str:
    """Transcribe a call's recording unless done; returns "done" or "exists"."""
    paths = recording_of(conn, call_id)
    transcript = existing_transcript(paths)
    outcome = "exists"
    if transcript is None:
        set_state(conn, call_id, "running", attempt=attempt, job_id=job_id, pid=os.getpid())
        transcript = transcribe_paths(settings, paths, language)
        outcome = "done"
    link(conn, paths, transcript)
    analyse(conn, settings, call_id, transcript)
    set_state(conn, call_id, "done", attempt=attempt, job_id=job_id, outcome=outcome)
    return outcome


def transcript_for_file(settings: Settings, audio: Path, language: str) -> tuple[Path, Transcript]:
    """`ivr transcribe FILE`: `<id>-caller.*` is paired with `<id>-agent.*`; another file is one
    stereo or mono recording. The transcript lands next to it; returns (json path, transcript)."""
    audio = Path(audio)
    stem, suffix = audio.stem, audio.suffix
    agent: Path | None = None
    base = stem
    if stem.endswith("-caller") and (audio.parent / f"{stem[:-7]}-agent{suffix}").exists():
        base, agent = stem[:-7], audio.parent / f"{stem[:-7]}-agent{suffix}"
    json_path = audio.parent / f"{base}.transcript.json"
    mpath = model_path(settings, language)
    transcript = transcribe_files(
        load_model(mpath),
        audio,
        agent,
        rate=settings.transcribe_sample_rate,
        call_id=base,
        language=language,
        model_name=model_name(mpath),
        speech_only=settings.transcribe_speech_only,
    )
    transcript = transcript.model_copy(update=model_provenance(settings, language))
    save_transcript(transcript, json_path, audio.parent / f"{base}.transcript.txt")
    return json_path, transcript


def pending_calls(conn: redis.Redis) -> list[tuple[str, str | None]]:
    """Calls with a recording but no transcript on disk: (call id, language from the record)."""
    out: list[tuple[str, str | None]] = []
    for raw in conn.zrange(keys.CALLS_INDEX, 0, -1):
        call_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        rec, link, lang = (
            json.loads(v) if v else None
            for v in conn.hmget(keys.call(call_id), [keys.CALL_RECORDING, keys.CALL_TRANSCRIPT, "language"])
        )
        if not isinstance(rec, dict):
            continue
        if isinstance(link, dict) and Path(str(link.get("json", ""))).is_file():
            continue
        out.append((call_id, lang if isinstance(lang, str) else None))
    return out
