"""Ending a user's sessions reads the user's own index, not the whole keyspace (real Redis)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from redis.asyncio import Redis

from dashboard.sessions import SessionStore
from dashboard.users import User
from ivr import keys

pytestmark = pytest.mark.timeout(30)
MAX_AGE = 3600


def _user(name: str) -> User:
    return User(name=name, role="supervisor", endpoint="", created=time.time())


async def _legacy_session(r: Redis, sid: str, user: str) -> None:
    """A session as the code before the index wrote it: no entry in any user's index."""
    data = {"user": user, "role": "supervisor", "csrf": "x", "created": time.time()}
    await r.set(keys.dashboard_session(sid), json.dumps(data), ex=600)


async def _run(redis_url: str, indexed_since: float | None) -> tuple[int, set[str]]:
    r = Redis.from_url(redis_url, decode_responses=True)
    try:
        await r.flushdb()
        store = SessionStore(r, idle=600, max_age=MAX_AGE)
        lin = [await store.create(_user("lin")) for _ in range(3)]
        other = await store.create(_user("wang"))
        await store.delete(lin[0].id)  # a logout leaves the index too
        assert lin[0].id not in await r.smembers(keys.dashboard_user_sessions("lin"))
        await _legacy_session(r, "legacy-lin", "lin")
        if indexed_since is not None:
            await r.set(keys.DASHBOARD_SESSIONS_INDEXED_SINCE, indexed_since)
        ended = await store.delete_user("lin")
        assert await store.get(other.id) is not None, "another user's session must survive"
        assert [await store.get(s.id) for s in lin] == [None, None, None]
        assert await r.exists(keys.dashboard_user_sessions("lin")) == 0
        left = {k.rsplit(":", 1)[1] async for k in r.scan_iter(match=keys.dashboard_session("*"))}
        return ended, left
    finally:
        await r.aclose()


def test_sessions_made_long_after_the_index_existed_are_ended_from_the_index_alone(redis_url: str) -> None:
    ended, left = asyncio.run(_run(redis_url, indexed_since=time.time() - MAX_AGE - 5))
    # No scan: the session written without an index entry is not found (none can exist any more).
    assert ended == 2 and "legacy-lin" in left


def test_while_sessions_from_before_the_index_may_live_they_are_found_by_a_scan(redis_url: str) -> None:
    ended, left = asyncio.run(_run(redis_url, indexed_since=None))  # the first indexed login set it
    assert ended == 3 and "legacy-lin" not in left


def test_the_index_expires_with_the_longest_session(redis_url: str) -> None:
    async def go() -> int:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            await r.flushdb()
            await SessionStore(r, idle=600, max_age=MAX_AGE).create(_user("lin"))
            return int(await r.ttl(keys.dashboard_user_sessions("lin")))
        finally:
            await r.aclose()

    assert MAX_AGE - 5 <= asyncio.run(go()) <= MAX_AGE
