"""Editing flow files safely: check a candidate text with the same checks as `ivr flows check`,
save it atomically (the FlowStore's watcher reloads it), keep every version, restore old ones.

A text with any error is never written to the flows directory. The candidate is checked in a
scratch directory under <state_dir> whose entries link back to the flows directory, so relative
audio paths resolve exactly as they will once saved, and the watcher never sees the scratch file.

Only flows are edited here: queues.yaml and schedules.yaml (and any file without `nodes:`) are
refused with 403, since a valid flow saved under their name would replace that configuration.
Checks run in child processes with a time limit (CHECK_TIMEOUT_S, ivr.bounded): a pathological text
cannot stall the dashboard's event loop, and one that takes too long is killed and refused (422)
while the server serves on. At most CHECK_PROCESSES run at once.
"""

from __future__ import annotations

import asyncio
import calendar
import difflib
import hashlib
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivr.bounded import Aborted, Overrun, run_bounded
from ivr.callflow.issues import FlowIssue, errors_only
from ivr.callflow.loader import (
    CHECK_TIMEOUT_S,
    DATA_FILES,
    MAX_FLOW_BYTES,
    check_flow_file,
    flow_files,
    is_flow_file,
)
from ivr.callflow.model import Flow
from ivr.callflow.nodes import NodeTypes, build_node_registry
from ivr.callflow.store import SchedulesFileNames
from ivr.files import atomic_write

log = logging.getLogger(__name__)
FLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
CHECK_PROCESSES = 2  # checks at once (each a process); more wait their turn


