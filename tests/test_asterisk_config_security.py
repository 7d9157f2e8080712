"""The rendered Asterisk config as an attacker would read it: file modes, the AMI user's rights,
secrets refused in production, the AGI wrappers' quoting, and what the dialplan does with values
a caller or a flow chooses (the real-call side is in tests/e2e/test_resilience.py)."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from harness.ports import free_port
from ivr.asterisk.config import render
from ivr.asterisk.private import InsecureSecret
from ivr.service import HotlineService
from ivr.settings import REPO_ROOT, Settings, load_settings

pytestmark = pytest.mark.timeout(60)
STRONG = "a-strong-ami-secret-42"


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"state_dir": tmp_path / "state", "recordings_dir": tmp_path / "rec",
                                 "ami_secret": STRONG}
    values.update(overrides)
    return load_settings(**values)


def rendered(tmp_path: Path, **overrides: object) -> Path:
    """Renders into tmp_path/rt; returns the runtime dir."""
    render(settings_for(tmp_path, **overrides), tmp_path / "rt", tmp_path / "prefix")
    return tmp_path / "rt"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_bearing_files_are_owner_only(tmp_path: Path) -> None:
    (tmp_path / "rt" / "etc").mkdir(parents=True)
    stale = tmp_path / "rt" / "etc" / "manager.conf"
    stale.write_text("old")
    stale.chmod(0o644)  # a render by an older version left it world-readable
    rt = rendered(tmp_path)
    assert mode(rt) == 0o700 and mode(rt / "etc") == 0o700
    for conf in (rt / "etc").glob("*.conf"):
        assert mode(conf) == 0o600, conf
    assert STRONG in (rt / "etc" / "manager.conf").read_text()
    for wrapper in ("hotline-agi", "hotline-recording"):
        assert mode(rt / "agi-bin" / wrapper) == 0o700, wrapper


def _classes(text: str, key: str) -> set[str]:
    m = re.search(rf"^{key}\s*=\s*(.+)$", text, re.M)
    assert m, text
    return {c.strip() for c in m[1].split(",")}


def test_ami_user_has_only_the_classes_the_code_uses(tmp_path: Path) -> None:
    text = (rendered(tmp_path) / "etc" / "manager.conf").read_text()
    # QueueAdd/Remove/Pause need agent, Originate needs originate (main/manager.c, app_queue.c);
    # events: app_queue's (agent), OriginateResponse/ChanSpyStart (call), UserEvent (user).
    assert _classes(text, "write") == {"agent", "originate"}
    assert _classes(text, "read") == {"agent", "call", "user"}


@pytest.mark.parametrize(("secret", "why"), [
    ("change-me", "is the default 'change-me'"),
    ("", "is empty"),
    ("short-secret", "is 12 characters long; production needs at least 16"),
])
def test_production_refuses_weak_ami_secrets(tmp_path: Path, secret: str, why: str) -> None:
    with pytest.raises(InsecureSecret, match=re.escape(f"IVR_AMI_SECRET {why}")) as err:
        rendered(tmp_path, dashboard_production=True, ami_secret=secret)
    assert "IVR_DASHBOARD_PRODUCTION=true" in str(err.value)
    assert not (tmp_path / "rt" / "etc" / "manager.conf").exists()  # refused before anything is written
    rendered(tmp_path, ami_secret=secret)  # development: accepted, as before


def test_production_refuses_a_weak_agent_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_AGENT_SECRET_1001", "1001")
    with pytest.raises(InsecureSecret, match="IVR_AGENT_SECRET_1001 is 4 characters long"):
        rendered(tmp_path, dashboard_production=True)
    monkeypatch.setenv("IVR_AGENT_SECRET_1001", "a-long-agent-password")
    rendered(tmp_path, dashboard_production=True)


def test_a_secret_cannot_add_lines_to_manager_conf(tmp_path: Path) -> None:
    with pytest.raises(InsecureSecret, match="IVR_AMI_SECRET contains a line break or ';'"):
        rendered(tmp_path, ami_secret="long-enough-secret\nwrite = system,command")


def _wrapper_env(wrapper: Path, tmp_path: Path) -> dict[str, str]:
    """Runs the wrapper with /bin/sh up to its exec line and returns the environment it built."""
    lines = wrapper.read_text().splitlines()
    assert lines[-1].startswith("exec "), lines[-1]
    script = tmp_path / f"{wrapper.name}-env.sh"
    script.write_text("\n".join([*lines[:-1], "env -0"]) + "\n")
    out = subprocess.run(["/bin/sh", str(script)], capture_output=True, check=True, cwd=tmp_path,
                         env={"PATH": os.environ["PATH"]}, timeout=10)
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if item)


@pytest.mark.parametrize("wrapper", ["hotline-agi", "hotline-recording"])
def test_wrappers_quote_every_value_and_carry_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrapper: str
) -> None:
    marker = tmp_path / "pwned"
    hostile = f"it's $(touch {marker}) `touch {marker}` \"x\" \\ ;"
    monkeypatch.setenv("IVR_FALLBACK_QUEUE", hostile)
    monkeypatch.setenv("IVR_AMI_SECRET", STRONG)
    monkeypatch.setenv("IVR_AGENT_SECRET_1001", "agent-secret-1001-xyz")
    rt = rendered(tmp_path)
    env = _wrapper_env(rt / "agi-bin" / wrapper, tmp_path)
    assert env["IVR_FALLBACK_QUEUE"] == hostile  # round-trips byte for byte
    assert not marker.exists()
    text = (rt / "agi-bin" / wrapper).read_text()
    assert "IVR_AMI_SECRET" not in env and "IVR_AGENT_SECRET_1001" not in env
    assert STRONG not in text and "agent-secret-1001-xyz" not in text
    assert env["IVR_RECORDINGS_DIR"] == str((tmp_path / "rec").resolve())


def _dialplan(tmp_path: Path) -> str:
    etc = rendered(tmp_path) / "etc"
    return (etc / "extensions.conf").read_text() + (etc / "extensions_recording.conf").read_text()


def test_system_gets_only_filtered_values(tmp_path: Path) -> None:
    text = _dialplan(tmp_path)
    (system,) = [line for line in text.splitlines() if "System(" in line and not line.startswith(";")]
    # Every variable on the line sits inside FILTER(), except Asterisk's own directories.
    bare = re.sub(r"\$\{FILTER\([^,]+,\$\{[A-Z_]+(?:\([a-z_]+\))?\}\)\}", "", system)
    assert set(re.findall(r"\$\{([A-Z_]+)", bare)) <= {"ASTAGIDIR", "ASTLOGDIR"}, system
    end = text[text.index("[ivr-recording-end]"):]
    assert end.index('REGEX("^[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]$" ${IVR_REC_DAY})') < end.index("System(")


def test_values_a_caller_or_flow_chooses_are_checked(tmp_path: Path) -> None:
    text = _dialplan(tmp_path)
    inbound = text[text.index("[hotline-inbound]"):text.index("[hotline-run]")]
    # sip:a,b@host would add AGI arguments: only a flow name is used as one.
    assert 'exten => _[a-z].,1,GotoIf(${REGEX("^[a-z][a-z0-9_-]*$" ${EXTEN})}?named)' in inbound
    assert "IVR_FLOW=${EXTEN}" not in inbound
    fallback = text[text.index("[hotline-fallback]"):text.index("[hotline-fallback-check]")]
    assert "Queue(${FILTER(-.0-9A-Z_a-z,${GLOBAL(IVR_FALLBACK_QUEUE)})}," in fallback
    assert "Gosub(ivr-recording,names,1)" in fallback.split("Queue(")[0]  # MONITOR_* reset before queueing
    record = next(line for line in fallback.splitlines() if "Set(IVR_VM_FILE=" in line)
    assert f"Set(IVR_VM_FILE={(tmp_path / 'rec').resolve()}/voicemail/${{STRFTIME(" in record
    assert "fallback-${FILTER(-.0-9A-Z_a-z,${UNIQUEID})}.wav" in record
    callback = text[text.index("[ivr-callback]"):text.index("[ivr-callback-answered]")]
    assert callback.index("REGEX(") < callback.index("Dial(${IVR_CB_DIAL},${FILTER(0-9,${IVR_CB_TIMEOUT})},")
    names = text[text.index("exten => names,1"):]
    assert "Set(MONITOR_EXEC=)" in names  # app_queue runs MONITOR_EXEC as a shell command


def test_serve_refuses_a_weak_ami_secret_in_production(tmp_path: Path) -> None:
    agi_port = free_port()
    env = {"PATH": "/usr/bin:/bin", "IVR_DASHBOARD_PRODUCTION": "true", "IVR_AMI_SECRET": "change-me",
           "IVR_AGI_PORT": str(agi_port), "IVR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
           "IVR_STATE_DIR": str(tmp_path / "state"), "IVR_RECORDINGS_DIR": str(tmp_path / "rec")}
    result = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "ivr"), "serve"], env=env, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ivr serve not started (production mode: IVR_DASHBOARD_PRODUCTION=true): IVR_AMI_SECRET is the " \
           "default 'change-me'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


async def test_service_refuses_before_it_listens(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, dashboard_production=True, ami_secret="short-secret", agi_port=free_port())
    with pytest.raises(InsecureSecret, match="IVR_AMI_SECRET is 12 characters long"):
        await HotlineService(settings).start()
    with pytest.raises(OSError):  # nothing was bound: the FastAGI port is still closed
        socket.create_connection(("127.0.0.1", settings.agi_port), timeout=2).close()
