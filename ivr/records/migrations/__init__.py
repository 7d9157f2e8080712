"""Alembic migrations of the records database (a package, so the wheel carries them)."""
