"""Fuzzing the AGI protocol module (hypothesis): whatever Asterisk, a scanner or a broken proxy sends,
the parser answers with a response or one of our typed errors, quickly, and the server keeps serving.

- pure parsing: thousands of lines, response/header/reply sequences, and quoting round trips
  through a re-implementation of res_agi.c's parse_args();
- over a real TCP socket: arbitrary bytes as the header or as the reply to a command reach a real
  FastAgiServer, the connection ends within the read timeout, and a well-formed call that follows
  is still served.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agi.channel import AgiChannel
from agi.protocol import (
    AgiError,
    AgiResponse,
    ReplyReader,
    format_command,
    parse_header_line,
    parse_response,
    quote_arg,
)
from agi.server import FastAgiServer
from tests.test_agi_protocol import asterisk_parse_args

# Lines that look like AGI often enough to reach the deep branches, plus anything at all.
_CODES = st.sampled_from(["100", "200", "510", "511", "520", "520-", "999", "20", "2000", ""])
_PIECES = st.sampled_from(["result=", "result=1", "(", ")", " ", "=", "a=b", "endpos=12", "\t", "\\", '"',
                           "HANGUP", "agi_", ":", "-", "\x00", "\r", "é", "张"])
_AGI_LIKE = st.builds(lambda c, parts: c + " " + "".join(parts), _CODES, st.lists(_PIECES, max_size=30))
_LINES = st.one_of(_AGI_LIKE, st.text(max_size=300), st.just("HANGUP"))
_SLOW = 0.05  # seconds: a regex that backtracks would take far longer on these lengths


def _timed(fn: object, *args: object) -> object:
    start = time.perf_counter()
    try:
        return fn(*args)  # type: ignore[operator]
    finally:
        assert time.perf_counter() - start < _SLOW


@settings(max_examples=3000, deadline=None)
@given(_LINES)
def test_parse_response_returns_a_response_or_a_typed_error(line: str) -> None:
    try:
        got = _timed(parse_response, line)
    except AgiError:
        return
    assert isinstance(got, AgiResponse) and 100 <= got.code <= 999


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(max_size=200), st.builds(lambda k, v: f"agi_{k}: {v}", st.text(max_size=20),
                                                  st.text(max_size=50))))
def test_parse_header_line_returns_a_pair_or_a_typed_error(line: str) -> None:
    try:
        key, value = _timed(parse_header_line, line)  # type: ignore[misc]
    except AgiError:
        return
    assert key.startswith("agi_") and "\n" not in value


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(_LINES, st.none()), min_size=1, max_size=20))
def test_reply_reader_ends_in_a_response_or_a_typed_error(lines: list[str | None]) -> None:
    reader = ReplyReader("ANSWER")
    for line in lines:
        try:
            got = reader.feed(line)
        except AgiError:
            return
        if got is not None:
            assert got.code == 200
            return


_ARG = st.text(alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_ARG, max_size=6))
def test_quoted_arguments_reach_asterisk_unchanged(args: list[str]) -> None:
    try:
        line = format_command("EXEC", *args)
    except ValueError:  # only for a line over Asterisk's buffer, which these cannot reach
        pytest.fail("format_command refused a short line")
    assert asterisk_parse_args(line) == ["EXEC", *args]


@given(st.text(max_size=5).map(lambda s: s + "\n"))
def test_quote_arg_refuses_line_breaks(arg: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        quote_arg(arg)


# --- over a real socket -----------------------------------------------------------------------


class ServerThread:
    """A real FastAgiServer on its own event loop in a thread; tests talk to it with plain sockets."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.served: list[str] = []
        self.server: FastAgiServer | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _hotline(self, ch: AgiChannel) -> None:
        await ch.answer()
        self.served.append(ch.call_id)

    def start(self) -> int:
        self._thread.start()
        self.server = FastAgiServer({"hotline": self._hotline}.get, host="127.0.0.1", port=0,
                                    read_timeout=0.1, drain_timeout=1.0, refuse_linger=0.05)
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(5)
        return self.server.port

    def stop(self) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(self.server.stop(drain=False), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="module")
def agi_server() -> Iterator[tuple[ServerThread, int]]:
    thread = ServerThread()
    port = thread.start()
    yield thread, port
    thread.stop()


HEADER = b"agi_network: yes\nagi_network_script: hotline\nagi_uniqueid: %s\n\n"


def _talk(port: int, payload: bytes, answer: bytes | None = None) -> bytes:
    """Send `payload`; if `answer` is given, reply with it to the first command. Returns all we got."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(payload)
        got = b""
        if answer is not None:
            got = sock.recv(4096)
            try:
                sock.sendall(answer)
            except OSError:
                return got
        while True:
            try:
                chunk = sock.recv(4096)
            except (TimeoutError, ConnectionResetError):
                return got
            if not chunk:
                return got
            got += chunk


def _still_serves(thread: ServerThread, port: int, uid: str) -> None:
    assert _talk(port, HEADER % uid.encode(), b"200 result=0\n") == b"ANSWER\n"
    deadline = time.monotonic() + 3
    while uid not in thread.served:
        assert time.monotonic() < deadline, "the server stopped serving after garbage"
        time.sleep(0.01)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_garbage_header_ends_the_connection_and_the_server_serves_on(
    agi_server: tuple[ServerThread, int], garbage: bytes
) -> None:
    _, port = agi_server
    start = time.monotonic()
    _talk(port, garbage)  # returns when the server closes: FAILURE, or nothing for an early EOF
    assert time.monotonic() - start < 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), _LINES.map(lambda s: s.encode("utf-8", "replace"))))
def test_garbage_reply_to_a_command_ends_cleanly(agi_server: tuple[ServerThread, int], reply: bytes) -> None:
    _, port = agi_server
    start = time.monotonic()
    got = _talk(port, HEADER % b"fuzz.1", reply + b"\n")
    assert got.startswith(b"ANSWER\n")
    assert time.monotonic() - start < 3


@pytest.mark.timeout(30)
def test_after_the_fuzzing_a_good_call_is_served(agi_server: tuple[ServerThread, int]) -> None:
    thread, port = agi_server
    _talk(port, b"\xff\xfe garbage\n\n")
    _still_serves(thread, port, "after.1")
    assert thread.server is not None and thread.server.counters.bad_header >= 1
