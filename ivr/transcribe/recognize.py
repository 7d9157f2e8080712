"""Vosk recognition of one channel: one KaldiRecognizer per channel over the shared model."""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vosk

from ivr.transcribe.audio import load_legs, pcm_seconds
from ivr.transcribe.transcript import Speaker, Transcript, Utterance, Word, merge_channels

CHUNK_SECONDS = 0.5  # feed size; endpoints are checked per chunk, so it is part of the result
DITHER_SEED = 0


def reseed_dither() -> None:
    """Kaldi dithers features with libc's rand(), so without a fixed seed the words depend on
    what the process recognised before. Reseeding per channel makes a retry, a second worker
    and the benchmark's plain loop produce identical words from identical audio."""
    ctypes.CDLL(None).srand(DITHER_SEED)


def _utterance(result: dict[str, Any], speaker: Speaker) -> Utterance | None:
    words = [
        Word(
            word=str(w["word"]),
            start=float(w["start"]),
            end=float(w["end"]),
            conf=min(1.0, max(0.0, float(w.get("conf", 1.0)))),
        )
        for w in result.get("result", [])
    ]
    if not words:
        return None
    return Utterance(
        speaker=speaker,
        start=words[0].start,
        end=words[-1].end,
        text=str(result.get("text") or " ".join(w.word for w in words)),
        words=words,
    )


def _results(recognizer: Any, pcm: bytes, rate: int) -> Iterator[dict[str, Any]]:
    step = int(rate * CHUNK_SECONDS) * 2
    for i in range(0, len(pcm), step):
        if recognizer.AcceptWaveform(pcm[i : i + step]):
            yield json.loads(recognizer.Result())
    yield json.loads(recognizer.FinalResult())


def recognize_channel(model: Any, pcm: bytes, rate: int, speaker: Speaker) -> list[Utterance]:
    """Utterances of one speaker, with word start/end times (seconds) and confidences."""
    reseed_dither()
    recognizer = vosk.KaldiRecognizer(model, rate)
    recognizer.SetWords(True)
    return [u for r in _results(recognizer, pcm, rate) if (u := _utterance(r, speaker)) is not None]


def transcribe_files(
    model: Any,
    caller: Path,
    agent: Path | None,
    *,
    rate: int,
    call_id: str = "",
    language: str = "",
    model_name: str = "",
) -> Transcript:
    """Decode the legs, recognise each on its own recognizer, merge into one dialogue."""
    legs = load_legs(caller, agent, rate)
    channels = {speaker: recognize_channel(model, pcm, rate, speaker) for speaker, pcm in legs.items()}
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
