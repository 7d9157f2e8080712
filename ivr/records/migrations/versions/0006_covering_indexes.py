"""covering indexes for the KPI report, the calls per category and the week's sample pool

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_kpi", "calls", ["agent", "started_at", "answered_in_time", "survey_pct"])
    op.create_index("ix_calls_category_outcome", "calls", ["category", "outcome", "started_at", "duration"])
    op.create_index("ix_calls_pool", "calls", ["started_at", "has_recording", "agent", "call_id"])


def downgrade() -> None:
    for name in ("ix_calls_pool", "ix_calls_category_outcome", "ix_calls_kpi"):
        op.drop_index(name, table_name="calls")
