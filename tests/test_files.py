"""ivr.files.atomic_write: the whole new text or the old file, the mode kept, no temp file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ivr.files import atomic_write

pytestmark = pytest.mark.timeout(10)


def test_writes_creates_folders_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "flow.yaml"
    atomic_write(path, "one\n")
    assert path.read_text(encoding="utf-8") == "one\n"
    path.chmod(0o640)
    atomic_write(path, "два\n")
    assert path.read_text(encoding="utf-8") == "два\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == ["flow.yaml"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.json"
    atomic_write(path, "old")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
