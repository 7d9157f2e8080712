"""The end of a recorded call: `python -m ivr.recording_hook UNIQUEID YYYY/MM/DD source=.. channel=.. member=..`

Run by the dialplan's hangup handler [ivr-recording-end] (ivr.asterisk.recording_conf) through the
`hotline-recording` wrapper, in the background, after StopMixMonitor closed the files. It writes
`hangup_by` on the call record, then `ivr.recording.on_recording_finished` links the files and
queues the transcription job (whose QA reads `hangup_by`, hence this order).

It never touches the audio. If Redis is unreachable it retries for `--patience` seconds, then
exits 1 with a log line naming the call; the files stay on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import redis

from ivr import keys
from ivr.asterisk.recording_conf import DAY_FORMAT
from ivr.recording import RecordingError, RecordingPaths, check_call_id, recording_paths
from ivr.settings import Settings

log = logging.getLogger("ivr.recording_hook")

_DAY = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")
HangupBy = Literal["agent", "caller", "system"]


@dataclass(frozen=True)
class HookArgs:
    call_id: str
    day: str  # YYYY/MM/DD as the dialplan's STRFTIME wrote it
    source: str  # CHANNEL(hangupsource) of the caller's channel
    channel: str  # CHANNEL(name) of the caller's channel
    member: str  # MEMBERINTERFACE (the agent's queue member interface), "" if unknown


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


def started_on(day: str, tz: str) -> datetime:
    """Noon of the dialplan's day in the deployment's time zone: recording_paths only uses the date."""
    m = _DAY.match(day)
    if m is None:
        raise ValueError(f"day {day!r} is not {DAY_FORMAT}")
    return datetime(int(m[1]), int(m[2]), int(m[3]), 12, tzinfo=ZoneInfo(tz))


def parse(argv: list[str]) -> tuple[HookArgs, float]:
    p = argparse.ArgumentParser(prog="ivr.recording_hook", description=__doc__)
    p.add_argument("call_id")
    p.add_argument("day", help=f"the call's local day, {DAY_FORMAT}")
    p.add_argument("fields", nargs="*", help="source=... channel=... member=...")
    p.add_argument("--patience", type=float, default=300.0, help="seconds to keep retrying Redis")
    ns = p.parse_args(argv)
    fields = dict(f.partition("=")[::2] for f in ns.fields)
    unknown = sorted(set(fields) - {"source", "channel", "member"})
    if unknown:
        p.error(f"unknown field(s) {unknown}")
    if not _DAY.match(ns.day):
        p.error(f"day {ns.day!r} is not {DAY_FORMAT}")
    try:
        call_id = check_call_id(ns.call_id)
    except RecordingError as exc:
        p.error(str(exc))
    args = HookArgs(call_id, ns.day, fields.get("source", ""), fields.get("channel", ""), fields.get("member", ""))
    return args, float(ns.patience)


async def record(settings: Settings, paths: RecordingPaths, by: HangupBy) -> str:
    """hangup_by, then the recording and its transcription job; returns the job id."""
    import redis.asyncio as aioredis

    from ivr.recording import on_recording_finished

    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
    try:
        await client.hset(keys.call(paths.call_id), keys.CALL_HANGUP_BY, json.dumps(by))
        return await on_recording_finished(client, paths.call_id, paths)
    finally:
        await client.aclose()


def finish(settings: Settings, args: HookArgs, patience: float) -> str:
    paths = recording_paths(settings.recordings_dir, args.call_id, started_on(args.day, settings.timezone))
    by = hangup_by(args.source, args.channel, args.member)
    for leg in (paths.caller, paths.agent):
        if not leg.is_file():
            log.warning("call %s: %s is missing; the transcription job will say why", args.call_id, leg)
    deadline = time.monotonic() + patience
    delay = 1.0
    while True:
        try:
            return asyncio.run(asyncio.wait_for(record(settings, paths, by), timeout=30))
        except (OSError, TimeoutError, redis.ConnectionError, redis.TimeoutError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning("call %s: Redis unreachable (%s); retrying in %.0f s", args.call_id, exc, delay)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 30.0)


def main(argv: list[str] | None = None) -> int:
    from ivr.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args, patience = parse(sys.argv[1:] if argv is None else argv)
    try:
        job = finish(load_settings(), args, patience)
    except (OSError, TimeoutError, redis.RedisError) as exc:
        log.error("call %s: recording NOT linked (%s); its files stay in place. When Redis is back, run "
                  "`python -m ivr.recording_hook %s` with the same arguments", args.call_id, exc,
                  " ".join(sys.argv[1:] if argv is None else argv))
        return 1
    log.info("call %s: recording linked (hangup by %s), transcription job %s",
             args.call_id, hangup_by(args.source, args.channel, args.member), job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
