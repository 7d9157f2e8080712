"""What a flow may hand to Asterisk: the allow-lists behind the node fields that reach the dialplan.

A flow is admin input, and several of its fields end up in Asterisk as channel variables or as
arguments of dialplan applications (Queue, Dial, Record, STREAM FILE). Without limits a saved flow
could set MONITOR_EXEC (app_queue hands it to MixMonitor, which runs it as a shell command as the
Asterisk user), AGIEXECFULL (every later EXEC argument is then evaluated as a dialplan expression),
the IVR_* variables the dialplan trusts, or hangup handlers; or dial `Local/...@any-context`.

- Channel variables: only the names in ALLOWED_CHANNEL_VARIABLES (what the shipped flows need).
- Channel values: AGI SET VARIABLE stores a value literally (res_agi calls
  pbx_builtin_setvar_helper, no substitution), but a value read back as `${VAR}` inside an
  argument that Asterisk evaluates again (MixMonitor's command, Eval(), an EXEC under AGIEXECFULL)
  would run whatever `${...}` / `$[...]` it carries. So values may not contain the dialplan's
  expression and quoting characters at all (UNSAFE_VALUE_CHARACTERS) nor control characters.
- Dial targets: PJSIP channels only (`Local/` would enter arbitrary dialplan contexts).
- Audio file paths: letters, digits and `_ . / -` only, since a comma would split the
  arguments of an application such as Queue's announcement.
"""

from __future__ import annotations

import re

Scalar = str | int | float | bool  # a value in a flow's `set` node
# Names handed to dialplan applications (queue, trunk): no commas, pipes or spaces that would split arguments.
SAFE_NAME = r"^[A-Za-z0-9_.-]+$"
# Call-record fields the engine writes itself; `set` may not overwrite them.
RESERVED_CALL_FIELDS = frozenset(
    {"caller", "called", "flow", "flow_version", "language", "channel", "start", "end", "outcome",
     "queue", "voicemail", "voicemail_error", "incident_played", "schedule_status", "survey", "overflow",
     "callback"}
)

ALLOWED_CHANNEL_VARIABLES = frozenset({"CDR(userfield)", "VIP"})
ALLOWED_DIAL_TECHNOLOGIES = frozenset({"PJSIP"})
UNSAFE_VALUE_CHARACTERS = frozenset("$[]{}^\\`\"';,|&")
_DIAL_TARGET = re.compile(r"^([A-Za-z0-9]+)/([A-Za-z0-9_.@+-]+)$")
AUDIO_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")


def check_call_variable(name: str) -> str:
    if not name.isidentifier() or name in RESERVED_CALL_FIELDS:
        raise ValueError(f"{name!r} cannot be a call variable (reserved or not an identifier)")
    return name


def check_channel_variable(name: str) -> str:
    if name not in ALLOWED_CHANNEL_VARIABLES:
        allowed = ", ".join(sorted(ALLOWED_CHANNEL_VARIABLES))
        raise ValueError(f"channel variable {name!r} may not be set by a flow (allowed: {allowed})")
    return name


def check_channel_value(value: Scalar) -> Scalar:
    text = str(value)
    bad = sorted({c for c in text if c in UNSAFE_VALUE_CHARACTERS or not c.isprintable()})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise ValueError(f"value {text[:60]!r} contains {shown}: channel values may not contain "
                         "dialplan expression, quoting or control characters")
    return value


def check_dial_target(value: str | None) -> str | None:
    if value is None:
        return None
    match = _DIAL_TARGET.match(value)
    if match is None:
        raise ValueError(f"{value[:60]!r} is not a dial target like PJSIP/100")
    if match.group(1) not in ALLOWED_DIAL_TECHNOLOGIES:
        allowed = ", ".join(sorted(ALLOWED_DIAL_TECHNOLOGIES))
        raise ValueError(f"channel technology {match.group(1)!r} is not allowed (allowed: {allowed})")
    return value


def audio_path_problem(path: str) -> str | None:
    """Why a file prompt's path cannot be handed to Asterisk, or None."""
    if AUDIO_PATH.match(path):
        return None
    return (f"audio path {path[:80]!r}: letters, digits, '_', '-', '.' and '/' only "
            "(it is passed to dialplan applications)")
