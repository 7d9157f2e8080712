"""Login and logout. The login form is protected by a double-submit cookie (there is no session
yet to hold a CSRF token); logout is a CSRF-checked POST like every other form."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from dashboard.deps import CurrentSession, Svc, check_csrf, render
from dashboard.sessions import COOKIE, LOGIN_CSRF_COOKIE, tokens_match
from ivr import keys

MAX_FAILURES = 10  # per user name, then refused until LOCKOUT_S after the last failure
LOCKOUT_S = 900


def safe_next(target: str | None) -> str:
    """Only same-site paths: an attacker's link must not bounce a fresh login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, svc: Svc, next_url: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", status_code=status, login_csrf=token, next_url=next_url, error=error)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                    secure=svc.settings.dashboard_production, max_age=3600)
    return resp


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    async def login_form(request: Request, svc: Svc, next: str = "/") -> Response:
        return _login_page(request, svc, safe_next(next))

    @router.post("/login")
    async def login(
        request: Request, svc: Svc,
        username: Annotated[str, Form()], password: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
            return _login_page(request, svc, safe_next(next), "The form expired; please try again.", 403)
        name = username.strip()[:64]
        failures = keys.dashboard_login_failures(name)
        if int(await svc.redis.get(failures) or 0) >= MAX_FAILURES:
            return _login_page(request, svc, safe_next(next), f"Too many failed logins for {name!r}; "
                               f"try again in {LOCKOUT_S // 60} minutes.", 429)
        user = await svc.users.authenticate(name, password)
        if user is None:
            pipe = svc.redis.pipeline(transaction=True)
            pipe.incr(failures)
            pipe.expire(failures, LOCKOUT_S)
            await pipe.execute()
            return _login_page(request, svc, safe_next(next), "Wrong user name or password.", 401)
        await svc.redis.delete(failures)
        session = await svc.sessions.create(user)
        await svc.audit.record(user.name, user.role, "login", user.name)
        resp = RedirectResponse(safe_next(next), status_code=303)
        resp.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", path="/",
                        secure=svc.settings.dashboard_production, max_age=svc.settings.dashboard_session_max)
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return resp

    @router.post("/logout", dependencies=[Depends(check_csrf)])
    async def logout(svc: Svc, session: CurrentSession) -> Response:
        await svc.sessions.delete(session.id)
        await svc.audit.record(session.user, session.role, "logout", session.user)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    return router
