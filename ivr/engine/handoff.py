"""Runners that hand the caller to someone: queue, transfer (Dial), voicemail (Record), and the
survey after the agent hung up.

A hangup while Asterisk runs the application counts as that outcome ("queued",
"transferred", "voicemail"): the flow did its job, what happened next is the AMI's story.
With a QueueRuntime (the service has one when queues.yaml loads) the queue node runs live
(ivr/engine/queue_wait.py); without one it is a single plain Queue().
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from agi.protocol import AgiHangup
from ivr import keys
from ivr.callflow.nodes import QueueNode, SurveyNode, TransferNode, VoicemailNode
from ivr.engine.context import QUEUE_ANSWERED, CallContext, End, Runner, Step, status_branch
from ivr.engine.queue_wait import QueueRuntime, run_live_queue

log = logging.getLogger(__name__)
# Why a message was not kept: Record said ERROR, no file, a file with no audio, a file we cannot stat.
VOICEMAIL_LOST_REASONS = ("record_error", "missing", "empty", "unreadable")
WAV_HEADER_BYTES = 44  # a .wav Record left with no audio after its header holds no message
# Record's endings by the caller (silence, #, hangup; None = hung up before we could ask): with no
# audio in the file, the caller left no message. That is not a loss: no ERROR, no lost count.
_CALLER_ENDED = {None, "SILENCE", "DTMF", "HANGUP"}


async def run_queue(node: QueueNode, ctx: CallContext) -> Step:
    if node.prompt is not None:
        await ctx.play(node.prompt)
    if node.priority is not None:
        await ctx.channel.set_variable("QUEUE_PRIO", str(node.priority))
    ctx.recorder.set("queue", node.queue)
    ctx.event("queue", queue=node.queue, timeout=node.timeout, priority=node.priority)
    ctx.result = "queued"
    # Queue(queuename,options,URL,announceoverride,timeout); c: continue when the agent hangs up
    await ctx.channel.exec("Queue", node.queue, "c" if node.answered else "", "", "", str(node.timeout))
    status = (await ctx.channel.get_variable("QUEUESTATUS") or "").upper()
    ctx.event("queue_result", queue=node.queue, status=status or "ANSWERED")
    if status in QUEUE_ANSWERED:
        return node.answered or End("queued")
    ctx.result = None
    return status_branch(node.on, status) or node.otherwise


def queue_runner(runtime: QueueRuntime | None) -> Runner:
    """The queue node's runner: live (announcements, overflow, callbacks) with a runtime, else plain."""
    if runtime is None:
        return run_queue

    async def run(node: QueueNode, ctx: CallContext) -> Step:
        if node.queue not in runtime.cfg.queues:  # a queue queues.yaml does not know: plain Queue()
            return await run_queue(node, ctx)
        return await run_live_queue(node, ctx, runtime)

    return run


async def run_survey(node: SurveyNode, ctx: CallContext) -> Step:
    """One key 1..scale after the call. `survey` on the record always says the score or why there is
    none ({"score": None, "reason": "no_input" | "invalid" | "hangup" | "error"}): a caller who hangs
    up during the question is the commonest case and must not leave the field out."""
    try:
        score = await _ask(node, ctx)
    except Exception as exc:
        _no_score(node, ctx, "hangup" if isinstance(exc, AgiHangup) else "error")
        raise
    if score is not None and node.thanks is not None:
        await ctx.play(node.thanks)
    return node.next


def _no_score(node: SurveyNode, ctx: CallContext, reason: str) -> None:
    ctx.recorder.set("survey", {"score": None, "scale": node.scale, "reason": reason, "node": ctx.node_id})
    ctx.event("survey", score=None, scale=node.scale, reason=reason)


async def _ask(node: SurveyNode, ctx: CallContext) -> int | None:
    """The score (recorded), or None once the tries are used up (recorded as no_input/invalid)."""
    valid = {str(i) for i in range(1, node.scale + 1)}
    heard = ""
    for attempt in range(1, node.retries + 2):
        path = await ctx.prompt_path(node.prompt)
        digits = await ctx.channel.get_data(path, int(node.timeout * 1000), 1) or ""
        ctx.event("dtmf" if digits else "no_input", digits=digits, attempt=attempt, during="survey")
        if digits in valid:
            ctx.recorder.set("survey", {"score": int(digits), "scale": node.scale, "attempt": attempt,
                                        "node": ctx.node_id})
            ctx.event("survey", score=int(digits), scale=node.scale)
            return int(digits)
        heard = heard or digits
        if digits and node.invalid is not None and attempt <= node.retries:
            await ctx.play(node.invalid)
    _no_score(node, ctx, "invalid" if heard else "no_input")
    return None


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
    return status_branch(node.on, status) or node.otherwise


def voicemail_path(recordings_dir: Path, ctx: CallContext) -> Path:
    day = ctx.services.clock.now()
    safe_id = "".join(c if c.isalnum() or c in "._-" else "_" for c in ctx.call_id)
    return recordings_dir / "voicemail" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{safe_id}.wav"


async def run_voicemail(node: VoicemailNode, ctx: CallContext) -> Step:
    """Record a message, then make sure it exists: the record says `voicemail` (its path) only for a
    file that holds audio. Otherwise `voicemail_error` says why, the counter VOICEMAIL_LOST counts it,
    an ERROR is logged and a caller still on the line hears the `failed` prompt."""
    if node.prompt is not None:
        await ctx.play(node.prompt)
    path = voicemail_path(ctx.services.recordings_dir, ctx)
    # Asterisk runs as our user on this host; make sure the day's directory exists for Record.
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    ctx.event("voicemail", path=str(path), max_seconds=node.max_seconds)
    options = "k" + ("" if node.beep else "q")  # k: keep the file when the caller hangs up
    try:
        await ctx.channel.exec("Record", str(path), str(node.silence_seconds), str(node.max_seconds), options)
        status = await ctx.channel.get_variable("RECORD_STATUS")
    except AgiHangup:  # callers often hang up to end their message: keep it if the file is good
        await _settle_message(ctx, path, None)
        raise
    ctx.event("voicemail_result", status=status)
    if not await _settle_message(ctx, path, status):
        await ctx.play(node.failed)
    return node.next


async def _settle_message(ctx: CallContext, path: Path, status: str | None) -> bool:
    """Record whether the message at `path` was kept (or the caller left none); False if it was lost."""
    reason = "record_error" if status == "ERROR" else await asyncio.to_thread(_file_problem, path)
    if reason is None:
        ctx.result = "voicemail"
        ctx.recorder.set("voicemail", str(path))
        return True
    ctx.recorder.set("voicemail", None)
    if reason == "empty" and status in _CALLER_ENDED:
        ctx.result = "voicemail_empty"
        ctx.event("voicemail_empty", path=str(path), status=status)
        log.info("call %s: caller left no message (RECORD_STATUS=%s)", ctx.call_id, status)
        return True
    ctx.result = "voicemail_failed"
    ctx.recorder.set("voicemail_error", {"reason": reason, "path": str(path), "status": status})
    ctx.recorder.count(keys.VOICEMAIL_LOST, reason)
    ctx.event("voicemail_lost", reason=reason, path=str(path), status=status)
    log.error("call %s: voicemail NOT saved (%s, RECORD_STATUS=%s): %s", ctx.call_id, reason, status, path)
    return False


def _file_problem(path: Path) -> str | None:
    """Why the recorded file holds no message ("missing", "empty"), or None."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    return "empty" if size <= WAV_HEADER_BYTES else None
