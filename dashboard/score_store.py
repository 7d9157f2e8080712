"""Where QA scores are stored: the records database (ivr.records.scores), behind the interface the
scoring code calls (dashboard.scoring defines Score, ScoreInput, the KPI weights and the total).

`score_store(svc)` is the store of the running app; `submit` is atomic in SQL (one current score per
call, enforced by a unique index), so two reviewers on two nodes cannot both make a current score.
"""

from __future__ import annotations

from typing import Any

from dashboard.records_db import RecordsDb, WithExtra, records
from dashboard.scoring import Score, ScoreConflict, ScoreInput
from ivr.records import scores as sql


class SqlScoreStore:
    def __init__(self, db: RecordsDb) -> None:
        self._db = db

    async def get(self, score_id: str) -> Score | None:
        row = await self._db.read(lambda c: sql.get(c, score_id))
        return None if row is None else Score.model_validate(row)

    async def for_call(self, call_id: str) -> list[Score]:
        """Every score of a call, oldest first; the current one has superseded_by None."""
        return [Score.model_validate(r) for r in await self._db.read(lambda c: sql.for_call(c, call_id))]

    async def current(self, call_id: str) -> Score | None:
        return (await self.current_of([call_id])).get(call_id)

    async def current_of(self, call_ids: list[str]) -> dict[str, Score]:
        rows = await self._db.read(lambda c: sql.current_for_calls(c, call_ids))
        return {k: Score.model_validate(v) for k, v in rows.items()}

    async def submit(self, call_id: str, agent: str, week: str, reviewer: str, data: ScoreInput, at: float,
                     survey: Any = None) -> Score:
        """Stores a new score; ScoreConflict when it would overwrite instead of supersede."""
        score = Score.new(call_id, agent, week, reviewer, data, at, survey)
        try:
            await self._db.write(lambda c: sql.submit(c, score.model_dump()))
        except sql.ScoreConflictError as exc:
            raise ScoreConflict(str(exc)) from exc
        return score

    async def all_current(self, since: float | None = None, until: float | None = None) -> list[Score]:
        """Current (not superseded) scores submitted in [since, until], oldest first."""
        return [Score.model_validate(r) for r in await self._db.read(lambda c: sql.current(c, since, until))]


def score_store(svc: WithExtra) -> SqlScoreStore:
    return SqlScoreStore(records(svc))
