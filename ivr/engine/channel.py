"""What the flow engine needs from a call leg.

`agi.channel.AgiChannel` implements this over FastAGI; tests use a scripted
channel. Every method raises `agi.protocol.AgiHangup` (or a subclass) when the
caller has gone: the engine treats that as the normal end of a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Channel(Protocol):
    @property
    def env(self) -> Mapping[str, str]:
        """The agi_* header without the `agi_` prefix (e.g. env["callerid"], env["uniqueid"])."""
        ...

    async def answer(self) -> None: ...

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        """Play a file (no extension). Returns the digit that interrupted it, or None."""
        ...

    async def get_data(self, path: str, timeout_ms: int, max_digits: int) -> str | None:
        """Play a prompt and collect DTMF. Returns digits, "" when nothing was pressed."""
        ...

    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...

    async def exec(self, app: str, *args: str) -> int:
        """Run a dialplan application (e.g. Queue, Record, Dial). Returns the AGI result code."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def get_variable(self, name: str) -> str | None: ...

    async def verbose(self, message: str, level: int = 1) -> None: ...

    async def hangup(self) -> None: ...
