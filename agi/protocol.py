"""The AGI wire protocol: the one place that reads and writes AGI lines.

Facts from Asterisk's res_agi.c that shape this module:
- The header is `agi_<name>: <value>` lines ended by a blank line.
- A response is `<code> result=<value> [(data)] [key=value ...]`; 200 is success, 510 unknown
  command, 511 command not permitted on a dead channel, 520 usage (one line, or `520-` ... `520 `).
- With AGISIGHUP on (the default), FastAGI gets a bare `HANGUP` line when the caller hangs up.
  Asterisk sends it between commands, so a full response to the next command still follows it.
- Asterisk parses a command line with double quotes and backslash escapes, and reads at most
  AGI_BUF_LEN (2048) bytes of it.
- A line starting with `failure` makes Asterisk end the AGI with AGISTATUS=FAILURE; closing the
  connection without it gives SUCCESS, so a refusal must send it for the dialplan to fall back.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

HANGUP_LINE = "HANGUP"
FAILURE_LINE = b"FAILURE\n"
MAX_COMMAND_BYTES = 2047  # AGI_BUF_LEN - 1: Asterisk silently splits anything longer
MAX_HEADER_LINES = 256
MAX_USAGE_LINES = 256


class AgiError(Exception):
    """Base of every AGI failure."""


class AgiHangup(AgiError):
    """The caller hung up (bare HANGUP line) or Asterisk closed the connection: a normal call end."""


class AgiDeadChannel(AgiHangup):
    """511: the command is not permitted on a dead channel."""


class AgiInvalidCommand(AgiError):
    """510: Asterisk does not know the command."""


class AgiUsageError(AgiError):
    """520: bad command syntax. `usage` holds the usage text Asterisk sent (may be empty)."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class AgiProtocolError(AgiError):
    """A line that is not valid AGI. `line` holds it."""

    def __init__(self, message: str, line: str = "") -> None:
        super().__init__(message)
        self.line = line


class AgiTimeout(AgiError):
    """No line from Asterisk within the read timeout."""


@dataclass(frozen=True)
class AgiResponse:
    code: int
    result: str
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the message of a line without result= (510, 511, 520)

    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            raise AgiProtocolError(f"result {self.result!r} is not an integer", self.result) from None


_HEADER_RE = re.compile(r"^(agi_[A-Za-z0-9_]+): ?(.*)$")
_CODE_RE = re.compile(r"^(\d{3})([ -])(.*)$")
# Greedy data: the last ')' that is followed only by key=value pairs closes the parenthesis,
# so a variable value containing ')' survives.
_RESULT_RE = re.compile(r"^result=(\S*)(?: \((.*)\))?((?: [A-Za-z_][\w-]*=\S*)*) *$")
_EXTRA_RE = re.compile(r"([A-Za-z_][\w-]*)=(\S*)")


def parse_header_line(line: str) -> tuple[str, str]:
    """`agi_callerid: 1001` -> ("agi_callerid", "1001"). Raises AgiProtocolError naming the line."""
    m = _HEADER_RE.match(line.rstrip("\r\n"))
    if m is None:
        raise AgiProtocolError(f"bad AGI header line {line!r}: expected 'agi_<name>: <value>'", line)
    return m.group(1), m.group(2)


def parse_response(line: str) -> AgiResponse:
    """Parse one response line. A bare HANGUP raises AgiHangup; garbage raises AgiProtocolError."""
    line = line.rstrip("\r\n")
    if line == HANGUP_LINE:
        raise AgiHangup("caller hung up (HANGUP line)")
    m = _CODE_RE.match(line)
    if m is None:
        raise AgiProtocolError(f"bad AGI response {line!r}: expected '<3-digit code> ...'", line)
    code, rest = int(m.group(1)), m.group(3)
    if not rest.startswith("result="):
        if code in (100, 200):
            raise AgiProtocolError(f"bad AGI response {line!r}: code {code} without result=", line)
        return AgiResponse(code=code, result="", text=rest)
    r = _RESULT_RE.match(rest)
    if r is None and code != 200:  # e.g. "100 result=0 Trying...": keep the free text
        result, _, text = rest.removeprefix("result=").partition(" ")
        return AgiResponse(code=code, result=result, text=text)
    if r is None:
        raise AgiProtocolError(f"bad AGI response {line!r}: cannot parse result and data", line)
    extra = dict(_EXTRA_RE.findall(r.group(3)))
    return AgiResponse(code=code, result=r.group(1), data=r.group(2), extra=extra)


def quote_arg(arg: str | int) -> str:
    """Quote one command argument the way Asterisk's parse_args() reads it back."""
    s = str(arg)
    if any(c in s for c in "\r\n\0"):
        raise ValueError(f"AGI argument {s!r} contains a line break or NUL")
    if s and not any(c in s for c in ' \t"\\'):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(verb: str, *args: str | int) -> str:
    """`format_command("STREAM FILE", "welcome", "")` -> `STREAM FILE welcome ""`."""
    if not verb or any(c in verb for c in "\r\n\0"):
        raise ValueError(f"bad AGI command verb {verb!r}")
    line = " ".join([verb, *(quote_arg(a) for a in args)])
    check_command_line(line)
    return line


