"""Retention of the records database, by date, with the same boundaries as the files and Redis
(ivr.recording.retention, ivr.retention_store): what is at or before the cutoff (now - days) goes.

- calls: started at or before now - IVR_CALL_RECORD_TTL_DAYS (the call record's own period);
- the audit log: entries at or before now - IVR_AUDIT_RETENTION_DAYS (>= 365);
- QA scores: a call's scores together, once its NEWEST score is at or before now - IVR_QA_RETENTION_DAYS
  (a chain of superseded scores is never cut in half);
- weekly QA samples: once the whole week is at or before now - IVR_QA_RETENTION_DAYS;
- finished callbacks: finished at or before now - IVR_CALL_RECORD_TTL_DAYS (as their calls, and as
  Redis kept them).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from ivr.records import audit, callback_history, samples
from ivr.records.schema import CallRow, ScoreRow

log = logging.getLogger("ivr.retention")


def purge_records(engine: Engine, now: datetime, *, call_days: int, audit_days: int, qa_days: int,
                  dry_run: bool = False) -> dict[str, int]:
    """How many rows of each kind were (or, with dry_run, would be) removed. Raises SQLAlchemyError."""
    t = now.timestamp()
    calls_old = CallRow.started_at <= t - call_days * 86_400
    newest = select(ScoreRow.call_id).group_by(ScoreRow.call_id).having(
        func.max(ScoreRow.at) <= t - qa_days * 86_400)
    scores_old = ScoreRow.call_id.in_(newest)
    with engine.begin() as conn:
        if dry_run:
            out = {"calls": conn.execute(select(func.count()).select_from(CallRow).where(calls_old)).scalar_one(),
                   "qa_scores": conn.execute(select(func.count()).select_from(ScoreRow).where(scores_old)
                                             ).scalar_one()}
        else:
            out = {"calls": conn.execute(delete(CallRow).where(calls_old)).rowcount,
                   "qa_scores": conn.execute(delete(ScoreRow).where(scores_old)).rowcount}
        out["audit"] = audit.purge_before(conn, t - audit_days * 86_400, dry_run)
        out["qa_samples"] = samples.purge_ended_by(conn, t - qa_days * 86_400, dry_run)
        out["callbacks"] = callback_history.purge_before(conn, t - call_days * 86_400, dry_run)
    out = {k: int(v) for k, v in out.items()}
    log.info("retention: records database: %s %s", "would remove" if dry_run else "removed", out)
    return out
