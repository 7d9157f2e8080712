"""`ivr doctor`: checks of a deployment, each a small function returning what it found and the fix.

Every check is independent and bounded by a timeout, so one dead component never hides the
others: the report lists everything that is wrong at once.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ivr import keys
from ivr.asterisk.private import secret_problems
from ivr.prompts.synth import prompt_file
from ivr.queueing.ami import AmiError, connect_ami
from ivr.settings import Settings
from ivr.transcribe.models import ModelError, model_path


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""


async def check_ami(settings: Settings, limit_s: float = 3.0) -> Check:
    """Asterisk's AMI answers and accepts our login (IVR_AMI_USER/IVR_AMI_SECRET)."""
    names = "IVR_AMI_HOST, IVR_AMI_PORT, IVR_AMI_USER, IVR_AMI_SECRET"
    try:
        manager = await connect_ami(settings, limit_s)
    except AmiError as exc:  # its message names host:port
        return Check(False, f"AMI ({names}): {exc}",
                     "start Asterisk (`systemctl start hotline-asterisk` or `ivr asterisk start`) or point "
                     "IVR_AMI_HOST/IVR_AMI_PORT at yours; a refused login means IVR_AMI_USER/IVR_AMI_SECRET "
                     "differ from Asterisk's manager.conf")
    manager.close()
    return Check(True, f"AMI at {settings.ami_host}:{settings.ami_port}: logged in as {settings.ami_user!r}")


def check_ami_secret(settings: Settings) -> Check:
    """IVR_AMI_SECRET is one production accepts (not a default, empty or short one)."""
    problems = secret_problems(settings)
    if problems:
        return Check(False, f"AMI secret: {'; '.join(problems)} (`ivr serve` and the config render refuse it)",
                     "set a long random IVR_AMI_SECRET (e.g. `openssl rand -base64 24`), then "
                     "`ivr asterisk start` (or restart hotline-asterisk) and restart `ivr serve`")
    if not settings.dashboard_production:
        return Check(True, "AMI secret: not checked for strength (development mode; production, "
                           "IVR_DASHBOARD_PRODUCTION=true, refuses a default, empty or short one)")
    return Check(True, "AMI secret: accepted in production mode")


async def check_agi_port(settings: Settings, limit_s: float = 3.0) -> Check:
    """Something (our `ivr serve`) accepts connections on the FastAGI port Asterisk dials."""
    where = f"FastAGI server at {settings.agi_host}:{settings.agi_port} (IVR_AGI_HOST, IVR_AGI_PORT)"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(settings.agi_host, settings.agi_port), limit_s)
    except (OSError, TimeoutError) as exc:
        return Check(False, f"{where}: not accepting connections ({exc or 'timed out'})",
                     "start it (`systemctl start hotline-serve` or `ivr serve`); until then every call goes "
                     "to the fallback queue")
    writer.close()
    await writer.wait_closed()
    return Check(True, f"{where}: accepting connections")


async def check_redis(settings: Settings, limit_s: float = 3.0) -> Check:
    """Redis answers PING at IVR_REDIS_URL."""
    where = f"Redis at {settings.redis_url} (IVR_REDIS_URL)"
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=limit_s, socket_timeout=limit_s)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return Check(False, f"{where}: unreachable ({exc})",
                     "start Redis (`systemctl start redis-server`) or set IVR_REDIS_URL to where it runs")
    finally:
        await client.aclose()
    return Check(True, f"{where}: answers")


async def check_users(settings: Settings, limit_s: float = 3.0) -> Check:
    """The dashboard has users, none with the development default password."""
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=limit_s, socket_timeout=limit_s,
                            decode_responses=True)
    try:
        raw = {str(k): str(v) for k, v in (await client.hgetall(keys.DASHBOARD_USERS)).items()}
    except (RedisError, OSError) as exc:
        return Check(False, f"dashboard users: not checked, Redis at {settings.redis_url} unreachable ({exc})",
                     "fix Redis first (see above)")
    finally:
        await client.aclose()
    if not raw:
        return Check(False, "dashboard users: none (the dashboard refuses to start in production)",
                     "create an admin: ivr users add NAME --role admin")
    flagged = sorted(name for name, data in raw.items() if json.loads(data).get("default_password"))
    if flagged:
        return Check(False, f"dashboard users: {', '.join(flagged)} still have the default password",
                     "set one: ivr users passwd NAME")
    return Check(True, f"dashboard users: {len(raw)}")


def check_vosk_models(settings: Settings) -> list[Check]:
    """Each configured language (IVR_VOSK_MODELS and IVR_DEFAULT_LANGUAGE) has a Vosk model."""
    languages = sorted({*settings.vosk_models, settings.default_language})
    out: list[Check] = []
    for language in languages:
        try:
            path = model_path(settings, language)
        except ModelError as exc:
            out.append(Check(False, f"Vosk model for {language!r}: {exc}",
                             "download the language's model from https://alphacephei.com/vosk/models, unpack "
                             "it and set IVR_VOSK_MODELS (docs/transcription.md)"))
        else:
            out.append(Check(True, f"Vosk model for {language!r}: {path}"))
    return out


def check_writable(path: Path, setting: str) -> Check:
    """The service user can create files in `path`."""
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ivr-doctor-"):
            pass
    except OSError as exc:
        return Check(False, f"{setting} {path}: not writable ({exc.strerror or exc})",
                     f"create it for the service user: install -d -o USER -m 0750 {path} "
                     "(or systemd-tmpfiles --create hotline-ivr.conf)")
    return Check(True, f"{setting} {path}: writable")


def check_prompts(texts: Iterable[tuple[str, str]], errors: list[str], prompts_dir: Path) -> Check:
    """Every text prompt of every flow is synthesized (`ivr prompts build` ran after the last edit)."""
    wanted = list(dict.fromkeys(texts))
    missing = [t for t in wanted if not prompt_file(t[0], t[1], prompts_dir).with_suffix(".wav").is_file()]
    if errors:
        return Check(False, f"flows: {len(errors)} did not load: {errors[0]}", "fix it: ivr flows check")
    if missing:
        text, language = missing[0]
        return Check(False, f"prompts in {prompts_dir}: {len(missing)} of {len(wanted)} not built "
                            f"(e.g. {language} {text[:40]!r})", "build them: ivr prompts build")
    return Check(True, f"prompts in {prompts_dir}: all {len(wanted)} built")


async def run_checks(settings: Settings, prompt_texts: Iterable[tuple[str, str]], flow_errors: list[str],
                     limit_s: float = 3.0) -> list[Check]:
    """Every check, the network ones at the same time."""
    network = await asyncio.gather(check_ami(settings, limit_s), check_agi_port(settings, limit_s),
                                   check_redis(settings, limit_s), check_users(settings, limit_s))
    return [check_ami_secret(settings), *network, *check_vosk_models(settings),
            check_writable(settings.recordings_dir, "IVR_RECORDINGS_DIR"),
            check_writable(settings.state_dir, "IVR_STATE_DIR"),
            check_prompts(prompt_texts, flow_errors, settings.prompts_path)]
