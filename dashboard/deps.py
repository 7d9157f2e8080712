"""Request dependencies: the services of the running app, the logged-in session, roles, CSRF."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from redis.asyncio import Redis
from starlette.responses import Response

from dashboard.audit import AuditLog
from dashboard.sessions import COOKIE, Session, SessionStore, tokens_match
from dashboard.users import UserStore
from ivr.clock import Clock
from ivr.settings import Settings
from ivr.tasks import TaskSupervisor

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Services:
    """Everything a request handler needs, built once at start-up (see dashboard.app)."""

    settings: Settings
    redis: Redis
    clock: Clock
    users: UserStore
    sessions: SessionStore
    audit: AuditLog
    templates: Jinja2Templates
    tasks: TaskSupervisor  # every background task of the app: kept, deaths logged, counted, restarted
    extra: dict[str, Any] = field(default_factory=dict)  # per-feature singletons (hub, AMI client ...)


class NotLoggedIn(Exception):
    """No valid session: pages redirect to /login, the API answers 401 (see app handlers)."""


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(services)]


async def current_session(request: Request, svc: Svc) -> Session:
    session = await svc.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise NotLoggedIn()
    request.state.session = session
    return session


CurrentSession = Annotated[Session, Depends(current_session)]


async def require_admin(session: CurrentSession) -> Session:
    if not session.is_admin:
        raise HTTPException(403, f"user {session.user!r} (role {session.role}) may not open admin pages")
    return session


AdminSession = Annotated[Session, Depends(require_admin)]


async def check_csrf(request: Request, session: CurrentSession) -> None:
    """Every state-changing request carries the session's token (form field or X-CSRF-Token header)."""
    if request.method not in UNSAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it, so the handler's Form() params still work
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not tokens_match(session.csrf, given):
        raise HTTPException(403, f"CSRF token missing or wrong: send the form field {CSRF_FIELD!r} "
                                 f"or the header X-CSRF-Token from the page you were given")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    svc = services(request)
    session: Session | None = getattr(request.state, "session", None)
    ctx = {"session": session, "csrf": session.csrf if session else "", "production":
           svc.settings.dashboard_production, **context}
    return svc.templates.TemplateResponse(request, template, ctx, status_code=status_code)
