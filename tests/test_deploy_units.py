"""`ivr services render`: systemd units that systemd itself accepts, and a 0600 environment file."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ivr.deploy.envfile import EnvFileError, parse_env_file, render_env_file
from ivr.deploy.units import UnitError, render_services
from ivr.settings import REPO_ROOT, Settings
from tests.support.components import require

pytestmark = pytest.mark.timeout(30)
IVR = REPO_ROOT / ".venv" / "bin" / "ivr"
SECRET = "s3cret value with 'quotes' \"and\" $HOME `id` \\ end"


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(service_user="root", service_workers=3, service_env_file=tmp_path / "out" / "hotline-ivr.env",
                    state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec", ami_secret=SECRET,
                    **extra)  # type: ignore[arg-type]


def _render(tmp_path: Path, **extra: object) -> tuple[Path, list[Path]]:
    out = tmp_path / "out"
    env = {"IVR_AMI_SECRET": SECRET, "IVR_AGENT_SECRET_1001": "agent-pw-$X", "PATH": "/usr/bin"}
    done = render_services(_settings(tmp_path, **extra), env, out, IVR, REPO_ROOT)
    return out, done.units


def _verify(out: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    tool = require("systemd-analyze", "checks rendered units (Debian package systemd)")
    return subprocess.run([tool, "verify", "--man=no", *names], cwd=out, capture_output=True, text=True,
                          timeout=20, check=False)


def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    out, _ = _render(tmp_path)
    names = ["./hotline-serve.service", "./hotline-dashboard.service", "./hotline-asterisk.service",
             "./hotline.target", *(f"./hotline-transcribe@{i}.service" for i in (1, 2, 3))]
    result = _verify(out, names)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr
    # The check itself can fail: a unit with a typo is refused.
    bad = out / "hotline-broken.service"
    bad.write_text((out / "hotline-serve.service").read_text().replace("ExecStart=", "ExecStrat="))
    assert _verify(out, ["./hotline-broken.service"]).returncode != 0


def test_units_order_harden_and_restart(tmp_path: Path) -> None:
    out, _ = _render(tmp_path)
    serve = (out / "hotline-serve.service").read_text()
    worker = (out / "hotline-transcribe@.service").read_text()
    dashboard = (out / "hotline-dashboard.service").read_text()
    assert "After=network-online.target redis-server.service hotline-asterisk.service" in serve
    assert "After=redis-server.service" in worker and "asterisk" not in worker.split("[Service]")[0]
    assert "After=network-online.target redis-server.service\n" in dashboard
    for text in (serve, worker, dashboard, (out / "hotline-asterisk.service").read_text()):
        for line in ("Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "ProtectHome=yes", "User=root", f"EnvironmentFile={out / 'hotline-ivr.env'}"):
            assert line in text.splitlines(), (line, text)
        # The paths are sorted, so where the checkout sorts against /tmp changes the order: compare sets.
        rw_lines = [line for line in text.splitlines() if line.startswith("ReadWritePaths=")]
        want = {str(tmp_path / "rec"), str(tmp_path / "state")} | (
            {str(REPO_ROOT / "ivr" / "flows")} if text is dashboard else set())
        assert len(rw_lines) == 1 and set(rw_lines[0].removeprefix("ReadWritePaths=").split()) == want, text
    assert f"ExecStart={IVR} transcribe worker --name %H-%i" in worker
    target = (out / "hotline.target").read_text()
    assert "hotline-transcribe@3.service" in target and "hotline-transcribe@4.service" not in target
    assert f"d {tmp_path / 'state'} 0750 root root -" in (out / "hotline-ivr.tmpfiles").read_text()


def test_operators_own_asterisk_is_not_rendered(tmp_path: Path) -> None:
    out, units = _render(tmp_path, service_asterisk_unit="asterisk.service")
    assert not (out / "hotline-asterisk.service").exists()
    assert "After=network-online.target redis-server.service asterisk.service" in \
        (out / "hotline-serve.service").read_text()
    assert out / "hotline-serve.service" in units


def test_env_file_is_0600_and_no_secret_in_a_unit(tmp_path: Path) -> None:
    out, units = _render(tmp_path)
    env_file = out / "hotline-ivr.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    for unit in units:
        assert stat.S_IMODE(unit.stat().st_mode) == 0o644
        text = unit.read_text()
        assert "s3cret" not in text and "agent-pw" not in text, unit
    values = parse_env_file(env_file.read_text())
    assert values == {"IVR_AGENT_SECRET_1001": "agent-pw-$X", "IVR_AMI_SECRET": SECRET}  # PATH not copied
    assert 'IVR_AMI_SECRET="s3cret value with \'quotes\' \\"and\\" \\$HOME \\`id\\` \\\\ end"' in \
        env_file.read_text().splitlines()


def test_hostile_value_cannot_add_a_line() -> None:
    with pytest.raises(EnvFileError, match=r"IVR_AMI_SECRET.*line break"):
        render_env_file({"IVR_AMI_SECRET": "x\nIVR_DASHBOARD_PRODUCTION=false"})
    with pytest.raises(EnvFileError, match="IVR_REDIS_URL"):
        render_env_file({"IVR_REDIS_URL": "redis://h\r"})
    # A quote cannot close the value early: the line still reads back as one value.
    text = render_env_file({"IVR_FALLBACK_QUEUE": 'a" IVR_X="b'})
    assert parse_env_file(text) == {"IVR_FALLBACK_QUEUE": 'a" IVR_X="b'}


@pytest.mark.parametrize(("field", "value", "named"), [
    ("recordings_dir", Path("/srv/my recordings"), "IVR_RECORDINGS_DIR"),
    ("state_dir", Path("/srv/100%"), "IVR_STATE_DIR"),
    ("service_user", "root\nExecStartPre=/bin/sh", "IVR_SERVICE_USER"),
    ("service_redis_unit", "redis.service\nUser=root", "IVR_SERVICE_REDIS_UNIT"),
])
def test_unsafe_unit_value_is_refused_naming_the_setting(tmp_path: Path, field: str, value: object,
                                                         named: str) -> None:
    settings = _settings(tmp_path).model_copy(update={field: value})
    with pytest.raises(UnitError, match=named):
        render_services(settings, {}, tmp_path / "out", IVR, REPO_ROOT)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_cli_renders(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    env = {"PATH": "/usr/bin:/bin", "IVR_SERVICE_USER": "root", "IVR_AMI_SECRET": SECRET,
           "IVR_SERVICE_ENV_FILE": str(out / "hotline-ivr.env")}
    result = subprocess.run([str(IVR), "services", "render", "--out", str(out)], env=env, capture_output=True,
                            text=True, timeout=25, check=False)
    assert result.returncode == 0, result.stderr
    assert "hotline-transcribe@1.service, hotline-transcribe@2.service" in result.stdout
    assert parse_env_file((out / "hotline-ivr.env").read_text())["IVR_AMI_SECRET"] == SECRET
    assert shutil.which("systemd-analyze") is None or _verify(out, ["./hotline-serve.service"]).returncode == 0
