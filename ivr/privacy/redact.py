"""Redaction of customer data in transcripts shown to supervisors; raw text only for admins.

Replaced: phone numbers -> [PHONE], 18-digit ID numbers -> [ID], bank cards -> [CARD], other
long account-like numbers -> [NUMBER], e-mail addresses -> [EMAIL]. What counts as a number is
in ivr.privacy.numbers. A transcript is redacted per speaker across utterances, because a
caller reading a number pauses between chunks and the recognizer then splits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.privacy.email import find_emails
from ivr.privacy.numbers import classify, find_runs
from ivr.transcribe.transcript import Speaker, Transcript, Utterance

RAW_ROLES = frozenset({"admin"})
JOIN_GAP = 3.0  # seconds: a pause longer than this ends any number being read


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


def find_sensitive(text: str) -> list[Span]:
    """Spans to hide, in order, not overlapping."""
    spans = [Span(s, e, "EMAIL") for s, e in find_emails(text)]
    for run in find_runs(text):
        label = classify(run)
        if label is None or any(s.start < run.end and run.start < s.end for s in spans):
            continue
        start = run.start - 1 if run.start > 0 and text[run.start - 1] in "+＋" else run.start
        spans.append(Span(start, run.end, label))
    return sorted(spans, key=lambda s: s.start)


def redact_text(text: str) -> str:
    out, pos = [], 0
    for s in find_sensitive(text):
        out += [text[pos : s.start], f"[{s.label}]"]
        pos = s.end
    return "".join(out) + text[pos:]


def _redact_speaker(utts: list[Utterance]) -> dict[int, str]:
    """Redacted text per utterance (by id()), the speaker's utterances read as one text."""
    combined, offsets = "", []
    last_end: float | None = None
    for u in utts:
        if combined:
            # A long pause must stop a number; "|" is not a digit separator.
            combined += " " if last_end is not None and u.start - last_end <= JOIN_GAP else " | "
        offsets.append((len(combined), len(combined) + len(u.text)))
        combined += u.text
        last_end = u.end
    spans = find_sensitive(combined)
    result: dict[int, str] = {}
    for u, (ustart, uend) in zip(utts, offsets, strict=True):
        pieces, pos = [], ustart
        for s in spans:
            if s.end <= ustart or s.start >= uend:
                continue
            lo, hi = max(s.start, ustart), min(s.end, uend)
            pieces += [combined[pos:lo], f"[{s.label}]"]
            pos = hi
        result[id(u)] = "".join(pieces) + combined[pos:uend]
    return result


def redact_transcript(transcript: Transcript) -> Transcript:
    """A copy with sensitive text replaced and word-level detail dropped (words carry the digits)."""
    speakers: list[Speaker] = ["agent", "caller", "unknown"]
    texts: dict[int, str] = {}
    for sp in speakers:
        texts |= _redact_speaker(transcript.by_speaker(sp))
    utterances = [u.model_copy(update={"text": texts[id(u)], "words": []}) for u in transcript.utterances]
    return transcript.model_copy(update={"utterances": utterances})


def view_transcript(transcript: Transcript, role: str) -> Transcript:
    """What a user of `role` may see: raw for admins, redacted for everyone else (fail closed)."""
    return transcript if role in RAW_ROLES else redact_transcript(transcript)


def view_text(text: str, role: str) -> str:
    return text if role in RAW_ROLES else redact_text(text)
