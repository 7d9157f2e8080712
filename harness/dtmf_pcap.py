"""RFC 4733 DTMF as pcap files for SIPp's play_pcap_audio.

The sip-tester package ships one pcap per digit, but they all carry the same RTP timestamp, and
Asterisk treats a second event with an already-seen timestamp as a repeat of the first: a caller
could press only one key per call. Here the n-th key of a call gets its own timestamp and sequence
numbers, continuing the previous ones.
"""

from __future__ import annotations

import struct
from pathlib import Path

PAYLOAD_TYPE = 101  # telephone-event, as offered in the caller's SDP
SSRC = 0x48564952
EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
_STEPS = 7          # event packets while the key is held (20 ms apart)
_END_COPIES = 3     # the end packet is sent three times (RFC 4733 2.5.1.4)
_STEP_DURATION = 320
_PACKETS_PER_DIGIT = _STEPS + _END_COPIES


def _ip_udp(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 10000, 10000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    eth = b"\x00" * 12 + b"\x08\x00"
    return eth + ip + udp


def _rtp(seq: int, timestamp: int, marker: bool, event: int, end: bool, duration: int) -> bytes:
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | PAYLOAD_TYPE, seq & 0xFFFF,
                         timestamp & 0xFFFFFFFF, SSRC)
    return header + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)


def digit_pcap(digit: str, index: int) -> bytes:
    """A pcap holding key `digit` as the `index`-th key pressed in a call (0-based)."""
    if digit not in EVENTS:
        raise ValueError(f"not a DTMF key: {digit!r}")
    seq0, ts = 1000 + index * _PACKETS_PER_DIGIT, 8000 + index * 16000
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # pcap header, Ethernet
    t_us = 0
    for i in range(_PACKETS_PER_DIGIT):
        end = i >= _STEPS
        duration = _STEP_DURATION * (min(i, _STEPS - 1) + (1 if end else 0))
        pkt = _ip_udp(_rtp(seq0 + min(i, _STEPS), ts, i == 0, EVENTS[digit], end, duration))
        t_us = i * 20_000 if not end else _STEPS * 20_000
        out.append(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(pkt), len(pkt)) + pkt)
    return b"".join(out)


def write_digit_pcap(directory: Path, digit: str, index: int) -> Path:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    path = directory / f"dtmf-{index:02d}-{name}.pcap"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(digit_pcap(digit, index))
    return path
