"""calls.survey_pct (survey answers of any scale as 0-100, for the KPI report)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("survey_pct", sa.Float(), nullable=True))
    # rows moved before: the KPI report reads them as unanswered surveys until moved again


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("survey_pct")
