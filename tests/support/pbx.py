"""A private Asterisk for tests: started on the settings' ports, stopped after; a missing build
fails under CI=true (a skip elsewhere). `dashboard_pbx`: one for the dashboard tests that talk AMI
to it (shipped flows/queues, own ports)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ivr.asterisk.build import AsteriskNotBuilt
from ivr.asterisk.config import RuntimeOptions
from ivr.asterisk.process import AsteriskInstance
from ivr.settings import Settings
from tests.dashboard_support import dashboard_settings
from tests.support.components import free_port, missing

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def running_asterisk(settings: Settings, workdir: Path, options: RuntimeOptions) -> Iterator[AsteriskInstance]:
    try:
        inst = AsteriskInstance(settings, workdir, options)
    except AsteriskNotBuilt as exc:
        missing(f"Asterisk build ({exc})")
    inst.start(timeout=60)
    try:
        yield inst
    finally:
        inst.stop()


@contextmanager
def dashboard_pbx(root: Path, redis_url: str, ami_secret: str, extra_dialplan: str = "") -> Iterator[Settings]:
    settings = dashboard_settings(redis_url, root, sip_port=free_port(), ami_port=free_port(),
                                  agi_port=free_port(), ami_secret=ami_secret)
    for f in (REPO / "ivr" / "flows").glob("*.yaml"):
        shutil.copy(f, settings.flows_dir / f.name)
    with running_asterisk(settings, root / "asterisk", RuntimeOptions(extra_dialplan=extra_dialplan)):
        yield settings
