"""What a caller hears about a queued callback (queues.yaml `callback_texts`), checked when it loads.

Every text must exist in every language of LANGUAGES, and may use only its own placeholders
(`{number}` is the number read back digit by digit; `{confirm_key}`/`{other_key}` the keys of the
confirmation): a missing translation or a typo in a placeholder is an error with its line, not a
silent gap in the middle of a call.
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
        missing = [lang for lang in LANGUAGES if not (v.get(lang) or "").strip()]
        unknown = sorted(set(v) - set(LANGUAGES))
        if missing or unknown:
            raise ValueError(f"needs a text for every language {list(LANGUAGES)}; "
                             f"missing {missing or 'none'}, unknown {unknown or 'none'}")
        allowed, required = _PLACEHOLDERS.get(info.field_name or "", _NONE)
        for lang, text in v.items():
            used = _fields(text)
            if used - allowed:
                raise ValueError(f"{lang}: unknown placeholder(s) {sorted(used - allowed)}; "
                                 f"this text may use {sorted(allowed) or 'none'}")
            if required - used:
                raise ValueError(f"{lang}: must say {', '.join('{' + p + '}' for p in sorted(required - used))}")
        return v

    def say(self, key: TextKey, language: str, **values: str) -> str:
        """The text in `language` (the first language when unknown), placeholders filled in."""
        texts: dict[str, str] = getattr(self, key)
        text = texts.get(language) or texts[LANGUAGES[0]]
        allowed, _ = _PLACEHOLDERS.get(key, _NONE)
        return text.format(**{k: v for k, v in values.items() if k in allowed})
