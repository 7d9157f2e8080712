"""The AudioSocket server over a real TCP socket: frames as Asterisk sends them, and broken peers
that get a clear log line and a closed connection while the server keeps serving."""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import AsyncIterator

import pytest

from ivr.liveqa.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketServer,
    AudioStream,
    ProtocolError,
    encode,
)

pytestmark = pytest.mark.timeout(20)


class Received:
    def __init__(self) -> None:
        self.streams: dict[str, list[bytes]] = {}
        self.ended: dict[str, str] = {}
        self.done = asyncio.Event()

    async def handler(self, stream_id: str, audio: AudioStream) -> None:
        got = self.streams.setdefault(stream_id, [])
        while (pcm := await audio.next_audio()) is not None:
            got.append(pcm)
        self.ended[stream_id] = audio.ended_by
        self.done.set()


@pytest.fixture
async def server() -> AsyncIterator[tuple[AudioSocketServer, Received]]:
    got = Received()
    srv = AudioSocketServer("127.0.0.1", 0, got.handler, read_timeout_s=1.0)
    await srv.start()
    yield srv, got
    await srv.stop()


async def connect(srv: AudioSocketServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", srv.port)


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before closing (a hangup frame), within 3 s."""
    return await asyncio.wait_for(reader.read(), 3.0)


async def test_audio_of_a_registered_uuid_reaches_its_handler_until_hangup(
        server: tuple[AudioSocketServer, Received]) -> None:
    srv, got = server
    sid = str(uuid.uuid4())
    srv.expected.add(sid)
    reader, writer = await connect(srv)
    frames = [bytes([i]) * 320 for i in range(5)]
    writer.write(encode(KIND_UUID, uuid.UUID(sid).bytes) + b"".join(encode(KIND_AUDIO, f) for f in frames[:3]))
    writer.write(encode(KIND_DTMF, b"5") + b"".join(encode(KIND_AUDIO, f) for f in frames[3:]) + encode(KIND_HANGUP))
    await writer.drain()
    await asyncio.wait_for(got.done.wait(), 3.0)
    assert got.streams[sid] == frames and got.ended[sid] == "hangup"
    assert await closed_by_server(reader) == encode(KIND_HANGUP)  # Asterisk hangs the spy channel up
    assert sid not in srv.expected  # one connection per UUID
    writer.close()


@pytest.mark.parametrize(("payload", "says"), [
    (struct.pack("!BH", 0x42, 2) + b"xx", "unknown frame kind 0x42"),
    (encode(KIND_AUDIO, b"\0" * 320), "first frame must be the UUID (kind 0x01), got kind 0x10"),
    (encode(KIND_UUID, b"short"), "UUID frame has 5 bytes, want 16"),
    (encode(KIND_UUID, uuid.uuid4().bytes), "was not originated by this process"),
    (struct.pack("!BH", KIND_UUID, 60000), "frame kind 0x01 says 60000 bytes; at most 8192"),
    (b"\x01\x00", "stream ended inside a frame header (2 of 3 bytes)"),
    (struct.pack("!BH", KIND_UUID, 16) + b"12345", "stream ended inside a frame of kind 0x01 (5 of 16 bytes)"),
    (b"", "closed before sending its UUID"),
])
async def test_a_malformed_stream_is_refused_with_a_clear_error_and_the_server_keeps_serving(
        server: tuple[AudioSocketServer, Received], caplog: pytest.LogCaptureFixture, payload: bytes,
        says: str) -> None:
    srv, got = server
    caplog.set_level(logging.WARNING, logger="ivr.liveqa.audiosocket")
    reader, writer = await connect(srv)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    assert await closed_by_server(reader) == encode(KIND_HANGUP)
    writer.close()
    assert srv.refused == 1
    assert says in caplog.text and "AudioSocket from 127.0.0.1:" in caplog.text
    # the next, well-formed stream is served as usual
    sid = str(uuid.uuid4())
    srv.expected.add(sid)
    reader, writer = await connect(srv)
    writer.write(encode(KIND_UUID, uuid.UUID(sid).bytes) + encode(KIND_AUDIO, b"\1\0" * 160) + encode(KIND_HANGUP))
    await writer.drain()
    await asyncio.wait_for(got.done.wait(), 3.0)
    assert got.streams[sid] == [b"\1\0" * 160]
    writer.close()


async def test_a_silent_peer_is_dropped_after_the_read_timeout(server: tuple[AudioSocketServer, Received],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    srv, _ = server
    caplog.set_level(logging.WARNING, logger="ivr.liveqa.audiosocket")
    reader, writer = await connect(srv)
    assert await closed_by_server(reader) == encode(KIND_HANGUP)  # read_timeout_s=1.0
    assert "nothing received in time (1 s for the UUID" in caplog.text and srv.refused == 1
    writer.close()


async def test_an_odd_sized_audio_frame_ends_the_stream_with_a_protocol_error(
        server: tuple[AudioSocketServer, Received], caplog: pytest.LogCaptureFixture) -> None:
    srv, got = server
    sid = str(uuid.uuid4())
    srv.expected.add(sid)
    reader, writer = await connect(srv)
    writer.write(encode(KIND_UUID, uuid.UUID(sid).bytes) + encode(KIND_AUDIO, b"\0" * 321))
    await writer.drain()
    assert await closed_by_server(reader) == encode(KIND_HANGUP)
    assert "audio frame of 321 bytes (16-bit samples)" in caplog.text and sid not in got.ended
    writer.close()


def test_encode_refuses_what_asterisk_would_not_understand() -> None:
    with pytest.raises(ProtocolError, match="kind 0x42"):
        encode(0x42)
    with pytest.raises(ProtocolError, match="at most 65535"):
        encode(KIND_AUDIO, b"\0" * 70000)
