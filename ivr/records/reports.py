"""Reports from the records database: calls per category (the policy's "organised by category") and the
policy's KPI, 20/20/30/30, per agent, combining what is measured with what reviewers scored:

    answering timeliness  20%  share of the agent's answered calls answered within 3 rings (measured)
    accuracy              20%  mean of the current QA scores' accuracy KPI
    problem handling      30%  mean of the current QA scores' handling KPI
    satisfaction          30%  mean survey answer (0-100 on its scale); the QA satisfaction KPI if no survey

A component without data is left out and the total re-weighted over the others (`partial` names them).

Both read covering indexes (ix_calls_kpi, ix_calls_category_outcome). SQLite chooses them only with planner
statistics, which the records mover keeps (ANALYZE after its first move, then hourly): SQLAlchemy does not
render an `INDEXED BY` hint for SQLite, so there is no hint to give.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, case, cast, func, select

from ivr.records.schema import CallRow, ScoreRow

WEIGHTS = {"answering": 20, "accuracy": 20, "handling": 30, "satisfaction": 30}


# Finished calls not moved into SQL yet (the mover lags, or the database was down) are counted from
# their Redis records: `unmoved` are their rows (ivr.records.calls.to_row). A call in both (moved, then
# written again) counts once, as its Redis version: its SQL row's part is taken back out.
CHUNK = 500


def _versions(conn: Connection, unmoved: Sequence[dict[str, Any]], since: float, until: float,
              *columns: Any) -> list[Any]:
    """The SQL rows (of `columns`) of the unmoved calls that are already in SQL, in the period."""
    c, ids = CallRow, [str(r["call_id"]) for r in unmoved]
    out: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        out += conn.execute(select(*columns).where(c.call_id.in_(ids[i:i + CHUNK]), c.started_at >= since,
                                                   c.started_at <= until)).all()
    return out


def _in(rows: Sequence[dict[str, Any]], since: float, until: float) -> list[dict[str, Any]]:
    return [r for r in rows if since <= r["started_at"] <= until]


def _add_category(out: dict[tuple[str | None, str | None], list[float]], category: str | None,
                  outcome: str | None, n: int, dur_sum: float | None, dur_n: int) -> None:
    t = out.setdefault((category, outcome), [0, 0.0, 0])
    t[0], t[1], t[2] = t[0] + n, t[1] + (dur_sum or 0.0), t[2] + dur_n


def by_category(conn: Connection, since: float, until: float,
                unmoved: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Per category: calls, their outcomes and mean duration (an indexed range read, grouped in SQL)."""
    c = CallRow
    tally: dict[tuple[str | None, str | None], list[float]] = {}
    for category, outcome, n, dur, dur_n in conn.execute(
            select(c.category, c.outcome, func.count(), func.sum(c.duration), func.count(c.duration))
            .where(c.started_at >= since, c.started_at <= until)
            .group_by(c.category, c.outcome)):
        _add_category(tally, category, outcome, n, dur, dur_n)
    for category, outcome, dur in _versions(conn, unmoved, since, until, c.category, c.outcome, c.duration):
        _add_category(tally, category, outcome, -1, -(dur or 0.0), -(dur is not None))
    for r in _in(unmoved, since, until):
        _add_category(tally, r["category"], r["outcome"], 1, r["duration"], r["duration"] is not None)
    out: dict[str, dict[str, Any]] = {}
    for (category, outcome), (calls, dur_sum, dur_calls) in tally.items():
        if calls <= 0:
            continue
        name = category or "(none)"
        entry = out.setdefault(name, {"category": name, "calls": 0, "outcomes": {}, "_dur": [0.0, 0]})
        entry["calls"] += int(calls)
        entry["outcomes"][outcome or "(none)"] = int(calls)
        entry["_dur"] = [entry["_dur"][0] + dur_sum, entry["_dur"][1] + dur_calls]
    return [{**{k: v for k, v in e.items() if k != "_dur"},
             "mean_duration_s": round(e["_dur"][0] / e["_dur"][1], 1) if e["_dur"][1] else None}
            for _, e in sorted(out.items())]


