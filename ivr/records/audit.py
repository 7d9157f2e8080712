"""The audit log in SQL, with the Redis list `keys.AUDIT_LOG` as its write buffer.

The dashboard appends an entry to the list (one RPUSH: never lost to a database being down).
`AuditMover` copies the entries after the first `keys.AUDIT_MOVED` into SQL (insert-or-ignore on a
digest: the entry's id, or for an entry written before ids the hash of its JSON and its place, so a
retry or a second mover writes each once), advances the counter only if nobody else did, and trims
from the list's head entries that are both moved and older than `keep_s`. Readers take SQL plus the
list's unmoved tail (dashboard.audit).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from ivr import keys
from ivr.records.schema import AuditRow

log = logging.getLogger(__name__)
FILTERS = ("action", "user", "target")

# KEYS: counter, list. ARGV: the counter as read, how many were moved, the last of them as read.
# Advances the counter only if it is still what was read and the list did not shift under it (a trim).
_ADVANCE = """
local n = tonumber(ARGV[1]) + tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[1]) or '0') == tonumber(ARGV[1])
   and redis.call('LINDEX', KEYS[2], n - 1) == ARGV[3] then
  redis.call('SET', KEYS[1], n)
  return 1
end
return 0
"""
# KEYS: list, counter. ARGV: k, the k-th entry as read. Drops k moved entries off the head, if unchanged.
_TRIM = """
local k = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], k - 1) == ARGV[2] and tonumber(redis.call('GET', KEYS[2]) or '0') >= k then
  redis.call('LTRIM', KEYS[1], k, -1)
  redis.call('DECRBY', KEYS[2], k)
  return 1
end
return 0
"""


def digest(entry: dict[str, Any], place: int) -> str:
    """The entry's id; an entry from before ids: the hash of its JSON and its place in the list."""
    if entry.get("id"):
        return str(entry["id"])[:64]
    text = json.dumps(entry, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{place}\n{text}".encode()).hexdigest()


def _epoch(at: str) -> float:
    try:
        return datetime.fromisoformat(at).timestamp()
    except ValueError:
        return 0.0


def to_row(entry: dict[str, Any], place: int) -> dict[str, Any]:
    at = str(entry.get("at", ""))
    return {"at": at[:40], "at_epoch": _epoch(at), "user": str(entry.get("user", ""))[:64],
            "role": str(entry.get("role", ""))[:16], "action": str(entry.get("action", ""))[:32],
            "target": str(entry.get("target", ""))[:200],
            "detail": json.dumps(entry.get("detail") or {}, ensure_ascii=False, default=str),
            "digest": digest(entry, place)}


def from_row(row: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": row.at, "user": row.user, "role": row.role, "action": row.action,
                             "target": row.target, "detail": json.loads(row.detail)}
    if len(row.digest) < 64:  # an id, not a hash
        entry["id"] = row.digest
    return entry


def insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(AuditRow).values(rows).on_conflict_do_nothing(index_elements=["digest"]))


def recent(conn: Connection, limit: int, **filters: str | None) -> list[dict[str, Any]]:
    """Newest first; filters (action, user, target) are exact matches."""
    query = select(AuditRow)
    for name in FILTERS:
        if filters.get(name) is not None:
            query = query.where(getattr(AuditRow, name) == filters[name])
    rows = conn.execute(query.order_by(AuditRow.at_epoch.desc(), AuditRow.id.desc()).limit(limit))
    return [from_row(r) for r in rows]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(AuditRow)).scalar_one())


def purge_before(conn: Connection, cutoff: float, dry_run: bool) -> int:
    """Entries at or before `cutoff` (epoch): removed, or counted when `dry_run`."""
    old = AuditRow.at_epoch <= cutoff
    if dry_run:
        return int(conn.execute(select(func.count()).select_from(AuditRow).where(old)).scalar_one())
    return int(conn.execute(delete(AuditRow).where(old)).rowcount)




async def unmoved(redis: aioredis.Redis) -> list[dict[str, Any]]:
    """The list's entries not yet in SQL, oldest first."""
    moved = int(await redis.get(keys.AUDIT_MOVED) or 0)
    return [json.loads(raw) for raw in await redis.lrange(keys.AUDIT_LOG, moved, -1)]


class AuditMover:
    def __init__(self, redis: aioredis.Redis, engine: Engine, *, keep_s: float, batch: int = 500,
                 timeout: float = 10.0) -> None:
        self.redis, self.engine = redis, engine
        self.keep_s, self.batch, self.timeout = keep_s, batch, timeout
        self.moved = 0
        self.failures = 0

    async def move_once(self, now: float | None = None) -> int:
        """One batch into SQL and a trim of the list; returns how many entries were written.
        Raises SQLAlchemyError while the database is down (the entries stay in the list)."""
        start = int(await self.redis.get(keys.AUDIT_MOVED) or 0)
        raws = await self.redis.lrange(keys.AUDIT_LOG, start, start + self.batch - 1)
        if raws:
            rows = [to_row(json.loads(raw), start + i) for i, raw in enumerate(raws)]
            try:
                await asyncio.wait_for(asyncio.to_thread(self._write, rows), self.timeout)
            except SQLAlchemyError:
                self.failures += 1
                raise
            await self.redis.eval(_ADVANCE, 2, keys.AUDIT_MOVED, keys.AUDIT_LOG, str(start), str(len(raws)), raws[-1])
            self.moved += len(raws)
        await self._trim(time.time() if now is None else now)
        return len(raws)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            insert_entries(conn, rows)

    async def _trim(self, now: float) -> None:
        moved = int(await self.redis.get(keys.AUDIT_MOVED) or 0)
        head = await self.redis.lrange(keys.AUDIT_LOG, 0, min(moved, self.batch) - 1) if moved else []
        k = 0
        for raw in head:
            if _epoch(str(json.loads(raw).get("at", ""))) > now - self.keep_s:
                break
            k += 1
        if k:
            await self.redis.eval(_TRIM, 2, keys.AUDIT_LOG, keys.AUDIT_MOVED, str(k), head[k - 1])
