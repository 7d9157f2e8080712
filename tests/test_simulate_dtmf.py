"""The DTMF pcaps SIPp plays: one RFC 4733 event per key, a fresh timestamp for every key of a call."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from harness.dtmf_pcap import EVENTS, PAYLOAD_TYPE, digit_pcap
from harness.scenarios import AwaitHangup, Dtmf, Wait, caller_scenario


def _rtp_packets(pcap: bytes) -> list[tuple[int, int, int, int, bool, int]]:
    """(seq, timestamp, payload type, event, end, duration) of each packet."""
    assert struct.unpack("<I", pcap[:4])[0] == 0xA1B2C3D4
    off, out = 24, []
    while off < len(pcap):
        incl = struct.unpack("<IIII", pcap[off:off + 16])[2]
        rtp = pcap[off + 16 + 42: off + 16 + incl]  # Ethernet 14 + IPv4 20 + UDP 8
        _, mpt, seq, ts, _ = struct.unpack("!BBHII", rtp[:12])
        event, flags, duration = struct.unpack("!BBH", rtp[12:16])
        out.append((seq, ts, mpt & 0x7F, event, bool(flags & 0x80), duration))
        off += 16 + incl
    return out


@pytest.mark.timeout(10)
def test_one_key_is_one_event_ending_three_times() -> None:
    pkts = _rtp_packets(digit_pcap("5", 0))
    assert {p[2] for p in pkts} == {PAYLOAD_TYPE}
    assert {p[3] for p in pkts} == {EVENTS["5"]}
    assert [p[4] for p in pkts].count(True) == 3
    assert len({p[1] for p in pkts}) == 1  # one event: one timestamp
    durations = [p[5] for p in pkts]
    assert durations == sorted(durations) and durations[-1] > 0


@pytest.mark.timeout(10)
def test_later_keys_get_new_timestamps_and_higher_sequence_numbers() -> None:
    first, second = _rtp_packets(digit_pcap("7", 0)), _rtp_packets(digit_pcap("0", 1))
    assert second[0][1] > first[0][1]          # Asterisk would take an equal timestamp as a repeat
    assert second[0][0] > max(p[0] for p in first)


@pytest.mark.timeout(10)
def test_scenario_plays_one_pcap_per_key(tmp_path: Path) -> None:
    xml = caller_scenario([Wait(100), Dtmf("9"), Wait(100), Dtmf("1#"), AwaitHangup(1000)], tmp_path)
    played = [line.split('"')[1] for line in xml.splitlines() if "play_pcap_audio" in line]
    assert [Path(p).name for p in played] == ["dtmf-00-9.pcap", "dtmf-01-1.pcap", "dtmf-02-pound.pcap"]
    assert all(Path(p).exists() for p in played)


@pytest.mark.timeout(10)
def test_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a DTMF key"):
        caller_scenario([Dtmf("A")], tmp_path)
