"""The dashboard's FastAPI app. `create_app(settings)` builds it; nothing happens at import.

Start-up (lifespan) connects to Redis, enforces the production rules (users exist, none with a
default password), and starts the background tasks (wallboard hub, trend sampler, weekly QA draw)
under one TaskSupervisor, whose deaths /metrics counts; the routers of dashboard/routes/ are
mounted explicitly here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.audit import AuditLog, audit_moving
from dashboard.deps import NotLoggedIn, Services, render
from dashboard.flowfiles import FlowFileError, FlowFiles
from dashboard.liveqa import LiveQaAlerts
from dashboard.records_db import RecordsDb
from dashboard.routes import (
    agents,
    audit,
    auth,
    call_review,
    calls,
    flows,
    incident,
    live,
    liveqa,
    metrics,
    review_queue,
    wallboard,
)
from dashboard.sessions import SessionStore
from dashboard.users import DEV_ADMIN, UserStore, check_production_users
from dashboard.wallboard import Wallboard
from dashboard.weekly_sample import weekly_draw
from ivr import keys
from ivr.clock import Clock, clock_from_settings, zone
from ivr.settings import Settings
from ivr.tasks import DeathHook, TaskSupervisor

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


async def _startup(settings: Settings, redis: Redis, clock: Clock, tasks: TaskSupervisor) -> Services:
    users = UserStore(redis, settings.dashboard_login_hash_threads)
    if settings.dashboard_production:
        await check_production_users(users)
    elif await users.ensure_dev_admin():
        log.warning("dashboard: no users, created development login %s/%s "
                    "(refused when IVR_DASHBOARD_PRODUCTION=true)", *DEV_ADMIN)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["localtime"] = _localtime_filter(settings.timezone)
    records = RecordsDb(settings)  # calls, scores, audit log that must last (SQL)
    return Services(
        settings=settings, redis=redis, clock=clock, users=users,
        sessions=SessionStore(redis, settings.dashboard_session_idle, settings.dashboard_session_max),
        audit=AuditLog(redis, clock, records), templates=templates, tasks=tasks, extra={"records": records},
    )


def _death_counter(redis: Redis, timeout: float) -> DeathHook:
    async def count(name: str) -> None:
        # Where ivr serve counts its own (keys.TASK_DEATHS), so /metrics shows the dashboard's too.
        await asyncio.wait_for(redis.hincrby(keys.TASK_DEATHS, name, 1), timeout)

    return count


def _localtime_filter(tz: str) -> Callable[[Any], str]:
    zone_info = zone(tz)

    def localtime(epoch: Any) -> str:
        if not isinstance(epoch, int | float):
            return ""
        return datetime.fromtimestamp(epoch, zone_info).strftime("%Y-%m-%d %H:%M:%S")

    return localtime


def _start_features(app: FastAPI, svc: Services) -> None:
    svc.extra["flows"] = FlowFiles(svc.settings.flows_dir, svc.settings.state_dir)
    moving = audit_moving(svc.redis, svc.extra["records"], keys.DAY_S, svc.clock)
    moving.start(svc.tasks)  # the audit list (its write buffer) into SQL
    app.state.on_stop.extend([moving.stop, svc.extra["records"].close])
    wb = Wallboard(svc)
    svc.extra["wallboard"] = wb
    wb.start(svc.tasks)
    app.state.on_stop.append(wb.stop)
    alerts = LiveQaAlerts(svc)
    svc.extra["liveqa"] = alerts
    alerts.start(svc.tasks)
    app.state.on_stop.append(alerts.stop)
    weekly = weekly_draw(svc)
    weekly.start(svc.tasks)
    app.state.on_stop.append(weekly.stop)


def _mount_features(app: FastAPI) -> None:
    for routes in (auth, wallboard, calls, audit, call_review, incident, flows, review_queue, live, liveqa, agents,
                   metrics):
        app.include_router(routes.build_router())


def _install_handlers(app: FastAPI) -> None:
    def wants_json(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/metrics")) or "text/html" not in request.headers.get(
            "accept", "")

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "not logged in: POST /login first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> Response:
        # Without Redis there are no sessions or live state: say so instead of a bare 500.
        log.error("dashboard: Redis error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": f"live state store (Redis) unavailable: {exc}"}, status_code=503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if wants_json(request):
            return await http_exception_handler(request, exc)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code,
                      detail=exc.detail)

    @app.exception_handler(FlowFileError)
    async def flow_file_refused(request: Request, exc: FlowFileError) -> Response:
        # One place turns a refused flow-file operation (unknown flow, stale version, overrun check)
        # into its status, as a page or as JSON like any HTTPException.
        return await http_error(request, HTTPException(exc.status, str(exc)))

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware on every API request)."""

    COMMON: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(("/docs", "/redoc", "/static-offline-docs"))
        extra = self.COMMON if docs else [*self.COMMON, (b"content-security-policy", CSP.encode())]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: Settings, *, redis: Redis | None = None, clock: Clock | None = None) -> FastAPI:
    """The dashboard for `settings`. `redis`/`clock` may be given by tests; otherwise from settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Timeouts on the socket: a Redis that hangs makes requests fail (503) instead of hanging them.
        client = redis or Redis.from_url(settings.redis_url, decode_responses=True,
                                         socket_timeout=settings.dashboard_redis_timeout,
                                         socket_connect_timeout=settings.dashboard_redis_timeout)
        tasks = TaskSupervisor(on_death=_death_counter(client, settings.dashboard_redis_timeout))
        try:
            svc = await _startup(settings, client, clock or clock_from_settings(settings), tasks)
            app.state.services = svc
            _start_features(app, svc)
            yield
        finally:
            for stop in list(getattr(app.state, "on_stop", [])):
                stop()  # flags first: a loop that swallowed its cancellation still ends
            await tasks.stop()
            if redis is None:
                await client.aclose()

    # Swagger UI and ReDoc served from the package, not a CDN: the browsers here have no internet.
    app = FastAPIOffline(title="Hotline IVR dashboard", version="0.1.0", lifespan=lifespan,
                         description="Wallboard, call review and QA scoring, incidents, call flows.")
    app.state.on_stop = []
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _install_handlers(app)
    _mount_features(app)
    return app
