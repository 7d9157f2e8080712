"""calls, qa_scores, audit_log

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("caller", sa.String(64), nullable=True),
        sa.Column("called", sa.String(64), nullable=True),
        sa.Column("flow", sa.String(80), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("answer_wait_s", sa.Float(), nullable=True),
        sa.Column("answered_in_time", sa.Boolean(), nullable=True),
        sa.Column("survey_score", sa.Integer(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("moved_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_calls"),
    )
    op.create_index("ix_calls_started", "calls", ["started_at", "call_id"])
    op.create_index("ix_calls_agent", "calls", ["agent", "started_at"])
    op.create_index("ix_calls_queue", "calls", ["queue", "started_at"])
    op.create_index("ix_calls_outcome", "calls", ["outcome", "started_at"])
    op.create_index("ix_calls_category", "calls", ["category", "started_at"])

    op.create_table(
        "qa_scores",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("kpis", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("survey", sa.Text(), nullable=False),
        sa.Column("supersedes", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("superseded_by", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_qa_scores"),
    )
    op.create_index("ix_qa_scores_call", "qa_scores", ["call_id", "at"])
    op.create_index("ix_qa_scores_at", "qa_scores", ["at"])
    op.create_index("ix_qa_scores_agent_week", "qa_scores", ["agent", "week"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("at_epoch", sa.Float(), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("digest", name="uq_audit_log_digest"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at_epoch"])
    op.create_index("ix_audit_log_action", "audit_log", ["action", "at_epoch"])
    op.create_index("ix_audit_log_user", "audit_log", ["user", "at_epoch"])
    op.create_index("ix_audit_log_target", "audit_log", ["target", "at_epoch"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("qa_scores")
    op.drop_table("calls")
