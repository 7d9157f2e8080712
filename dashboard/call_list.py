"""Reading call records for the dashboard: complete, paged, filtered lists from the records database
(ivr.records.calls), merged with the calls still only in Redis (in progress, or finished and not yet
moved: keys.RECORDS_PENDING), so a list is complete whether or not the mover has caught up, and
the check every call id from a URL goes through."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import HTTPException
from redis.asyncio import Redis

from dashboard.records_db import RecordsDb
from ivr import keys
from ivr.records.calls import CallFilter, Cursor, get_call, page_calls
from ivr.state.callrecord import CallStore

CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
SUMMARY_FIELDS = ("call_id", "start", "end", "duration", "caller", "called", "flow", "language", "queue",
                  "agent", "outcome", "answer_timing", "recording", "transcript", "qa", "hangup_by", "category")
# Calls waiting to be moved that one list request reads; more only while the database is long down.
PENDING_READ_MAX = 5000


def check_call_id(call_id: str) -> str:
    if not CALL_ID.match(call_id):
        raise HTTPException(400, f"call id {call_id[:100]!r}: only letters, digits, '.', '_' and '-' "
                                 "(up to 80 characters)")
    return call_id


def summary(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in SUMMARY_FIELDS if k in record}


# One round trip for every call not yet moved (the pending set and each hash).
PENDING_SCRIPT = """
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for i, id in ipairs(ids) do
  out[i] = redis.call('HGETALL', ARGV[2] .. id)
end
return out
"""


def _decode_record(flat: list[Any]) -> dict[str, Any]:
    """A HGETALL reply (field, value, ...) with JSON values decoded, as ivr.state.callrecord does."""
    record: dict[str, Any] = {}
    for field, value in zip(flat[::2], flat[1::2], strict=True):
        name = field.decode() if isinstance(field, bytes) else str(field)
        try:
            record[name] = json.loads(value)
        except ValueError:
            record[name] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return record


async def pending_records(redis: Redis) -> list[dict[str, Any]]:
    """Records written since their last move into SQL (a call in progress, or not moved yet)."""
    reply = await redis.eval(PENDING_SCRIPT, 1, keys.RECORDS_PENDING, str(PENDING_READ_MAX), keys.call(""))
    return [r for r in map(_decode_record, reply) if r.get("call_id")]


def _start(record: dict[str, Any]) -> float:
    start = record.get("start")
    return float(start) if isinstance(start, int | float) and not isinstance(start, bool) else 0.0


def _key(record: dict[str, Any]) -> tuple[float, str]:
    return _start(record), str(record["call_id"])


def _matches(record: dict[str, Any], f: CallFilter, after: Cursor | None) -> bool:
    for name, want in (("agent", f.agent), ("queue", f.queue), ("outcome", f.outcome), ("category", f.category)):
        if want is not None and (record.get(name) is None or str(record.get(name)) != want):
            return False
    start = _start(record)
    if (f.since is not None and start < f.since) or (f.until is not None and start > f.until):
        return False
    return after is None or _key(record) < (after.started_at, after.call_id)


async def list_calls(redis: Redis, db: RecordsDb, f: CallFilter, limit: int,
                     after: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """One page, newest first, of every call matching `f`, and the cursor of the next page (None: last)."""
    live = [r for r in await pending_records(redis) if _matches(r, f, after)]
    stored, more = await db.read(lambda conn: page_calls(conn, f, limit, after))
    by_id = {str(r["call_id"]): r for r in stored}
    by_id.update({str(r["call_id"]): r for r in live})  # Redis has the newer version of a call in both
    merged = sorted(by_id.values(), key=_key, reverse=True)
    page = merged[:limit]
    nxt = Cursor(*_key(page[-1])) if page and (len(merged) > limit or more is not None) else None
    return page, nxt


async def pending_outcomes(redis: Redis) -> set[str]:
    return {str(r["outcome"]) for r in await pending_records(redis) if r.get("outcome") is not None}


async def get_record(redis: Redis, db: RecordsDb, call_id: str) -> dict[str, Any] | None:
    """A call with its events: from Redis while it is there (the freshest), else from the records database."""
    record = await CallStore(redis).get(call_id)
    if record is not None:
        return record
    return await db.read(lambda conn: get_call(conn, call_id))
