"""The end of a recorded call: `python -m ivr.transcribe.hook UNIQUEID YYYY/MM/DD source=.. channel=.. member=..`

Run by the dialplan's hangup handler [ivr-recording-end] (ivr.asterisk.recording_conf) through the
`hotline-recording` wrapper, in the background, after StopMixMonitor closed the files. It writes
`hangup_by` on the call record, then links the files (ivr.recording.link) and queues the
transcription job (whose QA reads `hangup_by`, hence this order). This entry point is where
recording and transcription meet: ivr.recording never imports the transcription.

It never touches the audio. If Redis is unreachable it retries for `--patience` seconds, then
exits 1 with a log line naming the call; the files stay on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from ivr.recording.link import HangupBy, call_language, hangup_by, link_recording, write_hangup_by
from ivr.recording.paths import (
    DAY_FORMAT,
    RecordingError,
    RecordingPaths,
    check_call_id,
    is_day,
    recording_paths,
    started_on,
)
from ivr.settings import Settings, load_settings
from ivr.transcribe.jobs import enqueue_transcription

# The name operators know from the hook's log file (log/recording-hook.log).
log = logging.getLogger("ivr.recording_hook")


@dataclass(frozen=True)
class HookArgs:
    call_id: str
    day: str  # YYYY/MM/DD as the dialplan's STRFTIME wrote it
    source: str  # CHANNEL(hangupsource) of the caller's channel
    channel: str  # CHANNEL(name) of the caller's channel
    member: str  # MEMBERINTERFACE (the agent's queue member interface), "" if unknown


def parse(argv: list[str]) -> tuple[HookArgs, float]:
    p = argparse.ArgumentParser(prog="ivr.transcribe.hook", description=__doc__)
    p.add_argument("call_id")
    p.add_argument("day", help=f"the call's local day, {DAY_FORMAT}")
    p.add_argument("fields", nargs="*", help="source=... channel=... member=...")
    p.add_argument("--patience", type=float, default=300.0, help="seconds to keep retrying Redis")
    ns = p.parse_args(argv)
    fields = dict(f.partition("=")[::2] for f in ns.fields)
    unknown = sorted(set(fields) - {"source", "channel", "member"})
    if unknown:
        p.error(f"unknown field(s) {unknown}")
    if not is_day(ns.day):
        p.error(f"day {ns.day!r} is not {DAY_FORMAT}")
    try:
        call_id = check_call_id(ns.call_id)
    except RecordingError as exc:
        p.error(str(exc))
    args = HookArgs(call_id, ns.day, fields.get("source", ""), fields.get("channel", ""), fields.get("member", ""))
    return args, float(ns.patience)


async def on_recording_finished(
    client: aioredis.Redis,
    settings: Settings,
    call_id: str,
    paths: RecordingPaths,
    *,
    language: str | None = None,
) -> str:
    """Link the files on the call record and queue their transcription; returns the job id.

    Language: the argument, else the call record's "language", else settings.default_language.
    """
    await link_recording(client, call_id, paths)
    if language is None:
        language = await call_language(client, call_id)
    sync = _sync_client(client)
    try:
        return await asyncio.to_thread(
            enqueue_transcription, sync, call_id, language or settings.default_language, settings
        )
    finally:
        sync.close()


def _sync_client(client: aioredis.Redis) -> redis.Redis:
    # RQ speaks the synchronous client; reuse the async client's address and credentials.
    kw = client.connection_pool.connection_kwargs
    args: dict[str, Any] = {k: kw[k] for k in ("host", "port", "db", "username", "password") if k in kw}
    if "path" in kw:
        args["unix_socket_path"] = kw["path"]
    return redis.Redis(**args)


async def record(settings: Settings, paths: RecordingPaths, by: HangupBy) -> str:
    """hangup_by, then the recording and its transcription job; returns the job id."""
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
    try:
        await write_hangup_by(client, paths.call_id, by)
        return await on_recording_finished(client, settings, paths.call_id, paths)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args, patience = parse(sys.argv[1:] if argv is None else argv)
    try:
        job = finish(load_settings(), args, patience)
    except (OSError, TimeoutError, redis.RedisError) as exc:
        log.error("call %s: recording NOT linked (%s); its files stay in place. When Redis is back, run "
                  "`python -m ivr.transcribe.hook %s` with the same arguments", args.call_id, exc,
                  " ".join(sys.argv[1:] if argv is None else argv))
        return 1
    log.info("call %s: recording linked (hangup by %s), transcription job %s",
             args.call_id, hangup_by(args.source, args.channel, args.member), job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
