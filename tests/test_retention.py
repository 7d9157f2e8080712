"""Retention of files: at least 90 days, nothing younger ever touched, boundaries and odd files, voicemail
(the flow's and the fallback dialplan's) with its own period; the CLI also purges the Redis side."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from pydantic import ValidationError
from typer.testing import CliRunner

from ivr import keys
from ivr.recording.retention import RetentionError, purge
from ivr.settings import load_settings
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(30)
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 30, 15, 0, tzinfo=TZ)


def put(
    root: Path, day: datetime | str, name: str, *, mtime: datetime | None = None, data: bytes = b"x"
) -> Path:
    sub = day if isinstance(day, str) else f"{day:%Y/%m/%d}"
    path = root / sub / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = mtime or (day if isinstance(day, datetime) else NOW - timedelta(days=400))
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def test_settings_refuse_less_than_90_days() -> None:
    with pytest.raises(ValidationError, match="retention_days=89: recordings are kept at least 90 days"):
        load_settings(retention_days=89)
    assert load_settings(retention_days=90).retention_days == 90
    with pytest.raises(RetentionError, match="retention of 30 days refused"):
        purge(Path("/nonexistent"), 30, NOW)
    with pytest.raises(RetentionError, match="no time zone"):
        purge(Path("/nonexistent"), 90, datetime(2026, 1, 1))


def test_purge_removes_only_whole_days_past_the_period(tmp_path: Path) -> None:
    cutoff = NOW - timedelta(days=90)  # 2026-04-01 15:00
    old = put(tmp_path, cutoff - timedelta(days=1), "c1-caller.wav")
    old_t = put(tmp_path, cutoff - timedelta(days=1), "c1.transcript.json")
    # The cutoff's own day: calls later that day are younger than 90 days, so the day stays whole.
    same_day_early = put(tmp_path, cutoff.replace(hour=0, minute=1), "c2-caller.wav")
    same_day_late = put(tmp_path, cutoff + timedelta(hours=1), "c3-caller.wav")
    young = put(tmp_path, NOW - timedelta(days=3), "c4-agent.wav")

    report = purge(tmp_path, 90, NOW)

    assert sorted(report.removed) == sorted([old, old_t])
    assert not old.exists() and not old_t.exists()
    for p in (same_day_early, same_day_late, young):
        assert p.exists()
    assert report.kept == 3 and report.bytes_freed == 2


def test_day_boundary_exactly(tmp_path: Path) -> None:
    # Day D is removed once D+1 00:00 is at or before the cutoff, and not one second earlier.
    day = datetime(2026, 3, 1, 9, 0, tzinfo=TZ)
    path = put(tmp_path, day, "x-caller.wav")
    boundary_now = datetime(2026, 3, 2, 0, 0, tzinfo=TZ) + timedelta(days=90)
    assert purge(tmp_path, 90, boundary_now - timedelta(seconds=1)).removed == []
    assert path.exists()
    assert purge(tmp_path, 90, boundary_now).removed == [path.resolve()]


def test_young_file_in_an_old_folder_waits(tmp_path: Path) -> None:
    old_day = NOW - timedelta(days=200)
    rec = put(tmp_path, old_day, "c9-caller.wav")
    late = put(tmp_path, old_day, "c9.transcript.json", mtime=NOW - timedelta(days=1))
    report = purge(tmp_path, 90, NOW)
    assert report.removed == [rec.resolve()]
    assert late.exists()


def test_odd_names_and_missing_transcripts(tmp_path: Path) -> None:
    old_day = NOW - timedelta(days=120)
    odd_old = [
        put(tmp_path, old_day, "weird name (1).wav"),
        put(tmp_path, old_day, "no-transcript-caller.wav"),
        put(tmp_path, old_day, "UPPER.WAV"),
        put(tmp_path, old_day, ".c5.transcript.json.abc123.tmp"),
    ]
    keep = [
        put(tmp_path, old_day, "notes.md"),  # not audio or transcript: never ours to delete
        put(tmp_path, old_day, "no-extension"),
        put(tmp_path, "2025/13/01", "bad-month.wav"),
        put(tmp_path, "2025/02/30", "no-such-day.wav"),
        put(tmp_path, "misc", "stray.wav"),
        put(tmp_path, "2025/01/01/nested", "deep.wav"),
        put(tmp_path, NOW - timedelta(days=5), "weird name (2).wav"),
    ]
    (tmp_path / "README.md").write_text("recordings live here")
    report = purge(tmp_path, 90, NOW)
    assert sorted(report.removed) == sorted(p.resolve() for p in odd_old)
    for p in keep:
        assert p.exists(), p
    assert (tmp_path / "README.md").exists()
    assert {p.name for p in report.skipped} >= {"notes.md", "bad-month.wav", "stray.wav", "deep.wav"}


def test_dry_run_removes_nothing_and_empty_days_are_pruned(tmp_path: Path) -> None:
    old = put(tmp_path, NOW - timedelta(days=365), "a-caller.wav")
    assert purge(tmp_path, 90, NOW, dry_run=True).removed == [old.resolve()]
    assert old.exists()
    purge(tmp_path, 90, NOW)
    assert not old.parent.exists() and not (tmp_path / f"{NOW - timedelta(days=365):%Y}").exists()


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"keep me")
    root = tmp_path / "rec"
    link = root / "2025" / "01" / "01" / "link.wav"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    purge(root, 90, NOW)
    assert outside.exists()


def test_voicemail_day_boundary_exactly_with_its_own_period(tmp_path: Path) -> None:
    # The flow's messages and the fallback dialplan's both live in voicemail/<yyyy>/<mm>/<dd>/.
    day = datetime(2026, 3, 1, 9, 0, tzinfo=TZ)
    flow_msg = put(tmp_path, f"voicemail/{day:%Y/%m/%d}", "1772326800.5.wav", mtime=day)
    fallback_msg = put(tmp_path, f"voicemail/{day:%Y/%m/%d}", "fallback-1772326800.6.wav", mtime=day)
    recording = put(tmp_path, day, "1772326800.7-caller.wav")
    boundary_now = datetime(2026, 3, 2, 0, 0, tzinfo=TZ) + timedelta(days=90)
    early = purge(tmp_path, 200, boundary_now - timedelta(seconds=1), voicemail_days=90)
    assert early.removed == [] and flow_msg.exists() and fallback_msg.exists()
    report = purge(tmp_path, 200, boundary_now, voicemail_days=90)
    assert sorted(report.removed) == sorted([flow_msg.resolve(), fallback_msg.resolve()])
    assert report.removed_by_kind == {"recording": 0, "voicemail": 2}
    assert recording.exists()  # recordings have their own (longer) period here
    assert not (tmp_path / "voicemail" / "2026").exists() and (tmp_path / "voicemail").is_dir()


def test_undated_fallback_voicemail_goes_by_its_mtime(tmp_path: Path) -> None:
    # Older versions wrote voicemail/fallback-<uniqueid>.wav without a day folder.
    limit = NOW - timedelta(days=90)
    at_cutoff = put(tmp_path, "voicemail", "fallback-1.wav", mtime=limit)
    younger = put(tmp_path, "voicemail", "fallback-2.wav", mtime=limit + timedelta(seconds=1))
    stray = put(tmp_path, "voicemail", "notes.wav", mtime=limit - timedelta(days=100))
    report = purge(tmp_path, 90, NOW)
    assert report.removed == [at_cutoff.resolve()]
    assert younger.exists() and stray.exists() and stray.resolve() in report.skipped


def test_cli_purge_logs_what_it_removed(tmp_path: Path, caplog: pytest.LogCaptureFixture, redis_url: str) -> None:
    from ivr.cli.main import build_app

    old = put(tmp_path, NOW - timedelta(days=100), "c1-caller.wav")
    young = put(tmp_path, NOW - timedelta(days=10), "c2-caller.wav")
    env = {"IVR_FAKE_NOW": NOW.isoformat(), "IVR_RECORDINGS_DIR": str(tmp_path), "IVR_RETENTION_DAYS": "90",
           "IVR_REDIS_URL": redis_url}
    with caplog.at_level("INFO", logger="ivr.retention"):
        out = CliRunner().invoke(build_app(), ["retention", "purge"], env=env)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert (summary["removed"], summary["kept"]) == (1, 1)
    assert not old.exists() and young.exists()
    assert any(f"removed {old.resolve()}" in r.getMessage() for r in caplog.records)
    refused = CliRunner().invoke(build_app(), ["retention", "purge", "--days", "60"], env=env)
    assert refused.exit_code == 2 and "refused" in refused.output


def test_cli_purge_covers_every_kind(tmp_path: Path, redis_url: str) -> None:
    from ivr.cli.main import build_app

    long_ago = NOW - timedelta(days=800)
    vm = put(tmp_path, f"voicemail/{long_ago:%Y/%m/%d}", "fallback-9.wav", mtime=long_ago)
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        conn.rpush(keys.AUDIT_LOG, json.dumps({"at": long_ago.isoformat(), "user": "sup", "role": "supervisor",
                                               "action": "listen", "target": "c9", "detail": {}}))
        conn.set(keys.qa_score("s9"), json.dumps({"id": "s9", "call_id": "c9", "at": long_ago.timestamp()}))
        conn.rpush(keys.qa_call_scores("c9"), "s9")
        conn.zadd(keys.QA_SCORES, {"s9": long_ago.timestamp()})
        conn.set(keys.qa_sample("2024-W10"), "{}")
        env = {"IVR_FAKE_NOW": NOW.isoformat(), "IVR_RECORDINGS_DIR": str(tmp_path), "IVR_REDIS_URL": redis_url}
        dry = CliRunner().invoke(build_app(), ["retention", "purge", "--dry-run"], env=env)
        assert dry.exit_code == 0, dry.output
        assert vm.exists() and conn.llen(keys.AUDIT_LOG) == 1 and conn.exists(keys.qa_sample("2024-W10"))
        out = CliRunner().invoke(build_app(), ["retention", "purge"], env=env)
        assert out.exit_code == 0, out.output
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary["removed_by_kind"] == {"recording": 0, "voicemail": 1}
        assert {k: summary["redis"][k] for k in ("audit", "qa_scores", "qa_samples")} == {
            "audit": 1, "qa_scores": 1, "qa_samples": 1}
        assert not vm.exists() and conn.llen(keys.AUDIT_LOG) == 0
        assert not conn.exists(keys.qa_score("s9"), keys.qa_call_scores("c9"), keys.QA_SCORES,
                               keys.qa_sample("2024-W10"))
    finally:
        conn.close()


def test_cli_purge_without_redis_still_purges_files_and_exits_1(tmp_path: Path) -> None:
    from ivr.cli.main import build_app

    old = put(tmp_path, NOW - timedelta(days=100), "c1-caller.wav")
    env = {"IVR_FAKE_NOW": NOW.isoformat(), "IVR_RECORDINGS_DIR": str(tmp_path), "IVR_RETENTION_DAYS": "90",
           "IVR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    out = CliRunner().invoke(build_app(), ["retention", "purge"], env=env)
    assert out.exit_code == 1 and not old.exists()
    assert "audit log and QA data not purged" in json.loads(out.stdout.strip().splitlines()[-1])["errors"]["redis"]
