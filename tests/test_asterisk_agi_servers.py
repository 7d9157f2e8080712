"""Several FastAGI servers in the dialplan (IVR_AGI_SERVERS): tried in order while no node started the
flow, then the fallback queue; only allow-listed host:port values get into extensions.conf; the default
is the single local server, rendered as before. manager.conf stamps events for the leader's takeover."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from ivr.asterisk.config import render
from ivr.settings import load_settings

pytestmark = pytest.mark.timeout(60)


def dialplan(tmp_path: Path, **overrides: object) -> str:
    settings = load_settings(state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec",
                             ami_secret="a-strong-ami-secret-42", **overrides)
    render(settings, tmp_path / "rt", tmp_path / "prefix")
    return (tmp_path / "rt" / "etc" / "extensions.conf").read_text(encoding="utf-8")


def run_section(text: str) -> str:
    return text[text.index("[hotline-run]"):text.index("[hotline-fallback]")]


def test_each_server_is_tried_in_order_while_no_node_started_the_flow(tmp_path: Path) -> None:
    text = dialplan(tmp_path, agi_servers="10.0.0.1:4573, ivr-b.example:4574,[fd00::3]:4575")
    assert "IVR_AGI_URL = agi://10.0.0.1:4573\n" in text
    assert "IVR_AGI_URL_2 = agi://ivr-b.example:4574\n" in text and "IVR_AGI_URL_3 = agi://[fd00::3]:4575\n" in text
    run = run_section(text)
    urls = re.findall(r"AGI\(\$\{GLOBAL\((IVR_AGI_URL(?:_\d)?)\)\}/\$\{IVR_FLOW\}\)", run)
    assert urls == ["IVR_AGI_URL", "IVR_AGI_URL_2", "IVR_AGI_URL_3"]
    # before each next try: only when no node set IVR_NODE and AGI could not connect (FAILURE)
    assert run.count('"${FILTER(-.0-9A-Z_a-z,${IVR_NODE})}${FILTER(A-Z,${AGISTATUS})}" != "FAILURE"]?fallback') == 2
    assert run.index("IVR_AGI_URL_3") < run.index("n(fallback)") < run.index("Goto(hotline-fallback,s,1)")


def test_one_server_by_default(tmp_path: Path) -> None:
    run = run_section(dialplan(tmp_path, agi_host="127.0.0.1", agi_port=4999))
    assert "IVR_AGI_URL_2" not in run and "IVR_NODE" not in run
    assert run.count("AGI(${GLOBAL(IVR_AGI_URL)}/${IVR_FLOW})") == 1


def test_a_caller_an_agent_served_is_not_queued_again_when_the_flow_server_is_lost(tmp_path: Path) -> None:
    run = run_section(dialplan(tmp_path))
    assert '"${FILTER(A-Z,${QUEUESTATUS})}" = "CONTINUE"]?served' in run


@pytest.mark.parametrize("bad", ["10.0.0.1", "host:70000", "a b:1", "x;System(id):1", "h:1,h:1",
                                 "[not-v6]:1", "$(reboot):5", "host:1)\nexten => s,1,System(x)"])
def test_only_allow_listed_addresses_reach_the_dialplan(bad: str) -> None:
    with pytest.raises(ValidationError, match="agi_servers"):
        load_settings(agi_servers=bad)


def test_manager_conf_stamps_events(tmp_path: Path) -> None:
    dialplan(tmp_path)
    manager = (tmp_path / "rt" / "etc" / "manager.conf").read_text(encoding="utf-8")
    assert re.search(r"^timestampevents = yes$", manager, flags=re.M)
    assert not re.search(r"^debug\s*=", manager, flags=re.M)
