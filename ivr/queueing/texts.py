"""What a caller hears in the queue, from queues.yaml, checked when it loads: `callback_texts`
(booking a queued callback) and `announcement_texts` (position, wait estimate, FAQ hint, callback
offer). Admins change and translate them without a release.

Every text must exist in every language of LANGUAGES, and may use only its own placeholders
(`{number}` is the number read back digit by digit; `{confirm_key}`/`{other_key}` the keys of the
confirmation; `{ahead}`, `{minutes}`, `{head}`/`{wait}`, `{url}`, `{key}` in announcements): a
missing translation or a typo in a placeholder is an error with its line, not a silent gap in the
middle of a call.
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

LANGUAGES = ("zh-CN", "en-US")
TextKey = Literal["confirm", "enter", "refused", "no_number", "invalid", "keep_waiting", "booked",
                  "duplicate", "unavailable"]
# text -> (placeholders it may use, placeholders it must use)
_PLACEHOLDERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "confirm": (frozenset({"number", "confirm_key", "other_key"}), frozenset({"number", "confirm_key"})),
    "refused": (frozenset({"number"}), frozenset()),
}
_NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def _fields(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:  # a lone '{' or '}'
        raise ValueError(f"{text!r}: {exc} (write {{{{ or }}}} for a brace)") from None


def check_texts(v: dict[str, str], allowed: frozenset[str], required: frozenset[str]) -> dict[str, str]:
    """One text in every language, using only `allowed` placeholders and every `required` one."""
    missing = [lang for lang in LANGUAGES if not (v.get(lang) or "").strip()]
    unknown = sorted(set(v) - set(LANGUAGES))
    if missing or unknown:
        raise ValueError(f"needs a text for every language {list(LANGUAGES)}; "
                         f"missing {missing or 'none'}, unknown {unknown or 'none'}")
    for lang, text in v.items():
        used = _fields(text)
        if used - allowed:
            raise ValueError(f"{lang}: unknown placeholder(s) {sorted(used - allowed)}; "
                             f"this text may use {sorted(allowed) or 'none'}")
        if required - used:
            raise ValueError(f"{lang}: must say {', '.join('{' + p + '}' for p in sorted(required - used))}")
    return v


class CallbackTexts(BaseModel):
    """One entry per situation, each a mapping language -> text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    confirm: dict[str, str]  # the number read back: confirm or key in another
    enter: dict[str, str]  # key in the number to call back, then #
    refused: dict[str, str]  # the numbering plan refuses this number
    no_number: dict[str, str]  # no usable caller ID
    invalid: dict[str, str]  # no key, or a key that means nothing here
    keep_waiting: dict[str, str]  # the dialogue gave up: nothing was booked
    booked: dict[str, str]
    duplicate: dict[str, str]  # this number already has an open callback
    unavailable: dict[str, str]  # callbacks off or Redis down

    @field_validator("*")
    @classmethod
    def _every_language(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return check_texts(v, *_PLACEHOLDERS.get(info.field_name or "", _NONE))

    def say(self, key: TextKey, language: str, **values: str) -> str:
        """The text in `language` (the first language when unknown), placeholders filled in."""
        texts: dict[str, str] = getattr(self, key)
        text = texts.get(language) or texts[LANGUAGES[0]]
        allowed, _ = _PLACEHOLDERS.get(key, _NONE)
        return text.format(**{k: v for k, v in values.items() if k in allowed})


AnnouncementKey = Literal["next_in_line", "ahead_one", "ahead_many", "position", "wait_unknown", "wait_over_hour",
                          "wait_under_minute", "wait_one_minute", "wait_minutes", "faq_hint", "callback_offer"]
_ANNOUNCEMENT_PLACEHOLDERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ahead_many": (frozenset({"ahead"}), frozenset({"ahead"})),
    "position": (frozenset({"head", "wait"}), frozenset({"head", "wait"})),
    "wait_minutes": (frozenset({"minutes"}), frozenset({"minutes"})),
    "faq_hint": (frozenset({"url"}), frozenset({"url"})),
    "callback_offer": (frozenset({"key"}), frozenset({"key"})),
}


class AnnouncementTexts(BaseModel):
    """What a waiting caller hears: `position` joins the line (`{head}`: next / how many ahead) and
    the wait (`{wait}`: one of the wait_* texts); the hint is `faq_hint` and `callback_offer`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    next_in_line: dict[str, str]
    ahead_one: dict[str, str]
    ahead_many: dict[str, str]  # {ahead}: callers before this one
    position: dict[str, str]  # {head} then {wait}
    wait_unknown: dict[str, str]  # no estimate (no staffed agent)
    wait_over_hour: dict[str, str]
    wait_under_minute: dict[str, str]
    wait_one_minute: dict[str, str]
    wait_minutes: dict[str, str]  # {minutes}
    faq_hint: dict[str, str]  # {url}: self_service.url; a queue's self_service.text overrides it
    callback_offer: dict[str, str]  # {key}: the callback key

    @field_validator("*")
    @classmethod
    def _every_language(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return check_texts(v, *_ANNOUNCEMENT_PLACEHOLDERS.get(info.field_name or "", _NONE))

    def say(self, which: AnnouncementKey, language: str, **values: str | int) -> str:
        texts: dict[str, str] = getattr(self, which)
        text = texts.get(language) or texts[LANGUAGES[0]]
        return text.format(**values)
