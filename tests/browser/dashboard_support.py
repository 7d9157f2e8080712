"""Shared by the dashboard's API tests and browser tests: settings on a temp tree, users, login."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis

from dashboard.users import UserStore
from ivr.settings import Settings, load_settings

T = TypeVar("T")
PASSWORDS = {"sup": "sup-secret-1", "boss": "boss-secret-1", "sup2": "sup2-secret-1"}
ROLES = {"sup": "supervisor", "boss": "admin", "sup2": "supervisor"}


def dashboard_settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    for d in ("state", "flows", "recordings"):
        (tmp_path / d).mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "redis_url": redis_url, "state_dir": tmp_path / "state", "flows_dir": tmp_path / "flows",
        "recordings_dir": tmp_path / "recordings", "dashboard_production": False,
        "timezone": "Asia/Shanghai", "fake_now": None,
    }
    values.update(overrides)
    return load_settings(**values)


def add_users(redis_url: str, names: tuple[str, ...] = ("sup", "boss", "sup2")) -> None:
    async def go() -> None:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            store = UserStore(r)
            for n in names:
                await store.add(n, ROLES[n], PASSWORDS[n], endpoint=f"PJSIP/{n}-phone")
        finally:
            await r.aclose()

    run_async(go())


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion from sync test code, even beside Playwright's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=30)


LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BODY_CSRF = re.compile(r'data-csrf="([^"]+)"')


def login(client: httpx.Client, name: str, password: str | None = None) -> str:
    """Logs the client in; returns the session's CSRF token (read from a page, as a browser would)."""
    page = client.get("/login")
    token = LOGIN_CSRF.search(page.text)
    assert token, page.text
    resp = client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                       "csrf_token": token.group(1), "next": "/wallboard"},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    home = client.get("/wallboard", headers={"accept": "text/html"})
    m = BODY_CSRF.search(home.text)
    assert m, home.text[:500]
    return m.group(1)
