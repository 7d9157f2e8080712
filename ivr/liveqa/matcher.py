"""Phrase matching on a live leg: the post-call QA lists (ivr.qa.phrases) on Vosk's growing results.

Post-call QA (ivr.qa.analyze) flags a forbidden phrase the agent said and a greeting missing from
the first `greeting_window` seconds. Live QA applies the same lists and the same comparison
(token sequences from `ivr.qa.phrases.tokens`, a pause longer than `phrase_max_gap` a barrier) to
what a leg's recognizer has said so far: the final words of ended utterances plus the words of
the current partial result, so a phrase is found as soon as its last word is out, not at the end
of the utterance. A partial result is rewritten while it grows, so a phrase found again within
`same_hit_s` of an earlier hit of the same phrase is the same hit, raised once.

Times are seconds on the leg's own clock (samples fed / rate: the stream starts when the spy
channel attaches, just after the agent was bridged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ivr.qa.phrases import Phrase, PhraseList, tokens

Leg = Literal["agent", "caller"]
HitKind = Literal["forbidden_phrase", "no_greeting"]
KEEP_TOKENS = 64  # ended words kept for phrases that span an utterance boundary


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
    same_hit_s: float = 1.5


def words_of(result: dict[str, object]) -> list[Word]:
    """The words of a Vosk result: `result` of a final one, `partial_result` of a partial one
    (SetWords / SetPartialWords), each split into comparable tokens sharing the word's times."""
    raw = result.get("result", result.get("partial_result", []))
    out: list[Word] = []
    for w in raw if isinstance(raw, list) else []:
        if isinstance(w, dict):
            out.extend(Word(tok, float(w["start"]), float(w["end"])) for tok in tokens(str(w.get("word", ""))))
    return out


def _stream(words: Sequence[Word], max_gap: float) -> list[Word | None]:
    stream: list[Word | None] = []
    last_end: float | None = None
    for w in words:
        if last_end is not None and w.start - last_end > max_gap:
            stream.append(None)
        stream.append(w)
        last_end = w.end
    return stream


def find_spans(stream: Sequence[Word | None], phrase: Phrase) -> list[tuple[float, float]]:
    """(start of first word, end of last word) of every occurrence of `phrase`; None is a barrier."""
    n, out = len(phrase.tokens), []
    for i in range(len(stream) - n + 1):
        window = stream[i : i + n]
        if all(w is not None and w.text == want for w, want in zip(window, phrase.tokens, strict=True)):
            first, last = window[0], window[-1]
            assert first is not None and last is not None
            out.append((first.start, last.end))
    return out


@dataclass
class LegMatcher:
    leg: Leg
    rules: LiveRules
    _done: list[Word] = field(default_factory=list)
    _raised: list[tuple[str, float]] = field(default_factory=list)  # (phrase, start) already raised
    greeted: bool = False
    _greeting_checked: bool = False

    def feed(self, result: dict[str, object], final: bool) -> list[Hit]:
        """Hits in a Vosk result not raised before (final: its words end an utterance)."""
        words = words_of(result)
        stream = _stream([*self._done, *words], self.rules.phrase_max_gap_s)
        if final:
            self._done = [*self._done, *words][-KEEP_TOKENS:]
        hits = [self._hit("forbidden_phrase", p, span) for p in self.rules.forbidden.phrases
                for span in find_spans(stream, p)]
        if self.rules.greeting is not None and not self.greeted:
            self.greeted = any(s <= self.rules.greeting_window_s for p in self.rules.greeting.phrases
                               for s, _ in find_spans(stream, p))
        return [h for h in hits if h is not None]

    def _hit(self, kind: HitKind, phrase: Phrase, span: tuple[float, float]) -> Hit | None:
        start, end = span
        if any(p == phrase.text and abs(s - start) < self.rules.same_hit_s for p, s in self._raised):
            return None
        self._raised.append((phrase.text, start))
        del self._raised[:-KEEP_TOKENS]
        return Hit(kind, self.leg, phrase.text, start, end, phrase.line)

    def clock(self, t: float) -> list[Hit]:
        """Hits due at leg time `t` whatever was said: the greeting window ended without one."""
        window = self.rules.greeting_window_s
        if self.rules.greeting is None or self._greeting_checked or self.greeted or t < window:
            return []
        self._greeting_checked = True
        return [Hit("no_greeting", self.leg, "", window, window)]
