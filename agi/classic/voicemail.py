"""`voicemail`: after [hotline-fallback]'s Record(), check the message and put the verdict on record.

    AGI(hotline-agi,voicemail,<file>,<RECORD_STATUS>)   (hangup handler [hotline-fallback-check])

The fallback voicemail is recorded by the dialplan alone (our flow server is down or failed), so
nobody else would notice a message that was never written. This script runs as the channel's
hangup handler (also when the caller hangs up to end the message), sends no AGI command (the
channel is gone), and marks the call record:

    fallback_voicemail  {"status": "kept" | "empty" | "lost", "reason", "file", "record_status",
                         "bytes", "seconds"}
    voicemail           the file, when kept (as the flow's voicemail node records it)

"lost" (no file, an unreadable file, Record() failed) is logged at ERROR; "empty" (the caller
hung up without speaking) at WARNING. Exit code 0 whatever happens: it must never make things worse.
"""

from __future__ import annotations

import logging
import os
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from agi.classic.fallback import mark_call
from agi.classic.pyst import ClassicAgi

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 2.0  # the caller is gone: no one waits for this note
Verdict = Literal["kept", "empty", "lost"]


@dataclass(frozen=True)
class VoicemailCheck:
    status: Verdict
    reason: str
    file: str
    record_status: str
    bytes: int = 0
    seconds: float = 0.0


def check(path: Path, record_status: str, recordings_dir: Path | None) -> VoicemailCheck:
    """What became of the message Record() was asked to write to `path`."""
    def verdict(status: Verdict, reason: str, size: int = 0, seconds: float = 0.0) -> VoicemailCheck:
        return VoicemailCheck(status, reason, str(path), record_status, size, seconds)

    box = recordings_dir / "voicemail" if recordings_dir is not None else None
    if box is not None and not path.resolve().is_relative_to(box.resolve()):
        return verdict("lost", f"not below {box}: the dialplan and IVR_RECORDINGS_DIR disagree")
    if not path.is_file():
        why = "Record() did not run" if not record_status else f"RECORD_STATUS={record_status}"
        return verdict("lost", f"no file ({why})")
    size = path.stat().st_size
    try:
        with wave.open(str(path), "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
    except (wave.Error, EOFError, OSError) as e:
        return verdict("lost", f"unreadable WAV ({e})", size)
    seconds = round(frames / rate, 2) if rate else 0.0
    if record_status == "ERROR":
        return verdict("lost", "Record() failed (RECORD_STATUS=ERROR); the file may be cut short", size, seconds)
    if frames == 0:
        return verdict("empty", f"no audio: the caller left no message (RECORD_STATUS={record_status or '-'})", size)
    return verdict("kept", f"{seconds} s (RECORD_STATUS={record_status or '-'})", size, seconds)


def run(agi: ClassicAgi, args: list[str]) -> int:
    if not args or not args[0]:
        log.error("voicemail check: no file argument; the fallback message cannot be checked")
        return 0
    call_id = agi.header.get("agi_uniqueid", "")
    root = os.environ.get("IVR_RECORDINGS_DIR")
    result = check(Path(args[0]), args[1] if len(args) > 1 else "", Path(root) if root else None)
    level = {"kept": logging.INFO, "empty": logging.WARNING, "lost": logging.ERROR}[result.status]
    log.log(level, "call %s: fallback voicemail %s: %s (%s)", call_id or "?", result.status, result.reason,
            result.file)
    fields: dict[str, object] = {"fallback_voicemail": asdict(result)}
    if result.status == "kept":
        fields["voicemail"] = result.file
    mark_call(call_id, fields, {"caller": agi.header.get("agi_callerid", ""),
                                "channel": agi.header.get("agi_channel", "")},
              what="fallback voicemail check", timeout_s=REDIS_TIMEOUT_S)
    return 0
