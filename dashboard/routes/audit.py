"""The audit log for admins: GET /audit (page) and GET /api/audit (JSON)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from dashboard.deps import AdminSession, Svc, render


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/audit", tags=["audit"], summary="Audit log, newest first (admins only)")
    async def api_audit(
        svc: Svc, session: AdminSession, limit: Annotated[int, Query(ge=1, le=5000)] = 200,
        action: str | None = None, user: str | None = None, target: str | None = None,
    ) -> list[dict[str, Any]]:
        entries = await svc.audit.recent(limit, action=action, user=user, target=target)
        return [asdict(e) for e in entries]

    @router.get("/audit", include_in_schema=False)
    async def audit_page(request: Request, svc: Svc, session: AdminSession,
                         action: str | None = None, user: str | None = None) -> Response:
        entries = await svc.audit.recent(500, action=action or None, user=user or None)
        return render(request, "audit.html", entries=entries, action=action or "", user=user or "",
                      total=await svc.audit.count())

    return router
