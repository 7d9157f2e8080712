"""Audit log: who listened to, downloaded or scored which call, who monitored a live call,
who changed the incident statement or a flow, and when. Append-only; admins read it.

An entry is appended to the Redis list keys.AUDIT_LOG (one step, atomic with its marker in
`record_once`), which is the write buffer of the records database: ivr.records.audit.AuditMover
copies it into SQL, where the log is kept and read (plus the entries not moved yet)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from dashboard.periodic import Periodic
from dashboard.records_db import RecordsDb
from ivr import keys
from ivr.clock import Clock
from ivr.records import audit as sql_audit

Action = Literal[
    "login", "login_failed", "logout", "listen", "transcript", "review", "download", "score", "supersede", "monitor",
    "incident_on", "incident_off", "flow_save", "flow_restore", "sample_draw", "agent", "liveqa",
]


@dataclass(frozen=True)
class AuditEntry:
    at: str  # ISO time with offset
    user: str
    role: str
    action: str
    target: str  # call id, flow name, queue ...
    detail: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: secrets.token_hex(12))  # written once into SQL by this


# Append the entry only if the marker was not set, and set it, in one step: a listen is never
# marked as audited without its entry (nor audited twice within the marker's lifetime).
ONCE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class AuditLog:
    def __init__(self, redis: Redis, clock: Clock, db: RecordsDb) -> None:
        self._r = redis
        self._clock = clock
        self._db = db

    def _entry(self, user: str, role: str, action: Action, target: str, detail: dict[str, Any]) -> AuditEntry:
        return AuditEntry(at=self._clock.now().isoformat(timespec="seconds"), user=user, role=role,
                          action=action, target=target, detail=detail)

    async def record(self, user: str, role: str, action: Action, target: str, **detail: Any) -> AuditEntry:
        entry = self._entry(user, role, action, target, detail)
        await self._r.rpush(keys.AUDIT_LOG, json.dumps(asdict(entry), ensure_ascii=False))
        return entry

    async def record_once(self, marker: str, ttl_s: int, user: str, role: str, action: Action, target: str,
                          **detail: Any) -> bool:
        """Record unless `marker` exists (then it was recorded within the last `ttl_s` s). True if recorded."""
        entry = json.dumps(asdict(self._entry(user, role, action, target, detail)), ensure_ascii=False)
        return bool(await self._r.eval(ONCE_SCRIPT, 2, marker, keys.AUDIT_LOG, str(ttl_s), entry))

    async def count(self) -> int:
        moved = int(await self._r.get(keys.AUDIT_MOVED) or 0)
        return await self._db.read(sql_audit.count) + max(0, int(await self._r.llen(keys.AUDIT_LOG)) - moved)

    async def recent(self, limit: int = 200, *, action: str | None = None, user: str | None = None,
                     target: str | None = None) -> list[AuditEntry]:
        """Newest first; filters are exact matches, applied in SQL and to the entries not moved yet."""
        filters = {"action": action, "user": user, "target": target}
        fresh = [e for e in reversed(await sql_audit.unmoved(self._r))
                 if all(v is None or e.get(k) == v for k, v in filters.items())]
        stored = await self._db.read(lambda conn: sql_audit.recent(conn, limit, **filters))
        seen = {e.get("id") for e in fresh if e.get("id")}
        merged = fresh + [e for e in stored if e.get("id") is None or e.get("id") not in seen]
        return [AuditEntry(**e) for e in merged[:limit]]


class AuditMoving:
    """The dashboard's background job: the audit list into SQL every second; while the database is
    down, retried with backoff (entries wait in Redis), each failure logged by Periodic and counted."""

    def __init__(self, redis: Redis, db: RecordsDb, keep_s: float, clock: Clock, *,
                 backoff_max: float = 30.0) -> None:
        self.mover = sql_audit.AuditMover(redis, db.engine, keep_s=keep_s)
        self._db = db
        self._clock = clock  # the entries' time is the app clock's (a demo's fake time too)
        self._backoff_max = backoff_max
        self._delay = 0.0
        self._next_try = 0.0

    async def __call__(self) -> None:
        if time.monotonic() < self._next_try:
            return
        try:
            await self._db.ready()
            while await self.mover.move_once(now=self._clock.now().timestamp()) == self.mover.batch:
                pass
        except Exception:
            self._delay = min(max(self._delay * 2, 1.0), self._backoff_max)
            self._next_try = time.monotonic() + self._delay
            raise
        self._delay = 0.0


def audit_moving(redis: Redis, db: RecordsDb, keep_s: float, clock: Clock) -> Periodic:
    return Periodic("audit-mover", AuditMoving(redis, db, keep_s, clock), 1.0)
