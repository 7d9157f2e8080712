"""`ivr users add|list|passwd|remove` against a real Redis; `ivr dashboard` is registered."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from dashboard.users import UserStore
from ivr.cli.main import build_app

pytestmark = pytest.mark.timeout(60)


def _auth(redis_url: str, name: str, password: str) -> bool:
    async def go() -> bool:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            return await UserStore(r).authenticate(name, password) is not None
        finally:
            await r.aclose()

    return asyncio.run(go())


def test_add_list_passwd_remove(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_REDIS_URL", redis_url)
    runner = CliRunner()
    app = build_app()
    res = runner.invoke(app, ["users", "add", "lin", "--role", "supervisor", "--endpoint", "PJSIP/2001"],
                        input="first-secret-1\n")
    assert res.exit_code == 0, res.output
    assert "created lin (supervisor)" in res.output
    assert _auth(redis_url, "lin", "first-secret-1")

    res = runner.invoke(app, ["users", "add", "lin", "--role", "admin"], input="other-secret-1\n")
    assert res.exit_code == 1 and "already exists" in res.output

    res = runner.invoke(app, ["users", "list"])
    assert res.exit_code == 0 and "lin" in res.output and "PJSIP/2001" in res.output

    res = runner.invoke(app, ["users", "passwd", "lin", "--password-stdin"], input="second-secret-2\n")
    assert res.exit_code == 0, res.output
    assert not _auth(redis_url, "lin", "first-secret-1") and _auth(redis_url, "lin", "second-secret-2")

    res = runner.invoke(app, ["users", "remove", "lin"])
    assert res.exit_code == 0 and not _auth(redis_url, "lin", "second-secret-2")


def test_bad_input_is_named(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_REDIS_URL", redis_url)
    runner = CliRunner()
    app = build_app()
    res = runner.invoke(app, ["users", "add", "kim", "--role", "root"], input="a-fine-secret\n")
    assert res.exit_code == 1 and "role 'root'" in res.output
    res = runner.invoke(app, ["users", "add", "kim"], input="short\n")
    assert res.exit_code == 1 and "at least 8" in res.output
    res = runner.invoke(app, ["users", "passwd", "nobody"], input="a-fine-secret\n")
    assert res.exit_code == 1 and "no user 'nobody'" in res.output


def test_dashboard_command_is_mounted() -> None:
    res = CliRunner().invoke(build_app(), ["dashboard", "--help"])
    assert res.exit_code == 0 and "IVR_DASHBOARD_HOST" in res.output
