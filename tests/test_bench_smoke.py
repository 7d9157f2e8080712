"""The FastAGI-vs-classic benchmark (bench/agi_bench.py), so its code cannot rot: the real run at
one low rate, a few calls per variant; plus the parts that need no Asterisk."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.agi_bench import BenchConfig, ladder, run_benchmark
from bench.load import StepResult
from bench.report import RTT_VERBS, BenchReport, write_section
from bench.rig import VARIANTS
from tests.support.components import missing, require


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_benchmark_runs_all_three_variants_at_a_low_rate(tmp_path: Path) -> None:
    require("sipp", "real SIP calls (Debian sip-tester)")
    from ivr.asterisk.build import AsteriskNotBuilt, asterisk_prefix
    from ivr.settings import load_settings

    try:
        asterisk_prefix(load_settings())
    except AsteriskNotBuilt as exc:
        missing(f"Asterisk build ({exc})")
    config = BenchConfig(rates=[2.0], step_seconds=2, min_calls_per_step=4, warmup_calls=0, workdir=tmp_path)
    lines: list[str] = []
    report = run_benchmark(config, progress=lines.append)

    assert [s.variant for s in report.steps] == list(VARIANTS), lines
    for step in report.steps:
        assert step.calls == 4
        assert step.failures == 0, (step, lines, sorted(tmp_path.glob("steps/*/errors.log")))
        assert step.outcomes == {"SUCCESS:1": 4}
        verbs = {verb for verb, _ in step.samples}
        assert set(RTT_VERBS) <= verbs, (step.variant, verbs)
        assert sum(1 for verb, _ in step.samples if verb == "ANSWER") == 4
    classic = next(s for s in report.steps if s.variant == "classic")
    assert classic.agi_cpu_s > 0.05  # a Python per call, reaped by Asterisk (/proc ticks are 10 ms)
    text = report.markdown()
    assert "(a) FastAGI server | 2 calls/s" in text
    assert "(b) classic pyst2 AGI | 2 calls/s" in text


def test_ladder_ends_at_the_max_rate() -> None:
    assert ladder(5, 80) == [5, 10, 15, 20, 30, 40, 50, 60, 80]
    assert ladder(5, 90)[-2:] == [80, 90]
    assert ladder(50, 100) == [50, 60, 80, 100]


def test_results_section_is_replaced_and_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Dashboard\n\nkeep me\n\n## FastAGI vs classic AGI\n\nold\n"
                    "\n## Transcription\n\nkeep me too\n")
    report = BenchReport(steps=[StepResult("fastagi", 5, 10, sipp_ok=10, dialogues_ok=10,
                                           samples=[("ANSWER", 0.001)])],
                         max_rate=5, command="python -m bench.agi_bench", date="today", machine="2 cores",
                         asterisk="Asterisk 22")
    write_section(path, report.markdown())
    text = path.read_text()
    assert "old" not in text and "keep me\n" in text and "keep me too" in text
    assert text.index("## Dashboard") < text.index("## FastAGI vs classic AGI") < text.index("## Transcription")
    assert "| (a) FastAGI server | 5 calls/s | 1.00 ms |" in text
