from __future__ import annotations

import pytest

from ivr.queueing.announce import (
    Announcement,
    AnnouncementSchedule,
    announcement_text,
    callback_offer_text,
    self_service_hint,
    spoken_minutes,
)
from ivr.queueing.config import load_queue_config
from ivr.queueing.estimate import WaitEstimate, estimate_wait, handle_time
from ivr.queueing.model import SelfService
from ivr.queueing.texts import AnnouncementTexts
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(10)

STEADY = [240.0] * 12  # every recent call took 4 minutes


def shipped_texts() -> AnnouncementTexts:
    """The announcement texts of the shipped queues.yaml: what admins start from."""
    return load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml").announcement_texts


T = shipped_texts()


def est(seconds: float) -> WaitEstimate:
    return WaitEstimate(seconds=seconds, low=seconds, high=seconds, method="test", handle_s=1, samples=1, agents=1)


def test_idle_agent_means_no_wait() -> None:
    e = estimate_wait(1, agents_available=1, agents_busy=3, recent_handle_times=STEADY)
    assert e is not None and (e.seconds, e.low, e.high) == (0, 0, 0)
    assert e.method == "service-simulation" and e.agents == 4 and e.handle_s == 240


def test_two_busy_agents_third_in_line() -> None:
    # Busy agents are on average halfway through: both free at 120 s and take callers 1 and 2;
    # caller 3 gets the first of them again after a full call: 120 + 240.
    e = estimate_wait(3, agents_available=0, agents_busy=2, recent_handle_times=STEADY)
    assert e is not None and e.seconds == 360


def test_known_elapsed_time_of_busy_calls() -> None:
    # A: 200 s into a 240 s call -> free at 40 s, but never sooner than H/4 = 60 s; B: 30 s in -> 210 s.
    # Caller 1 -> A at 60, caller 2 -> B at 210, caller 3 -> A again at 60 + 240 = 300.
    e = estimate_wait(3, 0, 2, STEADY, busy_elapsed=[200, 30])
    assert e is not None and e.seconds == 300
    ignored = estimate_wait(3, 0, 2, STEADY, busy_elapsed=[200])  # wrong length: fall back to H/2
    assert ignored is not None and ignored.seconds == 360


def test_long_queue_matches_callers_ahead_over_service_rate() -> None:
    # 20 ahead, 4 agents at 300 s a call: batches of 4 every 300 s after the first wave at 150 s.
    e = estimate_wait(21, 0, 4, [300.0] * 10)
    assert e is not None and e.seconds == 150 + 5 * 300


def test_wrapup_lengthens_each_call() -> None:
    e = estimate_wait(3, 0, 2, STEADY, wrapup_s=60)
    assert e is not None and e.seconds == 150 + 300 and e.handle_s == 300


def test_nobody_staffed_is_unknown_and_bad_input_is_refused() -> None:
    assert estimate_wait(1, 0, 0, STEADY) is None
    with pytest.raises(ValueError, match="1-based"):
        estimate_wait(0, 1, 0, STEADY)
    with pytest.raises(ValueError, match=">= 0"):
        estimate_wait(1, -1, 0, STEADY)


def test_few_samples_are_blended_with_the_default() -> None:
    typical, low, high = handle_time([60.0], default_s=180, min_samples=5)
    assert typical == (60 + 4 * 180) / 5 and (low, high) == (typical * 0.6, typical * 1.5)
    e = estimate_wait(2, 0, 1, [60.0], default_handle_s=180)
    assert e is not None and e.method.endswith("default-handle") and e.samples == 1
    assert e.low < e.seconds < e.high


def test_outliers_are_trimmed_and_range_uses_quartiles() -> None:
    samples = [100.0, 110, 120, 130, 140, 150, 160, 170, 180, 7200]
    typical, low, high = handle_time(samples, default_s=999)
    assert typical == pytest.approx(145)  # the two-hour call and the shortest one are cut
    assert low == pytest.approx(122.5) and high == pytest.approx(167.5)


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(0, None), (59, None), (60, 1), (61, 2), (150, 3), (600, 10), (601, 15), (1500, 25), (3500, 60)],
)
def test_spoken_minutes_round_up(seconds: float, minutes: int | None) -> None:
    assert spoken_minutes(seconds) == minutes


def test_chinese_announcements() -> None:
    assert announcement_text(T, 3, est(170), "zh-CN") == "您前面还有2位客户，预计等待约3分钟。"
    assert announcement_text(T, 1, est(20), "zh-CN") == "您是下一位，预计等待不到1分钟。"
    assert announcement_text(T, 5, est(4000), "zh-CN") == "您前面还有4位客户，预计等待超过1小时。"
    assert announcement_text(T, 2, None, "zh-CN") == "您前面还有1位客户，感谢您的耐心等待。"


def test_english_announcements() -> None:
    assert announcement_text(T, 3, est(170), "en-US") == (
        "There are 2 callers ahead of you. Your estimated wait is about 3 minutes.")
    assert announcement_text(T, 2, est(60), "en-US") == (
        "There is 1 caller ahead of you. Your estimated wait is about 1 minute.")
    assert announcement_text(T, 1, None, "en-US") == "You are next in line. Thank you for your patience."
    with pytest.raises(ValueError, match="'fr-FR'"):
        announcement_text(T, 1, None, "fr-FR")


def test_hint_and_callback_offer() -> None:
    cfg = SelfService(url="www.example.com/faq", text={"zh-CN": "请访问 {url}"})
    assert self_service_hint(T, cfg, "zh-CN") == "请访问 www.example.com/faq"
    assert self_service_hint(T, cfg, "en-US") == (
        "You can also find answers to common questions on our website, www.example.com/faq.")
    assert self_service_hint(T, SelfService(), "zh-CN") is None
    with pytest.raises(ValueError, match="url is not set"):
        self_service_hint(T, SelfService(text={"en-US": "see {url}"}), "en-US")
    assert "请按1" in callback_offer_text(T, "1", "zh-CN")
    assert "press 2" in callback_offer_text(T, "2", "en-US")


def test_announcement_schedule_interleaves_hint() -> None:
    s = AnnouncementSchedule(first_delay=30, interval=60)
    times = []
    t = 0.0
    for _ in range(5):
        nxt = s.next_event(t)
        times.append((nxt.at_s, nxt.kind))
        t = nxt.at_s
    assert times == [(30, "position"), (60, "hint"), (90, "position"), (120, "hint"), (150, "position")]
    assert s.next_event(100) == Announcement(120, "hint")  # running late skips what was missed
    no_hint = AnnouncementSchedule(first_delay=0, interval=45, hint=False)
    assert [no_hint.next_event(x).at_s for x in (-1, 0, 44, 45)] == [0, 45, 45, 90]
    with pytest.raises(ValueError):
        AnnouncementSchedule(first_delay=10, interval=0)
