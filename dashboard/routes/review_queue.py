"""Review queue and QA reports.

/reviews: a week's sample (dashboard.weekly_sample: drawn after the week ends, never by reading)
with each supervisor's own items and whether they are scored, or the week's calls so far when
it is not drawn yet. /reports: per-agent and per-week averages of current scores, each agent's
coverage against the weekly quota, the policy's 20/20/30/30 KPI per agent (measured answer times,
scores, survey answers) and the calls per category, from the records database.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection
from starlette.responses import JSONResponse, Response

from dashboard.call_list import PENDING_READ_MAX, pending_records
from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from dashboard.records_db import records
from dashboard.sampling import Sample, previous_week, stored_sample, verify
from dashboard.score_store import score_store
from dashboard.scoring import KPIS, report_rows
from dashboard.sessions import Session
from dashboard.weekly_sample import checked_week, draw, not_drawn, week_over
from ivr import keys
from ivr.records import reports as sql_reports
from ivr.records.calls import to_row

log = logging.getLogger(__name__)


async def queue_rows(svc: Services, sample: Sample, session: Session, everyone: bool) -> list[dict[str, Any]]:
    mine = [i for i in sample.items if (session.is_admin and everyone) or i.reviewer == session.user]
    current = await score_store(svc).current_of([i.call_id for i in mine])
    return [{**asdict(item), "score": current.get(item.call_id)} for item in mine]


async def reviews_page(request: Request, svc: Services, session: Session, week: str, everyone: bool,
                       error: str = "", status: int = 200) -> Response:
    sample = await stored_sample(svc.redis, records(svc), week)
    rows = await queue_rows(svc, sample, session, everyone) if sample else []
    pending = None if sample else await not_drawn(svc, week)
    return render(request, "reviews.html", status_code=status, sample=sample, rows=rows, week=week,
                  everyone=everyone, done=sum(1 for r in rows if r["score"]), pending=pending,
                  can_draw=sample is None and week_over(svc, week), error=error)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/reviews", include_in_schema=False)
    async def reviews(request: Request, svc: Svc, session: CurrentSession, week: str = "",
                      everyone: bool = False) -> Response:
        week = checked_week(svc, week or previous_week(svc.clock.now()))
        return await reviews_page(request, svc, session, week, everyone)

    @router.post("/reviews/draw", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def draw_form(request: Request, svc: Svc, session: CurrentSession,
                        week: Annotated[str, Form()]) -> Response:
        week = checked_week(svc, week)
        try:
            await draw(svc, week, session.user, session.role)
        except HTTPException as exc:
            return await reviews_page(request, svc, session, week, False, str(exc.detail), exc.status_code)
        return RedirectResponse(f"/reviews?week={week}", status_code=303)

    @router.get("/api/samples/{week}", tags=["qa"],
                summary="The week's QA sample with its seed and a re-draw check, or its calls so far if not drawn")
    async def api_sample(week: str, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        week = checked_week(svc, week)
        sample = await stored_sample(svc.redis, records(svc), week)
        if sample is None:
            return await not_drawn(svc, week)
        return {**asdict(sample), "drawn": True, "check": await verify(svc.redis, records(svc), sample,
                                                                         svc.settings.timezone)}

    @router.post("/api/samples/{week}/draw", tags=["qa"], status_code=201, dependencies=[Depends(check_csrf)],
                 summary="Draw a week's sample now (the week must be over; send X-CSRF-Token); audited")
    async def api_draw(week: str, svc: Svc, session: CurrentSession) -> Response:
        week = checked_week(svc, week)
        sample, drawn = await draw(svc, week, session.user, session.role)
        if not drawn:
            raise HTTPException(409, f"week {week}: already drawn (seed {sample.seed}); a sample is never re-drawn")
        return JSONResponse({**asdict(sample), "drawn": True}, status_code=201)

    @router.get("/reports", include_in_schema=False)
    async def reports_page(request: Request, svc: Svc, session: CurrentSession,
                           weeks: Annotated[int, Query(ge=1, le=52)] = 8) -> Response:
        data = await reports(svc, weeks)
        return render(request, "reports.html", kpis=KPIS, weeks=weeks, **data)

    @router.get("/api/reports", tags=["qa"], summary="QA averages per agent and per week, and weekly coverage")
    async def api_reports(svc: Svc, session: CurrentSession,
                          weeks: Annotated[int, Query(ge=1, le=52)] = 8) -> dict[str, Any]:
        return await reports(svc, weeks)

    return router


async def reports(svc: Services, weeks: int) -> dict[str, Any]:
    now = svc.clock.now()
    since = now.timestamp() - weeks * 7 * 86400
    scores = await score_store(svc).all_current(since=since)
    week = previous_week(now)
    sample = await stored_sample(svc.redis, records(svc), week)  # not drawn yet: coverage of what was reviewed
    required = sample.per_agent if sample else svc.settings.review_calls_per_agent
    reviewed: dict[str, int] = {}
    for s in scores:
        if s.week == week:
            reviewed[s.agent] = reviewed.get(s.agent, 0) + 1
    agents = sorted({i.agent for i in (sample.items if sample else [])} | set(reviewed))
    coverage = [{"agent": a, "reviewed": reviewed.get(a, 0), "required": required,
                 "met": reviewed.get(a, 0) >= required} for a in agents]
    kpi, categories, unmoved = await measured_reports(svc, since, now.timestamp())
    return {"by_agent": report_rows(scores, "agent"), "by_week": report_rows(scores, "week"),
            "coverage_week": week, "coverage": coverage, "sample_drawn": sample is not None,
            "kpi": kpi, "kpi_weights": sql_reports.WEIGHTS, "by_category": categories, "unmoved": unmoved}


async def measured_reports(svc: Services, since: float, until: float) -> tuple[Any, Any, dict[str, Any]]:
    """The KPI per agent and the calls per category from the records database, counting the finished calls
    still only in Redis (the mover lags, or the database was down) from their Redis records; `unmoved`
    says how many were counted and whether that was all of them (a backlog beyond one read is not)."""
    finished = [r for r in await pending_records(svc.redis) if r.get("outcome") is not None]
    waiting = int(await svc.redis.zcard(keys.RECORDS_PENDING))

    def read(conn: Connection) -> tuple[Any, Any]:
        rows = [to_row(r, []) for r in finished]  # here, in the worker thread: a backlog costs the loop nothing
        return sql_reports.kpi_by_agent(conn, since, until, rows), sql_reports.by_category(conn, since, until, rows)

    kpi, categories = await records(svc).read(read)
    return kpi, categories, {"counted": len(finished), "waiting": waiting, "complete": waiting <= PENDING_READ_MAX}
