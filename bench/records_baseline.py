"""The Redis-only read paths as they were before the records database (dashboard/call_list.py and the
week's pool of dashboard/sampling.py at commit 74b2d2a) and the Redis QA score store (dashboard/scoring.py
before the records database), kept verbatim so bench/records_bench.py can run today's store and the new one
side by side in one run, and tests can write what an installation kept in Redis alone (the input of
`ivr db migrate-redis` and of the Redis retention). Not product code."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from dashboard.scoring import Score, ScoreConflict, ScoreInput
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


class ScoreStore:
    """QA scores in Redis alone, as the dashboard kept them before the records database."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def get(self, score_id: str) -> Score | None:
        raw = await self._r.get(keys.qa_score(score_id))
        return None if raw is None else Score.model_validate_json(raw)

    async def for_call(self, call_id: str) -> list[Score]:
        """Every score of a call, oldest first; the current one has superseded_by None."""
        ids = await self._r.lrange(keys.qa_call_scores(call_id), 0, -1)
        scores = [await self.get(str(i)) for i in ids]
        return [s for s in scores if s is not None]

    async def current(self, call_id: str) -> Score | None:
        return next((s for s in reversed(await self.for_call(call_id)) if s.superseded_by is None), None)

    async def submit(self, call_id: str, agent: str, week: str, reviewer: str, data: ScoreInput, at: float,
                     survey: Any = None) -> Score:
        """Stores a new score; ScoreConflict when it would overwrite instead of supersede."""
        score = Score.new(call_id, agent, week, reviewer, data, at, survey)
        list_key = keys.qa_call_scores(call_id)
        async with self._r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(list_key)
                current = await self.current(call_id)
                if current is not None and data.supersedes != current.id:
                    raise ScoreConflict(
                        f"call {call_id} already has score {current.id} by {current.reviewer}; a score cannot "
                        "be edited, only superseded with a reason")
                if current is None and data.supersedes:
                    raise ScoreConflict(f"score {data.supersedes} is not the current score of call {call_id}")
                pipe.multi()  # type: ignore[no-untyped-call]
                if current is not None:
                    old = current.model_copy(update={"superseded_by": score.id})
                    pipe.set(keys.qa_score(old.id), old.model_dump_json())
                pipe.set(keys.qa_score(score.id), score.model_dump_json())
                pipe.rpush(list_key, score.id)
                pipe.zadd(keys.QA_SCORES, {score.id: at})
                await pipe.execute()
            except WatchError as exc:
                raise ScoreConflict(f"call {call_id} was scored by someone else just now; reload") from exc
        return score

    async def all_current(self, since: float | None = None, until: float | None = None) -> list[Score]:
        """Current (not superseded) scores submitted in [since, until], oldest first."""
        ids = await self._r.zrangebyscore(keys.QA_SCORES, since if since is not None else "-inf",
                                          until if until is not None else "+inf")
        if not ids:
            return []
        raws = await self._r.mget([keys.qa_score(str(i)) for i in ids])
        scores = [Score.model_validate_json(r) for r in raws if r]
        return [s for s in scores if s.superseded_by is None]
