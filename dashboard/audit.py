"""Audit log: who listened to, downloaded or scored which call, who monitored a live call,
who changed the incident statement or a flow, and when. Append-only; admins read it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from ivr import keys
from ivr.clock import Clock

Action = Literal[
    "login", "login_failed", "logout", "listen", "transcript", "review", "download", "score", "supersede", "monitor",
    "incident_on", "incident_off", "flow_save", "flow_restore", "sample_draw", "agent",
]


@dataclass(frozen=True)
class AuditEntry:
    at: str  # ISO time with offset
    user: str
    role: str
    action: str
    target: str  # call id, flow name, queue ...
    detail: dict[str, Any] = field(default_factory=dict)


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
    def __init__(self, redis: Redis, clock: Clock) -> None:
        self._r = redis
        self._clock = clock

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
        return int(await self._r.llen(keys.AUDIT_LOG))

    async def recent(self, limit: int = 200, *, action: str | None = None, user: str | None = None,
                     target: str | None = None) -> list[AuditEntry]:
        """Newest first; filters are exact matches. Scans backwards in pages so filters stay cheap."""
        out: list[AuditEntry] = []
        end = -1
        page = 500
        while len(out) < limit:
            raw = await self._r.lrange(keys.AUDIT_LOG, end - page + 1, end)
            if not raw:
                break
            for item in reversed(raw):
                e = AuditEntry(**json.loads(item))
                if (action and e.action != action) or (user and e.user != user) or (target and e.target != target):
                    continue
                out.append(e)
                if len(out) >= limit:
                    break
            if len(raw) < page:
                break
            end -= page
        return out
