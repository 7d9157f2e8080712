"""Screenshots of the live demo for the README: `.venv/bin/python -m harness.demo.screenshots`.

Runs `ivr demo --minutes N` (the same command as `make demo`, bounded) in a subprocess, waits until
a call has been answered, transcribed and QA-flagged, then logs in to the dashboard with the printed
logins in Debian's headless Chromium (driven by Playwright, a fresh profile each, the project's
Chromium flags) and saves the wallboard and that call's review page (as the supervisor: numbers
masked) and the flow graph of hotline.yaml (as the admin) as docs/screenshots/*.png. SIGINT then
stops the demo, as Ctrl-C would.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from ivr.settings import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
URL = re.compile(r"^dashboard:\s+(http://127\.0\.0\.1:\d+)/")
ADMIN = re.compile(r"^admin login:\s+(\S+) (\S+)")
SUPERVISOR = re.compile(r"^supervisor login:\s+(\S+) (\S+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MAX_BYTES = 300_000


class Demo:
    """`ivr demo --minutes N` in the background, its output kept line by line."""

    def __init__(self, minutes: float, work: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli.main", "demo", "--minutes", f"{minutes:g}", "--workdir", str(work)],
            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.lines.append(text.rstrip("\n"))
            print(text, end="", flush=True)

    def match(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for text in list(self.lines):
                if m := pattern.search(text):
                    return m
            time.sleep(0.3)
        raise RuntimeError(f"the demo printed no line like {pattern.pattern!r}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=120)


def analysed_call(url: str, name: str, password: str, timeout: float) -> str:
    """The id of an answered call with a transcript and QA flags (polled over the dashboard's API)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        token = CSRF.search(client.get("/login").text)
        assert token is not None
        client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for row in client.get("/api/calls", params={"limit": 100}).json():
                rec: dict[str, Any] = client.get(f"/api/calls/{row['call_id']}").json()
                if rec.get("agent") and (rec.get("qa") or {}).get("flags") and \
                        (rec.get("transcription") or {}).get("state") == "done":
                    return str(row["call_id"])
            time.sleep(3)
    raise RuntimeError(f"no transcribed and QA-flagged call within {timeout:g}s")


def shoot(page: Page, url: str, out: Path, full: bool = False) -> Path:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out), full_page=full)
    if out.stat().st_size > MAX_BYTES:  # a long page: keep the first screen only
        page.screenshot(path=str(out), full_page=False)
    print(f"saved {out} ({out.stat().st_size // 1024} KB)", flush=True)
    return out


def login(page: Page, url: str, name: str, password: str) -> None:
    """Log in through the dashboard's form (as a user would) and wait for the wallboard."""
    page.goto(f"{url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/wallboard")


def capture(url: str, supervisor: tuple[str, str], admin: tuple[str, str], call_id: str, out: Path) -> list[Path]:
    """The wallboard and the review page as a supervisor sees them (numbers masked), the flow graph
    as an admin (flows are theirs)."""
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as pw:
        for (name, password), pages in ((supervisor, [("wallboard", "/wallboard", False),
                                                      ("review", f"/calls/{call_id}", True)]),
                                        (admin, [("flow-graph", "/flows/hotline", False)])):
            with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
                ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                            args=CHROMIUM_ARGS,
                                                            viewport={"width": 1280, "height": 800})
                try:
                    page = ctx.pages[0] if ctx.pages else ctx.new_page()
                    login(page, url, name, password)
                    shots += [shoot(page, url + path, out / f"{file}.png", full) for file, path, full in pages]
                finally:
                    ctx.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--minutes", type=float, default=4.0, help="bound of the demo run")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotline-shots-") as work:
        demo = Demo(args.minutes, Path(work) / "demo")
        try:
            url = demo.match(URL, 300).group(1)
            sup, adm = demo.match(SUPERVISOR, 10), demo.match(ADMIN, 10)
            supervisor, admin = (sup.group(1), sup.group(2)), (adm.group(1), adm.group(2))
            call_id = analysed_call(url, *supervisor, timeout=args.minutes * 60 - 30)
            time.sleep(45)  # into the 10:00 peak: callers waiting, an agent paused, overflow
            capture(url, supervisor, admin, call_id, args.out)
        finally:
            code = demo.stop()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
