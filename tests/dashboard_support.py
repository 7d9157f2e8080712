"""Shared by the dashboard's API tests, browser tests and the PBX fixtures of tests/support: settings on a
temp tree, users, login, call records and recordings, a dashboard served by uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis as sync_redis
import uvicorn
from redis.asyncio import Redis

from dashboard.app import create_app
from dashboard.users import UserStore
from ivr import keys
from ivr.settings import Settings, load_settings
from tests.support.components import free_port

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
PASSWORDS = {"sup": "sup-secret-1", "boss": "boss-secret-1", "sup2": "sup2-secret-1"}
ROLES = {"sup": "supervisor", "boss": "admin", "sup2": "supervisor"}


def dashboard_settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    for d in ("state", "flows", "recordings"):
        (tmp_path / d).mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "redis_url": redis_url, "state_dir": tmp_path / "state", "flows_dir": tmp_path / "flows",
        "recordings_dir": tmp_path / "recordings", "dashboard_production": False,
        "timezone": "Asia/Shanghai", "fake_now": None,
    }
    values.update(overrides)
    return load_settings(**values)


def with_shipped_queues(settings: Settings) -> Settings:
    """`settings` with the shipped queues.yaml and schedules.yaml in its flows dir (what the wallboard shows)."""
    for name in ("queues.yaml", "schedules.yaml"):
        (settings.flows_dir / name).write_text((REPO / "ivr" / "flows" / name).read_text())
    return settings


def add_users(redis_url: str, names: tuple[str, ...] = ("sup", "boss", "sup2")) -> None:
    async def go() -> None:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            store = UserStore(r)
            for n in names:
                await store.add(n, ROLES[n], PASSWORDS[n], endpoint=f"PJSIP/{n}-phone")
        finally:
            await r.aclose()

    run_async(go())


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion from sync test code, even beside Playwright's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=30)


LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BODY_CSRF = re.compile(r'data-csrf="([^"]+)"')


def login(client: httpx.Client, name: str, password: str | None = None) -> str:
    """Logs the client in; returns the session's CSRF token (read from a page, as a browser would)."""
    page = client.get("/login")
    token = LOGIN_CSRF.search(page.text)
    assert token, page.text
    resp = client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                       "csrf_token": token.group(1), "next": "/wallboard"},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    home = client.get("/wallboard", headers={"accept": "text/html"})
    m = BODY_CSRF.search(home.text)
    assert m, home.text[:500]
    return m.group(1)


TRANSCRIPT_LINES = [
    ("agent", 0.2, 1.4, "您好，这里是客服热线，请问有什么可以帮您？"),
    ("caller", 1.6, 2.6, "我的电话是13812345678，宽带断了"),
    ("agent", 2.8, 3.9, "好的，我马上帮您查一下"),
]


def write_recording(recordings: Path, call_id: str, *, stereo_mixed: bool = True,
                    seconds: float = 4.0) -> dict[str, Any]:
    """A real recording made with sox (stereo mixed file, or the two per-speaker mono files) and a
    transcript JSON beside it, laid out like ivr/recording/paths.py; returns the call record fields."""
    sox = shutil.which("sox")
    assert sox, "sox is needed to make test recordings"
    day = recordings / "2026" / "03" / "02"
    day.mkdir(parents=True, exist_ok=True)
    rec: dict[str, Any] = {"dir": str(day)}
    if stereo_mixed:
        mixed = day / f"{call_id}.wav"
        subprocess.run([sox, "-n", "-r", "8000", "-c", "2", "-b", "16", str(mixed), "synth", str(seconds),
                        "sine", "440", "sine", "660"], check=True)
        rec["mixed"] = str(mixed)
    else:
        for side, freq in (("caller", "440"), ("agent", "660")):
            f = day / f"{call_id}-{side}.wav"
            subprocess.run([sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(f), "synth", str(seconds),
                            "sine", freq], check=True)
            rec[side] = str(f)
    transcript = {
        "call_id": call_id, "language": "zh-CN", "model": "test", "duration": seconds,
        "utterances": [{"speaker": s, "start": a, "end": b, "text": t, "words": []}
                       for s, a, b, t in TRANSCRIPT_LINES],
    }
    tpath = day / f"{call_id}.transcript.json"
    tpath.write_text(json.dumps(transcript, ensure_ascii=False), encoding="utf-8")
    return {"recording": rec, "transcript": {"json": str(tpath), "language": "zh-CN"},
            "qa": {"flags": [{"kind": "talk_over", "t": 2.0, "speaker": "caller", "detail": {}}]}}


def write_call(redis_url: str, call_id: str, start: float, **fields: Any) -> None:
    """A call record in the layout of ivr/keys.py (hash of JSON values, events list, index zset)."""
    r = sync_redis.Redis.from_url(redis_url)
    record = {"call_id": call_id, "start": start, "caller": "13812345678", "called": "4008001234", **fields}
    r.hset(keys.call(call_id), mapping={k: json.dumps(v, ensure_ascii=False) for k, v in record.items()})
    r.rpush(keys.call_events(call_id), json.dumps({"t": start, "kind": "node", "node": "welcome"}))
    r.zadd(keys.CALLS_INDEX, {call_id: start})
    r.zadd(keys.RECORDS_PENDING, {call_id: start})  # written, not yet in the records database
    r.close()


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The dashboard of `settings` served by a real uvicorn on a free port (in a thread); yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="dashboard-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start the dashboard"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
