"""The dashboard's tests: the app on a temp tree with its users, reached through the one `client`.

A module that needs other settings (the shipped queues in place, a fake clock, data written
before start-up) overrides the `settings` fixture; `client` serves the app built from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboard.app import create_app
from ivr.settings import Settings
from tests.dashboard_support import add_users, dashboard_settings


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return dashboard_settings(redis_url, tmp_path)


@pytest.fixture
def client(settings: Settings, redis_url: str) -> Iterator[TestClient]:
    add_users(redis_url)
    with TestClient(create_app(settings)) as c:
        yield c
