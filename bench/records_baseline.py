"""The Redis-only read paths as they were before the records database (dashboard/call_list.py and the
week's pool of dashboard/sampling.py at commit 74b2d2a), kept verbatim so bench/records_bench.py can run
today's store and the new one side by side in one run. Not product code."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from ivr import keys
from ivr.state.callrecord import CallStore

MAX_CALLS_PER_WEEK = 200_000
PAGE_SCRIPT = """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  out[i] = redis.call('HGETALL', ARGV[4] .. id)
end
return out
"""


def _decode_record(flat: list[Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for field, value in zip(flat[::2], flat[1::2], strict=True):
        try:
            record[str(field)] = json.loads(value)
        except ValueError:
            record[str(field)] = value
    return record


async def read_calls(redis: Redis, since: float | None, until: float | None, limit: int) -> list[dict[str, Any]]:
    prefix = keys.call("")
    reply = await redis.eval(PAGE_SCRIPT, 1, keys.CALLS_INDEX, "+inf" if until is None else str(until),
                             "-inf" if since is None else str(since), str(limit), prefix)
    return [_decode_record(flat) for flat in reply if flat]


async def list_calls(redis: Redis, *, since: float | None, until: float | None, limit: int,
                     queue: str | None = None, agent: str | None = None) -> list[dict[str, Any]]:
    """The old list: filters after reading at most 5000 records (so a filtered list came back short)."""
    fetch = limit if not (queue or agent) else min(limit * 20, 5000)
    rows = await read_calls(redis, since, until, fetch)
    rows = [r for r in rows if (not queue or r.get("queue") == queue) and (not agent or r.get("agent") == agent)]
    return rows[:limit]


async def candidates_of_week(redis: Redis, since: float, until: float) -> list[tuple[str, str]]:
    """The old week's pool: every record of the week read from Redis."""
    rows = await CallStore(redis).list(since=since, until=until, limit=MAX_CALLS_PER_WEEK)
    return [(str(r["call_id"]), str(r["agent"])) for r in rows
            if r.get("agent") and isinstance(r.get("recording"), dict) and r.get("call_id")]


async def month_rows(redis: Redis, since: float, until: float) -> list[dict[str, Any]]:
    """What a CSV export of a month had to read from the old store (it had no export): every record."""
    return await CallStore(redis).list(since=since, until=until, limit=10_000_000)
