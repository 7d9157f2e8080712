"""A private Asterisk instance: our own config dir and ports, run as a child process in the
foreground (`asterisk -f`), never as a system daemon. `core stop now` stops it cleanly."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from ivr.asterisk.build import asterisk_prefix
from ivr.asterisk.config import RuntimeOptions, render
from ivr.settings import Settings

log = logging.getLogger(__name__)


class AsteriskError(RuntimeError):
    pass


class AsteriskInstance:
    def __init__(self, settings: Settings, runtime: Path, options: RuntimeOptions | None = None) -> None:
        self.settings = settings
        self.runtime = runtime.resolve()
        self.options = options or RuntimeOptions()
        self.prefix = asterisk_prefix(settings)
        self.conf = self.runtime / "etc" / "asterisk.conf"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def binary(self) -> str:
        return str(self.prefix / "sbin" / "asterisk")

    @property
    def env(self) -> dict[str, str]:
        # The cache dir may move (CI caches, renames): find our libasterisk*.so without rpath.
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(self.prefix / "lib"), env.get("LD_LIBRARY_PATH")]))
        return env

    @property
    def pidfile(self) -> Path:
        return self.runtime / "run" / "asterisk.pid"

    @property
    def log_file(self) -> Path:
        return self.runtime / "log" / "messages.log"

    def render(self) -> None:
        render(self.settings, self.runtime, self.prefix, self.options)

    def start(self, timeout: float = 60.0, detach: bool = False) -> None:
        """Render the config and start Asterisk; returns once it is fully booted."""
        if self.is_running():
            raise AsteriskError(f"Asterisk already running for {self.runtime} (pid {self.pid()})")
        self.render()
        console = open(self.runtime / "log" / "console.log", "ab")
        self._proc = subprocess.Popen(
            [self.binary, "-C", str(self.conf), "-f", "-n", "-g"],
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=detach, env=self.env,
        )
        console.close()
        self._wait_booted(timeout)
        log.info("Asterisk started (pid %s, SIP %s, AMI %s)", self._proc.pid, self.settings.sip_port,
                 self.settings.ami_port)

    def _wait_booted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise AsteriskError(f"Asterisk exited with {self._proc.returncode}; see {self.log_file} "
                                    f"and {self.runtime / 'log' / 'console.log'}")
            try:
                out = self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
            except AsteriskError:
                time.sleep(0.2)
                continue
            if "fully booted" in out.lower():
                return
            time.sleep(0.2)
        raise AsteriskError(f"Asterisk did not finish booting within {timeout}s; see {self.log_file}")

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run a CLI command through the instance's control socket."""
        try:
            out = subprocess.run(
                [self.binary, "-C", str(self.conf), "-rx", command],
                capture_output=True, text=True, timeout=timeout, check=False, env=self.env,
            )
        except subprocess.TimeoutExpired as exc:
            raise AsteriskError(f"`{command}` timed out after {timeout}s") from exc
        if out.returncode != 0 or "Unable to connect to remote asterisk" in out.stdout + out.stderr:
            raise AsteriskError(f"`{command}` failed: {(out.stdout + out.stderr).strip()[:300]}")
        return out.stdout

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return self.conf.is_file()

    def status(self) -> str:
        if not self.is_running():
            return "stopped"
        try:
            return self.cli("core show uptime").strip() or "running"
        except AsteriskError as exc:
            return f"running (pid {self.pid()}), CLI not answering: {exc}"

    def stop(self, timeout: float = 15.0) -> None:
        pid = self.pid() if self._proc is None else self._proc.pid
        if pid is None or not self.is_running():
            return
        try:
            self.cli("core stop now", timeout=timeout)
        except AsteriskError as exc:
            log.warning("clean stop failed (%s); sending SIGTERM", exc)
            os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            log.warning("Asterisk pid %s still alive after %ss; SIGKILL", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 5)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                if self._proc.poll() is not None:
                    return True
            else:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return True
            time.sleep(0.1)
        return False
