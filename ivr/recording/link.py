"""A finished recording on the call record: who hung up first, the files, and an event.

Written by the hook that runs when a recorded call ends (ivr.transcribe.hook); the transcription
job and QA read these fields back (QA judges `hangup_by`, so the hook writes it first).
"""

from __future__ import annotations

import json
import time
from typing import Literal

import redis.asyncio as aioredis

from ivr import keys
from ivr.recording.paths import RecordingPaths, check_call_id

HangupBy = Literal["agent", "caller", "system"]


def hangup_by(source: str, channel: str, member: str) -> HangupBy:
    """Who hung up first, from the caller channel's hangup source.

    chan_pjsip writes the name of the channel whose BYE ends the call on it and on its bridged
    peer, and the first name written stays: the caller's own channel means the caller, the
    agent's channel (member interface + "-seq") means the agent. Anything else (the dialplan's
    Hangup(), a manager or CLI hangup, the call time limit: empty or "dialplan/...") is the system.
    """
    if not source:
        return "system"
    if channel and source == channel:
        return "caller"
    if member and source.startswith(f"{member}-"):
        return "agent"
    return "system"


async def write_hangup_by(client: aioredis.Redis, call_id: str, by: HangupBy) -> None:
    await client.hset(keys.call(check_call_id(call_id)), keys.CALL_HANGUP_BY, json.dumps(by))
    await client.zadd(keys.RECORDS_PENDING, {call_id: time.time()})  # the records mover copies it into SQL


async def link_recording(client: aioredis.Redis, call_id: str, paths: RecordingPaths) -> None:
    """The files on the call record ("recording", with the time it finished) and on its timeline."""
    check_call_id(call_id)
    rec = {**paths.to_record(), "finished_at": time.time()}
    await client.hset(keys.call(call_id), keys.CALL_RECORDING, json.dumps(rec, ensure_ascii=False))
    await client.rpush(
        keys.call_events(call_id),
        json.dumps({"t": rec["finished_at"], "kind": "recording", **paths.to_record()}),
    )
    await client.zadd(keys.RECORDS_PENDING, {call_id: time.time()})


async def call_language(client: aioredis.Redis, call_id: str) -> str | None:
    """The call record's "language" (set by the flow), None when the call has none."""
    raw = await client.hget(keys.call(call_id), "language")
    value = json.loads(raw) if raw else None
    return value if isinstance(value, str) else None
