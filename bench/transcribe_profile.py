"""Where a transcription job's CPU goes, stage by stage, in one process (the split in bench/RESULTS.md).

    .venv/bin/python -m bench.transcribe_profile [--calls 4]

Stages of one job on the bench's espeak-ng calls, each timed with this process's CPU clock
(children added where a stage forks): reading the legs through pydub (the old path) and with
`wave` (the new one), a fork + exit of a worker holding the model (what RQ's work-horse costs
before any work), a KaldiRecognizer made and dropped, Vosk on whole legs with a new recognizer
per leg (the old path), the same with the kept recognizer, speech only, the transcript files,
QA analysis, and the Redis writes of a job (client side; the benchmark counts redis-server). Vosk's own split
(search, acoustic model, lattices, features) needs a native profiler:
`py-spy record --native -f raw -o out.txt -- .venv/bin/python -m bench.transcribe_profile`.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.transcribe_run import Call, make_calls


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = cpu()
    value = fn()
    return cpu() - t0, value


def fork_exit(n: int = 20) -> float:
    t0 = cpu()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    return (cpu() - t0) / n


def profile(calls: list[Call], work: Path) -> list[tuple[str, float]]:
    import redis
    import vosk

    from harness.local_redis import LocalRedis
    from ivr.qa.store import analyse_and_store
    from ivr.settings import load_settings
    from ivr.transcribe import recognize
    from ivr.transcribe.audio import decode, read_wav, to_pcm
    from ivr.transcribe.models import load_model, model_path
    from ivr.transcribe.pipeline import set_state
    from ivr.transcribe.transcript import save_transcript

    settings = load_settings()
    load, model = timed(lambda: load_model(model_path(settings, "zh-CN")))
    legs = [p for c in calls for p in (c.caller, c.agent)]
    rows = [("model load (once per worker; not per job)", load)]
    rows.append(("read legs: pydub (old path)", timed(lambda: [to_pcm(decode(p), 8000) for p in legs])[0]))
    rows.append(("read legs: wave, no conversion (new path)", timed(lambda: [read_wav(p, 8000) for p in legs])[0]))
    rows.append(("fork + exit of the worker, per job (old path)", fork_exit() * len(calls)))
    made = timed(lambda: [vosk.KaldiRecognizer(model, 8000) for _ in legs])[0]
    rows.append(("new KaldiRecognizer per leg, made and dropped", made))

    def run(speech_only: bool, fresh: bool) -> list[Any]:
        out = []
        for c in calls:
            if fresh:
                recognize.pool.clear()
            out.append(recognize.transcribe_files(model, c.caller, c.agent, rate=8000, speech_only=speech_only))
        return out

    recognize.pool.clear()
    rows.append(("Vosk, whole legs, new recognizer per leg (old path)", timed(lambda: run(False, True))[0]))
    rows.append(("Vosk, whole legs, kept recognizer, cold (a fresh worker)", timed(lambda: run(False, False))[0]))
    cost, transcripts = timed(lambda: run(False, False))
    rows.append(("Vosk, whole legs, kept recognizer, warm (new default)", cost))
    rows.append(("Vosk, speech only, kept recognizer, warm", timed(lambda: run(True, False))[0]))
    def write_files() -> None:
        for i, t in enumerate(transcripts):
            save_transcript(t, work / f"t{i}.json", work / f"t{i}.txt")

    files = timed(write_files)
    rows.append(("transcript files (JSON + text, fsync)", files[0]))
    srv = LocalRedis(work / "redis")
    srv.start()
    try:
        conn = redis.Redis.from_url(srv.url)
        qa = timed(lambda: [analyse_and_store(conn, settings, f"c{i}", t) for i, t in enumerate(transcripts)])
        rows.append(("QA analysis + its Redis writes (client side)", qa[0]))
        states = timed(
            lambda: [set_state(conn, f"c{i}", st, attempt=1) for i in range(len(calls)) for st in ("running", "done")]
        )
        rows.append(("job state writes (client side)", states[0]))
    finally:
        srv.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--calls", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="transcribe-profile-") as tmp:
        work = Path(tmp)
        calls = make_calls(work / "rec", args.calls, prefix="prof")
        audio = sum(c.seconds for c in calls)
        started = time.perf_counter()
        rows = profile(calls, work)
    wall = time.perf_counter() - started
    print(f"{args.calls} calls, {audio:.1f} s of calls ({2 * audio:.1f} s of legs); {wall:.0f} s wall")
    print("| stage | CPU s | per call-second |\n| --- | ---: | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / audio:.4f} |")


if __name__ == "__main__":
    main()
