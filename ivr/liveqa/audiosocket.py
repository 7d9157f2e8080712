"""Asterisk's AudioSocket protocol and the asyncio server that receives the spy channels' audio.

AudioSocket (res_audiosocket.h of Asterisk 22) is type-length-value over TCP: one byte kind, a
16-bit big-endian length, then the payload. Asterisk's channel (`AudioSocket/host:port/<uuid>/c(slin)`)
connects to us and sends 0x01 with the 16-byte UUID first, then 0x10 frames of signed linear 16-bit
8 kHz mono audio (20 ms, 320 bytes, at the channel's pace), 0x03 DTMF, 0x00 when it hangs up and 0xff
with an error code. Every read has a timeout; a connection that breaks the protocol (an unknown
kind, a frame longer than allowed, no UUID first, a UUID nobody registered) is answered with a
clear log line and closed: one bad peer never takes the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10  # slin, 8 kHz 16-bit mono: what `c(slin)` asks of the channel
KIND_ERROR = 0xFF
KINDS = frozenset({KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR})
MAX_PAYLOAD = 8192  # 256 ms of slin; Asterisk sends 320-byte frames, so more is a broken peer
HEADER = struct.Struct("!BH")


class ProtocolError(ValueError):
    """A frame that is not AudioSocket as Asterisk speaks it; the message says what and where."""


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes


def encode(kind: int, payload: bytes = b"") -> bytes:
    if kind not in KINDS:
        raise ProtocolError(f"AudioSocket kind 0x{kind:02x}: not one of {sorted(KINDS)}")
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"AudioSocket payload of {len(payload)} bytes: at most 65535")
    return HEADER.pack(kind, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader, timeout_s: float, where: str) -> Frame | None:
    """The next frame, None at a clean end of stream. ProtocolError for anything else, TimeoutError
    when the peer is silent for `timeout_s`."""
    try:
        head = await asyncio.wait_for(reader.readexactly(HEADER.size), timeout_s)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError(f"{where}: stream ended inside a frame header ({len(exc.partial)} of 3 bytes)") from None
    kind, length = HEADER.unpack(head)
    if kind not in KINDS:
        raise ProtocolError(f"{where}: unknown frame kind 0x{kind:02x} (length {length})")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"{where}: frame kind 0x{kind:02x} says {length} bytes; at most {MAX_PAYLOAD}")
    try:
        payload = await asyncio.wait_for(reader.readexactly(length), timeout_s)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(f"{where}: stream ended inside a frame of kind 0x{kind:02x} "
                            f"({len(exc.partial)} of {length} bytes)") from None
    return Frame(kind, payload)


def parse_uuid(frame: Frame, where: str) -> str:
    if frame.kind != KIND_UUID:
        raise ProtocolError(f"{where}: first frame must be the UUID (kind 0x01), got kind 0x{frame.kind:02x}")
    if len(frame.payload) != 16:
        raise ProtocolError(f"{where}: UUID frame has {len(frame.payload)} bytes, want 16")
    return str(uuid.UUID(bytes=frame.payload))


# Called with the stream's UUID and an async iterator of slin payloads; returns when the stream ends.
StreamHandler = Callable[[str, "AudioStream"], Awaitable[None]]


class AudioStream:
    """The audio of one connection after its UUID: `await next_audio()` until it returns None."""

    def __init__(self, reader: asyncio.StreamReader, timeout_s: float, where: str) -> None:
        self._reader, self.timeout_s, self.where = reader, timeout_s, where
        self.ended_by = ""  # "hangup", "eof", "error <code>"

    async def next_audio(self) -> bytes | None:
        while True:
            frame = await read_frame(self._reader, self.timeout_s, self.where)
            if frame is None:
                self.ended_by = "eof"
                return None
            if frame.kind == KIND_AUDIO:
                if len(frame.payload) % 2:
                    raise ProtocolError(f"{self.where}: audio frame of {len(frame.payload)} bytes (16-bit samples)")
                return frame.payload
            if frame.kind == KIND_HANGUP:
                self.ended_by = "hangup"
                return None
            if frame.kind == KIND_ERROR:
                self.ended_by = f"error {frame.payload.hex() or '-'}"
                return None
            if frame.kind == KIND_UUID:
                raise ProtocolError(f"{self.where}: a second UUID frame in the same stream")
            # DTMF: the spied leg's key presses mean nothing to live QA


class AudioSocketServer:
    """Accepts Asterisk's AudioSocket connections; each registered UUID goes to its handler."""

    def __init__(self, host: str, port: int, handler: StreamHandler, read_timeout_s: float = 5.0,
                 audio_timeout_s: float = 300.0) -> None:
        """`read_timeout_s`: for the UUID; `audio_timeout_s`: between audio frames (a spied leg that
        sends no RTP, on hold or muted, gives ChanSpy nothing to pass on: silence is not a dead peer;
        a peer that dies closes the connection, and the call's claim in Redis expires without renewals)."""
        self.host, self.port, self.handler, self.read_timeout_s = host, port, handler, read_timeout_s
        self.audio_timeout_s = audio_timeout_s
        self.expected: set[str] = set()
        self.refused = 0  # connections closed for a protocol error or an unknown UUID
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the bound port (port 0 picks a free one)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._connection(reader, writer), name="audiosocket-conn")
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        where = f"AudioSocket from {peer[0]}:{peer[1]}" if peer else "AudioSocket"
        try:
            first = await read_frame(reader, self.read_timeout_s, where)
            if first is None:
                raise ProtocolError(f"{where}: closed before sending its UUID")
            stream_id = parse_uuid(first, where)
            if stream_id not in self.expected:
                raise ProtocolError(f"{where}: UUID {stream_id} was not originated by this process")
            self.expected.discard(stream_id)  # one connection per UUID
            await self.handler(stream_id, AudioStream(reader, self.audio_timeout_s, f"{where} ({stream_id})"))
        except ProtocolError as exc:
            self.refused += 1
            log.warning("%s; connection closed", exc)
        except TimeoutError:
            self.refused += 1
            log.warning("%s: nothing received in time (%.0f s for the UUID, %.0f s between frames); "
                        "connection closed", where, self.read_timeout_s, self.audio_timeout_s)
        except (ConnectionError, OSError) as exc:
            log.info("%s: connection lost (%s)", where, exc)
        except Exception:  # a handler bug must not end the server: log it, drop this stream only
            log.exception("%s: stream handler failed", where)
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(encode(KIND_HANGUP))  # chan_audiosocket hangs the spy channel up
                writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
