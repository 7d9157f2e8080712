"""Real components for tests: find them, start them, fail (never skip) under CI."""

from __future__ import annotations

import os
import shutil

import pytest

from harness.local_redis import LocalRedis
from harness.ports import free_port

__all__ = ["IN_CI", "RedisServer", "free_port", "missing", "require"]  # free_port: the harness's one helper

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(tool: str, why: str) -> str:
    """Path to an executable. Missing: a failure under CI=true, a skip on a developer machine."""
    path = shutil.which(tool)
    if path:
        return path
    msg = f"{tool} not found ({why}); run `make test` to install it"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is missing (required under CI=true)")
    pytest.skip(f"{what} is missing")


class RedisServer(LocalRedis):
    """A private redis-server for tests; missing redis-server fails under CI=true."""

    def start(self) -> None:
        require("redis-server", "real Redis for live state")
        super().start()
