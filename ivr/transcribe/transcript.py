"""The dialogue transcript of one call: who said what, when, with word timings and confidences.

Stored next to the recording as JSON (the source of truth) and as text (for people); both are
written with ivr.files.atomic_write, so a reader or a second job never sees half a file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from ivr.files import atomic_write
from ivr.transcribe.provenance import LanguageCheck, check_language, language_from_model_name

Speaker = Literal["agent", "caller", "unknown"]


class TranscriptError(ValueError):
    """A transcript file that is missing, not JSON, or not shaped like a transcript."""


class Word(BaseModel):
    word: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    conf: float = Field(1.0, ge=0, le=1)


class Utterance(BaseModel):
    speaker: Speaker
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    words: list[Word] = Field(default_factory=list)

    @property
    def confidence(self) -> float:
        return sum(w.conf for w in self.words) / len(self.words) if self.words else 1.0


class Transcript(BaseModel):
    """`language` is the call's language the transcript was made for; `model_language` the language
    of the model that made it ('' = not known). They differ when a language has no model of its own
    and the default (Korean) model stood in: see ivr.transcribe.provenance."""

    call_id: str = ""
    language: str = ""
    model: str = ""
    model_path: str = ""
    model_language: str = ""
    model_language_from: str = ""  # "model name", or the setting that declared it ("IVR_VOSK_MODELS['zh']")
    duration: float = Field(0.0, ge=0)
    sources: dict[str, str] = Field(default_factory=dict)  # speaker -> audio file
    utterances: list[Utterance] = Field(default_factory=list)

    @model_validator(mode="after")
    def _model_language(self) -> Transcript:
        # Transcripts written before the field existed (and the recogniser, which only knows the
        # name) still say what the model's name says; a name that says nothing stays unknown.
        if not self.model_language and self.model:
            guessed = language_from_model_name(self.model)
            if guessed:
                self.model_language, self.model_language_from = guessed, "model name"
        return self

    def language_check(self, call_language: str | None = None) -> LanguageCheck:
        """The model's language against the call's (default: the language it was made for)."""
        return check_language(self.model, self.model_language, call_language or self.language)

    def by_speaker(self, speaker: Speaker) -> list[Utterance]:
        return [u for u in self.utterances if u.speaker == speaker]

    def words(self) -> list[str]:
        """Every recognised word in order (what the benchmark compares)."""
        return [w.word for u in self.utterances for w in u.words]

    def to_text(self) -> str:
        lines = [f"[{_clock(u.start)}] {u.speaker}: {u.text}" for u in self.utterances]
        return "\n".join(lines) + ("\n" if lines else "")

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)


def _clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"


def merge_channels(channels: dict[Speaker, list[Utterance]]) -> list[Utterance]:
    """One dialogue in time order; at equal start the agent first (it usually opens)."""
    order = {"agent": 0, "caller": 1, "unknown": 2}
    merged = [u for utts in channels.values() for u in utts]
    return sorted(merged, key=lambda u: (u.start, order[u.speaker], u.end))


def load_transcript(path: Path) -> Transcript:
    """Read a transcript JSON file; errors name the file and the bad field."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read transcript ({exc.strerror})") from exc
    return parse_transcript(raw, str(path))


def parse_transcript(raw: str, where: str = "<transcript>") -> Transcript:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{where}: not JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        return Transcript.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise TranscriptError(f"{where}: field {loc}: {first['msg']}") from exc


_LINE = re.compile(r"^\[(\d+):(\d+(?:\.\d+)?)\]\s*(agent|caller|unknown)\s*[:：]\s*(.*)$")
SECONDS_PER_CHAR = 0.25  # text lines carry no end time; speech is estimated at ~4 characters a second


def parse_text(raw: str, where: str = "<transcript>") -> Transcript:
    """The text form (`[mm:ss.s] speaker: text` lines), e.g. written by hand for a QA check."""
    utts: list[Utterance] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if not m:
            raise TranscriptError(
                f"{where}:{n}: expected '[mm:ss.s] agent|caller: text', got {line.strip()[:60]!r}"
            )
        start = int(m.group(1)) * 60 + float(m.group(2))
        text = m.group(4)
        spoken = len(re.sub(r"\s+", "", text))
        utts.append(
            Utterance.model_validate(
                {
                    "speaker": m.group(3),
                    "start": start,
                    "end": start + SECONDS_PER_CHAR * spoken,
                    "text": text,
                },
            )
        )
    duration = max((u.end for u in utts), default=0.0)
    return Transcript(duration=duration, utterances=sorted(utts, key=lambda u: u.start))


def load_any(path: Path) -> Transcript:
    """A transcript file in either form: JSON, or text lines."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read transcript ({exc.strerror})") from exc
    if Path(path).suffix.lower() == ".json" or raw.lstrip().startswith("{"):
        return parse_transcript(raw, str(path))
    return parse_text(raw, str(path))


def save_transcript(transcript: Transcript, json_path: Path, text_path: Path) -> None:
    # Text first: the JSON is what marks a transcript as done, so it lands last.
    atomic_write(text_path, transcript.to_text())
    atomic_write(json_path, transcript.to_json())
