"""Phone numbers as the hotline compares and dials them, and the numbering plan of queued callbacks.

`normalize_number` gives the one form callbacks deduplicate on and VIP lists match: digits only, the
home country's prefix (+86, 0086) dropped, other countries kept with a leading '+'. It accepts a caller
ID of any shape (spaces, dashes, full-width digits, `"Name" <138...>`, `sip:138...@host`) and raises
BadNumber for anything that is not a number (anonymous, empty, letters, too long); it never crashes.

`NumberingPlan` (queues.yaml `callback_numbers`) decides which numbers a callback may dial, at booking
and again before the dialer claims one: deny rules first (emergency, short codes, premium lines), then
the number must match an allow rule; another country's number only through an `international` rule.
Patterns match the whole national form (e.g. 13812345678, 01012345678).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_DIGITS = 20  # longer than any E.164 number (15) plus a trunk prefix: garbage, not a phone
_SEPARATORS = re.compile(r"[\s\-().\u00a0/]")
_VALID = re.compile(r"^\+?[0-9]{3,20}$")
_ANGLE = re.compile(r"<([^<>]*)>")


class BadNumber(ValueError):
    """A caller ID or keyed-in number that cannot be called back or matched."""


def _strip_uri(text: str) -> str:
    """`"Zhang" <sip:+86138...@host>` -> `+86138...`: the user part of what looks like a URI."""
    angle = _ANGLE.search(text)
    if angle:
        text = angle.group(1)
    text = text.strip()
    scheme = re.match(r"^(sips?|tel):", text, flags=re.IGNORECASE)
    if scheme is None:
        return text
    return text[scheme.end():].split("@", 1)[0].split(";", 1)[0]  # tel:+86...;phone-context=...


def normalize_number(raw: object, country_code: str = "86",
                     home_form: Callable[[str], str] | None = None) -> str:
    """Digits only; the home country's prefix (+86, 0086) dropped so a number matches however it arrived.

    Other international numbers keep a leading '+'. `home_form` turns the national significant number
    of a +86 number into how it is dialled at home (the plan gives a landline its trunk prefix back).
    Raises BadNumber for anything else (empty, anonymous, letters, over 20 digits), whatever its type.
    """
    if not isinstance(raw, str) or len(raw) > 200:
        raise BadNumber(f"{str(raw)[:40]!r} is not a phone number")
    text = _SEPARATORS.sub("", _strip_uri(unicodedata.normalize("NFKC", raw)))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _VALID.match(text):
        raise BadNumber(f"{raw[:40]!r} is not a phone number (want 3-{MAX_DIGITS} digits, optional leading +)")
    home = "+" + country_code
    if text.startswith(home) and len(text) > len(home) + 2:
        national = text[len(home):]
        return home_form(national) if home_form is not None else national
    return text


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None


class NumberRule(BaseModel):
    """One named pattern of the plan; the name is the reason written on a refused callback."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    pattern: str = Field(min_length=1, max_length=500)

    @field_validator("pattern")
    @classmethod
    def _valid(cls, v: str) -> str:
        _compile(v)
        return v

    def matches(self, number: str) -> bool:
        return _compile(self.pattern).fullmatch(number) is not None


class Verdict(BaseModel):
    """`number` (normalized) may be dialled when `reason` is None; else `reason` says why not."""

    model_config = ConfigDict(frozen=True)
    number: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


class NumberingPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    allow: list[NumberRule] = Field(min_length=1)
    deny: list[NumberRule] = Field(default_factory=list)
    international: list[NumberRule] = Field(default_factory=list)  # digits after '+'; [] = none allowed
    trunk_prefix: str = Field(default="0", pattern=r"^[0-9]{0,2}$")
    without_trunk_prefix: str = r"1\d{10}"  # numbers dialled as they are (China: mobiles)
    international_prefix: str = Field(default="00", pattern=r"^[0-9]{1,4}$")

    _w = field_validator("without_trunk_prefix")(lambda v: _compile(v).pattern)

    def _home_form(self, national: str) -> str:
        """+86 10 6234 5678 is dialled 010 6234 5678 at home; a mobile stays as it is."""
        if not self.trunk_prefix or _compile(self.without_trunk_prefix).fullmatch(national):
            return national
        return national if national.startswith(self.trunk_prefix) else self.trunk_prefix + national

    def check(self, raw: Any, country_code: str) -> Verdict:
        """May a callback dial `raw` (a caller ID, a keyed number or a stored one)? Never raises."""
        try:
            number = normalize_number(raw, country_code, self._home_form)
        except BadNumber:
            return Verdict(number=None, reason="no_number")
        if number.startswith("+"):
            ok = any(rule.matches(number[1:]) for rule in self.international)
            return Verdict(number=number, reason=None if ok else "international")
        for rule in self.deny:
            if rule.matches(number):
                return Verdict(number=number, reason=rule.name)
        if not any(rule.matches(number) for rule in self.allow):
            return Verdict(number=number, reason="not_allowed")
        return Verdict(number=number)

    def dial_digits(self, number: str) -> str:
        """What the trunk is sent: a '+' becomes the international prefix (+852... -> 00852...)."""
        return self.international_prefix + number[1:] if number.startswith("+") else number


def digit_groups(number: str) -> list[str]:
    """How a number is read back: 138 1234 5678; 010 1234 5678; 0755 1234 5678; otherwise by fours."""
    digits = number.lstrip("+")
    mobile = len(digits) == 11 and digits.startswith("1")
    head = 3 if mobile or digits.startswith(("01", "02")) else 4
    groups = [digits[:head]]
    rest = digits[head:]
    while rest:
        groups.append(rest[:4])
        rest = rest[4:]
    return groups


def spoken_number(number: str) -> str:
    """Digit by digit with a pause between groups, as a text-to-speech voice reads it: '1 3 8, 1 2 3 4, ...'."""
    return ", ".join(" ".join(group) for group in digit_groups(number))
