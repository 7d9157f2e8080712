"""Hot reload: the flows being served, swapped atomically when a file changes and checks clean.

- `get(name)` returns the current good Flow. A Flow is immutable, so a call in progress keeps
  the version it started with while new calls get the new one.
- An invalid file never replaces a good version: the old one keeps serving and the errors are
  kept (`last_errors`), logged and passed to `on_reload`. A brand-new invalid file is not served.
- A deleted file keeps serving its last good version (an admin's slip must not drop calls
  into the fallback), and that is reported the same way.
- The watcher checks a changed file off the event loop, as the flow editor does: a file over
  MAX_FLOW_BYTES is refused unread, and the check runs in a child process killed at its time limit
  (CHECK_TIMEOUT_S, ivr.bounded), awaited from a worker thread. A huge or pathological file saved
  straight into the flows directory is refused like an invalid one, while live calls run on. The
  swap and the callback stay on the event loop.
- `reload` and `reload_all` (start-up, scripts) check inline: no call is live yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import awatch

from ivr.bounded import Aborted, run_bounded
from ivr.callflow.issues import FlowIssue, errors_only
from ivr.callflow.loader import CHECK_TIMEOUT_S, MAX_FLOW_BYTES, check_flow_file, flow_files, is_flow_file
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
Checked = tuple[Flow | None, list[FlowIssue]]


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
        check_timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        """Defaults: the built-in node types; schedule names from <flows_dir>/schedules.yaml.
        `schedule_names` is asked at every reload, so it sees schedules edited since.
        `check_timeout`: seconds the watcher lets one file's check run before refusing it."""
        self.flows_dir = flows_dir
        self.node_types = node_types if node_types is not None else build_node_registry()
        self._schedule_names = schedule_names or SchedulesFileNames(flows_dir / "schedules.yaml")
        self._on_reload = on_reload
        self.check_timeout = check_timeout
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
        """Check `name`'s file inline and swap it in if it is clean (start-up, scripts). The size cap
        holds here too, so a file the running service refused is not served after a restart."""
        path = self.path_for(name)
        if not path.exists():
            return self._report(self._deleted(name, path))
        refused = _oversize(path)
        flow, issues = (None, refused) if refused else check_flow_file(path, self.node_types,
                                                                       self._schedule_names())
        return self._report(self._swap(name, path, flow, issues))

    async def reload_bounded(self, name: str) -> ReloadResult:
        """`reload` for a running service: size-capped, checked in a killable child process awaited
        from a thread, so the event loop (every live call) runs on while the file is checked."""
        path = self.path_for(name)
        if not path.exists():
            return self._report(self._deleted(name, path))
        flow, issues = await asyncio.to_thread(self._check_bounded, name, path)
        return self._report(self._swap(name, path, flow, issues))

    def _check_bounded(self, name: str, path: Path) -> Checked:
        """In a worker thread: the file refused unread when too large, else its check in a child
        process; an overrun or a dead child is refused as the file's one error."""
        refused = _oversize(path)
        if refused:
            return None, refused
        try:
            return run_bounded(check_flow_file, path, self.node_types, self._schedule_names(),
                               timeout=self.check_timeout, what=f"checking {name}.yaml")
        except Aborted as exc:  # Overrun: killed at the limit; else its process died
            log.warning("flow %s: %s (process %s)", name, exc, exc.pid)
            return None, [FlowIssue(str(path), None, None, None,
                                    f"{exc}; refused (is the file very large or deeply nested?)")]

    def _report(self, result: ReloadResult) -> ReloadResult:
        if self._on_reload is not None:
            try:
                self._on_reload(result)
            except Exception:  # a broken reporter must not stop flows from loading
                log.exception("flow %s: reload callback failed", result.name)
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
                    await self.reload_bounded(path.stem)


def _oversize(path: Path) -> list[FlowIssue]:
    """The file's one error when it cannot be sized or is over MAX_FLOW_BYTES (then it is not read)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return [FlowIssue(str(path), None, None, None, f"cannot read: {exc.strerror or exc}")]
    if size > MAX_FLOW_BYTES:
        return [FlowIssue(str(path), None, None, None, f"refused unchecked: {size} bytes, larger "
                          f"than the {MAX_FLOW_BYTES}-byte limit of a flow file")]
    return []
