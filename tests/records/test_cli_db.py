"""`ivr db upgrade` / `ivr db current` against the default SQLite file in the state dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.cli.main import build_app
from ivr.records import db


@pytest.mark.timeout(60)
def test_upgrade_then_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    runner, app = CliRunner(), build_app()
    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 1 and "schema empty" in before.output
    done = runner.invoke(app, ["db", "upgrade"])
    assert done.exit_code == 0, done.output
    head = db.head_revision()
    assert f"empty -> {head}" in done.output and (tmp_path / "hotline.db").is_file()
    after = runner.invoke(app, ["db", "current"])
    assert after.exit_code == 0 and f"schema {head}, this release needs {head}" in after.output


@pytest.mark.timeout(60)
def test_unreachable_database_is_named_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", "postgresql://hotline:s3cret@127.0.0.1:1/hotline")
    done = CliRunner().invoke(build_app(), ["db", "upgrade"])
    assert done.exit_code == 1
    assert "127.0.0.1:1/hotline" in done.output and "s3cret" not in done.output
