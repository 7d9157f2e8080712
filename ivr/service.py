"""`ivr serve`: everything a running hotline needs in one asyncio process.

The FastAGI server answers calls even while Redis is unreachable (call records are buffered
and written on reconnect) and while the flow files are broken (the last good version serves).

Several `ivr serve` may serve one Asterisk (IVR_AGI_SERVERS, docs/operations.md): each serves calls;
the one holding the leader lease (ivr.state.lease) applies the AMI listener's events and runs the
callback dialer; the others' listeners stand by, hearing events to replay when they take over.
Each call learns which node runs its flow (IVR_NODE): the dialplan tries the next server only when
no node started the flow.
"""

from __future__ import annotations

import asyncio
import logging

from agi.channel import AgiChannel
from agi.server import FastAgiServer, Handler
from ivr import keys
from ivr.asterisk.private import check_secrets
from ivr.callflow.report import RedisReloadReporter
from ivr.callflow.store import FlowStore
from ivr.clock import Clock, clock_from_settings
from ivr.engine.engine import FlowEngine
from ivr.engine.queue_wait import QueueRuntime
from ivr.engine.runners import build_runner_registry
from ivr.prompts import build_prompts
from ivr.queueing.config import QueueConfigError, load_queue_config
from ivr.queueing.dialer import CallbackDialer
from ivr.queueing.listener import QueueListener
from ivr.queueing.passes import QueuePasses
from ivr.records.callback_history import move_callbacks_forever
from ivr.records.mover import move_forever
from ivr.schedule import Schedule, load_schedules
from ivr.settings import Settings
from ivr.state.callrecord import CallRecorder
from ivr.state.lease import LeaderLease, node_name
from ivr.state.ops import HSet, dumps
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter
from ivr.tasks import TaskSupervisor

log = logging.getLogger(__name__)


class HotlineService:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or clock_from_settings(settings)
        self.node = node_name(settings)
        self._started = False

    async def start(self) -> None:
        s = self.settings
        # The listener and dialer log in to AMI with it: refused here as at render (InsecureSecret)
        check_secrets(s, refused="ivr serve not started")
        self.hub = RedisHub(s.redis_url)
        self.tasks = TaskSupervisor(on_death=self._count_death)
        self.lease = LeaderLease.from_settings(s, self.hub.client)
        self.leader_tasks = TaskSupervisor(on_death=self._count_death)  # run only while leading
        self.writer = RecordWriter(self.hub, ttl_seconds=keys.call_record_ttl_s(s))
        await self.writer.start()
        # A refused reload reaches Redis (keys.flow_error), where the flow editor shows it to admins
        self.store = FlowStore(s.flows_dir, on_reload=RedisReloadReporter(self.hub.client))
        self.store.reload_all()
        await self._build_prompts()
        schedules = load_schedules(s.flows_dir / "schedules.yaml")
        queues = self._queue_runtime(schedules)
        self.engine = FlowEngine(
            store=self.store,
            schedules=schedules,
            clock=self.clock,
            redis_getter=self.hub.client,
            prompts_dir=s.prompts_path,
            recordings_dir=s.recordings_dir,
            recorder_factory=lambda: CallRecorder(self.writer),
            runners=build_runner_registry(queues),
        )
        self.server = FastAgiServer(
            self._resolve, host=s.agi_host, port=s.agi_port, max_calls=s.agi_max_calls,
            read_timeout=s.agi_read_timeout, drain_timeout=s.agi_drain_timeout,
        )
        await self.server.start()
        self.tasks.spawn("flow-watch", self.store.watch)
        self.tasks.spawn("records-mover", lambda: move_forever(s, self.hub))  # finished calls -> SQL
        self.tasks.spawn("callback-mover", lambda: move_callbacks_forever(s, self.hub))  # finished callbacks -> SQL
        if queues is not None:
            self._start_queue_services(queues, schedules)
        self._started = True
        log.info("node %s serving flows %s on agi://%s:%s", self.node, ", ".join(self.store.names()),
                 s.agi_host, self.server.port)

    def _resolve(self, script: str) -> Handler | None:
        """The flow's handler, which first names this node on the call (IVR_NODE; `node` on the call
        record): the dialplan then knows the flow started here and does not run it again elsewhere."""
        handler = self.engine.handler_for(script)
        if handler is None:
            return None
        flow = handler

        async def on_this_node(channel: AgiChannel) -> None:
            self.writer.submit([HSet(keys.call(channel.call_id), {"node": dumps(self.node)})])
            await channel.set_variable("IVR_NODE", self.node)
            await flow(channel)

        return on_this_node

    def _queue_runtime(self, schedules: dict[str, Schedule]) -> QueueRuntime | None:
        """Live queues (announcements, overflow, callbacks) when queues.yaml loads; else plain Queue()."""
        try:
            cfg = load_queue_config(self.settings.flows_dir / "queues.yaml", schedules=schedules)
        except QueueConfigError as exc:
            log.error("queues not live (plain Queue() only): %s", exc)
            return None
        passes = QueuePasses(self.hub.client, ttl_s=keys.queue_pass_ttl_s(self.settings))
        return QueueRuntime(cfg, passes, timezone=self.settings.timezone,
                            record_ttl_s=keys.call_record_ttl_s(self.settings))

    def _start_queue_services(self, queues: QueueRuntime, schedules: dict[str, Schedule]) -> None:
        """The AMI listener and the callback dialer: they (re)connect on their own, calls never wait.
        The listener runs on every node (a standby hears what it will replay); the dialer only on the
        leader, started when the lease is gained and stopped when it is lost."""
        self.dialer = CallbackDialer(self.settings, queues.cfg, schedules, self.clock, self.hub.client, self.writer,
                                     lease=self.lease)
        self.listener = QueueListener(self.settings, queues.cfg, self.hub.client, self.writer, lease=self.lease,
                                      user_event=self.dialer.on_user_event)
        self.lease.on_gain.append(self._lead)
        self.lease.on_loss.append(self.leader_tasks.stop)
        self.tasks.spawn("ami-listener", self.listener.run)
        self.tasks.spawn("leader-lease", self.lease.run)

    async def _lead(self) -> None:
        self.leader_tasks.spawn("callback-dialer", self.dialer.run)

    async def _build_prompts(self) -> None:
        """Synthesize every text prompt of every served flow before the first call needs it."""
        texts = [t for flow in self.store.flows() for t in flow.prompt_texts()]
        stats = await asyncio.to_thread(build_prompts, texts, self.settings.prompts_path)
        log.info("prompts: %s", stats)

    async def _count_death(self, name: str) -> None:
        """A background task died: counted in Redis, so the dashboard's /metrics shows it."""
        redis = await self.hub.client()
        if redis is not None:
            await asyncio.wait_for(redis.hincrby(keys.TASK_DEATHS, name, 1), 2.0)

    async def serve_forever(self) -> None:
        self.server.install_signal_handlers()
        await self.server.serve_forever()

    async def stop(self, drain: bool = True) -> None:
        if not self._started:
            return
        await self.server.stop(drain=drain)  # still leading: the drained calls' queue events are counted
        await self.tasks.stop()
        await self.lease.release()  # a standby takes over at once, not when the lease expires
        await self.leader_tasks.stop()
        await self.writer.stop(flush_timeout=5.0)
        await self.hub.close()
        self._started = False
