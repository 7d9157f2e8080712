"""Live monitor against a real private Asterisk: the dashboard's Originate puts the supervisor's
leg into ChanSpy on the agent's channel in the mode asked for (Asterisk reports ChanSpyStart).

Both legs are Local channels in a test-only dialplan context: the "agent" leg answers and waits
like a call in progress, the "supervisor phone" answers like a person picking up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.monitor import originate, spy_request
from ivr.queueing.ami import connect_ami, send
from ivr.settings import Settings
from tests.support.pbx import dashboard_pbx

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[1]
DIALPLAN = """
[dash-monitor-test]
exten => agent,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
exten => supervisor,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
"""


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Settings]:
    root = Path(tmp_path_factory.mktemp("monitor-pbx"))
    with dashboard_pbx(root, redis_server.url, "dash-monitor-secret", DIALPLAN) as settings:
        yield settings


async def _spy(settings: Settings, mode: str) -> tuple[dict[str, str], list[str]]:
    """Starts an 'agent' call, then the dashboard's monitor; returns Asterisk's ChanSpyStart event
    and the application data of every channel running ChanSpy."""
    manager = await connect_ami(settings, events="on")
    started: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    def on_spy(_: Any, event: Any) -> None:
        if not started.done():
            started.set_result(dict(event))

    manager.register_event("ChanSpyStart", on_spy)
    try:
        reply = await send(manager, {"Action": "Originate", "Channel": "Local/agent@dash-monitor-test",
                                     "Application": "Wait", "Data": "20", "Async": "true"}, 5)
        assert reply.success, reply
        await asyncio.sleep(0.5)  # the agent's call is up
        request = spy_request(mode, "Local/agent@dash-monitor-test", "Local/supervisor@dash-monitor-test")
        await originate(settings, request, "sup")
        event = await asyncio.wait_for(started, 10)
        listing = await send(manager, {"Action": "CoreShowChannels"}, 5, as_list=True)
        spying = [str(m.ApplicationData) for m in listing if getattr(m, "Application", "") == "ChanSpy"]
        return event, spying
    finally:
        await send(manager, {"Action": "Command", "Command": "channel request hangup all"}, 5)
        manager.close()


@pytest.mark.parametrize(("mode", "options"), [("listen", "q"), ("whisper", "qw"), ("barge", "qB")])
def test_supervisor_leg_spies_on_the_agent_call(pbx: Settings, mode: str, options: str) -> None:
    event, spying = asyncio.run(_spy(pbx, mode))
    assert event["SpyeeChannel"].startswith("Local/agent@dash-monitor-test"), event
    assert event["SpyerChannel"].startswith("Local/supervisor@dash-monitor-test"), event
    assert spying == [f"Local/agent@dash-monitor-test,{options}"]
