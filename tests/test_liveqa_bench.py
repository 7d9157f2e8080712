"""The live QA benchmark's verdicts and its RESULTS.md section (the run itself: bench/liveqa_bench.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.liveqa_levels import MARKER, LevelResult, write_results

pytestmark = pytest.mark.timeout(10)


def test_a_level_is_held_only_with_every_alert_in_time_and_no_lag_stop() -> None:
    assert LevelResult(calls=1, expected=2, latencies=[0.7, 1.9]).held
    assert not LevelResult(calls=1, expected=2, latencies=[0.7]).held  # an alert missing
    assert not LevelResult(calls=1, expected=2, latencies=[0.7, 2.1]).held  # one over 2 s
    assert not LevelResult(calls=1, expected=2, latencies=[0.7, 0.8], lagged=1).held
    r = LevelResult(calls=2, expected=4, latencies=[0.5, 0.9, 0.7, 1.1], cpu_s=24.0, leg_s=80.0)
    assert (r.pct(0.5), r.pct(0.99), r.cpu_per_stream) == (0.9, 1.1, 0.3)


def test_its_section_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Results\n\n## Before\nkept\n\n{MARKER}\n\nold run\n\n## After\nalso kept\n")
    write_results([LevelResult(calls=1, expected=1, latencies=[0.8], leg_s=40, cpu_s=12),
                   LevelResult(calls=2, expected=2, latencies=[2.5, 0.9], leg_s=80, cpu_s=24)],
                  cpus=2, loops=1, path=path)
    text = path.read_text()
    assert "old run" not in text and text.count(MARKER) == 1
    assert "## Before\nkept" in text and "## After\nalso kept" in text
    assert "| 1 | 2 | 1/1 | 0.80 |" in text and "| no |" in text
    assert "Held: up to 1 calls (2 streams) on 2 CPUs" in text and "met" in text
