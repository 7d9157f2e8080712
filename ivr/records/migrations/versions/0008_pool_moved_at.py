"""the week's sample pool index also holds moved_at (the pool's fingerprint from the index alone)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_calls_pool", table_name="calls")
    op.create_index("ix_calls_pool", "calls", ["started_at", "has_recording", "agent", "call_id", "moved_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_pool", table_name="calls")
    op.create_index("ix_calls_pool", "calls", ["started_at", "has_recording", "agent", "call_id"])
