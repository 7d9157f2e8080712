"""Review queue and QA reports.

/reviews: the weekly sample (drawn automatically for the last complete week) with each supervisor's
own items and whether they are scored. /reports: per-agent and per-week averages of current scores
and each agent's coverage against the weekly quota.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from dashboard.deps import CurrentSession, Services, Svc, render
from dashboard.periodic import Periodic
from dashboard.sampling import Sample, ensure_sample, previous_week, verify, week_bounds
from dashboard.scoring import KPIS, ScoreStore, report_rows

log = logging.getLogger(__name__)


async def reviewers(svc: Services) -> list[str]:
    users = await svc.users.list()
    names = [u.name for u in users if u.role == "supervisor"]
    return names or [u.name for u in users if u.role == "admin"]


async def sample_for(svc: Services, week: str) -> Sample:
    try:
        week_bounds(week, svc.settings.timezone)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    sample, drawn = await ensure_sample(
        svc.redis, week, svc.settings.timezone, svc.settings.review_calls_per_agent,
        svc.settings.review_spot_checks, await reviewers(svc), now=svc.clock.now().timestamp())
    if drawn:
        await svc.audit.record("system", "system", "sample_draw", week, seed=sample.seed,
                               population=sample.population, items=len(sample.items))
    return sample


def weekly_draw(svc: Services, interval: float = 3600.0) -> Periodic:
    """Draws last week's sample soon after start-up and then hourly (a no-op once drawn)."""

    async def job() -> None:
        await sample_for(svc, previous_week(svc.clock.now()))

    return Periodic("weekly-qa-draw", job, interval)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/reviews", include_in_schema=False)
    async def reviews_page(request: Request, svc: Svc, session: CurrentSession, week: str = "",
                           everyone: bool = False) -> Response:
        week = week or previous_week(svc.clock.now())
        sample = await sample_for(svc, week)
        mine = [i for i in sample.items if (session.is_admin and everyone) or i.reviewer == session.user]
        store = ScoreStore(svc.redis)
        rows = []
        for item in mine:
            current = await store.current(item.call_id)
            rows.append({**asdict(item), "score": current})
        return render(request, "reviews.html", sample=sample, rows=rows, week=week, everyone=everyone,
                      done=sum(1 for r in rows if r["score"]))

    @router.get("/api/samples/{week}", tags=["qa"],
                summary="The week's QA sample with its seed, and whether redoing the draw gives the same calls")
    async def api_sample(week: str, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        sample = await sample_for(svc, week)
        return {**asdict(sample), "check": await verify(svc.redis, sample, svc.settings.timezone)}

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
    scores = await ScoreStore(svc.redis).all_current(since=since)
    week = previous_week(now)
    sample = await sample_for(svc, week)
    reviewed: dict[str, int] = {}
    for s in scores:
        if s.week == week:
            reviewed[s.agent] = reviewed.get(s.agent, 0) + 1
    agents = sorted({i.agent for i in sample.items} | set(reviewed))
    coverage = [{"agent": a, "reviewed": reviewed.get(a, 0), "required": sample.per_agent,
                 "met": reviewed.get(a, 0) >= sample.per_agent} for a in agents]
    return {"by_agent": report_rows(scores, "agent"), "by_week": report_rows(scores, "week"),
            "coverage_week": week, "coverage": coverage}
