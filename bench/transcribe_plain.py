"""The baseline of the transcription benchmark: a plain single-threaded Vosk loop.

    .venv/bin/python -m bench.transcribe_plain MODEL_DIR LEG.wav...   (prints JSON)

What anyone would write first, following Vosk's own example: load the model, then for every WAV
file a new KaldiRecognizer fed the whole file in 0.5 s reads (wave.readframes(4000) at 8 kHz),
Result() at each endpoint, FinalResult() at the end. Same dither seed per file as the product,
so the two paths are comparable word for word. Runs in its own process so that its CPU
(getrusage of this process, model load excluded) and memory are its own.
"""

from __future__ import annotations

import ctypes
import json
import resource
import sys
import time
import wave
from pathlib import Path
from typing import Any

import vosk

READ_FRAMES = 4000


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def words_of(result: dict[str, Any]) -> list[list[Any]]:
    return [[str(w["word"]), float(w["start"]), float(w["end"])] for w in result.get("result", [])]


def transcribe(model: Any, path: Path) -> list[list[Any]]:
    ctypes.CDLL(None).srand(0)  # the product's DITHER_SEED
    out: list[list[Any]] = []
    with wave.open(str(path), "rb") as w:
        rec = vosk.KaldiRecognizer(model, w.getframerate())
        rec.SetWords(True)
        while data := w.readframes(READ_FRAMES):
            if rec.AcceptWaveform(data):
                out += words_of(json.loads(rec.Result()))
    out += words_of(json.loads(rec.FinalResult()))
    return out


def main(argv: list[str]) -> None:
    vosk.SetLogLevel(-1)
    t0 = time.perf_counter()
    model = vosk.Model(argv[0])
    load = time.perf_counter() - t0
    cpu0, wall0 = cpu(), time.perf_counter()
    words = {leg: transcribe(model, Path(leg)) for leg in argv[1:]}
    report = {
        "cpu": cpu() - cpu0,
        "wall": time.perf_counter() - wall0,
        "load": load,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "words": words,
    }
    json.dump(report, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1:])
