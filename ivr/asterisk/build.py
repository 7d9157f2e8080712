"""Where the cached Asterisk build lives, and building it when it is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ivr.settings import REPO_ROOT, Settings

BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-asterisk.sh"


class AsteriskNotBuilt(RuntimeError):
    pass


def asterisk_prefix(settings: Settings) -> Path:
    """The install prefix of the cached build (IVR_ASTERISK_PREFIX overrides)."""
    if settings.asterisk_prefix:
        prefix = settings.asterisk_prefix
    else:
        out = subprocess.run(
            ["bash", str(BUILD_SCRIPT), "--print-prefix"], capture_output=True, text=True, check=False
        )
        if out.returncode != 0 or not out.stdout.strip():
            raise AsteriskNotBuilt("no cached Asterisk build: run `ivr asterisk build` (or `make demo`)")
        prefix = Path(out.stdout.strip())
    if not (prefix / "sbin" / "asterisk").is_file():
        raise AsteriskNotBuilt(f"{prefix}/sbin/asterisk is missing: run `ivr asterisk build`")
    return prefix


def build() -> Path:
    """Build (or reuse) the cached Asterisk; progress goes to stderr."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise AsteriskNotBuilt(f"Asterisk build failed (exit {out.returncode}); see the messages above")
    return Path(out.stdout.strip().splitlines()[-1])
