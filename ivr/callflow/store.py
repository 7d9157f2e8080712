"""Hot reload: the flows being served, swapped atomically when a file changes and checks clean.

- `get(name)` returns the current good Flow. A Flow is immutable, so a call in progress keeps
  the version it started with while new calls get the new one.
- An invalid file never replaces a good version: the old one keeps serving and the errors are
  kept (`last_errors`), logged and passed to `on_reload`. A brand-new invalid file is not served.
- A deleted file keeps serving its last good version (an admin's slip must not drop calls
  into the fallback), and that is reported the same way.
- Reloading parses on the event loop: flow files are small (milliseconds), and doing it inline
  keeps the swap and the callback on one thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import awatch

from ivr.callflow.issues import FlowIssue, errors_only
from ivr.callflow.loader import check_flow_file, flow_files, is_flow_file
from ivr.callflow.model import Flow
from ivr.callflow.nodes import NodeTypes, build_node_registry
from ivr.schedule import ScheduleError, load_schedules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    name: str
    file: Path
    ok: bool  # the file checked clean and now serves
    serving: str | None  # version served after this reload (None: the flow is not served)
    issues: list[FlowIssue] = field(default_factory=list)
    deleted: bool = False

    @property
    def errors(self) -> list[FlowIssue]:
        return errors_only(self.issues)


ReloadCallback = Callable[[ReloadResult], None]
ScheduleNames = Callable[[], Collection[str]]


class SchedulesFileNames:
    """Schedule names read from schedules.yaml at each call; a broken file keeps the last good names
    (its own errors are reported by whoever loads schedules, not blamed on every flow)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: list[str] = []

    def __call__(self) -> list[str]:
        if not self.path.exists():
            return []
        try:
            self._last = sorted(load_schedules(self.path))
        except ScheduleError as exc:
            log.error("%s; checking flows against the last good schedule names", exc)
        return self._last


class FlowStore:
    def __init__(
        self,
        flows_dir: Path,
        node_types: NodeTypes | None = None,
        schedule_names: ScheduleNames | None = None,
        *,
        on_reload: ReloadCallback | None = None,
    ) -> None:
        """Defaults: the built-in node types; schedule names from <flows_dir>/schedules.yaml.
        `schedule_names` is asked at every reload, so it sees schedules edited since."""
        self.flows_dir = flows_dir
        self.node_types = node_types if node_types is not None else build_node_registry()
        self._schedule_names = schedule_names or SchedulesFileNames(flows_dir / "schedules.yaml")
        self._on_reload = on_reload
        self._flows: dict[str, Flow] = {}
        self._errors: dict[str, list[FlowIssue]] = {}

    def get(self, name: str) -> Flow | None:
        return self._flows.get(name)

    def names(self) -> list[str]:
        return sorted(self._flows)

    def flows(self) -> list[Flow]:
        """The current good version of every served flow."""
        return [self._flows[name] for name in sorted(self._flows)]

    def last_errors(self, name: str) -> list[FlowIssue]:
        """Errors of the last failed reload of `name`; [] once a reload succeeds."""
        return list(self._errors.get(name, []))

    def path_for(self, name: str) -> Path:
        return self.flows_dir / f"{name}.yaml"

    def reload_all(self) -> list[ReloadResult]:
        names = {p.stem for p in flow_files(self.flows_dir)} | set(self._flows) | set(self._errors)
        return [self.reload(name) for name in sorted(names)]

    def reload(self, name: str) -> ReloadResult:
        path = self.path_for(name)
        if not path.exists():
            result = self._deleted(name, path)
        else:
            flow, issues = check_flow_file(path, self.node_types, self._schedule_names())
            result = self._swap(name, path, flow, issues)
        if self._on_reload is not None:
            try:
                self._on_reload(result)
            except Exception:  # a broken reporter must not stop flows from loading
                log.exception("flow %s: reload callback failed", name)
        return result

    def _deleted(self, name: str, path: Path) -> ReloadResult:
        old = self._flows.get(name)
        if old is None:
            self._errors.pop(name, None)
            return ReloadResult(name, path, ok=False, serving=None, deleted=True)
        issue = FlowIssue(str(path), None, None, None,
                          f"file deleted; still serving version {old.version} until the service restarts")
        self._errors[name] = [issue]
        log.warning("%s", issue)
        return ReloadResult(name, path, ok=False, serving=old.version, issues=[issue], deleted=True)

    def _swap(self, name: str, path: Path, flow: Flow | None, issues: list[FlowIssue]) -> ReloadResult:
        for issue in issues:
            if issue.severity == "warning":
                log.warning("%s", issue)
        if flow is not None:
            previous = self._flows.get(name)
            self._flows[name] = flow  # one assignment: new calls see either the old or the new Flow
            self._errors.pop(name, None)
            if previous is None or previous.version != flow.version:
                log.info("flow %s: serving version %s (%d nodes)", name, flow.version, len(flow.nodes))
            return ReloadResult(name, path, ok=True, serving=flow.version, issues=issues)
        errors = errors_only(issues)
        self._errors[name] = errors
        old = self._flows.get(name)
        keeps = f"still serving version {old.version}" if old else "not served"
        log.error("flow %s: %d error(s), %s:\n%s", name, len(errors), keeps,
                  "\n".join(f"  {e}" for e in errors))
        return ReloadResult(name, path, ok=False, serving=old.version if old else None, issues=issues)

    def _is_ours(self, path: Path) -> bool:
        if path.suffix != ".yaml" or path.parent.resolve() != self.flows_dir.resolve():
            return False
        return path.stem in self._flows or path.stem in self._errors or is_flow_file(path)

    async def watch(self, stop: asyncio.Event | None = None, *, debounce_ms: int = 300) -> None:
        """Reload flows whose files change until `stop` is set (or the task is cancelled)."""
        async for changes in awatch(self.flows_dir, stop_event=stop, debounce=debounce_ms, recursive=False):
            for path in sorted({Path(p) for _, p in changes}):
                if self._is_ours(path):
                    self.reload(path.stem)
