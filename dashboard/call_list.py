"""Reading call records for the dashboard: a page of records in one Redis round trip, filtered by
queue and agent, and the check every call id from a URL goes through."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import HTTPException
from redis.asyncio import Redis

from ivr import keys

CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
SUMMARY_FIELDS = ("call_id", "start", "end", "duration", "caller", "called", "flow", "language", "queue",
                  "agent", "outcome", "answer_timing", "recording", "transcript", "qa", "hangup_by")


def check_call_id(call_id: str) -> str:
    if not CALL_ID.match(call_id):
        raise HTTPException(400, f"call id {call_id[:100]!r}: only letters, digits, '.', '_' and '-' "
                                 "(up to 80 characters)")
    return call_id


def summary(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in SUMMARY_FIELDS if k in record}


# One round trip for a page of call records (the index range and every hash), instead of a
# pipeline of one HGETALL per call: the list endpoint is polled hard (bench/dashboard_bench.py).
PAGE_SCRIPT = """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  out[i] = redis.call('HGETALL', ARGV[4] .. id)
end
return out
"""


def _decode_record(flat: list[Any]) -> dict[str, Any]:
    """A HGETALL reply (field, value, ...) with JSON values decoded, as ivr.state.callrecord does."""
    record: dict[str, Any] = {}
    for field, value in zip(flat[::2], flat[1::2], strict=True):
        try:
            record[str(field)] = json.loads(value)
        except ValueError:
            record[str(field)] = value  # another writer stored a plain string: show it
    return record


async def read_calls(redis: Redis, since: float | None, until: float | None, limit: int) -> list[dict[str, Any]]:
    """Records started in [since, until], newest first (same result as CallStore.list)."""
    prefix = keys.call("")
    reply = await redis.eval(PAGE_SCRIPT, 1, keys.CALLS_INDEX, "+inf" if until is None else str(until),
                             "-inf" if since is None else str(since), str(limit), prefix)
    return [_decode_record(flat) for flat in reply if flat]  # an index entry may outlive its hash (TTL)


async def list_calls(redis: Redis, *, since: float | None, until: float | None, limit: int,
                     queue: str | None = None, agent: str | None = None) -> list[dict[str, Any]]:
    # Filters apply after the time-range read, so read more than `limit` when filtering.
    fetch = limit if not (queue or agent) else min(limit * 20, 5000)
    rows = await read_calls(redis, since, until, fetch)
    rows = [r for r in rows if (not queue or r.get("queue") == queue) and (not agent or r.get("agent") == agent)]
    return rows[:limit]
