"""Every process the live demo starts, each in a session of its own, and stopping all of them.

Children get their own session (start_new_session) so a Ctrl-C in the terminal reaches only the
demo, which then stops them in reverse start order: SIGTERM to the whole process group, SIGKILL
after a timeout. Because each child leads its session, anything it forks (RQ work-horses, uvicorn,
Asterisk's AGI scripts) shares that session id, so `leftovers` finds them by scanning /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path | None

    @property
    def sid(self) -> int:
        return self.proc.pid  # it leads its own session


def session_of(pid: int) -> int | None:
    """The session id of `pid` from /proc (field 6 of stat), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[3])


def processes_in_sessions(sids: set[int]) -> list[int]:
    """PIDs of live (not zombie) processes whose session is one of `sids`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        if rest[0] != "Z" and int(rest[3]) in sids:
            found.append(int(entry.name))
    return found


class Processes:
    """Starts children in new sessions and stops them all; remembers every session it created."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.sessions: set[int] = set()

    def spawn(self, name: str, cmd: Sequence[str], *, env: Mapping[str, str] | None = None,
              log: Path | None = None, cwd: Path | None = None) -> Child:
        out = open(log, "ab") if log else subprocess.DEVNULL  # the child keeps it; ours is closed below
        try:
            proc = subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, cwd=cwd,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        child = Child(name, proc, log)
        self.children.append(child)
        self.sessions.add(child.sid)
        return child

    def adopt(self, pid: int) -> None:
        """A process started elsewhere in a new session of its own (the private Asterisk)."""
        self.sessions.add(pid)

    def reap(self, prefix: str) -> None:
        """Forget children named `prefix`... that ended by themselves (short-lived SIPp callers)."""
        self.children = [c for c in self.children if not c.name.startswith(prefix) or c.proc.poll() is None]

    def exited(self, names: tuple[str, ...]) -> list[Child]:
        """Children among `names` that are no longer running."""
        return [c for c in self.children if c.name in names and c.proc.poll() is not None]

    def stop(self, child: Child, timeout: float = 10.0) -> None:
        stop_group(child.proc.pid, timeout, child.proc)

    def stop_all(self, timeout: float = 10.0) -> None:
        for child in reversed(self.children):
            self.stop(child, timeout)
        self.children.clear()
        for pid in self.leftovers():  # grandchildren that outlived their session leader
            _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5  # SIGKILL is asynchronous: give the kernel a moment
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)

    def leftovers(self) -> list[int]:
        return processes_in_sessions(self.sessions)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_group(pgid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group `pgid`, SIGKILL what is left after `timeout` seconds."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None and not processes_in_sessions({pgid}):
            return
        if proc is None and not processes_in_sessions({pgid}):
            return
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
