"""Verdicts of the live QA bench beside post-call transcription, and where its block goes in RESULTS.md
(the run itself: bench/liveqa_bench.py --with-transcription)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bench.liveqa_combined import Backlog, Combined, FeedResult, block, highest, place, write_combined
from bench.liveqa_levels import COMBINED_BEGIN, COMBINED_END, MARKER, LevelResult, write_results

pytestmark = pytest.mark.timeout(10)


def feed(backlogs: Sequence[float], *, start: float = 10.0, end: float = 100.0, failed: int = 0,
         calls: int = 1) -> FeedResult:
    """Arrivals every 10 s from t=0, alternating a 12 s and an 8 s call, with these backlogs before each."""
    samples = [Backlog(k=k, at=10.0 * k, audio_s=b, jobs=round(b > 0), waiting=0, queued_s=12.0 if k % 2 == 0 else 8.0)
               for k, b in enumerate(backlogs)]
    return FeedResult(calls=calls, start=start, end=end, samples=samples, period=2, failed=failed, cpu_s=45.0)


def live(calls: int, held: bool = True) -> LevelResult:
    return LevelResult(calls=calls, expected=2, latencies=[0.8, 1.0 if held else 2.5], cpu_s=12, leg_s=40)


def test_kept_up_when_the_backlog_did_not_grow_between_samples_of_the_same_phase() -> None:
    # Samples at 10..90 s are in the level; the first is k=1 (an 8 s call next), the last same-phase k=9.
    steady = feed([0, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4])
    first, last = steady.edges or (None, None)
    assert first is not None and last is not None and (first.k, last.k) == (1, 9)
    assert steady.kept_up
    assert steady.produced_s == 4 * (8 + 12) and steady.transcribed_s == 80.0 and steady.span_s == 80.0
    growing = feed([0, 4, 8, 10, 14, 16, 20, 22, 26, 30, 33])
    assert not growing.kept_up
    assert growing.transcribed_s == 4 + 80 - 30 and growing.transcribed_s < growing.produced_s
    # The level's last sample (k=10) is of the other phase (a 12 s call next): it is not compared.
    assert feed([0, 12, 12, 12, 12, 12, 12, 12, 12, 12, 40], end=100).kept_up


def test_not_kept_up_with_a_failed_job_or_too_few_arrivals_in_the_level() -> None:
    assert not feed([0, 4, 4, 4, 4], failed=1).kept_up
    short = feed([0, 4, 4, 4], start=15, end=35)  # samples at 20 and 30 s only: different phases
    assert short.edges is None and not short.kept_up
    assert feed([0, 4, 4, 4, 4], end=45).cores == pytest.approx(45.0 / 35)


def test_both_hold_only_together_and_the_highest_such_level_is_the_answer() -> None:
    ok, behind = [0, 4, 4, 4, 4, 4], [0, 4, 8, 12, 16, 20]
    results = [Combined(live(1), feed(ok)), Combined(live(2), feed(ok, calls=2)),
               Combined(live(3), feed(behind, calls=3)), Combined(live(4, held=False), feed(ok, calls=4))]
    assert [r.both for r in results] == [True, True, False, False]
    assert highest(results) == 2
    assert highest([Combined(live(1, held=False), feed(ok))]) == 0
    assert "NOT kept up" in results[2].line() and "NOT held" in results[3].line()


def test_its_block_goes_into_the_live_qa_section_and_a_live_alone_run_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Results\n\n{MARKER}\n\nlive alone table\n\n## After\nalso kept\n")
    results = [Combined(live(1), feed([0, 4, 4, 4, 4, 4])), Combined(live(2), feed([0, 4, 8, 12, 16, 20]))]
    write_combined(block(results, cpus=2, workers=2, loops=2, call_s=[12.0, 8.0], speech_only=False), path)
    text = path.read_text()
    assert text.index("live alone table") < text.index(COMBINED_BEGIN) < text.index(COMBINED_END) < text.index(
        "## After")
    assert "**1 calls on 2 cores while post-call transcription keeps up**" in text
    assert "| 2 | 2/2 |" in text and "| 4.0 → 20.0 |" in text and "| **no** | **no** |" in text
    write_combined(block(results[:1], cpus=2, workers=2, loops=2, call_s=[12.0], speech_only=False), path)
    text = path.read_text()
    assert text.count(COMBINED_BEGIN) == 1 and "| 2 | 2/2 |" not in text and "live alone table" in text
    write_results([live(1)], cpus=2, loops=2, path=path)  # the live-alone table is rewritten around it
    text = path.read_text()
    assert "live alone table" not in text and "| 1 | 2 | 2/2 |" in text and text.count(COMBINED_BEGIN) == 1
    assert text.index("Held: up to") < text.index(COMBINED_BEGIN) < text.index("## After")


def test_a_file_without_the_section_gets_it_and_a_broken_block_is_refused() -> None:
    added = place("# Results\n", f"{COMBINED_BEGIN}\nx\n{COMBINED_END}")
    assert added.index(MARKER) < added.index(COMBINED_BEGIN)
    with pytest.raises(ValueError, match="must both be there"):
        place(f"{MARKER}\n{COMBINED_END}\n{COMBINED_BEGIN}\n", "new")