def _add_measured(out: dict[str, dict[str, Any]], agent: str, sign: int, calls: int, in_time: int, judged: int,
                  survey_sum: float | None, surveys: int) -> None:
    m = out.setdefault(agent, {"calls": 0, "in_time": 0, "judged": 0, "survey_sum": 0.0, "surveys": 0})
    m["calls"] += sign * calls
    m["in_time"] += sign * in_time
    m["judged"] += sign * judged
    m["survey_sum"] += sign * (survey_sum or 0.0)
    m["surveys"] += sign * surveys


def _row_measured(out: dict[str, dict[str, Any]], sign: int, agent: str | None, in_time: bool | None,
                  survey: float | None) -> None:
    if agent is not None:
        _add_measured(out, agent, sign, 1, in_time is True, in_time is not None, survey, survey is not None)


def _measured(conn: Connection, since: float, until: float,
              unmoved: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    c = CallRow
    in_time = func.sum(case((c.answered_in_time.is_(True), 1), else_=0))
    out: dict[str, dict[str, Any]] = {}
    for agent, n, t, j, s, ns in conn.execute(
            select(c.agent, func.count(), cast(in_time, Integer), func.count(c.answered_in_time),
                   func.sum(c.survey_pct), func.count(c.survey_pct))
            .where(c.started_at >= since, c.started_at <= until, c.agent.is_not(None)).group_by(c.agent)):
        _add_measured(out, str(agent), 1, n, t or 0, j, s, ns)
    for agent, t, s in _versions(conn, unmoved, since, until, c.agent, c.answered_in_time, c.survey_pct):
        _row_measured(out, -1, agent, t, s)
    for r in _in(unmoved, since, until):
        _row_measured(out, 1, r["agent"], r["answered_in_time"], r["survey_pct"])
    return {agent: m for agent, m in out.items() if m["calls"] > 0}


def _scored(conn: Connection, since: float, until: float) -> dict[str, list[dict[str, int]]]:
    rows = conn.execute(select(ScoreRow.agent, ScoreRow.kpis).where(
        ScoreRow.superseded_by.is_(None), ScoreRow.at >= since, ScoreRow.at <= until))
    out: dict[str, list[dict[str, int]]] = {}
    for agent, kpis in rows:
        out.setdefault(agent, []).append(json.loads(kpis))
    return out


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def kpi_by_agent(conn: Connection, since: float, until: float,
                 unmoved: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Per agent: the four components (0-100 or None), the weighted total, and the counts behind them."""
    measured, scored = _measured(conn, since, until, unmoved), _scored(conn, since, until)
    rows = []
    for agent in sorted(set(measured) | set(scored)):
        m: dict[str, Any] = measured.get(agent, {"calls": 0, "in_time": 0, "judged": 0, "survey_sum": 0.0,
                                                 "surveys": 0})
        s = scored.get(agent, [])
        parts: dict[str, float | None] = {
            "answering": round(100.0 * m["in_time"] / m["judged"], 1) if m["judged"] else None,
            "accuracy": _mean([k["accuracy"] for k in s if "accuracy" in k]),
            "handling": _mean([k["handling"] for k in s if "handling" in k]),
            "satisfaction": (round(m["survey_sum"] / m["surveys"], 1) if m["surveys"]
                             else _mean([k["satisfaction"] for k in s if "satisfaction" in k])),
        }
        have = {k: v for k, v in parts.items() if v is not None}
        weight = sum(WEIGHTS[k] for k in have)
        total = round(sum(v * WEIGHTS[k] for k, v in have.items()) / weight, 1) if weight else None
        rows.append({"agent": agent, **parts, "total": total, "partial": sorted(set(parts) - set(have)),
                     "calls": m["calls"], "surveys": m["surveys"], "reviews": len(s)})
    return rows
