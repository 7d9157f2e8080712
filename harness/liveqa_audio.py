"""Test utterances for live QA, and what the packaged model hears in them when decoded live.

The packaged model is Korean and our synthetic speech is espeak-ng's Mandarin: the words it writes
are not what was said, but they are what it writes for that audio. Tests and the benchmark
therefore decode an utterance once, offline, exactly as `ivr liveqa` decodes a leg (the same
recognizer settings, 100 ms chunks of the mu-law audio the phone sends), and build their phrase
lists from that output: a later alert is then a real match of real streaming recognition.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from ivr.liveqa.recognizer import RATE, RecognizerPool
from ivr.liveqa.session import CHUNK_S
from ivr.qa.phrases import tokens


@dataclass(frozen=True)
class HeardWord:
    word: str
    start: float
    end: float
    conf: float
    seen: float  # audio time at which the word first showed in a partial (or final) result

    @property
    def settle_s(self) -> float:
        """How long after the word ended the model first wrote it: the recognizer's own share of an
        alert's delay, whatever the pipeline around it does."""
        return self.seen - self.end


def phone_wav(text: str, out: Path, *, lead_s: float, tail_s: float, voice: str = "cmn") -> Path:
    """espeak-ng speech as 8 kHz mu-law (what a SIPp phone streams), with silence around it."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True, timeout=60)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(out), "pad", str(lead_s),
                        str(tail_s)], check=True, capture_output=True, timeout=60)
    return out


def concat(parts: list[Path], out: Path) -> Path:
    """mu-law WAVs one after the other (a greeting, then a rude phrase)."""
    subprocess.run(["sox", *map(str, parts), str(out)], check=True, capture_output=True, timeout=60)
    return out


def slin(wav: Path) -> bytes:
    """The 16-bit 8 kHz samples of a WAV (mu-law decoded, as Asterisk hands them to the spy)."""
    out = subprocess.run(["sox", str(wav), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-r", "8000", "-"],
                         check=True, capture_output=True, timeout=60)
    return out.stdout


def decode_like_live(model: Any, pcm: bytes) -> list[HeardWord]:
    """The final words `ivr liveqa` gets for `pcm` (its recognizer, its chunk size), each with
    when the matcher would first raise it: the second partial text in a row, at or after the word's
    end, of its utterance that holds it (partial results carry no times), else its final result."""
    rec = RecognizerPool(model).take()
    step = int(RATE * CHUNK_S) * 2
    out: list[HeardWord] = []
    partials: list[tuple[set[str], float]] = []  # the current utterance's partial texts, when
    results: list[tuple[dict[str, Any], float]] = []
    for i in range(0, len(pcm), step):
        result, final = rec.accept(pcm[i : i + step])
        if final:
            results.append((result, rec.seconds))
        else:
            partials.append((set(str(result.get("partial", "")).split()), rec.seconds))
            continue
        out += _heard(result, rec.seconds, partials)
        partials = []
    out += _heard(rec.finish(), rec.seconds, partials)
    return out


def _heard(result: dict[str, Any], at: float, partials: list[tuple[set[str], float]]) -> list[HeardWord]:
    words = []
    for w in result.get("result", []):
        end = float(w["end"])
        # as the matcher raises it: in two partial results in a row
        seen = min([t for (before, _), (text, t) in pairwise(partials)
                    if t >= end - 0.05 and w["word"] in text and w["word"] in before], default=at)
        words.append(HeardWord(str(w["word"]), float(w["start"]), end, float(w.get("conf", 1.0)), seen))
    return words


def pick(words: list[HeardWord], *, after: float = 0.0, before: float = float("inf"),
         avoid: Collection[str] = (), n: int = 3, min_conf: float = 0.6,
         settle_s: float = float("inf")) -> list[HeardWord]:
    """Up to `n` confident single-token words heard between `after` and `before`, none in `avoid`,
    that the model wrote within `settle_s` of their end and only once in the whole audio (one phrase,
    one alert); the quickest to settle first."""
    count = Counter(w.word for w in words)
    fit = [w for w in words if after <= w.start and w.end <= before and w.conf >= min_conf and count[w.word] == 1
           and w.word.isalpha() and len(tokens(w.word)) == 1 and w.word not in avoid and w.settle_s <= settle_s]
    return sorted(fit, key=lambda w: (w.settle_s, -w.conf))[:n]


def phrase_file(path: Path, header: str, words: list[HeardWord]) -> Path:
    path.write_text(f"# {header}\n" + "".join(f"{w.word}\n" for w in words), encoding="utf-8")
    return path
