"""Login and logout. The login form is protected by a double-submit cookie (there is no session
yet to hold a CSRF token); logout is a CSRF-checked POST like every other form. Attempts are
limited per user name and per client IP (dashboard.login_limit); every failure is audited with
the name as typed, the address and the reason (never the password)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from dashboard.login_limit import Attempt, LoginLimiter
from dashboard.sessions import COOKIE, LOGIN_CSRF_COOKIE, tokens_match


def safe_next(target: str | None) -> str:
    """Only same-site paths: an attacker's link must not bounce a fresh login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, svc: Svc, next_url: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", status_code=status, login_csrf=token, next_url=next_url, error=error)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                    secure=svc.settings.dashboard_production, max_age=svc.settings.dashboard_login_form_ttl)
    return resp


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def audit_failure(svc: Services, name: str, ip: str, reason: str, **detail: object) -> None:
    await svc.audit.record(name, "", "login_failed", name, ip=ip, reason=reason, **detail)


async def refused(request: Request, svc: Svc, attempt: Attempt, next_url: str) -> Response:
    if attempt.first_refusal:
        await audit_failure(svc, attempt.name, attempt.ip, attempt.refused, attempts=attempt.by_name,
                            attempts_from_ip=attempt.by_ip)
    minutes = max(1, attempt.window_s // 60)
    return _login_page(request, svc, next_url, f"Too many failed logins ({attempt.refused}); "
                       f"try again in {minutes} minutes.", 429)


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
        name, ip, next_url = username.strip()[:64], client_ip(request), safe_next(next)
        if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
            return _login_page(request, svc, next_url, "The form expired; please try again.", 403)
        limiter = LoginLimiter(svc.redis, svc.settings)
        attempt = await limiter.count(name, ip)  # counted before the check: parallel guesses cannot overtake it
        if attempt.refused:
            return await refused(request, svc, attempt, next_url)
        user, why = await svc.users.check_login(name, password)
        if user is None:
            await audit_failure(svc, name, ip, why, attempts=attempt.by_name)
            return _login_page(request, svc, next_url, "Wrong user name or password.", 401)
        await limiter.succeeded(attempt)
        session = await svc.sessions.create(user)
        await svc.audit.record(user.name, user.role, "login", user.name)
        resp = RedirectResponse(next_url, status_code=303)
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
