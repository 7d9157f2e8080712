"""Live QA matching: the post-call phrase lists on growing Vosk results, each hit raised once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.liveqa.matcher import LegMatcher, LiveRules, words_of
from ivr.qa.phrases import parse_list

pytestmark = pytest.mark.timeout(10)
HERE = Path("policy")


def rules(window: float = 10.0) -> LiveRules:
    forbidden = parse_list("喂\n你有完没完\nshut up\n", HERE / "forbidden-phrases-zh.txt", "forbidden", "zh")
    greeting = parse_list("您好\n", HERE / "greeting-phrases-zh.txt", "greeting", "zh")
    return LiveRules(forbidden=forbidden, greeting=greeting, greeting_window_s=window, phrase_max_gap_s=2.0)


def partial(*words: str) -> dict[str, object]:
    return {"partial": " ".join(words)}  # Vosk's partial text (SetPartialWords off: no times)


def final(*words: tuple[str, float, float]) -> dict[str, object]:
    return {"text": " ".join(w for w, _, _ in words),
            "result": [{"word": w, "start": s, "end": e, "conf": 1.0} for w, s, e in words]}


def test_a_forbidden_phrase_is_raised_from_a_partial_once_where_decoding_was() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(partial("你", "有"), final=False, now_s=1.5) == []
    assert m.feed(partial("你", "有", "完没完"), final=False, now_s=2.2) == []  # once: may be a passing guess
    hits = m.feed(partial("你", "有", "完没完"), final=False, now_s=2.3)  # twice in a row: raised
    assert [(h.kind, h.phrase, h.start_s, h.end_s, h.line) for h in hits] == [
        ("forbidden_phrase", "你有完没完", 2.3, 2.3, 2)]
    # the partial grows, then the utterance ends with word times: the same occurrence is not raised again
    assert m.feed(partial("你", "有", "完没完", "啊"), final=False, now_s=2.6) == []
    assert m.feed(final(("你", 1.02, 1.2), ("有", 1.2, 1.4), ("完没完", 1.4, 2.2), ("啊", 2.2, 2.4)), final=True) == []
    # said again in the next utterance: a new hit; twice in one utterance: two
    assert m.feed(partial("你有完没完"), final=False, now_s=8.9) == []
    assert [h.phrase for h in m.feed(partial("你有完没完"), final=False, now_s=9.0)] == ["你有完没完"]
    assert m.feed(partial("你有完没完", "你有完没完"), final=False, now_s=9.9) == []
    assert [h.phrase for h in m.feed(partial("你有完没完", "你有完没完"), final=False, now_s=10.0)] == ["你有完没完"]
    assert m.feed(final(("你有完没完", 8.0, 8.6), ("你有完没完", 9.0, 9.6)), final=True) == []


def test_a_word_in_one_partial_only_is_not_raised() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(partial("喂"), final=False, now_s=1.0) == []
    assert m.feed(partial("为"), final=False, now_s=1.1) == []
    assert m.feed(final(("为", 0.8, 1.0)), final=True) == []


def test_a_phrase_first_seen_in_a_final_result_carries_its_word_times() -> None:
    m = LegMatcher("agent", rules())
    hits = m.feed(final(("喂", 3.0, 3.3)), final=True, now_s=4.0)
    assert [(h.phrase, h.start_s, h.end_s) for h in hits] == [("喂", 3.0, 3.3)]


def test_latin_words_match_whole_words_and_a_long_pause_is_a_barrier() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(final(("they", 0.0, 0.3), ("shut", 0.4, 0.6)), final=True) == []
    assert m.feed(final(("up", 3.0, 3.2)), final=True) == []  # 2.4 s after "shut": not one phrase
    m.feed(partial("shut", "up"), final=False, now_s=5.4)
    hits = m.feed(partial("shut", "up"), final=False, now_s=5.5)
    assert [(h.phrase, h.end_s) for h in hits] == [("shut up", 5.5)]


def test_a_phrase_spanning_an_utterance_boundary_is_found() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(final(("你", 1.0, 1.2), ("有", 1.2, 1.4)), final=True) == []
    m.feed(partial("完没完"), final=False, now_s=1.9)
    hits = m.feed(partial("完没完"), final=False, now_s=2.0)
    assert [h.phrase for h in hits] == ["你有完没完"]
    assert m.feed(partial("完没", "完了"), final=False, now_s=2.1) == []  # the guess changed: nothing new


def test_no_greeting_is_raised_once_when_the_window_and_its_slack_pass_without_one() -> None:
    m = LegMatcher("agent", rules(window=5.0))
    assert m.clock(5.9) == []  # words said just before 5.0 may still be decoding
    m.feed(final(("喂", 0.5, 0.8)), final=True)
    hits = m.clock(6.0)
    assert [(h.kind, h.end_s) for h in hits] == [("no_greeting", 5.0)]
    assert m.clock(9.0) == []


def test_a_greeting_inside_the_window_means_no_alert_even_if_recognised_just_after_it() -> None:
    m = LegMatcher("agent", rules(window=5.0))
    m.feed(partial("您", "好"), final=False, now_s=5.8)  # said before 5.0, recognised within the slack
    assert m.greeted and m.clock(30.0) == []
    late = LegMatcher("agent", rules(window=5.0))
    late.feed(final(("您好", 6.5, 7.0)), final=True)  # after the window: post-call calls it late_greeting
    assert [h.kind for h in late.clock(7.0)] == ["no_greeting"]


def test_a_leg_without_a_greeting_list_never_raises_no_greeting() -> None:
    r = rules()
    caller = LegMatcher("caller", LiveRules(forbidden=r.forbidden, greeting=None))
    assert caller.clock(60.0) == []


def test_words_of_splits_cjk_words_into_tokens_and_ignores_odd_results() -> None:
    words = words_of(final(("你好", 0.0, 0.5)))
    assert [(w.text, w.start, w.end) for w in words] == [("你", 0.0, 0.5), ("好", 0.0, 0.5)]
    assert [(w.text, w.start) for w in words_of(partial("你好"), now_s=2.0)] == [("你", 2.0), ("好", 2.0)]
    assert words_of({"partial": ""}) == [] and words_of({"result": "nonsense"}) == []
