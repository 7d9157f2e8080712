"""End-to-end fixtures: real Redis, a private Asterisk on free ports, the FastAGI service, SIPp.

Under CI=true every component must be present: a missing one fails the test (never a skip)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.sipp import free_sip_port
from ivr.clock import MutableClock
from ivr.settings import Settings, load_settings
from tests.support.components import RedisServer, free_port, missing, require

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)   # business hours
SUNDAY_10AM = datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI)   # closed


@pytest.fixture(scope="session")
def e2e_settings(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    require("sipp", "real SIP calls (Debian sip-tester)")
    state = Path(tmp_path_factory.mktemp("state"))
    return load_settings(
        sip_port=free_sip_port(), ami_port=free_port(), agi_port=free_port(),
        redis_url=redis_server.url, state_dir=state, recordings_dir=state / "recordings",
        prompts_dir=Path(tmp_path_factory.getbasetemp()).parent / "prompts-cache",
        ami_secret="e2e-secret",
    )


@pytest.fixture(scope="session")
def asterisk(e2e_settings: Settings) -> Iterator[object]:
    from ivr.asterisk.build import AsteriskNotBuilt
    from ivr.asterisk.process import AsteriskInstance

    try:
        inst = AsteriskInstance(e2e_settings, e2e_settings.state_dir / "asterisk")
    except AsteriskNotBuilt as exc:
        missing(f"Asterisk build ({exc})")
    inst.start(timeout=60)
    yield inst
    inst.stop()


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock(MONDAY_10AM)


@pytest.fixture
def service(e2e_settings: Settings, asterisk: object, clock: MutableClock) -> Iterator[object]:
    from harness.service_thread import ServiceThread

    svc = ServiceThread(e2e_settings, clock)
    svc.start()
    yield svc
    svc.stop()
