"""Recordings and transcripts of a call, found through its call record and never outside recordings/.

The record's "recording" field names the files (ivr/recording/paths.py). Every path is resolved
(symlinks and `..` included) and must lie under Settings.recordings_dir; anything else is refused,
whoever wrote the record. When the two per-speaker files exist, a stereo file (caller left,
agent right) is built once with sox next to them, so the player has both channels.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.transcribe.transcript import Transcript, load_transcript

SOX_TIMEOUT = 60.0


class MediaError(Exception):
    """A recording or transcript that cannot be served; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def inside(root: Path, candidate: str | Path) -> Path:
    """`candidate` resolved; MediaError 403 if it is not under `root` (path traversal, symlinks)."""
    base = root.resolve()
    path = (base / candidate).resolve() if not Path(candidate).is_absolute() else Path(candidate).resolve()
    if not path.is_relative_to(base):
        raise MediaError(403, f"refused: {candidate} is outside the recordings directory {base}")
    return path


@dataclass(frozen=True)
class CallMedia:
    call_id: str
    mixed: Path | None
    caller: Path | None
    agent: Path | None
    transcript: Path | None

    @property
    def has_audio(self) -> bool:
        return bool(self.mixed or (self.caller and self.agent))


def _existing(root: Path, value: Any) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    path = inside(root, value)
    return path if path.is_file() else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def call_media(record: dict[str, Any], recordings_dir: Path) -> CallMedia:
    """The files of a call record that exist; raises MediaError(403) for a path outside recordings/."""
    call_id = str(record.get("call_id", ""))
    rec = _mapping(record.get("recording"))
    link = _mapping(record.get("transcript"))
    transcript = _existing(recordings_dir, link.get("json"))
    if transcript is None and isinstance(rec.get("dir"), str):
        transcript = _existing(recordings_dir, str(Path(rec["dir"]) / f"{call_id}.transcript.json"))
    return CallMedia(call_id=call_id, mixed=_existing(recordings_dir, rec.get("mixed")),
                     caller=_existing(recordings_dir, rec.get("caller")),
                     agent=_existing(recordings_dir, rec.get("agent")), transcript=transcript)


async def _sox_merge(caller: Path, agent: Path, target: Path) -> None:
    sox = shutil.which("sox")
    if sox is None:
        raise MediaError(500, "sox is not installed (needed to join the caller and agent channels)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.wav")
    proc = await asyncio.create_subprocess_exec(sox, "-M", str(caller), str(agent), str(tmp),
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), SOX_TIMEOUT)
    except TimeoutError as exc:
        proc.kill()
        raise MediaError(500, f"sox took over {SOX_TIMEOUT}s joining {caller.name} and {agent.name}") from exc
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise MediaError(500, f"sox failed joining {caller} and {agent}: {err.decode(errors='replace')[-300:]}")
    tmp.replace(target)


async def playable(media: CallMedia) -> Path:
    """The file the player gets: the two speakers joined into stereo (caller left, agent right) when
    both files exist, so the supervisor can hear either side alone; else the mixed recording.

    The stereo file is written next to the recording with the sources' modification time, so the
    retention purge (by day folder and mtime) removes it together with them."""
    if media.caller is not None and media.agent is not None:
        target = media.caller.with_name(f"{media.call_id}.stereo.wav")
        newest = max(media.caller.stat().st_mtime, media.agent.stat().st_mtime)
        if not target.is_file() or target.stat().st_mtime < newest:
            await _sox_merge(media.caller, media.agent, target)
            os.utime(target, (newest, newest))
        return target
    if media.mixed is not None:
        return media.mixed
    raise MediaError(404, f"call {media.call_id}: no recording on disk (the record names none, or "
                          "retention removed it)")


def read_transcript(media: CallMedia) -> Transcript | None:
    """The transcript, or None when there is none yet; a broken file raises MediaError naming it."""
    if media.transcript is None:
        return None
    try:
        return load_transcript(media.transcript)
    except ValueError as exc:
        raise MediaError(500, str(exc)) from exc
