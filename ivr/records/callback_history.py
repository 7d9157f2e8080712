"""Callback history in SQL: finished callbacks (done, failed, cancelled) and their attempts, moved from
Redis as call records are (ivr.records.mover).

The callback's own Lua step (ivr.queueing.callback_lua) puts a callback that finishes into
`keys.CALLBACKS_FINISHED`. `CallbackMover` takes the oldest, reads each hash and its attempts, upserts
them into `callbacks` (on the id: a retry or a second node writes one row), and only then, in one Lua
step, unmarks each callback whose mark did not change and shortens its keys' TTL to the live TTL. So
with the database down callbacks still finish and their history waits in Redis, marked, with the full
TTL; nothing leaves Redis before it is in SQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from ivr import keys
from ivr.records.db import engine_from_settings, upgrade
from ivr.records.mover import decode_fields
from ivr.records.schema import CallbackRow
from ivr.settings import Settings
from ivr.state.redis import UNAVAILABLE, RedisHub

log = logging.getLogger(__name__)
FINISHED = frozenset({"done", "failed", "cancelled"})
UPSERT_CHUNK = 500  # 14 columns x 500 stays under SQLite's bound-parameter limit

# ARGV: live ttl, key prefix, then (id, score) pairs. Unmark a callback whose mark is still the one read; shorten
# (never lengthen) the TTL of its hash and attempts.
DONE_SCRIPT = """
local ttl = tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local s = redis.call('ZSCORE', KEYS[1], id)
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then redis.call('ZREM', KEYS[1], id) end
  redis.call('EXPIRE', ARGV[2] .. id, ttl, 'LT')
  redis.call('EXPIRE', ARGV[2] .. id .. ':attempts', ttl, 'LT')
