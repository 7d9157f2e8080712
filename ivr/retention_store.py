"""Retention of the customer data kept in Redis without a TTL (the files are ivr.recording.retention):

    audit log    ivr:audit, oldest first    Settings.audit_retention_days (>= 365)
    QA scores    ivr:qa:score:<id> + the per-call list + the ivr:qa:scores index
                                            Settings.qa_retention_days (>= 365)
    QA samples   ivr:qa:sample:<ISO week>   Settings.qa_retention_days

Call records, callbacks and their index expire by TTL (Settings.call_record_ttl_days).

What is removed is what is at or before the cutoff (now - days), as for files:
- an audit entry whose `at` is <= cutoff; the log is append-only and oldest first, so the purge
  trims its head, and only if nobody trimmed it meanwhile (a Lua check);
- a call's scores together, once its NEWEST score is <= cutoff: a score that superseded another
  names it, so a chain is never cut in half;
- a weekly sample once the whole week is past (its next Monday 00:00 local <= cutoff).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis

from ivr import keys
from ivr.settings import RETENTION_MINIMUMS

log = logging.getLogger("ivr.retention")

PAGE = 500
# KEYS: the audit list, its moved counter (ivr/records/audit.py). ARGV: n, the n-th entry as read.
# Trims the head only if it is unchanged, and keeps the counter pointing at the same entry.
_TRIM_HEAD = """
local n = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], n - 1) == ARGV[2] then
  redis.call('LTRIM', KEYS[1], n, -1)
  local moved = tonumber(redis.call('GET', KEYS[2]) or '0')
  if moved > 0 then redis.call('SET', KEYS[2], math.max(0, moved - n)) end
  return 1
end
return 0
"""


class StoreRetentionError(ValueError):
    """A period below its policy minimum, or an audit log the purge cannot read."""


@dataclass
class StoreReport:
    cutoffs: dict[str, datetime]
    removed: dict[str, int] = field(default_factory=lambda: {"audit": 0, "qa_scores": 0, "qa_samples": 0})
    errors: list[str] = field(default_factory=list)


def store_cutoff(now: datetime, days: int, setting: str) -> datetime:
    least, what = RETENTION_MINIMUMS[setting]
    if days < least:
        raise StoreRetentionError(f"{setting}={days} refused: {what} are kept at least {least} days")
    if now.tzinfo is None:
        raise StoreRetentionError(f"now={now.isoformat()} has no time zone")
    return now - timedelta(days=days)


def purge_store(conn: redis.Redis, now: datetime, *, audit_days: int, qa_days: int, timezone: str,
                dry_run: bool = False) -> StoreReport:
    """Purge all three; `timezone` (Settings.timezone) is the one the samples' weeks are in."""
    qa_limit = store_cutoff(now, qa_days, "qa_retention_days")
    report = StoreReport({"audit": store_cutoff(now, audit_days, "audit_retention_days"), "qa": qa_limit})
    report.removed["audit"] = purge_audit(conn, report.cutoffs["audit"], report, dry_run)
    report.removed["qa_scores"] = purge_scores(conn, qa_limit, dry_run)
    report.removed["qa_samples"] = purge_samples(conn, qa_limit, ZoneInfo(timezone), dry_run)
    return report


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def purge_audit(conn: redis.Redis, limit: datetime, report: StoreReport, dry_run: bool) -> int:
    """Trim the audit entries at or before `limit` from the head of the log; returns how many."""
    count, last = 0, None
    while True:
        page = conn.lrange(keys.AUDIT_LOG, count, count + PAGE - 1)
        for raw in page:
            try:
                at = datetime.fromisoformat(json.loads(raw)["at"])
            except (ValueError, KeyError, TypeError) as exc:
                report.errors.append(f"{keys.AUDIT_LOG}[{count}]: unreadable entry ({exc}); purge stops there")
                log.error("retention: %s", report.errors[-1])
                return _trim(conn, count, last, dry_run)
            if at > limit:
                return _trim(conn, count, last, dry_run)
            count, last = count + 1, raw
        if len(page) < PAGE:
            return _trim(conn, count, last, dry_run)


def _trim(conn: redis.Redis, count: int, last: Any, dry_run: bool) -> int:
    if count == 0 or dry_run:
        return count
    if not conn.eval(_TRIM_HEAD, 2, keys.AUDIT_LOG, keys.AUDIT_MOVED, count, last):
        log.warning("retention: the audit log's head changed during the purge (another purge?); not trimmed")
        return 0
    log.info("retention: removed %d audit entries", count)
    return count


def purge_scores(conn: redis.Redis, limit: datetime, dry_run: bool) -> int:
    """Remove every score of each call whose newest score is at or before `limit`; returns how many."""
    calls: set[str] = set()
    for raw_id in conn.zrangebyscore(keys.QA_SCORES, "-inf", limit.timestamp()):
        score_id = _text(raw_id)
        raw = conn.get(keys.qa_score(score_id))
        if raw is None:  # an index entry without its score: nothing to keep
            if not dry_run:
                conn.zrem(keys.QA_SCORES, score_id)
            continue
        calls.add(str(json.loads(raw)["call_id"]))
    removed = 0
    for call_id in sorted(calls):
        ids = [_text(i) for i in conn.lrange(keys.qa_call_scores(call_id), 0, -1)]
        times = [conn.zscore(keys.QA_SCORES, i) for i in ids]
        if any(t is None or t > limit.timestamp() for t in times):
            continue  # the chain has a younger score: kept whole
        if not dry_run:
            pipe = conn.pipeline(transaction=True)
            pipe.delete(*(keys.qa_score(i) for i in ids), keys.qa_call_scores(call_id))
            pipe.zrem(keys.QA_SCORES, *ids)
            pipe.execute()
        log.info("retention: %s %d QA score(s) of call %s", "would remove" if dry_run else "removed",
                 len(ids), call_id)
        removed += len(ids)
    return removed


def week_end(week: str, tz: ZoneInfo) -> datetime | None:
    """The Monday 00:00 (local) after ISO week "2026-W10"; None when `week` is not one."""
    year, _, number = week.partition("-W")
    try:
        monday = date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        return None
    return datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)


def purge_samples(conn: redis.Redis, limit: datetime, tz: ZoneInfo, dry_run: bool) -> int:
    """Remove the weekly samples of weeks wholly at or before `limit`; returns how many."""
    removed = 0
    for raw_key in conn.scan_iter(match=keys.QA_SAMPLE_PATTERN, count=PAGE):
        key = _text(raw_key)
        week = keys.qa_sample_week(key)
        end = week_end(week, tz) if week else None
        if end is None:
            log.warning("retention: %s is not a weekly sample key; left alone", key)
            continue
        if end <= limit:
            if not dry_run:
                conn.delete(key)
            log.info("retention: %s QA sample of %s", "would remove" if dry_run else "removed", week)
            removed += 1
    return removed
