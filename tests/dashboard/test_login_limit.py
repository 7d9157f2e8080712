"""Login brute-force limit over a real uvicorn server and Redis: parallel wrong guesses cannot
overtake the counter, the right password is refused once locked, failures are audited without
the password, and argon2 runs off the event loop (the wallboard API stays fast during a burst)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import httpx
import pytest
import redis

from ivr import keys
from tests.dashboard_support import LOGIN_CSRF, PASSWORDS, add_users, dashboard_settings, serve, with_shipped_queues

pytestmark = pytest.mark.timeout(90)


async def login_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    m = LOGIN_CSRF.search(page.text)
    assert m, page.text[:300]
    return m.group(1)


async def attempt(url: str, name: str, password: str, client: httpx.AsyncClient | None = None) -> int:
    """One login as a browser does it (form, then POST), in a client of its own unless one is given."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
        token = await login_token(client)
        resp = await client.post("/login", data={"username": name, "password": password, "csrf_token": token})
        return resp.status_code


def audit(redis_url: str) -> list[dict[str, object]]:
    return [json.loads(e) for e in redis.Redis.from_url(redis_url).lrange(keys.AUDIT_LOG, 0, -1)]


def test_parallel_wrong_logins_get_at_most_the_limit_checked(redis_url: str, tmp_path: Path) -> None:
    add_users(redis_url, ("sup",))
    settings = dashboard_settings(redis_url, tmp_path, dashboard_login_max_failures=5)

    async def burst(url: str) -> tuple[list[int], int]:
        codes = await asyncio.gather(*(attempt(url, "sup", f"guess-{i}") for i in range(30)))
        return list(codes), await attempt(url, "sup", PASSWORDS["sup"])

    with serve(settings) as url:
        codes, right = asyncio.run(burst(url))
    assert codes.count(401) == 5 and codes.count(429) == 25, codes
    assert right == 429  # locked: even the right password is not checked
    failed = [e for e in audit(redis_url) if e["action"] == "login_failed"]
    assert [e["detail"]["reason"] for e in failed].count("wrong password") == 5  # type: ignore[index]
    assert any("too many failures" in str(e["detail"]["reason"]) for e in failed)  # type: ignore[index]
    assert {e["user"] for e in failed} == {"sup"} and all(e["detail"]["ip"] == "127.0.0.1"  # type: ignore[index]
                                                           for e in failed)
    assert "guess-" not in json.dumps(failed) and PASSWORDS["sup"] not in json.dumps(failed)
    assert 0 < redis.Redis.from_url(redis_url).ttl(keys.dashboard_login_failures_ip("127.0.0.1")) <= 900


def test_one_address_is_limited_across_user_names(redis_url: str, tmp_path: Path) -> None:
    add_users(redis_url, ("sup",))
    settings = dashboard_settings(redis_url, tmp_path, dashboard_login_max_failures=3,
                                  dashboard_login_max_failures_ip=4)

    async def spray(url: str) -> tuple[list[int], int]:
        codes = await asyncio.gather(*(attempt(url, f"user{i}", "guess") for i in range(10)))
        return list(codes), await attempt(url, "sup", PASSWORDS["sup"])

    with serve(settings) as url:
        codes, right = asyncio.run(spray(url))
    assert codes.count(401) == 4 and right == 429, (codes, right)


def test_password_hashing_does_not_block_the_event_loop(redis_url: str, tmp_path: Path) -> None:
    add_users(redis_url, ("sup", "boss"))
    settings = with_shipped_queues(dashboard_settings(redis_url, tmp_path))

    async def measure(url: str) -> tuple[list[float], list[int]]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as user:
            assert await attempt(url, "boss", PASSWORDS["boss"], user) == 303
            assert (await user.get("/api/queues")).status_code == 200
            # 20 wrong guesses spread over names (none reaches the per-name limit): 20 argon2 checks.
            flood = asyncio.gather(*(attempt(url, f"name{i % 4}", "guess") for i in range(20)))
            latencies = []
            await asyncio.sleep(0.05)
            for _ in range(10):
                t0 = time.perf_counter()
                assert (await user.get("/api/queues")).status_code == 200
                latencies.append(time.perf_counter() - t0)
                await asyncio.sleep(0.03)
            return latencies, list(await flood)

    with serve(settings) as url:
        latencies, codes = asyncio.run(measure(url))
    assert codes == [401] * 20
    # One argon2 check takes ~0.1 s of CPU here; on the loop, 20 of them stall every request for seconds.
    assert max(latencies) < 0.5, latencies
