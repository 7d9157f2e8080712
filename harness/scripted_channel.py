"""A Channel driven by a script of what the caller does: unit tests and dry runs of a flow.

Script items answer the flow's requests for input, in order:
  "1", "12"          keys pressed at a menu (get_data / wait_for_digit)
  ""                 the caller presses nothing (timeout)
  during_play("9")   a key pressed while an interruptible prompt plays
  HANGUP             the caller hangs up at this point
Every command the flow sends is kept in `commands`, as ("verb", *args).
Record writes `record_audio` to its file, as Asterisk would (None: no file, a failed recording).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from agi.protocol import AgiHangup

HANGUP = "<hangup>"
# A .wav header (44 bytes) and 0.1 s of 8 kHz 16-bit silence: what a short message looks like.
RECORDED_MESSAGE = b"RIFF" + (36 + 1600).to_bytes(4, "little") + b"WAVEfmt " + bytes.fromhex(
    "1000000001000100401f0000803e000002001000") + b"data" + (1600).to_bytes(4, "little") + bytes(1600)
_PLAY_PREFIX = "<during-play>"


def during_play(digit: str) -> str:
    return _PLAY_PREFIX + digit


class ScriptExhausted(RuntimeError):
    """The flow asked for more input than the script has: the flow and the script disagree."""


class ScriptedChannel:
    def __init__(
        self,
        script: Iterable[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        exec_sets: Mapping[str, Mapping[str, str]] | None = None,
        exec_hangup: Iterable[str] = (),
        exec_errors: Mapping[str, Exception] | None = None,
        before_input: Callable[[], Awaitable[None]] | None = None,
        record_audio: bytes | None = RECORDED_MESSAGE,
    ) -> None:
        """`exec_sets`: app -> variables it sets when it returns (e.g. Queue -> QUEUESTATUS);
        `exec_hangup`: apps during which the caller hangs up; `exec_errors`: app -> raised error;
        `before_input`: awaited before each input request (lets a test hold a call mid-flow)."""
        self.script = deque(script)
        self._env = dict(env or {"uniqueid": "1700000000.1", "callerid": "13900000000",
                                 "dnid": "4000", "channel": "PJSIP/caller-00000001"})
        self.variables: dict[str, str] = dict(variables or {})
        self.exec_sets = {k: dict(v) for k, v in (exec_sets or {}).items()}
        self.exec_hangup = set(exec_hangup)
        self.exec_errors = dict(exec_errors or {})
        self.before_input = before_input
        self.record_audio = record_audio
        self.commands: list[tuple[Any, ...]] = []
        self.hung_up = False

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    def _send(self, *command: Any) -> None:
        if self.hung_up:
            raise AgiHangup(f"{command[0]} on a hung-up channel")
        self.commands.append(command)

    async def _next_input(self, what: str) -> str:
        if self.before_input is not None:
            await self.before_input()
        if not self.script:
            raise ScriptExhausted(f"{what}: the script has no more caller input")
        item = self.script.popleft()
        if item == HANGUP:
            self.hung_up = True
            raise AgiHangup(f"caller hung up during {what}")
        if item.startswith(_PLAY_PREFIX):
            raise ScriptExhausted(f"{what}: script has {item!r}, but no interruptible prompt is playing")
        return item

    async def answer(self) -> None:
        self._send("answer")

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        self._send("stream_file", path, escape_digits)
        if escape_digits and self.script and self.script[0].startswith(_PLAY_PREFIX):
            return self.script.popleft().removeprefix(_PLAY_PREFIX)
        return None  # a scripted hangup is delivered at the next input request

    async def get_data(self, path: str, timeout_ms: int, max_digits: int) -> str | None:
        self._send("get_data", path, timeout_ms, max_digits)
        return (await self._next_input("get_data"))[:max_digits]

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._send("wait_for_digit", timeout_ms)
        return (await self._next_input("wait_for_digit"))[:1] or None

    async def exec(self, app: str, *args: str) -> int:
        self._send("exec", app, *args)
        if app in self.exec_errors:
            raise self.exec_errors[app]
        if app == "Record" and self.record_audio is not None:  # option k keeps it on a hangup too
            await asyncio.to_thread(Path(args[0]).write_bytes, self.record_audio)
        if app in self.exec_hangup:
            self.hung_up = True
            raise AgiHangup(f"caller hung up during {app}")
        self.variables.update(self.exec_sets.get(app, {}))
        return 0

    async def set_variable(self, name: str, value: str) -> None:
        self._send("set_variable", name, value)
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        self._send("get_variable", name)
        return self.variables.get(name)

    async def verbose(self, message: str, level: int = 1) -> None:
        self._send("verbose", message, level)

    async def hangup(self) -> None:
        self._send("hangup")
        self.hung_up = True

    def played(self) -> list[str]:
        """Paths of every prompt played (stream_file and get_data), in order."""
        return [c[1] for c in self.commands if c[0] in ("stream_file", "get_data")]

    def execs(self, app: str) -> list[tuple[Any, ...]]:
        return [c[2:] for c in self.commands if c[0] == "exec" and c[1] == app]
