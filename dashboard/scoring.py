"""QA scores of reviewed calls, with the policy's KPI weights.

A submitted score is never edited: a reviewer who changes their mind submits a new score that
supersedes the current one and must say why. Both stay readable, the old one marked superseded.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

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
