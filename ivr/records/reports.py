"""Reports from the records database: calls per category (the policy's "organised by category") and the
policy's KPI, 20/20/30/30, per agent, combining what is measured with what reviewers scored:

    answering timeliness  20%  share of the agent's answered calls answered within 3 rings (measured)
    accuracy              20%  mean of the current QA scores' accuracy KPI
    problem handling      30%  mean of the current QA scores' handling KPI
    satisfaction          30%  mean survey answer (0-100 on its scale); the QA satisfaction KPI if no survey

A component without data is left out and the total re-weighted over the others (`partial` names them).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Integer, case, cast, func, select

from ivr.records.schema import CallRow, ScoreRow

WEIGHTS = {"answering": 20, "accuracy": 20, "handling": 30, "satisfaction": 30}


def by_category(conn: Connection, since: float, until: float) -> list[dict[str, Any]]:
    """Per category: calls, their outcomes and mean duration (an indexed range read, grouped in SQL)."""
    c = CallRow
    rows = conn.execute(
        select(c.category, c.outcome, func.count(), func.avg(c.duration))
        .with_hint(c, "INDEXED BY ix_calls_category_outcome", "sqlite")  # SQLite without ANALYZE picks another
        .where(c.started_at >= since, c.started_at <= until)
        .group_by(c.category, c.outcome))
    out: dict[str, dict[str, Any]] = {}
    for category, outcome, n, avg in rows:
        entry = out.setdefault(category or "(none)", {"category": category or "(none)", "calls": 0, "outcomes": {},
                                                      "_dur": 0.0})
        entry["calls"] += n
        entry["outcomes"][outcome or "(none)"] = n
        entry["_dur"] += (avg or 0.0) * n
    return [{**{k: v for k, v in e.items() if k != "_dur"}, "mean_duration_s": round(e["_dur"] / e["calls"], 1)}
            for _, e in sorted(out.items())]


def _measured(conn: Connection, since: float, until: float) -> dict[str, dict[str, Any]]:
    c = CallRow
    in_time = func.sum(case((c.answered_in_time.is_(True), 1), else_=0))
    judged = func.count(c.answered_in_time)
    rows = conn.execute(
        select(c.agent, func.count(), cast(in_time, Integer), judged, func.avg(c.survey_pct), func.count(c.survey_pct))
        .with_hint(c, "INDEXED BY ix_calls_kpi", "sqlite")
        .where(c.started_at >= since, c.started_at <= until, c.agent.is_not(None)).group_by(c.agent))
    return {agent: {"calls": n, "in_time": t or 0, "judged": j, "survey": s, "surveys": ns}
            for agent, n, t, j, s, ns in rows}


def _scored(conn: Connection, since: float, until: float) -> dict[str, list[dict[str, int]]]:
    rows = conn.execute(select(ScoreRow.agent, ScoreRow.kpis).where(
        ScoreRow.superseded_by.is_(None), ScoreRow.at >= since, ScoreRow.at <= until))
    out: dict[str, list[dict[str, int]]] = {}
    for agent, kpis in rows:
        out.setdefault(agent, []).append(json.loads(kpis))
    return out


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def kpi_by_agent(conn: Connection, since: float, until: float) -> list[dict[str, Any]]:
    """Per agent: the four components (0-100 or None), the weighted total, and the counts behind them."""
    measured, scored = _measured(conn, since, until), _scored(conn, since, until)
    rows = []
    for agent in sorted(set(measured) | set(scored)):
        m: dict[str, Any] = measured.get(agent, {"calls": 0, "in_time": 0, "judged": 0, "survey": None,
                                                 "surveys": 0})
        s = scored.get(agent, [])
        parts: dict[str, float | None] = {
            "answering": round(100.0 * m["in_time"] / m["judged"], 1) if m["judged"] else None,
            "accuracy": _mean([k["accuracy"] for k in s if "accuracy" in k]),
            "handling": _mean([k["handling"] for k in s if "handling" in k]),
            "satisfaction": (round(m["survey"], 1) if m["survey"] is not None
                             else _mean([k["satisfaction"] for k in s if "satisfaction" in k])),
        }
        have = {k: v for k, v in parts.items() if v is not None}
        weight = sum(WEIGHTS[k] for k in have)
        total = round(sum(v * WEIGHTS[k] for k, v in have.items()) / weight, 1) if weight else None
        rows.append({"agent": agent, **parts, "total": total, "partial": sorted(set(parts) - set(have)),
                     "calls": m["calls"], "surveys": m["surveys"], "reviews": len(s)})
    return rows
