"""What a simulated call leaves behind (its record in Redis) and what its caller says (audio)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from ivr import keys

CALLER_SPEECH = "My name is Li Lei, please call me back about my broken router."


def call_record(redis_url: str, caller: str, timeout: float = 15.0, finished: bool = True) -> dict[str, Any] | None:
    """The newest call record of `caller`, with its events; waits for the flow's outcome when
    `finished`. None if there is none by then."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    try:
        while True:
            last = _newest(client, caller)
            if last is not None and (not finished or "outcome" in last):
                return last
            if time.monotonic() >= deadline:
                return last if not finished else None
            time.sleep(0.2)
    finally:
        client.close()


def _newest(client: redis.Redis, caller: str) -> dict[str, Any] | None:
    for member in client.zrevrange(keys.CALLS_INDEX, 0, 200):
        call_id = str(member)
        raw: dict[str, str] = client.hgetall(keys.call(call_id))  # type: ignore[assignment]
        rec: dict[str, Any] = {k: json.loads(v) for k, v in raw.items()}
        if rec.get("caller") == caller:
            rec["call_id"] = call_id
            rec["events"] = [json.loads(e) for e in client.lrange(keys.call_events(call_id), 0, -1)]
            return rec
    return None


def caller_audio(workdir: Path, lead_silence_s: float, text: str = CALLER_SPEECH) -> Path:
    """Phone-band mu-law speech that SIPp streams as RTP: silence, the words, then 8 s of silence
    (so a voicemail recording ends on silence)."""
    workdir.mkdir(parents=True, exist_ok=True)
    speech = workdir / "caller-speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(speech), text], check=True, capture_output=True)
    out = workdir / f"caller-{lead_silence_s:.1f}.wav"
    subprocess.run(["sox", str(speech), "-r", "8000", "-c", "1", "-e", "u-law", str(out),
                    "pad", f"{lead_silence_s:.1f}", "8"], check=True, capture_output=True)
    return out
