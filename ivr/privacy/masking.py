"""Customer numbers masked: 13812345678 -> 138****5678 (supervisors' view, call-path logs and events).

The policy is access by role and need, so the mask is applied to everything of a call record a
supervisor gets (top-level fields, events, nested values), not to a list of known fields only: a
field someone adds later (a dial string, a keyed-in callback number) must not leak. Known number
fields are masked whole; in every other text a run of 7 or more digits is masked, except in
identifier fields (call ids such as 1700000000.1 are not phone numbers and are needed for links).
"""

from __future__ import annotations

import re
from typing import Any

NUMBER_FIELDS = frozenset({"caller", "callback_number", "caller_id", "callerid", "callerid_num", "number",
                           "connectedline_num", "calleridnum", "dial", "to", "called"})
ID_FIELDS = frozenset({"call_id", "id", "callback", "uniqueid", "linkedid", "score", "supersedes",
                       "superseded_by", "job_id"})
# A phone-like run: 7+ digits (an optional +), not part of a word, a decimal or a longer run, so
# "PJSIP/13812345678@trunk" and "电话13812345678" are caught but "1700000000.1.wav" is not.
DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9_.+])\+?\d{7,}(?![A-Za-z0-9_]|\.\d)")


def mask_number(value: Any) -> Any:
    """'13812345678' -> '138****5678'; shorter numbers keep fewer digits. Non-strings unchanged."""
    if not isinstance(value, str) or not value:
        return value
    head = 3 if len(value) >= 9 else 0
    tail = 4 if len(value) >= 7 else min(2, len(value) - 1)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail:]


def mask_text(text: str) -> str:
    """Every phone-like digit run in `text` masked, the rest unchanged."""
    return DIGIT_RUN.sub(lambda m: str(mask_number(m.group(0))), text)


def _mask_field(key: str, value: Any) -> Any:
    if key in ID_FIELDS and isinstance(value, str | int | float):
        return value
    if key in NUMBER_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a number stored as JSON number is still a number
    if key in NUMBER_FIELDS and isinstance(value, str) and not any(c in value for c in "/@ "):
        return mask_number(value)
    return masked(value)


def masked(value: Any) -> Any:
    """`value` (a record, an event, a list, a string) with every customer number masked."""
    if isinstance(value, dict):
        return {k: _mask_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
