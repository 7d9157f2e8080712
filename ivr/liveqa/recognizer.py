"""Streaming Vosk recognition of one live leg, on recognizers kept for the process.

A live leg is fed as its audio arrives (chunks of 100 ms) and asked for a partial result after
each chunk, so a phrase is seen when its last word is decoded, not when the speaker pauses. Partial
results are text only (SetPartialWords off): with word times Vosk builds them from the part of the
lattice already determinized, which trails the audio; measured on the packaged model, words showed
0.4-1.2 s later that way (docs/liveqa.md). Final results keep their word times.
Recognizers are not thread-safe: a leg holds one for its whole life, and every call into it runs
on the service's bounded thread pool (Vosk's C calls release the GIL, so recognition never runs
on the event loop). A recognizer is reused by the next leg after FinalResult(), which resets its
decoder (a new KaldiRecognizer would start its graph cache empty again, see
ivr.transcribe.recognize); Vosk's clock keeps counting across legs, so times are taken from
where this leg started.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import vosk

RATE = 8000  # AudioSocket slin: 8 kHz 16-bit mono


def _shift(result: dict[str, Any], offset: float) -> dict[str, Any]:
    for name in ("result", "partial_result"):
        for w in result.get(name, []) or []:
            w["start"] = round(float(w["start"]) - offset, 3)
            w["end"] = round(float(w["end"]) - offset, 3)
    return result


class LegRecognizer:
    """One leg's decoder: `accept(pcm)` -> (Vosk result, final) with times on the leg's clock."""

    def __init__(self, rec: Any, fed_before: int, pool: RecognizerPool) -> None:
        self._rec, self._pool = rec, pool
        self._offset_samples = fed_before
        self.fed = 0  # samples of this leg

    @property
    def seconds(self) -> float:
        return self.fed / RATE

    def accept(self, pcm: bytes) -> tuple[dict[str, Any], bool]:
        self.fed += len(pcm) // 2
        final = bool(self._rec.AcceptWaveform(pcm))
        raw = self._rec.Result() if final else self._rec.PartialResult()
        return _shift(json.loads(raw), self._offset_samples / RATE), final

    def finish(self) -> dict[str, Any]:
        """The last words; the recognizer goes back to the pool (reset for the next leg)."""
        result = _shift(json.loads(self._rec.FinalResult()), self._offset_samples / RATE)
        self._pool.put(self._rec, self._offset_samples + self.fed)
        return result

    def drop(self) -> None:
        """A leg that ended mid-call without finish(): its recognizer is not reused."""
        self._rec = None


class RecognizerPool:
    """Kept KaldiRecognizers of one model (SetWords), each with the samples it has been fed (its clock)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._free: list[tuple[Any, int]] = []

    def take(self) -> LegRecognizer:
        """Call on the thread pool: a new recognizer takes a few milliseconds."""
        with self._lock:
            kept = self._free.pop() if self._free else None
        if kept is None:
            rec = vosk.KaldiRecognizer(self.model, RATE)
            rec.SetWords(True)
            kept = (rec, 0)
        return LegRecognizer(kept[0], kept[1], self)

    def put(self, rec: Any, fed: int) -> None:
        with self._lock:
            self._free.append((rec, fed))

    @property
    def kept(self) -> int:
        return len(self._free)
