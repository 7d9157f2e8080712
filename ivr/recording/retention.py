"""Retention of the files below IVR_RECORDINGS_DIR: recordings and transcripts
(`Settings.retention_days`) and voicemail (`Settings.voicemail_retention_days`), each >= 90 days.

    recordings/<yyyy>/<mm>/<dd>/...            call recordings and transcripts
    recordings/voicemail/<yyyy>/<mm>/<dd>/...  voicemail, the flow's and the fallback dialplan's
    recordings/voicemail/fallback-<id>.wav     fallback voicemail of older versions (no day folder)

A dated file is removed only when both are older than its kind's cutoff (now - days):
- its day: the folder is the call's start day, and the whole day must be past (the next local
  midnight <= cutoff), so no call younger than the period is touched;
- its modification time, so a file written late into an old folder (a transcript made
  after the fact, a restored file) waits for its own turn.
An undated fallback message is judged by its modification time alone (Record() writes it during
the call). Files outside these places and files that are not audio or transcripts are never
removed; they are reported as skipped. Every removal is logged at INFO. The Redis side (audit
log, QA scores and samples) is ivr.retention_store.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

log = logging.getLogger("ivr.retention")  # one logger for every kind of data (ivr.retention_store too)

MIN_DAYS = 90
SUFFIXES = frozenset(
    {
        ".wav",
        ".gsm",
        ".sln",
        ".sln16",
        ".raw",
        ".ulaw",
        ".alaw",
        ".g722",
        ".mp3",
        ".ogg",
        ".opus",
        ".flac",
        ".json",
        ".txt",
        ".tmp",
        ".wav49",
    }
)
_DAY_PARTS = (re.compile(r"^\d{4}$"), re.compile(r"^\d{2}$"), re.compile(r"^\d{2}$"))
VOICEMAIL = "voicemail"
_LEGACY_FALLBACK = re.compile(r"^fallback-[^/]+\.wav$")
Kind = Literal["recording", "voicemail"]


class RetentionError(ValueError):
    """A retention period below the policy minimum, or a time without a zone."""


@dataclass
class PurgeReport:
    cutoff: datetime
    removed: list[Path] = field(default_factory=list)
    removed_by_kind: dict[str, int] = field(default_factory=lambda: {"recording": 0, "voicemail": 0})
    cutoffs: dict[str, datetime] = field(default_factory=dict)  # per kind
    kept: int = 0
    skipped: list[Path] = field(default_factory=list)  # unrecognised names or places
    bytes_freed: int = 0
    errors: dict[Path, str] = field(default_factory=dict)


def cutoff(now: datetime, days: int) -> datetime:
    if days < MIN_DAYS:
        raise RetentionError(
            f"retention of {days} days refused: recordings are kept at least {MIN_DAYS} days"
        )
    if now.tzinfo is None:
        raise RetentionError(f"now={now.isoformat()} has no time zone")
    return now - timedelta(days=days)


def _dated(parts: tuple[str, ...]) -> date | None:
    """The day of <yyyy>/<mm>/<dd>/<file> parts; None when they are not one."""
    if len(parts) != 4 or not all(rx.match(p) for rx, p in zip(_DAY_PARTS, parts, strict=False)):
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def day_of(recordings_dir: Path, path: Path) -> date | None:
    """The call day a file belongs to, from its folder; None when it is not in a day folder."""
    kind_day = _place(recordings_dir, path)
    return kind_day[1] if kind_day is not None else None


def _place(recordings_dir: Path, path: Path) -> tuple[Kind, date | None] | None:
    """(kind, day) of a file: day None for an undated fallback message; None when not ours."""
    try:
        parts = path.relative_to(recordings_dir).parts
    except ValueError:
        return None
    if parts and parts[0] == VOICEMAIL:
        if len(parts) == 2 and _LEGACY_FALLBACK.match(parts[1]):
            return "voicemail", None
        day = _dated(parts[1:])
        return ("voicemail", day) if day is not None else None
    day = _dated(parts)
    return ("recording", day) if day is not None else None


def _day_expired(day: date, limit: datetime) -> bool:
    next_midnight = datetime(day.year, day.month, day.day, tzinfo=limit.tzinfo) + timedelta(days=1)
    return next_midnight <= limit


def _expired(recordings_dir: Path, path: Path, limits: dict[str, datetime]) -> tuple[Kind, bool] | None:
    """(kind, True: remove / False: young, keep); None: not ours to judge (skipped)."""
    place = _place(recordings_dir, path)
    if place is None or path.suffix.lower() not in SUFFIXES or not path.is_file() or path.is_symlink():
        return None
    kind, day = place
    limit = limits[kind]
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=limit.tzinfo)
    return kind, (day is None or _day_expired(day, limit)) and mtime <= limit


def purge(recordings_dir: Path, days: int, now: datetime, *, voicemail_days: int | None = None,
          dry_run: bool = False) -> PurgeReport:
    """Remove expired recordings, transcripts and voicemail under `recordings_dir` (module docstring);
    voicemail_days None: the same period as recordings."""
    root = Path(recordings_dir).resolve()
    limits: dict[str, datetime] = {"recording": cutoff(now, days),
                                   "voicemail": cutoff(now, days if voicemail_days is None else voicemail_days)}
    report = PurgeReport(cutoff=limits["recording"], cutoffs=dict(limits))
    if not root.is_dir():
        return report
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        verdict = _expired(root, path, limits)
        if verdict is None:
            if path.parent != root:  # the root's README and the like are expected, not odd
                report.skipped.append(path)
            continue
        kind, expired = verdict
        if not expired:
            report.kept += 1
            continue
        if _remove(path, report, dry_run):
            report.removed_by_kind[kind] += 1
    if not dry_run:
        _prune_empty_dirs(root)
        _prune_empty_dirs(root / VOICEMAIL)
    return report


def _remove(path: Path, report: PurgeReport, dry_run: bool) -> bool:
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
        report.removed.append(path)
        report.bytes_freed += size
        log.info("retention: %s %s (%d bytes)", "would remove" if dry_run else "removed", path, size)
        return True
    except OSError as exc:
        report.errors[path] = exc.strerror or str(exc)
        log.error("retention: cannot remove %s: %s", path, exc)
        return False


def _prune_empty_dirs(root: Path) -> None:
    """Remove day, month and year folders left empty; any other folder stays."""
    if not root.is_dir():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        parts = d.relative_to(root).parts
        if 1 <= len(parts) <= 3 and all(rx.match(p) for rx, p in zip(_DAY_PARTS, parts, strict=False)):
            try:
                d.rmdir()  # only succeeds when empty
            except OSError:
                pass
