"""Synthetic calls for tests, demos and the benchmark: espeak-ng speech on two phone-band legs.

Each turn is spoken by one side while the other leg carries silence, laid out on one timeline,
so the two files look like MixMonitor's r()/t() legs of a real call.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment

from ivr.transcribe.transcript import Speaker

VOICES = {"zh": "cmn", "en": "en-us"}


class SynthError(RuntimeError):
    """espeak-ng is missing or failed on a text."""


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    text: str
    voice: str = "cmn"
    pause_after: float = 0.6


def speak(text: str, voice: str, rate: int = 8000) -> bytes:
    """16-bit mono PCM at `rate` of `text` spoken by espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        proc = subprocess.run([exe, "-v", voice, "-w", str(wav), text], capture_output=True, timeout=60)
        if proc.returncode != 0 or not wav.exists():
            raise SynthError(f"espeak-ng -v {voice} failed: {proc.stderr.decode(errors='replace').strip()}")
        seg = AudioSegment.from_wav(wav)
    return bytes(seg.set_channels(1).set_sample_width(2).set_frame_rate(rate).raw_data)


@dataclass(frozen=True)
class SynthCall:
    caller: Path
    agent: Path
    seconds: float
    segments: list[tuple[Speaker, float, float]]  # who speaks from when to when (pauses excluded)


def synth_call(out_dir: Path, call_id: str, turns: list[Turn], rate: int = 8000) -> SynthCall:
    """Write `<call_id>-caller.wav` and `<call_id>-agent.wav` as MixMonitor's legs would be."""
    legs: dict[str, bytearray] = {"caller": bytearray(), "agent": bytearray()}
    segments: list[tuple[Speaker, float, float]] = []
    for turn in turns:
        speech = speak(turn.text, turn.voice, rate)
        start = len(legs["caller"]) / 2 / rate
        segments.append((turn.speaker, start, start + len(speech) / 2 / rate))
        pcm = speech + bytes(2 * int(rate * turn.pause_after))
        for side, buf in legs.items():
            buf.extend(pcm if side == turn.speaker else bytes(len(pcm)))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for side, buf in legs.items():
        path = out_dir / f"{call_id}-{side}.wav"
        AudioSegment(bytes(buf), sample_width=2, frame_rate=rate, channels=1).export(path, format="wav")
        paths[side] = path
    return SynthCall(paths["caller"], paths["agent"], len(legs["caller"]) / 2 / rate, segments)