def check_command_line(line: str) -> None:
    if any(c in line for c in "\r\n\0"):
        raise ValueError(f"AGI command {line[:80]!r} contains a line break or NUL")
    size = len(line.encode("utf-8"))
    if size > MAX_COMMAND_BYTES:
        raise ValueError(f"AGI command too long ({size} bytes > {MAX_COMMAND_BYTES}): {line[:80]!r}...")


async def read_line(reader: asyncio.StreamReader) -> str | None:
    """One line without its line break; None at EOF (or a connection reset, which is the same)."""
    try:
        raw = await reader.readline()
    except ValueError as e:  # the stream limit was exceeded: no sane AGI line is that long
        raise AgiProtocolError(f"AGI line longer than the stream limit: {e}") from None
    except ConnectionError:
        return None
    if not raw.endswith(b"\n"):
        return None  # EOF, possibly in the middle of a line: Asterisk is gone
    return raw.decode("utf-8", "replace").rstrip("\r\n")


# The timeout parameters (ASYNC109) are deliberate: expiry must become a typed AgiTimeout that
# names the command, and a caller-side asyncio.timeout() could not tell which line was late.
async def read_header(reader: asyncio.StreamReader, timeout: float | None) -> dict[str, str]:  # noqa: ASYNC109
    """Read agi_* lines up to the blank line. The whole header must arrive within `timeout`."""
    header: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                line = await read_line(reader)
                if line is None:
                    raise AgiHangup(f"connection closed in the AGI header after {len(header)} lines")
                if line == "":
                    return header
                if len(header) >= MAX_HEADER_LINES:
                    raise AgiProtocolError(f"AGI header longer than {MAX_HEADER_LINES} lines", line)
                key, value = parse_header_line(line)
                header[key] = value
    except TimeoutError:
        raise AgiTimeout(f"AGI header incomplete after {timeout:g} s ({len(header)} lines)") from None


async def send_command(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: str, timeout: float | None  # noqa: ASYNC109
) -> AgiResponse:
    """Send one command line and read its final response within `timeout` seconds.

    Raises AgiHangup when a HANGUP line came before the response (after reading that response,
    so the connection stays in step for clean-up commands on the dead channel)."""
    check_command_line(line)
    if writer.is_closing():
        raise AgiHangup(f"connection already closed before {line!r}")
    writer.write(line.encode("utf-8") + b"\n")
    try:
        await writer.drain()
    except ConnectionError as e:
        raise AgiHangup(f"connection lost sending {line!r}: {e}") from None
    reply = ReplyReader(line)
    try:
        async with asyncio.timeout(timeout):
            while True:
                received = await read_line(reader)
                response = reply.feed(received)
                if response is not None:
                    return response
    except TimeoutError:
        if reply.hung_up:
            raise AgiHangup(f"caller hung up; no response to {line!r} after HANGUP") from None
        raise AgiTimeout(f"no response to {line!r} within {timeout:g} s") from None


class ReplyReader:
    """Assembles the reply to one command from its lines, for both the async FastAGI reader and
    the blocking stdin reader of classic AGI scripts.

    `feed(line)` returns the final 200 response, None while more lines are due, or raises the
    typed error. A HANGUP line before the response is remembered and AgiHangup raised once the
    response has been read, so the connection stays in step for clean-up commands."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.hung_up = False
        self._usage: list[str] | None = None

    def feed(self, line: str | None) -> AgiResponse | None:
        """`line` without its line break; None means EOF."""
        if line is None:
            raise AgiHangup(f"connection closed waiting for the response to {self.command!r}")
        if self._usage is not None:
            self._feed_usage(line)
            return None
        if line == HANGUP_LINE:
            self.hung_up = True
            return None
        try:
            response = parse_response(line)
        except AgiProtocolError as e:
            raise AgiProtocolError(f"{e} (in reply to {self.command!r})", line) from None
        if response.code == 100:  # "100 result=0 Trying...": the real answer follows
            return None
        if response.code == 520 and line.startswith("520-"):
            self._usage = []
            return None
        if response.code != 200:
            raise self._error_for(response, line)
        if self.hung_up:
            raise AgiHangup(f"caller hung up during {self.command!r} (HANGUP line before the response)")
        return response

    def _feed_usage(self, line: str) -> None:
        assert self._usage is not None
        if line.startswith("520 "):
            usage = "\n".join(self._usage).strip("\n")
            raise AgiUsageError(f"{self.command!r}: invalid command syntax (520)", usage)
        if len(self._usage) >= MAX_USAGE_LINES:
            raise AgiProtocolError(f"520 usage text for {self.command!r} longer than {MAX_USAGE_LINES} lines")
        self._usage.append(line)

    def _error_for(self, response: AgiResponse, line: str) -> AgiError:
        if response.code == 511:
            return AgiDeadChannel(f"{self.command!r}: not permitted on a dead channel (511)")
        if response.code == 510:
            return AgiInvalidCommand(f"{self.command!r}: invalid or unknown AGI command (510)")
        if response.code == 520:
            return AgiUsageError(f"{self.command!r}: invalid command syntax (520)")
        return AgiProtocolError(f"{self.command!r}: unexpected response code {response.code}: {line!r}", line)
