"""A queue lab: a private Asterisk whose agents are SIPp phones, the real service, real Redis.

Used by the end-to-end queue tests (tests/e2e/test_queue_*.py) and the service-level simulation
(bench/queue_sim.py). The lab copies ivr/flows/ into its own directory and may patch queues.yaml
(shorter announcement delays, linear ringing for a deterministic order), because queues.conf and the
agents' pjsip sections are generated from that file. Agents' phones keep fixed ports so a test can
restart them with other ring/talk times; a "customer phone" answers queued callbacks.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from harness.ports import free_port
from harness.service_thread import ServiceThread
from harness.sipp import SippAgent, free_sip_port
from ivr.asterisk.config import RuntimeOptions
from ivr.asterisk.process import AsteriskInstance
from ivr.clock import Clock
from ivr.queueing.agents import AgentControl
from ivr.queueing.ami import connect_ami
from ivr.settings import REPO_ROOT, Settings

FLOWS = REPO_ROOT / "ivr" / "flows"
AGENTS = ("1001", "1002", "1003")
Patch = Callable[[dict[str, Any]], None]


def patched_flows(target: Path, patch: Patch | None) -> Path:
    """A copy of ivr/flows with queues.yaml edited by `patch` (a ruamel round-trip mapping)."""
    target.mkdir(parents=True, exist_ok=True)
    for f in FLOWS.glob("*.yaml"):
        shutil.copy(f, target / f.name)
    if patch is not None:
        yaml = YAML(typ="rt")
        data = yaml.load((target / "queues.yaml").read_text(encoding="utf-8"))
        patch(data)
        with (target / "queues.yaml").open("w", encoding="utf-8") as out:
            yaml.dump(data, out)
    return target


class QueueLab:
    def __init__(self, base: Settings, workdir: Path, clock: Clock, *, patch: Patch | None = None,
                 ring_cycle_s: float = 1.5, callback_poll_s: float = 0.5) -> None:
        self.workdir = workdir
        self.clock = clock
        self.ports = {a: free_port(socket.SOCK_DGRAM) for a in AGENTS}
        self.customer_port = free_port(socket.SOCK_DGRAM)
        rtp = 30000 + (free_port() % 200) * 100
        self.settings = base.model_copy(update={
            "sip_port": free_sip_port(), "ami_port": free_port(), "agi_port": free_port(),
            "rtp_port_start": rtp, "rtp_port_end": rtp + 99, "state_dir": workdir / "state",
            "recordings_dir": workdir / "recordings", "flows_dir": patched_flows(workdir / "flows", patch),
            "ring_cycle_s": ring_cycle_s, "callback_poll_s": callback_poll_s,
            "callback_dial": f"PJSIP/callers/sip:{{number}}@127.0.0.1:{self.customer_port}",
        })
        contacts = {a: f"sip:{a}@127.0.0.1:{p}" for a, p in self.ports.items()}
        self.asterisk = AsteriskInstance(self.settings, workdir / "asterisk", RuntimeOptions(agent_contacts=contacts))
        self.service: Any = None
        self._phones: list[SippAgent] = []

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.settings.sip_port}"

    def start(self) -> None:
        for _ in range(3):  # other SIPp processes on this machine may take the port before Asterisk binds it
            self.asterisk.start(timeout=60)
            log = self.asterisk.log_file
            if not log.exists() or "could not be started" not in log.read_text(errors="replace"):
                break
            self.asterisk.stop()
            log.unlink()
            self.settings = self.settings.model_copy(update={"sip_port": free_sip_port()})
            self.asterisk.settings = self.settings
        self.service = ServiceThread(self.settings, self.clock)
        self.service.start()
        self.run(self._wait_listener(), timeout=30)

    def stop(self) -> None:
        self.stop_phones()
        if self.service is not None:
            self.service.stop()
        self.asterisk.stop()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the service's event loop (AMI actions, Redis reads)."""
        return self.service.run(coro, timeout=timeout)

    async def _wait_listener(self) -> None:
        await asyncio.wait_for(self.service.service.listener.connected.wait(), 25)

    # -- phones
    def phone(self, agent: str, ring_ms: int, talk_ms: int) -> SippAgent:
        """Start agent `agent`'s phone (or the customer's, agent="customer") with these ring/talk times."""
        phone = SippAgent(agent, ring_ms=ring_ms, talk_ms=talk_ms, workdir=self.workdir / "phones")
        phone.port = self.customer_port if agent == "customer" else self.ports[agent]
        phone.start()
        self._phones.append(phone)
        return phone

    def stop_phones(self) -> None:
        for phone in self._phones:
            phone.stop()
        self._phones.clear()

    @contextmanager
    def phones(self, spec: dict[str, tuple[int, int]]) -> Iterator[dict[str, SippAgent]]:
        started = {a: self.phone(a, ring, talk) for a, (ring, talk) in spec.items()}
        try:
            yield started
        finally:
            for p in started.values():
                p.stop()
                self._phones.remove(p)

    # -- agents over AMI (AgentControl, as `ivr agents` does)
    def agents(self, action: str, queue: str | None, names: Iterable[str], reason: str = "") -> None:
        self.run(self._agents(action, queue, list(names), reason))

    async def _agents(self, action: str, queue: str | None, names: list[str], reason: str) -> None:
        manager = await connect_ami(self.settings)
        try:
            control = AgentControl(manager, self.service.service.listener.cfg)
            for name in names:
                if action == "login":
                    assert queue is not None
                    await control.login(queue, name)
                elif action == "logout":
                    await control.logout(name, queue)
                elif action == "pause":
                    await control.pause(name, reason or "test", queue)
                else:
                    await control.unpause(name, queue)
        finally:
            manager.close()

    def members(self, queue: str) -> list[Any]:
        async def go() -> list[Any]:
            manager = await connect_ami(self.settings)
            try:
                return await AgentControl(manager, self.service.service.listener.cfg).members(queue)
            finally:
                manager.close()

        result: list[Any] = self.run(go())
        return result
