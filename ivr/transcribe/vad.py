"""Which stretches of one leg hold speech, and how the recognizer's clock maps back to the call's.

In a two-party call each leg is silent most of the time the other party speaks. The recognizer
still spends CPU on every frame of silence, so only the speech of a leg, padded on both sides, is
fed to it (`ivr.transcribe.recognize`). The spans are cut on the detector's 30 ms frames, so the
recognizer (30 ms output frames) sees them on the same grid as the full leg and word times map
back to the call's clock exactly.

The frame classifier is WebRTC's VAD (PyPI `webrtcvad-wheels`, a maintained build of `webrtcvad`
with binary wheels); the segmentation and the time mapping are pure logic.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import webrtcvad

FRAME_SECONDS = 0.03  # webrtcvad takes 10, 20 or 30 ms frames; 30 ms is the recognizer's output frame
VAD_RATES = (8000, 16000, 32000, 48000)  # the rates webrtcvad accepts


@dataclass(frozen=True)
class VadOptions:
    """How speech is found and padded. The padding keeps what the recognizer needs around a word
    (its acoustic context and a trailing silence to end the utterance on); gaps shorter than
    `merge_gap` stay inside one span so a pause within a turn is decoded as in the full leg."""

    aggressiveness: int = 2  # webrtcvad 0 (keeps most) .. 3 (drops most non-speech)
    pad_before: float = 0.3
    pad_after: float = 0.6
    merge_gap: float = 0.6


@dataclass(frozen=True)
class Span:
    """Samples [start, end) of a leg."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


def frame_samples(rate: int) -> int:
    return int(rate * FRAME_SECONDS)


def speech_frames(pcm: bytes, rate: int, aggressiveness: int) -> list[bool]:
    """One flag per whole 30 ms frame of 16-bit mono PCM: does it hold speech?"""
    vad = webrtcvad.Vad(aggressiveness)
    step = 2 * frame_samples(rate)
    return [vad.is_speech(pcm[i : i + step], rate) for i in range(0, len(pcm) - step + 1, step)]


def spans_from_frames(
    flags: Sequence[bool], frame: int, total: int, options: VadOptions = VadOptions()
) -> list[Span]:
    """Padded, merged speech spans (in samples, on the frame grid, clipped to `total`)."""
    before = round(options.pad_before / FRAME_SECONDS)
    after = round(options.pad_after / FRAME_SECONDS)
    gap = round(options.merge_gap / FRAME_SECONDS)
    spans: list[list[int]] = []  # [first frame, last frame + 1], padded
    for i, speech in enumerate(flags):
        if not speech:
            continue
        lo, hi = max(0, i - before), i + 1 + after
        if spans and lo <= spans[-1][1] + gap:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    out = [Span(lo * frame, min(hi * frame, total)) for lo, hi in spans]
    if out and len(flags) * frame < total and out[-1].end >= len(flags) * frame:
        # Speech running into the last, partial frame: keep the leg's tail with it.
        out[-1] = Span(out[-1].start, total)
    return [s for s in out if s.length > 0]


def speech_spans(pcm: bytes, rate: int, options: VadOptions = VadOptions()) -> list[Span] | None:
    """The speech of a leg, or None when the detector cannot judge this rate (decode it all)."""
    if rate not in VAD_RATES:
        return None
    total = len(pcm) // 2
    return spans_from_frames(speech_frames(pcm, rate, options.aggressiveness), frame_samples(rate), total, options)


def whole(pcm: bytes) -> list[Span]:
    return [Span(0, len(pcm) // 2)] if len(pcm) >= 2 else []


class TimeMap:
    """Seconds on the recognizer's clock (the spans fed back to back, from `offset` on) -> seconds
    of the call."""

    def __init__(self, spans: Sequence[Span], rate: int, offset: float = 0.0) -> None:
        self._offset = offset
        self._fed_starts: list[float] = []  # where each span starts on the recognizer's clock
        self._call_starts: list[float] = []
        fed = 0
        for span in spans:
            self._fed_starts.append(fed / rate)
            self._call_starts.append(span.start / rate)
            fed += span.length
        self.fed_seconds = fed / rate

    def to_call(self, t: float) -> float:
        t -= self._offset
        if not self._fed_starts:
            return t
        # Vosk prints times with 6 decimals: a word on a span's first frame may read a hair early.
        k = max(0, bisect.bisect_right(self._fed_starts, t + 1e-4) - 1)
        return self._call_starts[k] + (t - self._fed_starts[k])

    def interval(self, start: float, end: float) -> tuple[float, float]:
        """A word's start and end on the call's clock (a word straddling two spans keeps end >= start)."""
        s = self.to_call(start)
        return s, max(s, self.to_call(end))
