"""FlowEngine: walks a flow node by node on one call, and hands agi.server a handler per flow.

How a call ends, and what the dialplan sees:
- the flow ends (hangup node, queue answered, transfer answered): IVR_DONE=1 and IVR_OUTCOME;
- the caller hangs up (AgiHangup): a normal end, logged at INFO, outcome "caller_hangup"
  (or what the call already amounts to, e.g. "voicemail");
- anything else (a node raises, the loop guard trips): ERROR log naming flow and node, outcome
  "error", and IVR_DONE is NOT set, so the dialplan sends the caller to the fallback queue.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from agi.protocol import AgiError, AgiHangup
from ivr.callflow.model import Flow
from ivr.callflow.store import FlowStore
from ivr.clock import Clock
from ivr.engine.channel import Channel
from ivr.engine.context import (
    CallContext,
    End,
    Services,
    Synthesizer,
    ivr_prompts_synthesizer,
)
from ivr.engine.recorder import Recorder
from ivr.engine.runners import Runners, build_runner_registry
from ivr.schedule import Schedule
from ivr.state.redis import RedisGetter

log = logging.getLogger(__name__)

Handler = Callable[[Channel], Awaitable[None]]
MAX_NODE_VISITS = 200
_VARIABLE_TIMEOUT = 2.0  # seconds for the best-effort IVR_OUTCOME=error on a failing call


class LoopGuardTripped(RuntimeError):
    """A call visited more nodes than allowed: the flow goes round without ending."""


class FlowEngine:
    def __init__(
        self,
        store: FlowStore,
        schedules: dict[str, Schedule],
        clock: Clock,
        redis_getter: RedisGetter,
        prompts_dir: Path,
        recordings_dir: Path,
        recorder_factory: Callable[[], Recorder],
        *,
        synthesize: Synthesizer | None = None,
        runners: Runners | None = None,
        max_visits: int = MAX_NODE_VISITS,
    ) -> None:
        self.store = store
        self.recorder_factory = recorder_factory
        self.max_visits = max_visits
        self.runners = runners if runners is not None else build_runner_registry()
        missing = [t for t in store.node_types if t not in self.runners]
        if missing:
            raise ValueError(f"node types without a runner: {', '.join(missing)}")
        self.services = Services(
            schedules=schedules, clock=clock, redis=redis_getter, recordings_dir=recordings_dir,
            synthesize=synthesize or ivr_prompts_synthesizer(prompts_dir),
        )

    def handler_for(self, name: str) -> Handler | None:
        """For agi.server's resolve: None when no good version of flow `name` is loaded."""
        flow = self.store.get(name)  # fixed now: a reload during the call does not affect it
        if flow is None:
            return None

        async def handle(channel: Channel) -> None:
            await self.run(flow, channel, self.recorder_factory())

        return handle

    def _context(self, flow: Flow, channel: Channel, recorder: Recorder) -> CallContext:
        env = channel.env
        call_id = env.get("uniqueid") or f"noid-{uuid.uuid4().hex}"
        recorder.start(
            call_id, caller=env.get("callerid", ""), called=env.get("dnid") or env.get("extension", ""),
            flow=flow.name, flow_version=flow.version, language=flow.default_language,
            channel=env.get("channel", ""),
        )
        return CallContext(flow=flow, channel=channel, recorder=recorder, services=self.services,
                           call_id=call_id, language=flow.default_language)

    async def run(self, flow: Flow, channel: Channel, recorder: Recorder) -> str:
        """Run one call to its end; returns the outcome (also given to recorder.finish)."""
        ctx = self._context(flow, channel, recorder)
        outcome = "error"  # also what a cancelled call (server shutdown) is recorded as
        try:
            await channel.answer()
            end = await self._walk(ctx)
            outcome = end.outcome
            await channel.set_variable("IVR_OUTCOME", outcome)
            await channel.set_variable("IVR_DONE", "1")
            if end.hang_up:
                recorder.set("ended_by", "system")  # the flow hung up (review page: who hung up)
                await channel.hangup()
        except AgiHangup:
            recorder.set("ended_by", "caller")
            outcome = ctx.result or "caller_hangup"
            log.info("call %s: caller hung up in flow %s at node %s (%s)",
                     ctx.call_id, flow.name, ctx.node_id, outcome)
        except LoopGuardTripped as exc:
            log.error("call %s: flow %s: %s; falling back to the queue", ctx.call_id, flow.name, exc)
            outcome = "error"
            await self._mark_error(ctx)
        except Exception:
            log.exception("call %s: flow %s version %s failed at node %s; falling back to the queue",
                          ctx.call_id, flow.name, flow.version, ctx.node_id)
            outcome = "error"
            await self._mark_error(ctx)
        finally:
            recorder.finish(outcome)
        return outcome

    async def _walk(self, ctx: CallContext) -> End:
        node_id = ctx.flow.start
        for _ in range(self.max_visits):
            node = ctx.flow.node(node_id)
            ctx.node_id = node_id
            ctx.recorder.event("node", node=node_id, type=node.type)
            step = await self.runners[node.type](node, ctx)
            if isinstance(step, End):
                return step
            node_id = step
        raise LoopGuardTripped(f"more than {self.max_visits} node visits (at node {node_id!r})")

    async def _mark_error(self, ctx: CallContext) -> None:
        """Tell the dialplan why (best effort: the channel may be what failed)."""
        try:
            await asyncio.wait_for(ctx.channel.set_variable("IVR_OUTCOME", "error"), _VARIABLE_TIMEOUT)
        except (AgiError, TimeoutError, OSError) as exc:
            log.info("call %s: IVR_OUTCOME not set (%s)", ctx.call_id, exc.__class__.__name__)
