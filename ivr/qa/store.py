"""QA results on call records: analyse one call, or re-analyse stored calls after a list changes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from ivr import keys
from ivr.qa.analyze import PhraseLists, QaConfig, QaResult, analyze
from ivr.qa.phrases import load_list
from ivr.settings import Settings
from ivr.transcribe.transcript import Transcript, TranscriptError, load_transcript

log = logging.getLogger(__name__)


def qa_config(settings: Settings) -> QaConfig:
    return QaConfig(
        greeting_window=settings.qa_greeting_window,
        long_silence=settings.qa_long_silence,
        talkover_min=settings.qa_talkover_min,
        phrase_max_gap=settings.qa_phrase_max_gap,
    )


def phrase_lists(policy_dir: Path, language: str) -> PhraseLists:
    return PhraseLists(
        forbidden=load_list(policy_dir, "forbidden", language),
        courtesy=load_list(policy_dir, "courtesy", language),
        greeting=load_list(policy_dir, "greeting", language),
    )


def analyse_transcript(
    settings: Settings, transcript: Transcript, *, hangup_by: str | None = None, language: str | None = None
) -> tuple[QaResult, PhraseLists]:
    lists = phrase_lists(settings.qa_policy_dir, language or transcript.language or settings.default_language)
    return analyze(transcript, lists, qa_config(settings), hangup_by=hangup_by), lists


def _field(conn: redis.Redis, call_id: str, name: str) -> Any:
    raw = conn.hget(keys.call(call_id), name)
    return json.loads(raw) if raw else None


def analyse_and_store(
    conn: redis.Redis, settings: Settings, call_id: str, transcript: Transcript
) -> QaResult:
    """Analyse and write the call record's "qa" field (flags with timestamps, metrics, list digests)."""
    hangup_by = _field(conn, call_id, keys.CALL_HANGUP_BY)
    result, lists = analyse_transcript(
        settings, transcript, hangup_by=hangup_by if isinstance(hangup_by, str) else None
    )
    value = {
        **result.model_dump(),
        "at": time.time(),
        "lists": {pl.kind: pl.digest for pl in (lists.forbidden, lists.courtesy, lists.greeting)},
    }
    conn.hset(keys.call(call_id), keys.CALL_QA, json.dumps(value, ensure_ascii=False))
    conn.zadd(keys.RECORDS_PENDING, {call_id: time.time()})  # the records mover copies it into SQL
    return result


@dataclass
class RerunReport:
    analysed: list[str] = field(default_factory=list)
    without_transcript: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def calls_since(conn: redis.Redis, since: datetime) -> list[str]:
    if since.tzinfo is None:
        raise ValueError(f"--since {since.isoformat()} has no time zone")
    return [
        c.decode() if isinstance(c, bytes) else str(c)
        for c in conn.zrangebyscore(keys.CALLS_INDEX, since.timestamp(), "+inf")
    ]


def rerun(
    conn: redis.Redis, settings: Settings, since: datetime, progress: Callable[[str], None] | None = None
) -> RerunReport:
    """Re-analyse every call started at or after `since` that has a transcript."""
    report = RerunReport()
    for call_id in calls_since(conn, since):
        link = _field(conn, call_id, keys.CALL_TRANSCRIPT)
        if not isinstance(link, dict) or "json" not in link:
            report.without_transcript.append(call_id)
        else:
            try:
                analyse_and_store(conn, settings, call_id, load_transcript(Path(link["json"])))
                report.analysed.append(call_id)
            except (TranscriptError, LookupError, ValueError) as exc:
                log.warning("call %s: QA re-run failed: %s", call_id, exc)
                report.errors[call_id] = str(exc)
        if progress:
            progress(call_id)
    return report
