"""Phone numbers as the hotline compares them: callbacks deduplicate and VIP lists match on this form."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_VALID = re.compile(r"^\+?[0-9]{3,20}$")


class BadNumber(ValueError):
    """A caller ID or keyed-in number that cannot be called back or matched."""


def normalize_number(raw: str, country_code: str = "86") -> str:
    """Digits only; the home country's prefix (+86, 0086) dropped so a number matches however it arrived.

    Other international numbers keep a leading '+'. Raises BadNumber for empty, anonymous or garbage input.
    """
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _VALID.match(text):
        raise BadNumber(f"{raw!r} is not a phone number (want 3-20 digits, optional leading +)")
    home = "+" + country_code
    if text.startswith(home) and len(text) > len(home) + 2:
        return text[len(home):]
    return text
