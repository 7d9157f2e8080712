"""Dashboard access: login with hashed passwords, roles, sessions that expire, CSRF, production rules."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from dashboard.app import create_app
from dashboard.users import StartupRefused, UserError, UserStore
from ivr import keys
from tests.dashboard_support import PASSWORDS, add_users, dashboard_settings, login

pytestmark = pytest.mark.timeout(60)


def test_pages_and_api_need_login(client: TestClient) -> None:
    page = client.get("/wallboard", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/wallboard"
    for path in ("/api/queues", "/api/calls", "/api/calls/x", "/wallboard/stream", "/audit"):
        assert client.get(path).status_code == 401, path


def test_wrong_password_is_refused_and_right_one_logs_in(client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/login", data={"username": "sup", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    assert client.get("/api/queues").status_code == 401
    login(client, "sup")
    assert client.get("/api/queues").status_code == 200


def test_login_form_needs_its_csrf_cookie(client: TestClient) -> None:
    client.get("/login")
    resp = client.post("/login", data={"username": "sup", "password": PASSWORDS["sup"], "csrf_token": "forged"})
    assert resp.status_code == 403
    assert client.get("/api/queues").status_code == 401


def test_logout_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "sup")
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/api/queues").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/queues").status_code == 401


def test_supervisor_cannot_reach_admin_pages(client: TestClient) -> None:
    login(client, "sup")
    for path in ("/audit", "/api/audit", "/flows", "/api/flows"):
        assert client.get(path).status_code == 403, path


def test_session_expires_when_idle(redis_url: str, tmp_path: Path) -> None:
    add_users(redis_url, ("sup",))
    with TestClient(create_app(dashboard_settings(redis_url, tmp_path, dashboard_session_idle=60))) as c:
        login(c, "sup")
        sid = c.cookies.get("ivr_session")
        r = redis.Redis.from_url(redis_url)
        ttl = r.ttl(keys.dashboard_session(sid))
        assert 0 < ttl <= 60
        r.pexpire(keys.dashboard_session(sid), 1)  # what 60 idle seconds would do
        time.sleep(0.05)
        assert c.get("/api/queues").status_code == 401


def test_session_ends_at_max_age_even_when_active(redis_url: str, tmp_path: Path) -> None:
    add_users(redis_url, ("sup",))
    with TestClient(create_app(dashboard_settings(redis_url, tmp_path, dashboard_session_max=60))) as c:
        login(c, "sup")
        sid = c.cookies.get("ivr_session")
        r = redis.Redis.from_url(redis_url)
        data = json.loads(r.get(keys.dashboard_session(sid)))
        data["created"] = time.time() - 61  # logged in 61 s ago
        r.set(keys.dashboard_session(sid), json.dumps(data), ex=60)
        assert c.get("/api/queues").status_code == 401


def test_passwords_are_stored_hashed(redis_url: str) -> None:
    add_users(redis_url, ("sup",))
    raw = redis.Redis.from_url(redis_url).hget(keys.DASHBOARD_USERS, "sup")
    assert raw is not None and PASSWORDS["sup"].encode() not in raw and b"$argon2" in raw


async def test_weak_passwords_and_bad_names_are_refused(redis_url: str) -> None:
    r = Redis.from_url(redis_url, decode_responses=True)
    store = UserStore(r)
    with pytest.raises(UserError, match="at least 8"):
        await store.add("amy", "supervisor", "short")
    with pytest.raises(UserError, match="too easy"):
        await store.add("amy", "supervisor", "change-me")
    with pytest.raises(UserError, match="role 'root'"):
        await store.add("amy", "root", "a-good-password")
    with pytest.raises(UserError, match="user name"):
        await store.add("Amy Smith", "supervisor", "a-good-password")
    await store.add("amy", "supervisor", "a-good-password")
    with pytest.raises(UserError, match="already exists"):
        await store.add("amy", "admin", "a-good-password")
    await r.aclose()


def test_development_creates_a_flagged_default_admin(redis_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(dashboard_settings(redis_url, tmp_path))) as c:
        csrf = login(c, "admin", "admin")
        assert csrf
    raw = redis.Redis.from_url(redis_url).hget(keys.DASHBOARD_USERS, "admin")
    assert raw is not None and b'"default_password": true' in raw


def test_production_refuses_to_start_without_users(redis_url: str, tmp_path: Path) -> None:
    app = create_app(dashboard_settings(redis_url, tmp_path, dashboard_production=True))
    with pytest.raises(StartupRefused, match="no users"), TestClient(app):
        pass


def test_production_refuses_a_default_password(redis_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(dashboard_settings(redis_url, tmp_path))):
        pass  # development start-up created admin/admin
    app = create_app(dashboard_settings(redis_url, tmp_path, dashboard_production=True))
    with pytest.raises(StartupRefused, match="admin still have the default password"), TestClient(app):
        pass

    async def fix() -> None:
        r = Redis.from_url(redis_url, decode_responses=True)
        await UserStore(r).set_password("admin", "a-real-secret-9")
        await r.aclose()

    asyncio.run(fix())
    prod = create_app(dashboard_settings(redis_url, tmp_path, dashboard_production=True))
    with TestClient(prod, base_url="https://testserver") as c:  # Secure cookies need https
        login(c, "admin", "a-real-secret-9")
        assert c.get("/api/queues").status_code == 200


def test_production_cookies_are_secure_and_strict(redis_url: str, tmp_path: Path) -> None:
    add_users(redis_url, ("sup",))
    with TestClient(create_app(dashboard_settings(redis_url, tmp_path, dashboard_production=True)),
                    base_url="https://testserver") as c:
        page = c.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        resp = c.post("/login", data={"username": "sup", "password": PASSWORDS["sup"], "csrf_token": token},
                      follow_redirects=False)
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_next_parameter_cannot_redirect_off_site(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text


def test_repeated_wrong_passwords_lock_the_name_for_a_while(client: TestClient, redis_url: str) -> None:
    def attempt(password: str) -> int:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        return client.post("/login", data={"username": "sup", "password": password, "csrf_token": token},
                           follow_redirects=False).status_code

    for _ in range(10):  # IVR_DASHBOARD_LOGIN_MAX_FAILURES
        assert attempt("guess") == 401
    assert attempt(PASSWORDS["sup"]) == 429  # even the right password, until the window passes
    assert client.get("/api/queues").status_code == 401
    ttl = redis.Redis.from_url(redis_url).ttl(keys.dashboard_login_failures("sup"))
    assert 0 < ttl <= 900
    redis.Redis.from_url(redis_url).delete(keys.dashboard_login_failures("sup"))  # the window passed
    assert attempt(PASSWORDS["sup"]) == 303
