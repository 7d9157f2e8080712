"""Live monitor against a real private Asterisk: the dashboard's Originate puts the supervisor's
leg into ChanSpy on the agent's channel in the mode asked for (Asterisk reports ChanSpyStart).

Both legs are Local channels in a test-only dialplan context: the "agent" leg answers and waits
like a call in progress, the "supervisor phone" answers like a person picking up. A second agent
whose channel name merely starts with the first one's (as PJSIP/10012 does with PJSIP/1001) must
not be spied on. The test inspects channels with the CLI: the AMI user may not (least privilege)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.monitor import originate, spy_request
from ivr.asterisk.process import AsteriskInstance
from ivr.queueing.ami import connect_ami, send
from ivr.settings import Settings
from tests.support.pbx import dashboard_pbx

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
DIALPLAN = """
[dash-monitor-test]
exten => agent,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
exten => supervisor,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()

[dash-monitor-test2]
exten => agent,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
"""
AGENT = "Local/agent@dash-monitor-test"
LOOKALIKE = "Local/agent@dash-monitor-test2"  # starts with AGENT, like PJSIP/10012 with PJSIP/1001


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[tuple[Settings, AsteriskInstance]]:
    root = Path(tmp_path_factory.mktemp("monitor-pbx"))
    with dashboard_pbx(root, redis_server.url, "dash-monitor-secret", DIALPLAN) as settings:
        yield settings, AsteriskInstance(settings, root / "asterisk")  # the running one, for its CLI


def chanspy_data(asterisk: AsteriskInstance) -> list[str]:
    """Application data of every channel running ChanSpy (concise: channel!context!exten!prio!state!app!data!...)."""
    rows = [line.split("!") for line in asterisk.cli("core show channels concise").splitlines()]
    return [r[6] for r in rows if len(r) > 6 and r[5] == "ChanSpy"]


async def _spy(settings: Settings, asterisk: AsteriskInstance, mode: str, agent_call: str,
               wait_s: float = 10) -> tuple[dict[str, str] | None, list[str]]:
    """Starts a call on `agent_call`, then the dashboard's monitor of AGENT; returns Asterisk's
    ChanSpyStart event (None if none within wait_s) and the data of every channel running ChanSpy."""
    manager = await connect_ami(settings, events="on")
    started: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    def on_spy(_: Any, event: Any) -> None:
        if not started.done():
            started.set_result(dict(event))

    manager.register_event("ChanSpyStart", on_spy)
    try:
        reply = await send(manager, {"Action": "Originate", "Channel": agent_call,
                                     "Application": "Wait", "Data": "20", "Async": "true"}, 5)
        assert reply.success, reply
        await asyncio.sleep(0.5)  # the agent's call is up
        request = spy_request(mode, AGENT, "Local/supervisor@dash-monitor-test")
        await originate(settings, request, "sup")
        try:
            event: dict[str, str] | None = await asyncio.wait_for(started, wait_s)
        except TimeoutError:
            event = None
        return event, chanspy_data(asterisk)
    finally:
        asterisk.cli("channel request hangup all")
        manager.close()


@pytest.mark.parametrize(("mode", "options"), [("listen", "q"), ("whisper", "qw"), ("barge", "qB")])
def test_supervisor_leg_spies_on_the_agent_call(pbx: tuple[Settings, AsteriskInstance], mode: str,
                                                options: str) -> None:
    event, spying = asyncio.run(_spy(*pbx, mode, AGENT))
    assert event is not None, "no ChanSpyStart"
    assert event["SpyeeChannel"].startswith(f"{AGENT}-"), event
    assert event["SpyerChannel"].startswith("Local/supervisor@dash-monitor-test-"), event
    assert spying == [f"{AGENT}-,{options}"]


def test_a_lookalike_channel_is_not_spied_on(pbx: tuple[Settings, AsteriskInstance]) -> None:
    event, spying = asyncio.run(_spy(*pbx, "listen", LOOKALIKE, wait_s=3))
    assert event is None, event  # ChanSpy found no channel of AGENT: it waits, it does not take the lookalike
    assert spying == [f"{AGENT}-,q"]
