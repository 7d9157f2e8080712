"""systemd units for a production hotline, rendered from the settings (`ivr services render`).

Every unit runs as the dedicated user (IVR_SERVICE_USER) with `Restart=always` and reads the
`IVR_*` settings from one environment file (IVR_SERVICE_ENV_FILE, written 0600): no secret ever
appears in a unit. A value that systemd would read differently from what we meant (a path with a
space, `%` or `$`, a user name with a quote) is refused with the setting it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ivr.asterisk.private import write_private
from ivr.deploy.envfile import render_env_file
from ivr.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Paths go unquoted into ExecStart=, ReadWritePaths= and tmpfiles.d lines: no space, %, $, quotes.
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+@-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@-]+\.(service|target)$")
_HOMES = ("/home", "/root", "/run/user")
ENV_FILE_NAME = "hotline-ivr.env"


class UnitError(ValueError):
    """A setting that cannot go into a unit file (the message names it)."""


@dataclass(frozen=True)
class RenderedServices:
    out_dir: Path
    units: list[Path]
    env_file: Path
    worker_instances: list[str]


def safe_path(path: Path, setting: str) -> str:
    text = str(path)
    if not _SAFE_PATH.match(text) or "/../" in f"{text}/":
        raise UnitError(f"{setting}={text!r}: a service path must be absolute and use only "
                        "letters, digits and . _ / + @ - (no spaces, %, $, quotes)")
    return text


def _unit_name(value: str, setting: str) -> str:
    if not _UNIT.match(value):
        raise UnitError(f"{setting}={value!r}: not a systemd unit name (e.g. redis-server.service)")
    return value


def _rw_paths(settings: Settings, *extra: Path) -> list[str]:
    """The writable dirs, without one that lies inside another (systemd would mount it twice)."""
    named = [(settings.state_dir, "IVR_STATE_DIR"), (settings.recordings_dir, "IVR_RECORDINGS_DIR"),
             (settings.prompts_path, "IVR_PROMPTS_DIR")] + [(p, "IVR_FLOWS_DIR") for p in extra]
    paths = sorted({Path(safe_path(p, name)) for p, name in named})
    return [str(p) for p in paths if not any(q != p and p.is_relative_to(q) for q in paths)]


def _protect_home(paths: list[str]) -> str:
    # ProtectHome=yes would hide a checkout or state dir that lives under a home directory.
    under_home = any(p == h or p.startswith(h + "/") for p in paths for h in _HOMES)
    return "read-only" if under_home else "yes"


def unit_texts(settings: Settings, ivr: Path, workdir: Path) -> dict[str, str]:
    """File name -> text of every unit (and the sysusers/tmpfiles snippets)."""
    user = settings.service_user
    if not _USER.match(user):
        raise UnitError(f"IVR_SERVICE_USER={user!r}: a system user name is 1-32 of a-z 0-9 _ -")
    ivr_text, workdir_text = safe_path(ivr, "ivr executable"), safe_path(workdir, "working directory")
    env_file = safe_path(settings.service_env_file, "IVR_SERVICE_ENV_FILE")
    redis_unit = _unit_name(settings.service_redis_unit, "IVR_SERVICE_REDIS_UNIT")
    own_asterisk = not settings.service_asterisk_unit
    asterisk_unit = ("hotline-asterisk.service" if own_asterisk
                     else _unit_name(settings.service_asterisk_unit, "IVR_SERVICE_ASTERISK_UNIT"))
    workers = [f"hotline-transcribe@{i}.service" for i in range(1, settings.service_workers + 1)]
    members = ["hotline-serve.service", "hotline-dashboard.service", *workers]
    if settings.liveqa_ami_secret:  # without its AMI user `ivr liveqa` refuses to start
        members.append("hotline-liveqa.service")
    if own_asterisk:
        members.insert(0, asterisk_unit)
    base = dict(settings=settings, user=user, ivr=ivr_text, workdir=workdir_text, env_file=env_file,
                redis_unit=redis_unit, asterisk_unit=asterisk_unit, workers=workers, members=members,
                stop_timeout=int(settings.agi_drain_timeout) + 15,
                asterisk_pidfile=safe_path(settings.state_dir / "asterisk" / "run" / "asterisk.pid",
                                           "IVR_STATE_DIR"))
    # The dashboard saves flows an admin edits; nothing else writes the flows dir.
    rw = {"hotline-serve.service": _rw_paths(settings),
          "hotline-dashboard.service": _rw_paths(settings, settings.flows_dir),
          "hotline-transcribe@.service": _rw_paths(settings),
          "hotline-liveqa.service": _rw_paths(settings)}
    if own_asterisk:
        rw["hotline-asterisk.service"] = _rw_paths(settings)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    all_rw = sorted({p for paths in rw.values() for p in paths})
    texts: dict[str, str] = {}
    for name, paths in rw.items():
        needed = [*paths, ivr_text, workdir_text]
        texts[name] = env.get_template(f"{name}.j2").render(
            **base, rw_paths=paths, protect_home=_protect_home(needed))
    for name in ("hotline.target", "hotline-ivr.sysusers", "hotline-ivr.tmpfiles"):
        texts[name] = env.get_template(f"{name}.j2").render(**base, all_rw_paths=all_rw)
    return texts


def render_services(settings: Settings, environ: Mapping[str, str], out_dir: Path, ivr: Path,
                    workdir: Path) -> RenderedServices:
    """Write the units (0644: no secret in them) and the environment file (0600) into `out_dir`."""
    texts = unit_texts(settings, ivr, workdir)
    env_text = render_env_file(environ)  # refuses a hostile value before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    units: list[Path] = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        units.append(path)
    env_path = write_private(out_dir / ENV_FILE_NAME, env_text)
    instances = [f"hotline-transcribe@{i}.service" for i in range(1, settings.service_workers + 1)]
    return RenderedServices(out_dir=out_dir, units=units, env_file=env_path, worker_instances=instances)
