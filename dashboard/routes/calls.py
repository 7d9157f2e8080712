"""Call records: GET /api/calls, GET /api/calls/{id} and the calls page.

Lists are complete: every filter (agent, queue, outcome, category, time range) applies in the
records database, and a list longer than a page is paged (the `X-Next-Cursor` header and a
`Link: rel="next"` give the next page). Supervisors see customers' numbers masked
(dashboard.masking: the policy is access only by role and need); admins see them raw. Transcript
text is redacted separately, on the review page (dashboard.routes.call_review).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import Engine
from starlette.responses import JSONResponse, Response, StreamingResponse

from dashboard.call_list import check_call_id, get_record, list_calls, pending_outcomes, summary
from dashboard.deps import CurrentSession, Svc, render
from dashboard.masking import for_role
from dashboard.records_db import records
from dashboard.sessions import Session
from ivr.records.calls import CSV_COLUMNS, CallFilter, Cursor, csv_rows

PAGE_SIZE = 300
CSV_CHUNK = 1 << 16


def csv_lines(engine: Engine, f: CallFilter, session: Session) -> Iterator[str]:
    """The CSV text in chunks; customer numbers masked for supervisors as everywhere else."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    with engine.connect() as conn:
        for row in csv_rows(conn, f):
            out.writerow(for_role(dict(zip(CSV_COLUMNS, row, strict=True)), session).values())
            if buf.tell() >= CSV_CHUNK:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


async def _checked(svc: Svc, f: CallFilter, cursor: str | None) -> Cursor | None:
    """422 naming an unknown outcome (a typo must not look like "no calls") or a foreign cursor."""
    if f.outcome is not None:
        known = await records(svc).outcomes() | await pending_outcomes(svc.redis)
        if f.outcome not in known:
            raise HTTPException(422, f"outcome {f.outcome!r}: no call has this outcome "
                                     f"(known: {', '.join(sorted(known)) or 'none yet'})")
    try:
        return Cursor.decode(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def _next_url(request: Request, nxt: Cursor) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "cursor"}
    return f"{request.url.path}?{urlencode({**params, 'cursor': nxt.encode()})}"


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/calls", tags=["calls"], summary="Call records, newest first, every match, paged",
                response_model=list[dict[str, Any]])
    async def api_calls(
        request: Request, svc: Svc, session: CurrentSession,
        since: Annotated[float | None, Query(description="epoch seconds, inclusive")] = None,
        until: Annotated[float | None, Query(description="epoch seconds, inclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        queue: str | None = None, agent: str | None = None,
        outcome: Annotated[str | None, Query(description="an outcome some call has; unknown: 422")] = None,
        category: str | None = None,
        cursor: Annotated[str | None, Query(description="X-Next-Cursor of the previous page")] = None,
    ) -> Response:
        f = CallFilter(since=since, until=until, queue=queue or None, agent=agent or None,
                       outcome=outcome or None, category=category or None)
        after = await _checked(svc, f, cursor)
        rows, nxt = await list_calls(svc.redis, records(svc), f, limit, after)
        headers = {} if nxt is None else {"X-Next-Cursor": nxt.encode(),
                                          "Link": f'<{_next_url(request, nxt)}>; rel="next"'}
        return JSONResponse([summary(for_role(r, session)) for r in rows], headers=headers)

    @router.get("/api/calls.csv", tags=["calls"], summary="Every call in [since, until] as CSV, oldest first")
    async def api_calls_csv(
        svc: Svc, session: CurrentSession,
        since: Annotated[float, Query(description="epoch seconds, inclusive")],
        until: Annotated[float, Query(description="epoch seconds, inclusive")],
        queue: str | None = None, agent: str | None = None, outcome: str | None = None,
        category: str | None = None,
    ) -> Response:
        f = CallFilter(since=since, until=until, queue=queue or None, agent=agent or None,
                       outcome=outcome or None, category=category or None)
        await _checked(svc, f, None)
        await records(svc).ready()
        await svc.audit.record(session.user, session.role, "download", "calls.csv", since=since, until=until,
                               queue=f.queue, agent=f.agent, outcome=f.outcome, category=f.category)
        # A sync generator: Starlette iterates it in a worker thread, so the export never holds the loop.
        return StreamingResponse(csv_lines(records(svc).engine, f, session), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="calls.csv"'})

    @router.get("/api/calls/{call_id}", tags=["calls"], summary="One call record with its events")
    async def api_call(call_id: str, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        record = await get_record(svc.redis, records(svc), check_call_id(call_id))
        if record is None:
            raise HTTPException(404, f"no call record {call_id!r} (expired after the retention period, "
                                     "or never written)")
        return for_role(record, session)

    @router.get("/calls", include_in_schema=False)
    async def calls_page(request: Request, svc: Svc, session: CurrentSession,
                         queue: str | None = None, agent: str | None = None, outcome: str | None = None,
                         category: str | None = None, cursor: str | None = None,
                         days: Annotated[int, Query(ge=1, le=400)] = 7) -> Response:
        f = CallFilter(since=time.time() - days * 86400, queue=queue or None, agent=agent or None,
                       outcome=outcome or None, category=category or None)
        after = await _checked(svc, f, cursor)
        rows, nxt = await list_calls(svc.redis, records(svc), f, PAGE_SIZE, after)
        return render(request, "calls.html", calls=[for_role(r, session) for r in rows],
                      queue=queue or "", agent=agent or "", outcome=outcome or "", category=category or "",
                      days=days, next_url=_next_url(request, nxt) if nxt else "")

    return router
