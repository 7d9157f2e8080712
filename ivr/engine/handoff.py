"""Runners that hand the caller to someone: queue, transfer (Dial), voicemail (Record).

A hangup while Asterisk runs the application counts as that outcome ("queued",
"transferred", "voicemail"): the flow did its job, what happened next is the AMI's story.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pydantic import BaseModel

from ivr.callflow.nodes import QueueNode, TransferNode, VoicemailNode
from ivr.engine.context import CallContext, End, Step

log = logging.getLogger(__name__)
# QUEUESTATUS is not set (or CONTINUE) when an agent answered and the bridge ended.
_QUEUE_ANSWERED = {"", "CONTINUE"}


def _branch(branches: BaseModel, status: str) -> str | None:
    """The target for an application status (QUEUESTATUS, DIALSTATUS), if the node maps it."""
    name = status.lower()
    if name not in type(branches).model_fields:
        return None
    target = getattr(branches, name)
    return str(target) if target is not None else None


async def run_queue(node: QueueNode, ctx: CallContext) -> Step:
    if node.prompt is not None:
        await ctx.play(node.prompt)
    if node.priority is not None:
        await ctx.channel.set_variable("QUEUE_PRIO", str(node.priority))
    ctx.recorder.set("queue", node.queue)
    ctx.event("queue", queue=node.queue, timeout=node.timeout, priority=node.priority)
    ctx.result = "queued"
    # Queue(queuename,options,URL,announceoverride,timeout)
    await ctx.channel.exec("Queue", node.queue, "", "", "", str(node.timeout))
    status = (await ctx.channel.get_variable("QUEUESTATUS") or "").upper()
    ctx.event("queue_result", queue=node.queue, status=status or "ANSWERED")
    if status in _QUEUE_ANSWERED:
        return End("queued")
    ctx.result = None
    return _branch(node.on, status) or node.otherwise


async def run_transfer(node: TransferNode, ctx: CallContext) -> Step:
    if node.prompt is not None:
        await ctx.play(node.prompt)
    dial = node.dial_string()
    ctx.recorder.set("transfer", dial)
    ctx.event("transfer", to=dial, timeout=node.timeout)
    ctx.result = "transferred"
    await ctx.channel.exec("Dial", dial, str(node.timeout))
    status = (await ctx.channel.get_variable("DIALSTATUS") or "").upper()
    ctx.event("transfer_result", to=dial, status=status)
    if status == "ANSWER":
        return End("transferred")
    ctx.result = None
    return _branch(node.on, status) or node.otherwise


def voicemail_path(recordings_dir: Path, ctx: CallContext) -> Path:
    day = ctx.services.clock.now()
    safe_id = "".join(c if c.isalnum() or c in "._-" else "_" for c in ctx.call_id)
    return recordings_dir / "voicemail" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{safe_id}.wav"


async def run_voicemail(node: VoicemailNode, ctx: CallContext) -> Step:
    if node.prompt is not None:
        await ctx.play(node.prompt)
    path = voicemail_path(ctx.services.recordings_dir, ctx)
    # Asterisk runs as our user on this host; make sure the day's directory exists for Record.
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    # Recorded before Record runs: callers often hang up to end their message.
    ctx.recorder.set("voicemail", str(path))
    ctx.event("voicemail", path=str(path), max_seconds=node.max_seconds)
    ctx.result = "voicemail"
    options = "k" + ("" if node.beep else "q")  # k: keep the file when the caller hangs up
    await ctx.channel.exec("Record", str(path), str(node.silence_seconds), str(node.max_seconds), options)
    status = await ctx.channel.get_variable("RECORD_STATUS")
    ctx.event("voicemail_result", status=status)
    if status == "ERROR":
        log.warning("call %s: Record(%s) failed (RECORD_STATUS=ERROR)", ctx.call_id, path)
        ctx.result = None
        ctx.recorder.set("voicemail", None)
    return node.next
