"""`ivr doctor` against real and absent components: each problem named, with its fix, exit 1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.ports import free_port
from ivr.doctor import (
    check_agi_port,
    check_ami,
    check_ami_secret,
    check_redis,
    check_users,
    check_vosk_models,
    check_writable,
)
from ivr.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.timeout(30)


async def test_redis_ok_and_users_missing(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url)
    redis = await check_redis(settings, 2.0)
    assert redis.ok, redis
    users = await check_users(settings, 2.0)
    assert not users.ok and "none" in users.what and "ivr users add" in users.fix


async def test_redis_on_a_closed_port_is_unreachable() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    check = await check_redis(Settings(redis_url=url), 2.0)
    assert not check.ok
    assert url in check.what and "IVR_REDIS_URL" in check.what and "unreachable" in check.what
    assert "IVR_REDIS_URL" in check.fix


async def test_ami_and_agi_unreachable_name_host_port_and_settings() -> None:
    ami_port, agi_port = free_port(), free_port()
    settings = Settings(ami_port=ami_port, agi_port=agi_port)
    ami = await check_ami(settings, 2.0)
    assert not ami.ok
    assert f"127.0.0.1:{ami_port}" in ami.what
    assert all(name in ami.what for name in ("IVR_AMI_HOST", "IVR_AMI_PORT", "IVR_AMI_USER", "IVR_AMI_SECRET"))
    assert "ivr asterisk start" in ami.fix
    agi = await check_agi_port(settings, 2.0)
    assert not agi.ok and f"127.0.0.1:{agi_port}" in agi.what and "ivr serve" in agi.fix


def test_unwritable_recordings_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    check = check_writable(blocker / "recordings", "IVR_RECORDINGS_DIR")  # root can write anywhere else
    assert not check.ok and "IVR_RECORDINGS_DIR" in check.what and "not writable" in check.what
    assert "install -d" in check.fix
    assert check_writable(tmp_path, "IVR_RECORDINGS_DIR").ok
    assert list(tmp_path.iterdir()) == [blocker]  # the probe file is gone


def test_missing_vosk_model_is_reported(tmp_path: Path) -> None:
    settings = Settings(vosk_models={"en": str(tmp_path / "no-model")}, default_language="zh-CN")
    checks = {c.what.split(":")[0]: c for c in check_vosk_models(settings)}
    assert not checks["Vosk model for 'en'"].ok
    assert str(tmp_path / "no-model") in checks["Vosk model for 'en'"].what
    assert "IVR_VOSK_MODELS" in checks["Vosk model for 'en'"].fix
    assert checks["Vosk model for 'zh-CN'"].ok  # the packaged default model


def test_cli_exit_code_and_fix_lines(tmp_path: Path, redis_url: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "IVR_REDIS_URL": redis_url, "IVR_AMI_PORT": str(free_port()),
           "IVR_AGI_PORT": str(free_port()), "IVR_STATE_DIR": str(tmp_path / "state"),
           "IVR_RECORDINGS_DIR": str(tmp_path / "missing" / "rec")}
    (tmp_path / "state").mkdir()
    result = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "ivr"), "doctor", "--timeout", "2"], env=env,
                            capture_output=True, text=True, timeout=25, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok   Redis at " + redis_url) for line in lines), lines
    assert any(line.startswith("FAIL AMI") for line in lines) and any(line.startswith("FAIL IVR_RECORDINGS_DIR")
                                                                     for line in lines)
    assert any(line.startswith("FAIL prompts in") for line in lines)  # a fresh state dir has none built
    assert sum(line.startswith("     fix: ") for line in lines) == sum(line.startswith("FAIL") for line in lines)


@pytest.mark.parametrize(("secret", "why"), [
    ("change-me", "is the default 'change-me'"),
    ("", "is empty"),
    ("short-secret", "is 12 characters long"),
])
def test_weak_ami_secret_fails_in_production(secret: str, why: str) -> None:
    check = check_ami_secret(Settings(dashboard_production=True, ami_secret=secret))
    assert not check.ok
    assert f"IVR_AMI_SECRET {why}" in check.what and "ivr serve" in check.what
    assert "IVR_AMI_SECRET" in check.fix


def test_ami_secret_in_development_and_a_strong_one_in_production() -> None:
    dev = check_ami_secret(Settings(ami_secret="change-me"))
    assert dev.ok and "development mode" in dev.what  # accepted, and the report says why
    assert not check_ami_secret(Settings(ami_secret="change-me;write=all")).ok  # breaks manager.conf anywhere
    assert check_ami_secret(Settings(dashboard_production=True, ami_secret="a-strong-ami-secret-42")).ok


def test_cli_reports_a_weak_ami_secret_in_production(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "IVR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
           "IVR_AMI_PORT": str(free_port()), "IVR_AGI_PORT": str(free_port()),
           "IVR_STATE_DIR": str(tmp_path), "IVR_RECORDINGS_DIR": str(tmp_path),
           "IVR_DASHBOARD_PRODUCTION": "true", "IVR_AMI_SECRET": "change-me"}
    result = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "ivr"), "doctor", "--timeout", "1"], env=env,
                            capture_output=True, text=True, timeout=25, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL AMI secret: IVR_AMI_SECRET is the default 'change-me'" in result.stdout, result.stdout
