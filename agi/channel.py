"""`AgiChannel`: the engine's `Channel` contract (ivr/engine/channel.py) over one FastAGI connection.

agi/ does not import the engine: the contract is a Protocol, and mypy holds AgiChannel to it where
the two meet (ivr/service.py hands the engine's handlers, which take a Channel, to FastAgiServer,
which calls them with an AgiChannel).

Timeouts: every command must be answered within `read_timeout` seconds, plus the time the
command itself is asked to wait (GET DATA, WAIT FOR DIGIT). So `read_timeout` must exceed the
longest prompt played with STREAM FILE. EXEC is different: Queue, Dial or Record run as long as
the caller waits, so `exec()` waits without limit unless given `timeout=`; a dead caller still
ends it, because Asterisk then answers with result -1 or closes the connection.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import NoReturn
from urllib.parse import parse_qsl

from agi.protocol import (
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiResponse,
    AgiTimeout,
    format_command,
    send_command,
)
from agi.stats import CommandStats

_DIGITS = frozenset("0123456789*#ABCD")


class _Default(enum.Enum):
    READ_TIMEOUT = enum.auto()


READ_TIMEOUT = _Default.READ_TIMEOUT
Timeout = float | None | _Default


def split_network_script(value: str) -> tuple[str, str]:
    """`/hotline?lang=en` -> ("hotline", "lang=en"): the route name and its raw query string."""
    name, _, query = value.lstrip("/").partition("?")
    return name, query


def env_from_header(header: Mapping[str, str]) -> dict[str, str]:
    """The header without the `agi_` prefix, plus `network_script_name` and `network_script_args`."""
    env = {key.removeprefix("agi_"): value for key, value in header.items()}
    env["network_script_name"], env["network_script_args"] = split_network_script(
        env.get("network_script", "")
    )
    return env


class AgiChannel:
    """One call over FastAGI. Commands run one at a time; every method raises AgiHangup
    (or AgiDeadChannel) when the caller has gone."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        header: Mapping[str, str],
        *,
        read_timeout: float | None,
        stats: CommandStats | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._env: Mapping[str, str] = MappingProxyType(env_from_header(header))
        self._read_timeout = read_timeout
        self._stats = stats if stats is not None else CommandStats()
        self._busy: str | None = None
        self._broken: str | None = None
        self.hung_up = False

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    @property
    def call_id(self) -> str:
        return self._env.get("uniqueid") or "?"

    @property
    def args(self) -> list[str]:
        """The AGI arguments (agi_arg_1, agi_arg_2, ...) in order."""
        out: list[str] = []
        while f"arg_{len(out) + 1}" in self._env:
            out.append(self._env[f"arg_{len(out) + 1}"])
        return out

    @property
    def script_args(self) -> dict[str, str]:
        """Query arguments of the AGI URL (agi://host/hotline?lang=en -> {"lang": "en"})."""
        return dict(parse_qsl(self._env["network_script_args"], keep_blank_values=True))

    @property
    def stats(self) -> CommandStats:
        return self._stats

    async def command(self, line: str, timeout: Timeout = READ_TIMEOUT) -> AgiResponse:  # noqa: ASYNC109
        """Send a raw, already quoted command line; returns the 200 response."""
        return await self._send(line.split(" ", 1)[0].upper(), line, timeout)

    async def run(self, verb: str, *args: str | int, timeout: Timeout = READ_TIMEOUT) -> AgiResponse:  # noqa: ASYNC109
        """Send `verb` with its arguments quoted for Asterisk; returns the 200 response."""
        return await self._send(verb, format_command(verb, *args), timeout)

    async def answer(self) -> None:
        if (await self.run("ANSWER")).result_int() == -1:
            await self._minus_one("ANSWER")

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        response = await self.run("STREAM FILE", path, escape_digits)
        return await self._digit_result(response, f"STREAM FILE {path!r}")

    async def get_data(self, path: str, timeout_ms: int, max_digits: int) -> str | None:
        waits = max(timeout_ms, 0) / 1000 * max(max_digits, 1)
        response = await self.run("GET DATA", path, timeout_ms, max_digits, timeout=self._plus(waits))
        if response.result == "-1":
            await self._minus_one(f"GET DATA {path!r}")
        if not set(response.result) <= _DIGITS:
            raise AgiProtocolError(f"call {self.call_id}: GET DATA returned non-digits {response.result!r}")
        return response.result  # "" when nothing was pressed, with or without "(timeout)"

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        timeout = None if timeout_ms < 0 else self._plus(timeout_ms / 1000)
        response = await self.run("WAIT FOR DIGIT", timeout_ms, timeout=timeout)
        return await self._digit_result(response, "WAIT FOR DIGIT")

    async def exec(self, app: str, *args: str, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Run a dialplan application; returns its result code. `timeout=None` waits as long as
        the application runs (a queue wait can last many minutes)."""
        if not app or any(c.isspace() for c in app):
            raise ValueError(f"bad dialplan application name {app!r}")
        response = await self.run("EXEC", app, *([",".join(args)] if args else []), timeout=timeout)
        code = response.result_int()
        if code == -2:
            raise AgiError(f"call {self.call_id}: dialplan application {app!r} not found (EXEC returned -2)")
        return code

    async def set_variable(self, name: str, value: str) -> None:
        await self.run("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        response = await self.run("GET VARIABLE", name)
        return (response.data or "") if response.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.run("VERBOSE", message, level)

    async def hangup(self) -> None:
        try:
            await self.run("HANGUP")
        except AgiHangup:
            pass  # already gone: hanging up is what we wanted

    def _plus(self, seconds: float) -> float | None:
        return None if self._read_timeout is None else self._read_timeout + seconds

    async def _digit_result(self, response: AgiResponse, what: str) -> str | None:
        code = response.result_int()
        if code == -1:
            await self._minus_one(what)
        if code == 0:
            return None
        if not 0 < code < 128 or chr(code) not in _DIGITS:
            raise AgiProtocolError(f"call {self.call_id}: {what} returned {code}, not a DTMF digit")
        return chr(code)

    async def _minus_one(self, what: str) -> NoReturn:
        # -1 means "hangup or error" (a missing sound file also gives -1). Asking for the channel
        # status tells them apart: on a dead channel it raises AgiHangup / AgiDeadChannel.
        status = await self.run("CHANNEL STATUS")
        raise AgiError(
            f"call {self.call_id}: {what} failed (result=-1) but the channel is still up "
            f"(status {status.result}); a missing or unplayable file?"
        )

    async def _send(self, verb: str, line: str, timeout: Timeout) -> AgiResponse:  # noqa: ASYNC109
        if self._busy is not None:
            raise AgiError(f"call {self.call_id}: {line!r} sent while {self._busy!r} awaits its response")
        if self._broken is not None:
            raise AgiError(f"call {self.call_id}: connection unusable ({self._broken}); not sending {line!r}")
        seconds = self._read_timeout if timeout is READ_TIMEOUT else timeout
        self._busy, ok, start = line, False, time.perf_counter()
        try:
            response = await send_command(self._reader, self._writer, line, seconds)
            ok = True
            return response
        except AgiHangup:
            self.hung_up = True
            raise
        except (AgiTimeout, AgiProtocolError, asyncio.CancelledError) as e:
            # The response may still arrive later and would be read as the next one's.
            self._broken = f"{type(e).__name__} during {line!r}"
            raise
        finally:
            self._busy = None
            self._stats.record(verb, time.perf_counter() - start, ok)

