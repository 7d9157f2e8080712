"""Assertions on what a real call left behind."""

from __future__ import annotations

from typing import Any

from harness.calls import call_record


def find_record(redis_url: str, caller: str, timeout: float = 15.0, finished: bool = True) -> dict[str, Any]:
    rec = call_record(redis_url, caller, timeout=timeout, finished=finished)
    if rec is None:
        raise AssertionError(f"no {'finished ' if finished else ''}call record for caller {caller}")
    return rec


def node_path(record: dict[str, Any]) -> list[str]:
    return [e["node"] for e in record["events"] if e["kind"] == "node"]


def dtmf(record: dict[str, Any]) -> list[str]:
    return [e["digits"] for e in record["events"] if e["kind"] == "dtmf"]
