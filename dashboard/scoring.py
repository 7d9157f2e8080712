"""QA scores of reviewed calls, with the policy's KPI weights.

A submitted score is never edited: a reviewer who changes their mind submits a new score that
supersedes the current one and must say why. Both stay readable, the old one marked superseded.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import WatchError

from ivr import keys
from ivr.clock import zone

# Policy: answering timeliness 20%, accuracy of recorded information 20%,
# timeliness of problem handling 30%, customer satisfaction 30%.
KPIS: dict[str, tuple[str, int]] = {
    "answering": ("Answering timeliness", 20),
    "accuracy": ("Accuracy of recorded information", 20),
    "handling": ("Timeliness of problem handling", 30),
    "satisfaction": ("Customer satisfaction", 30),
}
# The policy gives weights, not scales: each KPI is scored 0-100 (100 = fully met), so the weighted
# total is also 0-100. The form states each scale and computes the same total live (static/score.js).
SCALES: dict[str, tuple[int, int]] = {k: (0, 100) for k in KPIS}
KPI_HELP: dict[str, str] = {
    "answering": "100 = answered within 3 rings (with an apology when late)",
    "accuracy": "100 = name, phone, address, product and problem recorded correctly",
    "handling": "100 = resolved or handed over within the promised time",
    "satisfaction": "100 = caller satisfied with timeliness, fix and attitude (see the survey)",
}
MAX_COMMENT = 4000


def scale_text(kpi: str) -> str:
    low, high = SCALES[kpi]
    return f"{low}-{high}"


class ScoreConflict(Exception):
    """The call already has a current score (supersede it), or the one to supersede is not current."""


class ScoreInput(BaseModel):
    kpis: dict[str, int] = Field(description="KPI name -> 0..100; every KPI of the policy is required")
    comment: str = Field("", max_length=MAX_COMMENT)
    supersedes: str | None = None
    reason: str = Field("", max_length=MAX_COMMENT)

    def problems(self) -> list[str]:
        out = [f"{KPIS[k][0]} ({k}): missing (scale {scale_text(k)})" for k in KPIS if k not in self.kpis]
        out += [f"KPI {k!r}: unknown (known: {', '.join(KPIS)})" for k in self.kpis if k not in KPIS]
        out += [f"{KPIS[k][0]} ({k}): {v} is outside its scale {scale_text(k)}" for k, v in self.kpis.items()
                if k in SCALES and not SCALES[k][0] <= v <= SCALES[k][1]]
        if self.supersedes and not self.reason.strip():
            out.append("reason: required when a score supersedes another")
        return out


class Score(BaseModel):
    id: str
    call_id: str
    agent: str
    week: str  # ISO week of the call, e.g. 2026-W10
    reviewer: str
    at: float
    kpis: dict[str, int]
    total: float
    comment: str = ""
    survey: Any = None  # the caller's survey answer as recorded on the call, for the record
    supersedes: str | None = None
    reason: str = ""
    superseded_by: str | None = None

    @classmethod
    def new(cls, call_id: str, agent: str, week: str, reviewer: str, data: ScoreInput, at: float,
            survey: Any = None) -> Score:
        """A fresh score of `data` with a new id and its weighted total (every store makes them so)."""
        return cls(id=f"{int(at)}-{secrets.token_hex(4)}", call_id=call_id, agent=agent, week=week,
                   reviewer=reviewer, at=at, kpis=data.kpis, total=weighted_total(data.kpis),
                   comment=data.comment.strip(), survey=survey, supersedes=data.supersedes,
                   reason=data.reason.strip())


def weighted_total(kpis: dict[str, int]) -> float:
    """0-100: each KPI's place on its scale times its weight (20/20/30/30), to one decimal.

    static/score.js computes the same number in the browser; tests hold the two together."""
    total = 0.0
    for k, (_, weight) in KPIS.items():
        low, high = SCALES[k]
        total += (kpis[k] - low) / (high - low) * weight
    return round(total + 1e-9, 1)


class ScoreStore:
    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def get(self, score_id: str) -> Score | None:
        raw = await self._r.get(keys.qa_score(score_id))
        return None if raw is None else Score.model_validate_json(raw)

    async def for_call(self, call_id: str) -> list[Score]:
        """Every score of a call, oldest first; the current one has superseded_by None."""
        ids = await self._r.lrange(keys.qa_call_scores(call_id), 0, -1)
        scores = [await self.get(str(i)) for i in ids]
        return [s for s in scores if s is not None]

    async def current(self, call_id: str) -> Score | None:
        return next((s for s in reversed(await self.for_call(call_id)) if s.superseded_by is None), None)

    async def submit(self, call_id: str, agent: str, week: str, reviewer: str, data: ScoreInput, at: float,
                     survey: Any = None) -> Score:
        """Stores a new score; ScoreConflict when it would overwrite instead of supersede."""
        score = Score.new(call_id, agent, week, reviewer, data, at, survey)
        list_key = keys.qa_call_scores(call_id)
        async with self._r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(list_key)
                current = await self.current(call_id)
                if current is not None and data.supersedes != current.id:
                    raise ScoreConflict(
                        f"call {call_id} already has score {current.id} by {current.reviewer}; a score cannot "
                        "be edited, only superseded with a reason")
                if current is None and data.supersedes:
                    raise ScoreConflict(f"score {data.supersedes} is not the current score of call {call_id}")
                pipe.multi()  # type: ignore[no-untyped-call]
                if current is not None:
                    old = current.model_copy(update={"superseded_by": score.id})
                    pipe.set(keys.qa_score(old.id), old.model_dump_json())
                pipe.set(keys.qa_score(score.id), score.model_dump_json())
                pipe.rpush(list_key, score.id)
                pipe.zadd(keys.QA_SCORES, {score.id: at})
                await pipe.execute()
            except WatchError as exc:
                raise ScoreConflict(f"call {call_id} was scored by someone else just now; reload") from exc
        return score

    async def all_current(self, since: float | None = None, until: float | None = None) -> list[Score]:
        """Current (not superseded) scores submitted in [since, until], oldest first."""
        ids = await self._r.zrangebyscore(keys.QA_SCORES, since if since is not None else "-inf",
                                          until if until is not None else "+inf")
        if not ids:
            return []
        raws = await self._r.mget([keys.qa_score(str(i)) for i in ids])
        scores = [Score.model_validate_json(r) for r in raws if r]
        return [s for s in scores if s.superseded_by is None]


def report_rows(scores: list[Score], by: str) -> list[dict[str, Any]]:
    """Averages per agent (`by`="agent") or per week (`by`="week"), with per-KPI averages."""
    groups: dict[str, list[Score]] = {}
    for s in scores:
        groups.setdefault(s.agent if by == "agent" else s.week, []).append(s)
    rows = []
    for key in sorted(groups):
        items = groups[key]
        rows.append({
            by: key, "reviews": len(items),
            "total": round(sum(s.total for s in items) / len(items), 1),
            **{k: round(sum(s.kpis[k] for s in items) / len(items), 1) for k in KPIS},
        })
    return rows


def iso_week(epoch: float, tz: str) -> str:
    """'2026-W10': the ISO week of a moment in the hotline's time zone."""
    year, week, _ = datetime.fromtimestamp(epoch, zone(tz)).isocalendar()
    return f"{year}-W{week:02d}"
