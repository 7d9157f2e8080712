"""What of a call record a dashboard user may see: admins see customer numbers raw, everyone else
masked (ivr.privacy.masking: the policy's access by role and need)."""

from __future__ import annotations

from typing import Any

from dashboard.sessions import Session
from ivr.privacy.masking import masked


def for_role(record: dict[str, Any], session: Session) -> dict[str, Any]:
    """The record as `session` may see it: raw for admins, every customer number masked otherwise."""
    if session.is_admin:
        return record
    out: dict[str, Any] = masked(record)
    return out
