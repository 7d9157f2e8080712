"""pyst2's AGI class with our protocol rules.

pyst2 (asterisk.agi) reads the header from stdin in its constructor and installs a SIGHUP
handler that makes the next command raise AGISIGHUPHangup. Its own reply parser, however, fails
on EOF and on HANGUP, 100 and 511 lines (int('') ValueError, AGIUnknownError) and its quoting
does not escape quotes. `ClassicAgi` keeps pyst2's command methods and replaces the reply
parsing and quoting with agi.protocol's, so classic scripts raise the same typed errors as
FastAGI handlers.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from asterisk.agi import AGI

from agi.protocol import AgiHangup, ReplyReader, check_command_line, quote_arg


class _Discard:
    """pyst2 writes a debug trace of every line to stderr; Asterisk does not need it."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class ClassicAgi(AGI):  # type: ignore[misc]  # pyst2 ships no type hints
    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: Any = None) -> None:
        self._last_command = ""
        super().__init__(stdin=stdin, stdout=stdout, stderr=stderr if stderr is not None else _Discard())

    @property
    def header(self) -> dict[str, str]:
        """The agi_* header, keys with their prefix (as pyst2 keeps them)."""
        return dict(self.env)

    def _quote(self, string: object) -> str:
        return quote_arg(str(string))

    def send_command(self, command: str, *args: object) -> None:
        # pyst2's methods pass arguments already quoted by _quote (or plain numbers).
        line = " ".join([command.strip(), *(str(a) for a in args)]).strip()
        check_command_line(line)
        self._last_command = line
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def get_result(self, stdin: object = None) -> dict[str, tuple[str, str]]:
        """pyst2's reply shape {"result": (value, data), key: (value, "")}; typed errors otherwise."""
        reply = ReplyReader(self._last_command)
        while True:
            raw = self.stdin.readline()
            line = raw.rstrip("\r\n") if raw.endswith("\n") else None  # a partial line is EOF too
            response = reply.feed(line)
            if response is not None:
                break
        if response.result == "-1":
            raise AgiHangup(f"{self._last_command!r}: result=-1 (the caller hung up, or the command failed)")
        result: dict[str, tuple[str, str]] = {"result": (response.result, response.data or "")}
        result.update({key: (value, "") for key, value in response.extra.items()})
        return result


def open_stdio() -> tuple[TextIO, TextIO]:
    """stdin/stdout for AGI: UTF-8 whatever the locale, undecodable bytes replaced (a caller name
    in another encoding must not crash the script), stdout flushed at every line."""
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
    stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False, buffering=1)
    return stdin, stdout
