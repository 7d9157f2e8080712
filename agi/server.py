"""The FastAGI server: routes each connection by its script name to a handler, with bounded
concurrency and a graceful drain on SIGTERM.

Whenever a call cannot be served (too many calls, unknown script, bad header, handler error,
shutdown) the server sends a `FAILURE` line before closing: Asterisk then sets AGISTATUS=FAILURE
and the dialplan falls back. A plain close would give AGISTATUS=SUCCESS (see agi/protocol.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agi.channel import AgiChannel, split_network_script
from agi.protocol import FAILURE_LINE, AgiHangup, AgiProtocolError, AgiTimeout, read_header
from agi.stats import CommandStats

log = logging.getLogger(__name__)

Handler = Callable[[AgiChannel], Awaitable[None]]
Resolver = Callable[[str], Handler | None]

_Peer = object  # whatever getpeername() gave; only logged


@dataclass
class ServerCounters:
    accepted: int = 0
    refused_busy: int = 0
    refused_unknown: int = 0
    bad_header: int = 0
    completed: int = 0
    hung_up: int = 0
    failed: int = 0
    cancelled: int = 0


class FastAgiServer:
    def __init__(
        self,
        resolve: Resolver,
        host: str = "127.0.0.1",
        port: int = 4573,
        max_calls: int = 200,
        read_timeout: float = 30.0,
        drain_timeout: float = 60.0,
        *,
        refuse_linger: float = 2.0,
    ) -> None:
        if max_calls < 1:
            raise ValueError(f"FastAgiServer: max_calls must be >= 1, got {max_calls}")
        if read_timeout <= 0 or drain_timeout < 0 or refuse_linger < 0:
            raise ValueError(
                f"FastAgiServer: read_timeout must be > 0 and drain_timeout, refuse_linger >= 0 "
                f"(got {read_timeout}, {drain_timeout}, {refuse_linger})"
            )
        self._resolve = resolve
        self._host, self._port = host, port
        self._max_calls = max_calls
        self._read_timeout = read_timeout
        self._drain_timeout = drain_timeout
        # How long a refused connection may take to read our FAILURE line: closing with its
        # header unread would send a TCP reset that can destroy the FAILURE line in transit.
        self._refuse_linger = refuse_linger
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._refusals: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._stop_task: asyncio.Task[None] | None = None
        self._signals: list[signal.Signals] = []
        self.stats = CommandStats()
        self.counters = ServerCounters()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("FastAgiServer.port: the server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAgiServer.start: already started")
        self._server = await asyncio.start_server(
            self._on_connect, self._host, self._port, reuse_address=True, backlog=max(100, self._max_calls)
        )
        log.info("FastAGI listening on %s:%d (max_calls=%d, read_timeout=%gs)",
                 self._host, self.port, self._max_calls, self._read_timeout)

    async def serve_forever(self) -> None:
        """Start if needed, then wait until stop() has finished."""
        if self._server is None:
            await self.start()
        await self._stopped.wait()

    async def stop(self, drain: bool = True) -> None:
        """Stop accepting; with `drain`, let calls in progress finish for up to drain_timeout
        seconds; then cancel the rest (each gets FAILURE so its dialplan falls back)."""
        if self._server is None:
            return
        if self._stopping:  # a second caller (e.g. the signal handler) waits for the first
            await self._stopped.wait()
            return
        self._stopping = True
        self._server.close()
        if drain and self._calls:
            log.info("draining %d calls for up to %gs", len(self._calls), self._drain_timeout)
            await asyncio.wait(set(self._calls), timeout=self._drain_timeout)
        pending = [t for t in self._calls | self._refusals if not t.done()]
        if pending:
            log.warning("cancelling %d connections still open at shutdown", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()
        self._remove_signal_handlers()
        self._stopped.set()
        log.info("FastAGI server stopped")

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: drain (stop(drain=True)); a second signal cancels the calls at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
            self._signals.append(sig)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals.clear()

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stop_task is None:
            log.warning("%s: draining %d calls for up to %gs (send again to stop at once)",
                        sig.name, len(self._calls), self._drain_timeout)
            self._stop_task = asyncio.create_task(self.stop(drain=True))
            return
        log.warning("%s again: cancelling %d calls now", sig.name, len(self._calls))
        for task in self._calls:
            task.cancel()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # asyncio runs this callback in a task of its own
        peer: _Peer = writer.get_extra_info("peername")
        if self._stopping or len(self._calls) >= self._max_calls:
            self.counters.refused_busy += 1
            log.warning("refusing FastAGI connection from %s: %d calls in progress (max_calls=%d)",
                        peer, len(self._calls), self._max_calls)
            await self._tracked_refusal(task, reader, writer)
            return
        self._calls.add(task)
        self.counters.accepted += 1
        try:
            ok = await self._serve(reader, writer, peer)
        except asyncio.CancelledError:
            self.counters.cancelled += 1
            log.warning("call from %s cancelled by shutdown; sending FAILURE", peer)
            await self._refuse(reader, writer)
            raise
        finally:
            self._calls.discard(task)
        if ok:
            await _close(writer)
        else:
            await self._refuse(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> bool:
        """Run one call; False when the connection must end with FAILURE."""
        try:
            header = await read_header(reader, self._read_timeout)
        except AgiHangup as e:
            log.info("FastAGI connection from %s ended before its header: %s", peer, e)
            return True
        except (AgiTimeout, AgiProtocolError) as e:
            self.counters.bad_header += 1
            log.warning("FastAGI connection from %s: %s", peer, e)
            return False
        script, _ = split_network_script(header.get("agi_network_script", ""))
        call_id = header.get("agi_uniqueid", "?")
        try:
            handler = self._resolve(script)
        except Exception:
            log.exception("call %s from %s: resolving FastAGI script %r failed", call_id, peer, script)
            return False
        if handler is None:
            self.counters.refused_unknown += 1
            log.warning("call %s from %s: no handler for FastAGI script %r; refusing", call_id, peer, script)
            return False
        channel = AgiChannel(reader, writer, header, read_timeout=self._read_timeout)
        try:
            return await self._run_handler(handler, channel, script)
        finally:
            self.stats.merge(channel.stats)

    async def _run_handler(self, handler: Handler, channel: AgiChannel, script: str) -> bool:
        try:
            await handler(channel)
        except AgiHangup as e:
            self.counters.hung_up += 1
            log.info("call %s: caller hung up (%s)", channel.call_id, e)
            return True
        except AgiTimeout as e:
            self.counters.failed += 1
            log.warning("call %s (%s): %s; ending the call", channel.call_id, script, e)
            return False
        except Exception:
            self.counters.failed += 1
            log.exception("call %s: handler for FastAGI script %r failed", channel.call_id, script)
            return False
        if channel.hung_up:
            self.counters.hung_up += 1
        else:
            self.counters.completed += 1
        return True

    async def _tracked_refusal(
        self, task: asyncio.Task[None], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if len(self._refusals) >= self._max_calls:
            writer.transport.abort()  # a flood: lingering politely would let it pile up
            return
        self._refusals.add(task)
        try:
            await self._refuse(reader, writer)
        finally:
            self._refusals.discard(task)

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Send FAILURE, half-close, read until Asterisk closes (bounded), then close."""
        try:
            if not writer.is_closing():
                writer.write(FAILURE_LINE)
                if writer.can_write_eof():
                    writer.write_eof()
                async with asyncio.timeout(self._refuse_linger):
                    while await reader.read(4096):
                        pass
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError):
        writer.transport.abort()