end
return 1
"""


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any, length: int | None = None) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:length] if length else text


def to_row(fields: dict[str, Any], attempts: Sequence[Any], *, finished_at: float, moved_at: float) -> dict[str, Any]:
    """The row of one callback hash (fields decoded) and its attempt list."""
    count = fields.get("attempts")
    return {
        "id": str(fields["id"])[:40], "queue": _str(fields.get("queue"), 64) or "",
        "number": _str(fields.get("number"), 64) or "", "call_id": _str(fields.get("call_id"), 80) or "",
        "status": _str(fields.get("status"), 16) or "", "attempts": count if isinstance(count, int) else 0,
        "last_outcome": _str(fields.get("last_outcome"), 32), "failed_reason": _str(fields.get("failed_reason")),
        "enqueued_at": _num(fields.get("enqueued_at")), "requested_at": _num(fields.get("requested_at")),
        "finished_at": _num(fields.get("finished_at")) or finished_at,
        "record": json.dumps(fields, ensure_ascii=False, default=str),
        "attempt_log": json.dumps(list(attempts), ensure_ascii=False, default=str), "moved_at": moved_at,
    }


def upsert(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for i in range(0, len(batch), UPSERT_CHUNK):
        stmt = insert(CallbackRow).values(batch[i:i + UPSERT_CHUNK])
        cols = {c.name: stmt.excluded[c.name] for c in CallbackRow.__table__.columns if c.name != "id"}
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=cols))


def get(conn: Connection, callback_id: str) -> dict[str, Any] | None:
    """A moved callback: its fields with `attempts_log` (every attempt), or None."""
    row = conn.execute(select(CallbackRow.record, CallbackRow.attempt_log).where(CallbackRow.id == callback_id)
                       ).first()
    if row is None:
        return None
    return {**json.loads(row.record), "attempts_log": json.loads(row.attempt_log)}


def finished_between(conn: Connection, since: float, until: float, queue: str | None = None) -> list[dict[str, Any]]:
    """Finished callbacks of a period (by finish time), oldest first: id, queue, status, attempts, outcome."""
    c = CallbackRow
    query = select(c.id, c.queue, c.status, c.attempts, c.last_outcome, c.finished_at).where(
        c.finished_at >= since, c.finished_at <= until)
    if queue is not None:
        query = query.where(c.queue == queue)
    return [dict(r._mapping) for r in conn.execute(query.order_by(c.finished_at, c.id))]


def purge_before(conn: Connection, cutoff: float, dry_run: bool) -> int:
    old = CallbackRow.finished_at <= cutoff
    if dry_run:
        return int(conn.execute(select(func.count()).select_from(CallbackRow).where(old)).scalar_one())
    return int(conn.execute(delete(CallbackRow).where(old)).rowcount)


class CallbackMover:
    def __init__(self, hub: RedisHub, engine: Engine, *, live_ttl_s: int, batch: int = 200,
                 interval: float = 1.0, backoff_max: float = 30.0, timeout: float = 10.0) -> None:
        self.hub, self.engine = hub, engine
        self.live_ttl_s, self.batch, self.interval = live_ttl_s, batch, interval
        self.backoff_max, self.timeout = backoff_max, timeout
        self.moved = 0
        self.failures = 0

    async def run(self) -> None:
        """The background task: move, wait, move; backoff while the database is down."""
        delay = self.interval
        while True:
            try:
                n = await self.move_once()
            except SQLAlchemyError as exc:
                self.failures += 1
                delay = min(max(delay * 2, self.interval), self.backoff_max)
                log.warning("records database unavailable (%s); finished callbacks wait in Redis, retry in "
                            "%.1f s (failure %d)", type(exc).__name__, delay, self.failures)
                await asyncio.sleep(delay)
                continue
            delay = self.interval
            if n < self.batch:
                await asyncio.sleep(self.interval)

    async def move_once(self, now: float | None = None) -> int:
        """One batch; returns how many callbacks were written. Raises SQLAlchemyError (database down)."""
        redis = await self.hub.client()
        if redis is None:
            return 0
        now = time.time() if now is None else now
        try:
            reply = await asyncio.wait_for(redis.zrange(keys.CALLBACKS_FINISHED, 0, self.batch - 1,
                                                        withscores=True), self.timeout)
            if not reply:
                return 0
            pairs: list[Any] = list(reply)  # withscores=True: (member, score) pairs
            marks = [(m.decode() if isinstance(m, bytes) else str(m), float(s)) for m, s in pairs]
            pipe = redis.pipeline(transaction=False)
            for cb_id, _ in marks:
                pipe.hgetall(keys.callback(cb_id))
                pipe.lrange(keys.callback_attempts(cb_id), 0, -1)
            replies = await asyncio.wait_for(pipe.execute(), self.timeout)
        except UNAVAILABLE as exc:
            self.hub.mark_down(exc)
            return 0
        rows = self._rows(marks, replies[::2], replies[1::2], now)
        if rows:
            await asyncio.wait_for(asyncio.to_thread(self._write, rows), self.timeout * 3)
        try:
            flat = [str(x) for pair in marks for x in pair]
            await asyncio.wait_for(redis.eval(DONE_SCRIPT, 1, keys.CALLBACKS_FINISHED, str(self.live_ttl_s),
                                              keys.callback(""), *flat), self.timeout)
        except UNAVAILABLE as exc:
            self.hub.mark_down(exc)  # the rows are in SQL; the marks stay and the next move is a no-op upsert
        self.moved += len(rows)
        return len(rows)

    @staticmethod
    def _rows(marks: Sequence[tuple[str, float]], hashes: Sequence[dict[bytes, bytes]],
              attempts: Sequence[list[bytes]], now: float) -> list[dict[str, Any]]:
        rows = []
        for (cb_id, finished), raw, tries in zip(marks, hashes, attempts, strict=True):
            if not raw:  # expired before it was moved: nothing left to move
                continue
            fields = decode_fields(raw)
            fields.setdefault("id", cb_id)
            if fields.get("status") not in FINISHED:
                log.warning("callback %s marked finished but is %r; moved as it is", cb_id, fields.get("status"))
            rows.append(to_row(fields, [json.loads(t) for t in tries], finished_at=finished, moved_at=now))
        return rows

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            upsert(conn, rows)


async def move_callbacks_forever(settings: Settings, hub: RedisHub) -> None:
    """`ivr serve`'s background task: the schema brought to head, then the mover (a database that is
    down makes this raise; the TaskSupervisor restarts it and the history waits in Redis)."""
    engine = engine_from_settings(settings)
    try:
        await asyncio.to_thread(upgrade, engine)
        await CallbackMover(hub, engine, live_ttl_s=keys.call_record_live_ttl_s(settings)).run()
    finally:
        engine.dispose()
