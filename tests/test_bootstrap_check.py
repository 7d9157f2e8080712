"""scripts/check-system.sh: bootstrap checks the files and commands the project relies on, not only
package names (a fresh machine had asterisk-core-sounds-en-gsm but no sounds/en link)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ivr.settings import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "check-system.sh"


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, check=False)


def test_this_machine_has_everything_the_project_relies_on() -> None:
    done = _run()
    assert done.returncode == 0, done.stderr


def test_sounds_without_the_en_link_are_named_as_missing(tmp_path: Path) -> None:
    # What a fresh machine had: the GSM files in their own folder, no sounds/en.
    (tmp_path / "sounds" / "en_US_f_Allison").mkdir(parents=True)
    (tmp_path / "sounds" / "en_US_f_Allison" / "beep.gsm").write_bytes(b"\0")
    done = _run(ASTERISK_SHARE=str(tmp_path))
    assert done.returncode == 1
    for name in ("sounds/en/beep.gsm", "sounds/en/vm-goodbye.gsm", "moh/*.gsm", "asterisk-core-sounds-en"):
        assert name in done.stderr


def test_a_missing_command_is_named_with_its_package(tmp_path: Path) -> None:
    # Only bash and coreutils on PATH: every command is reported, with the package to install.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "ls", "dirname", "python3", "sed", "cat"):
        src = Path("/usr/bin") / tool
        if src.exists():
            (bindir / tool).symlink_to(src)
    done = _run(PATH=str(bindir))
    assert done.returncode == 1
    assert "command sipp (Debian package sip-tester)" in done.stderr
    assert "command chromium (Debian package chromium)" in done.stderr


def test_postgresql_server_tools_are_checked(tmp_path: Path) -> None:
    # Debian keeps initdb/pg_ctl off PATH; a machine without the postgresql package has no such dir.
    done = _run(PG_BINDIR=str(tmp_path / "nowhere"))
    assert done.returncode == 1
    assert "PostgreSQL's initdb" in done.stderr and "Debian package postgresql" in done.stderr
