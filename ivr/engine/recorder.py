"""What the engine needs from a call record. `ivr.state.callrecord.CallRecorder` writes it to
Redis; `MemoryRecorder` keeps it in memory (unit tests, `ivr flows` dry runs)."""

from __future__ import annotations

import time
from typing import Any, Protocol


class Recorder(Protocol):
    """Per call; every method is non-blocking and never raises into the call."""

    def start(
        self, call_id: str, *, caller: str, called: str, flow: str, flow_version: str, language: str,
        channel: str,
    ) -> None: ...

    def event(self, kind: str, **data: Any) -> None: ...

    def set(self, field: str, value: Any) -> None: ...

    def count(self, key: str, field: str) -> None:
        """Add 1 to a process-wide counter (a hash in ivr/keys.py), e.g. lost voicemail by reason."""
        ...

    def finish(self, outcome: str) -> None: ...


class MemoryRecorder:
    """A call record held in memory: `fields` (the hash) and `events` (the list)."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.counters: dict[tuple[str, str], int] = {}
        self.finished = False

    def start(
        self, call_id: str, *, caller: str, called: str, flow: str, flow_version: str, language: str,
        channel: str,
    ) -> None:
        self.fields.update(call_id=call_id, caller=caller, called=called, flow=flow,
                           flow_version=flow_version, language=language, channel=channel,
                           start=time.time())

    def event(self, kind: str, **data: Any) -> None:
        self.events.append({"t": time.time(), "kind": kind, **data})

    def set(self, field: str, value: Any) -> None:
        self.fields[field] = value

    def count(self, key: str, field: str) -> None:
        self.counters[(key, field)] = self.counters.get((key, field), 0) + 1

    def finish(self, outcome: str) -> None:
        self.fields.update(outcome=outcome, end=time.time())
        self.finished = True

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def path(self) -> list[str]:
        """Node ids in visiting order."""
        return [e["node"] for e in self.kinds("node")]
