"""A private PostgreSQL server (Debian's `postgresql` package) on a free loopback port, in its own
temporary data directory: initdb, pg_ctl start, and pg_ctl stop + removal at the end (tests, benchmarks).

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user, and its
data directory lives in a fresh directory under the system temp dir that user can reach.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.ports import free_port, wait_tcp

USER = "hotline"


def postgres_bindir() -> Path | None:
    """Debian keeps the server's tools in /usr/lib/postgresql/<major>/bin (PG_BINDIR overrides)."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class LocalPostgres:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{USER}"
        self.root: Path | None = None
        self.bindir = Path()
        self._as: list[str] = []

    @property
    def datadir(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "data"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        subprocess.run([*self._as, *argv], check=True, timeout=timeout, capture_output=True)

    def start(self) -> None:
        bindir = postgres_bindir()
        if bindir is None or not (bindir / "initdb").exists():
            raise FileNotFoundError("PostgreSQL's initdb not found: install the Debian package postgresql")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(str(bindir / "initdb"), "-D", str(self.datadir), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.start_server()
        self._run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, USER)

    def stop_server(self) -> None:
        """Stop the server but keep its data (a test of the database being down)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c full_page_writes=off"
        log = str(self.datadir.parent / "log")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", opts, "-l", log,
                  "-w", "-t", "60", "start", timeout=90)
        wait_tcp(self.port)

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped (a test stopped it)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
