"""calls.has_recording (the weekly QA sample draws from recorded calls)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("has_recording", sa.Boolean(), nullable=False, server_default=sa.false()))
    # rows moved before this revision: the record says whether it has a recording
    op.execute("UPDATE calls SET has_recording = (record LIKE '%\"recording\": {%')")


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("has_recording")
