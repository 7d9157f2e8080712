"""Render asterisk-config/ (Jinja2 templates of real Asterisk config) into a runtime dir.

Values that must match our settings (ports, AMI credentials, AGI address, paths) come
from Settings; queues and agent endpoints come from ivr/flows/queues.yaml, so nothing
is edited twice by hand.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import jinja2

from ivr.asterisk.private import (
    InsecureSecret,
    check_secrets,
    private_dir,
    secret_problem,
    wrapper_environment,
    write_private,
)
from ivr.asterisk.queues_conf import (
    AGENT_CONTEXT,
    agent_secrets_from_env,
    render_agent_endpoints,
    render_queues_conf,
)
from ivr.asterisk.recording_conf import recording_dialplan, recordings_root, timezone_name, write_recording_wrapper
from ivr.queueing.config import load_queue_config
from ivr.settings import REPO_ROOT, Settings, parse_agi_servers

log = logging.getLogger(__name__)

TEMPLATE_DIR = REPO_ROOT / "asterisk-config"
MOH_DIRS = (Path("/usr/share/asterisk/moh"),)
SOUNDS_DIRS = (Path("/usr/share/asterisk/sounds"),)


@dataclass
class RuntimeOptions:
    """Per-instance choices that are not deployment settings (tests vary them)."""

    default_flow: str = "hotline"
    fallback_queue: str | None = None  # None: Settings.fallback_queue
    fallback_queue_timeout: int = 300
    max_call_seconds: int = 7200
    caller_networks: tuple[str, ...] = ("127.0.0.1",)
    agent_contacts: Mapping[str, str] = field(default_factory=dict)
    extra_dialplan: str = ""  # appended to extensions_generated.conf (bench/ adds its contexts)


def _first_existing(candidates: tuple[Path, ...], what: str) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(f"{what} not found in {', '.join(map(str, candidates))}: run `make demo` to install")


def _context(settings: Settings, runtime: Path, prefix: Path, opts: RuntimeOptions) -> dict[str, Any]:
    return {
        "runtime": runtime,
        "prefix": prefix,
        "default_language": settings.default_language,
        "sip_bind": "127.0.0.1",
        "sip_port": settings.sip_port,
        "rtp_port_start": settings.rtp_port_start,
        "rtp_port_end": settings.rtp_port_end,
        "ami_bind": settings.ami_host,
        "ami_port": settings.ami_port,
        "ami_user": settings.ami_user,
        "ami_secret": settings.ami_secret,
        "liveqa_ami_user": settings.liveqa_ami_user,
        "liveqa_ami_secret": settings.liveqa_ami_secret,
        "agi_servers": agi_servers(settings),
        "recordings_dir": recordings_root(settings),
        "timezone": timezone_name(settings),
        "moh_dir": _first_existing(MOH_DIRS, "music on hold (asterisk-moh-opsound-gsm)"),
        "default_flow": opts.default_flow,
        "fallback_queue": opts.fallback_queue or settings.fallback_queue,
        "fallback_queue_timeout": opts.fallback_queue_timeout,
        "max_call_seconds": opts.max_call_seconds,
        "caller_networks": opts.caller_networks,
    }


def agi_servers(settings: Settings) -> list[str]:
    """The FastAGI servers the dialplan tries, in order: IVR_AGI_SERVERS, else IVR_AGI_HOST:IVR_AGI_PORT.
    Each passes the settings' allow-list (host name or address, port) again before it reaches the dialplan."""
    pairs = parse_agi_servers(settings.agi_servers or f"{settings.agi_host}:{settings.agi_port}")
    if not pairs:
        raise ValueError("IVR_AGI_SERVERS lists no server")
    return [f"{host}:{port}" for host, port in pairs]


def _generated(settings: Settings, opts: RuntimeOptions) -> dict[str, str]:
    """Files derived from queues.yaml (the single source of truth for queues and agents)."""
    cfg = load_queue_config(settings.flows_dir / "queues.yaml")
    contacts = dict(opts.agent_contacts)
    secrets = agent_secrets_from_env(cfg)
    check_secrets(settings, secrets)
    liveqa = settings.liveqa_ami_secret  # "": live QA's AMI user is not rendered at all
    if liveqa and (why := secret_problem(liveqa, settings.dashboard_production)) is not None:
        raise InsecureSecret(f"Asterisk config not rendered: IVR_LIVEQA_AMI_SECRET {why}")
    for agent in cfg.agents:
        if agent not in contacts and agent not in secrets:
            # No password configured: the phone cannot register until IVR_AGENT_SECRET_<id> is set.
            log.warning("agent %s has no IVR_AGENT_SECRET_%s: its phone cannot register", agent, agent)
            secrets[agent] = token_urlsafe(24)
    return {
        "queues_generated.conf": render_queues_conf(cfg, settings),
        "pjsip_agents.conf": render_agent_endpoints(cfg, contacts, secrets),
        "extensions_generated.conf": _agent_dialplan(AGENT_CONTEXT) + opts.extra_dialplan,
        "extensions_recording.conf": recording_dialplan(settings),  # [ivr-recording], Gosub'd by [hotline-run]
    }


def _agent_dialplan(context: str) -> str:
    # Agents' phones only receive calls from the queue; anything they dial is refused.
    return f"; generated\n[{context}]\nexten => _X.,1,Hangup(21)\nexten => _[a-z].,1,Hangup(21)\n"


def _agi_wrapper(settings: Settings) -> str:
    # Classic AGI scripts run per call as children of Asterisk: give them our venv and settings
    # (not the secrets: they talk to Redis only), each value quoted for /bin/sh.
    env = wrapper_environment(os.environ)
    env["IVR_REDIS_URL"] = settings.redis_url
    env["IVR_RECORDINGS_DIR"] = str(settings.recordings_dir.resolve())
    env["IVR_CALL_RECORD_TTL_DAYS"] = str(settings.call_record_ttl_days)
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    return (f"#!/bin/sh\n{exports}cd {shlex.quote(str(REPO_ROOT))}\n"
            f"exec {shlex.quote(sys.executable)} -m agi.classic \"$@\"\n")


def render(settings: Settings, runtime: Path, prefix: Path, opts: RuntimeOptions | None = None) -> Path:
    """Write a complete config for one private instance; returns the asterisk.conf path."""
    opts = opts or RuntimeOptions()
    runtime = private_dir(runtime.resolve())  # holds the secrets: nobody else may even list it
    generated = _generated(settings, opts)  # refuses insecure secrets before anything is written
    for sub in ("etc", "lib", "lib/keys", "data", "agi-bin", "spool", "run", "log", "cache"):
        private_dir(runtime / sub)
    (settings.recordings_dir / "voicemail").mkdir(parents=True, exist_ok=True)
    sounds = runtime / "data" / "sounds"
    if not sounds.exists():
        sounds.symlink_to(_first_existing(SOUNDS_DIRS, "Asterisk core sounds (asterisk-core-sounds-en-gsm)"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False,
    )
    ctx = _context(settings, runtime, prefix, opts)
    etc = runtime / "etc"
    for tpl in sorted(TEMPLATE_DIR.glob("*.conf")):
        write_private(etc / tpl.name, env.get_template(tpl.name).render(**ctx))
    for name, text in generated.items():
        write_private(etc / name, text)
    write_private(runtime / "agi-bin" / "hotline-agi", _agi_wrapper(settings), mode=0o700)
    write_recording_wrapper(settings, runtime / "agi-bin")
    return etc / "asterisk.conf"


def clean(runtime: Path) -> None:
    shutil.rmtree(runtime, ignore_errors=True)
