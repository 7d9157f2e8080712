"""callbacks: the history of finished callbacks with their attempts

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_outcome", sa.String(32), nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("enqueued_at", sa.Float(), nullable=True),
        sa.Column("requested_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("attempt_log", sa.Text(), nullable=False),
        sa.Column("moved_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index("ix_callbacks_finished", "callbacks", ["finished_at"])
    op.create_index("ix_callbacks_queue", "callbacks", ["queue", "finished_at"])
    op.create_index("ix_callbacks_call", "callbacks", ["call_id"])


def downgrade() -> None:
    op.drop_table("callbacks")
