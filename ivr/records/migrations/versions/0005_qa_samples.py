"""qa_samples: the weekly QA samples

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_samples",
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("week_end", sa.Float(), nullable=False),
        sa.Column("drawn_at", sa.Float(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("week", name="pk_qa_samples"),
    )


def downgrade() -> None:
    op.drop_table("qa_samples")
