"""Server-side sessions in Redis: a random id in an HttpOnly cookie, a CSRF token per session.

A session ends after `idle` seconds without a request and always `max_age` seconds after login;
the Redis TTL enforces both, so a stolen cookie stops working without any sweeper.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import cast

from redis.asyncio import Redis

from dashboard.users import Role, User
from ivr import keys

COOKIE = "ivr_session"
LOGIN_CSRF_COOKIE = "ivr_login_csrf"  # double-submit token for the login form (no session yet)


@dataclass(frozen=True)
class Session:
    id: str
    user: str
    role: Role
    csrf: str
    created: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


class SessionStore:
    def __init__(self, redis: Redis, idle: int, max_age: int) -> None:
        self._r = redis
        self.idle = idle
        self.max_age = max_age

    async def create(self, user: User) -> Session:
        s = Session(id=secrets.token_urlsafe(32), user=user.name, role=user.role,
                    csrf=secrets.token_urlsafe(32), created=time.time())
        data = {k: v for k, v in asdict(s).items() if k != "id"}
        index = keys.dashboard_user_sessions(user.name)
        async with self._r.pipeline(transaction=True) as tx:
            tx.set(keys.dashboard_session(s.id), json.dumps(data), ex=min(self.idle, self.max_age))
            tx.sadd(index, s.id)
            tx.expire(index, self.max_age)
            tx.set(keys.DASHBOARD_SESSIONS_INDEXED_SINCE, int(s.created), nx=True)
            await tx.execute()
        return s

    async def get(self, session_id: str | None) -> Session | None:
        """The live session, its idle timer restarted; None when absent, expired or malformed."""
        if not session_id or len(session_id) > 100:
            return None
        key = keys.dashboard_session(session_id)
        raw = await self._r.getex(key, ex=self.idle)  # read and restart the idle timer in one round trip
        if raw is None:
            return None
        data = cast(dict[str, object], json.loads(raw))
        created = float(cast(float, data["created"]))
        left = int(created + self.max_age - time.time())
        if left <= 0:
            await self._r.delete(key)
            return None
        if left < self.idle:
            await self._r.expire(key, left)
        return Session(id=session_id, user=str(data["user"]), role=cast(Role, data["role"]),
                       csrf=str(data["csrf"]), created=created)

    async def delete(self, session_id: str) -> None:
        raw = await self._r.getdel(keys.dashboard_session(session_id))
        if raw is not None:
            await self._r.srem(keys.dashboard_user_sessions(str(json.loads(raw).get("user"))), session_id)

    async def delete_user(self, name: str) -> int:
        """End every session of a user (password changed, user removed): the user's index, plus a
        scan while sessions made before the index existed may still be alive."""
        index = keys.dashboard_user_sessions(name)
        doomed = [keys.dashboard_session(str(i)) for i in await self._r.smembers(index)]
        n = int(await self._r.delete(*doomed)) if doomed else 0
        await self._r.delete(index)
        if await self._legacy_sessions_possible():
            n += await self._scan_delete(name)
        return n

    async def _legacy_sessions_possible(self) -> bool:
        since = await self._r.get(keys.DASHBOARD_SESSIONS_INDEXED_SINCE)
        return since is None or time.time() - float(since) < self.max_age

    async def _scan_delete(self, name: str) -> int:
        n = 0
        async for key in self._r.scan_iter(match=keys.dashboard_session("*"), count=500):
            raw = await self._r.get(key)
            if raw is not None and json.loads(raw).get("user") == name:
                n += await self._r.delete(key)
        return n
