"""one current QA score per call (partial unique index)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CURRENT = sa.text("superseded_by IS NULL")


def upgrade() -> None:
    op.create_index("uq_qa_scores_current", "qa_scores", ["call_id"], unique=True,
                    sqlite_where=CURRENT, postgresql_where=CURRENT)


def downgrade() -> None:
    op.drop_index("uq_qa_scores_current", table_name="qa_scores")
