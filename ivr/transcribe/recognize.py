"""Vosk recognition of one channel: the speech of the leg, on a recognizer kept for the process.

Where the CPU goes (bench/RESULTS.md): almost all of it is Vosk's search, and most of that is
expanding the on-the-fly composition of the model's two graphs (HCLr o Gr). Every new
KaldiRecognizer starts that composition's cache empty, so a recognizer made per channel pays the
expansion again for every call. This module keeps one recognizer per (model, rate) for the life
of the process (the worker runs jobs in-process, see ivr.transcribe.worker) and feeds it only
the speech spans of each leg (ivr.transcribe.vad), mapping word times back to the call's clock.
The words do not depend on the cache: it holds the same arcs either way.
"""

from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vosk

from ivr.transcribe.audio import load_legs, pcm_seconds
from ivr.transcribe.transcript import Speaker, Transcript, Utterance, Word, merge_channels
from ivr.transcribe.vad import Span, TimeMap, VadOptions, speech_spans, whole

CHUNK_SECONDS = 0.5  # feed size; endpoints are checked per chunk, so it is part of the result
DITHER_SEED = 0
# A kept recognizer is replaced after this much audio, so its graph cache (it grew by ~170 MB on
# the packaged model and then stayed flat) is bounded whatever a model does over months.
RECYCLE_AFTER_SECONDS = 4 * 3600.0


def reseed_dither() -> None:
    """Kaldi dithers features with libc's rand(), so without a fixed seed the words depend on
    what the process recognised before. Reseeding per channel makes a retry, a second worker
    and the benchmark's plain loop produce identical words from identical audio."""
    ctypes.CDLL(None).srand(DITHER_SEED)


class KeptRecognizer:
    """A KaldiRecognizer that decodes channel after channel. Vosk's clock keeps running across
    channels (it counts every sample fed since the recognizer was made), so each channel's
    word times are taken relative to where that channel started."""

    def __init__(self, model: Any, rate: int) -> None:
        self.rate = rate
        self._rec = vosk.KaldiRecognizer(model, rate)
        self._rec.SetWords(True)
        self.fed = 0  # samples fed since the recognizer was made

    @property
    def worn_out(self) -> bool:
        return self.fed / self.rate >= RECYCLE_AFTER_SECONDS

    def decode(self, pcm: bytes, spans: list[Span]) -> Iterator[tuple[dict[str, Any], TimeMap]]:
        """Vosk results of the spans fed back to back, each span's end ending an utterance.

        The channel always closes with FinalResult() on a running decoder: only that rebuilds
        the feature pipeline, so the next channel starts without this one's adaptation (the same
        as on a new recognizer) and on a clock that counts exactly the samples fed."""
        reseed_dither()
        tmap = TimeMap(spans, self.rate, offset=self.fed / self.rate)
        step = int(self.rate * CHUNK_SECONDS) * 2
        for n, span in enumerate(spans, start=1):
            audio = pcm[2 * span.start : 2 * span.end]
            for i in range(0, len(audio), step):
                endpoint = self._rec.AcceptWaveform(audio[i : i + step])
                if endpoint and not (n == len(spans) and i + step >= len(audio)):
                    yield json.loads(self._rec.Result()), tmap
            self.fed += span.length
            if n < len(spans):
                yield json.loads(self._rec.Result()), tmap
        yield json.loads(self._rec.FinalResult()), tmap


class RecognizerPool:
    """Kept recognizers per (model, rate); one per thread at a time (a recognizer is not
    thread-safe). One interrupted mid-channel (an error, a job timeout) is dropped, not reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[tuple[int, int], list[KeptRecognizer]] = {}

    @contextmanager
    def recognizer(self, model: Any, rate: int) -> Iterator[KeptRecognizer]:
        key = (id(model), rate)
        with self._lock:
            free = self._free.setdefault(key, [])
            rec = free.pop() if free else None
        if rec is None:
            rec = KeptRecognizer(model, rate)
        yield rec  # an exception propagates and the recognizer is dropped with it
        if not rec.worn_out:
            with self._lock:
                self._free[key].append(rec)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


pool = RecognizerPool()


def _utterance(result: dict[str, Any], tmap: TimeMap, speaker: Speaker) -> Utterance | None:
    words = []
    for w in result.get("result", []):
        start, end = tmap.interval(float(w["start"]), float(w["end"]))
        conf = min(1.0, max(0.0, float(w.get("conf", 1.0))))
        start, end = max(0.0, round(start, 3)), max(0.0, round(end, 3))
        words.append(Word(word=str(w["word"]), start=start, end=end, conf=conf))
    if not words:
        return None
    return Utterance(
        speaker=speaker,
        start=words[0].start,
        end=words[-1].end,
        text=str(result.get("text") or " ".join(w.word for w in words)),
        words=words,
    )


def recognize_channel(
    model: Any, pcm: bytes, rate: int, speaker: Speaker, *, speech_only: bool = False
) -> list[Utterance]:
    """Utterances of one speaker, word times (seconds on the call's clock) and confidences.
    `speech_only=False` decodes the whole leg (the reference the speech-only path is held to)."""
    spans = speech_spans(pcm, rate, VadOptions()) if speech_only else None
    if spans is None:
        spans = whole(pcm)
    if not spans:
        return []  # a leg without speech: nothing to recognise
    with pool.recognizer(model, rate) as rec:
        return [u for r, tmap in rec.decode(pcm, spans) if (u := _utterance(r, tmap, speaker)) is not None]


def transcribe_files(
    model: Any,
    caller: Path,
    agent: Path | None,
    *,
    rate: int,
    call_id: str = "",
    language: str = "",
    model_name: str = "",
    speech_only: bool = False,
) -> Transcript:
    """Read the legs, recognise each on its own (kept) recognizer, merge into one dialogue."""
    legs = load_legs(caller, agent, rate)
    channels = {
        speaker: recognize_channel(model, pcm, rate, speaker, speech_only=speech_only)
        for speaker, pcm in legs.items()
    }
    sources = {"caller": str(caller)} if agent is not None else {"stereo": str(caller)}
    if agent is not None:
        sources["agent"] = str(agent)
    return Transcript(
        call_id=call_id,
        language=language,
        model=model_name,
        duration=round(max(pcm_seconds(pcm, rate) for pcm in legs.values()), 3),
        sources=sources,
        utterances=merge_channels(channels),
    )
