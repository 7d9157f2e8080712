"""When the weekly QA sample is drawn, and by whom.

A sample is drawn only once its week is over: by the weekly job (every hour it draws the last
complete week if that is not drawn yet, so within the hour after Monday 00:00 local time), or by
an explicit, audited request of a supervisor or admin (POST /api/samples/{week}/draw, the button
on /reviews). Reading a sample never draws it: drawing the current week at a GET would freeze
the sample before the week's calls are in. Weeks are normalised (2026-W010 is 2026-W10); a bad
or future week is refused naming the `week` parameter.
"""

from __future__ import annotations

from fastapi import HTTPException

from dashboard.deps import Services
from dashboard.periodic import Periodic
from dashboard.records_db import records
from dashboard.sampling import (
    Sample,
    calls_so_far,
    ensure_sample,
    normalize_week,
    previous_week,
    week_bounds,
    week_of,
)

DRAW_INTERVAL_S = 3600.0


def checked_week(svc: Services, week: str) -> str:
    """The canonical week; 400 naming the parameter for a malformed or future week."""
    try:
        canonical = normalize_week(week.strip())
    except ValueError as exc:
        raise HTTPException(400, f"parameter week: {exc}") from exc
    if week_bounds(canonical, svc.settings.timezone)[0] > svc.clock.now():
        raise HTTPException(400, f"parameter week: {canonical} has not started yet (this week is "
                                 f"{week_of(svc.clock.now())})")
    return canonical


def week_over(svc: Services, week: str) -> bool:
    return week_bounds(week, svc.settings.timezone)[1] <= svc.clock.now()


async def not_drawn(svc: Services, week: str) -> dict[str, object]:
    """What a reader is told about a week without a sample: its recorded calls so far, when it is drawn."""
    end = week_bounds(week, svc.settings.timezone)[1]
    calls = await calls_so_far(svc.redis, records(svc), week, svc.settings.timezone)
    when = (f"drawn automatically within the hour after {end.isoformat(timespec='minutes')}"
            if not week_over(svc, week) else "the week is over: drawn within the hour, or draw it now")
    return {"week": week, "drawn": False, "calls_so_far": calls, "week_ends": end.isoformat(), "when": when}


async def reviewers(svc: Services) -> list[str]:
    users = await svc.users.list()
    names = [u.name for u in users if u.role == "supervisor"]
    return names or [u.name for u in users if u.role == "admin"]


async def draw(svc: Services, week: str, user: str, role: str) -> tuple[Sample, bool]:
    """Draw a week that is over (409 otherwise); (sample, drawn_now). The draw is audited as `user`."""
    if not week_over(svc, week):
        end = week_bounds(week, svc.settings.timezone)[1]
        raise HTTPException(409, f"week {week} is not over until {end.isoformat(timespec='minutes')}: "
                                 "its sample is drawn after that, when all its calls are in")
    sample, drawn = await ensure_sample(
        svc.redis, records(svc), week, svc.settings.timezone, svc.settings.review_calls_per_agent,
        svc.settings.review_spot_checks, await reviewers(svc), now=svc.clock.now().timestamp())
    if drawn:
        await svc.audit.record(user, role, "sample_draw", week, seed=sample.seed, population=sample.population,
                               items=len(sample.items))
    return sample, drawn


def weekly_draw(svc: Services, interval: float = DRAW_INTERVAL_S) -> Periodic:
    """Draws the last complete week soon after start-up and then hourly (a no-op once drawn)."""

    async def job() -> None:
        await draw(svc, previous_week(svc.clock.now()), "system", "system")

    return Periodic("weekly-qa-draw", job, interval)
