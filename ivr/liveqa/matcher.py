"""Phrase matching on a live leg: the post-call QA lists (ivr.qa.phrases) on Vosk's growing results.

Post-call QA (ivr.qa.analyze) flags a forbidden phrase the agent said and a greeting missing from
the first `greeting_window` seconds. Live QA applies the same lists and the same comparison
(token sequences from `ivr.qa.phrases.tokens`, a pause longer than `phrase_max_gap` a barrier) to
what a leg's recognizer has said so far: the final words of ended utterances plus the words of
the current partial result, so a phrase is found as soon as its last word is out, not at the end
of the utterance. A partial result is rewritten while it grows, so occurrences are counted per
utterance and each is raised once (LegMatcher).

Times are seconds on the leg's own clock (samples fed / rate: the stream starts when the spy
channel attaches, just after the agent was bridged). A partial result carries no word times, so
a hit found in one is placed where decoding was when it was recognised (the phrase ended by then).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ivr.qa.phrases import Phrase, PhraseList, tokens

Leg = Literal["agent", "caller"]
HitKind = Literal["forbidden_phrase", "no_greeting"]
KEEP_TOKENS = 64  # ended words kept (phrases that span an utterance boundary, the greeting check)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Hit:
    kind: HitKind
    leg: Leg
    phrase: str  # the list's phrase ("" for no_greeting)
    start_s: float
    end_s: float  # end of the phrase's last word (no_greeting: the end of the window)
    line: int = 0  # the phrase's line in its list


@dataclass(frozen=True)
class LiveRules:
    forbidden: PhraseList
    greeting: PhraseList | None  # None: no greeting check on this leg
    greeting_window_s: float = 10.0
    phrase_max_gap_s: float = 2.0
    # A partial result has no word times (they would come ~1 s later, see ivr.liveqa.recognizer): a
    # greeting recognised this long after the window still counts, and no_greeting waits as long.
    detect_slack_s: float = 1.0


def words_of(result: dict[str, object], now_s: float = 0.0) -> list[Word]:
    """The words of a Vosk result, split into comparable tokens sharing each word's times: `result`
    of a final one (SetWords), `partial_result` of a partial one with SetPartialWords, else the
    partial text, every token at `now_s` (how far the leg was decoded: the words ended by then)."""
    raw = result.get("result", result.get("partial_result"))
    if raw is None:
        return [Word(tok, now_s, now_s) for tok in tokens(str(result.get("partial", "")))]
    out: list[Word] = []
    for w in raw if isinstance(raw, list) else []:
        if isinstance(w, dict):
            out.extend(Word(tok, float(w["start"]), float(w["end"])) for tok in tokens(str(w.get("word", ""))))
    return out


def _stream(words: Sequence[Word], max_gap: float, stream: list[Word | None] | None = None) -> list[Word | None]:
    stream = [] if stream is None else stream
    last = next((w for w in reversed(stream) if w is not None), None)
    last_end = last.end if last is not None else None
    for w in words:
        if last_end is not None and w.start - last_end > max_gap:
            stream.append(None)
        stream.append(w)
        last_end = w.end
    return stream


def find_spans(stream: Sequence[Word | None], phrase: Phrase) -> list[tuple[float, float, int]]:
    """(start of first word, end of last word, index of the last word) of every occurrence of
    `phrase`; None is a barrier."""
    n, out = len(phrase.tokens), []
    for i in range(len(stream) - n + 1):
        window = stream[i : i + n]
        if all(w is not None and w.text == want for w, want in zip(window, phrase.tokens, strict=True)):
            first, last = window[0], window[-1]
            assert first is not None and last is not None
            out.append((first.start, last.end, i + n - 1))
    return out


@dataclass
class LegMatcher:
    """Occurrences are counted per utterance: a partial result is the current utterance so far
    (rewritten as it grows), so each phrase is raised as often as it occurs in the utterance,
    whichever result (partial or final) first shows it; a phrase may start in the utterance before."""

    leg: Leg
    rules: LiveRules
    _done: list[Word] = field(default_factory=list)  # the last words of ended utterances
    _raised: Counter[str] = field(default_factory=Counter)  # phrase -> raised in the current utterance
    _last: Counter[str] = field(default_factory=Counter)  # phrase -> occurrences in the last partial
    greeted: bool = False
    _greeting_checked: bool = False

    def feed(self, result: dict[str, object], final: bool, now_s: float = 0.0) -> list[Hit]:
        """Hits in a Vosk result not raised before (final: its words end an utterance)."""
        words = words_of(result, now_s)
        longest = max((len(p.tokens) for p in self.rules.forbidden.phrases), default=1)
        prefix = _stream(self._done[-(longest - 1):] if longest > 1 else [], self.rules.phrase_max_gap_s)
        cut = len(prefix)
        stream = _stream(words, self.rules.phrase_max_gap_s, list(prefix))
        hits: list[Hit] = []
        counts: Counter[str] = Counter()
        for p in self.rules.forbidden.phrases:
            spans = [sp for sp in find_spans(stream, p) if sp[2] >= cut]
            counts[p.text] = len(spans)
            # A partial hypothesis may hold a word for one result and drop it in the next: one that
            # two results in a row agree on (100 ms apart) is raised; a final one at once.
            stable = len(spans) if final else min(len(spans), self._last[p.text])
            for start, end, _ in spans[self._raised[p.text]:stable]:
                hits.append(Hit("forbidden_phrase", self.leg, p.text, start, end, p.line))
            self._raised[p.text] = max(self._raised[p.text], stable)
        self._last = counts
        self._check_greeting([*self._done, *words])
        if final:
            self._done = [*self._done, *words][-KEEP_TOKENS:]
            self._raised.clear()
            self._last = Counter()
        return hits

    def _check_greeting(self, words: list[Word]) -> None:
        if self.rules.greeting is None or self.greeted:
            return
        stream = _stream(words, self.rules.phrase_max_gap_s)
        limit = self.rules.greeting_window_s + self.rules.detect_slack_s
        self.greeted = any(s <= limit for p in self.rules.greeting.phrases for s, _, _ in find_spans(stream, p))

    def clock(self, t: float) -> list[Hit]:
        """Hits due once the leg is decoded up to `t` whatever was said: the greeting window (and
        the slack for its last words to be recognised) ended without one."""
        window = self.rules.greeting_window_s
        due = t >= window + self.rules.detect_slack_s
        if self.rules.greeting is None or self._greeting_checked or self.greeted or not due:
            return []
        self._greeting_checked = True
        return [Hit("no_greeting", self.leg, "", window, window)]
