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


def partial(*words: tuple[str, float, float]) -> dict[str, object]:
    return {"partial": " ".join(w for w, _, _ in words),
            "partial_result": [{"word": w, "start": s, "end": e, "conf": 1.0} for w, s, e in words]}


def final(*words: tuple[str, float, float]) -> dict[str, object]:
    return {"text": " ".join(w for w, _, _ in words),
            "result": [{"word": w, "start": s, "end": e, "conf": 1.0} for w, s, e in words]}


def test_a_forbidden_phrase_is_raised_from_a_partial_once_with_its_end_time() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(partial(("你", 1.0, 1.2), ("有", 1.2, 1.4)), final=False) == []
    hits = m.feed(partial(("你", 1.0, 1.2), ("有", 1.2, 1.4), ("完没完", 1.4, 2.1)), final=False)
    assert [(h.kind, h.phrase, h.start_s, h.end_s, h.line) for h in hits] == [
        ("forbidden_phrase", "你有完没完", 1.0, 2.1, 2)]
    # the partial grows, then the utterance ends: the same occurrence is not raised again
    assert m.feed(partial(("你", 1.0, 1.2), ("有", 1.2, 1.4), ("完没完", 1.4, 2.2), ("啊", 2.2, 2.4)), False) == []
    assert m.feed(final(("你", 1.02, 1.2), ("有", 1.2, 1.4), ("完没完", 1.4, 2.2)), final=True) == []
    # said again later: a new hit
    again = m.feed(partial(("你有完没完", 8.0, 9.0)), final=False)
    assert [(h.phrase, h.start_s) for h in again] == [("你有完没完", 8.0)]


def test_latin_words_match_whole_words_and_a_long_pause_is_a_barrier() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(final(("they", 0.0, 0.3), ("shut", 0.4, 0.6)), final=True) == []
    assert m.feed(final(("up", 3.0, 3.2)), final=True) == []  # 2.4 s after "shut": not one phrase
    hits = m.feed(partial(("shut", 5.0, 5.2), ("up", 5.3, 5.5)), final=False)
    assert [(h.phrase, h.end_s) for h in hits] == [("shut up", 5.5)]


def test_a_phrase_spanning_an_utterance_boundary_is_found() -> None:
    m = LegMatcher("agent", rules())
    assert m.feed(final(("你", 1.0, 1.2), ("有", 1.2, 1.4)), final=True) == []
    hits = m.feed(partial(("完没完", 1.6, 2.0)), final=False)
    assert [h.phrase for h in hits] == ["你有完没完"]


def test_no_greeting_is_raised_once_when_the_window_passes_without_one() -> None:
    m = LegMatcher("agent", rules(window=5.0))
    assert m.clock(4.9) == []
    m.feed(final(("喂", 0.5, 0.8)), final=True)
    hits = m.clock(5.0)
    assert [(h.kind, h.end_s) for h in hits] == [("no_greeting", 5.0)]
    assert m.clock(9.0) == []


def test_a_greeting_inside_the_window_means_no_alert_even_if_said_late_in_it() -> None:
    m = LegMatcher("agent", rules(window=5.0))
    m.feed(partial(("您", 4.2, 4.5), ("好", 4.5, 4.9)), final=False)
    assert m.greeted and m.clock(30.0) == []
    late = LegMatcher("agent", rules(window=5.0))
    late.feed(final(("您好", 6.0, 6.5)), final=True)  # after the window: post-call calls it late_greeting
    assert [h.kind for h in late.clock(6.5)] == ["no_greeting"]


def test_a_leg_without_a_greeting_list_never_raises_no_greeting() -> None:
    r = rules()
    caller = LegMatcher("caller", LiveRules(forbidden=r.forbidden, greeting=None))
    assert caller.clock(60.0) == []


def test_words_of_splits_cjk_words_into_tokens_and_ignores_odd_results() -> None:
    words = words_of(final(("你好", 0.0, 0.5)))
    assert [(w.text, w.start, w.end) for w in words] == [("你", 0.0, 0.5), ("好", 0.0, 0.5)]
    assert words_of({"partial": ""}) == [] and words_of({"result": "nonsense"}) == []