class FlowFileError(Exception):
    """Unknown flow, bad name or version; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def text_version(text: str) -> str:
    """Same hash the loader gives a flow (sha256 of the file's bytes, 12 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class CheckResult:
    issues: list[FlowIssue]
    flow: Flow | None = None  # the checked flow when it has no error (for drawing it)

    @property
    def errors(self) -> list[FlowIssue]:
        return errors_only(self.issues)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class HistoryEntry:
    id: str  # file stem: <UTC yyyymmddThhmmss>-<version>
    at: float
    version: str
    path: Path


class FlowFiles:
    def __init__(self, flows_dir: Path, state_dir: Path, node_types: NodeTypes | None = None, *,
                 check_timeout: float = CHECK_TIMEOUT_S) -> None:
        self.flows_dir = flows_dir
        self.history_dir = state_dir / "flow-history"
        self.scratch_dir = state_dir / "flow-check"
        self.node_types = node_types if node_types is not None else build_node_registry()
        self.check_timeout = check_timeout
        self._schedules = SchedulesFileNames(flows_dir / "schedules.yaml")
        self._slots = asyncio.Semaphore(CHECK_PROCESSES)

    def names(self) -> list[str]:
        return [p.stem for p in flow_files(self.flows_dir)]

    def path(self, name: str) -> Path:
        if not FLOW_NAME.match(name):
            raise FlowFileError(400, f"flow name {name[:80]!r}: letters, digits, '_' and '-' only")
        path = self.flows_dir / f"{name}.yaml"
        if path.name in DATA_FILES:
            raise FlowFileError(403, f"{path.name} is the {DATA_FILES[path.name]} configuration, not a call flow: "
                                     "the flow editor saves flows only")
        if not path.is_file():
            raise FlowFileError(404, f"no flow {name!r} in {self.flows_dir}")
        if not is_flow_file(path):
            raise FlowFileError(403, f"{path.name} is not a call flow (no top-level `nodes:`): "
                                     "the flow editor saves flows only")
        return path

    def read(self, name: str) -> str:
        return self.path(name).read_text(encoding="utf-8")

    async def _off_loop(self, name: str, check: Callable[[], CheckResult]) -> CheckResult:
        """Run a check off the event loop; FlowFileError(422) when it overran its limit (its process
        is killed: nothing of it runs on) or its process died."""
        async with self._slots:
            try:
                return await asyncio.to_thread(check)  # the thread waits for the child, bounded
            except Overrun as exc:
                log.warning("flow editor: %s (process %s killed)", exc, exc.pid)
                raise FlowFileError(422, f"checking {name}.yaml took longer than {self.check_timeout:g} s: "
                                         "refused (is the file very large or deeply nested?)") from None
            except Aborted as exc:
                log.error("flow editor: %s", exc)
                raise FlowFileError(422, f"checking {name}.yaml failed: {exc}") from None

    def _check_file(self, name: str, path: Path) -> tuple[Flow | None, list[FlowIssue]]:
        """check_flow_file in a child process, killed at the time limit (Overrun)."""
        return run_bounded(check_flow_file, path, self.node_types, self._schedules(),
                           timeout=self.check_timeout, what=f"checking {name}.yaml")

    async def check_saved_async(self, name: str) -> CheckResult:
        self.path(name)
        return await self._off_loop(name, lambda: self.check_saved(name))

    async def check_text_async(self, name: str, text: str) -> CheckResult:
        self.path(name)
        return await self._off_loop(name, lambda: self.check_text(name, text))

    def check_saved(self, name: str) -> CheckResult:
        flow, issues = self._check_file(name, self.path(name))
        return CheckResult(issues, flow)

    def check_text(self, name: str, text: str) -> CheckResult:
        """Every issue of `text` as the flow `name`, reported against the real file name."""
        real = self.path(name)
        if len(text.encode("utf-8")) > MAX_FLOW_BYTES:
            return CheckResult([FlowIssue(str(real), None, None, None, f"larger than {MAX_FLOW_BYTES} bytes")])
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch_dir) as tmp:
            scratch = Path(tmp)
            for entry in self.flows_dir.iterdir():
                if entry.name != real.name:
                    (scratch / entry.name).symlink_to(entry.resolve())
            candidate = scratch / real.name
            candidate.write_text(text, encoding="utf-8")
            flow, issues = self._check_file(name, candidate)
        fixed = [FlowIssue(str(real) if i.file == str(candidate) else i.file, i.node, i.field, i.line,
                           i.message.replace(str(scratch), str(self.flows_dir)), i.severity) for i in issues]
        return CheckResult(fixed, flow)

    def diff(self, name: str, text: str) -> list[str]:
        old = self.read(name).splitlines(keepends=False)
        new = text.splitlines(keepends=False)
        return list(difflib.unified_diff(old, new, f"{name}.yaml (saved)", f"{name}.yaml (edited)", lineterm=""))

    async def save(self, name: str, text: str, base_version: str) -> tuple[str, CheckResult]:
        """Writes `text` if it has no error and the file is still at `base_version`.

        Returns (new version, check result); on errors nothing is written and the version is "".
        FlowFileError(409) when someone saved the file since the editor loaded it, (422) when the
        check overran its time limit. The write itself happens here, never in the check's process."""
        result = await self.check_text_async(name, text)
        if not result.ok:
            return "", result
        path = self.path(name)
        current = path.read_text(encoding="utf-8")
        if text_version(current) != base_version:
            raise FlowFileError(409, f"{name}.yaml changed since you opened it (now version "
                                     f"{text_version(current)}, you edited {base_version}); reload and redo")
        self._keep(name, current)
        atomic_write(path, text)  # the flow store's watcher sees the old file or the whole new one
        self._keep(name, text)
        return text_version(text), result

    def _keep(self, name: str, text: str) -> None:
        """Stores `text` in the history unless that version is already there."""
        version = text_version(text)
        folder = self.history_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.glob(f"*-{version}.yaml")):
            return
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        (folder / f"{stamp}-{version}.yaml").write_text(text, encoding="utf-8")

    def history(self, name: str) -> list[HistoryEntry]:
        """Kept versions, newest first."""
        self.path(name)
        folder = self.history_dir / name
        entries = []
        for p in folder.glob("*-*.yaml") if folder.is_dir() else []:
            stamp, _, version = p.stem.partition("-")
            try:
                at = float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S")))
            except ValueError:
                continue
            entries.append(HistoryEntry(id=p.stem, at=at, version=version, path=p))
        return sorted(entries, key=lambda e: e.id, reverse=True)

    def old_version(self, name: str, entry_id: str) -> str:
        for e in self.history(name):
            if e.id == entry_id:
                return e.path.read_text(encoding="utf-8")
        raise FlowFileError(404, f"flow {name!r} has no kept version {entry_id[:80]!r}")
