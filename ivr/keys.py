"""Every Redis key name the project uses, in one place.

Values are JSON. Per-call state has a TTL (see Settings.call_record_ttl_days).
Layout of a call record (written by the engine and, later, the AMI listener,
so fields are separate hash entries and events a list: two writers never
overwrite each other's data):

    ivr:call:<call_id>          hash  field -> JSON value (caller, start, end, outcome, queue, ...)
    ivr:call:<call_id>:events   list  JSON events in order ({"t": ts, "kind": "node"|"dtmf"|..., ...})
    ivr:calls                   zset  call_id scored by start time (epoch seconds)
"""

from __future__ import annotations

PREFIX = "ivr"


def call(call_id: str) -> str:
    return f"{PREFIX}:call:{call_id}"


def call_events(call_id: str) -> str:
    return f"{PREFIX}:call:{call_id}:events"


CALLS_INDEX = f"{PREFIX}:calls"

# Incident statement (统一口径): JSON {"on": bool, "text": {lang: text}, "recovery": "...", "since": ts}
INCIDENT = f"{PREFIX}:incident"


def schedule_override(name: str) -> str:
    """Manual override of a schedule: JSON "open" | "closed" (absent = follow the calendar)."""
    return f"{PREFIX}:schedule:{name}:override"


def flow_error(flow: str) -> str:
    """Last reload error of a flow (JSON {"file","errors","at"}); deleted when a reload succeeds."""
    return f"{PREFIX}:flow:{flow}:error"


FLOW_EVENTS = f"{PREFIX}:flows:events"  # pub/sub channel: flow reload results
