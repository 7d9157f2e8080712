"""Moves finished call records from Redis into the records database, idempotently.

The RecordWriter marks every call whose hash it writes in `keys.RECORDS_PENDING`. This task takes the
oldest marks, reads those records, upserts the finished ones (they have an outcome) into SQL, and only
then, in one Lua step per batch, unmarks each call whose mark did not change meanwhile (a write after
the read marks it again and it is moved again) and shortens its keys' TTL to the live TTL. So:

- the database down: calls flow, records stay in Redis, marked, and the mover retries with backoff;
- a retry or a second node moving the same call writes one row (upsert on call_id);
- a record never leaves Redis before it is in SQL.

A call never finished (its process died mid-call) is moved as it is after `stale_s`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr import keys
from ivr.records.calls import to_row, upsert_calls
from ivr.records.db import engine_from_settings, upgrade
from ivr.settings import Settings
from ivr.state.redis import UNAVAILABLE, RedisHub

log = logging.getLogger(__name__)
ANALYZE_EVERY_S = 3600.0

# For each (call_id, score) pair: unmark the call if its mark is still the one read, and shorten
# (never lengthen: EXPIRE ... LT) the TTL of its hash and events to the live TTL.
DONE_SCRIPT = """
local ttl = tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local s = redis.call('ZSCORE', KEYS[1], id)
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then redis.call('ZREM', KEYS[1], id) end
  redis.call('EXPIRE', ARGV[2] .. id, ttl, 'LT')
  redis.call('EXPIRE', ARGV[2] .. id .. ':events', ttl, 'LT')
end
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_fields(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """A HGETALL reply with its JSON values decoded (a plain string kept as text)."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        try:
            out[k.decode()] = json.loads(v)
        except ValueError:
            out[k.decode()] = v.decode(errors="replace")  # a plain string from another writer
    return out


class RecordMover:
    def __init__(self, hub: RedisHub, engine: Engine, *, live_ttl_s: int, batch: int = 200,
                 interval: float = 1.0, settle_s: float = 1.0, stale_s: float = 6 * 3600,
                 backoff_max: float = 30.0, timeout: float = 10.0) -> None:
        self.hub, self.engine = hub, engine
        self.live_ttl_s, self.batch, self.interval = live_ttl_s, batch, interval
        self.settle_s, self.stale_s = settle_s, stale_s
        self.backoff_max, self.timeout = backoff_max, timeout
        self.moved = 0  # rows written (a call moved twice counts twice)
        self.failures = 0  # batches the database refused or did not answer
        self._delay = interval
        self._analyzed: float | None = None  # monotonic time of the last ANALYZE (SQLite); None: not yet

    async def run(self) -> None:
        """The background task (TaskSupervisor): move, wait, move; backoff while the database is down."""
        while True:
            try:
                n = await self.move_once()
            except SQLAlchemyError as exc:
                self.failures += 1
                self._delay = min(max(self._delay * 2, self.interval), self.backoff_max)
                log.warning("records database unavailable (%s); records wait in Redis, retry in %.1f s "
                            "(failure %d)", type(exc).__name__, self._delay, self.failures)
                await asyncio.sleep(self._delay)
                continue
            if self._delay > self.interval and n:
                log.info("records database back: moving again")
            self._delay = self.interval
            if n and (self._analyzed is None or time.monotonic() - self._analyzed > ANALYZE_EVERY_S):
                await asyncio.to_thread(self.analyze)
            if n < self.batch:
                await asyncio.sleep(self.interval)

    async def move_once(self, now: float | None = None) -> int:
        """One batch; returns how many records were written. Raises SQLAlchemyError (database down)."""
        redis = await self.hub.client()
        if redis is None:
            return 0
        now = time.time() if now is None else now
        try:
            reply = await asyncio.wait_for(redis.zrangebyscore(keys.RECORDS_PENDING, "-inf", now - self.settle_s,
                                                               start=0, num=self.batch, withscores=True),
                                           self.timeout)
            if not reply:
                return 0
            marks = [(_text(m), float(s)) for m, s in reply]  # type: ignore[str-unpack]  # withscores=True: pairs
            ids = [m for m, _ in marks]
            pipe = redis.pipeline(transaction=False)
            for call_id in ids:
                pipe.hgetall(keys.call(call_id))
                pipe.lrange(keys.call_events(call_id), 0, -1)
            replies = await asyncio.wait_for(pipe.execute(), self.timeout)
        except UNAVAILABLE as exc:
            self.hub.mark_down(exc)
            return 0
        rows, done, later = self._sort(marks, replies[::2], replies[1::2], now)
        if rows:
            await asyncio.wait_for(asyncio.to_thread(self._write, rows), self.timeout * 3)
        try:
            if done:
                flat = [str(x) for pair in done for x in pair]
                await asyncio.wait_for(redis.eval(DONE_SCRIPT, 1, keys.RECORDS_PENDING, str(self.live_ttl_s),
                                                  keys.call(""), *flat), self.timeout)
            if later:
                await asyncio.wait_for(redis.zadd(keys.RECORDS_PENDING, later, xx=True), self.timeout)
        except UNAVAILABLE as exc:
            self.hub.mark_down(exc)  # the rows are in SQL; the marks stay and the next move is a no-op upsert
        self.moved += len(rows)
        return len(rows)

    def _sort(self, marks: Sequence[tuple[str, float]], hashes: Sequence[dict[bytes, bytes]],
              events: Sequence[list[bytes]], now: float,
              ) -> tuple[list[dict[str, Any]], list[tuple[str, float]], dict[str, float]]:
        """Rows to write, marks to clear (call id, score read), marks to look at again later."""
        rows: list[dict[str, Any]] = []
        done: list[tuple[str, float]] = []
        later: dict[str, float] = {}
        for (call_id, score), raw, evs in zip(marks, hashes, events, strict=True):
            if not raw:  # expired, or only events: nothing to move
                done.append((call_id, score))
                continue
            record = decode_fields(raw)
            record.setdefault("call_id", call_id)
            start = record.get("start")
            unfinished = "outcome" not in record
            if unfinished and isinstance(start, int | float) and now - start < self.stale_s:
                later[call_id] = now + min(60.0, self.stale_s)  # still in progress: look again in a minute
                continue
            rows.append(to_row(record, [json.loads(e) for e in evs], moved_at=now))
            done.append((call_id, score))
        return rows, done, later

    def analyze(self) -> None:
        """SQLite's planner needs statistics to pick the covering indexes of the reports (PostgreSQL's
        autovacuum keeps its own): refreshed after the first move and then hourly, bounded in cost."""
        self._analyzed = time.monotonic()
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=2000")
            conn.exec_driver_sql("ANALYZE")

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            upsert_calls(conn, rows)


async def move_forever(settings: Settings, hub: RedisHub) -> None:
    """`ivr serve`'s background task: the schema brought to head, then the mover. A database that is
    down makes this raise; the TaskSupervisor logs, counts and restarts it with backoff, and the
    records wait in Redis meanwhile."""
    engine = engine_from_settings(settings)
    try:
        await asyncio.to_thread(upgrade, engine)
        await RecordMover(hub, engine, live_ttl_s=keys.call_record_live_ttl_s(settings)).run()
    finally:
        engine.dispose()
