"""Retention: delete recordings and transcripts older than `Settings.retention_days` (>= 90).

A file is removed only when both are older than the cutoff (now - retention_days):
- its day: recordings/<yyyy>/<mm>/<dd>/ is the call's start day, and the whole day must be
  past (the next local midnight <= cutoff), so no call younger than the period is touched;
- its modification time, so a file written late into an old folder (a transcript made
  after the fact, a restored file) waits for its own turn.
Files outside a valid day folder and files that are not audio or transcripts are never removed;
they are reported as skipped. Every removal is logged at INFO.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

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


class RetentionError(ValueError):
    """A retention period below the policy minimum, or a time without a zone."""


@dataclass
class PurgeReport:
    cutoff: datetime
    removed: list[Path] = field(default_factory=list)
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


def day_of(recordings_dir: Path, path: Path) -> date | None:
    """The call day a file belongs to, from its folder; None when it is not in a day folder."""
    try:
        parts = path.relative_to(recordings_dir).parts
    except ValueError:
        return None
    if len(parts) != 4 or not all(rx.match(p) for rx, p in zip(_DAY_PARTS, parts, strict=False)):
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _day_expired(day: date, limit: datetime) -> bool:
    next_midnight = datetime(day.year, day.month, day.day, tzinfo=limit.tzinfo) + timedelta(days=1)
    return next_midnight <= limit


def _expired(recordings_dir: Path, path: Path, limit: datetime) -> bool | None:
    """True: remove; False: young, keep; None: not ours to judge (skipped)."""
    day = day_of(recordings_dir, path)
    if day is None or path.suffix.lower() not in SUFFIXES or not path.is_file() or path.is_symlink():
        return None
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=limit.tzinfo)
    return _day_expired(day, limit) and mtime <= limit


def purge(recordings_dir: Path, days: int, now: datetime, *, dry_run: bool = False) -> PurgeReport:
    """Remove expired recordings and transcripts under `recordings_dir`; see the module docstring."""
    root = Path(recordings_dir).resolve()
    report = PurgeReport(cutoff=cutoff(now, days))
    if not root.is_dir():
        return report
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        verdict = _expired(root, path, report.cutoff)
        if verdict is None:
            if path.parent != root:  # the root's README and the like are expected, not odd
                report.skipped.append(path)
            continue
        if not verdict:
            report.kept += 1
            continue
        _remove(path, report, dry_run)
    if not dry_run:
        _prune_empty_dirs(root)
    return report


def _remove(path: Path, report: PurgeReport, dry_run: bool) -> None:
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
        report.removed.append(path)
        report.bytes_freed += size
        log.info("retention: %s %s (%d bytes)", "would remove" if dry_run else "removed", path, size)
    except OSError as exc:
        report.errors[path] = exc.strerror or str(exc)
        log.error("retention: cannot remove %s: %s", path, exc)


def _prune_empty_dirs(root: Path) -> None:
    """Remove day, month and year folders left empty; any other folder stays."""
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        parts = d.relative_to(root).parts
        if 1 <= len(parts) <= 3 and all(rx.match(p) for rx, p in zip(_DAY_PARTS, parts, strict=False)):
            try:
                d.rmdir()  # only succeeds when empty
            except OSError:
                pass
