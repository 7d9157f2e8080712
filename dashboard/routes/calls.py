"""Call records: GET /api/calls, GET /api/calls/{id} and the calls page.

Supervisors see customers' numbers masked (dashboard.masking: the policy is access only by role and
need); admins see them raw. Transcript text is redacted separately, on the review page
(dashboard.routes.call_review).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import JSONResponse, Response

from dashboard.call_list import check_call_id, list_calls, summary
from dashboard.deps import CurrentSession, Svc, render
from dashboard.masking import for_role
from ivr.state.callrecord import CallStore


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/calls", tags=["calls"], summary="Call records, newest first",
                response_model=list[dict[str, Any]])
    async def api_calls(
        svc: Svc, session: CurrentSession,
        since: Annotated[float | None, Query(description="epoch seconds, inclusive")] = None,
        until: Annotated[float | None, Query(description="epoch seconds, inclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        queue: str | None = None, agent: str | None = None,
    ) -> Response:
        rows = await list_calls(svc.redis, since=since, until=until, limit=limit, queue=queue, agent=agent)
        return JSONResponse([summary(for_role(r, session)) for r in rows])

    @router.get("/api/calls/{call_id}", tags=["calls"], summary="One call record with its events")
    async def api_call(call_id: str, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        record = await CallStore(svc.redis).get(check_call_id(call_id))
        if record is None:
            raise HTTPException(404, f"no call record {call_id!r} (expired after the retention period, "
                                     "or never written)")
        return for_role(record, session)

    @router.get("/calls", include_in_schema=False)
    async def calls_page(request: Request, svc: Svc, session: CurrentSession,
                         queue: str | None = None, agent: str | None = None,
                         days: Annotated[int, Query(ge=1, le=120)] = 7) -> Response:
        rows = await list_calls(svc.redis, since=time.time() - days * 86400, until=None, limit=300,
                                queue=queue or None, agent=agent or None)
        return render(request, "calls.html", calls=[for_role(r, session) for r in rows],
                      queue=queue or "", agent=agent or "", days=days)

    return router
