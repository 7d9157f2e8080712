"""The transcription bench rewrites only its own generated block of bench/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.transcribe_bench import BEGIN, END, MARKER, replace_block, write_results

pytestmark = pytest.mark.timeout(10)

OTHERS = "# Benchmark results\n\n## Dashboard (bench/dashboard_bench.py)\n\nkeep me\n"


def test_the_block_is_replaced_and_the_hand_notes_and_other_sections_stay() -> None:
    old = f"{OTHERS}\n{MARKER}\n\n{BEGIN}\nold figures\n{END}\n\nnotes by hand\n\n## Records\n\nkeep too\n"
    new = replace_block(old, f"{BEGIN}\nnew figures\n{END}")
    assert "old figures" not in new and "new figures" in new
    assert new.replace("new figures", "old figures") == old


def test_a_file_without_the_block_gets_the_section_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(OTHERS, encoding="utf-8")
    write_results(path, "Run 1\n")
    first = path.read_text(encoding="utf-8")
    assert first.startswith(OTHERS) and first.endswith(f"{MARKER}\n\n{BEGIN}\nRun 1\n{END}\n")
    write_results(path, "Run 2\n")
    assert path.read_text(encoding="utf-8") == first.replace("Run 1", "Run 2")


def test_a_damaged_block_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="must both be there"):
        replace_block(f"{MARKER}\n{BEGIN}\nno end line\n", "x")
