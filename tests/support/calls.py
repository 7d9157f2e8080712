"""Read what a real call left behind: its record in Redis, its prompts' lengths."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from ivr import keys


def find_record(redis_url: str, caller: str, timeout: float = 15.0, finished: bool = True) -> dict[str, Any]:
    """The newest call record of `caller` (waits for the flow's outcome when `finished`)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    try:
        while time.monotonic() < deadline:
            for call_id in client.zrevrange(keys.CALLS_INDEX, 0, 50):
                raw = client.hgetall(keys.call(call_id))
                rec = {k: json.loads(v) for k, v in raw.items()}
                if rec.get("caller") != caller:
                    continue
                rec["call_id"] = call_id
                rec["events"] = [json.loads(e) for e in client.lrange(keys.call_events(call_id), 0, -1)]
                last = rec
                if not finished or "outcome" in rec:
                    return rec
                break
            time.sleep(0.2)
    finally:
        client.close()
    raise AssertionError(f"no {'finished ' if finished else ''}call record for caller {caller}: {last}")


def node_path(record: dict[str, Any]) -> list[str]:
    return [e["node"] for e in record["events"] if e["kind"] == "node"]


def dtmf(record: dict[str, Any]) -> list[str]:
    return [e["digits"] for e in record["events"] if e["kind"] == "dtmf"]


def wav_seconds(path_without_ext: Path) -> float:
    out = subprocess.run(["soxi", "-D", f"{path_without_ext}.wav"], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())
