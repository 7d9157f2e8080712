"""Asterisk's side of queues.yaml: queues.conf and the agents' pjsip.conf sections (generated only).
The names the queue code shares with this config (member interface, exit context, ring cycle) are
in ivr.queueing.pbx.

Design choices (docs/queues.md has the long form):
- A member rings `rings` ring cycles (`timeout`), then the next member rings after `retry` seconds.
- `ringinuse=no`: an agent already on a call is never rung.
- `joinempty=yes`, `leavewhenempty=no`: Asterisk never refuses or ejects a caller because no agent
  is there; our overflow rules decide (they know peak hours and record a reason).
- `announce-position`, `announce-holdtime`, periodic announcements OFF: we announce position and OUR
  wait estimate in the caller's language; app_queue's average hold time ignores staffing.
- `autopause=no`: Asterisk pauses after ONE missed call; policy wants N, so the AMI listener counts
  misses (ivr.queueing.misses.MissCounter) and pauses with a stated reason.
- `timeoutpriority=conf`: when the engine's Queue() timeout (next announcement) expires while an
  agent's phone rings, the ring is not cut short.
- `monitor-format=wav` (queues.yaml `record: true`, the default): when an agent answers, app_queue
  starts MixMonitor on the caller's channel with the file names the dialplan set in [ivr-recording]
  (ivr.asterisk.recording_conf); only bridged audio is recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ivr.queueing.model import QueueConfig, QueueDef
from ivr.queueing.pbx import EXIT_CONTEXT, ring_cycle
from ivr.settings import Settings

AGENT_CONTEXT = "ivr-agents"  # calls placed BY agent phones (the dialplan decides what they may reach)
HEADER = "; GENERATED from ivr/flows/queues.yaml by ivr.asterisk.queues_conf: do not edit by hand\n"


class AgentEndpointError(ValueError):
    """An agent's pjsip section cannot be rendered safely (no password and no static contact, bad URI)."""


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _queue_section(name: str, q: QueueDef, timeout_s: int) -> list[str]:
    return [
        f"[{name}]",
        f"strategy={q.strategy}",
        f"timeout={timeout_s}            ; the policy's ring count x this deployment's ring cycle",
        f"retry={q.retry_s}",
        f"wrapuptime={q.wrapup_s}",
        f"weight={q.weight}",
        f"musicclass={q.musicclass}",
        "ringinuse=no            ; never ring an agent who is on a call",
        "autofill=yes            ; several waiting callers are offered to several free agents at once",
        "joinempty=yes           ; always admit: our overflow rules decide, with a recorded reason",
        "leavewhenempty=no",
        "announce-position=no    ; we announce position and OUR estimate, in the caller's language",
        "announce-holdtime=no",
        "announce-frequency=0",
        "periodic-announce-frequency=0",
        "reportholdtime=no",
        "autopause=no            ; our MissCounter pauses after N misses in a row, with a reason",
        "autopausebusy=no",
        "autopauseunavail=no",
        "timeoutpriority=conf    ; the engine's announcement timeout never cuts a ringing agent short",
        "timeoutrestart=no",
        f"servicelevel={timeout_s}",
        "maxlen=0",
        "setinterfacevar=yes     ; MEMBERINTERFACE/MEMBERNAME on the bridged call for the record",
        "setqueueentryvar=yes    ; QEHOLDTIME/QEORIGINALPOS on the caller's channel",
        "setqueuevar=yes",
        f"context={EXIT_CONTEXT}  ; a single digit (the callback key) leaves the queue to our dialplan",
        *(["monitor-format=wav      ; record answered calls: MixMonitor, names from [ivr-recording]"]
          if q.record else []),
        "",
    ]


def render_queues_conf(cfg: QueueConfig, settings: Settings | None = None) -> str:
    """queues.conf for every queue of `cfg`; members are dynamic (agents log in through AMI)."""
    timeout_s = cfg.ring_timeout_s(ring_cycle(cfg, settings))
    lines = [
        HEADER.rstrip("\n"),
        "[general]",
        "persistentmembers=yes   ; logged-in agents survive an Asterisk restart",
        "shared_lastcall=yes     ; wrap-up time counts across all the queues an agent is in",
        "log_membername_as_agent=yes",
        "",
    ]
    for name, queue in cfg.queues.items():
        lines += _queue_section(name, queue, timeout_s)
    return "\n".join(lines)


def _check_contact(agent_id: str, uri: str) -> str:
    if not uri.startswith(("sip:", "sips:")) or any(c in uri for c in "\r\n;, "):
        raise AgentEndpointError(f"agent {agent_id!r}: contact {uri!r} must be one sip: URI (no ;, or space)")
    return uri


def _agent_sections(agent_id: str, name: str, contact: str | None, secret: str | None) -> list[str]:
    endpoint = [
        f"[{agent_id}]",
        "type=endpoint",
        f"context={AGENT_CONTEXT}",
        "disallow=all",
        "allow=ulaw,alaw",
        "dtmf_mode=rfc4733",
        f"aors={agent_id}",
        f'callerid="{name}" <{agent_id}>',
        "direct_media=no         ; media stays on Asterisk so calls can be recorded",
        "rtp_symmetric=yes",
        "force_rport=yes",
        "rewrite_contact=yes",
    ]
    if secret is not None:
        endpoint.append(f"auth={agent_id}-auth")
    aor = [f"[{agent_id}]", "type=aor", "max_contacts=1", "remove_existing=yes"]
    if contact is not None:
        # A static contact (test UAS) is not qualified: OPTIONS would derail a scripted SIPp scenario.
        aor += [f"contact={_check_contact(agent_id, contact)}", "qualify_frequency=0"]
    else:
        aor.append("qualify_frequency=30     ; an unreachable phone shows as unavailable and is not rung")
    sections = [*endpoint, "", *aor, ""]
    if secret is not None:
        if any(c in secret for c in "\r\n;") or not secret:
            raise AgentEndpointError(f"agent {agent_id!r}: password is empty or has ; or a newline")
        sections += [f"[{agent_id}-auth]", "type=auth", "auth_type=userpass",
                     f"username={agent_id}", f"password={secret}", ""]
    return sections


def render_agent_endpoints(
    cfg: QueueConfig,
    contacts: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> str:
    """pjsip.conf endpoint/aor/auth sections for every agent.

    `contacts` (agent -> sip: URI) is a runtime overlay of static contacts, e.g. SIPp agents in tests.
    An agent phone that registers needs a password in `secrets`; one with neither is refused, because
    an endpoint without auth would accept a registration from anyone.
    """
    contacts = contacts or {}
    secrets = secrets or {}
    unknown = sorted((set(contacts) | set(secrets)) - set(cfg.agents))
    if unknown:
        known = sorted(cfg.agents)
        raise AgentEndpointError(f"contacts/secrets for unknown agent(s) {unknown}; known: {known}")
    lines = [HEADER]
    for agent_id, agent in cfg.agents.items():
        contact, secret = contacts.get(agent_id), secrets.get(agent_id)
        if contact is None and secret is None:
            raise AgentEndpointError(
                f"agent {agent_id!r}: no SIP password (set IVR_AGENT_SECRET_{agent_id}) and no static contact"
            )
        lines += _agent_sections(agent_id, agent.name, contact, secret)
    return "\n".join(lines)


def agent_secrets_from_env(cfg: QueueConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Agent SIP passwords from IVR_AGENT_SECRET_<agent id>: secrets stay out of the repository."""
    env = os.environ if environ is None else environ
    return {a: env[f"IVR_AGENT_SECRET_{a}"] for a in cfg.agents if env.get(f"IVR_AGENT_SECRET_{a}")}
