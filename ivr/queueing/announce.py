"""What a waiting caller hears, and when: position and our estimate, a self-service hint, the callback offer.

The words are queues.yaml `announcement_texts` (ivr.queueing.texts): admins change and translate
them. Texts are synthesised by ivr.prompts; numbers are written as digits, which both voices read
naturally.
Minutes are rounded UP (under-promising a wait is worse than over-promising it): exact minutes up
to 10, then 5-minute steps; past an hour we say so rather than name a number we cannot stand behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ivr.queueing.estimate import WaitEstimate
from ivr.queueing.model import LANGUAGES, SelfService
from ivr.queueing.texts import AnnouncementTexts

Kind = Literal["position", "hint"]


def _check(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} has no queue announcements; known: {list(LANGUAGES)}")
    return language


def spoken_minutes(seconds: float) -> int | None:
    """Minutes to say: None under one minute; 1-10 exact (rounded up); then 5-minute steps; capped at 60."""
    if seconds < 60:
        return None
    minutes = math.ceil(seconds / 60 - 1e-9)
    if minutes <= 10:
        return minutes
    return min(60, 5 * math.ceil(minutes / 5))


def _wait_phrase(texts: AnnouncementTexts, estimate: WaitEstimate | None, language: str) -> str:
    if estimate is None:
        return texts.say("wait_unknown", language)
    if estimate.seconds > 3600:
        return texts.say("wait_over_hour", language)
    minutes = spoken_minutes(estimate.seconds)
    if minutes is None:
        return texts.say("wait_under_minute", language)
    if minutes == 1:
        return texts.say("wait_one_minute", language)
    return texts.say("wait_minutes", language, minutes=minutes)


def announcement_text(texts: AnnouncementTexts, position: int, estimate: WaitEstimate | None, language: str) -> str:
    """e.g. "您前面还有2位客户，预计等待约3分钟。" for the caller at 1-based `position` 3."""
    _check(language)
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    ahead = position - 1
    if ahead == 0:
        head = texts.say("next_in_line", language)
    elif ahead == 1:
        head = texts.say("ahead_one", language)
    else:
        head = texts.say("ahead_many", language, ahead=ahead)
    return texts.say("position", language, head=head, wait=_wait_phrase(texts, estimate, language))


def self_service_hint(texts: AnnouncementTexts, cfg: SelfService, language: str) -> str | None:
    """The website FAQ hint in `language`; None when no text or URL is configured."""
    _check(language)
    text = cfg.text.get(language) or (texts.say("faq_hint", language, url="{url}") if cfg.url else None)
    if text is None:
        return None
    if "{url}" in text and not cfg.url:
        raise ValueError(f"self_service.text.{language} mentions {{url}} but self_service.url is not set")
    return text.replace("{url}", cfg.url or "")


def callback_offer_text(texts: AnnouncementTexts, key: str, language: str) -> str:
    """The queued-callback offer; the caller keeps their place and may hang up."""
    _check(language)
    return texts.say("callback_offer", language, key=key)


@dataclass(frozen=True)
class Announcement:
    at_s: float  # seconds since the caller entered the queue
    kind: Kind


@dataclass(frozen=True)
class AnnouncementSchedule:
    """Position/estimate at first_delay, then every interval; the hint halfway between two of them."""

    first_delay: float
    interval: float
    hint: bool = True

    def __post_init__(self) -> None:
        if self.first_delay < 0 or self.interval <= 0:
            raise ValueError(f"first_delay must be >= 0 and interval > 0, got {self.first_delay}, {self.interval}")

    def next_event(self, after_s: float) -> Announcement:
        """The first announcement strictly after `after_s` seconds of waiting (missed ones are skipped)."""
        if after_s < self.first_delay:
            return Announcement(self.first_delay, "position")
        step = self.interval / 2 if self.hint else self.interval
        k = math.floor((after_s - self.first_delay) / step + 1e-9) + 1
        at = self.first_delay + k * step
        kind: Kind = "hint" if self.hint and k % 2 == 1 else "position"
        return Announcement(at, kind)
