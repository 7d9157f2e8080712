"""What a waiting caller hears, and when: position and our estimate, a self-service hint, the callback offer.

Texts are synthesised by ivr.prompts; numbers are written as digits, which both voices read naturally.
Minutes are rounded UP (under-promising a wait is worse than over-promising it): exact minutes up
to 10, then 5-minute steps; past an hour we say so rather than name a number we cannot stand behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ivr.queueing.estimate import WaitEstimate
from ivr.queueing.model import LANGUAGES, SelfService

Kind = Literal["position", "hint"]

_DEFAULT_HINT = {
    "zh-CN": "您也可以访问我们的网站 {url} 查看常见问题，自助解决。",
    "en-US": "You can also find answers to common questions on our website, {url}.",
}


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


def _wait_phrase(estimate: WaitEstimate | None, language: str) -> str:
    zh = language == "zh-CN"
    if estimate is None:
        return "感谢您的耐心等待。" if zh else "Thank you for your patience."
    if estimate.seconds > 3600:
        return "预计等待超过1小时。" if zh else "Your estimated wait is more than an hour."
    minutes = spoken_minutes(estimate.seconds)
    if minutes is None:
        return "预计等待不到1分钟。" if zh else "Your estimated wait is less than a minute."
    if zh:
        return f"预计等待约{minutes}分钟。"
    return f"Your estimated wait is about {minutes} minute{'s' if minutes != 1 else ''}."


def announcement_text(position: int, estimate: WaitEstimate | None, language: str) -> str:
    """e.g. "您前面还有2位客户，预计等待约3分钟。" for the caller at 1-based `position` 3."""
    _check(language)
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    ahead = position - 1
    wait = _wait_phrase(estimate, language)
    if language == "zh-CN":
        head = "您是下一位" if ahead == 0 else f"您前面还有{ahead}位客户"
        return f"{head}，{wait}"
    if ahead == 0:
        return f"You are next in line. {wait}"
    head = "There is 1 caller" if ahead == 1 else f"There are {ahead} callers"
    return f"{head} ahead of you. {wait}"


def self_service_hint(cfg: SelfService, language: str) -> str | None:
    """The website FAQ hint in `language`; None when no text or URL is configured."""
    _check(language)
    text = cfg.text.get(language) or (_DEFAULT_HINT[language] if cfg.url else None)
    if text is None:
        return None
    if "{url}" in text and not cfg.url:
        raise ValueError(f"self_service.text.{language} mentions {{url}} but self_service.url is not set")
    return text.replace("{url}", cfg.url or "")


def callback_offer_text(key: str, language: str) -> str:
    """The queued-callback offer; the caller keeps their place and may hang up."""
    _check(language)
    if language == "zh-CN":
        return f"如果您不想继续等待，请按{key}，我们将保留您的排队位置，轮到您时给您回电。"
    return (f"If you prefer not to wait, press {key}. You keep your place in the queue, "
            "and we will call you back when it is your turn.")


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
