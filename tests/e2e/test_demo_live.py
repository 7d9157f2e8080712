"""`ivr demo --minutes N` end to end, through the code path of `make demo`: a subprocess that starts
the whole hotline and prints its URL and credentials; with those only (HTTP and SIP, as a newcomer
would) the test logs in, registers the softphone agent account, and waits until the wallboard shows
live counts, calls were answered, a recording was transcribed and QA-flagged and a queued callback
was dialled and answered. Then SIGINT: the summary is printed, the exit status is 0 and no process
the demo started is left (found independently: anything whose command line, working directory or
environment names the demo's work dir)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.sipp import register
from ivr.asterisk.build import AsteriskNotBuilt, asterisk_prefix
from ivr.settings import REPO_ROOT, load_settings
from tests.support.components import missing, require

pytestmark = [pytest.mark.e2e]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BANNER = {
    "url": re.compile(r"^dashboard:\s+(http://127\.0\.0\.1:\d+/)"),
    "supervisor": re.compile(r"^supervisor login:\s+(\S+) (\S+)"),
    "agent": re.compile(r"^agent account:\s+(\d+) password (\S+) registrar (127\.0\.0\.1:\d+)"),
    "dial": re.compile(r"^call the hotline:\s+sip:hotline@(127\.0\.0\.1:\d+)"),
}


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    work: Path
    lines: list[str]
    clients: list[httpx.Client]

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in list(self.lines):
                if m := pattern.search(text):
                    return m
            assert self.proc.poll() is None, "demo exited early:\n" + "\n".join(self.lines[-40:])
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern.pattern!r}:\n" + "\n".join(self.lines[-40:]))


def _read(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for text in proc.stdout:
        lines.append(text.rstrip("\n"))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    for tool, why in (("sipp", "callers and agents' phones"), ("redis-server", "live state"),
                      ("espeak-ng", "the agents' speech"), ("sox", "phone-band audio")):
        require(tool, why)
    try:
        asterisk_prefix(load_settings())
    except AsteriskNotBuilt as exc:
        missing(f"Asterisk build ({exc})")
    work = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    proc = subprocess.Popen([sys.executable, "-m", "ivr.cli.main", "demo", "--minutes", "6", "--workdir", str(work)],
                            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    running = Demo(proc, work, [], [])
    reader = threading.Thread(target=_read, args=(proc, running.lines), daemon=True)
    reader.start()
    try:
        yield running
    finally:
        for client in running.clients:
            client.close()
        if proc.poll() is None:  # a failed assertion: let the demo stop what it started, as Ctrl-C does
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        reader.join(timeout=5)


def login(url: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    form = client.get("/login")
    token = CSRF.search(form.text)
    assert token, form.text[:500]
    resp = client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1),
                                       "next": "/wallboard"})
    assert resp.status_code == 303, resp.text[:500]
    return client


def until(what: str, check: Callable[[], Any], timeout: float, demo: Demo) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}\n" + "\n".join(demo.lines[-30:])
        assert demo.proc.poll() is None, "demo exited early:\n" + "\n".join(demo.lines[-40:])
        time.sleep(2)


def records(client: httpx.Client) -> list[dict[str, Any]]:
    rows = client.get("/api/calls", params={"limit": 300}).json()
    out = []
    for row in rows:
        detail = client.get(f"/api/calls/{row['call_id']}")
        if detail.status_code == 200:
            out.append(detail.json())
    return out


def our_processes(work: Path) -> list[str]:
    """Processes that name the work dir in their command line, working directory or environment."""
    mark = str(work).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            cwd = os.readlink(entry / "cwd").encode()
        except OSError:
            continue
        if mark in cmdline or mark in environ or cwd.startswith(mark):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command[:120]}")
    return found


@pytest.mark.timeout(420)
def test_live_demo_runs_the_whole_hotline_and_leaves_nothing_behind(demo: Demo) -> None:
    url = demo.wait_for(BANNER["url"], timeout=240).group(1)
    name, password = demo.wait_for(BANNER["supervisor"], 5).groups()
    agent, secret, registrar = demo.wait_for(BANNER["agent"], 5).groups()
    assert demo.wait_for(BANNER["dial"], 5).group(1) == registrar

    # The softphone account really registers (digest auth against the private Asterisk).
    reg = register(registrar, agent, secret, demo.work)
    assert reg.ok, reg.stdout[-1500:] + reg.stderr[-1500:]
    assert register(registrar, agent, secret, demo.work, expires=0).ok  # SIPp is gone: do not ring it
    wrong = register(registrar, agent, secret + "x", demo.work)
    assert not wrong.ok

    client = login(url, name, password)
    demo.clients.append(client)
    assert client.get("/wallboard").status_code == 200

    def live_counts() -> bool:
        board = client.get("/api/queues").json()
        support = next(q for q in board["queues"] if q["name"] == "support")
        return bool(support["offered"] > 0 and support["answered"] > 0 and sum(support["agents"].values()) >= 3)

    until("the wallboard counts offered and answered calls", live_counts, 150, demo)

    def analysed() -> list[dict[str, Any]]:
        return [r for r in records(client) if r.get("agent") and (r.get("transcription") or {}).get("state") == "done"
                and (r.get("qa") or {}).get("flags")]

    done = until("an answered call transcribed and QA-flagged", analysed, 150, demo)
    assert all({"kind", "t"} <= set(f) for f in done[0]["qa"]["flags"]), done[0]["qa"]

    def called_back() -> list[dict[str, Any]]:
        return [r for r in records(client) if any(e.get("kind") == "callback_attempt" and e.get("outcome") == "answered"
                                                  for e in r.get("events", []))]

    until("a queued callback dialled and answered", called_back, 200, demo)
    assert demo.proc.poll() is None, "the demo ended before SIGINT"

    os.kill(demo.proc.pid, signal.SIGINT)
    assert demo.proc.wait(timeout=90) == 0, "\n".join(demo.lines[-40:])
    time.sleep(1)  # the reader drains the pipe
    text = "\n".join(demo.lines)
    assert "summary" in text and re.search(r"calls \d+, answered [1-9]\d*", text), text[-3000:]
    assert "left over: 0" in text, text[-2000:]
    assert our_processes(demo.work) == []
    ended = [t for t in demo.lines if re.match(r"^\d\d:\d\d 1\d\d\*{4}\d{4} ", t)]
    assert ended and all(len(t) < 80 for t in ended), ended[:5]
