"""Replacing a file so that a reader sees either the old one or the whole new one, never half.

Transcripts (a second job or the dashboard may read one while a worker writes it) and flow files
(the flow store's watcher reloads a flow the moment it changes) are written this way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path`: a temporary file in the same folder, fsync'd, then renamed.

    The temporary name starts with "." and ends in ".tmp", so a watcher of `*.yaml` or `*.json`
    ignores it until the rename. A crash leaves the old file or the new one, and a file that is
    replaced keeps its permission bits. Missing folders are created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
