"""QA analysis of one call's transcript: flags with timestamps, and talk metrics.

Flags: forbidden_phrase (agent said a 服务忌语), no_greeting / late_greeting, no_courtesy,
agent_hung_up_first, long_silence, talk_over. Metrics: courtesy words found and missing, talk
seconds per side and the agent's share. Times are seconds from the start of the recording
(MixMonitor's `b`: the moment caller and agent were bridged).

A transcript made by a model of another language (the Korean stand-in for a Chinese call) holds
words nobody said: every flag read from it gets trust "mismatched_language" and the result carries
the language check, so no one acts on such a flag as if it were evidence. agent_hung_up_first
comes from the call record, not the words, and stays trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field

from ivr.qa.phrases import PhraseList, Token, find_all, tokens
from ivr.transcribe.transcript import Speaker, Transcript


@dataclass(frozen=True)
class QaConfig:
    greeting_window: float = 10.0
    long_silence: float = 8.0
    talkover_min: float = 1.0
    phrase_max_gap: float = 2.0
    word_join: float = 0.3  # gap between words of one speaker still counted as talking


Trust = Literal["ok", "mismatched_language"]


class Flag(BaseModel):
    kind: str
    t: float
    speaker: Speaker | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    trust: Trust = "ok"


class QaResult(BaseModel):
    flags: list[Flag] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    language_check: dict[str, Any] = Field(default_factory=dict)  # ivr.transcribe.provenance.LanguageCheck

    def kinds(self) -> list[str]:
        return [f.kind for f in self.flags]


@dataclass(frozen=True)
class PhraseLists:
    forbidden: PhraseList
    courtesy: PhraseList
    greeting: PhraseList


def speech_stream(transcript: Transcript, speaker: Speaker, max_gap: float) -> list[Token | None]:
    """One speaker's tokens in time order; a pause longer than `max_gap` becomes a barrier."""
    stream: list[Token | None] = []
    last_end: float | None = None
    for u in transcript.by_speaker(speaker):
        units = [(w.word, w.start, w.end) for w in u.words] or [(u.text, u.start, u.end)]
        for text, start, end in units:
            if last_end is not None and start - last_end > max_gap:
                stream.append(None)
            stream.extend(Token(tok, start) for tok in tokens(text))
            last_end = end
    return stream


def intervals(transcript: Transcript, speaker: Speaker | None, join: float) -> list[tuple[float, float]]:
    """Merged talking intervals of one speaker (None: anyone), from word timings."""
    spans = sorted(_spans(transcript, speaker))
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] <= join:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _spans(transcript: Transcript, speaker: Speaker | None) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for u in transcript.utterances:
        if speaker is not None and u.speaker != speaker:
            continue
        if u.words:
            out.extend((w.start, w.end) for w in u.words)
        else:
            out.append((u.start, u.end))
    return out


def phrase_flags(
    transcript: Transcript, lists: PhraseLists, cfg: QaConfig
) -> tuple[list[Flag], dict[str, Any]]:
    agent = speech_stream(transcript, "agent", cfg.phrase_max_gap)
    flags = [
        Flag(kind="forbidden_phrase", t=t, speaker="agent", detail={"phrase": p.text, "line": p.line})
        for p, t in find_all(agent, lists.forbidden.phrases)
    ]
    found: dict[str, float] = {}
    for p, t in find_all(agent, lists.courtesy.phrases):
        found[p.text] = min(t, found.get(p.text, t))
    missing = [p.text for p in lists.courtesy.phrases if p.text not in found]
    if not found:
        flags.append(
            Flag(
                kind="no_courtesy",
                t=transcript.duration,
                speaker="agent",
                detail={"expected": [p.text for p in lists.courtesy.phrases]},
            )
        )
    greetings = sorted(t for _, t in find_all(agent, lists.greeting.phrases))
    if not greetings:
        flags.append(Flag(kind="no_greeting", t=0.0, speaker="agent", detail={"window": cfg.greeting_window}))
    elif greetings[0] > cfg.greeting_window:
        flags.append(
            Flag(
                kind="late_greeting", t=greetings[0], speaker="agent", detail={"window": cfg.greeting_window}
            )
        )
    metrics = {
        "courtesy_found": found,
        "courtesy_missing": missing,
        "greeting_at": greetings[0] if greetings else None,
    }
    return flags, metrics


def timing_flags(transcript: Transcript, cfg: QaConfig) -> tuple[list[Flag], dict[str, Any]]:
    flags: list[Flag] = []
    anyone = intervals(transcript, None, cfg.word_join)
    for (_, end), (start, _) in pairwise(anyone):
        if start - end >= cfg.long_silence:
            flags.append(
                Flag(kind="long_silence", t=round(end, 2), detail={"seconds": round(start - end, 2)})
            )
    agent, caller = (
        intervals(transcript, "agent", cfg.word_join),
        intervals(transcript, "caller", cfg.word_join),
    )
    for a0, a1 in agent:
        for c0, c1 in caller:
            overlap = min(a1, c1) - max(a0, c0)
            if overlap >= cfg.talkover_min:
                by: Speaker = "agent" if a0 > c0 else "caller"
                flags.append(
                    Flag(
                        kind="talk_over",
                        t=round(max(a0, c0), 2),
                        speaker=by,
                        detail={"seconds": round(overlap, 2)},
                    )
                )
    agent_s, caller_s = sum(e - s for s, e in agent), sum(e - s for s, e in caller)
    total = agent_s + caller_s
    metrics = {
        "agent_talk_s": round(agent_s, 2),
        "caller_talk_s": round(caller_s, 2),
        "agent_share": round(agent_s / total, 3) if total else None,
        "agent_caller_ratio": round(agent_s / caller_s, 3) if caller_s else None,
    }
    return flags, metrics


def analyze(
    transcript: Transcript, lists: PhraseLists, cfg: QaConfig | None = None, *, hangup_by: str | None = None
) -> QaResult:
    """Every QA flag of one call, sorted by time."""
    cfg = cfg or QaConfig()
    flags, metrics = phrase_flags(transcript, lists, cfg)
    tflags, tmetrics = timing_flags(transcript, cfg)
    flags += tflags
    check = transcript.language_check()
    if check.mismatch:
        flags = [f.model_copy(update={"trust": "mismatched_language"}) for f in flags]
    if hangup_by == "agent":
        flags.append(Flag(kind="agent_hung_up_first", t=transcript.duration, speaker="agent"))
    metrics |= tmetrics
    metrics["hangup_by"] = hangup_by
    flags.sort(key=lambda f: (f.t, f.kind))
    return QaResult(flags=flags, metrics=metrics, language_check=check.to_dict())
