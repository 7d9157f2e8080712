"""The transcription benchmark's calls and its run of our path (redis-server + `ivr transcribe worker`s)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.transcribe_compare import TimedWord

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 3, 2, 10, tzinfo=timezone(timedelta(hours=8)))

ZH = [
    "您好，这里是客服中心，请问有什么可以帮您",
    "我的宽带从昨天开始就连不上了",
    "请您稍等，我帮您查一下线路",
    "好的，谢谢，大概什么时候能修好",
    "预计今天下午五点之前恢复正常",
    "好的，再见",
]
EN = [
    "Hello, thank you for calling, how may I help you",
    "My internet has been down since yesterday",
    "Let me check the line for you, one moment please",
    "Thank you, when will it be fixed",
    "It should be working again by five this afternoon",
    "Great, goodbye",
]
# The warm-up calls say other things, so the measured calls find nothing of theirs pre-expanded.
ZH2 = ["您好，请问您要办理什么业务", "我想查询一下这个月的账单", "好的，请告诉我您的手机号码", "谢谢您的耐心等待"]
EN2 = [
    "Good morning, how can I help",
    "I would like to check my bill",
    "Sure, may I have your number",
    "Thanks for waiting",
]


@dataclass(frozen=True)
class Call:
    call_id: str
    caller: Path
    agent: Path
    seconds: float


def make_calls(root: Path, n: int, *, prefix: str, second_set: bool = False) -> list[Call]:
    from harness.speech import Turn, synth_call
    from ivr.recording.paths import recording_paths

    calls = []
    for i in range(n):
        zh, en = (ZH2, EN2) if second_set else (ZH, EN)
        lines, voice = (zh, "cmn") if i % 2 == 0 else (en, "en-us")
        turns = [
            Turn("agent" if k % 2 == 0 else "caller", text, voice, pause_after=0.5) for k, text in enumerate(lines)
        ]
        call_id = f"{prefix}{i}"
        s = synth_call(recording_paths(root, call_id, START).dir, call_id, turns)
        calls.append(Call(call_id, s.caller, s.agent, s.seconds))
    return calls


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """The process and all its live descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def tree_cpu(pids: list[int]) -> float:
    """utime + stime of these processes, their live descendants and their reaped children."""
    ticks = 0
    for root in pids:
        for p in tree(root):
            try:
                ticks += sum(int(x) for x in _stat(p)[11:15])
            except OSError:
                continue
    return ticks / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> str:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    rss, hwm = (int(status[k].split()[0]) // 1024 for k in ("VmRSS", "VmHWM"))
    return f"{rss} MiB (peak {hwm})"


def _wait_done(conn: Any, call_ids: list[str]) -> None:
    from ivr import keys

    pending = set(call_ids)
    deadline = time.monotonic() + 1800
    while pending:
        for call_id in list(pending):
            raw = conn.hget(keys.call(call_id), keys.CALL_TRANSCRIPTION)
            state = json.loads(raw)["state"] if raw else ""
            if state == "failed":
                raise RuntimeError(f"{call_id}: transcription failed: {raw!r}")
            if state == "done":
                pending.discard(call_id)
        if time.monotonic() > deadline:
            raise RuntimeError(f"transcription did not finish: {sorted(pending)}")
        time.sleep(0.05)


def _enqueue(conn: Any, settings: Any, root: Path, calls: list[Call]) -> None:
    from ivr import keys
    from ivr.recording.paths import recording_paths
    from ivr.transcribe.jobs import enqueue_transcription

    for c in calls:
        paths = recording_paths(root, c.call_id, START)
        for done in (paths.transcript_json, paths.transcript_text):
            done.unlink(missing_ok=True)  # an earlier run's transcript would only be linked
        conn.hset(keys.call(c.call_id), keys.CALL_RECORDING, json.dumps(paths.to_record()))
        enqueue_transcription(conn, c.call_id, "zh-CN", settings)


def words_of(conn: Any, calls: list[Call]) -> dict[str, list[TimedWord]]:
    from ivr import keys
    from ivr.transcribe.transcript import load_transcript

    words: dict[str, list[TimedWord]] = {}
    for c in calls:
        link = json.loads(conn.hget(keys.call(c.call_id), keys.CALL_TRANSCRIPT) or "{}")
        t = load_transcript(Path(link["json"]))
        for side in ("caller", "agent"):
            words[f"{c.call_id}/{side}"] = [(w.word, w.start, w.end) for u in t.by_speaker(side) for w in u.words]
    return words


def run_workers(work: Path, warm: list[Call], calls: list[Call], n: int, speech_only: bool) -> dict[str, Any]:
    """Fresh redis-server and workers; the warm-up calls, then the measured ones."""
    import redis

    from harness.ports import free_port
    from ivr.settings import load_settings

    work.mkdir(parents=True, exist_ok=True)
    root = calls[0].caller.parents[3]  # <root>/<yyyy>/<mm>/<dd>/<file>
    port = free_port()
    srv = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        cwd=work,
    )
    url = f"redis://127.0.0.1:{port}/0"
    env = {
        **os.environ,
        "IVR_REDIS_URL": url,
        "IVR_RECORDINGS_DIR": str(root),
        "IVR_TRANSCRIBE_SPEECH_ONLY": "true" if speech_only else "false",
    }
    workers: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(0.5)
        conn = redis.Redis.from_url(url)
        for i in range(n):
            with (work / f"worker{i}.log").open("wb") as log:
                cmd = [sys.executable, "-m", "ivr.cli.main", "transcribe", "worker", "--name", f"bench-{i}"]
                workers.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 180
        while len(conn.smembers("rq:workers")) < n:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError(f"workers did not start; see worker*.log in {work}")
            time.sleep(0.1)
        settings = load_settings(redis_url=url)
        pids = [w.pid for w in workers] + [srv.pid]
        cpu0 = tree_cpu(pids)
        _enqueue(conn, settings, root, warm)
        _wait_done(conn, [c.call_id for c in warm])
        cpu1, redis1, started = tree_cpu(pids), tree_cpu([srv.pid]), time.perf_counter()
        _enqueue(conn, settings, root, calls)
        _wait_done(conn, [c.call_id for c in calls])
        wall, cpu2, redis2 = time.perf_counter() - started, tree_cpu(pids), tree_cpu([srv.pid])
        loads = [
            m.group(1)
            for i in range(n)
            if (m := re.search(r"loaded Vosk model .* in ([0-9.]+)s", (work / f"worker{i}.log").read_text()))
        ]
        return {
            "wall": wall,
            "cpu": cpu2 - cpu1,
            "cold_cpu": cpu1 - cpu0,
            "redis_cpu": redis2 - redis1,
            "mem": ", ".join(memory(w.pid) for w in workers),
            "load": ", ".join(f"{s} s" for s in loads),
            "words": words_of(conn, calls),
        }
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)
        srv.terminate()
        srv.wait(timeout=10)
