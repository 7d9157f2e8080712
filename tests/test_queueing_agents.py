"""Agent login/logout/pause over AMI.

The action builders are checked header by header. AgentControl and connect_ami then run through
panoramisk over a real TCP socket against ScriptedAmi, which answers with app_queue's replies
(messages as in Asterisk's app_queue.c). It is a protocol peer, not Asterisk: the run against
the real private Asterisk belongs to the end-to-end tests of issue 3.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.queueing.agents import (
    AgentControl,
    AgentError,
    queue_add_action,
    queue_pause_action,
    queue_remove_action,
)
from ivr.queueing.ami import AmiError, check_header, connect_ami
from ivr.queueing.config import parse_queue_config
from ivr.settings import Settings, load_settings
from tests.test_queueing_config import CALLBACK_SECTIONS

pytestmark = pytest.mark.timeout(15)

CFG = parse_queue_config(textwrap.dedent("""\
    queues: {support: {}, complaints: {}}
    agents:
      "1001": {name: 张敏, queues: {support: 0, complaints: 2}}
      "1002": {name: Li Wei, queues: {support: 1}}
    """) + CALLBACK_SECTIONS, Path("queues.yaml"))


def test_action_headers() -> None:
    assert queue_add_action("support", "1001", "张敏", 2) == {
        "Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/1001", "Penalty": "2",
        "Paused": "false", "MemberName": "张敏", "StateInterface": "PJSIP/1001"}
    assert queue_remove_action("support", "1001") == {
        "Action": "QueueRemove", "Queue": "support", "Interface": "PJSIP/1001"}
    assert queue_pause_action("1001", True, "lunch") == {
        "Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "true", "Reason": "lunch"}
    assert queue_pause_action("1001", False, queue="support") == {
        "Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "false", "Queue": "support"}
    with pytest.raises(ValueError, match="line break"):
        check_header("Reason", "lunch\r\nAction: Originate")


class ScriptedAmi:
    """Speaks AMI on a real socket; keeps queue members the way app_queue answers about them."""

    def __init__(self, secret: str = "pw") -> None:
        self.secret = secret
        self.members: dict[tuple[str, str], dict[str, str]] = {}
        self.actions: list[dict[str, str]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in raw.decode().strip().split("\r\n"))
                self.actions.append(headers)
                for msg in self._answer(headers):
                    body = "".join(f"{k}: {v}\r\n" for k, v in msg.items())
                    writer.write(f"{body}ActionID: {headers['ActionID']}\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _answer(self, h: dict[str, str]) -> list[dict[str, str]]:
        ok = lambda msg: [{"Response": "Success", "Message": msg}]  # noqa: E731
        err = lambda msg: [{"Response": "Error", "Message": msg}]  # noqa: E731
        action, key = h["Action"], (h.get("Queue", ""), h.get("Interface", ""))
        if action == "Login":
            return ok("Authentication accepted") if h["Secret"] == self.secret else err("Authentication failed")
        if action == "QueueAdd":
            if key in self.members:
                return err("Unable to add interface: Already there")
            self.members[key] = {"Name": h["MemberName"], "Penalty": h["Penalty"], "Paused": "0", "Reason": ""}
            return ok("Added interface to queue")
        if action == "QueueRemove":
            return ok("Removed interface from queue") if self.members.pop(key, None) else err(
                "Unable to remove interface: Not there")
        if action == "QueuePause":
            hit = [m for (q, i), m in self.members.items() if i == h["Interface"] and h.get("Queue", q) == q]
            for m in hit:
                m["Paused"], m["Reason"] = ("1", h.get("Reason", "")) if h["Paused"] == "true" else ("0", "")
            return ok("Interface paused successfully") if hit else err("Interface not found")
        if action == "QueueStatus":
            events = [{"Response": "Success", "EventList": "start", "Message": "Queue status will follow"}]
            for (q, iface), m in self.members.items():
                events.append({"Event": "QueueMember", "Queue": q, "Name": m["Name"], "Location": iface,
                               "StateInterface": iface, "Membership": "dynamic", "Penalty": m["Penalty"],
                               "CallsTaken": "3", "LastCall": "1767225600", "InCall": "0", "Status": "1",
                               "Paused": m["Paused"], "PausedReason": m["Reason"]})
            events.append({"Event": "QueueStatusComplete", "EventList": "Complete", "ListItems": str(len(events) - 1)})
            return events
        return err("Invalid/unknown command")


@pytest.fixture
async def ami() -> AsyncIterator[ScriptedAmi]:
    server = ScriptedAmi()
    await server.start()
    yield server
    await server.stop()


def _settings(port: int, secret: str = "pw") -> Settings:
    return load_settings(ami_host="127.0.0.1", ami_port=port, ami_user="hotline", ami_secret=secret)


async def test_login_pause_list_logout_through_panoramisk(ami: ScriptedAmi) -> None:
    port = ami.port
    manager = await connect_ami(_settings(port), limit_s=3)
    try:
        control = AgentControl(manager, CFG, timeout=3)
        assert await control.login("support", "1001") == "Added interface to queue"
        assert await control.login("support", "1001") == "Unable to add interface: Already there"  # idempotent
        await control.login("complaints", "1001")
        added = [a for a in ami.actions if a["Action"] == "QueueAdd"]
        assert added[0]["MemberName"] == "张敏" and added[0]["StateInterface"] == "PJSIP/1001"
        assert added[2]["Penalty"] == "2"  # the default penalty of that queue in queues.yaml
        await control.pause("1001", " lunch ")
        members = await control.members()
        assert [(m.queue, m.agent, m.paused, m.paused_reason) for m in members] == [
            ("support", "1001", True, "lunch"), ("complaints", "1001", True, "lunch")]
        assert members[0].status == "not_in_use" and members[0].calls_taken == 3
        await control.unpause("1001", queue="support")
        assert [m.paused for m in await control.members()] == [False, True]
        assert await control.logout("1001") == ["support", "complaints"]
        assert await control.logout("1001") == []
        with pytest.raises(AmiError, match="Interface not found"):
            await control.unpause("1001")
    finally:
        manager.close()


async def test_requests_queues_yaml_does_not_allow_never_reach_asterisk(ami: ScriptedAmi) -> None:
    port = ami.port
    manager = await connect_ami(_settings(port), limit_s=3)
    try:
        control = AgentControl(manager, CFG, timeout=3)
        with pytest.raises(AgentError, match="unknown agent '9999'"):
            await control.login("support", "9999")
        with pytest.raises(AgentError, match="may not log in to 'complaints'"):
            await control.login("complaints", "1002")
        with pytest.raises(AgentError, match="needs a reason"):
            await control.pause("1002", "  ")
        assert [a["Action"] for a in ami.actions] == ["Login"]
    finally:
        manager.close()


async def test_bad_secret_and_nothing_listening(ami: ScriptedAmi) -> None:
    port = ami.port
    with pytest.raises(AmiError, match="login refused for user 'hotline'"):
        await connect_ami(_settings(port, secret="wrong"), limit_s=3)
    await ami.stop()
    with pytest.raises(AmiError, match="cannot connect"):
        await connect_ami(_settings(port), limit_s=3)


@pytest.fixture
def ami_thread() -> Iterator[ScriptedAmi]:
    """ScriptedAmi on its own event loop, for the CLI that runs asyncio.run() itself."""
    loop = asyncio.new_event_loop()
    server = ScriptedAmi()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "queues.yaml").write_text(textwrap.dedent("""\
        vip_numbers: ["13800138000"]
        queues: {support: {}}
        agents: {"1001": {name: 张敏, queues: {support: 0}}}
        """) + CALLBACK_SECTIONS, encoding="utf-8")
    monkeypatch.setenv("IVR_FLOWS_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_AMI_USER", "hotline")
    monkeypatch.setenv("IVR_AMI_SECRET", "pw")
    return tmp_path


def test_cli_agent_commands(ami_thread: ScriptedAmi, cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.cli.agents import app

    monkeypatch.setenv("IVR_AMI_PORT", str(ami_thread.port))
    runner = CliRunner()
    assert runner.invoke(app, ["login", "support", "1001"]).output == "Added interface to queue\n"
    out = runner.invoke(app, ["pause", "1001", "--reason", "training"])
    assert out.exit_code == 0, out.output
    listing = runner.invoke(app, ["list"]).output
    assert "support" in listing and "1001" in listing and "paused (training)" in listing
    refused = runner.invoke(app, ["login", "support", "4242"])
    assert refused.exit_code == 1 and "unknown agent '4242'" in refused.output
    assert runner.invoke(app, ["logout", "1001"]).output == "1001 logged out of support\n"
    monkeypatch.setenv("IVR_AMI_SECRET", "wrong")
    denied = runner.invoke(app, ["list"])
    assert denied.exit_code == 1 and "login refused" in denied.output


def test_cli_bad_queues_yaml_names_the_line(cli_env: Path) -> None:
    from ivr.cli.agents import app

    (cli_env / "queues.yaml").write_text("queues:\n  support: {stratgy: linear}\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["list"])
    assert out.exit_code == 1 and "line 2: queue 'support', field stratgy" in out.output


def test_cli_vip_list(cli_env: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.cli.agents import app

    monkeypatch.setenv("IVR_REDIS_URL", redis_url)
    runner = CliRunner()
    assert runner.invoke(app, ["vip-add", "+86 139-0000-1111"]).output == "VIP 13900001111\n"
    assert runner.invoke(app, ["vip-list"]).output == "13800138000\n13900001111\n"
    assert runner.invoke(app, ["vip-remove", "13900001111"]).output == "removed\n"
    bad = runner.invoke(app, ["vip-add", "anonymous"])
    assert bad.exit_code == 1 and "not a phone number" in bad.output
