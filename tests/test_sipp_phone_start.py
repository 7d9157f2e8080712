"""A SIPp phone whose media port was taken between the harness's choice and SIPp's bind is started
again on other ports (seen in CI: a customer phone that never answered, its callbacks failing)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import sipp
from harness.sipp import MEDIA_SPAN, SippAgent, free_media_port
from tests.support.components import require

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def taken() -> Iterator[int]:
    """A UDP port held for the test, as another process would hold it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_a_media_port_comes_with_its_neighbours_free() -> None:
    for _ in range(20):
        base = free_media_port()
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(MEDIA_SPAN)]
        try:
            for offset, sock in enumerate(socks):
                sock.bind(("127.0.0.1", base + offset))  # raises if one of them is taken
        finally:
            for sock in socks:
                sock.close()


def test_a_phone_whose_media_port_is_taken_starts_on_another(
    taken: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("sipp", "SIPp (Debian sip-tester)")
    choices = iter([taken])
    monkeypatch.setattr(sipp, "free_media_port", lambda: next(choices, None) or free_media_port())
    phone = SippAgent("1001", 300, 1000, tmp_path)
    phone.start()
    try:
        assert phone.pid is not None and phone._proc is not None and phone._proc.poll() is None
        assert next(choices, None) is None  # the taken port was tried first
    finally:
        phone.stop()


def test_a_phone_that_fails_for_another_reason_says_why(taken: int, tmp_path: Path) -> None:
    require("sipp", "SIPp (Debian sip-tester)")
    phone = SippAgent("1001", 300, 1000, tmp_path)
    phone.port = taken  # its SIP port: not a media port, so no retry
    with pytest.raises(sipp.SippError, match="1001's phone"):
        phone.start()
