"""The tables. Times are epoch seconds (float), as on the Redis records; JSON columns hold what has
no column of its own (a call's whole record with its events, a score's KPIs, an audit entry's detail).

A change here needs a migration in ivr/records/migrations/versions/ (tests/records compare the two).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names fixed by convention, so SQLite and PostgreSQL migrations name them alike.
NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CallRow(Base):
    """One finished call. The filtered columns are copied out of `record` (the JSON of the Redis
    record's fields) and indexed with the start time, newest-first paging's order."""

    __tablename__ = "calls"
    call_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    caller: Mapped[str | None] = mapped_column(String(64))  # as the product stores it; masked when shown
    called: Mapped[str | None] = mapped_column(String(64))
    flow: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str | None] = mapped_column(String(16))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(32))  # enquiry, repair, complaint, ... (the flow's `set`)
    answer_wait_s: Mapped[float | None] = mapped_column(Float)
    answered_in_time: Mapped[bool | None] = mapped_column(Boolean)  # within 3 rings (answer_timing)
    survey_score: Mapped[int | None] = mapped_column(Integer)
    has_recording: Mapped[bool] = mapped_column(Boolean, default=False)  # the weekly QA sample's pool
    survey_pct: Mapped[float | None] = mapped_column(Float)  # the survey answer on its scale, as 0-100
    record: Mapped[str] = mapped_column(Text)  # the Redis record's fields, JSON
    events: Mapped[str] = mapped_column(Text)  # its event list, JSON (kept apart: lists do not read it)
    moved_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_calls_started", "started_at", "call_id"),
        Index("ix_calls_agent", "agent", "started_at"),
        Index("ix_calls_queue", "queue", "started_at"),
        Index("ix_calls_outcome", "outcome", "started_at"),
        Index("ix_calls_category", "category", "started_at"),
        # Covering indexes (migration 0006): the KPI report per agent, the calls per category and the week's
        # sample pool read these alone, not the rows (a quarter's report: 1.5 s -> about 0.1 s at 300,000 calls).
        Index("ix_calls_kpi", "agent", "started_at", "answered_in_time", "survey_pct"),
        Index("ix_calls_category_outcome", "category", "outcome", "started_at", "duration"),
        # moved_at (migration 0008): the pool's fingerprint (count, newest move) from the index alone, so a
        # drawn week's re-draw check is redone only when a call of its week changed.
        Index("ix_calls_pool", "started_at", "has_recording", "agent", "call_id", "moved_at"),
    )


class ScoreRow(Base):
    """A QA score (dashboard.scoring.Score). Never edited except `superseded_by`."""

    __tablename__ = "qa_scores"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(80))
    agent: Mapped[str] = mapped_column(String(64))
    week: Mapped[str] = mapped_column(String(10))
    reviewer: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    kpis: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, default="")
    survey: Mapped[str] = mapped_column(Text, default="null")
    supersedes: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    superseded_by: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_qa_scores_call", "call_id", "at"),
        Index("ix_qa_scores_at", "at"),
        Index("ix_qa_scores_agent_week", "agent", "week"),
        # One current score per call, enforced by the database: two reviewers scoring at once cannot
        # both make a current score, on any node.
        Index("uq_qa_scores_current", "call_id", unique=True, sqlite_where=text("superseded_by IS NULL"),
              postgresql_where=text("superseded_by IS NULL")),
    )


class SampleRow(Base):
    """A week's QA sample (dashboard.sampling.Sample as JSON); drawn once: the week is the key."""

    __tablename__ = "qa_samples"
    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    week_end: Mapped[float] = mapped_column(Float)  # the Monday 00:00 local after it (retention)
    drawn_at: Mapped[float] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text)


class AuditRow(Base):
    """One audit entry (dashboard.audit.AuditEntry). `digest` makes copying from Redis idempotent:
    the hash of the entry's JSON and its position in the Redis list."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(40))  # ISO time with offset, as written
    at_epoch: Mapped[float] = mapped_column(Float)
    user: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    digest: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_audit_log_at", "at_epoch"),
        Index("ix_audit_log_action", "action", "at_epoch"),
        Index("ix_audit_log_user", "user", "at_epoch"),
        Index("ix_audit_log_target", "target", "at_epoch"),
    )


class CallbackRow(Base):
    """A finished callback (ivr.queueing.callbacks.CallbackRequest: done, failed or cancelled) with every
    dial attempt, in order. The filtered columns are copied out of `record`, the Redis hash's fields."""

    __tablename__ = "callbacks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))  # as dialled; masked when shown
    call_id: Mapped[str] = mapped_column(String(80))  # the call that booked it
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)  # attempts that dialled the customer
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    failed_reason: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[float | None] = mapped_column(Float)
    requested_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float] = mapped_column(Float)
    record: Mapped[str] = mapped_column(Text)  # the callback's fields, JSON
    attempt_log: Mapped[str] = mapped_column(Text)  # its attempts ({"at", "outcome", ...}), JSON list
    moved_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_callbacks_finished", "finished_at"),
        Index("ix_callbacks_queue", "queue", "finished_at"),
        Index("ix_callbacks_call", "call_id"),
    )
