"""The units' environment file: every `IVR_*` setting, quoted for systemd's EnvironmentFile=.

systemd reads this file with its own rules, not a shell's (systemd.exec(5), "EnvironmentFile="):
one `KEY=VALUE` per line; inside double quotes a backslash escapes `"`, `\\`, `` ` `` and `$`, and
no variable is expanded. So every value is written double-quoted with those four escaped, and a
value with a line break or NUL is refused: it would end the line and start a setting of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"^IVR_[A-Z0-9_]+$")
_ESCAPED = re.compile(r'(["\\`$])')
_BREAKS = ("\n", "\r", "\x00")
HEADER = ("# Rendered by `ivr services render`: the hotline's IVR_* settings (systemd EnvironmentFile=).\n"
          "# Contains secrets: keep it 0600, owned by root.\n")


class EnvFileError(ValueError):
    """A variable that cannot be written into the environment file (names it)."""


def quote(name: str, value: str) -> str:
    """`value` double-quoted for systemd; raises EnvFileError for a line break or NUL."""
    if any(ch in value for ch in _BREAKS):
        raise EnvFileError(f"{name}: the value contains a line break or NUL; systemd's environment file "
                           "cannot hold it (it would add a line): remove it")
    return '"' + _ESCAPED.sub(r"\\\1", value) + '"'


def ivr_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The `IVR_*` variables of `environ`, sorted; a malformed name is refused."""
    out: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith("IVR_"):
            continue
        if not _NAME.match(name):
            raise EnvFileError(f"environment variable {name!r}: IVR_ names use only A-Z 0-9 _")
        out[name] = environ[name]
    return out


def render_env_file(environ: Mapping[str, str]) -> str:
    """The file's text: a header and one `NAME="value"` line per IVR_* variable."""
    lines = [f"{name}={quote(name, value)}\n" for name, value in ivr_variables(environ).items()]
    return HEADER + "".join(lines)


def parse_env_file(text: str) -> dict[str, str]:
    """Read back what render_env_file wrote, by systemd's rules for double-quoted values
    (`ivr doctor` and the tests use it to check a rendered file says what was meant)."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        name, sep, raw = line.partition("=")
        if not sep or not raw.startswith('"') or not raw.endswith('"') or len(raw) < 2:
            raise EnvFileError(f"line {number}: expected NAME=\"value\", got {line!r}")
        body, value, i = raw[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                value.append(nxt if nxt in '"\\`$' else ch + nxt)
                i += 2
                continue
            if ch == '"':
                raise EnvFileError(f"line {number}: unescaped quote in {name}")
            value.append(ch)
            i += 1
        out[name.strip()] = "".join(value)
    return out
