"""Browser tests: a real dashboard (uvicorn, via `ivr dashboard`) and real headless Chromium.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never `playwright install`); it runs
with a fresh, empty profile per test. Missing chromium: a failure under CI=true, a skip elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.demo.screenshots import login as form_login
from tests.dashboard_support import add_users
from tests.support.components import free_port, require

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Dashboard:
    url: str
    redis_url: str
    root: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_http(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture
def dashboard(redis_url: str, tmp_path: Path) -> Iterator[Dashboard]:
    """`ivr dashboard` on a free port, with copies of the shipped flows, queues and schedules."""
    flows = tmp_path / "flows"
    flows.mkdir()
    for f in (REPO / "ivr" / "flows").glob("*.yaml"):
        shutil.copy(f, flows / f.name)
    for d in ("state", "recordings"):
        (tmp_path / d).mkdir()
    add_users(redis_url)
    port = free_port()
    env = {**os.environ, "IVR_REDIS_URL": redis_url, "IVR_FLOWS_DIR": str(flows),
           "IVR_STATE_DIR": str(tmp_path / "state"), "IVR_RECORDINGS_DIR": str(tmp_path / "recordings"),
           "IVR_DASHBOARD_HOST": "127.0.0.1", "IVR_DASHBOARD_PORT": str(port)}
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ivr.cli.main", "dashboard", "--log-level", "warning"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_http(port, proc, timeout=20):
            pytest.fail(f"dashboard did not start:\n{log.read_text(errors='replace')}")
        yield Dashboard(url=f"http://127.0.0.1:{port}", redis_url=redis_url, root=tmp_path, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium with a new empty profile."""
    exe = require("chromium", "dashboard browser tests")
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=exe, headless=True, args=CHROMIUM_ARGS, timeout=30000,
        )
        ctx.set_default_timeout(10000)
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def login(page: Any, dashboard: Dashboard, user: str, password: str) -> None:
    form_login(page, dashboard.url, user, password)
