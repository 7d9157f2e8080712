"""Secrets in the rendered Asterisk config: what production refuses, and owner-only files.

The AMI secret goes into manager.conf and the agents' SIP passwords into pjsip_agents.conf; the
AGI wrappers carry the deployment's settings. All of them are written 0600 in a 0700 runtime dir
(Asterisk runs as our user), and in production mode (IVR_DASHBOARD_PRODUCTION=true, the mode the
dashboard already enforces for its users) a default, empty or short secret stops the render, and
`ivr serve` (which logs in to AMI with it) refuses to start; `ivr doctor` reports it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ivr.settings import Settings

MIN_SECRET_LENGTH = 16
# Shipped or widely used defaults: refused in production whatever their length.
DEFAULT_SECRETS = frozenset({"change-me", "changeme", "secret", "password", "admin", "hotline", "asterisk"})
# A line break or ";" in manager.conf would end the secret and start a line of its own (write = all).
_CONFIG_BREAKERS = re.compile(r"[\r\n;]")
# IVR_* variables a classic AGI script or the recording hook never needs: kept out of the wrappers.
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN", re.IGNORECASE)


class InsecureSecret(ValueError):
    """A secret that cannot go into the rendered config (names the setting)."""


def secret_problem(value: str, production: bool) -> str | None:
    """Why `value` is refused (None: accepted). Config breakers are refused in every mode."""
    if _CONFIG_BREAKERS.search(value):
        return "contains a line break or ';' (it would change manager.conf)"
    if not production:
        return None
    if not value:
        return "is empty"
    if value.lower() in DEFAULT_SECRETS:
        return f"is the default {value!r}"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is {len(value)} characters long; production needs at least {MIN_SECRET_LENGTH}"
    return None


def secret_problems(settings: Settings, agent_secrets: Mapping[str, str] | None = None) -> list[str]:
    """Every bad secret, named by its setting (IVR_AMI_SECRET, IVR_AGENT_SECRET_<id>), with why."""
    named = {"IVR_AMI_SECRET": settings.ami_secret}
    named.update({f"IVR_AGENT_SECRET_{agent}": s for agent, s in sorted((agent_secrets or {}).items())})
    return [f"{name} {why}" for name, value in named.items()
            if (why := secret_problem(value, settings.dashboard_production)) is not None]


def check_secrets(settings: Settings, agent_secrets: Mapping[str, str] | None = None,
                  refused: str = "Asterisk config not rendered") -> None:
    """Raise InsecureSecret naming every bad secret; `refused` says what did not happen.

    Checked wherever a secret is used, not only at render: `ivr serve` logs in to AMI with
    IVR_AMI_SECRET, and a manager.conf rendered elsewhere (or by hand) escapes the render's check."""
    problems = secret_problems(settings, agent_secrets)
    if problems:
        mode = " (production mode: IVR_DASHBOARD_PRODUCTION=true)" if settings.dashboard_production else ""
        raise InsecureSecret(f"{refused}{mode}: " + "; ".join(problems))


def wrapper_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The IVR_* variables a wrapper exports: every setting except secrets (least privilege)."""
    return {k: v for k, v in environ.items() if k.startswith("IVR_") and not _SECRET_NAME.search(k)}


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write `text` so that no other user can read it, not even for a moment (the file is created
    with `mode`, and an existing file's mode is tightened before the new text goes in)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), mode)
        out.write(text)
    return path

