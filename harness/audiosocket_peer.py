"""The Asterisk side of an AudioSocket stream, for the live QA benchmark: what chan_audiosocket
sends for a spy channel (the UUID, then 20 ms slin frames at the call's pace, then a hangup).
The end-to-end test uses the real Asterisk; this peer lets the benchmark run many calls at once
without the SIP side, so what it measures is `ivr liveqa`'s own cost."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from ivr.liveqa.audiosocket import KIND_AUDIO, KIND_HANGUP, KIND_UUID, encode

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
FRAME_S = 0.02


async def stream_leg(host: str, port: int, stream_id: str, pcm: bytes, start_at: float,
                     close_timeout_s: float = 10.0, pace: float = 1.0) -> float:
    """Send `pcm` in real time (`pace` 1; 0: as fast as the socket takes it) from epoch second
    `start_at`; returns when the first frame went out."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
    try:
        writer.write(encode(KIND_UUID, uuid.UUID(stream_id).bytes))
        first = 0.0
        try:
            for n, k in enumerate(range(0, len(pcm), FRAME_BYTES)):
                delay = start_at + n * FRAME_S * pace - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(encode(KIND_AUDIO, pcm[k : k + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")))
                first = first or time.time()
                if n % 10 == 0:
                    await writer.drain()
            writer.write(encode(KIND_HANGUP))
            await writer.drain()
        except ConnectionError:  # the server ended the stream (a lag stop): as Asterisk, hang up
            return first
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(), close_timeout_s)  # the server's hangup, then EOF
        return first
    finally:
        writer.close()
