"""`ivr liveqa`: watch AMI for agents bridged to callers and stream both legs of each call to Vosk.

Its own process (CPU-heavy recognition never shares the call engine's event loop) and its own AMI
user (reads agent events, may only originate). On AgentConnect of a queue whose `live_qa` switch
is on, it takes a capacity slot and claims the call in Redis (several liveqa processes never
stream one call twice), then originates one spy channel per leg:

    AudioSocket/<host>:<port>/<uuid>/c(slin)  ->  ChanSpy(<that leg's exact channel>,qoE)

q: no beep, no channel name spoken; o: only the audio the spied channel itself receives from its
phone (that party's voice, not the mix); E: ChanSpy exits when the spied channel hangs up, so the
spy channel ends with the call. The streams arrive at our AudioSocket server (ivr.liveqa.audiosocket)
and are decoded by ivr.liveqa.session on a thread pool bounded by the capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.asyncio as aioredis

from ivr import keys
from ivr.liveqa.alerts import Alert, publish
from ivr.liveqa.audiosocket import AudioSocketServer, AudioStream
from ivr.liveqa.capacity import Capacity, Claims
from ivr.liveqa.matcher import Leg, LiveRules
from ivr.liveqa.recognizer import RecognizerPool
from ivr.liveqa.session import CallInfo, LiveCall
from ivr.liveqa.switches import QueueSwitches
from ivr.queueing.ami import AmiError, connect_ami, response_of, send
from ivr.queueing.misses import agent_from_interface
from ivr.settings import Settings
from ivr.state.ops import dumps

log = logging.getLogger(__name__)
# A channel name goes into ChanSpy's arguments: no commas, quotes, spaces or pipes (PJSIP/1001-0000002a).
CHANNEL = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@-]{1,80}$")
CONNECT_TIMEOUT_S = 5.0  # both spy channels connected by then, or the call is not streamed
LEGS: tuple[Leg, ...] = ("agent", "caller")


def call_info(event: dict[str, str]) -> CallInfo:
    """The call of an AgentConnect event; ValueError names the field that does not fit."""
    info = CallInfo(call_id=event.get("Uniqueid", ""), queue=event.get("Queue", ""),
                    agent=agent_from_interface(event.get("Interface", "")),
                    agent_channel=event.get("DestChannel", ""), caller_channel=event.get("Channel", ""))
    for name, value in (("Channel", info.caller_channel), ("DestChannel", info.agent_channel)):
        if not CHANNEL.match(value):
            raise ValueError(f"AgentConnect {name} {value[:90]!r}: not a channel ChanSpy can be given")
    if not info.call_id or not info.queue:
        raise ValueError("AgentConnect without Uniqueid or Queue")
    return info


def spy_action(settings: Settings, port: int, stream_id: str, channel: str) -> dict[str, str]:
    return {"Action": "Originate", "Async": "true", "Timeout": str(int(CONNECT_TIMEOUT_S * 1000)),
            "Channel": f"AudioSocket/{settings.liveqa_listen_host}:{port}/{stream_id}/c(slin)",
            "Application": "ChanSpy", "Data": f"{channel},qoE", "CallerID": '"live QA" <liveqa>'}


def ami_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ami_user": settings.liveqa_ami_user,
                                       "ami_secret": settings.liveqa_ami_secret})


class LiveQaService:
    def __init__(self, settings: Settings, redis: aioredis.Redis, model: Any, rules: dict[Leg, LiveRules],
                 switches: QueueSwitches, *, node: str, limit: int) -> None:
        self.settings, self.redis, self.rules, self.switches, self.node = settings, redis, rules, switches, node
        self.capacity = Capacity(limit)
        self.claims = Claims(redis, node, keys.liveqa_claim_ttl_s(settings))
        self.pool = RecognizerPool(model)
        self.executor = ThreadPoolExecutor(max_workers=max(1, min(limit * 2, 64)), thread_name_prefix="vosk")
        self.server = AudioSocketServer(settings.liveqa_listen_host, settings.liveqa_listen_port, self._stream)
        self.calls: dict[str, LiveCall] = {}
        self._streams: dict[str, tuple[LiveCall, Leg]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._manager: Any = None
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Serve AudioSocket and follow AMI until cancelled; AMI gone: reconnect with a backoff."""
        await self.server.start()
        log.info("live QA: AudioSocket on %s:%d, %d calls at most", self.server.host, self.server.port,
                 self.capacity.limit)
        try:
            backoff = 0.5
            while True:
                try:
                    await self._session()
                except (AmiError, OSError, TimeoutError) as exc:
                    log.warning("live QA: AMI %s; retrying in %.0f s", exc, backoff)
                self.connected.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.server.stop()
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def _session(self) -> None:
        manager = await connect_ami(ami_settings(self.settings), events="agent")
        lost = asyncio.Event()
        setattr(manager, "connect", lambda *_: None)  # noqa: B010 - we reconnect ourselves
        setattr(manager, "on_disconnect", lambda *_: lost.set())  # noqa: B010
        manager.register_event("AgentConnect", self._on_connect)
        self._manager = manager
        self.connected.set()
        log.info("live QA: AMI connected as %s", self.settings.liveqa_ami_user)
        try:
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), 2.0)
                await self._write_load()
                if not lost.is_set():
                    await send(manager, {"Action": "Ping"}, 5.0)
            raise AmiError("connection lost")
        finally:
            self._manager = None
            manager.close()

    def _on_connect(self, _manager: Any, message: Any) -> None:
        event = {str(k): str(v) for k, v in dict(message).items()}
        try:
            info = call_info(event)
        except ValueError as exc:
            log.warning("live QA: %s; call not streamed", exc)
            return
        self._spawn(self._follow(info), f"liveqa-call-{info.call_id}")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live QA: %s died", task.get_name(), exc_info=task.exception())

    async def _follow(self, info: CallInfo) -> None:
        """The life of one call's streaming: admit, claim, originate, renew, release."""
        if not self.switches.enabled(info.queue):
            return await self._count("degraded:disabled")
        if not self.capacity.admit(info.call_id):
            return await self._flush()
        try:
            if not await asyncio.wait_for(self.claims.claim(info.call_id), 2.0):
                self.capacity.degrade("claimed")
                return
        except (OSError, TimeoutError, aioredis.RedisError) as exc:
            log.warning("live QA: call %s not claimed (%s)", info.call_id, exc)
            self.capacity.degrade("redis")
            return
        finally:
            await self._flush()
        try:
            await self._stream_call(info)
        finally:
            self.capacity.release(info.call_id)
            self.calls.pop(info.call_id, None)
            with contextlib.suppress(OSError, TimeoutError, aioredis.RedisError):
                await asyncio.wait_for(self.claims.release(info.call_id), 2.0)
            await self._flush()

    async def _stream_call(self, info: CallInfo) -> None:
        call = LiveCall(info, self.rules, self.pool, self.executor, self._alert, self.settings.liveqa_max_lag_s)
        self.calls[info.call_id] = call
        ids = {leg: str(uuid.uuid4()) for leg in LEGS}
        for leg, stream_id in ids.items():
            self._streams[stream_id] = (call, leg)
            self.server.expected.add(stream_id)
        try:
            if not await self._originate(info, ids):
                self.capacity.degrade("originate_failed")
                return
            while True:  # renew the claim until both legs ended
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(call.done(), self.claims.ttl_s / 3)
                    break
                try:
                    await asyncio.wait_for(self.claims.renew(info.call_id), 2.0)
                except (OSError, TimeoutError, aioredis.RedisError) as exc:  # keep streaming; the TTL decides
                    log.warning("live QA: claim of call %s not renewed (%s)", info.call_id, exc)
            if call.stop_reason == "lag":
                self.capacity.degrade("lag")
        finally:
            for stream_id in ids.values():
                self._streams.pop(stream_id, None)
                self.server.expected.discard(stream_id)
            call.stop("ended")

    async def _originate(self, info: CallInfo, ids: dict[Leg, str]) -> bool:
        manager = self._manager
        if manager is None:
            return False
        for leg, stream_id in ids.items():
            action = spy_action(self.settings, self.server.port, stream_id, info.channel(leg))
            try:
                reply = response_of(await send(manager, action, 5.0))
            except (AmiError, OSError) as exc:
                log.warning("live QA: the %s spy of call %s not originated: %s", leg, info.call_id, exc)
                return False
            if not getattr(reply, "success", False):
                log.warning("live QA: Asterisk refused the %s spy of call %s: %s", leg, info.call_id,
                            getattr(reply, "message", reply))
                return False
        call = self.calls[info.call_id]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in call.connected.values())),
                                   CONNECT_TIMEOUT_S)
        except TimeoutError:
            log.warning("live QA: call %s: the spy channels did not connect within %.0f s", info.call_id,
                        CONNECT_TIMEOUT_S)
            call.stop("no stream")
            return False
        return True

    async def _stream(self, stream_id: str, audio: AudioStream) -> None:
        """AudioSocket handler: the leg this UUID was originated for."""
        call, leg = self._streams[stream_id]
        await call.stream(leg, audio)

    async def _alert(self, alert: Alert) -> None:
        try:
            await publish(self.redis, alert, self.settings)
        except (OSError, TimeoutError, aioredis.RedisError) as exc:
            log.error("live QA: alert %s of call %s not written (%s)", alert.kind, alert.call_id, exc)

    async def _count(self, name: str) -> None:
        self.capacity.counts[name] += 1
        await self._flush()

    async def _flush(self) -> None:
        counts, self.capacity.counts = self.capacity.counts, type(self.capacity.counts)()
        if not counts:
            return
        try:
            pipe = self.redis.pipeline(transaction=True)
            for name, n in counts.items():
                pipe.hincrby(keys.LIVEQA_COUNTS, name, n)
            await asyncio.wait_for(pipe.execute(), 2.0)
        except (OSError, TimeoutError, aioredis.RedisError) as exc:
            self.capacity.counts.update(counts)  # kept for the next flush
            log.warning("live QA: counters not written (%s)", exc)

    async def _write_load(self) -> None:
        load = {"calls": len(self.capacity.active), "capacity": self.capacity.limit, "at": time.time()}
        with contextlib.suppress(OSError, TimeoutError, aioredis.RedisError):
            await asyncio.wait_for(self.redis.hset(keys.LIVEQA_LOAD, self.node, dumps(load)), 2.0)
