"""The live demo's hotline: every part the product is made of, as the processes production runs.

redis-server and the private Asterisk on free loopback ports in a work dir; then the product's own
entry points as subprocesses configured only by IVR_* variables (the code path of production):
`ivr serve` (FastAGI, AMI listener, callback dialer), `ivr transcribe worker` and `ivr dashboard`.
The flows are a copy of ivr/flows/ in the work dir with two demo edits to queues.yaml, printed at
start: agent 1009 (a softphone on this machine may register as it) and the peak overflow threshold
scaled to demo call lengths (calls last seconds, not minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.asyncio import Redis as AsyncRedis
from ruamel.yaml import YAML

from dashboard.users import UserStore
from harness.demo.processes import Child, Processes
from harness.ports import free_port, wait_tcp
from harness.sipp import free_sip_port
from ivr import keys
from ivr.asterisk.config import RuntimeOptions
from ivr.asterisk.process import AsteriskInstance
from ivr.queueing.agents import AgentControl
from ivr.queueing.ami import connect_ami
from ivr.queueing.config import load_queue_config
from ivr.settings import REPO_ROOT, Settings, load_settings

SOFTPHONE_AGENT = "1009"
PRODUCT = ("redis", "ivr serve", "ivr transcribe worker", "ivr dashboard")
PEAK_CALLERS_PER_AGENT = 1  # queues.yaml says 4: with 10 s calls a demo queue never gets that long


@dataclass
class Logins:
    supervisor: tuple[str, str]
    admin: tuple[str, str]
    agent_secret: str


@dataclass
class Stack:
    work: Path
    agent_contacts: dict[str, str]
    customer_port: int
    procs: Processes = field(default_factory=Processes)
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    asterisk: AsteriskInstance | None = None
    logins: Logins | None = None

    # -- configuration
    def configure(self) -> Settings:
        """The IVR_* environment of every child (and of this process, for Asterisk's config)."""
        base = load_settings()
        rtp = 42000 + (free_port() % 60) * 100
        self.logins = Logins(("supervisor", secrets.token_urlsafe(9)), ("admin", secrets.token_urlsafe(9)),
                             secrets.token_urlsafe(12))
        self.env = {
            "IVR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "IVR_SIP_PORT": str(free_sip_port()), "IVR_AMI_PORT": str(free_port()),
            "IVR_AGI_PORT": str(free_port()), "IVR_DASHBOARD_PORT": str(free_port()),
            "IVR_DASHBOARD_HOST": "127.0.0.1", "IVR_DASHBOARD_PRODUCTION": "false",
            "IVR_AMI_SECRET": secrets.token_urlsafe(18),
            "IVR_RTP_PORT_START": str(rtp), "IVR_RTP_PORT_END": str(rtp + 99),
            "IVR_STATE_DIR": str(self.work / "state"), "IVR_RECORDINGS_DIR": str(self.work / "recordings"),
            "IVR_PROMPTS_DIR": str(base.prompts_path),  # shared cache: prompts are synthesized once
            "IVR_FLOWS_DIR": str(demo_flows(self.work / "flows")),
            "IVR_CALLBACK_DIAL": f"PJSIP/callers/sip:{{number}}@127.0.0.1:{self.customer_port}",
            "IVR_CALLBACK_POLL_S": "2", "IVR_AGI_DRAIN_TIMEOUT": "2",
            f"IVR_AGENT_SECRET_{SOFTPHONE_AGENT}": self.logins.agent_secret,
        }
        os.environ.update(self.env)
        self.settings = load_settings()
        return self.settings

    @property
    def child_env(self) -> dict[str, str]:
        return {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}

    # -- start
    def start_redis(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise FileNotFoundError("redis-server not found: install the Debian package redis-server")
        port = self._settings.redis_url.rsplit(":", 1)[1].split("/")[0]
        (self.work / "redis").mkdir(parents=True, exist_ok=True)
        self.procs.spawn("redis", [exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                   "no", "--dir", str(self.work / "redis")], log=self.work / "redis.log")
        wait_tcp(int(port))

    def start_asterisk(self) -> AsteriskInstance:
        options = RuntimeOptions(agent_contacts=self.agent_contacts)
        ast = AsteriskInstance(self._settings, self.work / "asterisk", options)
        ast.start(timeout=60, detach=True)  # its own session: the terminal's Ctrl-C reaches only us
        pid = ast.pid()
        if pid is not None:
            self.procs.adopt(pid)
        self.asterisk = ast
        return ast

    def start_product(self) -> None:
        """`ivr serve`, `ivr dashboard`, `ivr transcribe worker`: the production entry points."""
        ivr = [sys.executable, "-m", "ivr.cli.main"]
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        serve = self.procs.spawn("ivr serve", [*ivr, "serve"], env=self.child_env, log=logs / "serve.log",
                                 cwd=REPO_ROOT)
        worker = self.procs.spawn("ivr transcribe worker", [*ivr, "transcribe", "worker"], env=self.child_env,
                         log=logs / "transcribe-worker.log", cwd=REPO_ROOT)
        dashboard = self.procs.spawn("ivr dashboard", [*ivr, "dashboard", "--log-level", "warning"],
                                     env=self.child_env, log=logs / "dashboard.log", cwd=REPO_ROOT)
        wait_ready(serve, self._settings.agi_port, timeout=180)  # the first run synthesizes every prompt first
        wait_ready(dashboard, self._settings.dashboard_port, timeout=60)
        if worker.proc.poll() is not None:
            raise StartError(f"ivr transcribe worker exited: {log_tail(worker)}")

    def add_users(self) -> None:
        """Random demo passwords, made with the dashboard's own UserStore (argon2), before it starts."""
        logins = self.logins
        assert logins is not None

        async def go() -> None:
            r = AsyncRedis.from_url(self._settings.redis_url, decode_responses=True)
            try:
                store = UserStore(r)
                await store.add(logins.supervisor[0], "supervisor", logins.supervisor[1])
                await store.add(logins.admin[0], "admin", logins.admin[1])
            finally:
                await r.aclose()

        asyncio.run(go())

    def login_agents(self, agents: list[str]) -> None:
        """Each agent into every queue queues.yaml gives them (AgentControl, as `ivr agents login`)."""
        cfg = load_queue_config(self._settings.flows_dir / "queues.yaml")

        async def go(control: AgentControl) -> None:
            for agent in agents:
                for queue in cfg.agents[agent].queues:
                    await control.login(queue, agent)

        self._agents(go)

    def pause(self, agent: str, reason: str | None) -> None:
        """Pause `agent` in all their queues with `reason` (shown on the wallboard); None unpauses."""

        async def go(control: AgentControl) -> None:
            if reason is None:
                await control.unpause(agent)
            else:
                await control.pause(agent, reason)

        self._agents(go)

    def _agents(self, action: Callable[[AgentControl], Awaitable[None]]) -> None:
        cfg = load_queue_config(self._settings.flows_dir / "queues.yaml")

        async def go() -> None:
            manager = await connect_ami(self._settings)
            try:
                await action(AgentControl(manager, cfg))
            finally:
                manager.close()

        asyncio.run(go())

    # -- run time
    def set_override(self, schedule: str, value: str | None) -> None:
        client = redis.Redis.from_url(self._settings.redis_url)
        try:
            if value is None:
                client.delete(keys.schedule_override(schedule))
            else:
                client.set(keys.schedule_override(schedule), json.dumps(value))
        finally:
            client.close()

    def stop(self) -> None:
        """The product first (it drains), then Asterisk (its hangup handlers still reach Redis), Redis last."""
        for child in reversed(self.procs.children):
            if child.name != "redis":
                self.procs.stop(child)
        if self.asterisk is not None:
            try:
                self.asterisk.stop(timeout=10)
            except Exception as exc:  # stop the rest whatever happens here
                print(f"Asterisk did not stop cleanly ({exc}); killing it")
        self.procs.stop_all(timeout=10)

    @property
    def _settings(self) -> Settings:
        assert self.settings is not None, "configure() first"
        return self.settings


class StartError(RuntimeError):
    """A part of the hotline did not start; the message ends with its log."""


def log_tail(child: Child, lines: int = 15) -> str:
    if child.log is None or not child.log.exists():
        return "(no log)"
    return f"{child.log}:\n" + "\n".join(child.log.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(child: Child, port: int, timeout: float) -> None:
    """Until `child` listens on `port`; StartError with its log when it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise StartError(f"{child.name} exited with {child.proc.returncode}: {log_tail(child)}")
        try:
            wait_tcp(port, timeout=1.0)
            return
        except TimeoutError:
            continue
    raise StartError(f"{child.name} not listening on {port} after {timeout:g}s: {log_tail(child)}")


def demo_flows(target: Path) -> Path:
    """ivr/flows copied into the work dir, queues.yaml with the demo's two edits (module docstring)."""
    target.mkdir(parents=True, exist_ok=True)
    for f in (REPO_ROOT / "ivr" / "flows").glob("*.yaml"):
        shutil.copy(f, target / f.name)
    yaml = YAML(typ="rt")
    path = target / "queues.yaml"
    data: Any = yaml.load(path.read_text(encoding="utf-8"))
    data["agents"][SOFTPHONE_AGENT] = {"name": "演示 softphone", "queues": {"support": 2}}
    for rule in data["queues"]["support"]["overflow"]:
        if rule.get("during") == "peak" and "callers_per_agent_over" in rule["when"]:
            rule["when"]["callers_per_agent_over"] = PEAK_CALLERS_PER_AGENT
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return target


def udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)
