"""Issue 2: FastAGI vs classic AGI. `make bench` runs `python -m bench.agi_bench`.

SIPp calls into the same dialogue through (a) our FastAGI server, (b) a classic pyst2 AGI script
Asterisk starts per call, (c) a bare asyncio FastAGI loop (the floor). The call rate steps up,
the three variants interleaved at each rate; a variant stops at its first step with a failed call.
Prints the highest rate with 0 failed calls and the p99 AGI command round trip for each, and
writes them into bench/RESULTS.md ("FastAGI vs classic AGI").

    python -m bench.agi_bench --max-rate 300 --step-seconds 8
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.load import PATIENCE_MS, StepResult, run_step
from bench.report import BenchReport, rtt_ms, write_section
from bench.rig import VARIANTS, BenchRig

LADDER = (5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 120, 140, 160, 180, 200, 220, 240, 260, 280, 300)
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MAX_RATE_LIMIT = 300.0


@dataclass
class BenchConfig:
    rates: list[float]
    step_seconds: float = 8.0
    max_calls_per_step: int = 2400  # 8 s at 300/s: a sustained rate, not a burst
    min_calls_per_step: int = 10
    warmup_calls: int = 3
    patience_ms: int = PATIENCE_MS
    max_minutes: float = 12.0
    workdir: Path | None = None  # None: a temporary directory, removed unless keep
    keep: bool = False
    command: str = "python -m bench.agi_bench"
    notes: list[str] = field(default_factory=lambda: [
        "(a) runs with max_calls=4000 so that its limit is not what is measured; with the default "
        "IVR_AGI_MAX_CALLS=200 one server process refuses calls beyond 200 at once",
    ])

    def calls_at(self, rate: float) -> int:
        return max(self.min_calls_per_step, min(self.max_calls_per_step, round(rate * self.step_seconds)))


def ladder(min_rate: float, max_rate: float) -> list[float]:
    rates = [float(r) for r in LADDER if min_rate <= r <= max_rate]
    if not rates or rates[-1] < max_rate:
        rates.append(max_rate)
    return rates


def run_benchmark(config: BenchConfig, progress: Callable[[str], None] = print) -> BenchReport:
    if not config.rates or min(config.rates) <= 0 or max(config.rates) > MAX_RATE_LIMIT:
        raise ValueError(f"rates must be in (0, {MAX_RATE_LIMIT:g}] calls/s, got {config.rates}")
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="agi-bench-"))
    deadline = time.monotonic() + 60 * config.max_minutes
    steps: list[StepResult] = []
    notes = list(config.notes)
    failed = False
    try:
        with BenchRig(workdir) as rig:
            version = rig.asterisk_version()
            progress(f"{version} up; work dir {workdir}")
            if config.warmup_calls:
                for v in VARIANTS:  # first calls pay for imports and caches; not counted
                    w = run_step(rig, v, 2.0, config.warmup_calls, workdir / "warmup", config.patience_ms)
                    if w.failures:
                        notes.append(f"warm-up: {w.failures}/{w.calls} calls of {v} failed ({w.outcomes})")
            active = list(VARIANTS)
            for rate in sorted(config.rates):
                for v in list(active):
                    if time.monotonic() > deadline:
                        notes.append(f"stopped at the {config.max_minutes:g}-minute limit before {v} at {rate:g}/s")
                        active.clear()
                        break
                    step = run_step(rig, v, rate, config.calls_at(rate), workdir / "steps", config.patience_ms)
                    steps.append(step)
                    progress(_step_line(step))
                    if step.failures:
                        active.remove(v)
                if not active:
                    break
    except BaseException:
        failed = True
        raise
    finally:
        if config.workdir is None and not config.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        elif failed:
            progress(f"kept {workdir} (logs: *.log, state/asterisk/log, steps/*/errors.log)")
    return BenchReport(
        steps=steps, max_rate=max(config.rates), command=config.command,
        date=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        machine=f"{platform.machine()}, {os.cpu_count()} cores (shared with other work), "
                f"Python {sys.version.split()[0]}",
        asterisk=version, notes=notes, patience_s=config.patience_ms / 1000,
    )


def _step_line(s: StepResult) -> str:
    outcomes = ", ".join(f"{k or '(none)'}={n}" for k, n in sorted(s.outcomes.items()))
    return (f"{s.variant:8} {s.rate:6g}/s  calls {s.calls:4}  sipp ok {s.sipp_ok:4} failed {s.sipp_failed:3}  "
            f"dialogues [{outcomes}]  p50/p99 RTT {rtt_ms(s, 50):.2f}/{rtt_ms(s, 99):.2f} ms  "
            f"{s.seconds:.1f}s {s.note}").rstrip()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.agi_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-rate", type=float, default=300.0, help="highest call rate tried (calls/s)")
    p.add_argument("--min-rate", type=float, default=5.0, help="first call rate (calls/s)")
    p.add_argument("--rates", help="explicit comma-separated rates instead of the built-in ladder")
    p.add_argument("--step-seconds", type=float, default=8.0, help="seconds of calls per step")
    p.add_argument("--max-calls-per-step", type=int, default=2400)
    p.add_argument("--patience", type=float, default=PATIENCE_MS / 1000,
                   help="seconds the caller keeps pressing 1 after the answer; a later menu fails the call")
    p.add_argument("--max-minutes", type=float, default=12.0, help="no new step starts after this")
    p.add_argument("--results", type=Path, default=RESULTS, help="markdown file to update")
    p.add_argument("--no-results", action="store_true", help="print only, do not update --results")
    p.add_argument("--workdir", type=Path, help="keep logs, SIPp files and Asterisk's runtime here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s: %(message)s")
    logging.getLogger("ivr.asterisk.config").setLevel(logging.ERROR)  # agents' phones: not used here
    rates = ([float(r) for r in args.rates.split(",")] if args.rates else ladder(args.min_rate, args.max_rate))
    config = BenchConfig(
        rates=rates, step_seconds=args.step_seconds, max_calls_per_step=args.max_calls_per_step,
        max_minutes=args.max_minutes, workdir=args.workdir, patience_ms=round(1000 * args.patience),
        command=("python -m bench.agi_bench " + shlex.join(list(argv if argv is not None else sys.argv[1:]))).strip(),
    )
    report = run_benchmark(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    text = report.markdown()
    print(text)
    if not args.no_results:
        write_section(args.results, text)
        print(f"written to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
