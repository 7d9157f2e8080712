"""What the review page says about a call besides its audio: the path through the flow, the queue
wait, the rings to answer, who hung up, and whether the transcript is in the call's language.

Pure functions of a call record (already masked for the viewer's role) and its transcript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.transcribe.provenance import LanguageCheck, check_language, fix_instructions
from ivr.transcribe.transcript import Transcript

TRANSCRIPT_FLAGS_TRUST = "mismatched_language"


@dataclass
class Step:
    node: str
    type: str
    keys: list[str] = field(default_factory=list)


def call_path(events: list[Any]) -> list[Step]:
    """Nodes in the order visited, each with the keys pressed while the call was there."""
    steps: list[Step] = []
    for ev in events:
        if not isinstance(ev, dict):
            continue
        kind = ev.get("kind")
        if kind == "node":
            steps.append(Step(node=str(ev.get("node") or "?"), type=str(ev.get("type") or "")))
        elif kind in ("dtmf", "callback_confirm") and steps:
            digits = ev.get("digits") if kind == "dtmf" else ev.get("key")
            if digits:
                steps[-1].keys.append(str(digits))
    return steps


@dataclass(frozen=True)
class Answer:
    queued: bool
    wait_s: float | None = None
    answered: bool = False
    rings: int | None = None
    ring_limit: int = 3
    within: bool | None = None


def answer_facts(record: dict[str, Any]) -> Answer:
    """From the record's `answer_timing` (ivr.queueing.timing.AnswerTiming, written by the listener)."""
    timing = record.get("answer_timing")
    if not isinstance(timing, dict):
        return Answer(queued=bool(record.get("queue")))
    within = record.get("answered_within_3_rings", timing.get("within_rings"))
    wait = timing.get("wait_s")
    rings = timing.get("rings")
    return Answer(queued=True, wait_s=round(float(wait), 1) if isinstance(wait, int | float) else None,
                  answered=bool(timing.get("answered")), rings=rings if isinstance(rings, int) else None,
                  ring_limit=int(timing.get("ring_limit") or 3),
                  within=within if isinstance(within, bool) else None)


def who_hung_up(record: dict[str, Any]) -> str:
    """'caller', 'agent' or 'system': the bridge's end as recorded when the recording ended
    (`hangup_by`, ivr.recording.link), else how the flow ended (`ended_by`, written by the engine),
    else an older record's outcome caller_hangup; 'not recorded' when none says."""
    for name in ("hangup_by", "ended_by"):
        if record.get(name) in ("caller", "agent", "system"):
            return str(record[name])
    if record.get("outcome") == "caller_hangup":
        return "caller"
    return "not recorded"


@dataclass(frozen=True)
class Provenance:
    check: LanguageCheck
    fix: str  # '' unless the words cannot be trusted

    def to_dict(self) -> dict[str, Any]:
        return {**self.check.to_dict(), "fix": self.fix}


def provenance(record: dict[str, Any], transcript: Transcript | None) -> Provenance | None:
    """The transcript's model against the call's language (the record's, else the one it was made for)."""
    if transcript is None:
        return None
    call_language = record.get("language") if isinstance(record.get("language"), str) else ""
    check = check_language(transcript.model, transcript.model_language, call_language or transcript.language)
    if check.status == "match":
        return Provenance(check, "")
    rec = record.get("recording") if isinstance(record.get("recording"), dict) else {}
    audio = (rec or {}).get("caller") or (rec or {}).get("mixed")
    return Provenance(check, fix_instructions(check.call_language, audio if isinstance(audio, str) else None))


def mark_flags(flags: list[dict[str, Any]], prov: Provenance | None) -> list[dict[str, Any]]:
    """Flags read from a wrong-language transcript marked as such, also those stored before QA
    marked them itself; agent_hung_up_first comes from the record and stays as it is."""
    if prov is None or not prov.check.mismatch:
        return flags
    return [f if f.get("kind") == "agent_hung_up_first" else {**f, "trust": TRANSCRIPT_FLAGS_TRUST}
            for f in flags]
