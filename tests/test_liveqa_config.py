"""Live QA's configuration: its least-privilege AMI user, the per-queue switch, and the AMI event
and Originate action it reads and sends."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bench.queue_lab import patched_flows
from ivr.asterisk.config import render
from ivr.asterisk.private import InsecureSecret
from ivr.deploy.units import render_services
from ivr.liveqa.service import call_info, spy_action
from ivr.liveqa.switches import QueueSwitches
from ivr.settings import REPO_ROOT, load_settings

pytestmark = pytest.mark.timeout(60)
AGENT_CONNECT = {"Event": "AgentConnect", "Queue": "support", "Uniqueid": "1733100000.12",
                 "Channel": "PJSIP/caller-00000003", "DestChannel": "PJSIP/1001-00000004",
                 "Interface": "PJSIP/1001", "MemberName": "1001"}


def _manager_conf(tmp_path: Path, **overrides: object) -> str:
    settings = load_settings(state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec",
                             ami_secret="a-strong-ami-secret-42", **overrides)
    render(settings, tmp_path / "rt", tmp_path / "prefix")
    return (tmp_path / "rt" / "etc" / "manager.conf").read_text()


def test_liveqa_ami_user_may_read_agent_events_and_originate_only(tmp_path: Path) -> None:
    text = _manager_conf(tmp_path, liveqa_ami_secret="a-strong-liveqa-secret")
    section = text.split("[hotline-liveqa]", 1)[1]
    assert re.search(r"^read = agent$", section, re.M) and re.search(r"^write = originate$", section, re.M)
    assert "secret = a-strong-liveqa-secret" in section and "permit = 127.0.0.1/255.255.255.255" in section


def test_without_a_secret_there_is_no_liveqa_ami_user(tmp_path: Path) -> None:
    assert "[hotline-liveqa]" not in _manager_conf(tmp_path)


def test_production_refuses_a_weak_liveqa_secret(tmp_path: Path) -> None:
    with pytest.raises(InsecureSecret, match="IVR_LIVEQA_AMI_SECRET is the default 'change-me'"):
        _manager_conf(tmp_path, liveqa_ami_secret="change-me", dashboard_production=True,
                      flows_dir=REPO_ROOT / "ivr" / "flows")


def test_agent_connect_gives_the_call_and_both_exact_channels() -> None:
    info = call_info(AGENT_CONNECT)
    assert (info.call_id, info.queue, info.agent) == ("1733100000.12", "support", "1001")
    assert (info.channel("agent"), info.channel("caller")) == ("PJSIP/1001-00000004", "PJSIP/caller-00000003")
    settings = load_settings(liveqa_listen_host="127.0.0.1")
    action = spy_action(settings, 4575, "9b7c1c4e-0d3f-4c7a-9a51-0f5f2b8e4a11", info.agent_channel)
    assert action["Channel"] == "AudioSocket/127.0.0.1:4575/9b7c1c4e-0d3f-4c7a-9a51-0f5f2b8e4a11/c(slin)"
    assert (action["Application"], action["Data"]) == ("ChanSpy", "PJSIP/1001-00000004,qoE")


@pytest.mark.parametrize(("field", "value", "says"), [
    ("DestChannel", "Local/1001@agents-00000001;1", "DestChannel 'Local/1001@agents-00000001;1'"),
    ("Channel", "PJSIP/x,qB", "Channel 'PJSIP/x,qB': not a channel"),
    ("Interface", "SIP/1001", "not a PJSIP interface"),
])
def test_an_event_whose_channel_cannot_reach_chanspy_is_refused(field: str, value: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        call_info({**AGENT_CONNECT, field: value})


def _touch(path: Path, text: str, stamp: float) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (stamp, stamp))  # a new mtime even within the filesystem's timestamp granularity


def test_queue_switch_follows_queues_yaml_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    def on(data: dict[str, Any]) -> None:
        data["queues"]["support"]["live_qa"] = True

    path = patched_flows(tmp_path / "off", None) / "queues.yaml"
    switches = QueueSwitches(path)
    assert not switches.enabled("support")  # off unless a queue turns it on
    now = time.time()
    _touch(path, (patched_flows(tmp_path / "on", on) / "queues.yaml").read_text(encoding="utf-8"), now + 5)
    assert switches.enabled("support") and not switches.enabled("complaints")
    _touch(path, "queues: [not, a, mapping]\n", now + 10)
    assert switches.enabled("support")  # a broken file keeps the last good switches


def test_the_liveqa_unit_runs_ivr_liveqa_and_joins_the_target_once_it_has_its_ami_user(tmp_path: Path) -> None:
    env = {"IVR_AMI_SECRET": "a-strong-ami-secret-42", "PATH": "/usr/bin"}
    ivr = Path("/opt/hotline/venv/bin/ivr")
    settings = load_settings(state_dir=Path("/var/lib/hotline"), recordings_dir=Path("/var/lib/hotline/rec"),
                             prompts_dir=Path("/var/lib/hotline/prompts"))
    done = render_services(settings, env, tmp_path / "off", ivr, Path("/opt/hotline"))
    unit = (tmp_path / "off" / "hotline-liveqa.service").read_text()
    assert "ExecStart=/opt/hotline/venv/bin/ivr liveqa" in unit and "PartOf=hotline.target" in unit
    assert "hotline-liveqa.service" not in (tmp_path / "off" / "hotline.target").read_text()
    assert tmp_path / "off" / "hotline-liveqa.service" in done.units
    render_services(settings.model_copy(update={"liveqa_ami_secret": "a-strong-liveqa-secret"}), env,
                    tmp_path / "on", ivr, Path("/opt/hotline"))
    assert "hotline-liveqa.service" in (tmp_path / "on" / "hotline.target").read_text()
